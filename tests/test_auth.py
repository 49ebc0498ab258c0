"""Who may log on: unknown CompIDs, wrong or missing credentials and disallowed addresses
are refused on the wire with a Logout naming the reason, counted and logged; passwords
come from a file or the environment and never reach a file, the log or the metrics."""

from __future__ import annotations

import json
import os
from collections import Counter
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest

from engine.config import load_config
from engine.errors import ConfigError
from engine.fix.auth import REFUSAL_REASONS
from tests.live import ROOT, SHIPPED_CFG, wait_for
from tests.logon import CredentialInitiator, connect, exchange, logon, serve_with, server_files

FIRMA = "FIX.4.4:CEGUARD->FIRMA"
FILE_PASSWORD = "firmA-file-s3cret"
ENV_PASSWORD = "matching1-env-s3cret"
WRONG_PASSWORD = "a-wrong-guess-9"
NEW_PASSWORD = "a-new-s3cret-7"
INTRUDER_PASSWORD = "intruder-s3cret"
ENV_NAME = "CEGUARD_TEST_MATCHING1_PASSWORD"
MASK = "********"  # what ceguard's QuickFIX patch writes for 554 and 925

AUTH = """
[auth.credentials]
FIRMA = { username = "firma", password_file = "../secrets/firma.password" }
MATCHING1 = { username = "matching1", password_env = "CEGUARD_TEST_MATCHING1_PASSWORD" }
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One serve: each kind of refused Logon over raw sockets, good logons (FIX.4.2 raw
    with the environment's password, a QuickFIX initiator with the file's), a second Logon
    while logged on, and a refused Logon asking for a sequence reset."""
    base = tmp_path_factory.mktemp("auth")
    (base / "secrets").mkdir()
    (base / "secrets" / "firma.password").write_text(FILE_PASSWORD + "\n")
    (base / "server").mkdir()
    os.environ[ENV_NAME] = ENV_PASSWORD
    try:
        server = serve_with(base / "server", AUTH)
    finally:
        del os.environ[ENV_NAME]
    port = server.fix_port
    try:
        answers = {
            "bad_credentials": exchange(connect(port), logon(
                "FIRMA", username="firma", password=WRONG_PASSWORD)),
            "missing_credentials": exchange(connect(port), logon("FIRMA")),
            "not_utf8": exchange(connect(port), logon(  # \xff: a byte that is not UTF-8
                "FIRMA", username="fir\xffma", password=WRONG_PASSWORD)),
            # NewPassword too: the shipped FIX.4.4 dictionary has no 925 in the Logon, but
            # a Logon for no session is not validated and lands in the GLOBAL logs.
            "unknown_session": exchange(connect(port), logon(
                "INTRUDER", username="firma", password=INTRUDER_PASSWORD,
                new_password=NEW_PASSWORD)),
            "address_not_allowed": exchange(connect(port, source="127.0.0.2"), logon(
                "FIRMA", username="firma", password=FILE_PASSWORD)),
            "fix42_env_password": exchange(connect(port), logon(
                "MATCHING1", begin="FIX.4.2", username="matching1", password=ENV_PASSWORD)),
        }
        firm = CredentialInitiator(port, base / "firm", "FIRMA", "firma", FILE_PASSWORD)
        try:
            firm.wait_logon()
            answers["already_logged_on"] = exchange(connect(port), logon(
                "FIRMA", username="firma", password=FILE_PASSWORD))
            firm_stayed = firm.peer.logged_on(firm.session)
        finally:
            firm.stop()
        # A refused Logon asking for a sequence reset must not reset (nor clear the store).
        store = base / "server" / "store" / "FIX.4.4-CEGUARD-FIRMA"
        wait_for(lambda: not server.metric("ceguard_session_up", session=FIRMA), what="logout")
        before = [Path(f"{store}.{part}").read_bytes() for part in ("seqnums", "body")]
        answers["reset_refused"] = exchange(connect(port), logon(
            "FIRMA", username="firma", password=WRONG_PASSWORD, reset=True))
        after = [Path(f"{store}.{part}").read_bytes() for part in ("seqnums", "body")]
        answers["reset_accepted"] = exchange(connect(port), logon(
            "FIRMA", username="firma", password=FILE_PASSWORD, reset=True))
        # Counted from the GLOBAL event log, which serve reads every tick.
        wait_for(lambda: server.metric("ceguard_logons_refused_total", reason="unknown_session")
                 + server.metric("ceguard_logons_refused_total", reason="already_logged_on") >= 2,
                 what="the Logons that reached no session counted")
        metrics = server.scrape()
        refused = {reason: server.metric("ceguard_logons_refused_total", reason=reason)
                   for reason in REFUSAL_REASONS}
    finally:
        server.stop()
    assert firm_stayed  # a second Logon for its session did not disturb it
    return server, answers, metrics, refused, (before, after)


@pytest.mark.parametrize("reason", ["bad_credentials", "missing_credentials",
                                    "unknown_session", "address_not_allowed",
                                    "already_logged_on"])
def test_a_refused_logon_gets_a_logout_naming_the_reason(run, reason):
    _, answers, _, _, _ = run
    [logout] = answers[reason]  # nothing else: no Logon, then the socket is closed
    assert logout[35] == "5"
    assert f"Logon refused: {reason}" in logout[58]
    assert logout[49] == "CEGUARD"
    if reason == "address_not_allowed":
        assert "127.0.0.2" in logout[58]
    if reason == "unknown_session":
        assert logout[56] == "INTRUDER" and "FIX.4.4:CEGUARD->INTRUDER" in logout[58]


def test_a_logon_with_bytes_that_are_not_utf8_is_judged_like_any_other(run):
    _, answers, _, _, _ = run
    [logout] = answers["not_utf8"]
    assert logout[35] == "5" and "bad_credentials" in logout[58]


def test_a_refused_logon_asking_for_a_reset_resets_nothing(run):
    _, answers, _, _, (before, after) = run
    [logout] = answers["reset_refused"]
    assert "bad_credentials" in logout[58]
    # Only the Logout was added (sender MsgSeqNum + 1, stored); nothing was reset or dropped.
    sender, target = (int(n) for n in before[0].split(b" : "))
    assert sender > 1 and target > 1
    assert [int(n) for n in after[0].split(b" : ")] == [sender + 1, target]
    assert after[1].startswith(before[1]) and b"35=5" in after[1][len(before[1]):]


def test_a_logon_with_credentials_may_still_reset_the_sequence(run):
    _, answers, _, _, _ = run
    reply = answers["reset_accepted"][0]
    assert (reply[35], reply[34], reply[141]) == ("A", "1", "Y")


def test_right_credentials_log_on_from_the_environment_and_from_a_file(run):
    server, answers, _, _, _ = run
    assert answers["fix42_env_password"][0][35] == "A"  # FIX.4.2: 553/554 in the dictionary
    logons = {event["session"] for event in server.events("logon")}
    assert {"FIX.4.2:CEGUARD->MATCHING1", "FIX.4.4:CEGUARD->FIRMA"} <= logons


def test_each_refusal_is_counted_and_logged_by_reason(run):
    server, _, _, refused, _ = run
    assert refused == {"unknown_session": 1, "already_logged_on": 1,
                       "address_not_allowed": 1, "address_unknown": 0,
                       "missing_credentials": 1, "bad_credentials": 3, "internal_error": 0,
                       "journal_unwritable": 0}
    events = server.events("logon_refused")
    assert Counter(e["reason"] for e in events) == {
        reason: count for reason, count in refused.items() if count}
    by_reason = {e["reason"]: e for e in events}
    assert by_reason["address_not_allowed"]["remote_address"] == "127.0.0.2"
    assert by_reason["bad_credentials"]["session"] == "FIX.4.4:CEGUARD->FIRMA"
    assert by_reason["unknown_session"]["sender_comp_id"] == "INTRUDER"


def test_no_password_lands_in_a_file_the_log_or_the_metrics(run):
    server, _, metrics, _, _ = run
    files = server_files(server)
    assert any(p.name.endswith(".messages.current.log") for p in files)
    secrets = [FILE_PASSWORD, ENV_PASSWORD, WRONG_PASSWORD, INTRUDER_PASSWORD, NEW_PASSWORD]
    for path, data in files.items():
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} found in {path}"
    for secret in secrets:
        assert secret not in metrics
    # The Logons were logged, with the passwords masked (the masking did run): in the
    # session's messages, and for the unknown session in the GLOBAL messages and events.
    by_name = {path.name: data for path, data in files.items()}
    firm_log = by_name["FIX.4.4-CEGUARD-FIRMA.messages.current.log"]
    assert firm_log.count(f"\x01554={MASK}\x01".encode()) >= 4
    assert b"553=fir\xffma" in firm_log  # a byte that is not UTF-8 is kept as it came
    for name in ("GLOBAL.messages.current.log", "GLOBAL.event.current.log"):
        assert "49=INTRUDER\x0156=CEGUARD".encode() in by_name[name]
        assert f"\x01554={MASK}\x01925={MASK}\x01".encode() in by_name[name]


def config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "engine.toml"
    path.write_text(f'[fix]\nsettings = "{SHIPPED_CFG}"\n[journal]\npath = "j.sqlite"\n{extra}')
    return path


@pytest.mark.parametrize("extra, key, fix", [
    ('[auth.credentials]\nFIRMA = { username = "f", password_file = "nope.txt" }',
     "auth.credentials.FIRMA.password_file", "create the file"),
    ('[auth.credentials]\nFIRMA = { username = "f", password_env = "CEGUARD_UNSET_VAR_X" }',
     "auth.credentials.FIRMA.password_env", "export CEGUARD_UNSET_VAR_X"),
    ('[auth.credentials]\nFIRMA = { username = "f", password = "inline" }',
     "auth.credentials.FIRMA.password", "password_file"),
    ('[auth.credentials]\nFIRMA = { password_env = "HOME" }',
     "auth.credentials.FIRMA.username", "Username (553)"),
    ('[auth]\nrequired = "yes"', "auth.required", "true or false"),
    ('[tls]\ncertificate = "c.pem"', "tls.key", "PEM file"),
    ('[tls]\ncertificate = "engine.toml"\nkey = "missing.key"', "tls.key", "existing file"),
    ('[tls]\ncertificate = "engine.toml"\nkey = "engine.toml"\nmin_version = "1.1"',
     "tls.min_version", "1.2, 1.3"),
], ids=["no-password-file", "unset-env", "inline-password", "no-username", "required-not-bool",
        "tls-no-key", "tls-key-missing", "tls-version"])
def test_auth_and_tls_config_errors_name_key_and_fix(tmp_path, extra, key, fix):
    with pytest.raises(ConfigError) as error:
        load_config(config(tmp_path, extra))
    assert error.value.key == key
    assert fix in error.value.fix
    assert "inline" not in str(error.value)


@pytest.mark.parametrize("extra, cfg_line, message", [
    ('[auth.credentials]\nFIRMC = { username = "f", password_env = "HOME" }', None,
     "auth.credentials.FIRMC: names CompID FIRMC, which is the TargetCompID of no session"),
    ('[auth]\nrequired = true\n[auth.credentials]\n'
     'FIRMA = { username = "f", password_env = "HOME" }', None,
     "auth.required: is true, but MATCHING1"),
    ("", "AllowedRemoteAddresses=127.0.0.1,not-an-ip",
     "FIX.4.4:CEGUARD->MATCHING1 AllowedRemoteAddresses: '127.0.0.1,not-an-ip'"),
    ('[tls]\ncertificate = "engine.toml"\nkey = "engine.toml"', None,
     "QuickFIX cannot start the acceptor"),
], ids=["unknown-comp-id", "required-but-missing", "bad-address", "tls-not-pem"])
def test_policy_errors_stop_serve_with_exit_2(tmp_path, extra, cfg_line, message):
    path = config(tmp_path, extra)
    if cfg_line:
        cfg = tmp_path / "ceguard.cfg"
        cfg.write_text(SHIPPED_CFG.read_text().replace("AllowedRemoteAddresses=127.0.0.1",
                                                       cfg_line))
        for name in ("FIX42.xml", "FIX44.xml", "FIXT11.xml", "FIX50SP2.xml"):
            (tmp_path / name).symlink_to(SHIPPED_CFG.parent / name)
        path.write_text(path.read_text().replace(str(SHIPPED_CFG), str(cfg)))
    result = subprocess.run([sys.executable, "-m", "engine", "serve", "--config", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Fix:" in result.stderr


def test_auth_and_tls_keys_are_in_the_schema(tmp_path):
    schema = json.loads((ROOT / "schemas" / "engine-config.schema.json").read_text())
    text = ('[auth]\nrequired = true\n' + AUTH + '[tls]\ncertificate = "s.crt"\n'
            'key = "s.key"\nca = "ca.crt"\nmin_version = "1.3"\n')
    document = tomllib.loads(config(tmp_path, text).read_text())
    jsonschema.validate(document, schema)
    document["auth"]["credentials"]["FIRMA"]["password"] = "inline"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)
