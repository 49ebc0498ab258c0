"""Open captured logs: plain files as memory maps, gzip and stdin as streams of byte chunks."""

from __future__ import annotations

import gzip
import io
import mmap
import os
import stat
import sys
import zlib
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


def map_log(path: str) -> mmap.mmap | None:
    """The log as a read-only memory map, or None unless it is a plain non-empty file
    (stdin, gzip, pipes and empty files are read as streams)."""
    try:
        if path == "-" or not stat.S_ISREG(os.stat(path).st_mode):
            return None  # never open a pipe twice
        with open(path, "rb") as raw:
            if raw.read(2) == _GZIP_MAGIC or os.fstat(raw.fileno()).st_size == 0:
                return None
            mapped = mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None  # open_log reads it as a stream, or says why it cannot
    mapped.madvise(mmap.MADV_SEQUENTIAL)
    return mapped


def chunks(stream: BinaryIO, path: str, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    done = 0
    while True:
        try:
            block = stream.read(size)
        except (EOFError, OSError, zlib.error) as exc:  # a truncated or corrupt gzip
            raise InputError(f"{path}: cannot be read after {done:,} bytes ({exc})") from exc
        done += len(block)
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
