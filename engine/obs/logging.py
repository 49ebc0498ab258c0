"""structlog JSON lines on stdout: one per flag, bust, rejection, logon/logout, config.

Ordinary fills are never logged (they are counted in the metrics); events carry the
keys an operator filters by: session, symbol, exec_id.
"""

from __future__ import annotations

import sys
from typing import TextIO

import structlog


def configure_logging(stream: TextIO | None = None) -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=stream or sys.stdout),
        cache_logger_on_first_use=True,
    )


def get_logger(**keys: object) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("ceguard").bind(**keys)
