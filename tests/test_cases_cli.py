"""`ceguard cases` as the firms and analysts use it: the case API's address found in the engine
config as `ceguard serve` finds it, and a firm's request for review and appeal filed from the
command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.live import ROOT, journal_rows, logged_on, send, sides, wait_for
from tests.review_live import start_review_server


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cases-cli")
    server = start_review_server(directory)
    with logged_on(server, directory, versions=("FIX.4.4",)) as running:
        yield running


def _cases(server, who: str, *argv: str) -> subprocess.CompletedProcess:
    """`ceguard cases` with only --config: the address comes from its [review] listen."""
    return subprocess.run([sys.executable, "-m", "engine", "cases", "--config",
                           str(server.config), "--token-file",
                           str(server.directory / "secrets" / who), *argv],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_a_firm_requests_a_review_and_appeals_from_the_command_line(desk):
    server, engine, _ = desk
    send(engine, "FIX.4.4", sides("CLIREQ-1", "AWAY", "60.50", order="CLIREQ-O1"))
    wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions WHERE exec_id LIKE "
                                          "'%CLIREQ-1'")[0][0] == 2, what="both decisions")

    filed = _cases(server, "FIRMA", "request", "A-CLIREQ-1", "--reason", "fat finger")
    assert filed.returncode == 0, filed.stderr
    case = server.case_of("A-CLIREQ-1")
    assert case is not None and case["origin"] == "request"
    assert f"case {case['id']}" in filed.stdout

    assert _cases(server, "alice", "act", str(case["id"]), "take").returncode == 0
    stood = _cases(server, "alice", "act", str(case["id"]), "stand", "--reason",
                   "0.8% from the close")
    assert stood.returncode == 0, stood.stderr

    appealed = _cases(server, "FIRMA", "appeal", str(case["id"]), "--reason",
                      "the close was stale")
    assert appealed.returncode == 0, appealed.stderr
    assert server.case_of("A-CLIREQ-1")["state"] == "appealed"
    # A second appeal of the same determination is refused, and says so.
    again = _cases(server, "FIRMA", "appeal", str(case["id"]), "--reason", "once more")
    assert again.returncode == 1 and "refused (409)" in again.stderr


def test_a_config_that_cannot_be_read_is_named(tmp_path):
    token = tmp_path / "token"
    token.write_text("some-token\n")
    missing = tmp_path / "nowhere.toml"
    run = subprocess.run([sys.executable, "-m", "engine", "cases", "--config", str(missing),
                          "--token-file", str(token), "list"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 2
    assert f"{missing}: (file): cannot be read" in run.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[review]\nlisten = "127.0.0.1"\n')
    run = subprocess.run([sys.executable, "-m", "engine", "cases", "--config", str(bad),
                          "--token-file", str(token), "list"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 2 and "review.listen" in run.stderr
