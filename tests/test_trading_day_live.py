"""The trading day in `ceguard serve`: a rollover at the configured end, references carried,
ExecIDs reusable, the journal per day (a restart rebuilds the current day only), the old day
archived with its FIX message log, and `ceguard journal --date` reading it back."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

from tests.live import (ROOT, Server, free_port, journal_rows, logged_on, send, sides,
                        wait_for, write_instruments)

ROLL_AFTER = timedelta(seconds=12)  # time to start, log on and trade before the end


def _decisions(server: Server) -> dict[str, list[dict]]:
    """Records by ExecID, in fill order (an ExecID may come once a day)."""
    records: dict[str, list[dict]] = {}
    for (record,) in journal_rows(server, "SELECT record FROM decisions ORDER BY fill_seq"):
        parsed = json.loads(record)
        records.setdefault(parsed["exec_id"], []).append(parsed)
    return records


def _journal_cli(server: Server, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "engine", "journal", "--config",
                             str(server.config), *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_day_rolls_over_and_the_next_day_starts_from_its_closes(tmp_path):
    write_instruments(tmp_path / "instruments.csv")  # FAT: previous close 60.00
    server = Server(tmp_path, free_port(), free_port())
    server.write_config(tmp_path / "instruments.csv")
    end = datetime.now(timezone.utc) + ROLL_AFTER
    with open(server.config, "a") as config:
        config.write(f'[trading_day]\nend = "{end:%H:%M:%S}"\ntimezone = "UTC"\n'
                     "[retention]\njournal_days = 1\n")
    server.start()
    with logged_on(server, tmp_path, versions=("FIX.4.4",)) as (_, engine, _firms):
        send(engine, "FIX.4.4", sides("M1", "FAT", "61.00", order="O1"))
        wait_for(lambda: len(_decisions(server)) == 2, what="day 1's decisions")
        wait_for(lambda: server.events("trading_day_rolled"), timeout=60, what="the rollover")
        rolled = server.events("trading_day_rolled")[0]
        day1, day2 = date.fromisoformat(rolled["ended"]), date.fromisoformat(rolled["day"])
        assert day2 > day1 and rolled["first_fill"] == 3
        assert server.metric("ceguard_trading_day_rollovers_total") == 1

        # The same ExecIDs on the new day: judged, not dropped as duplicates, against day
        # 1's last sale (61.00). From the instruments' 60.00, 62.50 would be 4.2% away,
        # beyond the 3% band above $50.
        send(engine, "FIX.4.4", sides("M1", "FAT", "62.50", order="O2"))
        wait_for(lambda: [r["price"] for r in _decisions(server).get("P-M1", [])] == ["62.50"],
                 what="day 2's decisions (day 1's are archived by then)")
        for exec_id in ("A-M1", "P-M1"):
            (second,) = _decisions(server)[exec_id]
            assert second["verdict"] == "stands", second
            assert (second["reference_price"], second["reference_source"]) == \
                ("61.00", "prev_close")

        # Retention keeps one day: day 1 left the journal for the archive, with its
        # FIX message log (the current log holds day 2 only).
        wait_for(lambda: server.events("retention"), what="retention")
        assert server.events("retention")[0]["archived"] == [day1.isoformat()]
        assert journal_rows(server, "SELECT day FROM days") == [(day2.isoformat(),)]
        assert journal_rows(server, "SELECT MIN(seq) FROM fills") == [(3,)]
        folder = tmp_path / "archive" / day1.isoformat()
        assert (folder / "journal.sqlite.gz").is_file()
        archived_log = gzip.decompress(
            (folder / "fixlog" / "FIX.4.4-CEGUARD-MATCHING1.messages.log.gz").read_bytes())
        assert b"\x0131=61" in archived_log and b"\x0131=62.5" not in archived_log
        current_log = (tmp_path / "fixlog" / "FIX.4.4-CEGUARD-MATCHING1.messages.current.log")
        wait_for(lambda: b"\x0131=62.5" in current_log.read_bytes(), what="day 2's log")
        assert b"\x0131=61" not in current_log.read_bytes()

    # Day 1 read back from the archive, day 2 from the journal.
    archived = [json.loads(line) for line in _journal_cli(
        server, "--date", day1.isoformat(), "--all", "--format", "jsonl").splitlines()]
    assert sorted((r["exec_id"], r["price"]) for r in archived if r["kind"] == "decision") == \
        [("A-M1", "61.00"), ("P-M1", "61.00")]
    today = _journal_cli(server, "--date", day2.isoformat(), "--all")
    assert "62.50" in today and "61.00 (prev_close)" in today
    listing = _journal_cli(server, "--days")
    assert day2.isoformat() in listing and f"archived in {tmp_path / 'archive'}: " \
        f"{day1.isoformat()}" in listing

    # A restart rebuilds day 2 only, over the closes carried: its next print is judged
    # against day 2's last sale.
    server.start()
    assert server.events("serving")[-1]["fills_rebuilt"] == 2
    with logged_on(server, tmp_path / "again", versions=("FIX.4.4",)) as (_, engine, _firms):
        send(engine, "FIX.4.4", sides("M2", "FAT", "63.00", order="O3"))
        wait_for(lambda: "A-M2" in _decisions(server), what="the decision after the restart")
        after = _decisions(server)["A-M2"][0]
        assert (after["verdict"], after["reference_price"]) == ("stands", "62.50"), after
