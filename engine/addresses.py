"""host:port settings of the engine config (the metrics and the review listeners)."""

from __future__ import annotations

from engine.errors import ConfigError


def parse_listen(where: str, key: str, value: object, example: str) -> tuple[str, int]:
    """("host", port) from "host:port", or a ConfigError naming `key`."""
    fix = f"write host:port, e.g. \"{example}\""
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(where, key, f"is {value!r}", fix)
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(where, key, f"is {value!r}", fix)
    return host, int(port)
