"""`ceguard journal`: recent decisions, busts and gap fills over requested resends (fills
possibly lost), for people (text) or programs (jsonl)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.config import load_config
from engine.journal.store import Journal

FLAGGED = ("erroneous", "rejected")


def show(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else load_config(args.config).journal
    if not path.is_file():
        print(f"ceguard journal: {path} does not exist (has `ceguard serve` run with this "
              "config?)", file=sys.stderr)
        return 1
    journal = Journal(path)
    try:
        decisions = journal.recent_decisions(args.limit, None if args.all else FLAGGED)
        busts = journal.recent_busts(args.limit)
        gaps = journal.gap_fills(args.limit)
        counts = journal.counts()
    finally:
        journal.close()
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
    print(f"journal {path}")
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
