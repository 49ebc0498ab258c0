"""What QuickFIX is given for drop-copy and firm sessions (engine/fix/settings.py,
engine/fix/lenient.py): drop copies always lenient, firms as the cfg says."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import quickfix as fix

from engine.errors import ConfigError
from engine.fix.lenient import LENIENT_SETTINGS, lenient_text
from engine.fix.settings import load_session_settings

ROOT = Path(__file__).resolve().parent.parent
FIRM = "FIX.4.4:CEGUARD->FIRMA"


def write_cfg(tmp_path: Path, sessions: str) -> Path:
    path = tmp_path / "acceptor.cfg"
    path.write_text(f"""[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort=7002
FileStorePath=store
UseDataDictionary=Y
ValidateFieldsOutOfOrder=Y
AllowUnknownMsgFields=N
{sessions}""")
    return path


def sections(text: str) -> dict[str, dict[str, str]]:
    """Rendered settings per TargetCompID/BeginString."""
    result = {}
    for block in text.split("[SESSION]")[1:]:
        keys = dict(line.split("=", 1) for line in block.strip().splitlines())
        result[f"{keys['BeginString']}:{keys['TargetCompID']}"] = keys
    return result


def test_drop_copies_are_lenient_whatever_the_cfg_says_and_firms_keep_it(tmp_path):
    cfg = write_cfg(tmp_path, f"""
[SESSION]
BeginString=FIX.4.4
SenderCompID=CEGUARD
TargetCompID=VENUE
DataDictionary={ROOT / 'fix_configs' / 'FIX44.xml'}
ValidateFieldsHaveValues=Y

[SESSION]
BeginString=FIX.4.2
SenderCompID=CEGUARD
TargetCompID=VENUE
UseDataDictionary=N

[SESSION]
BeginString=FIX.4.4
SenderCompID=CEGUARD
TargetCompID=FIRMA
DataDictionary={ROOT / 'fix_configs' / 'FIX44.xml'}
""")
    settings = load_session_settings(cfg, {}, tmp_path, firm_sessions=frozenset({FIRM}))
    rendered = sections(settings.text)
    for name in ("FIX.4.4:VENUE", "FIX.4.2:VENUE"):
        assert {k: rendered[name][k] for k in LENIENT_SETTINGS} == LENIENT_SETTINGS
        assert "-dropcopy-" in rendered[name]["DataDictionary"]
    # FIX.4.2 named no dictionary of its own: ceguard's shipped FIX42.xml, made lenient.
    assert Path(rendered["FIX.4.2:VENUE"]["DataDictionary"]).name.startswith("FIX42-")
    assert settings.overridden == {
        "FIX.4.4:CEGUARD->VENUE": ["ValidateFieldsOutOfOrder=Y", "ValidateFieldsHaveValues=Y",
                                   "AllowUnknownMsgFields=N"],
        "FIX.4.2:CEGUARD->VENUE": ["UseDataDictionary=N", "ValidateFieldsOutOfOrder=Y",
                                   "AllowUnknownMsgFields=N"]}
    # The firm's session: only what the cfg says ([DEFAULT]'s strict keys apply).
    assert rendered["FIX.4.4:FIRMA"] == {
        "BeginString": "FIX.4.4", "SenderCompID": "CEGUARD", "TargetCompID": "FIRMA",
        "DataDictionary": str(ROOT / "fix_configs" / "FIX44.xml")}
    assert FIRM not in settings.overridden


def test_a_drop_copy_without_a_dictionary_ceguard_does_not_ship_stops_start_up(tmp_path):
    cfg = tmp_path / "acceptor.cfg"
    cfg.write_text("""[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort=7003

[SESSION]
BeginString=FIX.4.3
SenderCompID=CEGUARD
TargetCompID=VENUE
""")
    with pytest.raises(ConfigError) as error:
        load_session_settings(cfg, {}, tmp_path)
    assert "DataDictionary" in str(error.value) and "FIX.4.3" in str(error.value)


def test_the_lenient_dictionary_relaxes_application_messages_only(tmp_path):
    text = lenient_text((ROOT / "fix_configs" / "FIX44.xml").read_bytes())
    root = ElementTree.fromstring(text)
    fields = {f.get("name"): f for f in root.iterfind("fields/field")}
    assert fields["ExecType"].get("type") == "STRING" and not list(fields["ExecType"])
    assert fields["LastPx"].get("type") == "STRING"
    assert fields["NoPartyIDs"].get("type") == "NUMINGROUP"  # groups still frame
    assert fields["SendingTime"].get("type") == "UTCTIMESTAMP"  # header: as it was
    assert list(fields["GapFillFlag"])  # an admin message's enum: kept
    report = root.find("messages/message[@msgtype='8']")
    assert {e.get("required") for e in report.iter() if e.get("required")} == {"N"}
    logon = root.find("messages/message[@msgtype='A']")
    assert "Y" in {e.get("required") for e in logon.iter()}
    # QuickFIX takes it, and with the lenient settings a fill the stock dictionary
    # rejects validates, its Parties group in order.
    (tmp_path / "lenient.xml").write_bytes(text)
    dictionary = fix.DataDictionary(str(tmp_path / "lenient.xml"))
    dictionary.checkFieldsOutOfOrder(False)
    dictionary.allowUnknownMsgFields(True)
    dictionary.checkUserDefinedFields(False)
    body = "35=8\x0149=M\x0156=C\x0134=2\x0152=20260115-15:00:00.000\x0117=E1\x01150=2\x01" \
        "39=Z\x0155=X\x0154=1\x0131=abc\x0132=100\x0160=bad\x011003=T1\x01828=0\x01" \
        "453=2\x01448=B\x01452=3\x01448=A\x01452=1\x019999=x\x01"
    raw = f"8=FIX.4.4\x019={len(body)}\x01{body}"
    raw += f"10={sum(raw.encode()) % 256:03d}\x01"
    message = fix.Message(raw, dictionary, True)
    dictionary.validate(message)
    assert "453=2\x01448=B\x01452=3\x01448=A\x01452=1\x01" in message.toString()
    stock = fix.DataDictionary(str(ROOT / "fix_configs" / "FIX44.xml"))
    with pytest.raises(fix.RequiredTagMissing):
        stock.validate(fix.Message(raw, stock, True))
