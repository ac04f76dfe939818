"""The Goldilocks prime field F_p, p = 2^64 - 2^32 + 1.

Two faces of the same field:

* **Scalars** are Python ints in ``[0, p)`` (typed :data:`Felt`); numpy integers are accepted
  and converted with ``int`` first, so a uint64 never wraps silently. The functions ``add``,
  ``sub``, ``mul``, ``neg``, ``inv``, ``pow_`` and ``div`` are the readable reference: plain
  modular arithmetic, used by the verifier and as the oracle of every test.
* **Vectors** are numpy ``uint64`` arrays of canonical elements, of any shape (1-D, or 2-D
  ``(n_cols, n)`` for traces). ``vadd``, ``vsub``, ``vmul``, ``vneg``, ``vscale``, ``vpow``,
  ``vbatch_inv`` and ``vpowers`` run compiled numba loops built on
  :mod:`starkperp.field.kernels` and are tested against the scalar reference.

Inputs to the vector functions must already be canonical (``< p``); use :func:`to_array`
to reduce arbitrary integers and :func:`validate_canonical` at trust boundaries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NewType

import numpy as np
import numpy.typing as npt
from numba import njit

from starkperp.field.errors import FieldError, FieldErrorReason
from starkperp.field.kernels import kadd, kinv, kmul, kneg, kpow, ksub

Felt = NewType("Felt", int)
FeltArray = npt.NDArray[np.uint64]

P = 2**64 - 2**32 + 1
GENERATOR = 7
TWO_ADICITY = 32
ZERO = Felt(0)
ONE = Felt(1)

__all__ = [
    "GENERATOR",
    "ONE",
    "P",
    "TWO_ADICITY",
    "ZERO",
    "Felt",
    "FeltArray",
    "add",
    "div",
    "from_int",
    "get_root_of_unity",
    "inv",
    "is_canonical",
    "mul",
    "neg",
    "pow_",
    "sub",
    "to_array",
    "validate_canonical",
    "vadd",
    "vbatch_inv",
    "vmul",
    "vneg",
    "vpow",
    "vpowers",
    "vscale",
    "vsub",
]

# ---------------------------------------------------------------------------------------------
# Scalar reference
# ---------------------------------------------------------------------------------------------


def from_int(x: int) -> Felt:
    """Return the field element congruent to any integer ``x`` (negative allowed)."""
    return Felt(int(x) % P)


def is_canonical(x: int) -> bool:
    """Return whether ``x`` is an int in ``[0, p)``."""
    return 0 <= x < P


def add(a: int, b: int) -> Felt:
    """Return a + b."""
    return Felt((int(a) + int(b)) % P)


def sub(a: int, b: int) -> Felt:
    """Return a - b."""
    return Felt((int(a) - int(b)) % P)


def mul(a: int, b: int) -> Felt:
    """Return a * b."""
    return Felt((int(a) * int(b)) % P)


def neg(a: int) -> Felt:
    """Return -a."""
    return Felt((-int(a)) % P)


def pow_(a: int, e: int) -> Felt:
    """Return a^e for an exponent e >= 0 (0^0 = 1)."""
    a, e = int(a), int(e)
    if e < 0:
        return inv(pow(a, -e, P))
    return Felt(pow(a, e, P))


def inv(a: int) -> Felt:
    """Return a^-1; raise FieldError(DIVISION_BY_ZERO) for a = 0."""
    a = int(a) % P
    if a == 0:
        raise FieldError(FieldErrorReason.DIVISION_BY_ZERO, "zero has no inverse")
    return Felt(pow(a, P - 2, P))


def div(a: int, b: int) -> Felt:
    """Return a / b; raise FieldError(DIVISION_BY_ZERO) for b = 0."""
    return mul(a, inv(b))


def get_root_of_unity(log_n: int) -> Felt:
    """Return the primitive 2^log_n-th root of unity GENERATOR^((p-1) / 2^log_n)."""
    if not 0 <= log_n <= TWO_ADICITY:
        raise FieldError(
            FieldErrorReason.TWO_ADICITY_EXCEEDED,
            f"log_n must be in [0, {TWO_ADICITY}], got {log_n}",
        )
    return Felt(pow(GENERATOR, (P - 1) >> log_n, P))


# ---------------------------------------------------------------------------------------------
# Array helpers
# ---------------------------------------------------------------------------------------------


def to_array(values: Iterable[int]) -> FeltArray:
    """Return a 1-D uint64 array of the given integers reduced modulo p."""
    return np.array([int(v) % P for v in values], dtype=np.uint64)


def validate_canonical(a: np.ndarray) -> None:
    """Raise FieldError unless ``a`` is a uint64 array with every entry below p."""
    if not isinstance(a, np.ndarray) or a.dtype != np.uint64:
        raise FieldError(FieldErrorReason.BAD_DTYPE, "expected a numpy uint64 array")
    if a.size and int(a.max()) >= P:
        raise FieldError(FieldErrorReason.NOT_CANONICAL, "array holds entries >= p")


def _as_u64(a: np.ndarray) -> FeltArray:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint64:
        raise FieldError(FieldErrorReason.BAD_DTYPE, "expected a numpy uint64 array")
    return np.ascontiguousarray(a)


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise FieldError(FieldErrorReason.BAD_SHAPE, f"shapes differ: {a.shape} vs {b.shape}")


# ---------------------------------------------------------------------------------------------
# Compiled loops (flat, contiguous)
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _vadd_k(a: FeltArray, b: FeltArray, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        out[i] = kadd(a[i], b[i])


@njit(cache=True)
def _vsub_k(a: FeltArray, b: FeltArray, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        out[i] = ksub(a[i], b[i])


@njit(cache=True)
def _vmul_k(a: FeltArray, b: FeltArray, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        out[i] = kmul(a[i], b[i])


@njit(cache=True)
def _vneg_k(a: FeltArray, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        out[i] = kneg(a[i])


@njit(cache=True)
def _vscale_k(a: FeltArray, s: np.uint64, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        out[i] = kmul(a[i], s)


@njit(cache=True)
def _vpow_k(a: FeltArray, e: np.uint64, out: FeltArray) -> None:
    for i in range(a.shape[0]):
        out[i] = kpow(a[i], e)


@njit(cache=True)
def _vpowers_k(base: np.uint64, out: FeltArray) -> None:
    acc = np.uint64(1)
    for i in range(out.shape[0]):
        out[i] = acc
        acc = kmul(acc, base)


@njit(cache=True)
def _vbatch_inv_k(a: FeltArray, out: FeltArray) -> None:
    # Montgomery's trick: prefix products, one inversion, then walk back.
    n = a.shape[0]
    if n == 0:
        return
    acc = np.uint64(1)
    for i in range(n):
        out[i] = acc
        acc = kmul(acc, a[i])
    inv_acc = kinv(acc)
    for i in range(n - 1, -1, -1):
        out[i] = kmul(out[i], inv_acc)
        inv_acc = kmul(inv_acc, a[i])


# ---------------------------------------------------------------------------------------------
# Vector API (any shape; element-wise)
# ---------------------------------------------------------------------------------------------


def vadd(a: FeltArray, b: FeltArray) -> FeltArray:
    """Return a + b element-wise (same shape)."""
    a, b = _as_u64(a), _as_u64(b)
    _same_shape(a, b)
    out = np.empty_like(a)
    _vadd_k(a.reshape(-1), b.reshape(-1), out.reshape(-1))
    return out


def vsub(a: FeltArray, b: FeltArray) -> FeltArray:
    """Return a - b element-wise (same shape)."""
    a, b = _as_u64(a), _as_u64(b)
    _same_shape(a, b)
    out = np.empty_like(a)
    _vsub_k(a.reshape(-1), b.reshape(-1), out.reshape(-1))
    return out


def vmul(a: FeltArray, b: FeltArray) -> FeltArray:
    """Return a * b element-wise (same shape)."""
    a, b = _as_u64(a), _as_u64(b)
    _same_shape(a, b)
    out = np.empty_like(a)
    _vmul_k(a.reshape(-1), b.reshape(-1), out.reshape(-1))
    return out


def vneg(a: FeltArray) -> FeltArray:
    """Return -a element-wise."""
    a = _as_u64(a)
    out = np.empty_like(a)
    _vneg_k(a.reshape(-1), out.reshape(-1))
    return out


def vscale(a: FeltArray, s: int) -> FeltArray:
    """Return s * a for a scalar s."""
    a = _as_u64(a)
    out = np.empty_like(a)
    _vscale_k(a.reshape(-1), np.uint64(int(s) % P), out.reshape(-1))
    return out


def vpow(a: FeltArray, e: int) -> FeltArray:
    """Return a^e element-wise for an exponent e >= 0 (0^0 = 1)."""
    e = int(e)
    if e < 0:
        return vpow(vbatch_inv(a), -e)
    a = _as_u64(a)
    if e >= 2**64:
        # x^e = x^(e mod (p-1)) for x != 0; keep a non-zero exponent so 0^e stays 0.
        e = e % (P - 1) or (P - 1)
    out = np.empty_like(a)
    _vpow_k(a.reshape(-1), np.uint64(e), out.reshape(-1))
    return out


def vpowers(base: int, n: int) -> FeltArray:
    """Return the 1-D array [1, base, base^2, ..., base^(n-1)]."""
    if n < 0:
        raise FieldError(FieldErrorReason.BAD_SIZE, f"n must be >= 0, got {n}")
    out = np.empty(n, dtype=np.uint64)
    _vpowers_k(np.uint64(int(base) % P), out)
    return out


def vbatch_inv(a: FeltArray) -> FeltArray:
    """Return a^-1 element-wise (Montgomery batch inversion); zero entries are rejected."""
    a = _as_u64(a)
    if a.size and not np.all(a):
        raise FieldError(FieldErrorReason.DIVISION_BY_ZERO, "array holds a zero entry")
    out = np.empty_like(a)
    _vbatch_inv_k(a.reshape(-1), out.reshape(-1))
    return out
