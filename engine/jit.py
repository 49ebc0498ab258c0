"""numba plumbing of the per-message code (decoder, hashing, tables, kernel)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.core.caching import FunctionCache
from numba.extending import intrinsic

# Cached on disk, and compiled without numba's reference counting (its `_nrt` option):
# this code never allocates, and the counting cost an atomic increment and decrement per
# array, per call of every small helper, per message: about a quarter of replay time.
# Everything these functions call must not allocate either (no array copies or temporaries).
# RISK: `_nrt` is a private numba option (numba 0.68); a numba upgrade may drop or change
# it. The tests run every kernel, so such a change shows as failures, not wrong verdicts.
_njit_kernel = njit(cache=True, _nrt=False)

_ENGINE = Path(__file__).resolve().parent
# Modules without numba code whose constants the kernels read (numba freezes globals).
_CONSTANT_MODULES = ("codes.py", "rules/rulebook.py")


@lru_cache(maxsize=None)
def sources_digest() -> str:
    """sha256 of every engine module a kernel can read: those with numba code, and the
    constants modules. numba checks a cached function only against the timestamp of its
    own file, so a kernel would otherwise keep running the old code of a helper it inlined
    from another file (the decoder in the replay pipeline, say) after that file changed."""
    digest = hashlib.sha256()
    for path in sorted(_ENGINE.rglob("*.py")):
        text = path.read_bytes()
        relative = path.relative_to(_ENGINE).as_posix()
        if relative in _CONSTANT_MODULES or b"@kernel" in text or b"@njit" in text \
                or b"@intrinsic" in text or b"@inline_kernel" in text or b"@cached" in text \
                or b"@nogil_kernel" in text:
            digest.update(relative.encode() + b"\0" + text + b"\0")
    return digest.hexdigest()


class _CheckedCache(FunctionCache):
    """numba's cache, keyed also by sources_digest()."""

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), sources_digest())


class _KernelCache(_CheckedCache):
    """_CheckedCache, minus the refresh of the whole target context before a load.

    numba refreshes its compiler's context before it loads a cached function: it imports
    and registers every built-in implementation (typed dicts, random, linalg, ...), which
    was 0.1-0.2 s of every `ceguard replay`, a third of its start-up. Loading machine code
    needs none of it. A kernel never touches numba's runtime (see `_nrt`), so it needs no
    runtime set-up either; a cache miss compiles, and numba's compiler refreshes the
    context itself first.
    RISK: this overrides methods of numba's (0.68) caching internals, like `_nrt` above.
    The decorators fall back to numba's own cache when its class is not the one expected.
    """

    def load_overload(self, sig, target_context):
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)
        return None  # the guard swallowed an I/O error: compile instead


def kernel(func):
    """@kernel: a cached, reference-count-free numba function (see above)."""
    return _with_cache(_njit_kernel(func), _KernelCache)


def nogil_kernel(func):
    """@kernel that releases the GIL while it runs (it touches no Python object): for
    work off QuickFIX's thread that must not stall fromApp meanwhile."""
    return _with_cache(njit(cache=True, _nrt=False, nogil=True)(func), _KernelCache)


def inline_kernel(func):
    """@kernel for a small helper numba inlines into its callers: LLVM leaves some calls
    (vector code looks costly to it), and a call passes every array on the stack."""
    return _with_cache(njit(cache=True, _nrt=False, inline="always")(func), _KernelCache)


def cached(func):
    """@cached: njit(cache=True) for a function that allocates (it needs numba's runtime,
    so it loads like any numba function), with the sources_digest() check of kernels."""
    return _with_cache(njit(cache=True)(func), _CheckedCache)


def _with_cache(dispatcher, cache_class):
    if type(dispatcher._cache) is FunctionCache:
        dispatcher._cache.__class__ = cache_class
    return dispatcher


def _prefetch(write: int):
    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(data, [args[1]]), cgutils.voidptr_t)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [address, i32(write), i32(3), i32(1)])  # keep in all caches; data
        return context.get_dummy_value()

    return codegen


@intrinsic
def prefetch(typingctx, array, index):
    """Start loading the cache line of array.flat[index] (C order): a hint, no effect on results."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None
    return types.void(array, index), _prefetch(0)


@intrinsic
def prefetch_write(typingctx, array, index):
    """`prefetch` of a line about to be written: fetched ready to modify."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None
    return types.void(array, index), _prefetch(1)


@intrinsic
def load_u64(typingctx, array, index):
    """The 8 bytes array[index:index + 8] of a uint8 array as one little-endian uint64, in one
    (unaligned) load. The caller keeps index + 8 <= len(array)."""
    if not (isinstance(array, types.Array) and array.dtype == types.uint8
            and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        i64 = ir.IntType(64)
        address = builder.bitcast(builder.gep(data, [args[1]]), i64.as_pointer())
        return builder.load(address, align=1)

    return types.uint64(array, index), codegen


@intrinsic
def trailing_zeros(typingctx, value):
    """Number of zero bits below the lowest set bit of a non-zero uint64."""
    if value != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(i64, [i64, ir.IntType(1)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.IntType(1)(1)])

    return types.uint64(value), codegen


WINDOW = 64  # bytes per `eq_masks` load: one bit each in a uint64


@intrinsic
def eq_masks(typingctx, array, index, a, b, c):
    """Bitmasks of the WINDOW bytes array[index:index + WINDOW] equal to a, b and c: bit k
    of the first is set when array[index + k] == a, and so on. One (unaligned) vector load
    and three vector compares. The caller keeps index + WINDOW <= len(array) and a, b, c
    in 0..255."""
    if not (isinstance(array, types.Array) and array.dtype == types.uint8
            and all(isinstance(x, types.Integer) for x in (index, a, b, c))):
        return None
    sig = types.UniTuple(types.uint64, 3)(array, index, a, b, c)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        i8, i32 = ir.IntType(8), ir.IntType(32)
        vector = ir.VectorType(i8, WINDOW)
        address = builder.bitcast(builder.gep(data, [args[1]]), vector.as_pointer())
        window = builder.load(address, align=1)
        undefined = ir.Constant(vector, ir.Undefined)
        zeros = ir.Constant(ir.VectorType(i32, WINDOW), [0] * WINDOW)
        masks = []
        for value in args[2:]:
            byte = value if value.type.width == 8 else builder.trunc(value, i8)
            splat = builder.shuffle_vector(builder.insert_element(undefined, byte, i32(0)),
                                           undefined, zeros)
            equal = builder.icmp_unsigned("==", window, splat)
            masks.append(builder.bitcast(equal, ir.IntType(WINDOW)))
        return context.make_tuple(builder, sig.return_type, masks)

    return sig, codegen
