"""Bust ExecutionReports, per FIX version (DESIGN.md, FIX_NOTES.md section 2).

FIX.4.2: ExecTransType 20=1 (Cancel) with ExecRefID 19; FIX.4.2 has no ExecType H, so
150 (and 39) carry the order's state after the bust, the FIX forum's guidance.
FIX.4.4 and FIX.5.0SP2: ExecType 150=H (Trade Cancel) with 19. The bust's own ExecID
is deterministic (BUST-<busted ExecID>), so a repeat after a crash is recognisable.
A FIXT.1.1 bust carries no ApplVerID (1128): the DefaultApplVerID of the Logons applies
(FIX.5.0SP2 on ceguard's sessions), and some engines' FIX.5.0SP2 dictionaries reject 1128
on an ExecutionReport (FIX_NOTES.md section 7). Its fields are valid on every FIX.5.0.

ceguard keeps no order book, so the order's quantities after the bust come from the
busted report: CumQty drops by the busted quantity, LeavesQty grows by it, and AvgPx is
echoed (0 when nothing remains filled).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import quickfix as fix

SOH = b"\x01"
BUST_PREFIX = "BUST-"
ORDER_STATUS_NEW = "0"
ORDER_STATUS_PARTIAL = "1"
EXEC_RESTATEMENT_OTHER = "99"
TEXT_LIMIT = 200

# Echoed from the busted report when present, in this order.
_ECHOED = (11, 37, 48, 22, 54, 55, 38, 31, 32)


def fields_of(raw: bytes) -> dict[int, str]:
    """First value of each tag in a raw FIX message (parties read separately)."""
    fields: dict[int, str] = {}
    for part in raw.split(SOH):
        tag, sep, value = part.partition(b"=")
        if sep and tag.isdigit():
            fields.setdefault(int(tag), value.decode("latin-1"))
    return fields


def executing_firms(raw: bytes) -> list[str]:
    """PartyIDs (448) whose PartyRole (452) is 1, executing firm, in message order
    (empty without a Parties group or without such a party: `unroutable_reason`)."""
    firms: list[str] = []
    party: str | None = None
    for part in raw.split(SOH):
        tag, _, value = part.partition(b"=")
        if tag == b"448":
            party = value.decode("latin-1")
        elif tag == b"452" and party is not None:
            if value == b"1" and party not in firms:
                firms.append(party)
            party = None
    return firms


def unroutable_reason(raw: bytes) -> str:
    """Why a fill names no executing firm: the words of a bust row's detail."""
    if b"\x01453=" not in raw and b"\x01448=" not in raw:
        return "the fill has no Parties group (453)"
    return "the fill's Parties group has no executing firm (PartyRole 452=1)"


def bust_exec_id(exec_id: str) -> str:
    return BUST_PREFIX + exec_id


def reason_text(record: dict) -> str:
    """Text (58): why, in numbers an operator can check by hand."""
    text = (f"Clearly erroneous: {record['symbol']} {record['price']} vs reference "
            f"{record['reference_price']} ({record['reference_source']}), "
            f"{record['deviation_pct']}% > {record['threshold_pct']}% band "
            f"{record['band_low']}-{record['band_high']} rule {record['rule']}")
    return text[:TEXT_LIMIT]


def bust_text(begin_string: str, original: bytes, record: dict,
              now: datetime | None = None) -> str:
    """The bust of the execution in `original` for a session on `begin_string`, as FIX
    text without BeginString, BodyLength and CheckSum: QuickFIX fills in the header
    (BeginString, CompIDs, MsgSeqNum, SendingTime) and the trailer when it sends it."""
    fields = fields_of(original)
    body: dict[int, str] = {tag: fields[tag] for tag in _ECHOED if tag in fields}
    body.setdefault(37, "NONE")  # required on every version; the drop copy should have it
    body.setdefault(55, record["symbol"])
    body.setdefault(54, "1" if record["side"] == "buy" else "2")
    body.setdefault(31, record["price"])
    body[17] = bust_exec_id(record["exec_id"])
    body[19] = record["exec_id"]
    cum, leaves, avg = _quantities_after(fields)
    status = ORDER_STATUS_NEW if cum == 0 else ORDER_STATUS_PARTIAL
    body[14] = _plain(cum)
    body[151] = _plain(leaves)
    body[6] = _plain(avg) if cum else "0"
    body[39] = status
    if begin_string == "FIX.4.2":
        body[20] = "1"
        body[150] = status
    else:
        body[150] = "H"
        body[378] = EXEC_RESTATEMENT_OTHER
    moment = now or datetime.now(timezone.utc)
    body[60] = moment.strftime("%Y%m%d-%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    body[58] = reason_text(record)
    # Every value comes from the busted message's fields (the record's too): no SOH.
    return "35=8\x01" + "".join(f"{tag}={value}\x01" for tag, value in body.items())


def bust_message(text: str) -> fix.Message:
    """A bust_text as a QuickFIX message, parsed by QuickFIX in one call: each call into
    quickfix's wrapper gives up the GIL and takes it back, and under load a message set
    field by field (twenty calls) waited for QuickFIX's thread at each one."""
    return fix.Message(text, False)  # False: no BeginString, BodyLength, CheckSum yet


def _quantities_after(fields: dict[int, str]) -> tuple[Decimal, Decimal, Decimal]:
    busted = _decimal(fields.get(32))
    cum = max(_decimal(fields.get(14)) - busted, Decimal(0))
    leaves = _decimal(fields.get(151)) + busted
    return cum, leaves, _decimal(fields.get(6))


def _decimal(text: str | None) -> Decimal:
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"

