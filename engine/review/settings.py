"""The [review] section of the engine config: mode, deadlines, the HTTP listener, tokens.

Deadlines are seconds (RULES.md section 4 gives minutes) so that a test can use seconds.
Tokens are never written in the config itself: each entry names where the secret is,
"env:NAME" (an environment variable) or "file:PATH" (relative to the config's folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.addresses import parse_listen
from engine.errors import ConfigError

AUTO = "auto"
REVIEW = "review"
MODES = (AUTO, REVIEW)
MIN_TOKEN_LENGTH = 16

_KEYS = {"mode", "listen", "determination_seconds", "appeal_seconds", "request_seconds",
         "routed_request_seconds", "nearing_seconds", "analysts", "firm_tokens"}
_DEFAULT_SECONDS = {  # RULES.md section 4
    "determination_seconds": 30 * 60,
    "appeal_seconds": 30 * 60,
    "request_seconds": 30 * 60,
    "routed_request_seconds": 60 * 60,
    "nearing_seconds": 5 * 60,  # "nearing a deadline": this long or less before it
}


@dataclass(frozen=True)
class ReviewConfig:
    mode: str = AUTO
    listen: tuple[str, int] | None = None  # the case API and console; None: not served
    determination_seconds: float = _DEFAULT_SECONDS["determination_seconds"]
    appeal_seconds: float = _DEFAULT_SECONDS["appeal_seconds"]
    request_seconds: float = _DEFAULT_SECONDS["request_seconds"]
    routed_request_seconds: float = _DEFAULT_SECONDS["routed_request_seconds"]
    nearing_seconds: float = _DEFAULT_SECONDS["nearing_seconds"]
    analysts: dict[str, str] = field(default_factory=dict)  # name -> token
    firm_tokens: dict[str, str] = field(default_factory=dict)  # PartyID -> token


def load_review(where: str, base: Path, table: object) -> ReviewConfig:
    if not isinstance(table, dict):
        raise ConfigError(where, "review", "must be a table", "write it as [review]")
    for key in table:
        if key not in _KEYS:
            raise ConfigError(where, f"review.{key}", "is not a known key",
                              f"use only {', '.join(sorted(_KEYS))} in [review]")
    mode = table.get("mode", AUTO)
    if mode not in MODES:
        raise ConfigError(where, "review.mode", f"is {mode!r}",
                          "use \"auto\" (bust at once) or \"review\" (open a case)")
    seconds = {key: _seconds(where, key, table.get(key, default))
               for key, default in _DEFAULT_SECONDS.items()}
    if seconds["routed_request_seconds"] < seconds["request_seconds"]:
        raise ConfigError(where, "review.routed_request_seconds",
                          "is shorter than review.request_seconds",
                          "give routed executions at least the ordinary window")
    listen = table.get("listen")
    analysts = _tokens(where, base, "analysts", table.get("analysts", {}))
    firm_tokens = _tokens(where, base, "firm_tokens", table.get("firm_tokens", {}))
    shared = set(analysts.values()) & set(firm_tokens.values())
    if shared:
        firm = next(f for f, token in firm_tokens.items() if token in shared)
        raise ConfigError(where, f"review.firm_tokens.{firm}", "has the token of an analyst",
                          "give every analyst and firm its own token")
    if mode == REVIEW and (listen is None or not analysts):
        raise ConfigError(where, "review.listen / review.analysts",
                          "review mode needs the case API and at least one analyst",
                          "set listen = \"127.0.0.1:9880\" and an [review.analysts] entry")
    if listen is not None:
        listen = parse_listen(where, "review.listen", listen, "127.0.0.1:9880")
    return ReviewConfig(mode=mode, listen=listen,
                        analysts=analysts, firm_tokens=firm_tokens, **seconds)


def _seconds(where: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(where, f"review.{key}", f"must be a positive number of seconds, "
                          f"not {value!r}", f"e.g. {key} = {_DEFAULT_SECONDS[key]}")
    return float(value)


def _tokens(where: str, base: Path, name: str, table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(where, f"review.{name}", "must be a table",
                          f"write it as [review.{name}] with who = \"env:VAR\" lines")
    tokens: dict[str, str] = {}
    for who, source in table.items():
        key = f"review.{name}.{who}"
        if not isinstance(source, str) or not source.startswith(("env:", "file:")):
            raise ConfigError(where, key, f"is {source!r}",
                              "name where the token is: \"env:VARIABLE\" or \"file:PATH\"")
        kind, _, ref = source.partition(":")
        if kind == "env":
            token = os.environ.get(ref)
            if token is None:
                raise ConfigError(where, key, f"names the environment variable {ref}, "
                                  "which is not set", f"export {ref} before starting serve")
        else:
            path = (base / ref).resolve()
            try:
                token = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(where, key, f"names {path}, which cannot be read "
                                  f"({exc.strerror})", "give a readable token file") from exc
        token = token.strip()
        if len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(where, key, f"the token is shorter than {MIN_TOKEN_LENGTH} "
                              "characters", "use a long random token, e.g. "
                              "`openssl rand -hex 24`")
        if token in tokens.values():
            raise ConfigError(where, key, "has the same token as another entry",
                              "give every analyst and firm its own token")
        tokens[str(who)] = token
    return tokens
