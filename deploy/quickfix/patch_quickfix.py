"""Patch the quickfix 1.16.0 sources before ceguard builds them (Makefile, Dockerfile).

    python deploy/quickfix/patch_quickfix.py quickfix-1.16.0/

Two changes to the acceptor connections (SocketConnection for plain TCP, SSLSocketConnection
for TLS, which `ceguard serve` uses, and ThreadedSocketConnection, should it switch to the
threaded acceptor), where the first message of a connection is read, and one to the
acceptor's Logon (Session::nextLogon):
1. A Logon that reaches no session is answered with a Logout naming the reason (stock
   QuickFIX closes the socket without a word): no session of those CompIDs, or the
   session is logged on already from another connection (the threaded connection logs
   that case to the GLOBAL log as "Session already logged on for incoming message: ...").
2. "Logon connection from ADDRESS" is logged to the session's log just before the
   connection's first message goes to the session. (Stock 1.16.0 checks
   AllowedRemoteAddresses on plain TCP only after the Logon has been processed, and not at
   all on TLS.) ceguard reads the event, logged on the thread that then runs fromAdmin,
   to judge AllowedRemoteAddresses itself and refuse with a reason.
3. An acceptor judges a Logon that asks for a sequence reset (ResetSeqNumFlag=Y, or
   ResetOnLogon=Y) before resetting: stock 1.16.0 resets the session (sequence numbers and
   the stored messages, e.g. busts queued for an offline firm) first and runs fromAdmin
   after, so even a refused Logon wiped them. The reset Logon is verified without the
   MsgSeqNum-too-low check, which the reset would have made moot.
4. A threaded connection stops touching its socket once it has closed it. Stock 1.16.0
   goes on reading after disconnect() (a message for no session, an invalid Logon): it
   polls, reads and finally closes the same descriptor number again, which by then may
   belong to another socket or file of the process (seen: the metrics server's
   connections, answered by QuickFIX's close; the journal's file could be next).
5. Session::logout(reason) records the reason before it disables the session. Stock
   1.16.0 disables first, so the session's own thread could send the Logout before the
   reason was set: ceguard's Logout for a failed journal went out with no Text (seen).
Every edit must find its anchor exactly once, so a different source fails loudly.
"""

from __future__ import annotations

import sys
from pathlib import Path

HEADER = "CeguardRefusal.h"
HEADER_TEXT = """\
// Added by ceguard (deploy/quickfix/patch_quickfix.py).
#ifndef CEGUARD_REFUSAL_H
#define CEGUARD_REFUSAL_H

#include "FieldTypes.h"
#include "Fields.h"
#include "Message.h"
#include "Session.h"
#include "Values.h"

namespace FIX {
// The Logout that answers a Logon no session took, or "" when the message is not a
// Logon with a readable header (those are dropped without a word).
inline std::string refusalLogout(const std::string &raw) {
  Message logon;
  if (!logon.setStringHeader(raw)) {
    return "";
  }
  const Header &in = logon.getHeader();
  if (!in.isSetField(FIELD::BeginString) || !in.isSetField(FIELD::SenderCompID)
      || !in.isSetField(FIELD::TargetCompID) || !in.isSetField(FIELD::MsgType)
      || in.getField(FIELD::MsgType) != MsgType_Logon) {
    return "";
  }
  std::string session = in.getField(FIELD::BeginString) + ":" + in.getField(FIELD::TargetCompID)
                        + "->" + in.getField(FIELD::SenderCompID);
  Message logout;
  Header &out = logout.getHeader();
  out.setField(BeginString(in.getField(FIELD::BeginString)));
  out.setField(MsgType(MsgType_Logout));
  out.setField(SenderCompID(in.getField(FIELD::TargetCompID)));
  out.setField(TargetCompID(in.getField(FIELD::SenderCompID)));
  out.setField(MsgSeqNum(1));
  out.setField(SendingTime(UtcTimeStamp::now(), 3));
  Session *known = Session::lookupSession(raw, true);
  if (known && Session::isSessionRegistered(known->getSessionID())) {
    logout.setField(Text("Logon refused: already_logged_on: session " + session
                         + " is logged on from another connection"));
  } else {
    logout.setField(Text("Logon refused: unknown_session: no session " + session
                         + " is configured on this port"));
  }
  return logout.toString();
}
} // namespace FIX

#endif
"""

INCLUDE = '#include "Utility.h"\n'

FIRST_MESSAGE = """          acceptor.getLog()->onIncoming(message);
        }
      }
      if (m_pSession) {
        m_pSession = acceptor.getSession(message, *this);
      }
      if (m_pSession) {
        m_pSession->next(message, UtcTimeStamp::now());
      }"""

PATCHED = """          acceptor.getLog()->onIncoming(message);
        }
        std::string logout = refusalLogout(message);  // ceguard
        if (!logout.empty()) {
          {send};
        }
      }
      if (m_pSession) {
        m_pSession = acceptor.getSession(message, *this);
      }
      if (m_pSession) {
        if (m_pSession->isAcceptor()) {  // ceguard: the peer's address, for fromAdmin
          m_pSession->getLog()->onEvent(std::string("Logon connection from ")
                                        + socket_peername(m_socket));
        }
        m_pSession->next(message, UtcTimeStamp::now());
      }"""

THREADED_NOT_FOUND = """      m_pLog->onIncoming(msg);
    }
    return false;"""

THREADED_REFUSAL = """      m_pLog->onIncoming(msg);
    }
    std::string logout = refusalLogout(msg);  // ceguard
    if (!logout.empty()) {
      send(logout);
    }
    return false;"""

THREADED_BUSY = """  if (!m_pSession) {
    return false;
  }
  if (m_sessions.find("""

THREADED_BUSY_REFUSAL = """  if (!m_pSession) {
    if (m_pLog) {  // ceguard
      m_pLog->onEvent("Session already logged on for incoming message: " + msg);
    }
    std::string logout = refusalLogout(msg);
    if (!logout.empty()) {
      send(logout);
    }
    return false;
  }
  if (m_sessions.find("""

THREADED_ALLOWS = """    m_pSession->getLog()->onEvent("Allows connections to the acceptor from " + remote_address);
  }
"""

THREADED_ADDRESS = """    m_pSession->getLog()->onEvent("Allows connections to the acceptor from " + remote_address);
    m_pSession->getLog()->onEvent("Logon connection from " + remote_address);  // ceguard
  }
"""

# SSLSocketConnection::send reports errors through the session, which does not exist here.
SENDS = {"SocketConnection.cpp": "send(logout)",
         "SSLSocketConnection.cpp": "SSL_write(m_ssl, logout.c_str(), (int)logout.length())"}


RESET_FLAG = """  ResetSeqNumFlag resetSeqNumFlag(false);
  logon.getFieldIfSet(resetSeqNumFlag);
  m_state.receivedReset(resetSeqNumFlag);
"""

JUDGED_FIRST = """  ResetSeqNumFlag resetSeqNumFlag(false);
  logon.getFieldIfSet(resetSeqNumFlag);
  bool judged = false;  // ceguard: judge (verify runs fromAdmin) before any reset
  if (!m_state.initiate() && (resetSeqNumFlag.getValue() || m_resetOnLogon)) {
    if (!verify(logon, false, false)) {
      return;
    }
    judged = true;
  }
  m_state.receivedReset(resetSeqNumFlag);
"""

VERIFY_LOGON = """  if (!verify(logon, false, true)) {
    return;
  }
  m_state.receivedLogon(true);"""

VERIFY_UNLESS_JUDGED = """  if (!judged && !verify(logon, false, true)) {
    return;
  }
  m_state.receivedLogon(true);"""


THREADED_READ = """bool ThreadedSocketConnection::read() {
"""

THREADED_READ_CLOSED = """bool ThreadedSocketConnection::read() {
  if (m_disconnect) {  // ceguard: the socket is closed; its number may be another's now
    return false;
  }
"""

THREADED_NO_SESSION = """      if (!setSession(msg)) {
        disconnect();
        continue;
      }"""

THREADED_NO_SESSION_STOP = """      if (!setSession(msg)) {
        disconnect();
        return;  // ceguard: not `continue`, which read on from a closed socket
      }"""


LOGOUT = """  void logout(const std::string &reason = "") {
    m_state.enabled(false);
    m_state.logoutReason(reason);
  }"""

LOGOUT_REASON_FIRST = """  void logout(const std::string &reason = "") {
    m_state.logoutReason(reason);  // ceguard: before the session's thread can act on it
    m_state.enabled(false);
  }"""


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"patch_quickfix: {path}: anchor found {text.count(old)} times, "
                         f"expected once:\n{old}")
    path.write_text(text.replace(old, new))


def patch(source: Path) -> None:
    cpp = source / "C++"
    (cpp / HEADER).write_text(HEADER_TEXT)
    for name, send in SENDS.items():
        _replace(cpp / name, INCLUDE, INCLUDE + f'#include "{HEADER}"\n')
        _replace(cpp / name, FIRST_MESSAGE, PATCHED.replace("{send}", send))
    threaded = cpp / "ThreadedSocketConnection.cpp"
    _replace(threaded, INCLUDE, INCLUDE + f'#include "{HEADER}"\n')
    _replace(threaded, THREADED_NOT_FOUND, THREADED_REFUSAL)
    _replace(threaded, THREADED_BUSY, THREADED_BUSY_REFUSAL)
    _replace(threaded, THREADED_ALLOWS, THREADED_ADDRESS)
    _replace(threaded, THREADED_READ, THREADED_READ_CLOSED)
    _replace(threaded, THREADED_NO_SESSION, THREADED_NO_SESSION_STOP)
    _replace(cpp / "Session.h", LOGOUT, LOGOUT_REASON_FIRST)
    _replace(cpp / "Session.cpp", RESET_FLAG, JUDGED_FIRST)
    _replace(cpp / "Session.cpp", VERIFY_LOGON, VERIFY_UNLESS_JUDGED)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: patch_quickfix.py QUICKFIX_SOURCE_DIR")
    patch(Path(sys.argv[1]))
