"""Open-addressing hash tables on 128-bit keys, as numpy arrays for numba.

`keys[..., 0] == 0` (a slot's first column) marks an empty slot (hashing.hash_spans never yields h1 == 0).

Three kinds:
- a growing table (symbols): Python doubles it when half full (`grow_table`);
- a set of recent keys in buckets of four (ExecIDs): one cache line per look-up; a full
  bucket forgets one of its keys, so it remembers roughly its capacity of recent keys;
- a two-generation table (series, matches): when the current generation is
  half full, the older one is dropped and becomes the new current one, so memory is
  fixed and the table remembers at least the last `capacity / 2` keys. An entry found
  in the older generation is copied forward, so keys in use stay.
"""

from __future__ import annotations

import mmap

import numpy as np

from engine.jit import cached, kernel

HUGE_PAGE = 2 << 20


def zeroed(shape: tuple[int, ...]) -> np.ndarray:
    """np.zeros(shape, np.int64), on transparent huge pages where the kernel gives them to
    regions that ask (THP "madvise" mode, as on the project's machines). The big tables
    are read at random, a line or two per fill: with 4 KiB pages most of those reads
    also missed the TLB (the ExecID set alone spans 4,096 pages).

    Every page is touched now, not by the first fill that lands on it: a huge page's
    first touch (the kernel zeroes 2 MiB, and may compact memory to find them) held a
    fill back 5-10 ms, and a two-generation table's older half was first touched at its
    first rotation, some 30,000 fills into the traffic."""
    size = int(np.prod(shape)) * 8
    if size < HUGE_PAGE or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros(shape, np.int64)
    region = mmap.mmap(-1, size + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.madvise(mmap.MADV_HUGEPAGE)
    skip = -np.frombuffer(region, np.uint8, count=1).ctypes.data % HUGE_PAGE  # align
    table = np.frombuffer(region, np.int64, count=size // 8, offset=skip).reshape(shape)
    table.fill(0)
    return table


GEN_CURRENT = 0  # meta[0]: index (0/1) of the current generation
GEN_COUNT = 1    # meta[1]: keys in the current generation


@kernel
def probe(keys, h1, h2):
    """(slot, found) of key (h1, h2) in keys (capacity, 2)."""
    mask = keys.shape[0] - 1
    i = h2 & mask
    while True:
        k1 = keys[i, 0]
        if k1 == 0:
            return i, False
        if k1 == h1 and keys[i, 1] == h2:
            return i, True
        i = (i + 1) & mask


@cached
def grow_table(keys, vals, new_keys, new_vals):
    """Re-insert every key of (keys, vals) into the larger, empty (new_keys, new_vals)."""
    for i in range(keys.shape[0]):
        if keys[i, 0] != 0:
            j, _ = probe(new_keys, keys[i, 0], keys[i, 1])
            new_keys[j, 0] = keys[i, 0]
            new_keys[j, 1] = keys[i, 1]
            new_vals[j] = vals[i]


BUCKET = 4  # 4 keys x 16 bytes: one 64-byte cache line


def new_recent_set(capacity: int) -> np.ndarray:
    buckets = capacity // BUCKET
    assert buckets & (buckets - 1) == 0, "capacity must be a power of two"
    return zeroed((buckets, BUCKET, 2))


@kernel
def seen_or_add(keys, h1, h2):
    """True if (h1, h2) is in the recent set; otherwise add it and return False."""
    bucket = keys[h2 & (keys.shape[0] - 1)]
    for k in range(BUCKET):
        if bucket[k, 0] == h1 and bucket[k, 1] == h2:
            return True
        if bucket[k, 0] == 0:
            bucket[k, 0] = h1
            bucket[k, 1] = h2
            return False
    victim = (h1 >> 8) & (BUCKET - 1)  # deterministic, so replays repeat exactly
    bucket[victim, 0] = h1
    bucket[victim, 1] = h2
    return False


GEN_VALUE = 2  # a two-generation slot: key (h1, h2), then its two values: 32 bytes


def new_generations(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """(slots (2, capacity, 4), meta) of an empty 2-generation table. A key and its values
    share a slot, so a look-up reads one cache line, not a line of keys and one of values."""
    assert capacity & (capacity - 1) == 0, "capacity must be a power of two"
    return zeroed((2, capacity, 4)), np.zeros(2, np.int64)


@kernel
def gen_find(slots, meta, h1, h2):
    """Slot of the key in the current generation (copied forward if only in the older), or -1."""
    cur = meta[GEN_CURRENT]
    slot, found = probe(slots[cur], h1, h2)
    if found:
        return slot
    older = 1 - cur
    old_slot, found = probe(slots[older], h1, h2)
    if not found:
        return -1
    saved_0 = slots[older, old_slot, GEN_VALUE]  # gen_insert may rotate onto this slot
    saved_1 = slots[older, old_slot, GEN_VALUE + 1]
    slot = gen_insert(slots, meta, h1, h2)
    slots[meta[GEN_CURRENT], slot, GEN_VALUE] = saved_0
    slots[meta[GEN_CURRENT], slot, GEN_VALUE + 1] = saved_1
    return slot


@kernel
def gen_insert(slots, meta, h1, h2):
    """Slot for a key known to be absent, in the current generation (rotating if full);
    its values are 0."""
    capacity = slots.shape[1]
    if meta[GEN_COUNT] * 2 >= capacity:
        older = 1 - meta[GEN_CURRENT]
        slots[older] = 0
        meta[GEN_CURRENT] = older
        meta[GEN_COUNT] = 0
    cur = meta[GEN_CURRENT]
    slot, _ = probe(slots[cur], h1, h2)
    slots[cur, slot, 0] = h1
    slots[cur, slot, 1] = h2
    slots[cur, slot, GEN_VALUE] = 0
    slots[cur, slot, GEN_VALUE + 1] = 0
    meta[GEN_COUNT] += 1
    return slot
