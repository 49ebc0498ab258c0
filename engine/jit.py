"""The numba decorator of the per-message code (decoder, hashing, tables, kernel)."""

from __future__ import annotations

from numba import njit

# Cached on disk, and compiled without numba's reference counting (its `_nrt` option):
# this code never allocates, and the counting cost an atomic increment and decrement per
# array, per call of every small helper, per message: about a quarter of replay time.
# Everything these functions call must not allocate either (no array copies or temporaries).
kernel = njit(cache=True, _nrt=False)
