"""Who may log on: the counterparty's address and its Username/Password, per session.

QuickFIX 1.16 cannot refuse these with a reason by itself: its AllowedRemoteAddresses
check closes the socket without a word (on plain TCP only after the Logon has been
accepted; on TLS not at all), and it knows nothing of credentials. So ceguard takes
AllowedRemoteAddresses out of what QuickFIX sees (engine/fix/settings.py) and judges
every Logon in fromAdmin; a refusal raises fix.RejectLogon(text), which QuickFIX answers
with a Logout carrying the text, then disconnects. Each refusal is counted and logged; a
password never appears in either.

The remote address: ceguard's patch to QuickFIX (deploy/quickfix/patch_quickfix.py) keeps
it in a thread-local variable while the connection's first message goes to its session,
on the thread that runs fromAdmin, and exports `ceguard_peer_address()`, which
check_logon calls through ctypes (no Python on QuickFIX's log path). No address known
means refused.

A Logon that reaches no session never gets to fromAdmin: QuickFIX (patched) answers it
with a Logout and logs "Session not found" (or "Session already logged on") to its GLOBAL
event log, whose lines EventLogTail (engine/fix/session_events.py) hands to `on_event`
from serve's main loop: counted and logged as `unknown_session` or `already_logged_on`.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import quickfix as fix

from engine.config import Credential, EngineConfig
from engine.errors import ConfigError
from engine.fix.session_events import NO_SESSION
from engine.fix.settings import SessionSettings
from engine.obs.metrics import Metrics

UNKNOWN_SESSION = "unknown_session"
ALREADY_LOGGED_ON = "already_logged_on"
ADDRESS_NOT_ALLOWED = "address_not_allowed"
ADDRESS_UNKNOWN = "address_unknown"
MISSING_CREDENTIALS = "missing_credentials"
BAD_CREDENTIALS = "bad_credentials"
INTERNAL_ERROR = "internal_error"  # the check itself failed: refused, never let through
JOURNAL_UNWRITABLE = "journal_unwritable"  # refused by the live engine (engine/live), not here
REFUSAL_REASONS = (UNKNOWN_SESSION, ALREADY_LOGGED_ON, ADDRESS_NOT_ALLOWED, ADDRESS_UNKNOWN,
                   MISSING_CREDENTIALS, BAD_CREDENTIALS, INTERNAL_ERROR, JOURNAL_UNWRITABLE)

_NOT_FOUND = "Session not found for incoming message: "
_BUSY = "Session already logged on for incoming message: "  # ceguard's patch
_USERNAME, _PASSWORD, _LOGON = 553, 554, "A"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """AllowedRemoteAddresses: comma-separated addresses or networks (10.1.0.0/16).
    Raises ValueError naming the entry that is neither."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False)
                 for entry in value.split(",") if entry.strip())


@dataclass(frozen=True)
class SessionPolicy:
    networks: tuple[Network, ...]  # empty: any address
    credential: Credential | None  # None: no credentials asked


class Refused(Exception):
    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


def peer_address_function() -> Callable[[], bytes]:
    """`ceguard_peer_address` of ceguard's patched QuickFIX: inside fromAdmin, the address
    of the connection the message came on (b"" when none is known)."""
    try:
        function = ctypes.CDLL(fix._quickfix.__file__).ceguard_peer_address
    except AttributeError:
        raise RuntimeError("the installed quickfix lacks ceguard's patch "
                           "(deploy/quickfix/patch_quickfix.py): rebuild it as the Makefile "
                           "does (make clean test)") from None
    function.argtypes = []
    function.restype = ctypes.c_char_p
    return function


class LogonGate:
    def __init__(self, policies: dict[str, SessionPolicy], metrics: Metrics, log) -> None:
        self.policies = policies
        self.metrics = metrics
        self.log = log
        self._peer_address = peer_address_function()
        for reason in REFUSAL_REASONS:
            metrics.logons_refused.labels(reason)

    def on_event(self, session: str, text: str) -> None:
        """An event line of QuickFIX's logs, from EventLogTail (serve's main loop): count a
        Logon that reached no session (the patch answered it with a Logout)."""
        try:
            if session != NO_SESSION or not text.startswith((_NOT_FOUND, _BUSY)):
                return
            busy = text.startswith(_BUSY)
            header = _header(text[len(_BUSY if busy else _NOT_FOUND):])
            if header.get(35) != _LOGON:  # dropped without a Logout: not a refused Logon
                return
            self._refused(ALREADY_LOGGED_ON if busy else UNKNOWN_SESSION, None, None,
                          begin_string=header.get(8), sender_comp_id=header.get(49),
                          target_comp_id=header.get(56))
        except Exception:
            self.log.exception("callback_failed", callback="logon_gate_event")

    def check_logon(self, message: fix.Message, session: str) -> None:
        """Raise fix.RejectLogon(reason text) unless this Logon may proceed."""
        if message.getHeader().getField(35) != _LOGON:
            return
        address = None
        try:
            address = self._peer_address().decode("ascii") or None
            self._judge(message, session, address)
            return
        except Refused as refused:
            reason, text = refused.reason, refused.text
        except Exception:
            self.log.exception("logon_check_failed", session=session)
            reason, text = INTERNAL_ERROR, "the check failed, see the server's log"
        self._refused(reason, session, address)
        raise fix.RejectLogon(f"Logon refused: {reason}: {text}")

    def _judge(self, message: fix.Message, session: str, address: str | None) -> None:
        policy = self.policies.get(session)
        if policy is None:  # cannot happen: every session of the cfg has a policy
            raise Refused(UNKNOWN_SESSION, "no policy for this session")
        if policy.networks:
            if address is None:
                raise Refused(ADDRESS_UNKNOWN, "the connection's address is not known")
            if not _allowed(address, policy.networks):
                raise Refused(ADDRESS_NOT_ALLOWED, f"{address} may not log on to this session")
        credential = policy.credential
        if credential is None:
            return
        if not (message.isSetField(_USERNAME) and message.isSetField(_PASSWORD)):
            raise Refused(MISSING_CREDENTIALS, "Username (553) and Password (554) are required")
        # Both compared, in constant time and as digests of one length, so timing tells
        # nothing about either, not even its length.
        user_ok = _same(message.getField(_USERNAME), credential.username)
        password_ok = _same(message.getField(_PASSWORD), credential.password.value)
        if not (user_ok & password_ok):
            raise Refused(BAD_CREDENTIALS, "Username (553) or Password (554) is wrong")

    def _refused(self, reason: str, session: str | None, address: str | None, **keys) -> None:
        self.metrics.logons_refused.labels(reason).inc()
        self.log.warning("logon_refused", reason=reason, session=session,
                         remote_address=address, **keys)


def _allowed(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # QuickFIX says "UNKNOWN" when getpeername fails
        return False
    return any(ip in network for network in networks)


def _same(given: str, expected: str) -> bool:
    def digest(text: str) -> bytes:  # SWIG hands bytes that are not UTF-8 as surrogates
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
    return hmac.compare_digest(digest(given), digest(expected))


def _header(raw: str) -> dict[int, str]:
    """The first BeginString, MsgType and CompIDs of a raw message (for the log only)."""
    header: dict[int, str] = {}
    for part in raw.split("\x01")[:12]:
        tag, sep, value = part.partition("=")
        if sep and tag in ("8", "35", "49", "56"):
            header.setdefault(int(tag), value[:64])
    return header


def build_policies(config: EngineConfig, fix_settings: SessionSettings) -> dict[str, SessionPolicy]:
    """The policy of every session of the cfg; ConfigError for what cannot work."""
    targets = {session: _target(session) for session in fix_settings.sessions}
    where = str(config.source)
    known = ", ".join(sorted(set(targets.values())))
    for comp_id in config.credentials:
        if comp_id not in targets.values():
            raise ConfigError(where, f"auth.credentials.{comp_id}",
                              f"names CompID {comp_id}, which is the TargetCompID of no session "
                              f"of {config.fix_settings} ({known})",
                              "use the counterparty's CompID (its SenderCompID 49)")
    policies = {}
    for session, target in targets.items():
        credential = config.credentials.get(target)
        if config.auth_required and credential is None:
            raise ConfigError(where, "auth.required",
                              f"is true, but {target} (session {session}) has no credentials",
                              f"add {target} under [auth.credentials], or set required = false")
        value = fix_settings.allowed_addresses.get(session, "")
        try:
            networks = parse_networks(value)
        except ValueError as exc:
            raise ConfigError(str(config.fix_settings), f"{session} AllowedRemoteAddresses",
                              f"{value!r}: {exc}", "write comma-separated IP addresses or "
                              "networks, e.g. 127.0.0.1,10.1.0.0/16") from None
        policies[session] = SessionPolicy(networks, credential)
    return policies


def _target(session: str) -> str:
    """TargetCompID of a session id "BEGIN:SENDER->TARGET[:QUALIFIER]"."""
    return session.partition("->")[2].partition(":")[0]
