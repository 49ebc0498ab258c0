"""What QuickFIX's FileStore holds of ceguard's outgoing messages (FIX_NOTES.md 3.2).

`<FileStorePath>/<Begin>-<Sender>-<Target>[-<Qualifier>].body` is every message QuickFIX
stored for a session, back to back; it is written when sendToTarget returns, whether or
not the counterparty was logged on. A bust whose ExecID is in it has been handed over,
and QuickFIX will deliver it (now or by resend): sending it again would duplicate it.
"""

from __future__ import annotations

import re
from pathlib import Path

import quickfix as fix

_EXEC_ID = re.compile(rb"\x0117=([^\x01]*)\x01")


def body_path(settings: fix.SessionSettings, sid: fix.SessionID) -> Path | None:
    dictionary = settings.get(sid)
    if not dictionary.has("FileStorePath"):
        return None
    name = "-".join(part for part in (sid.getBeginString().getValue(),
                                      sid.getSenderCompID().getValue(),
                                      sid.getTargetCompID().getValue(),
                                      sid.getSessionQualifier()) if part)
    return Path(dictionary.getString("FileStorePath")) / f"{name}.body"


def stored_exec_ids(path: Path | None) -> set[str]:
    """ExecIDs (17) of the messages in a session's store; empty when there is none."""
    if path is None or not path.is_file():
        return set()
    return {m.decode("latin-1") for m in _EXEC_ID.findall(path.read_bytes())}
