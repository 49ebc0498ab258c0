"""What a committed batch tells the operators: metrics and log lines, once it is durable.

Ordinary fills are counted, not logged; a person reads the flags, the rejects (each also
answered to its sender), the multi-stock events, the duplicates and, once per session, the
ExecutionReports that are no fills by their FIX version (DESIGN.md: count everything, log
what a person must read).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from engine import codes
from engine.core import pipeline as p
from engine.live.dispatch import BustDispatch
from engine.live.writer import Batch
from engine.obs.metrics import Metrics, observe_many


class BatchReport:
    def __init__(self, metrics: Metrics, log, dispatch: BustDispatch) -> None:
        self.metrics = metrics
        self.log = log
        self.dispatch = dispatch  # answers the fills that could not be judged
        self._legacy_logged: set[str] = set()  # sessions whose legacy ExecType was logged

    def committed(self, batch: Batch, decided: list[tuple[dict, str, bytes]],
                  rendered: np.ndarray) -> None:
        """Metrics, logs and answers of a batch now in the journal: `decided` are the
        (record, session, raw) of the decisions made in Python, `rendered` the kernel rows
        of those journaled without a record."""
        metrics = self.metrics
        observe_many(metrics.check_latency, time.perf_counter() - np.array(batch.received))
        for seq, session in batch.duplicates:
            metrics.child(metrics.duplicates, session).inc()
            self.log.info("duplicate_dropped", session=session, fill_seq=seq)
        for seq, session in batch.legacy_fills:
            self._legacy_fill(seq, session)
        for session, n in Counter([fill[2] for fill in batch.fills]).items():
            metrics.child(metrics.fills, session).inc(n)
        if batch.fills:
            metrics.batch_fills.observe(len(batch.fills))
        verdicts: Counter = Counter()
        for code, n in enumerate(np.bincount(rendered[:, p.O_VERDICT]).tolist()):
            if n:
                verdicts[codes.VERDICT_NAMES[code]] += n
        event_sizes = set(rendered[rendered[:, p.O_EVENT] > 0, p.O_EVENT].tolist())
        for record, session, raw in decided:
            verdict = record["verdict"]
            if verdict == "rejected":
                self._rejected(record, session)
                self.dispatch.answer_rejected(record, session, raw)
                continue
            verdicts[verdict] += 1
            if record["event_size"] > 0:
                event_sizes.add(record["event_size"])
            if verdict == "erroneous":
                self._flag(record, session)
        for verdict, n in verdicts.items():
            metrics.child(metrics.decisions, verdict).inc(n)
        for size in event_sizes:
            metrics.events.inc()
            self.log.info("multi_stock_event", securities=size)
        metrics.pending.set(batch.pending)

    def _legacy_fill(self, seq: int, session: str) -> None:
        self.metrics.child(self.metrics.legacy_exec_type, session).inc()
        if session in self._legacy_logged:
            return
        self._legacy_logged.add(session)
        self.log.warning(
            "legacy_exec_type_not_judged", session=session, fill_seq=seq,
            detail="ExecType 150=1/2 on FIX.4.3+ is not a fill by the spec: such "
                   "ExecutionReports of this session are counted "
                   "(ceguard_legacy_exec_type_total), not judged; logged once",
            setting=f'[sessions."{session}"] legacy_fills = true in the engine '
                    'config has them judged as fills')

    def _rejected(self, record: dict, session: str) -> None:
        self.metrics.rejects.labels(record["reason_code"]).inc()
        self.log.warning("rejected", session=session, exec_id=record.get("exec_id"),
                         fill_seq=record["line"], reason=record["reason"])

    def _flag(self, record: dict, session: str) -> None:
        self.log.warning("flag", session=session, symbol=record["symbol"],
                         exec_id=record["exec_id"], fill_seq=record["line"],
                         price=record["price"], reference_price=record["reference_price"],
                         deviation_pct=record["deviation_pct"],
                         threshold_pct=record["threshold_pct"], rule=record["rule"],
                         event_size=record["event_size"])
