"""`ceguard serve`: check the configuration, warm the kernels, rebuild from the journal,
run the acceptor; /readyz says when a fill would be judged at once."""

from __future__ import annotations

import faulthandler
import gc
import signal
import threading

import quickfix as fix

from engine.config import load_config
from engine.core.surveillance import Surveillance
from engine.errors import ConfigError
from engine.fix.application import CeguardApplication
from engine.fix.auth import LogonGate
from engine.fix.intake import FillQueue
from engine.fix.session_events import NO_SESSION, EventLogTail, event_logs
from engine.journal.checkpoint import BACKSTOP_PAGES, Checkpointer
from engine.fix.tls import acceptor_class
from engine.journal.store import Journal
from engine.live.engine import JOURNAL_ERRORS, LiveEngine
from engine.live.rollover import Rollover
from engine.live.preflight import check_all, check_free, listeners, prepare
from engine.live.warmup import KernelCensus, warm_up
from engine.live.writer import MAX_BATCH
from engine.live.notifier import Notifier
from engine.live.sessions import DropCopySessions
from engine.obs.health import ACCEPTOR, JOURNAL, KERNELS, Health
from engine.obs.logging import configure_logging, get_logger
from engine.obs.metrics import Metrics
from engine.obs.stdout import ForeignOutput
from engine.review.service import review_service

TICK_SECONDS = 0.05
SEQNUM_EVERY_TICKS = 20
STOP_DUMP_SECONDS = 20  # QuickFIX's own stop waits up to 10 s for logouts
COLD_CACHE = ("numba's cache had no code for this build (a first start, an upgrade, another "
              "CPU): compiled now and cached for the next start; `python -m "
              "engine.live.warmup` does it at install time")


def check(config_path: str | None) -> int:
    """`serve --check`: the whole configuration and its ports, without serving."""
    configure_logging()
    plan = prepare(load_config(config_path))
    check_all(plan)
    log = get_logger()
    log.info("config_ok", config=str(plan.config.source),
             fix_settings=str(plan.config.fix_settings), sessions=plan.fix_settings.sessions,
             instruments=len(plan.instruments),
             listeners=[f"{x.host or '*'}:{x.port}" for x in listeners(plan)])
    return 0


def serve(config_path: str | None, stop: threading.Event | None = None) -> int:
    output = ForeignOutput()  # QuickFIX's printf lines become JSON log lines too
    configure_logging(output.stream)
    log = get_logger()
    output.start(log)
    try:
        return _serve(config_path, stop, log)
    finally:
        output.close()


def _serve(config_path: str | None, stop: threading.Event | None, log) -> int:
    plan = prepare(load_config(config_path))  # every file checked before a port is opened
    config, rulebook, instruments = plan.config, plan.rulebook, plan.instruments
    fix_settings, policies = plan.fix_settings, plan.policies
    for session, keys in fix_settings.overridden.items():
        log.warning("validation_overridden", session=session, cfg=keys,
                    detail="a drop-copy session's validation is always lenient: what a "
                           "fill carries is for ceguard to judge (docs/integration.md)")
    metrics = Metrics()
    health = Health()
    try:
        metrics.serve(config.metrics_host, config.metrics_port, health)
    except OSError as exc:
        raise ConfigError(str(config.source), "metrics.listen",
                          f"cannot listen on {config.metrics_host}:{config.metrics_port} "
                          f"({exc.strerror})", "choose a free port or stop the other process"
                          ) from exc
    fix_listeners = [x for x in listeners(plan) if x.key.endswith("SocketAcceptPort")]
    for listener in fix_listeners:  # before the warm-up: a busy port fails at once
        check_free(listener)

    health.mark(KERNELS, "warming: compiling or loading the live path's numba kernels")
    log.info("warming", detail="compiling, or loading from numba's cache, every kernel of "
                               "the live path before the acceptor listens")
    warmed = warm_up(rulebook)
    if warmed.compiled:
        log.warning("warmed", **warmed.fields(), detail=COLD_CACHE)
    else:
        log.info("warmed", **warmed.fields(), detail="loaded from numba's cache")
    health.mark(KERNELS, None)

    try:
        health.mark(JOURNAL, "opening and replaying the journal")
        engine = LiveEngine(lambda: Surveillance(rulebook, instruments),
                            lambda: Journal(config.journal, config.journal_synchronous,
                                            BACKSTOP_PAGES),
                            metrics, config.firms, config.settle_seconds, log,
                            config.legacy_fill_sessions, config.trading_day.calendar())
        rebuilt = engine.rebuild()
    except JOURNAL_ERRORS as exc:
        raise ConfigError(str(config.source), "journal.path",
                          f"cannot open or read the journal {config.journal} "
                          f"({type(exc).__name__}: {exc})",
                          "check that its folder is writable and its disk has free space"
                          ) from exc
    health.watch(JOURNAL, lambda: engine.halted)
    review = review_service(config, engine, metrics, log)  # review mode: cases, not busts
    bust_only = set(config.firms.values())
    gate = LogonGate(policies, metrics, log)
    app = CeguardApplication(engine, metrics, bust_only, log, gate=gate)
    # QuickFIX's own FileLog: ceguard's patch masks passwords in it (README, "Security").
    log_factory = fix.FileLogFactory(fix_settings.settings)
    try:
        acceptor = acceptor_class(config.tls)(app, fix.FileStoreFactory(fix_settings.settings),
                                              fix_settings.settings, log_factory)
        # The sessions exist now; set them back to the journal before any logon.
        session_ids = list(acceptor.getSessions())
        app.session_names.learn(session_ids)
        drop_copy_ids = [s for s in session_ids if s.toString() not in bust_only]
        drop_copies = DropCopySessions(drop_copy_ids)
        app.sessions = drop_copies
        # Fills of the drop-copy sessions reach the engine without Python on QuickFIX's
        # threads (quickfix patch item 8); registered in the order of drop_copies.names().
        queue = FillQueue(MAX_BATCH)
        queue.register(drop_copy_ids)
        engine.attach(Notifier(session_ids, fix_settings.settings), drop_copies, queue)
        engine.realign()
        _retention(config, fix_settings.settings, session_ids, engine, metrics, log)
        engine.roll_if_due()  # the day ended while ceguard was stopped: rolled before fills
        # Before start: the tail counts from the logs' current ends, so no event is missed.
        dropped = EventLogTail(event_logs(fix_settings.settings, session_ids),
                               app.session_events.event, gate.on_event)
        acceptor.start()
    except (fix.ConfigError, fix.RuntimeError) as exc:
        if "Could not open" in str(exc):  # QuickFIX's FileLog or FileStore
            raise ConfigError(str(config.fix_settings), "FileLogPath / FileStorePath",
                              f"QuickFIX cannot open its files: {exc}",
                              "make them directories ceguard can write") from exc
        where, key, fix_hint = str(config.fix_settings), "SocketAcceptPort / sessions", \
            "check the port is free and the session settings are valid"
        if "port" in str(exc) and fix_listeners:  # the port: named where it was set
            where, key = fix_listeners[0].source, fix_listeners[0].key
        if config.tls is not None:
            key, fix_hint = f"{key} / [tls] in {config.source}", \
                f"{fix_hint}, and that tls.certificate and tls.key are a matching PEM pair"
        raise ConfigError(where, key, f"QuickFIX cannot start the acceptor: {exc}",
                          fix_hint) from exc
    checkpointer = Checkpointer(config.journal, config.journal_synchronous, engine.lock, log)
    checkpointer.start()
    if review is not None:
        review.start()
    log.info("config_loaded", config=str(config.source), fix_settings=str(config.fix_settings),
             sessions=fix_settings.sessions, instruments=len(instruments),
             rulebook=str(config.rulebook or "built-in"), journal=str(config.journal),
             settle_seconds=config.settle_seconds, firms=config.firms,
             tls=config.tls is not None, credentials=sorted(config.credentials))
    resent, recovered = engine.resend_unsent()

    # Start-up leaves a large heap (numba, numpy, quickfix, the rebuilt core). Collected
    # and frozen now, so that Python's first full collection (35-45 ms here, measured)
    # does not run during the first minutes of traffic and hold fills back.
    gc.collect()
    gc.freeze()
    stop = stop or _stop_on_signals()
    census = KernelCensus()  # what numba holds at readiness; a fill must add nothing
    health.mark(ACCEPTOR, None)  # listening since acceptor.start(); ready from now on
    base_url = f"http://{_url_host(config.metrics_host)}:{config.metrics_port}"
    ready, _ = health.readiness()
    log.info("serving", port=_port(fix_settings.text), fills_rebuilt=rebuilt,
             busts_resent=resent, busts_found_handed_over=recovered, ready=ready,
             metrics_url=f"{base_url}/metrics", ready_url=f"{base_url}/readyz",
             live_url=f"{base_url}/livez")
    ticks = late = 0
    try:
        while not stop.wait(TICK_SECONDS):
            health.beat()
            engine.tick()
            dropped.poll()  # messages QuickFIX dropped or refused: counted and logged
            ticks += 1
            if ticks % SEQNUM_EVERY_TICKS == 0:
                _export_seqnums(session_ids, metrics)
                late = _report_late_kernels(census, metrics, log, late)
    finally:
        # A stop that hangs says where: every thread's Python stack goes to stderr.
        faulthandler.dump_traceback_later(STOP_DUMP_SECONDS)
        health.mark(ACCEPTOR, "stopping")
        if review is not None:
            review.stop()
        acceptor.stop()
        dropped.poll()  # what QuickFIX logged up to its stop (logons refused just before)
        engine.close()  # commits the pending batch first
        checkpointer.stop()
        faulthandler.cancel_dump_traceback_later()
        log.info("stopped")
    return 0


def _retention(config, settings: fix.SessionSettings, session_ids: list[fix.SessionID],
               engine: LiveEngine, metrics: Metrics, log) -> None:
    """Retention after each rollover, and once now (a stop may have spanned days)."""
    message_logs = [path.with_name(path.name.replace(".event.", ".messages."))
                    for name, path in event_logs(settings, session_ids).items()
                    if name != NO_SESSION]
    rollover = Rollover(config.retention, config.journal, message_logs, metrics, log)
    engine.after_rollover = lambda ended, day: rollover.after(engine.journal, engine.lock,
                                                              ended, day)
    rollover.at_start(engine.journal, engine.lock, engine.day)


def _report_late_kernels(census: KernelCensus, metrics: Metrics, log, reported: int) -> int:
    """A kernel compiled or loaded after readiness: a fill waited for it. Not expected
    (the warm-up covers every path); said loudly if it happens. Returns how many are late."""
    late = census.late()
    if len(late) != reported:
        metrics.kernels_late.set(len(late))
        log.warning("kernel_compiled_after_ready", kernels=late,
                    detail="the warm-up (engine/live/warmup.py) missed a path of the live "
                           "kernels: a fill waited for numba")
    return len(late)


def _url_host(host: str) -> str:
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _export_seqnums(session_ids: list[fix.SessionID], metrics: Metrics) -> None:
    for sid in session_ids:
        session = fix.Session.lookupSession(sid)
        if session is not None:
            name = sid.toString()
            metrics.sender_seq.labels(name).set(session.getExpectedSenderNum())
            metrics.target_seq.labels(name).set(session.getExpectedTargetNum())


def _port(settings_text: str) -> int | None:
    for line in settings_text.splitlines():
        if line.startswith("SocketAcceptPort="):
            return int(line.partition("=")[2])
    return None
