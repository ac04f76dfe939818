"""Polynomials over Goldilocks and its quadratic extension, in coefficient form.

A polynomial is its coefficient list, lowest degree first: ``[c0, c1, ...]`` means
``c0 + c1 X + ...``. Base coefficients are ints (or a 1-D uint64 array); extension
coefficients are :data:`~starkperp.field.ext2.Ext2` pairs (or an ``(n, 2)`` uint64 array).

The helpers are what a STARK needs: Horner evaluation (base or extension point), Lagrange
interpolation, multiplication (schoolbook or NTT), division by a linear factor ``X - z``,
and the vanishing polynomial ``X^n - 1`` of a 2-power subgroup, evaluated on points, on a
whole coset domain, or at an extension point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from starkperp.field.errors import FieldError, FieldErrorReason
from starkperp.field.ext2 import EONE, EZERO, Ext2, eadd, emul, epow, esub
from starkperp.field.goldilocks import (
    Felt,
    FeltArray,
    P,
    get_root_of_unity,
    inv,
    vmul,
    vpow,
    vpowers,
)
from starkperp.field.goldilocks import (
    mul as fmul,
)
from starkperp.field.kernels import kadd, kmul, ksub
from starkperp.field.ntt import intt, ntt

__all__ = [
    "div_by_linear",
    "div_by_linear_ext",
    "evaluate",
    "evaluate_ext",
    "get_zerofier_on_coset",
    "interpolate",
    "mul",
    "vevaluate_ext",
    "zerofier_eval",
    "zerofier_eval_ext",
]

_SCHOOLBOOK_MAX = 64


def _ints(coeffs: Sequence[int] | FeltArray) -> list[int]:
    if isinstance(coeffs, np.ndarray):
        return [int(c) for c in coeffs.tolist()]
    return [int(c) % P for c in coeffs]


def _exts(coeffs: Sequence[int] | Sequence[Ext2] | FeltArray) -> list[Ext2]:
    if isinstance(coeffs, np.ndarray):
        if coeffs.ndim == 1:
            return [(int(c), 0) for c in coeffs.tolist()]
        return [(int(a), int(b)) for a, b in coeffs.tolist()]
    out: list[Ext2] = []
    for c in coeffs:
        if isinstance(c, tuple):
            out.append((int(c[0]) % P, int(c[1]) % P))
        else:
            out.append((int(c) % P, 0))
    return out


def evaluate(coeffs: Sequence[int] | FeltArray, x: int) -> Felt:
    """Return f(x) for base coefficients and a base point (Horner)."""
    acc = 0
    x = int(x)
    for c in reversed(_ints(coeffs)):
        acc = (acc * x + c) % P
    return Felt(acc)


def evaluate_ext(coeffs: Sequence[int] | Sequence[Ext2] | FeltArray, x: Ext2) -> Ext2:
    """Return f(x) for base or extension coefficients and an extension point (Horner)."""
    acc: Ext2 = EZERO
    for c in reversed(_exts(coeffs)):
        acc = eadd(emul(acc, x), c)
    return acc


@njit(cache=True)
def _horner_ext_rows(coeffs: FeltArray, x0: np.uint64, x1: np.uint64, out: FeltArray) -> None:
    w = np.uint64(7)
    for r in range(coeffs.shape[0]):
        a0 = np.uint64(0)
        a1 = np.uint64(0)
        for j in range(coeffs.shape[1] - 1, -1, -1):
            t0 = kadd(kmul(a0, x0), kmul(w, kmul(a1, x1)))
            a1 = kadd(kmul(a0, x1), kmul(a1, x0))
            a0 = kadd(t0, coeffs[r, j])
        out[r, 0] = a0
        out[r, 1] = a1


def vevaluate_ext(coeffs: FeltArray, x: Ext2) -> FeltArray:
    """Return f_r(x) for each row r of an (n_cols, n) base coefficient array, as (n_cols, 2).

    A 1-D coefficient array gives shape (1, 2).
    """
    if not isinstance(coeffs, np.ndarray) or coeffs.dtype != np.uint64:
        raise FieldError(FieldErrorReason.BAD_DTYPE, "expected a numpy uint64 array")
    if coeffs.ndim == 1:
        coeffs = coeffs.reshape(1, -1)
    if coeffs.ndim != 2:
        raise FieldError(FieldErrorReason.BAD_SHAPE, f"expected 1-D or 2-D, got {coeffs.shape}")
    out = np.zeros((coeffs.shape[0], 2), dtype=np.uint64)
    _horner_ext_rows(
        np.ascontiguousarray(coeffs), np.uint64(int(x[0]) % P), np.uint64(int(x[1]) % P), out
    )
    return out


def interpolate(xs: Sequence[int], ys: Sequence[int]) -> list[Felt]:
    """Return the coefficients (length len(xs)) of the polynomial through (xs[i], ys[i]).

    Lagrange interpolation in O(n^2); the points must be distinct.
    """
    if len(xs) != len(ys):
        raise FieldError(FieldErrorReason.BAD_SHAPE, f"{len(xs)} points but {len(ys)} values")
    pts = [int(x) % P for x in xs]
    if len(set(pts)) != len(pts):
        raise FieldError(FieldErrorReason.DUPLICATE_POINTS, "interpolation points repeat")
    n = len(pts)
    # full(X) = prod (X - x_j); each basis numerator is full / (X - x_i).
    full = [1]
    for xj in pts:
        full = _mul_schoolbook(full, [(-xj) % P, 1])
    result = [0] * n
    for i, xi in enumerate(pts):
        num, _ = div_by_linear(full, xi)
        denom = evaluate(num, xi)
        scale = fmul(int(ys[i]) % P, inv(denom))
        for k in range(n):
            result[k] = (result[k] + scale * num[k]) % P
    return [Felt(c) for c in result]


def _mul_schoolbook(a: Sequence[int], b: Sequence[int]) -> list[int]:
    out = [0] * (len(a) + len(b) - 1)
    for i, ai in enumerate(a):
        if ai == 0:
            continue
        for j, bj in enumerate(b):
            out[i + j] = (out[i + j] + ai * bj) % P
    return out


def mul(a: Sequence[int] | FeltArray, b: Sequence[int] | FeltArray) -> list[Felt]:
    """Return the coefficients of a(X) * b(X) (schoolbook when small, NTT otherwise)."""
    aa, bb = _ints(a), _ints(b)
    if not aa or not bb:
        return []
    if min(len(aa), len(bb)) <= _SCHOOLBOOK_MAX:
        return [Felt(c) for c in _mul_schoolbook(aa, bb)]
    n_out = len(aa) + len(bb) - 1
    size = 1 << (n_out - 1).bit_length()
    fa = np.zeros(size, dtype=np.uint64)
    fb = np.zeros(size, dtype=np.uint64)
    fa[: len(aa)] = aa
    fb[: len(bb)] = bb
    prod = intt(vmul(ntt(fa), ntt(fb)))
    return [Felt(int(c)) for c in prod[:n_out].tolist()]


def div_by_linear(coeffs: Sequence[int] | FeltArray, z: int) -> tuple[list[Felt], Felt]:
    """Return (q, r) with f(X) = q(X) (X - z) + r; r = f(z) (synthetic division)."""
    cs = _ints(coeffs)
    if not cs:
        return [], Felt(0)
    z = int(z) % P
    q = [0] * (len(cs) - 1)
    acc = 0
    for k in range(len(cs) - 1, 0, -1):
        acc = (acc * z + cs[k]) % P
        q[k - 1] = acc
    rem = (acc * z + cs[0]) % P
    return [Felt(c) for c in q], Felt(rem)


def div_by_linear_ext(
    coeffs: Sequence[int] | Sequence[Ext2] | FeltArray, z: Ext2
) -> tuple[list[Ext2], Ext2]:
    """Return (q, r) with f(X) = q(X) (X - z) + r over the extension; r = f(z)."""
    cs = _exts(coeffs)
    if not cs:
        return [], EZERO
    q: list[Ext2] = [EZERO] * (len(cs) - 1)
    acc: Ext2 = EZERO
    for k in range(len(cs) - 1, 0, -1):
        acc = eadd(emul(acc, z), cs[k])
        q[k - 1] = acc
    return q, eadd(emul(acc, z), cs[0])


@njit(cache=True)
def _minus_one_k(a: FeltArray) -> None:
    one = np.uint64(1)
    for i in range(a.shape[0]):
        a[i] = ksub(a[i], one)


def zerofier_eval(points: FeltArray, n: int) -> FeltArray:
    """Return x^n - 1 for every point x of a uint64 array (the vanishing poly of <w_n>)."""
    out = vpow(points, n)
    flat = out.reshape(-1)
    _minus_one_k(flat)
    return out


def zerofier_eval_ext(z: Ext2, n: int) -> Ext2:
    """Return z^n - 1 at an extension point z."""
    return esub(epow(z, n), EONE)


def get_zerofier_on_coset(n: int, blowup: int, shift: int) -> FeltArray:
    """Return x^n - 1 over the domain shift * <w_{n*blowup}> (natural order, length n*blowup).

    On that domain x^n = shift^n * w_blowup^i takes only ``blowup`` values, so the result is
    periodic with period ``blowup``.
    """
    if n <= 0 or n & (n - 1) or blowup <= 0 or blowup & (blowup - 1):
        raise FieldError(FieldErrorReason.BAD_SIZE, "n and blowup must be powers of two")
    log_b = blowup.bit_length() - 1
    period = vpowers(get_root_of_unity(log_b), blowup)
    shift_n = pow(int(shift) % P, n, P)
    vals = np.array([(shift_n * int(v) - 1) % P for v in period.tolist()], dtype=np.uint64)
    return np.tile(vals, n)
