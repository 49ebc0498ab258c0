"""The [review] section of the engine config: defaults, secrets from env and files, errors."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from engine.config import load_config
from engine.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "engine-config.schema.json").read_text())
BASE = f"""
[fix]
settings = "{ROOT / 'fix_configs' / 'ceguard.cfg'}"
[journal]
path = "j.sqlite"
"""
TOKEN = "0123456789abcdef0123"


def config(tmp_path: Path, review: str):
    path = tmp_path / "engine.toml"
    path.write_text(BASE + review)
    if "# bad" not in review:  # a good config also matches the schema
        jsonschema.validate(tomllib.loads(path.read_text()), SCHEMA)
    return load_config(path)


def test_auto_is_the_default_with_the_rules_deadlines(tmp_path):
    review = config(tmp_path, "").review
    assert review.mode == "auto" and review.listen is None
    assert (review.determination_seconds, review.appeal_seconds, review.request_seconds,
            review.routed_request_seconds) == (1800, 1800, 1800, 3600)


def test_tokens_come_from_files_and_the_environment(tmp_path, monkeypatch):
    (tmp_path / "alice.token").write_text(TOKEN + "\n")
    monkeypatch.setenv("FIRMA_TOKEN", "firm-a-" + TOKEN)
    review = config(tmp_path, """[review]
mode = "review"
listen = "127.0.0.1:9880"
determination_seconds = 2.5
[review.analysts]
alice = "file:alice.token"
[review.firm_tokens]
FIRMA = "env:FIRMA_TOKEN"
""").review
    assert review.mode == "review" and review.listen == ("127.0.0.1", 9880)
    assert review.analysts == {"alice": TOKEN}
    assert review.firm_tokens == {"FIRMA": "firm-a-" + TOKEN}
    assert review.determination_seconds == 2.5


@pytest.mark.parametrize("review, key, fix", [
    ('mode = "manual"', "review.mode", "auto"),
    ('mode = "review"', "review.listen / review.analysts", "listen"),
    ("appeal_seconds = 0", "review.appeal_seconds", "appeal_seconds = 1800"),
    ("routed_request_seconds = 60", "review.routed_request_seconds", "at least"),
    ('listen = "9880"', "review.listen", "host:port"),
    ("deadline = 3", "review.deadline", "use only"),
    ('[review.analysts]\nalice = "abc"', "review.analysts.alice", "env:VARIABLE"),
    ('[review.analysts]\nalice = "env:CEGUARD_NOT_SET_ANYWHERE"', "review.analysts.alice",
     "export CEGUARD_NOT_SET_ANYWHERE"),
    ('[review.analysts]\nalice = "file:missing.token"', "review.analysts.alice", "readable"),
    ('[review.analysts]\nalice = "file:short.token"', "review.analysts.alice", "random"),
])
def test_review_errors_name_key_and_fix(tmp_path, review, key, fix):
    (tmp_path / "short.token").write_text("abc")
    with pytest.raises(ConfigError) as error:
        config(tmp_path, "[review]\n# bad\n" + review + "\n")
    assert error.value.key == key
    assert fix in error.value.fix
