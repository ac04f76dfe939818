"""Number-theoretic transforms over Goldilocks: evaluation <-> coefficients on 2-power domains.

Conventions (everything in natural order, nothing bit-reversed at the interface):

* ``ntt(c)[i] = sum_j c[j] * w^(i*j)`` where ``w = get_root_of_unity(log2 n)``: the
  evaluations of the polynomial with coefficients ``c`` on ``<w> = {w^0, w^1, ...}``.
* ``intt`` is its inverse (evaluations on ``<w>`` to coefficients).
* ``coset_ntt(c, shift)[i] = f(shift * w^i)`` and ``coset_intt`` its inverse.
* ``lde(evals, blowup, shift)`` interpolates ``evals`` on ``<w_n>`` and evaluates the
  polynomial on ``shift * <w_N>``, ``N = n * blowup``: ``out[i] = f(shift * w_N^i)``.

Every base-field transform accepts a 1-D array of length n (a power of two) or a 2-D array of
shape ``(n_cols, n)`` transformed column by column (each row of the array is one column of
a trace). The ``*_ext`` variants take ``(n, 2)`` extension arrays and transform both
coordinates (the transforms are F_p-linear and all roots and shifts lie in F_p).

``ntt_reference`` / ``intt_reference`` are the readable recursive Cooley-Tukey transform on
Python ints; the compiled path is an iterative radix-2 decimation-in-time transform with
per-size cached twiddle tables, tested against the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numba
import numpy as np
import numpy.typing as npt
from numba import njit, prange

from starkperp.field.errors import FieldError, FieldErrorReason
from starkperp.field.goldilocks import (
    GENERATOR,
    TWO_ADICITY,
    Felt,
    FeltArray,
    P,
    add,
    get_root_of_unity,
    inv,
    mul,
    sub,
    validate_canonical,
    vpowers,
    vscale,
)
from starkperp.field.kernels import kadd, kmul, ksub

__all__ = [
    "coset_intt",
    "coset_intt_ext",
    "coset_ntt",
    "coset_ntt_ext",
    "get_domain",
    "get_twiddles",
    "intt",
    "intt_ext",
    "intt_reference",
    "lde",
    "lde_ext",
    "lde_from_coeffs",
    "ntt",
    "ntt_ext",
    "ntt_reference",
]

# ---------------------------------------------------------------------------------------------
# Readable reference
# ---------------------------------------------------------------------------------------------


def _log2_exact(n: int) -> int:
    if n <= 0 or n & (n - 1):
        raise FieldError(FieldErrorReason.BAD_SIZE, f"length must be a power of two, got {n}")
    log_n = n.bit_length() - 1
    if log_n > TWO_ADICITY:
        raise FieldError(FieldErrorReason.TWO_ADICITY_EXCEEDED, f"2^{log_n} > 2^{TWO_ADICITY}")
    return log_n


def _fft(values: list[int], root: int) -> list[int]:
    n = len(values)
    if n == 1:
        return values
    root_sq = mul(root, root)
    even = _fft(values[0::2], root_sq)
    odd = _fft(values[1::2], root_sq)
    out = [0] * n
    w = 1
    for i in range(n // 2):
        t = mul(w, odd[i])
        out[i] = add(even[i], t)
        out[i + n // 2] = sub(even[i], t)
        w = mul(w, root)
    return out


def ntt_reference(coeffs: Sequence[int]) -> list[Felt]:
    """Return [f(w^i) for i < n] for f = sum c_j X^j (recursive Cooley-Tukey on ints)."""
    log_n = _log2_exact(len(coeffs))
    return [Felt(v) for v in _fft([int(c) % P for c in coeffs], get_root_of_unity(log_n))]


def intt_reference(evals: Sequence[int]) -> list[Felt]:
    """Return the coefficients of the polynomial taking ``evals`` on <w> (inverse of ntt)."""
    n = len(evals)
    log_n = _log2_exact(n)
    coeffs = _fft([int(e) % P for e in evals], inv(get_root_of_unity(log_n)))
    n_inv = inv(n)
    return [mul(c, n_inv) for c in coeffs]


# ---------------------------------------------------------------------------------------------
# Twiddles and domains
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def get_twiddles(log_n: int, inverse: bool = False) -> FeltArray:
    """Return the read-only table [w^j for j < n/2] of w (or w^-1) of order n = 2^log_n."""
    root = get_root_of_unity(log_n)
    if inverse:
        root = inv(root)
    table = vpowers(root, max(1, (1 << log_n) // 2))
    table.setflags(write=False)
    return table


@lru_cache(maxsize=16)
def _get_stage_twiddles(log_n: int, inverse: bool) -> FeltArray:
    # Per-stage contiguous layout: table[h + t] = w_{2h}^t for every stage half h and t < h,
    # so each butterfly stage reads its twiddles sequentially.
    n = 1 << log_n
    flat = get_twiddles(log_n, inverse)
    table = np.zeros(max(n, 2), dtype=np.uint64)
    h = 1
    while h < n:
        table[h : 2 * h] = flat[:: n // (2 * h)][:h]
        h *= 2
    table.setflags(write=False)
    return table


@lru_cache(maxsize=16)
def _get_bit_reverse_index(log_n: int) -> npt.NDArray[np.int64]:
    idx = np.arange(1 << log_n, dtype=np.int64)
    _bit_reverse_i64(idx)
    idx.setflags(write=False)
    return idx


def get_domain(log_n: int, shift: int = 1) -> FeltArray:
    """Return the 1-D array [shift * w^i for i < 2^log_n] in natural order."""
    return vscale(vpowers(get_root_of_unity(log_n), 1 << log_n), shift)


# ---------------------------------------------------------------------------------------------
# Compiled transform: radix-2/4, cache-blocked, decimation in time (DIT) and frequency (DIF)
# ---------------------------------------------------------------------------------------------

# Stages whose butterflies stay inside blocks of 2^_BLOCK_LOG elements (32 KiB) run block by
# block while the block is in cache; the larger stages run two at a time (radix-4 passes).
_BLOCK_LOG = 12


@njit(cache=True)
def _bit_reverse_inplace(a: FeltArray) -> None:
    n = a.shape[0]
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j ^= bit
        if i < j:
            t = a[i]
            a[i] = a[j]
            a[j] = t


@njit(cache=True)
def _bit_reverse_i64(a: npt.NDArray[np.int64]) -> None:
    n = a.shape[0]
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j ^= bit
        if i < j:
            t = a[i]
            a[i] = a[j]
            a[j] = t


# The butterfly loops index slice views from 0 (``x[t]`` rather than ``a[start + t]``): LLVM then
# sees non-negative indices and drops numba's negative-index wraparound code, which otherwise
# costs a third of the instructions of a butterfly and spills registers.


@njit(cache=True)
def _dit_block(a: FeltArray, tw: FeltArray, lo: int, blk: int) -> None:
    # the first stage has only the twiddle 1
    if blk >= 2:
        for i in range(lo, lo + blk, 2):
            u = a[i]
            v = a[i + 1]
            a[i] = kadd(u, v)
            a[i + 1] = ksub(u, v)
    half = 2
    while half < blk:
        w = tw[half : 2 * half]
        for start in range(lo, lo + blk, 2 * half):
            x = a[start : start + half]
            y = a[start + half : start + 2 * half]
            for t in range(half):
                u = x[t]
                v = kmul(y[t], w[t])
                x[t] = kadd(u, v)
                y[t] = ksub(u, v)
        half *= 2


@njit(cache=True)
def _dit_pass2(a: FeltArray, tw: FeltArray, h: int) -> None:
    w = tw[h : 2 * h]
    for start in range(0, a.shape[0], 2 * h):
        x = a[start : start + h]
        y = a[start + h : start + 2 * h]
        for t in range(h):
            u = x[t]
            v = kmul(y[t], w[t])
            x[t] = kadd(u, v)
            y[t] = ksub(u, v)


@njit(cache=True)
def _dit_pass4(a: FeltArray, tw: FeltArray, h: int) -> None:
    # the DIT stages of half h and 2h fused on a[i], a[i+h], a[i+2h], a[i+3h]
    w1 = tw[h : 2 * h]
    w2 = tw[2 * h : 3 * h]
    w3 = tw[3 * h : 4 * h]
    for start in range(0, a.shape[0], 4 * h):
        a0 = a[start : start + h]
        a1 = a[start + h : start + 2 * h]
        a2 = a[start + 2 * h : start + 3 * h]
        a3 = a[start + 3 * h : start + 4 * h]
        for t in range(h):
            x0 = a0[t]
            x1 = kmul(a1[t], w1[t])
            x2 = a2[t]
            x3 = kmul(a3[t], w1[t])
            y0 = kadd(x0, x1)
            y1 = ksub(x0, x1)
            y2 = kmul(kadd(x2, x3), w2[t])
            y3 = kmul(ksub(x2, x3), w3[t])
            a0[t] = kadd(y0, y2)
            a2[t] = ksub(y0, y2)
            a1[t] = kadd(y1, y3)
            a3[t] = ksub(y1, y3)


@njit(cache=True)
def _dit(a: FeltArray, tw: FeltArray) -> None:
    # bit-reversed input -> natural-order output
    n = a.shape[0]
    blk = min(n, 1 << _BLOCK_LOG)
    for lo in range(0, n, blk):
        _dit_block(a, tw, lo, blk)
    h = blk
    while 2 * h < n:
        _dit_pass4(a, tw, h)
        h *= 4
    if h < n:
        _dit_pass2(a, tw, h)


@njit(cache=True)
def _dif_block(a: FeltArray, tw: FeltArray, lo: int, blk: int) -> None:
    half = blk // 2
    while half >= 1:
        w = tw[half : 2 * half]
        for start in range(lo, lo + blk, 2 * half):
            x = a[start : start + half]
            y = a[start + half : start + 2 * half]
            for t in range(half):
                u = x[t]
                v = y[t]
                x[t] = kadd(u, v)
                y[t] = kmul(ksub(u, v), w[t])
        half //= 2


@njit(cache=True)
def _dif_pass2(a: FeltArray, tw: FeltArray, h: int) -> None:
    w = tw[h : 2 * h]
    for start in range(0, a.shape[0], 2 * h):
        x = a[start : start + h]
        y = a[start + h : start + 2 * h]
        for t in range(h):
            u = x[t]
            v = y[t]
            x[t] = kadd(u, v)
            y[t] = kmul(ksub(u, v), w[t])


@njit(cache=True)
def _dif_pass4(a: FeltArray, tw: FeltArray, h: int) -> None:
    # the DIF stages of half 2h and h fused on a[i], a[i+h], a[i+2h], a[i+3h]
    w1 = tw[h : 2 * h]
    w2 = tw[2 * h : 3 * h]
    w3 = tw[3 * h : 4 * h]
    for start in range(0, a.shape[0], 4 * h):
        a0 = a[start : start + h]
        a1 = a[start + h : start + 2 * h]
        a2 = a[start + 2 * h : start + 3 * h]
        a3 = a[start + 3 * h : start + 4 * h]
        for t in range(h):
            x0 = a0[t]
            x1 = a1[t]
            x2 = a2[t]
            x3 = a3[t]
            y0 = kadd(x0, x2)
            y2 = kmul(ksub(x0, x2), w2[t])
            y1 = kadd(x1, x3)
            y3 = kmul(ksub(x1, x3), w3[t])
            a0[t] = kadd(y0, y1)
            a1[t] = kmul(ksub(y0, y1), w1[t])
            a2[t] = kadd(y2, y3)
            a3[t] = kmul(ksub(y2, y3), w1[t])


@njit(cache=True)
def _dif(a: FeltArray, tw: FeltArray) -> None:
    # natural-order input -> bit-reversed output
    n = a.shape[0]
    blk = min(n, 1 << _BLOCK_LOG)
    h = n // 2
    while h >= blk:
        if h // 2 >= blk:
            _dif_pass4(a, tw, h // 2)
            h //= 4
        else:
            _dif_pass2(a, tw, h)
            h //= 2
    for lo in range(0, n, blk):
        _dif_block(a, tw, lo, blk)


@njit(cache=True)
def _scale_powers_inplace(a: FeltArray, s: np.uint64, c: np.uint64) -> None:
    # a[i] *= c * s^i
    acc = c
    for i in range(a.shape[0]):
        a[i] = kmul(a[i], acc)
        acc = kmul(acc, s)


@njit(cache=True)
def _forward_row(row: FeltArray, tw: FeltArray, s: np.uint64) -> None:
    _scale_powers_inplace(row, s, np.uint64(1))
    _bit_reverse_inplace(row)
    _dit(row, tw)


@njit(cache=True)
def _inverse_row(row: FeltArray, tw_inv: FeltArray, s_inv: np.uint64, n_inv: np.uint64) -> None:
    _bit_reverse_inplace(row)
    _dit(row, tw_inv)
    _scale_powers_inplace(row, s_inv, n_inv)


@njit(cache=True)
def _forward_rows(a: FeltArray, tw: FeltArray, s: np.uint64) -> None:
    for r in range(a.shape[0]):
        _forward_row(a[r], tw, s)


@njit(cache=True, parallel=True)
def _forward_rows_par(a: FeltArray, tw: FeltArray, s: np.uint64) -> None:
    for r in prange(a.shape[0]):
        _forward_row(a[r], tw, s)


@njit(cache=True)
def _inverse_rows(a: FeltArray, tw_inv: FeltArray, s_inv: np.uint64, n_inv: np.uint64) -> None:
    for r in range(a.shape[0]):
        _inverse_row(a[r], tw_inv, s_inv, n_inv)


@njit(cache=True, parallel=True)
def _inverse_rows_par(a: FeltArray, tw_inv: FeltArray, s_inv: np.uint64, n_inv: np.uint64) -> None:
    for r in prange(a.shape[0]):
        _inverse_row(a[r], tw_inv, s_inv, n_inv)


@njit(cache=True)
def _compute_coset_scales(
    cks: FeltArray, n_inv: np.uint64, rev: npt.NDArray[np.int64], n: int
) -> FeltArray:
    # scales[k, j] = n_inv * c_k^rev[j]: the factors that turn bit-reversed coefficients into
    # the input of coset k's DIT; shared by every column of an LDE.
    scales = np.empty((cks.shape[0], n), dtype=np.uint64)
    pw = np.empty(n, dtype=np.uint64)
    for k in range(cks.shape[0]):
        acc = n_inv
        c_k = cks[k]
        for i in range(n):
            pw[i] = acc
            acc = kmul(acc, c_k)
        for j in range(n):
            scales[k, j] = pw[rev[j]]
    return scales


@njit(cache=True)
def _lde_task(
    coeffs_br: FeltArray,
    scales_k: FeltArray,
    tw: FeltArray,
    out: FeltArray,
    k: int,
    blowup: int,
) -> None:
    # Evaluate one column on the coset c_k * <w_n> and write it to out[i * blowup + k].
    # coeffs_br holds n * (coefficients) in bit-reversed order, so scaling coefficient rev[j]
    # by c_k^rev[j] / n and running the DIT (bit-reversed in, natural out) needs no permute.
    n = coeffs_br.shape[0]
    buf = np.empty(n, dtype=np.uint64)
    for j in range(n):
        buf[j] = kmul(coeffs_br[j], scales_k[j])
    _dit(buf, tw)
    for i in range(n):
        out[i * blowup + k] = buf[i]


@njit(cache=True)
def _lde_tasks(coeffs_br: FeltArray, scales: FeltArray, tw: FeltArray, out: FeltArray) -> None:
    blowup = scales.shape[0]
    for task in range(coeffs_br.shape[0] * blowup):
        r = task // blowup
        k = task % blowup
        _lde_task(coeffs_br[r], scales[k], tw, out[r], k, blowup)


@njit(cache=True, parallel=True)
def _lde_tasks_par(coeffs_br: FeltArray, scales: FeltArray, tw: FeltArray, out: FeltArray) -> None:
    blowup = scales.shape[0]
    for task in prange(coeffs_br.shape[0] * blowup):
        r = task // blowup
        k = task % blowup
        _lde_task(coeffs_br[r], scales[k], tw, out[r], k, blowup)


@njit(cache=True)
def _lde_column(
    coeffs_br: FeltArray, scales: FeltArray, tw: FeltArray, out_row: FeltArray, bufs: FeltArray
) -> None:
    # All ``blowup`` cosets of one column into the contiguous buffers ``bufs`` (blowup, n),
    # then one sequential pass interleaving them into out_row[i * blowup + k] (instead of
    # ``blowup`` strided passes).
    n = coeffs_br.shape[0]
    blowup = scales.shape[0]
    for k in range(blowup):
        buf = bufs[k]
        scales_k = scales[k]
        for j in range(n):
            buf[j] = kmul(coeffs_br[j], scales_k[j])
        _dit(buf, tw)
    for i in range(n):
        base = i * blowup
        for k in range(blowup):
            out_row[base + k] = bufs[k, i]


@njit(cache=True, parallel=True)
def _lde_columns_par(
    coeffs_br: FeltArray, scales: FeltArray, tw: FeltArray, out: FeltArray, n_groups: int
) -> None:
    # one group of columns (r = g, g + n_groups, ...) per thread, each with its own buffers
    n_cols = coeffs_br.shape[0]
    for g in prange(n_groups):
        bufs = np.empty((scales.shape[0], coeffs_br.shape[1]), dtype=np.uint64)
        for r in range(g, n_cols, n_groups):
            _lde_column(coeffs_br[r], scales, tw, out[r], bufs)


@njit(cache=True)
def _dif_rows(a: FeltArray, tw: FeltArray) -> None:
    for r in range(a.shape[0]):
        _dif(a[r], tw)


@njit(cache=True, parallel=True)
def _dif_rows_par(a: FeltArray, tw: FeltArray) -> None:
    for r in prange(a.shape[0]):
        _dif(a[r], tw)


# Inputs with at least this many cells use the multi-threaded kernels, with one coarse task
# per column (2-D transforms and multi-column LDEs, each column's cosets computed into
# contiguous buffers and interleaved once) or per (column, coset) pair (a one-column LDE).
# Finer-grained parallelism lost more than it won on this shared 2-core machine.
_PARALLEL_MIN_CELLS = 1 << 16


def _as_2d(a: np.ndarray) -> tuple[FeltArray, bool]:
    # a private C-contiguous (n_cols, n) copy; the canonicity check costs ~1% of a transform
    validate_canonical(a)
    if a.ndim == 1:
        return np.array(a, dtype=np.uint64, order="C").reshape(1, -1), True
    if a.ndim == 2:
        return np.array(a, dtype=np.uint64, order="C"), False
    raise FieldError(FieldErrorReason.BAD_SHAPE, f"expected 1-D or 2-D, got shape {a.shape}")


def _use_parallel(work: FeltArray) -> bool:
    return work.shape[0] > 1 and work.size >= _PARALLEL_MIN_CELLS


def _coset_ntt_2d(work: FeltArray, shift: int) -> None:
    log_n = _log2_exact(work.shape[1])
    tw = _get_stage_twiddles(log_n, False)
    s = np.uint64(int(shift) % P)
    if _use_parallel(work):
        _forward_rows_par(work, tw, s)
    else:
        _forward_rows(work, tw, s)


def _coset_intt_2d(work: FeltArray, shift: int) -> None:
    n = work.shape[1]
    log_n = _log2_exact(n)
    tw_inv = _get_stage_twiddles(log_n, True)
    s_inv = np.uint64(inv(shift))
    n_inv = np.uint64(inv(n))
    if _use_parallel(work):
        _inverse_rows_par(work, tw_inv, s_inv, n_inv)
    else:
        _inverse_rows(work, tw_inv, s_inv, n_inv)


def _check_shift(shift: int) -> None:
    if int(shift) % P == 0:
        raise FieldError(FieldErrorReason.NOT_INVERTIBLE_SHIFT, "coset shift must be non-zero")


# ---------------------------------------------------------------------------------------------
# Public transforms (1-D or (n_cols, n))
# ---------------------------------------------------------------------------------------------


def ntt(coeffs: FeltArray) -> FeltArray:
    """Return the evaluations on <w_n> of the polynomial(s) with these coefficients."""
    work, flat = _as_2d(coeffs)
    _coset_ntt_2d(work, 1)
    return work[0] if flat else work


def intt(evals: FeltArray) -> FeltArray:
    """Return the coefficients of the polynomial(s) taking these evaluations on <w_n>."""
    work, flat = _as_2d(evals)
    _coset_intt_2d(work, 1)
    return work[0] if flat else work


def coset_ntt(coeffs: FeltArray, shift: int) -> FeltArray:
    """Return the evaluations on shift * <w_n> of the polynomial(s) with these coefficients."""
    _check_shift(shift)
    work, flat = _as_2d(coeffs)
    _coset_ntt_2d(work, shift)
    return work[0] if flat else work


def coset_intt(evals: FeltArray, shift: int) -> FeltArray:
    """Return the coefficients of the polynomial(s) taking these evaluations on shift * <w_n>."""
    _check_shift(shift)
    work, flat = _as_2d(evals)
    _coset_intt_2d(work, shift)
    return work[0] if flat else work


def lde(evals: FeltArray, blowup: int, shift: int = GENERATOR) -> FeltArray:
    """Return the low-degree extension of evaluations on <w_n> onto shift * <w_{n*blowup}>.

    A 1-D input of length n gives length n * blowup; a 2-D input (n_cols, n) gives
    (n_cols, n * blowup), ``out[..., i] = f(shift * w_{n*blowup}^i)``. ``blowup`` must be a
    power of two.

    Internally: one inverse DIF transform per column (coefficients in bit-reversed order),
    then for each of the ``blowup`` cosets ``shift * w_N^k * <w_n>`` a size-n DIT transform
    whose results interleave into the output at positions ``i * blowup + k``.
    """
    log_b = _log2_exact(blowup)
    _check_shift(shift)
    work, flat = _as_2d(evals)
    n = work.shape[1]
    log_n = _log2_exact(n)
    _log2_exact(n * blowup)
    if _use_parallel(work):
        _dif_rows_par(work, _get_stage_twiddles(log_n, True))
    else:
        _dif_rows(work, _get_stage_twiddles(log_n, True))
    out = _lde_from_bit_reversed(work, n, log_n, log_b, shift)
    return out[0] if flat else out


def lde_from_coeffs(coeffs: FeltArray, blowup: int, shift: int = GENERATOR) -> FeltArray:
    """Return the evaluations on shift * <w_{n*blowup}> of polynomials of degree < n.

    Same result as ``coset_ntt`` of the coefficients zero-padded to length n * blowup, but
    computed as ``blowup`` size-n transforms (one per coset shift * w_N^k * <w_n>). Accepts
    1-D (n,) or 2-D (n_cols, n) coefficient arrays.
    """
    log_b = _log2_exact(blowup)
    _check_shift(shift)
    work, flat = _as_2d(coeffs)
    n = work.shape[1]
    log_n = _log2_exact(n)
    _log2_exact(n * blowup)
    rev = _get_bit_reverse_index(log_n)
    out = _lde_from_bit_reversed(np.ascontiguousarray(work[:, rev]), 1, log_n, log_b, shift)
    return out[0] if flat else out


@lru_cache(maxsize=4)
def _get_coset_scales(log_n: int, log_b: int, shift: int, n_inv: int) -> FeltArray:
    # (blowup, n) read-only table: coset k = shift * w_N^k, entry j = n_inv * c_k^rev[j]
    n = 1 << log_n
    w_big = get_root_of_unity(log_n + log_b)
    cks = np.array([mul(shift, pow(w_big, k, P)) for k in range(1 << log_b)], dtype=np.uint64)
    table = _compute_coset_scales(cks, np.uint64(n_inv), _get_bit_reverse_index(log_n), n)
    table.setflags(write=False)
    return table


def _lde_from_bit_reversed(
    coeffs_br: FeltArray, scale: int, log_n: int, log_b: int, shift: int
) -> FeltArray:
    # coeffs_br: (n_cols, n) coefficients times ``scale`` in bit-reversed order
    n = 1 << log_n
    blowup = 1 << log_b
    scales = _get_coset_scales(log_n, log_b, int(shift) % P, inv(scale))
    tw = _get_stage_twiddles(log_n, False)
    out = np.empty((coeffs_br.shape[0], n * blowup), dtype=np.uint64)
    if out.size >= _PARALLEL_MIN_CELLS and coeffs_br.shape[0] > 1:
        n_groups = min(coeffs_br.shape[0], numba.get_num_threads())
        _lde_columns_par(coeffs_br, scales, tw, out, n_groups)
    elif out.size >= _PARALLEL_MIN_CELLS and blowup > 1:
        _lde_tasks_par(coeffs_br, scales, tw, out)
    else:
        _lde_tasks(coeffs_br, scales, tw, out)
    return out


# ---------------------------------------------------------------------------------------------
# Extension-field variants, arrays of shape (n, 2)
# ---------------------------------------------------------------------------------------------


def _ext_cols(a: np.ndarray) -> FeltArray:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint64:
        raise FieldError(FieldErrorReason.BAD_DTYPE, "expected a numpy uint64 array")
    if a.ndim != 2 or a.shape[1] != 2:
        raise FieldError(FieldErrorReason.BAD_SHAPE, f"expected shape (n, 2), got {a.shape}")
    return np.ascontiguousarray(a.T)


def ntt_ext(coeffs: FeltArray) -> FeltArray:
    """Return ntt of an (n, 2) extension coefficient array, as (n, 2)."""
    return np.ascontiguousarray(ntt(_ext_cols(coeffs)).T)


def intt_ext(evals: FeltArray) -> FeltArray:
    """Return intt of an (n, 2) extension evaluation array, as (n, 2)."""
    return np.ascontiguousarray(intt(_ext_cols(evals)).T)


def coset_ntt_ext(coeffs: FeltArray, shift: int) -> FeltArray:
    """Return coset_ntt of an (n, 2) extension coefficient array, as (n, 2)."""
    return np.ascontiguousarray(coset_ntt(_ext_cols(coeffs), shift).T)


def coset_intt_ext(evals: FeltArray, shift: int) -> FeltArray:
    """Return coset_intt of an (n, 2) extension evaluation array, as (n, 2)."""
    return np.ascontiguousarray(coset_intt(_ext_cols(evals), shift).T)


def lde_ext(evals: FeltArray, blowup: int, shift: int = GENERATOR) -> FeltArray:
    """Return lde of an (n, 2) extension evaluation array, as (n * blowup, 2)."""
    return np.ascontiguousarray(lde(_ext_cols(evals), blowup, shift).T)
