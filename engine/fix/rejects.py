"""The BusinessMessageReject (35=j) that answers a fill ceguard cannot judge.

QuickFIX accepts the fill (a drop-copy session's validation is lenient, lenient.py) and
ceguard's decoder rejects it: the record is journaled `rejected`, then the sender learns
of it with RefSeqNum (45) = the fill's MsgSeqNum, RefMsgType (372) = 8, its ExecID in
BusinessRejectRefID (379) when known, BusinessRejectReason (380) and the reason in
Text (58). FIX.4.2 and later define 35=j with these fields.
"""

from __future__ import annotations

import re

import quickfix as fix

OTHER = "0"
CONDITIONALLY_REQUIRED_FIELD_MISSING = "5"
# Decoder reason codes (engine/codes.py REASON_NAMES) that are a required field missing.
_MISSING = {"missing_field", "no_msgtype", "missing_exec_ref_id"}
TEXT_LIMIT = 200
# At most 18 digits: QuickFIX's own MsgSeqNum is an int; a longer one is no number to answer.
_MSG_SEQ_NUM = re.compile(rb"\x0134=(\d{1,18})\x01")


def msg_seq_num(raw: bytes) -> int | None:
    """The MsgSeqNum (34) of a message as QuickFIX handed it over (header first), or None
    when it has none that can be referred to."""
    found = _MSG_SEQ_NUM.search(raw)
    return int(found.group(1)) if found else None


def business_reject_reason(record: dict) -> str:
    return CONDITIONALLY_REQUIRED_FIELD_MISSING if record.get("reason_code") in _MISSING \
        else OTHER


def business_reject(record: dict, ref_seq_num: int) -> fix.Message:
    """The 35=j for a `rejected` record of the fill numbered `ref_seq_num` on its session;
    QuickFIX completes the header when it sends it."""
    fields = [(45, str(ref_seq_num)), (372, "8"), (380, business_reject_reason(record))]
    if record.get("exec_id"):
        fields.append((379, record["exec_id"]))
    # Values come from the message between SOHs (the reason quotes them): no SOH; a
    # line break (legal in a Text the reason quotes) is not carried over.
    fields.append((58, re.sub(r"[\r\n]", " ", record["reason"])[:TEXT_LIMIT]))
    text = "35=j\x01" + "".join(f"{tag}={value}\x01" for tag, value in fields)
    return fix.Message(text, False)  # False: no BeginString, BodyLength, CheckSum yet
