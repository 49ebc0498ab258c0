"""Patch the quickfix 1.16.0 sources before ceguard builds them (Makefile, Dockerfile).

    python deploy/quickfix/patch_quickfix.py quickfix-1.16.0/

Changes to the acceptor connections where the first message of a connection is read
(`ceguard serve` uses ThreadedSocketConnection for plain TCP, one thread per connection,
and SSLSocketConnection for TLS, one thread for all; SocketConnection, the unthreaded
plain one, is patched alike), to the acceptor's Logon (Session::nextLogon) and to the
FileLog:
1. A Logon that reaches no session is answered with a Logout naming the reason (stock
   QuickFIX closes the socket without a word): no session of those CompIDs, or the
   session is logged on already from another connection. The GLOBAL event log says which,
   in the Logout's terms: "Session not found for incoming message: ..." or "Session
   already logged on for incoming message: ..." (stock: "not found" for both, or nothing).
2. The peer's address of the connection, just before its first message goes to the
   session: logged to the session's log ("Logon connection from ADDRESS", for operators)
   and kept in a thread-local variable until the message has been handled, which
   `extern "C" ceguard_peer_address()` returns (C++/CeguardPeer.cpp; "" when none). The
   message is handled on that thread, so fromAdmin asks for it through ctypes to judge
   AllowedRemoteAddresses itself and refuse with a reason. (Stock 1.16.0 checks
   AllowedRemoteAddresses on plain TCP only after the Logon has been processed, and not at
   all on TLS.)
3. An acceptor judges a Logon that asks for a sequence reset (ResetSeqNumFlag=Y, or
   ResetOnLogon=Y) before resetting: stock 1.16.0 resets the session (sequence numbers and
   the stored messages, e.g. busts queued for an offline firm) first and runs fromAdmin
   after, so even a refused Logon wiped them. The reset Logon is verified without the
   MsgSeqNum-too-low check, which the reset would have made moot. The flag is marked
   before the Logon is judged, as stock does, so a counterparty that resets while logged on
   (141=Y in session) is answered with a reset Logon, not disconnected.
4. A threaded connection stops touching its socket once it has closed it. Stock 1.16.0
   goes on reading after disconnect() (a message for no session, an invalid Logon): it
   polls, reads and finally closes the same descriptor number again, which by then may
   belong to another socket or file of the process (seen: the metrics server's
   connections, answered by QuickFIX's close; the journal's file could be next).
   Its disconnect() closes the socket once: stock 1.16.0 closed it twice for a Logon
   that fails validation (bad CheckSum: the session disconnects, then the connection's
   InvalidMessage handler again), the second time perhaps another thread's new socket.
5. Session::logout(reason) records the reason before it disables the session. Stock
   1.16.0 disables first, so the session's own thread could send the Logout before the
   reason was set: ceguard's Logout for a failed journal went out with no Text (seen).
6. FileLog (the session logs and the acceptor's GLOBAL log, messages and events) writes
   the value of every Password (554) and NewPassword (925) field, after SOH or at the
   start of the text, as "********" (C++/CeguardMask.cpp): stock QuickFIX writes every
   incoming message as it arrived, a Logon's password in clear, and an event for a
   message no session took holds the whole message. The lines are otherwise the same
   (`ceguard replay` reads them); a masked line keeps its old BodyLength and CheckSum. A
   line without either field is written in one piece, as before. ceguard's logs are
   QuickFIX's FileLogs; the FileStore keeps outgoing messages only, which never carry 554.
7. The Python wrapper keeps the GIL over three calls that neither block nor call back
   into Python: Message::toString(), SessionID::toString() and the Message(string,
   validate) constructor. The stock wrapper gives the GIL up and takes it back around
   every call; when another thread wants it meanwhile (the journal writer, under load),
   the caller waits for it once more. fromApp takes each fill's text with toString();
   busts are built with the constructor.
8. Fills reach ceguard without Python (C++/CeguardIntake.cpp). The Python director's
   fromApp first offers the message to ceguard's intake: an ExecutionReport (35=8) of a
   session ceguard registered is copied, with its session, MsgSeqNum and arrival times,
   into a bounded queue in C++, and fromApp returns without taking the GIL; everything
   else, and every message while the intake is closed, goes to the Python fromApp as
   before. ceguard's journal writer waits on the queue and takes it a batch at a time
   through ctypes (`ceguard_intake_*`); `ceguard_intake_wake` ends its wait when it has
   other work. While the queue holds its capacity, fromApp waits
   (QuickFIX stops reading, the socket pushes back). Stock fromApp took the GIL for every
   fill, and under load waited for the journal writer to give it up.
9. A Logon that is not the connection's first message (a counterparty resetting its
   sequence numbers in session, 141=Y while logged on) is handed to the session with the
   connection's address too (item 2 sets it for the first message only): without it a
   session with AllowedRemoteAddresses refused every reset in session as "address unknown".
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
// Whether a message no session took names a session that is logged on from another
// connection (else it names none of this acceptor's).
inline bool loggedOnElsewhere(const std::string &raw) {
  Session *known = Session::lookupSession(raw, true);
  return known && Session::isSessionRegistered(known->getSessionID());
}

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
  if (loggedOnElsewhere(raw)) {
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

MASK_HEADER = "CeguardMask.h"
MASK_HEADER_TEXT = """\
// Added by ceguard (deploy/quickfix/patch_quickfix.py).
#ifndef CEGUARD_MASK_H
#define CEGUARD_MASK_H

#include <ostream>
#include <string>

namespace FIX {
// Writes one FileLog line ("TIMESTAMP : text") with the value of every Password (554) and
// NewPassword (925) field, after SOH or at the start of the text, replaced by a fixed mask.
void writeMaskedLine(std::ostream &out, const std::string &text);
} // namespace FIX

#endif
"""

MASK_SOURCE_TEXT = """\
// Added by ceguard (deploy/quickfix/patch_quickfix.py).
#include "CeguardMask.h"

#include "FieldConvertors.h"
#include "FieldTypes.h"

#include <cstring>

namespace FIX {
namespace {
const char SECRET_MASK[] = "********";  // fixed: its length tells nothing

bool isSecretField(const char *field, const char *end) {
  return end - field >= 4 && (std::memcmp(field, "554=", 4) == 0 || std::memcmp(field, "925=", 4) == 0);
}
} // namespace

void writeMaskedLine(std::ostream &out, const std::string &text) {
  out << UtcTimeStampConvertor::convert(UtcTimeStamp::now(), 9) << " : ";
  const char *begin = text.data();
  const char *end = begin + text.size();
  const char *written = begin;  // text before this is out already
  for (const char *field = begin; field < end;) {
    const char *soh = static_cast<const char *>(std::memchr(field, '\\001', end - field));
    const char *stop = soh ? soh : end;
    if (isSecretField(field, stop)) {
      out.write(written, field + 4 - written);
      out << SECRET_MASK;
      written = stop;
    }
    if (!soh) {
      break;
    }
    field = soh + 1;
  }
  out.write(written, end - written);  // no secret: the whole text in one write
  out << std::endl;
}
} // namespace FIX
"""

PEER_HEADER = "CeguardPeer.h"
PEER_HEADER_TEXT = """\
// Added by ceguard (deploy/quickfix/patch_quickfix.py).
#ifndef CEGUARD_PEER_H
#define CEGUARD_PEER_H

#include <string>

namespace FIX {
// The address of the connection whose message this thread hands to its session, so that
// fromAdmin can ask for it (ceguard_peer_address); "" when there is none.
void setPeerAddress(const std::string &address);
const std::string &peerAddress();

// Clears the thread's peer address when the message it was set for has been handled, so
// a later message on this thread cannot see a stale one.
class PeerAddressScope {
public:
  PeerAddressScope() {}
  explicit PeerAddressScope(const std::string &address) { setPeerAddress(address); }
  ~PeerAddressScope() { setPeerAddress(""); }
  PeerAddressScope(const PeerAddressScope &) = delete;
  PeerAddressScope &operator=(const PeerAddressScope &) = delete;
};
} // namespace FIX

#endif
"""

PEER_SOURCE_TEXT = """\
// Added by ceguard (deploy/quickfix/patch_quickfix.py).
#include "CeguardPeer.h"

namespace FIX {
namespace {
thread_local std::string peer_address;
}

void setPeerAddress(const std::string &address) { peer_address = address; }

const std::string &peerAddress() { return peer_address; }
} // namespace FIX

// For Python (ctypes), from inside fromAdmin on QuickFIX's thread; valid until the
// thread's next message.
extern "C" __attribute__((visibility("default"))) const char *ceguard_peer_address(void) {
  return FIX::peerAddress().c_str();
}
"""

INTAKE_HEADER = "CeguardIntake.h"
INTAKE_HEADER_TEXT = """\
// Added by ceguard (deploy/quickfix/patch_quickfix.py).
#ifndef CEGUARD_INTAKE_H
#define CEGUARD_INTAKE_H

#include "Message.h"
#include "SessionID.h"

namespace FIX {
// The Python director's fromApp asks first: true when the message, an ExecutionReport of
// a session ceguard registered, went into ceguard's intake (no Python is run for it).
bool ceguardIntake(const Message &message, const SessionID &sessionID);
} // namespace FIX

#endif
"""

INTAKE_SOURCE_TEXT = """\
// Added by ceguard (deploy/quickfix/patch_quickfix.py).
#include "CeguardIntake.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <time.h>
#include <vector>

#define CEGUARD_EXPORT extern "C" __attribute__((visibility("default")))

namespace FIX {
namespace {
// One fill waiting: ceguard's index of its session, its MsgSeqNum, when it arrived (wall
// clock in microseconds since the epoch; CLOCK_MONOTONIC in nanoseconds, which is
// Python's perf_counter), and where its text is in Intake::text.
struct Fill {
  int64_t session, msgSeqNum, wallMicros, monotonicNanos, offset, length;
};
constexpr int64_t FILL_COLUMNS = 6;

struct Intake {
  std::mutex mutex;
  std::condition_variable filled;  // the taker waits on it for fills
  std::condition_variable taken;   // fromApp waits on it while the intake is full
  std::atomic<bool> open{false};   // read first without the mutex: closed costs one load
  bool woken = false;              // ceguard_intake_wake: the taker has other work
  int64_t capacity = 0;            // fills waiting at most
  std::vector<std::pair<const SessionID *, int64_t>> sessions;  // registered: index
  std::vector<Fill> fills;
  size_t first = 0;  // fills before it have been taken
  std::string text;

  int64_t waiting() const { return int64_t(fills.size() - first); }

  bool find(const SessionID *id, int64_t &index) const {
    for (const auto &session : sessions)
      if (session.first == id) {
        index = session.second;
        return true;
      }
    return false;
  }
};

Intake &intake() {
  static Intake instance;
  return instance;
}

int64_t nanoseconds(clockid_t clock) {
  timespec now;
  clock_gettime(clock, &now);
  return int64_t(now.tv_sec) * 1000000000 + now.tv_nsec;
}
} // namespace

bool ceguardIntake(const Message &message, const SessionID &sessionID) {
  Intake &in = intake();
  if (!in.open.load())
    return false;
  try {
    const int64_t monotonicNanos = nanoseconds(CLOCK_MONOTONIC);
    const int64_t wallMicros = nanoseconds(CLOCK_REALTIME) / 1000;
    const FieldMap &header = message.getHeader();
    if (!header.isSetField(FIELD::MsgType) || header.getField(FIELD::MsgType) != "8")
      return false;
    int64_t session;
    {
      std::lock_guard<std::mutex> lock(in.mutex);
      if (!in.find(&sessionID, session))
        return false;
    }
    const int64_t msgSeqNum = std::strtoll(header.getField(FIELD::MsgSeqNum).c_str(), nullptr, 10);
    const std::string text = message.toString();
    std::unique_lock<std::mutex> lock(in.mutex);
    in.taken.wait(lock, [&in] { return in.waiting() < in.capacity || !in.open.load(); });
    if (!in.open.load())
      return false;  // closed meanwhile: Python's fromApp refuses it
    if (in.waiting() == 0)
      in.filled.notify_one();
    in.fills.push_back({session, msgSeqNum, wallMicros, monotonicNanos, int64_t(in.text.size()),
                        int64_t(text.size())});
    in.text += text;
    return true;
  } catch (...) {
    return false;  // Python's fromApp handles it, and says what is wrong
  }
}
} // namespace FIX

using FIX::intake;

// For Python (ctypes). Sessions are registered while the intake is closed.
CEGUARD_EXPORT void ceguard_intake_register(const void *session_id, int64_t index) {
  std::lock_guard<std::mutex> lock(intake().mutex);
  intake().sessions.emplace_back(static_cast<const FIX::SessionID *>(session_id), index);
}

// Fills are taken from now on, at most `capacity` waiting.
CEGUARD_EXPORT void ceguard_intake_open(int64_t capacity) {
  std::lock_guard<std::mutex> lock(intake().mutex);
  intake().capacity = capacity;
  intake().open.store(true);
}

// Every fill goes to Python's fromApp from now on; those waiting stay to be taken.
CEGUARD_EXPORT void ceguard_intake_close(void) {
  std::lock_guard<std::mutex> lock(intake().mutex);
  intake().open.store(false);
  intake().taken.notify_all();
}

// Closed, with no sessions and no fills.
CEGUARD_EXPORT void ceguard_intake_reset(void) {
  std::lock_guard<std::mutex> lock(intake().mutex);
  FIX::Intake &in = intake();
  in.open.store(false);
  in.sessions.clear();
  in.fills.clear();
  in.first = 0;
  in.text.clear();
  in.woken = false;
  in.taken.notify_all();
}

// The number of fills waiting, once there is one, or ceguard_intake_wake was called, or
// after `timeout_us` (GIL released).
CEGUARD_EXPORT int64_t ceguard_intake_wait(int64_t timeout_us) {
  FIX::Intake &in = intake();
  std::unique_lock<std::mutex> lock(in.mutex);
  in.filled.wait_for(lock, std::chrono::microseconds(timeout_us),
                     [&in] { return in.waiting() > 0 || in.woken; });
  in.woken = false;
  return in.waiting();
}

// Ends the taker's wait (now, or its next one): it has work besides fills.
CEGUARD_EXPORT void ceguard_intake_wake(void) {
  std::lock_guard<std::mutex> lock(intake().mutex);
  intake().woken = true;
  intake().filled.notify_all();
}

// Moves up to `max_fills` waiting fills, in arrival order, into the caller's arrays: their
// texts one after the other into `text`, and FILL_COLUMNS numbers each into `columns`
// (session, MsgSeqNum, wall micros, monotonic nanos, offset in `text`, length). Returns how
// many, or minus the length of the first when it alone does not fit in `text_capacity`.
CEGUARD_EXPORT int64_t ceguard_intake_take(char *text, int64_t text_capacity, int64_t *columns,
                                           int64_t max_fills) {
  FIX::Intake &in = intake();
  std::lock_guard<std::mutex> lock(in.mutex);
  int64_t n = 0, used = 0;
  while (n < max_fills && n < in.waiting()) {
    const FIX::Fill &fill = in.fills[in.first + n];
    if (used + fill.length > text_capacity) {
      if (n == 0)
        return -fill.length;
      break;
    }
    std::memcpy(text + used, in.text.data() + fill.offset, fill.length);
    int64_t *row = columns + n * FIX::FILL_COLUMNS;
    row[0] = fill.session;
    row[1] = fill.msgSeqNum;
    row[2] = fill.wallMicros;
    row[3] = fill.monotonicNanos;
    row[4] = used;
    row[5] = fill.length;
    used += fill.length;
    ++n;
  }
  in.first += n;
  if (in.waiting() == 0) {
    in.fills.clear();
    in.first = 0;
    in.text.clear();
  }
  if (n > 0)
    in.taken.notify_all();
  return n;
}
"""

DIRECTOR_FROM_APP = """\
void SwigDirector_Application::fromApp(FIX::Message const &arg0,FIX::SessionID const &arg1) {
  SWIG_PYTHON_THREAD_BEGIN_BLOCK;"""
DIRECTOR_FROM_APP_INTAKE = """\
void SwigDirector_Application::fromApp(FIX::Message const &arg0,FIX::SessionID const &arg1) {
  if (FIX::ceguardIntake(arg0, arg1)) return;  // ceguard: a fill, taken without Python
  SWIG_PYTHON_THREAD_BEGIN_BLOCK;"""
WRAPPER_INCLUDE = '#include "QuickfixPython.h"\n'

INCLUDE = '#include "Utility.h"\n'

FIRST_MESSAGE = """          acceptor.getLog()->onEvent("Session not found for incoming message: " + message);
          acceptor.getLog()->onIncoming(message);
        }
      }
      if (m_pSession) {
        m_pSession = acceptor.getSession(message, *this);
      }
      if (m_pSession) {
        m_pSession->next(message, UtcTimeStamp::now());
      }"""

PATCHED = """          acceptor.getLog()->onEvent(std::string(loggedOnElsewhere(message)  // ceguard: as the Logout
                                                 ? "Session already logged on for incoming message: "
                                                 : "Session not found for incoming message: ")
                                     + message);
          acceptor.getLog()->onIncoming(message);
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
        PeerAddressScope peer;  // ceguard: the peer's address, for fromAdmin
        if (m_pSession->isAcceptor()) {
          setPeerAddress(socket_peername(m_socket));
          m_pSession->getLog()->onEvent("Logon connection from " + peerAddress());
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
    setPeerAddress(remote_address);  // for fromAdmin; cleared once the message is handled
  }
"""

# Item 9: a Logon after the connection's first message (a reset in session) is judged with
# the connection's address too; only a Logon pays for the look-up.
LOGON_IN_SESSION = "message.find(\"\\00135=A\\001\") != std::string::npos"
READ_NEXT = """  while (readMessage(message)) {
    try {
      m_pSession->next(message, UtcTimeStamp::now());"""
READ_NEXT_ADDRESS = """  while (readMessage(message)) {
    PeerAddressScope peer(m_pSession->isAcceptor() && {logon}
                              ? socket_peername(m_socket) : "");  // ceguard: item 9
    try {
      m_pSession->next(message, UtcTimeStamp::now());""".replace("{logon}", LOGON_IN_SESSION)
THREADED_NEXT = """    try {
      m_pSession->next(msg, UtcTimeStamp::now());"""
THREADED_NEXT_ADDRESS = """    if (peerAddress().empty() && m_pSession->isAcceptor() && {logon}) {
      setPeerAddress(socket_peername(m_socket));  // ceguard: item 9, a Logon in session
    }
    try {
      m_pSession->next(msg, UtcTimeStamp::now());""".replace(
    "{logon}", LOGON_IN_SESSION.replace("message.", "msg."))

THREADED_LOOP = """  std::string msg;
  while (readMessage(msg)) {
"""

THREADED_LOOP_SCOPE = """  std::string msg;
  while (readMessage(msg)) {
    PeerAddressScope peer;  // ceguard: setSession sets it for the first message
"""

# SSLSocketConnection::send reports errors through the session, which does not exist here.
SENDS = {"SocketConnection.cpp": "send(logout)",
         "SSLSocketConnection.cpp": "SSL_write(m_ssl, logout.c_str(), (int)logout.length())"}


RESET_FLAG = """  ResetSeqNumFlag resetSeqNumFlag(false);
  logon.getFieldIfSet(resetSeqNumFlag);
  m_state.receivedReset(resetSeqNumFlag);
"""

# The flag is marked before the Logon is judged, as stock QuickFIX marks it: verify() only
# takes a Logon on a session already logged on (a reset in session) while it is marked.
JUDGED_FIRST = """  ResetSeqNumFlag resetSeqNumFlag(false);
  logon.getFieldIfSet(resetSeqNumFlag);
  m_state.receivedReset(resetSeqNumFlag);
  bool judged = false;  // ceguard: judge (verify runs fromAdmin) before any reset
  if (!m_state.initiate() && (resetSeqNumFlag.getValue() || m_resetOnLogon)) {
    if (!verify(logon, false, false)) {
      m_state.receivedReset(false);  // refused: nothing was reset
      return;
    }
    judged = true;
  }
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

THREADED_DISCONNECT = """void ThreadedSocketConnection::disconnect() {
  m_disconnect = true;
  socket_close(m_socket);
}"""

THREADED_DISCONNECT_ONCE = """void ThreadedSocketConnection::disconnect() {
  if (m_disconnect) {  // ceguard: closed already; the number may be another socket's now
    return;
  }
  m_disconnect = true;
  socket_close(m_socket);
}"""

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


FILE_LOG_INCLUDE = "#include <fstream>\n"

FILE_LOG_WRITES = """  void onIncoming(const std::string &value) {
    m_messages << UtcTimeStampConvertor::convert(UtcTimeStamp::now(), 9) << " : " << value << std::endl;
  }
  void onOutgoing(const std::string &value) {
    m_messages << UtcTimeStampConvertor::convert(UtcTimeStamp::now(), 9) << " : " << value << std::endl;
  }
  void onEvent(const std::string &value) {
    m_event << UtcTimeStampConvertor::convert(UtcTimeStamp::now(), 9) << " : " << value << std::endl;
  }"""

FILE_LOG_MASKED = """  // ceguard: the same lines, with Password (554) and NewPassword (925) masked
  void onIncoming(const std::string &value) { writeMaskedLine(m_messages, value); }
  void onOutgoing(const std::string &value) { writeMaskedLine(m_messages, value); }
  void onEvent(const std::string &value) { writeMaskedLine(m_event, value); }"""


# Item 7: the wrapper's calls that keep the GIL, as the generated code makes them.
GIL_KEPT = ("result = ((FIX::Message const *)arg1)->toString();",
            "result = ((FIX::SessionID const *)arg1)->toString();",
            "result = (FIX::Message *)new FIX::Message((std::string const &)*arg1,arg2);")
GIL_RELEASED = """        SWIG_PYTHON_THREAD_BEGIN_ALLOW;
            {call}
            SWIG_PYTHON_THREAD_END_ALLOW;"""
GIL_HELD = """            {call}  // ceguard: the GIL is kept (no blocking, no callback)"""


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"patch_quickfix: {path}: anchor found {text.count(old)} times, "
                         f"expected once:\n{old}")
    path.write_text(text.replace(old, new))


def patch(source: Path) -> None:
    cpp = source / "C++"
    (cpp / HEADER).write_text(HEADER_TEXT)
    (cpp / MASK_HEADER).write_text(MASK_HEADER_TEXT)
    (cpp / "CeguardMask.cpp").write_text(MASK_SOURCE_TEXT)  # setup.py compiles C++/*.cpp
    (cpp / PEER_HEADER).write_text(PEER_HEADER_TEXT)
    (cpp / "CeguardPeer.cpp").write_text(PEER_SOURCE_TEXT)
    _replace(cpp / "FileLog.h", FILE_LOG_INCLUDE, FILE_LOG_INCLUDE + f'#include "{MASK_HEADER}"\n')
    _replace(cpp / "FileLog.h", FILE_LOG_WRITES, FILE_LOG_MASKED)
    for name, send in SENDS.items():
        _replace(cpp / name, INCLUDE, INCLUDE + f'#include "{HEADER}"\n#include "{PEER_HEADER}"\n')
        _replace(cpp / name, FIRST_MESSAGE, PATCHED.replace("{send}", send))
        _replace(cpp / name, READ_NEXT, READ_NEXT_ADDRESS)
    threaded = cpp / "ThreadedSocketConnection.cpp"
    _replace(threaded, INCLUDE, INCLUDE + f'#include "{HEADER}"\n#include "{PEER_HEADER}"\n')
    _replace(threaded, THREADED_NOT_FOUND, THREADED_REFUSAL)
    _replace(threaded, THREADED_BUSY, THREADED_BUSY_REFUSAL)
    _replace(threaded, THREADED_ALLOWS, THREADED_ADDRESS)
    _replace(threaded, THREADED_READ, THREADED_READ_CLOSED)
    _replace(threaded, THREADED_DISCONNECT, THREADED_DISCONNECT_ONCE)
    _replace(threaded, THREADED_NO_SESSION, THREADED_NO_SESSION_STOP)
    _replace(threaded, THREADED_LOOP, THREADED_LOOP_SCOPE)
    _replace(threaded, THREADED_NEXT, THREADED_NEXT_ADDRESS)
    _replace(cpp / "Session.h", LOGOUT, LOGOUT_REASON_FIRST)
    _replace(cpp / "Session.cpp", RESET_FLAG, JUDGED_FIRST)
    _replace(cpp / "Session.cpp", VERIFY_LOGON, VERIFY_UNLESS_JUDGED)
    for call in GIL_KEPT:
        _replace(cpp / "QuickfixPython.cpp", GIL_RELEASED.format(call=call),
                 GIL_HELD.format(call=call))
    (cpp / INTAKE_HEADER).write_text(INTAKE_HEADER_TEXT)
    (cpp / "CeguardIntake.cpp").write_text(INTAKE_SOURCE_TEXT)
    _replace(cpp / "QuickfixPython.cpp", WRAPPER_INCLUDE,
             WRAPPER_INCLUDE + f'#include "{INTAKE_HEADER}"\n')
    _replace(cpp / "QuickfixPython.cpp", DIRECTOR_FROM_APP, DIRECTOR_FROM_APP_INTAKE)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: patch_quickfix.py QUICKFIX_SOURCE_DIR")
    patch(Path(sys.argv[1]))
