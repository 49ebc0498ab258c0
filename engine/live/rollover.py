"""What follows a trading day's end in `ceguard serve`: the FIX message logs of the day that
ended go to the archive, and retention runs (engine/journal/retention.py).

QuickFIX's FileLog appends to one `<session>.messages.current.log` per session forever
(quickfix 1.16.0 rotates it only on an explicit backup, which no session event calls). At
the rollover each is copied, compressed, to `archive/<day>/fixlog/` and truncated: the log
is opened in append mode, so QuickFIX's next line starts the new file. The rollover comes
after the sessions' scheduled end (docs/operations.md): no line is written meanwhile. The
event logs stay (ceguard reads them as they grow).
"""

from __future__ import annotations

import gzip
import shutil
import threading
from datetime import date
from pathlib import Path

from engine.day_config import RetentionConfig
from engine.journal import archive, retention
from engine.journal.store import Journal
from engine.obs.metrics import Metrics

MESSAGES_SUFFIX = ".messages.current.log"


class Rollover:
    def __init__(self, config: RetentionConfig, journal_path: Path, message_logs: list[Path],
                 metrics: Metrics, log) -> None:
        self.config = config
        self.folder = config.folder(journal_path)
        self.message_logs = message_logs
        self.metrics = metrics
        self.log = log

    @property
    def enabled(self) -> bool:
        return self.config.journal_days > 0 or self.config.archive_days > 0

    def at_start(self, journal: Journal, lock: threading.Lock, today: date) -> None:
        """Retention once at start-up (a stop may have spanned days)."""
        if self.enabled:
            self._guarded(lambda: self.retain(journal, lock, today))

    def after(self, journal: Journal, lock: threading.Lock, ended: date, today: date) -> None:
        """After the rollover from `ended` to `today`; `lock` is the journal's."""
        if not self.enabled:
            return

        def work() -> None:
            rotated = self.rotate_logs(ended)
            if rotated:
                self.log.info("fix_logs_archived", day=ended.isoformat(), files=rotated,
                              folder=str(archive.day_folder(self.folder, ended) / "fixlog"))
            self.retain(journal, lock, today)
        self._guarded(work)

    def _guarded(self, work) -> None:
        try:
            work()
        except Exception as exc:  # nothing is deleted before it is archived: tried again
            self.metrics.retention_failures.inc()
            self.log.error("retention_failed", error=f"{type(exc).__name__}: {exc}",
                           archive=str(self.folder),
                           detail="nothing was deleted that was not archived first; "
                                  "retried at the next rollover")

    def retain(self, journal: Journal, lock: threading.Lock, today: date) -> None:
        result = retention.run(journal, lock, self.config.journal_days,
                               self.config.archive_days, self.folder, today)
        self.metrics.archived_days.inc(len(result.archived))
        if result.archived or result.deleted or result.kept:
            self.log.info("retention", archived=[d.isoformat() for d in result.archived],
                          fills_archived=result.fills_archived,
                          deleted=[d.isoformat() for d in result.deleted],
                          kept={d.isoformat(): why for d, why in result.kept.items()},
                          archive=str(self.folder))

    def rotate_logs(self, day: date) -> list[str]:
        """Each session's messages log, compressed into the day's archive, then emptied."""
        target = archive.day_folder(self.folder, day) / "fixlog"
        rotated = []
        for path in self.message_logs:
            if not path.is_file() or path.stat().st_size == 0:
                continue
            target.mkdir(parents=True, exist_ok=True)
            name = path.name.removesuffix(MESSAGES_SUFFIX) + ".messages.log.gz"
            partial = target / (name + ".partial")
            with open(path, "r+b") as source, gzip.open(partial, "wb", compresslevel=6) as out:
                shutil.copyfileobj(source, out, 1 << 20)
                source.truncate(0)  # QuickFIX appends: its next line starts the empty file
            partial.replace(target / name)
            rotated.append(name)
        return rotated
