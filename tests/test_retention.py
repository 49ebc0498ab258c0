"""Retention on a real journal file: which trading days leave for the archive, which stay
and why, and when archives are deleted."""

from __future__ import annotations

import gzip
import threading
from datetime import date
from pathlib import Path

import structlog

from engine.core.surveillance import Surveillance
from engine.journal import archive, days, queries, retention
from engine.journal.store import BustRow, Journal
from engine.live.engine import LiveEngine
from engine.obs.metrics import Metrics
from engine.review.cases import FINAL, CaseStore, Execution
from engine.rules.rulebook import load_rulebook

from conftest import trade

AT = "2026-01-15T15:00:00+00:00"
LOCK = threading.Lock()  # the live engine's journal lock
DAYS = [date(2026, 1, 12), date(2026, 1, 13), date(2026, 1, 14), date(2026, 1, 15)]


def _journal(path: Path) -> Journal:
    """Four trading days of two fills each (seq 1-8); each fill decided."""
    journal = Journal(path)
    for n, day in enumerate(DAYS):
        first = 2 * n + 1
        journal.open_day(day, first, AT, None)
        journal.begin()
        journal.add_fills([(seq, 0, "S", f"fill {seq}".encode()) for seq in (first, first + 1)],
                          {"S": (first + 1, first + 1)})
        journal.add_decisions([(seq, {"verdict": "stands", "exec_id": f"E{seq}"})
                               for seq in (first, first + 1)], AT)
        journal.commit()
    return journal


def _bust(journal: Journal, fill_seq: int, status: str) -> None:
    journal.begin()
    journal.add_bust(BustRow(f"BUST-E{fill_seq}", "FIRM", f"E{fill_seq}", fill_seq, "firm",
                             "FIRMA", status), AT)
    journal.commit()


def test_old_days_are_archived_unless_an_undelivered_bust_or_an_open_case_needs_them(tmp_path):
    journal = _journal(tmp_path / "journal.sqlite")
    _bust(journal, 1, "queued")  # day 1: a firm offline since, its bust not delivered
    _bust(journal, 5, "sent")  # day 3: delivered, nothing holds it
    cases = CaseStore(journal.connection)
    journal.begin()
    cases.create("trade", "surveillance", 0.0, 1.0, "surveillance", "",
                 [Execution(3, "E3", "ABC", None, "FIRMA")])  # day 2: still open
    journal.commit()
    folder = tmp_path / "archive"

    result = retention.run(journal, LOCK, 1, 0, folder, DAYS[-1])

    assert result.archived == [DAYS[2]]
    assert result.kept == {DAYS[0]: "1 bust(s) not yet delivered",
                           DAYS[1]: "1 review case(s) still open"}
    assert [d.day for d in days.all_days(journal.connection())] == [DAYS[0], DAYS[1], DAYS[3]]
    assert queries.counts(journal.connection())["fills"] == 6
    # The archived day reads back as a journal of its own, its bust with it.
    plain = archive.open_archived(folder, DAYS[2], tmp_path)
    with Journal(plain) as archived:
        (held,) = days.all_days(archived.connection())
        assert (held.day, held.first_seq) == (DAYS[2], 5)
        assert queries.counts(archived.connection(), held) == \
            {"fills": 2, "stands": 2, "busts_sent": 1}

    # Once the bust is delivered and the case final, the next run archives both days.
    journal.begin()
    journal.set_bust_statuses([("sent", None, AT, "BUST-E1", "FIRM")])
    journal.connection().execute("UPDATE cases SET state = ?", (FINAL,))
    journal.commit()
    assert retention.run(journal, LOCK, 1, 0, folder, DAYS[-1]).archived == [DAYS[0], DAYS[1]]
    assert [d.day for d in days.all_days(journal.connection())] == [DAYS[3]]
    assert archive.archived_days(folder) == DAYS[:3]


def test_archives_older_than_archive_days_are_deleted_with_their_fix_logs(tmp_path):
    journal = _journal(tmp_path / "journal.sqlite")
    folder = tmp_path / "archive"
    fixlog = archive.day_folder(folder, DAYS[0]) / "fixlog"
    fixlog.mkdir(parents=True)
    (fixlog / "FIX.4.4-CEGUARD-MATCHING1.messages.log.gz").write_bytes(gzip.compress(b"8=FIX"))
    retention.run(journal, LOCK, 2, 0, folder, DAYS[-1])  # keeps days 3 and 4
    assert archive.archived_days(folder) == DAYS[:2]

    result = retention.run(journal, LOCK, 2, 2, folder, DAYS[-1])  # archives older than Jan 13
    assert result.deleted == [DAYS[0]]
    assert archive.archived_days(folder) == [DAYS[1]]
    assert not fixlog.exists()


def test_a_journal_from_before_days_is_rebuilt_as_one_day_from_its_first_fill(tmp_path):
    path = tmp_path / "old.sqlite"
    journal = Journal(path)
    journal.begin()
    journal.add_fills([(1, 0, "S", trade("E1", "ABC", "10.00").encode()),
                       (2, 0, "S", trade("E2", "ABC", "10.05").encode())], {"S": (2, 2)})
    journal.commit()
    journal.connection().execute("DROP TABLE days")  # as written before this version
    journal.close()
    rulebook = load_rulebook(None)
    engine = LiveEngine(lambda: Surveillance(rulebook, []), lambda: Journal(path),
                        Metrics(), {}, 0, structlog.get_logger())
    assert engine.rebuild() == 2
    assert engine.journal.current_day()[:2] == (engine.day, 1)
    engine.close()
