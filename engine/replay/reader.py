"""Open captured logs (files, gzip, stdin) as a stream of byte chunks."""

from __future__ import annotations

import gzip
import io
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

CHUNK_BYTES = 4 << 20
_GZIP_MAGIC = b"\x1f\x8b"


class InputError(Exception):
    """A log given on the command line cannot be opened."""


def open_log(path: str) -> tuple[BinaryIO, int | None]:
    """(binary stream of the log's bytes, its size on disk if known); gzip is detected."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        size = None
    else:
        try:
            raw = open(path, "rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot be opened ({exc.strerror})") from exc
        size = os.fstat(raw.fileno()).st_size
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered), size
    return buffered, size


def chunks(stream: BinaryIO, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    while True:
        block = stream.read(size)
        if not block:
            return
        yield block


def disk_position(stream: BinaryIO) -> int | None:
    """Bytes read from disk so far (the compressed offset for gzip), for progress."""
    inner = getattr(stream, "fileobj", stream)
    try:
        return inner.tell()
    except (OSError, ValueError):
        return None
