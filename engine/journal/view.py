"""`ceguard journal`: recent decisions, busts and gap fills over requested resends (fills
possibly lost), of the whole journal or of one trading day (`--date`, from the journal or
its archive), for people (text) or programs (jsonl)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import date
from pathlib import Path

from engine.config import load_config
from engine.day_config import RetentionConfig
from engine.journal import archive, days, queries
from engine.journal.store import Journal

FLAGGED = ("erroneous", "rejected")


def show(args: argparse.Namespace) -> int:
    if args.path:
        path, retention = Path(args.path), RetentionConfig()
    else:
        config = load_config(args.config)
        path, retention = config.journal, config.retention
    if not path.is_file():
        print(f"ceguard journal: {path} does not exist (has `ceguard serve` run with this "
              "config?)", file=sys.stderr)
        return 1
    folder = retention.folder(path)
    if args.days:
        return _list_days(path, folder)
    if args.date is None:
        return _show(args, path, None)
    with Journal(path) as journal:
        held = days.find(journal.connection(), args.date)
    if held is not None:
        return _show(args, path, held)
    with tempfile.TemporaryDirectory() as scratch:
        archived = archive.open_archived(folder, args.date, Path(scratch))
        if archived is None:
            print(f"ceguard journal: no trading day {args.date} in {path} or its archive "
                  f"{folder} (`ceguard journal --days` lists them)", file=sys.stderr)
            return 1
        with Journal(archived) as journal:
            held = days.find(journal.connection(), args.date)
        return _show(args, archived, held, f"{path} (archived day, {folder})")


def _list_days(path: Path, folder: Path) -> int:
    with Journal(path) as journal:
        db = journal.connection()
        held = days.all_days(db)
        rows = [(day, queries.counts(db, day)) for day in held]
    print(f"trading days in {path}:")
    for day, counts in rows:
        print(f"  {day.day}  fills {day.first_seq}-{'' if day.end_seq is None else day.end_seq - 1}"
              f"  " + "  ".join(f"{key} {value:,}" for key, value in counts.items()))
    in_journal = {day.day for day in held}
    gone = [day for day in archive.archived_days(folder) if day not in in_journal]
    if gone:
        print(f"archived in {folder}: " + ", ".join(day.isoformat() for day in gone))
    return 0


def _show(args: argparse.Namespace, path: Path, day: days.Day | None,
          title: str | None = None) -> int:
    with Journal(path) as journal:
        db = journal.connection()
        decisions = queries.recent_decisions(db, args.limit, None if args.all else FLAGGED, day)
        busts = queries.recent_busts(db, args.limit, day)
        gaps = queries.gap_fills(db, args.limit) if day is None else []
        counts = queries.counts(db, day)
    if args.format == "jsonl":
        for seq, at, record in decisions:
            print(json.dumps({"kind": "decision", "decided_at": at, **record}))
        for at, bust in busts:
            print(json.dumps({"kind": "bust", "updated_at": at, **bust.__dict__}))
        for at, session, first, last, lost, requested in gaps:
            print(json.dumps({"kind": "gap_fill", "received_at": at, "session": session,
                              "first_seq": first, "last_seq": last, "possibly_lost": lost,
                              "requested": requested}))
        return 0
    print(f"journal {title or path}" + (f", trading day {day.day}" if day else ""))
    print("  " + "  ".join(f"{key} {value:,}" for key, value in counts.items()))
    title = "decisions" if args.all else "flagged decisions (erroneous, rejected)"
    print(f"\nlast {len(decisions)} {title}:")
    for seq, at, record in decisions:
        print("  " + _decision_line(seq, at, record))
    print(f"\nlast {len(busts)} busts:")
    for at, bust in busts:
        detail = f"  ({bust.detail})" if bust.detail else ""
        print(f"  {at[:23]}  {bust.status:<7} {bust.bust_exec_id:<24} -> {bust.session}"
              f"  [{bust.recipient}]{detail}")
    if gaps:
        print(f"\nlast {len(gaps)} gap fills over resends ceguard asked for "
              "(fills possibly lost):")
    for at, session, first, last, lost, requested in gaps:
        print(f"  {at[:23]}  {session}  MsgSeqNum {first}-{last}: {lost} possibly lost"
              f"  (asked for {requested})")
    return 0


def trading_day(text: str) -> date:
    """argparse type of --date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write YYYY-MM-DD") from None


def _decision_line(seq: int, at: str, record: dict) -> str:
    if record["verdict"] == "rejected":
        return f"{at[:23]}  #{seq:<7} rejected   {record['reason']}"
    line = (f"{at[:23]}  #{seq:<7} {record['verdict']:<10} {record['symbol']:<6} "
            f"{record['side']:<4} {record['qty']:>6} @ {record['price']:<10}")
    if record["reference_price"] is not None:
        line += (f" ref {record['reference_price']} ({record['reference_source']}) "
                 f"dev {record['deviation_pct']}% band {record['threshold_pct']}% "
                 f"{record['rule']}")
    if record["event_size"]:
        line += f" event of {record['event_size']}"
    return line + f"  exec {record['exec_id']}"
