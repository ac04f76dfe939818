"""The quadratic extension F_p2 = F_p[X] / (X^2 - 7) of the Goldilocks field.

7 is a quadratic non-residue modulo p, so X^2 - 7 is irreducible and F_p2 has p^2 elements
(about 2^128), which is where STARK challenges are drawn from.

* **Scalars** are tuples ``(a0, a1)`` meaning ``a0 + a1 * X`` (typed :data:`Ext2`), with the
  readable reference ``eadd, esub, emul, eneg, einv, epow, ediv, from_base``.
* **Vectors** are numpy uint64 arrays of shape ``(n, 2)``: column 0 holds a0, column 1 holds a1.
  ``veadd, vesub, veneg, vemul, vemul_base, vescale, vebatch_inv, vepowers`` are compiled.

Multiplication: ``(a0 + a1 X)(b0 + b1 X) = (a0 b0 + 7 a1 b1) + (a0 b1 + a1 b0) X``.
Inversion: ``(a0 + a1 X)^-1 = (a0 - a1 X) / (a0^2 - 7 a1^2)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from starkperp.field.errors import FieldError, FieldErrorReason
from starkperp.field.goldilocks import Felt, FeltArray, P, inv, vadd, vbatch_inv, vneg, vsub
from starkperp.field.kernels import kadd, kmul, ksub

Ext2 = tuple[int, int]
NON_RESIDUE = 7
EZERO: Ext2 = (0, 0)
EONE: Ext2 = (1, 0)

__all__ = [
    "EONE",
    "EZERO",
    "NON_RESIDUE",
    "Ext2",
    "eadd",
    "ediv",
    "einv",
    "emul",
    "eneg",
    "epow",
    "esub",
    "from_base",
    "is_canonical_ext",
    "to_ext_array",
    "veadd",
    "vebatch_inv",
    "vemul",
    "vemul_base",
    "veneg",
    "vepowers",
    "vescale",
    "vesub",
]

_W = np.uint64(NON_RESIDUE)

# ---------------------------------------------------------------------------------------------
# Scalar reference
# ---------------------------------------------------------------------------------------------


def from_base(a: int) -> Ext2:
    """Embed a base-field element a as a + 0 X."""
    return (int(a) % P, 0)


def is_canonical_ext(a: object) -> bool:
    """Return whether ``a`` is a pair of ints in ``[0, p)``."""
    return (
        isinstance(a, tuple) and len(a) == 2 and all(isinstance(c, int) and 0 <= c < P for c in a)
    )


def eadd(a: Ext2, b: Ext2) -> Ext2:
    """Return a + b."""
    return ((int(a[0]) + int(b[0])) % P, (int(a[1]) + int(b[1])) % P)


def esub(a: Ext2, b: Ext2) -> Ext2:
    """Return a - b."""
    return ((int(a[0]) - int(b[0])) % P, (int(a[1]) - int(b[1])) % P)


def eneg(a: Ext2) -> Ext2:
    """Return -a."""
    return ((-int(a[0])) % P, (-int(a[1])) % P)


def emul(a: Ext2, b: Ext2) -> Ext2:
    """Return a * b."""
    a0, a1 = int(a[0]), int(a[1])
    b0, b1 = int(b[0]), int(b[1])
    return ((a0 * b0 + NON_RESIDUE * a1 * b1) % P, (a0 * b1 + a1 * b0) % P)


def einv(a: Ext2) -> Ext2:
    """Return a^-1; raise FieldError(DIVISION_BY_ZERO) for a = 0."""
    a0, a1 = int(a[0]), int(a[1])
    norm = (a0 * a0 - NON_RESIDUE * a1 * a1) % P
    if norm == 0:
        raise FieldError(FieldErrorReason.DIVISION_BY_ZERO, "zero has no inverse")
    n_inv: Felt = inv(norm)
    return ((a0 * n_inv) % P, (-a1 * n_inv) % P)


def ediv(a: Ext2, b: Ext2) -> Ext2:
    """Return a / b."""
    return emul(a, einv(b))


def epow(a: Ext2, e: int) -> Ext2:
    """Return a^e (negative e inverts first; 0^0 = 1)."""
    e = int(e)
    if e < 0:
        return epow(einv(a), -e)
    result: Ext2 = EONE
    base = (int(a[0]) % P, int(a[1]) % P)
    while e:
        if e & 1:
            result = emul(result, base)
        base = emul(base, base)
        e >>= 1
    return result


# ---------------------------------------------------------------------------------------------
# Compiled loops
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _vemul_k(a: FeltArray, b: FeltArray, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        a0 = a[i, 0]
        a1 = a[i, 1]
        b0 = b[i, 0]
        b1 = b[i, 1]
        out[i, 0] = kadd(kmul(a0, b0), kmul(_W, kmul(a1, b1)))
        out[i, 1] = kadd(kmul(a0, b1), kmul(a1, b0))


@njit(cache=True)
def _vemul_base_k(a: FeltArray, b: FeltArray, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        out[i, 0] = kmul(a[i, 0], b[i])
        out[i, 1] = kmul(a[i, 1], b[i])


@njit(cache=True)
def _vescale_k(a: FeltArray, s0: np.uint64, s1: np.uint64, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        a0 = a[i, 0]
        a1 = a[i, 1]
        out[i, 0] = kadd(kmul(a0, s0), kmul(_W, kmul(a1, s1)))
        out[i, 1] = kadd(kmul(a0, s1), kmul(a1, s0))


@njit(cache=True)
def _vnorm_k(a: FeltArray, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        a0 = a[i, 0]
        a1 = a[i, 1]
        out[i] = ksub(kmul(a0, a0), kmul(_W, kmul(a1, a1)))


@njit(cache=True)
def _vepowers_k(s0: np.uint64, s1: np.uint64, out: FeltArray) -> None:
    c0 = np.uint64(1)
    c1 = np.uint64(0)
    for i in range(out.shape[0]):
        out[i, 0] = c0
        out[i, 1] = c1
        t0 = kadd(kmul(c0, s0), kmul(_W, kmul(c1, s1)))
        c1 = kadd(kmul(c0, s1), kmul(c1, s0))
        c0 = t0


# ---------------------------------------------------------------------------------------------
# Vector API, arrays of shape (n, 2)
# ---------------------------------------------------------------------------------------------


def _as_ext(a: np.ndarray) -> FeltArray:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint64:
        raise FieldError(FieldErrorReason.BAD_DTYPE, "expected a numpy uint64 array")
    if a.ndim != 2 or a.shape[1] != 2:
        raise FieldError(FieldErrorReason.BAD_SHAPE, f"expected shape (n, 2), got {a.shape}")
    return np.ascontiguousarray(a)


def to_ext_array(values: list[Ext2]) -> FeltArray:
    """Return an (n, 2) uint64 array of the given extension elements reduced modulo p."""
    out = np.empty((len(values), 2), dtype=np.uint64)
    for i, (a0, a1) in enumerate(values):
        out[i, 0] = int(a0) % P
        out[i, 1] = int(a1) % P
    return out


def veadd(a: FeltArray, b: FeltArray) -> FeltArray:
    """Return a + b for (n, 2) arrays."""
    return vadd(_as_ext(a), _as_ext(b))


def vesub(a: FeltArray, b: FeltArray) -> FeltArray:
    """Return a - b for (n, 2) arrays."""
    return vsub(_as_ext(a), _as_ext(b))


def veneg(a: FeltArray) -> FeltArray:
    """Return -a for an (n, 2) array."""
    return vneg(_as_ext(a))


def vemul(a: FeltArray, b: FeltArray) -> FeltArray:
    """Return a * b for (n, 2) arrays."""
    a, b = _as_ext(a), _as_ext(b)
    if a.shape != b.shape:
        raise FieldError(FieldErrorReason.BAD_SHAPE, f"shapes differ: {a.shape} vs {b.shape}")
    out = np.empty_like(a)
    _vemul_k(a, b, out)
    return out


def vemul_base(a: FeltArray, b: FeltArray) -> FeltArray:
    """Return a * b for an (n, 2) extension array a and a length-n base array b."""
    a = _as_ext(a)
    if not isinstance(b, np.ndarray) or b.dtype != np.uint64:
        raise FieldError(FieldErrorReason.BAD_DTYPE, "expected a numpy uint64 array")
    if b.shape != (a.shape[0],):
        raise FieldError(FieldErrorReason.BAD_SHAPE, f"expected ({a.shape[0]},), got {b.shape}")
    out = np.empty_like(a)
    _vemul_base_k(a, np.ascontiguousarray(b), out)
    return out


def vescale(a: FeltArray, s: Ext2) -> FeltArray:
    """Return s * a for an (n, 2) array a and an extension scalar s."""
    a = _as_ext(a)
    out = np.empty_like(a)
    _vescale_k(a, np.uint64(int(s[0]) % P), np.uint64(int(s[1]) % P), out)
    return out


def vepowers(s: Ext2, n: int) -> FeltArray:
    """Return the (n, 2) array [1, s, s^2, ..., s^(n-1)]."""
    if n < 0:
        raise FieldError(FieldErrorReason.BAD_SIZE, f"n must be >= 0, got {n}")
    out = np.empty((n, 2), dtype=np.uint64)
    _vepowers_k(np.uint64(int(s[0]) % P), np.uint64(int(s[1]) % P), out)
    return out


def vebatch_inv(a: FeltArray) -> FeltArray:
    """Return a^-1 for an (n, 2) array (one batch inversion of the norms); zeros are rejected."""
    a = _as_ext(a)
    norms = np.empty(a.shape[0], dtype=np.uint64)
    _vnorm_k(a, norms)
    # the norm is zero exactly when the element is zero (X^2 - 7 is irreducible)
    n_inv = vbatch_inv(norms)
    conj = np.empty_like(a)
    conj[:, 0] = a[:, 0]
    conj[:, 1] = vneg(a[:, 1].copy())
    return vemul_base(conj, n_inv)
