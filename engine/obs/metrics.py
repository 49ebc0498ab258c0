"""Prometheus metrics of `ceguard serve`: names `ceguard_*`, units in names, few labels.

Labels stay low-cardinality: session ids (a handful per deployment), verdicts, reject
reasons, bust recipient kind and result. Never a symbol or an ExecID.
"""

from __future__ import annotations

import json
import platform
import socket
import threading
from importlib import metadata
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from engine import __version__, codes
from engine.obs.health import Health

INTERNAL_ERROR = "internal_error"  # a fill the engine failed on (logged with its traceback)
BUST_RECIPIENTS = ("venue", "firm")
BUST_RESULTS = ("sent", "queued", "failed", "unroutable")

# Latency buckets in seconds: the check is tens of microseconds, a bust with a
# synchronous journal commit a few milliseconds, a settle window seconds.
_CHECK_BUCKETS = (25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
                  50e-3, 0.1, 0.25)
_BUST_BUCKETS = (1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                 30, 60)

_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict = {}
        r = self.registry
        self.fills = Counter("ceguard_fills_received", "Execution reports received",
                             ["session"], registry=r)
        self.decisions = Counter("ceguard_decisions", "Decisions made, by verdict",
                                 ["verdict"], registry=r)
        self.rejects = Counter("ceguard_rejects", "Inputs that could not be judged, by reason",
                               ["reason"], registry=r)
        self.duplicates = Counter("ceguard_duplicate_fills",
                                  "Repeated ExecIDs dropped (PossDup resends)", ["session"],
                                  registry=r)
        self.legacy_exec_type = Counter(
            "ceguard_legacy_exec_type",
            "ExecutionReports with ExecType 150=1/2 on FIX.4.3+ (not fills by the spec), not "
            "judged: the session's legacy_fills setting has them judged", ["session"],
            registry=r)
        self.events = Counter("ceguard_multi_stock_events", "Multi-stock events detected",
                              registry=r)
        self.busts = Counter("ceguard_busts_sent",
                             "Bust ExecutionReports, by recipient kind and result "
                             "(queued: stored for an offline session, sent at its logon)",
                             ["recipient", "result"], registry=r)
        self.check_latency = Histogram("ceguard_check_latency_seconds",
                                       "Fill received to decision (decode, judge, journal)",
                                       buckets=_CHECK_BUCKETS, registry=r)
        self.bust_latency = Histogram("ceguard_fill_to_bust_latency_seconds",
                                      "Fill received to its bust handed to QuickFIX",
                                      buckets=_BUST_BUCKETS, registry=r)
        self.journal_latency = Histogram("ceguard_journal_commit_latency_seconds",
                                         "Journal transaction commit (fsync included)",
                                         buckets=_CHECK_BUCKETS, registry=r)
        self.batch_fills = Histogram("ceguard_journal_batch_fills",
                                     "Fills per journal transaction (group commit: those "
                                     "that arrived while the previous one committed)",
                                     buckets=_BATCH_BUCKETS, registry=r)
        self.pending = Gauge("ceguard_pending_candidates",
                             "Erroneous candidates held in the settle window", registry=r)
        self.session_up = Gauge("ceguard_session_up", "1 while the FIX session is logged on",
                                ["session"], registry=r)
        self.sender_seq = Gauge("ceguard_session_next_sender_seqnum",
                                "Next MsgSeqNum ceguard sends", ["session"], registry=r)
        self.target_seq = Gauge("ceguard_session_next_target_seqnum",
                                "Next MsgSeqNum ceguard expects", ["session"], registry=r)
        # Faults (issue 4): the journal's health and the fills it made the engine refuse.
        self.journal_writable = Gauge("ceguard_journal_writable",
                                      "1 while the journal takes writes; 0 while fills are "
                                      "refused for a journal failure", registry=r)
        self.trading_day_end = Gauge("ceguard_trading_day_end_timestamp_seconds",
                                     "When the current trading day ends (Unix seconds)",
                                     registry=r)
        self.rollovers = Counter("ceguard_trading_day_rollovers",
                                 "Trading days rolled over since start", registry=r)
        self.archived_days = Counter("ceguard_days_archived",
                                     "Trading days moved from the journal to the archive",
                                     registry=r)
        self.retention_failures = Counter("ceguard_retention_failures",
                                          "Retention runs that failed (nothing was deleted)",
                                          registry=r)
        self.journal_failures = Counter("ceguard_journal_failures",
                                        "Journal writes that failed (each halts the engine "
                                        "until a probe write succeeds)", registry=r)
        self.refused = Counter("ceguard_fills_refused",
                               "Fills not taken while the journal was unusable (the "
                               "matching engine resends them after the resume)",
                               ["session"], registry=r)
        self.journal_writable.set(1)
        # Who may connect (engine/fix/auth.py zeroes each reason at start).
        self.logons_refused = Counter("ceguard_logons_refused",
                                      "Logons refused with a Logout, by reason",
                                      ["reason"], registry=r)
        # Bad input QuickFIX answers or drops by itself (engine/fix/session_events.py).
        self.session_rejects = Counter("ceguard_session_rejects",
                                       "Session-level Rejects (35=3) sent, by "
                                       "SessionRejectReason (373)", ["session", "reason"],
                                       registry=r)
        self.business_rejects = Counter("ceguard_business_rejects",
                                        "BusinessMessageRejects (35=j) sent, by "
                                        "BusinessRejectReason (380)", ["session", "reason"],
                                        registry=r)
        self.logouts_sent = Counter("ceguard_logouts_sent",
                                    "Logouts (35=5) sent, by reason (from their Text 58; "
                                    "none: a plain logout)", ["session", "reason"], registry=r)
        self.dropped_messages = Counter("ceguard_dropped_messages",
                                        "Messages dropped without an answer (bad CheckSum or "
                                        "BodyLength, malformed, no such session)",
                                        ["session", "reason"], registry=r)
        self.session_timeouts = Counter("ceguard_session_timeouts",
                                        "Sessions disconnected for want of a complete message "
                                        "within the heartbeat timeout", ["session"], registry=r)
        # What the FIX session layer would otherwise lose (engine/fix/resends.py,
        # bust_outcomes.py).
        self.fills_possibly_lost = Counter("ceguard_fills_possibly_lost",
                                           "MsgSeqNums ceguard asked to have resent that a "
                                           "SequenceReset-GapFill skipped: fills possibly "
                                           "never judged", ["session"], registry=r)
        self.busts_rejected = Counter("ceguard_busts_rejected",
                                      "Busts the recipient answered with a Reject (35=3) or "
                                      "BusinessMessageReject (35=j), by its reason",
                                      ["session", "reason"], registry=r)
        self.kernels_late = Gauge("ceguard_kernel_compiles_after_ready",
                                  "Kernels compiled or loaded after readiness (0 unless "
                                  "the warm-up missed a path: a fill waited for numba)",
                                  registry=r)
        self._zero_known_series()
        build = Gauge("ceguard_build_info", "Versions of ceguard and its FIX engine",
                      ["version", "quickfix", "python"], registry=r)
        build.labels(__version__, metadata.version("quickfix"),
                     platform.python_version()).set(1)

    def _zero_known_series(self) -> None:
        """Export every known label value from the start, so rate() sees a 0, not a gap."""
        for verdict in codes.VERDICT_NAMES:
            if verdict != "rejected":
                self.decisions.labels(verdict)
        for reason in (*codes.REASON_NAMES[1:], INTERNAL_ERROR):  # [0] is "none"
            self.rejects.labels(reason)
        for recipient in BUST_RECIPIENTS:
            for result in BUST_RESULTS:
                self.busts.labels(recipient, result)

    def child(self, metric, *labels: str):
        """metric.labels(*labels), kept: labels() takes a lock and builds its key per call,
        and the fill path counts on labelled series for every fill."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def add_session(self, session: str) -> None:
        self.session_up.labels(session).set(0)
        self.fills.labels(session)
        self.duplicates.labels(session)
        self.legacy_exec_type.labels(session)
        self.refused.labels(session)
        self.fills_possibly_lost.labels(session)

    def serve(self, host: str, port: int, health: Health) -> None:
        """Serve /metrics, /livez and /readyz over HTTP from a daemon thread."""
        metrics_app = make_wsgi_app(self.registry)

        def app(environ, start_response):
            answer = {"/livez": health.liveness, "/readyz": health.readiness}.get(
                environ.get("PATH_INFO", ""))
            if answer is None:
                return metrics_app(environ, start_response)
            ok, body = answer()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "application/json")])
            return [json.dumps(body).encode() + b"\n"]

        server_class = _HttpServer6 if ":" in host else _HttpServer
        server = make_server(host, port, app, server_class, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()


class _HttpServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape in progress never holds the process at exit


class _HttpServer6(_HttpServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        """No access log on stderr: scrapes come every few seconds."""


def observe_many(histogram: Histogram, values: np.ndarray) -> None:
    """histogram.observe(v) for every v, with each bucket counted once (the journal
    writer observes a whole batch: per value, observe() took a lock per call and about a
    microsecond of GIL per fill). Reads prometheus_client's bucket internals
    (0.2x: _upper_bounds, _buckets, _sum); falls back to observe() where they differ.
    tests/test_metrics.py checks both ways give the same exposition."""
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for value in values.tolist():
            histogram.observe(value)
        return
    # observe() counts a value in the first bucket whose bound it does not exceed
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    for bucket, n in zip(buckets, counts.tolist()):
        if n:
            bucket.inc(n)
    total.inc(float(values.sum()))
