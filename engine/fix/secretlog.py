"""QuickFIX's FileLog without secrets: every line passes through mask_secrets first.

QuickFIX writes each incoming message to the session's `*.messages.current.log` as it
arrived, so a Logon's Password (554) or NewPassword (925) would land on disk in clear; a
Logon for an unknown session goes to the GLOBAL log, inside an event text too. The
MaskingLogFactory wraps the FileLogFactory: same files, same line format (`ceguard
replay` reads them), secrets replaced by a fixed mask (its length tells nothing). Masked
lines keep their old BodyLength and CheckSum; replay does not check them. Bytes that are
not UTF-8 are written as U+FFFD (SWIG cannot pass them back to the FileLog).

QuickFIX calls these methods from its own threads through SWIG directors, where an
escaping exception hangs the process (FIX_NOTES.md 1.2): every method is guarded, and a
line that cannot be written is dropped and counted rather than written unmasked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import quickfix as fix

SECRET_TAGS = (554, 925)  # Password, NewPassword
MASK = "********"
_MARKERS = tuple(f"\x01{tag}=" for tag in SECRET_TAGS)
_SECRET = re.compile("(\x01(?:" + "|".join(map(str, SECRET_TAGS)) + ")=)[^\x01]*")

# Called with (session id or None for the acceptor's GLOBAL log, masked event text).
EventObserver = Callable[[str | None, str], None]


def mask_secrets(text: str) -> str:
    if not any(marker in text for marker in _MARKERS):  # the common case: nothing to do
        return text
    return _SECRET.sub(lambda m: m.group(1) + MASK, text)


def _replace_surrogates(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _MaskingLog(fix.Log):
    def __init__(self, factory: MaskingLogFactory, inner: fix.Log | None,
                 session: str | None) -> None:
        super().__init__()
        self._factory = factory
        self._inner = inner  # None when the FileLog could not be created (see errors)
        self._session = session

    def clear(self) -> None:
        self._call("clear")

    def backup(self) -> None:
        self._call("backup")

    def onIncoming(self, text: str) -> None:
        self._call("onIncoming", text)

    def onOutgoing(self, text: str) -> None:
        self._call("onOutgoing", text)

    def onEvent(self, text: str) -> None:
        try:
            text = mask_secrets(text)
        except Exception:
            self._factory.failed()
            return
        self._call("onEvent", text, masked=True)
        if self._factory.observer is not None:
            try:
                self._factory.observer(self._session, text)
            except Exception:
                self._factory.failed()

    def _call(self, method: str, *text: str, masked: bool = False) -> None:
        if self._inner is None:
            return
        try:
            args = text if masked else tuple(mask_secrets(t) for t in text)
            try:
                getattr(self._inner, method)(*args)
            except TypeError:  # bytes that are not UTF-8 reach Python as surrogates, which
                # SWIG cannot hand back: write them as U+FFFD rather than lose the line.
                getattr(self._inner, method)(*map(_replace_surrogates, args))
        except Exception:
            self._factory.failed()


class MaskingLogFactory(fix.LogFactory):
    """A fix.LogFactory whose logs mask secrets before `inner` (a FileLogFactory) writes."""

    def __init__(self, inner: fix.LogFactory, observer: EventObserver | None = None,
                 on_failure: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.observer = observer
        self.on_failure = on_failure  # a line dropped (e.g. a metric's inc)
        self.errors: list[str] = []  # logs that could not be created, for start-up to report
        # QuickFIX keeps raw pointers to the logs: Python must keep them alive until destroy.
        self._logs: dict[int, tuple[_MaskingLog, fix.Log | None]] = {}
        self._lock = threading.Lock()

    def create(self, session_id: fix.SessionID | None = None) -> fix.Log:
        inner = None
        try:
            inner = self.inner.create() if session_id is None else self.inner.create(session_id)
        except Exception as exc:  # raising here would hang QuickFIX: report it at start-up
            self.errors.append(f"{session_id.toString() if session_id else 'GLOBAL'}: {exc}")
        log = _MaskingLog(self, inner, session_id.toString() if session_id else None)
        with self._lock:
            self._logs[int(log.this)] = (log, inner)
        # Handed over already disowned: the SWIG director of a LogFactory otherwise
        # records the log as its own and deletes it with the factory, after QuickFIX's
        # destroy() (a double free at exit).
        log.__disown__()
        return log

    def destroy(self, log: fix.Log) -> None:
        try:
            with self._lock:
                _, inner = self._logs.pop(int(log.this), (None, None))
            if inner is not None:
                self.inner.destroy(inner)
        except Exception:
            self.failed()

    def failed(self) -> None:
        if self.on_failure is not None:
            try:
                self.on_failure()
            except Exception:
                pass  # counting must not be what hangs QuickFIX
