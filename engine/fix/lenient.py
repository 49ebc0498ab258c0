"""Data dictionaries for drop-copy sessions: what a fill carries never stops it.

QuickFIX validates every incoming message against the session's dictionary and answers
a violation with a session Reject (35=3) instead of calling the application: a fill with
a standard tag its version does not list on the ExecutionReport (TradeID 1003 on 4.4), a
value outside a field's enum (150=2 on 4.4), a field out of order, an empty value or a
missing OrderID would never be judged. Some checks have settings (below); the enum,
data-format and required-field checks have none. So a drop-copy session gets a lenient
copy of its dictionary: application messages' fields lose their enums, their types
(STRING, except the counts and lengths that frame groups and data fields) and their
`required`; header, trailer and admin messages stay as they are (the session layer
needs them). Groups keep their definitions, so a Parties group keeps its order.
ceguard's decoder decides what it can judge: what it cannot becomes a `rejected`
record, answered with a BusinessMessageReject (35=j).

QuickFIX still rejects what these cannot relax: a message type the dictionary does not
define, a tag repeated outside a group, a wrong BeginString, broken framing.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

# The settings that relax the rest, per session; an operator's cfg cannot override them.
LENIENT_SETTINGS = {
    "UseDataDictionary": "Y",  # without one, groups are not parsed: Parties lose their order
    "ValidateFieldsOutOfOrder": "N",
    "ValidateFieldsHaveValues": "N",
    "ValidateUserDefinedFields": "N",  # tags >= 5000 not in the dictionary
    "AllowUnknownMsgFields": "Y",  # tags < 5000 unknown, or not listed on the message
}
# Types that frame the message: a count opens a group, a length says how long data is.
_FRAMING_TYPES = {"NUMINGROUP", "LENGTH", "DATA", "XMLDATA"}

_written: dict[tuple[str, int], Path] = {}  # (source, its mtime_ns) -> lenient copy
_directory: Path | None = None


def lenient_dictionary(source: Path) -> Path:
    """A lenient copy of the dictionary at `source` (written once per process)."""
    key = (str(source), source.stat().st_mtime_ns)
    if key not in _written:
        text = lenient_text(source.read_bytes())
        digest = hashlib.sha256(text).hexdigest()[:16]
        path = _private_directory() / f"{source.stem}-dropcopy-{digest}.xml"
        path.write_bytes(text)
        _written[key] = path
    return _written[key]


def lenient_text(xml: bytes) -> bytes:
    """The lenient version of a QuickFIX dictionary document."""
    root = ElementTree.fromstring(xml)
    kept = _session_fields(root)
    for message in root.iterfind("messages/message"):
        if message.get("msgcat") != "admin":
            _not_required(message)
    for component in root.iterfind("components/component"):
        _not_required(component)
    for field in root.iterfind("fields/field"):
        if field.get("name") in kept:
            continue
        for value in list(field):
            field.remove(value)
        if field.get("type") not in _FRAMING_TYPES:
            field.set("type", "STRING")
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _session_fields(root: ElementTree.Element) -> set[str]:
    """Names of the fields of the header, the trailer and admin messages."""
    parts = [root.find("header"), root.find("trailer"),
             *(m for m in root.iterfind("messages/message") if m.get("msgcat") == "admin")]
    return {element.get("name") for part in parts if part is not None
            for element in part.iter() if element.tag in ("field", "group")}


def _not_required(element: ElementTree.Element) -> None:
    for child in element.iter():
        if child.get("required") is not None:
            child.set("required", "N")


def _private_directory() -> Path:
    """A directory only this process writes, removed at exit (QuickFIX has read the
    dictionaries by then: it loads them when the acceptor is built)."""
    global _directory
    if _directory is None:
        _directory = Path(tempfile.mkdtemp(prefix="ceguard-dictionaries-"))
        atexit.register(shutil.rmtree, _directory, True)
    return _directory
