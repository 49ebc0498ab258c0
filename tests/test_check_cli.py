"""`ceguard check` through the real console script."""

import json
import subprocess
import sys
from pathlib import Path

CEGUARD = Path(sys.executable).parent / "ceguard"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CEGUARD, "check", *args], input=stdin, capture_output=True, text=True)


def test_one_trade_is_explained_readably():
    result = run("--reference-price", "40", "--price", "46", "--leverage", "3")
    assert result.returncode == 1  # erroneous
    assert "ERRONEOUS" in result.stdout
    assert "LEV-T2" in result.stdout
    assert "threshold  15%" in result.stdout
    assert "34.00 .. 46.00" in result.stdout


def test_exit_status_tells_stands_from_erroneous():
    assert run("--reference-price", "40", "--price", "45.99", "--leverage", "3").returncode == 0
    assert run("--reference-price", "40", "--price", "46.00", "--leverage", "3").returncode == 1
    stands = json.dumps({"reference_price": "100", "price": "98"}) + "\n"
    assert run("--batch", stdin=stands).returncode == 0
    erroneous = json.dumps({"reference_price": "100", "price": "90"}) + "\n"
    assert run("--batch", stdin=stands + erroneous).returncode == 1


def test_bad_arguments_are_named():
    result = run("--reference-price", "40", "--price", "4O")
    assert result.returncode == 2
    assert "price '4O'" in result.stderr


def test_batch_reads_and_writes_json_lines():
    lines = [
        {"reference_price": "100", "price": "94", "leverage": 2},
        {"reference_price": "100", "price": "98", "leverage": "2"},
        {"reference_price": "20.00", "price": "24.00", "leverage": "2", "session": "post"},
        {"reference_price": "60", "price": "55", "event_size": 5},
        {"reference_price": "60"},
        "not json",
    ]
    stdin = "\n".join(json.dumps(x) if not isinstance(x, str) else x for x in lines) + "\n"
    result = run("--batch", stdin=stdin)
    assert result.returncode == 2  # lines were rejected (and every line is still answered)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["verdict"] for o in out] == ["erroneous", "stands", "erroneous", "stands",
                                           "rejected", "rejected"]
    assert (out[0]["threshold_pct"], out[0]["band_low"], out[0]["band_high"]) == \
        ("6", "94.00", "106.00")
    assert out[2]["threshold_pct"] == "20"  # 2x post-market: 20%, not 40%
    assert out[3]["rule"] == "MSE-5"
    assert out[4]["line"] == 5 and "price" in out[4]["reason"]
    assert "2 input line(s) rejected" in result.stderr
