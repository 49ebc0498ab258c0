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
NUMBERING_PROBE = 4 << 20  # an input without a newline in its first 4 MiB has no lines
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
    """Blocks of about `size` bytes. A truncated or corrupt gzip raises InputError only
    after the block of everything decompressed before the fault has been yielded (a
    plain read of `size` bytes would drop it with the exception)."""
    done = 0
    read = getattr(stream, "read1", stream.read)  # read1: what one step decompresses
    while True:
        parts = []
        got = 0
        fault = None
        while got < size:
            try:
                part = read(size - got)
            except (EOFError, OSError, zlib.error) as exc:  # a truncated or corrupt gzip
                fault = exc
                break
            if not part:
                break
            parts.append(part)
            got += len(part)
        if got:
            yield b"".join(parts)
            done += got
        if fault is not None:
            where = disk_position(stream)
            at = f" (byte {where:,} of the file)" if where is not None else ""
            raise InputError(f"{path}: cannot be read after {done:,} bytes of data{at}: "
                             f"{fault}; the records of everything before were written")
        if got < size:
            return


def disk_position(stream: BinaryIO) -> int | None:
    """Bytes read from disk so far (the compressed offset for gzip), for progress."""
    inner = getattr(stream, "fileobj", stream)
    try:
        return inner.tell()
    except (OSError, ValueError):
        return None
