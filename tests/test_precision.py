"""Prices with up to 9 decimals (FX, crypto, sub-penny) through `ceguard replay` and
`ceguard check`: read, judged at the exact inclusive edge, rendered with every significant
decimal; a 10th decimal is a rejected fill that names the limit."""

import json
import subprocess
import sys
from decimal import Decimal
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from engine.errors import ConfigError
from engine.rules.rulebook import load_rulebook

from conftest import by_exec, match, write_instruments, write_log

SCHEMA = json.loads((Path(__file__).parent.parent / "schemas/decision.schema.json").read_text())
CEGUARD = Path(sys.executable).parent / "ceguard"

# prev_close, then (price, verdict) of one match each, judged against prev_close: an
# erroneous print never becomes the reference, and the standing one comes last.
INSTRUMENTS = [("EURUSD", "1", "1.0850123"), ("BTCUSD", "1", "43250.12345678"),
               ("SUBPNY", "1", "0.0001234")]
# Regular hours, unleveraged: 10% up to $25, 3% above $50.
CASES = {
    "EURUSD": ("10", "0.97651107", "1.19351353", [  # both edges are whole billionths
        ("1.19351353", "erroneous"), ("0.97651107", "erroneous"),
        ("1.193513529", "stands")]),
    "BTCUSD": ("3", "41952.6197530766", "44547.6271604834", [  # edges between two prices
        ("44547.627160484", "erroneous"), ("41952.619753076", "erroneous"),
        ("44547.627160483", "stands")]),
    "SUBPNY": ("10", "0.00011106", "0.00013574", [
        ("0.00013574", "erroneous"), ("0.00011106", "erroneous"), ("0.000111061", "stands")]),
}


def messages() -> list[str]:
    out, n = [], 0
    for symbol, (_, _, _, prints) in CASES.items():
        for price, _ in prints:
            n += 1  # a match of its own order and time: a series of its own
            out += match(n, symbol, price, order=f"O{n}", time=f"20260115-15:00:{n:02d}.000",
                         qty="0.00012345")
    return out


def test_fx_crypto_and_sub_penny_prices_are_judged_exactly_at_the_band_edge(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", INSTRUMENTS)
    records, summary = replay(write_log(tmp_path / "a.log", messages()), instruments=inst)
    assert "rejected 0" in summary
    n = 0
    for symbol, (pct, low, high, prints) in CASES.items():
        prev_close = dict((s, c) for s, _, c in INSTRUMENTS)[symbol]
        for price, verdict in prints:
            n += 1
            for side in (f"A{n}", f"P{n}"):  # both sides of a match: one verdict
                record = by_exec(records)[side]
                jsonschema.validate(record, SCHEMA)
                assert record["price"] == price  # every decimal, as sent
                assert (record["reference_price"], record["reference_source"]) == \
                    (prev_close, "prev_close")
                assert (record["threshold_pct"], record["band_low"], record["band_high"]) == \
                    (pct, low, high)
                assert record["qty"] == "0.00012345"
                assert record["verdict"] == verdict, record
            deviation = (Decimal(price) - Decimal(prev_close)) * 100 / Decimal(prev_close)
            assert record["deviation_pct"] == f"{deviation.quantize(Decimal('0.0001')):f}"


def test_exclusive_rulebook_lets_the_print_on_the_edge_stand(tmp_path, replay):
    data = json.loads(resources.files("engine.rules").joinpath("default_rulebook.json")
                      .read_text())
    data["comparison"] = "exclusive"
    rulebook = tmp_path / "exclusive.json"
    rulebook.write_text(json.dumps(data))
    inst = write_instruments(tmp_path / "i.csv", INSTRUMENTS)
    log = write_log(tmp_path / "a.log", match(1, "EURUSD", "1.193513531")
                    + match(2, "EURUSD", "1.19351353", order="O2"))
    records, _ = replay(log, "--rulebook", rulebook, instruments=inst)
    verdicts = {r["exec_id"]: r["verdict"] for r in records}
    assert verdicts == {"A1": "erroneous", "P1": "erroneous", "A2": "stands", "P2": "stands"}
    assert {r["reference_price"] for r in records} == {"1.0850123"}


@pytest.mark.parametrize("price, code, reason", [
    ("1.0850123001", "too_many_decimals",
     "LastPx (31) has more than 9 decimal places: '1.0850123001'"),
    ("1000000.000000001", "too_large", "LastPx (31) is above the supported maximum"),
])
def test_a_price_past_the_precision_is_rejected_naming_the_limit(tmp_path, replay, price, code,
                                                                 reason):
    inst = write_instruments(tmp_path / "i.csv", INSTRUMENTS)
    log = write_log(tmp_path / "a.log", match(1, "EURUSD", price)
                    + match(2, "EURUSD", "1.08501230000000", order="O2"))
    records, summary = replay(log, instruments=inst)
    rejected = [r for r in records if r["verdict"] == "rejected"]
    assert [(r["exec_id"], r["reason_code"]) for r in rejected] == [("A1", code), ("P1", code)]
    assert all(reason in r["reason"] for r in rejected)
    # zeros past the 9th decimal change nothing: read exactly, rendered without them
    assert by_exec(records)["A2"]["price"] == "1.0850123"
    assert by_exec(records)["A2"]["verdict"] == "stands"
    assert "rejected 2" in summary


@pytest.mark.parametrize("qty, code, reason", [
    ("0.0000000001", "too_many_decimals", "LastQty (32) has more than 9 decimal places"),
    ("1000000000.000000001", "too_large", "LastQty (32) is above the supported maximum"),
    ("-0.5", "not_positive", "LastQty (32) must be greater than zero"),
])
def test_quantities_share_the_precision_and_keep_their_limit(tmp_path, replay, qty, code,
                                                             reason):
    """LastQty is read by the same parser: up to 9 decimals, up to a billion."""
    inst = write_instruments(tmp_path / "i.csv", INSTRUMENTS)
    log = write_log(tmp_path / "a.log", match(1, "BTCUSD", "43250.1", qty=qty)
                    + match(2, "BTCUSD", "43250.1", order="O2", qty="1000000000.000000000")
                    + match(3, "BTCUSD", "43250.1", order="O3", qty="0.000000001"))
    records, _ = replay(log, instruments=inst)
    rejected = [r for r in records if r["verdict"] == "rejected"]
    assert [(r["exec_id"], r["reason_code"]) for r in rejected] == [("A1", code), ("P1", code)]
    assert all(reason in r["reason"] for r in rejected)
    records = by_exec(records)
    assert (records["A2"]["verdict"], records["A2"]["qty"]) == ("stands", "1000000000.000000000")
    assert (records["A3"]["verdict"], records["A3"]["qty"]) == ("stands", "0.000000001")


def test_instruments_and_rulebook_accept_nine_decimals_and_name_the_limit(tmp_path):
    data = json.loads(resources.files("engine.rules").joinpath("default_rulebook.json")
                      .read_text())
    data["tiers"][0]["up_to"] = "0.000123456"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data))
    assert load_rulebook(path).tiers[0].up_to == 123_456
    data["tiers"][0]["up_to"] = "0.0001234567"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        load_rulebook(path)
    assert caught.value.key == "tiers[0].up_to"
    assert "at most 9 decimal places" in caught.value.problem

    inst = write_instruments(tmp_path / "bad.csv", [("EURUSD", "1", "1.08501230001")])
    result = subprocess.run([CEGUARD, "replay", "-", "--instruments", str(inst)], input="",
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "line 2 column prev_close" in result.stderr
    assert "at most 9 decimal places" in result.stderr


def test_check_cli_takes_nine_decimals():
    result = subprocess.run([CEGUARD, "check", "--reference-price", "43250.12345678",
                             "--price", "44547.627160484"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "ERRONEOUS" in result.stdout
    assert "41952.6197530766 .. 44547.6271604834" in result.stdout
    result = subprocess.run([CEGUARD, "check", "--reference-price", "1.0850123",
                             "--price", "1.1234567891"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "price '1.1234567891'" in result.stderr and "at most 9 decimal places" in result.stderr
