"""A live day replayed from its own session logs: the FileLogs QuickFIX wrote for a FIX.4.4
and a FIX.4.2 drop-copy session, replayed together, give the decisions `ceguard serve`
journaled; read one after the other they would not."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.live import SESSIONS, journal_rows, logged_on, send, sides, start_server, wait_for

# One security traded on both sessions, in time order, alternating: each print is within
# 3% of the one before it on the other session, except the last (9% below).
DAY = datetime(2026, 1, 15, 15, 0, tzinfo=timezone.utc)  # 10:00 New York: regular hours
PLAN = [("FIX.4.4", "60.00"), ("FIX.4.2", "61.50"), ("FIX.4.4", "63.00"),
        ("FIX.4.2", "64.50"), ("FIX.4.4", "66.00"), ("FIX.4.2", "60.00")]


def _decisions(records: list[dict]) -> dict[str, tuple]:
    return {r["exec_id"]: (r["price"], r["reference_price"], r["verdict"])
            for r in records if r["verdict"] != "rejected"}


def test_the_session_logs_of_a_live_day_replay_together_as_the_day_was(tmp_path, replay):
    directory = tmp_path / "serve"
    directory.mkdir()
    server = start_server(directory)
    with logged_on(server, directory, versions=("FIX.4.4", "FIX.4.2")) as running:
        _, engine, _ = running
        for n, (version, price) in enumerate(PLAN):
            # one match at a time, so that the engine judges them in time order
            send(engine, version, sides(f"MIX-{n}", "AWAY", price, order=f"MIX-O{n}"),
                 when=DAY + timedelta(seconds=n))
            wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions WHERE "
                                                  "symbol = 'AWAY'")[0][0] == 2 * (n + 1),
                     timeout=120,  # the first fill may wait for numba to compile
                     what=f"match {n} journaled")
    live = _decisions([json.loads(record) for (record,) in journal_rows(
        server, "SELECT record FROM decisions WHERE symbol = 'AWAY'")])
    assert [live[f"A-MIX-{n}"][2] for n in range(len(PLAN))] == ["stands"] * 5 + ["erroneous"]

    logs = {v: _filelog(directory, SESSIONS[v]) for v in ("FIX.4.4", "FIX.4.2")}
    records, summary = replay(logs["FIX.4.4"], logs["FIX.4.2"],
                              instruments=directory / "instruments.csv")
    assert _decisions(records) == live
    assert "2 inputs merged by TransactTime" in summary
    for r in records:  # each record names the session log it was read from, and its line
        if r["verdict"] != "rejected":
            line = Path(r["source"]).read_text(encoding="latin-1").splitlines()[r["line"] - 1]
            assert f"\x0117={r['exec_id']}\x01" in line

    one_after_other = tmp_path / "both.log"
    one_after_other.write_bytes(logs["FIX.4.4"].read_bytes() + logs["FIX.4.2"].read_bytes())
    sequential, _ = replay(one_after_other, instruments=directory / "instruments.csv")
    assert _decisions(sequential) != live  # what the merge is for


def _filelog(directory: Path, begin: str) -> Path:
    """The messages FileLog QuickFIX wrote for the matching engine's session on `begin`."""
    (path,) = directory.rglob(f"{begin}-CEGUARD-MATCHING1.messages*.log")
    return path
