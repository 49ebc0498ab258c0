"""Patch the quickfix 1.16.0 sources before ceguard builds them (Makefile, Dockerfile).

    python deploy/quickfix/patch_quickfix.py quickfix-1.16.0/

Two changes to the threaded acceptor connections, the ones `ceguard serve` uses:
1. A Logon for a session the acceptor does not define is answered with a Logout naming
   the reason (stock QuickFIX closes the socket without a word).
2. The TLS connection (ThreadedSSLSocketConnection) gets the AllowedRemoteAddresses check
   and the "Allows connections to the acceptor from ADDRESS" event that the plain one has;
   stock 1.16.0 ignores AllowedRemoteAddresses on TLS. ceguard reads that event, which
   QuickFIX logs in the connection's thread just before the Logon reaches fromAdmin, to
   refuse a disallowed address with a Logout naming the reason.
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
#include "Values.h"

namespace FIX {
// The Logout that answers a Logon for a session this acceptor does not define, or "" when
// the message is not a Logon with a readable header (those are dropped without a word).
inline std::string unknownSessionLogout(const std::string &raw) {
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
  Message logout;
  Header &out = logout.getHeader();
  out.setField(BeginString(in.getField(FIELD::BeginString)));
  out.setField(MsgType(MsgType_Logout));
  out.setField(SenderCompID(in.getField(FIELD::TargetCompID)));
  out.setField(TargetCompID(in.getField(FIELD::SenderCompID)));
  out.setField(MsgSeqNum(1));
  out.setField(SendingTime(UtcTimeStamp::now(), 3));
  logout.setField(Text("Logon refused: unknown_session: no session "
                       + in.getField(FIELD::BeginString) + ":" + in.getField(FIELD::TargetCompID)
                       + "->" + in.getField(FIELD::SenderCompID) + " is configured"));
  return logout.toString();
}
} // namespace FIX

#endif
"""

NOT_FOUND = """      m_pLog->onIncoming({msg});
    }}
    return false;"""

PLAIN_REFUSAL = """      m_pLog->onIncoming(msg);
    }
    std::string logout = unknownSessionLogout(msg);  // ceguard
    if (!logout.empty()) {
      send(logout);
    }
    return false;"""

# ThreadedSSLSocketConnection::send logs through the session, which does not exist here.
TLS_REFUSAL = """      m_pLog->onIncoming(message);
    }
    std::string logout = unknownSessionLogout(message);  // ceguard
    if (!logout.empty()) {
      Locker locker(m_mutex);
      SSL_write(m_ssl, logout.c_str(), (int)logout.length());
    }
    return false;"""

TLS_RESPONDER = """
  m_pSession->setResponder(this);
  return true;
}"""

TLS_ADDRESS_CHECK = """
  if (m_pSession->isAcceptor()) {  // ceguard: as in ThreadedSocketConnection::setSession
    std::string remote_address = socket_peername(m_socket);
    if (!m_pSession->getAllowedRemoteAddresses().empty()
        && !m_pSession->inAllowedRemoteAddresses(remote_address)) {
      m_pSession->getLog()->onEvent("Deny connections to the acceptor from " + remote_address);
      return false;
    }
    m_pSession->getLog()->onEvent("Allows connections to the acceptor from " + remote_address);
  }
""" + TLS_RESPONDER

INCLUDE = '#include "Utility.h"\n'


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"patch_quickfix: {path}: anchor found {text.count(old)} times, "
                         f"expected once:\n{old}")
    path.write_text(text.replace(old, new))


def patch(source: Path) -> None:
    cpp = source / "C++"
    (cpp / HEADER).write_text(HEADER_TEXT)
    include = INCLUDE + f'#include "{HEADER}"\n'
    plain = cpp / "ThreadedSocketConnection.cpp"
    _replace(plain, INCLUDE, include)
    _replace(plain, NOT_FOUND.format(msg="msg"), PLAIN_REFUSAL)
    tls = cpp / "ThreadedSSLSocketConnection.cpp"
    _replace(tls, INCLUDE, include)
    _replace(tls, NOT_FOUND.format(msg="message"), TLS_REFUSAL)
    _replace(tls, TLS_RESPONDER, TLS_ADDRESS_CHECK)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: patch_quickfix.py QUICKFIX_SOURCE_DIR")
    patch(Path(sys.argv[1]))
