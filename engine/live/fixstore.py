"""What QuickFIX's FileStore holds of ceguard's outgoing messages (FIX_NOTES.md 3.2).

For a session, `<FileStorePath>/<Begin>-<Sender>-<Target>[-<Qualifier>]` + `.body` (the
stored messages back to back), `.header` (`seq,offset,size` triples; a later triple for
a seq overrides an earlier one) and `.seqnums` (next sender : next target MsgSeqNum).
sendToTarget stores a message before it writes it to the socket, and QuickFIX resends
stored messages on request; a message counts as stored once its MsgSeqNum is below the
next sender number (a crash between the two writes leaves that number to be re-used).
A bust found there has been handed over and will be delivered: sending it again would
duplicate it.
"""

from __future__ import annotations

import re
from pathlib import Path

import quickfix as fix

_EXEC_ID = re.compile(rb"\x0117=([^\x01]*)\x01")


def store_prefix(settings: fix.SessionSettings, sid: fix.SessionID) -> Path | None:
    dictionary = settings.get(sid)
    if not dictionary.has("FileStorePath"):
        return None
    name = "-".join(part for part in (sid.getBeginString().getValue(),
                                      sid.getSenderCompID().getValue(),
                                      sid.getTargetCompID().getValue(),
                                      sid.getSessionQualifier()) if part)
    return Path(dictionary.getString("FileStorePath")) / name


def next_seq_nums(prefix: Path | None) -> tuple[int, int] | None:
    """(next sender, next target) MsgSeqNum of a session's store; None without one."""
    if prefix is None:
        return None
    try:
        sender, _, target = prefix.with_name(prefix.name + ".seqnums").read_text().partition(":")
        return int(sender), int(target)
    except (OSError, ValueError):
        return None


def stored_exec_ids(prefix: Path | None) -> set[str]:
    """ExecIDs (17) of the messages QuickFIX holds for a session; empty without a store."""
    if prefix is None:
        return set()
    body, header, seqnums = (prefix.with_name(prefix.name + ext)
                             for ext in (".body", ".header", ".seqnums"))
    if not (body.is_file() and header.is_file() and seqnums.is_file()):
        return set()
    next_sender = int(seqnums.read_text().partition(":")[0])
    where: dict[int, tuple[int, int]] = {}
    for triple in header.read_text().split():
        seq, offset, size = (int(n) for n in triple.split(","))
        where[seq] = (offset, size)
    data = body.read_bytes()
    found = set()
    for seq, (offset, size) in where.items():
        match = _EXEC_ID.search(data, offset, offset + size) if seq < next_sender else None
        if match:
            found.add(match.group(1).decode("latin-1"))
    return found
