"""Configuration errors: they stop start-up with the file, the key and the fix (exit 2)."""

from __future__ import annotations

CONFIG_EXIT_CODE = 2


class ConfigError(Exception):
    """A user-written file (rulebook, instruments, engine config) cannot be used."""

    def __init__(self, path: str, key: str, problem: str, fix: str) -> None:
        self.path, self.key, self.problem, self.fix = path, key, problem, fix
        super().__init__(f"{path}: {key}: {problem}. Fix: {fix}")
