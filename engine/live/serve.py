"""`ceguard serve`: load the configs, rebuild from the journal, run the acceptor."""

from __future__ import annotations

import faulthandler
import gc
import signal
import threading

import quickfix as fix

from engine.config import EngineConfig, load_config
from engine.core.instruments import load_instruments
from engine.core.surveillance import Surveillance
from engine.errors import ConfigError
from engine.fix.application import CeguardApplication
from engine.fix.auth import LogonGate, build_policies
from engine.fix.intake import FillQueue
from engine.fix.session_events import EventLogTail, event_logs
from engine.fix.settings import load_session_settings
from engine.journal.checkpoint import BACKSTOP_PAGES, Checkpointer
from engine.fix.tls import acceptor_class, tls_settings
from engine.journal.store import Journal
from engine.live.engine import JOURNAL_ERRORS, LiveEngine
from engine.live.writer import MAX_BATCH
from engine.live.notifier import Notifier
from engine.live.sessions import DropCopySessions
from engine.obs.logging import configure_logging, get_logger
from engine.obs.metrics import Metrics
from engine.review.service import review_service
from engine.rules.rulebook import load_rulebook

TICK_SECONDS = 0.05
SEQNUM_EVERY_TICKS = 20
STOP_DUMP_SECONDS = 20  # QuickFIX's own stop waits up to 10 s for logouts


def serve(config_path: str | None, stop: threading.Event | None = None) -> int:
    configure_logging()
    log = get_logger()
    config = load_config(config_path)
    rulebook = load_rulebook(config.rulebook)
    instruments = load_instruments(config.instruments) if config.instruments else []
    fix_settings = load_session_settings(config.fix_settings,
                                         {**config.fix_overrides, **tls_settings(config.tls)},
                                         config.source.resolve().parent)
    for party, session in config.firms.items():
        if session not in fix_settings.sessions:
            raise ConfigError(str(config.source), f"firms.{party}",
                              f"names session {session}, which {config.fix_settings} "
                              f"does not define (it has {', '.join(fix_settings.sessions)})",
                              "use one of those session ids, or add the session to the cfg")
    _check_legacy_fill_sessions(config, fix_settings.sessions)
    policies = build_policies(config, fix_settings)
    metrics = Metrics()
    try:
        metrics.serve(config.metrics_host, config.metrics_port)
    except OSError as exc:
        raise ConfigError(str(config.source), "metrics.listen",
                          f"cannot listen on {config.metrics_host}:{config.metrics_port} "
                          f"({exc.strerror})", "choose a free port or stop the other process"
                          ) from exc

    try:
        engine = LiveEngine(lambda: Surveillance(rulebook, instruments),
                            lambda: Journal(config.journal, config.journal_synchronous,
                                            BACKSTOP_PAGES),
                            metrics, config.firms, config.settle_seconds, log,
                            config.legacy_fill_sessions)
        rebuilt = engine.rebuild()
    except JOURNAL_ERRORS as exc:
        raise ConfigError(str(config.source), "journal.path",
                          f"cannot open or read the journal {config.journal} "
                          f"({type(exc).__name__}: {exc})",
                          "check that its folder is writable and its disk has free space"
                          ) from exc
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
        # Before start: the tail counts from the logs' current ends, so no event is missed.
        dropped = EventLogTail(event_logs(fix_settings.settings, session_ids),
                               app.session_events.event, gate.on_event)
        acceptor.start()
    except (fix.ConfigError, fix.RuntimeError) as exc:
        if "Could not open" in str(exc):  # QuickFIX's FileLog or FileStore
            raise ConfigError(str(config.fix_settings), "FileLogPath / FileStorePath",
                              f"QuickFIX cannot open its files: {exc}",
                              "make them directories ceguard can write") from exc
        key, fix_hint = "SocketAcceptPort / sessions", \
            "check the port is free and the session settings are valid"
        if config.tls is not None:
            key, fix_hint = f"{key} / [tls] in {config.source}", \
                f"{fix_hint}, and that tls.certificate and tls.key are a matching PEM pair"
        raise ConfigError(str(config.fix_settings), key,
                          f"QuickFIX cannot start the acceptor: {exc}", fix_hint) from exc
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
    log.info("serving", port=_port(fix_settings.text), fills_rebuilt=rebuilt,
             busts_resent=resent, busts_found_handed_over=recovered,
             metrics_url=f"http://{config.metrics_host}:{config.metrics_port}/metrics")

    # Start-up leaves a large heap (numba, numpy, quickfix, the rebuilt core). Collected
    # and frozen now, so that Python's first full collection (35-45 ms here, measured)
    # does not run during the first minutes of traffic and hold fills back.
    gc.collect()
    gc.freeze()
    stop = stop or _stop_on_signals()
    ticks = 0
    try:
        while not stop.wait(TICK_SECONDS):
            engine.tick()
            dropped.poll()  # messages QuickFIX dropped or refused: counted and logged
            ticks += 1
            if ticks % SEQNUM_EVERY_TICKS == 0:
                _export_seqnums(session_ids, metrics)
    finally:
        # A stop that hangs says where: every thread's Python stack goes to stderr.
        faulthandler.dump_traceback_later(STOP_DUMP_SECONDS)
        if review is not None:
            review.stop()
        acceptor.stop()
        engine.close()  # commits the pending batch first
        checkpointer.stop()
        faulthandler.cancel_dump_traceback_later()
        log.info("stopped")
    return 0


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


def _check_legacy_fill_sessions(config: EngineConfig, sessions: list[str]) -> None:
    """legacy_fills is a drop-copy session's setting: the cfg must define the session,
    and it must not be a firm's (a firm's session carries busts, not fills)."""
    firm_sessions = set(config.firms.values())
    for session in sorted(config.legacy_fill_sessions):
        key = f'sessions."{session}".legacy_fills'
        if session not in sessions:
            raise ConfigError(str(config.source), key,
                              f"names session {session}, which {config.fix_settings} does "
                              f"not define (it has {', '.join(sessions)})",
                              "use a drop-copy session id of the cfg, e.g. "
                              "FIX.4.4:CEGUARD->MATCHING1")
        if session in firm_sessions:
            raise ConfigError(str(config.source), key,
                              f"names {session}, a firm's session (see [firms]): firms "
                              "receive busts, they send no fills",
                              "set legacy_fills on the matching engine's drop-copy session")
