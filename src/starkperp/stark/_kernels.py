"""Compiled loops of the STARK prover over extension-field vectors in (2, n) layout.

An extension vector is stored as a ``(2, n)`` uint64 array: row 0 holds the coefficients of
1, row 1 those of X, with X^2 = 7. Element-wise addition and subtraction are the base-field
vector functions applied to the whole array; multiplication needs the loops below.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from starkperp.field.kernels import kadd, kmul, kmul_wide, kreduce128, ksub

_W = np.uint64(7)
_DEEP_BLOCK = 1024  # points per block of the DEEP composition pass
_LAZY_BLOCK = 128  # points per block of the lazy DEEP pass (its transposed copy stays in L1)


@njit(cache=True, parallel=True)
def emul_vv(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out = a * b for (2, n) extension vectors."""
    for i in prange(a.shape[1]):
        a0 = a[0, i]
        a1 = a[1, i]
        b0 = b[0, i]
        b1 = b[1, i]
        out[0, i] = kadd(kmul(a0, b0), kmul(_W, kmul(a1, b1)))
        out[1, i] = kadd(kmul(a0, b1), kmul(a1, b0))


@njit(cache=True, parallel=True)
def emul_vb(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out = a * b for a (2, n) extension vector and an (n,) base vector."""
    for i in prange(a.shape[1]):
        out[0, i] = kmul(a[0, i], b[i])
        out[1, i] = kmul(a[1, i], b[i])


@njit(cache=True, parallel=True)
def emul_vs(a: np.ndarray, s0: np.uint64, s1: np.uint64, out: np.ndarray) -> None:
    """out = a * (s0 + s1 X) for a (2, n) extension vector."""
    for i in prange(a.shape[1]):
        a0 = a[0, i]
        a1 = a[1, i]
        out[0, i] = kadd(kmul(a0, s0), kmul(_W, kmul(a1, s1)))
        out[1, i] = kadd(kmul(a0, s1), kmul(a1, s0))


@njit(cache=True, parallel=True)
def emul_bs(b: np.ndarray, s0: np.uint64, s1: np.uint64, out: np.ndarray) -> None:
    """out = b * (s0 + s1 X) for an (n,) base vector."""
    for i in prange(b.shape[0]):
        out[0, i] = kmul(b[i], s0)
        out[1, i] = kmul(b[i], s1)


@njit(cache=True, parallel=True)
def emul_add_bs(acc: np.ndarray, b: np.ndarray, s0: np.uint64, s1: np.uint64) -> None:
    """acc += b * (s0 + s1 X) for a (2, n) accumulator and an (n,) base vector."""
    for i in prange(b.shape[0]):
        acc[0, i] = kadd(acc[0, i], kmul(b[i], s0))
        acc[1, i] = kadd(acc[1, i], kmul(b[i], s1))


@njit(cache=True, parallel=True)
def emul_add_vs(acc: np.ndarray, a: np.ndarray, s0: np.uint64, s1: np.uint64) -> None:
    """acc += a * (s0 + s1 X) for (2, n) extension vectors."""
    for i in prange(a.shape[1]):
        a0 = a[0, i]
        a1 = a[1, i]
        acc[0, i] = kadd(acc[0, i], kadd(kmul(a0, s0), kmul(_W, kmul(a1, s1))))
        acc[1, i] = kadd(acc[1, i], kadd(kmul(a0, s1), kmul(a1, s0)))


@njit(cache=True, parallel=True)
def fri_fold_reference(
    values: np.ndarray,
    factor: int,
    x_inv: np.ndarray,
    root_inv_powers: np.ndarray,
    beta0: np.uint64,
    beta1: np.uint64,
    f_inv: np.uint64,
    out: np.ndarray,
) -> None:
    """Fold a (2, m) FRI layer by ``factor`` into ``out`` (2, m / factor).

    For position j of the folded layer, the cosets siblings sit at j + k * (m / factor) and
    are x_j * w^k with w a root of unity of order ``factor``. With P(x) = sum_t x^t P_t(x^f),
    P_t(x_j^f) = (1/f) sum_k P(x_j w^k) (x_j w^k)^-t, and the folded value is
    sum_t beta^t P_t(x_j^f). ``x_inv[j]`` is x_j^-1 and ``root_inv_powers[k] = w^-k``.
    The plain twin of :func:`fri_fold`.
    """
    m_out = out.shape[1]
    for j in prange(m_out):
        acc0 = np.uint64(0)
        acc1 = np.uint64(0)
        bp0 = np.uint64(1)
        bp1 = np.uint64(0)
        xt = np.uint64(1)
        for t in range(factor):
            s0 = np.uint64(0)
            s1 = np.uint64(0)
            for k in range(factor):
                w = kmul(xt, root_inv_powers[(k * t) % factor])
                s0 = kadd(s0, kmul(values[0, j + k * m_out], w))
                s1 = kadd(s1, kmul(values[1, j + k * m_out], w))
            s0 = kmul(s0, f_inv)
            s1 = kmul(s1, f_inv)
            acc0 = kadd(acc0, kadd(kmul(s0, bp0), kmul(_W, kmul(s1, bp1))))
            acc1 = kadd(acc1, kadd(kmul(s0, bp1), kmul(s1, bp0)))
            nb0 = kadd(kmul(bp0, beta0), kmul(_W, kmul(bp1, beta1)))
            bp1 = kadd(kmul(bp0, beta1), kmul(bp1, beta0))
            bp0 = nb0
            xt = kmul(xt, x_inv[j])
        out[0, j] = acc0
        out[1, j] = acc1


@njit(cache=True, parallel=True)
def evaluate_rows_at(coefficients: np.ndarray, powers: np.ndarray, out: np.ndarray) -> None:
    """out[r] = sum_i coefficients[r, i] * powers[:, i] (an extension value per row).

    ``coefficients`` is ``(c, n)`` base, ``powers`` is ``(2, n)`` (the powers of the point).
    """
    for r in prange(coefficients.shape[0]):
        s0 = np.uint64(0)
        s1 = np.uint64(0)
        for i in range(coefficients.shape[1]):
            c = coefficients[r, i]
            s0 = kadd(s0, kmul(c, powers[0, i]))
            s1 = kadd(s1, kmul(c, powers[1, i]))
        out[r, 0] = s0
        out[r, 1] = s1


@njit(cache=True, parallel=True)
def linear_norms(xs: np.ndarray, z0: np.uint64, z1: np.uint64, out: np.ndarray) -> None:
    """out[i] = norm(x_i - z) = (x_i - z0)^2 - 7 z1^2 for base points x_i, z = z0 + z1 X."""
    seven_z1_sq = kmul(_W, kmul(z1, z1))
    for i in prange(xs.shape[0]):
        a = ksub(xs[i], z0)
        out[i] = ksub(kmul(a, a), seven_z1_sq)


@njit(cache=True, inline="always")
def _divide_deep_sums(
    s0: np.uint64,
    s1: np.uint64,
    t0: np.uint64,
    t1: np.uint64,
    x: np.uint64,
    points: np.ndarray,
    norm_inverses: np.ndarray,
    i: int,
    out: np.ndarray,
) -> None:
    # out[:, i] = s / (x - z) + t / (x - z g), with 1 / (x - z) = (x - z0 + z1 X) / norm(x - z)
    d0 = kmul(ksub(x, points[0, 0]), norm_inverses[0, i])
    d1 = kmul(points[0, 1], norm_inverses[0, i])
    e0 = kmul(ksub(x, points[1, 0]), norm_inverses[1, i])
    e1 = kmul(points[1, 1], norm_inverses[1, i])
    out[0, i] = kadd(
        kadd(kmul(s0, d0), kmul(_W, kmul(s1, d1))),
        kadd(kmul(t0, e0), kmul(_W, kmul(t1, e1))),
    )
    out[1, i] = kadd(kadd(kmul(s0, d1), kmul(s1, d0)), kadd(kmul(t0, e1), kmul(t1, e0)))


@njit(cache=True, parallel=True)
def deep_combine_reference(
    main: np.ndarray,
    aux: np.ndarray,
    composition: np.ndarray,
    main_coefficients: np.ndarray,
    aux_coefficients: np.ndarray,
    composition_coefficients: np.ndarray,
    constants: np.ndarray,
    xs: np.ndarray,
    points: np.ndarray,
    norm_inverses: np.ndarray,
    out: np.ndarray,
) -> None:
    """Evaluate the DEEP composition polynomial over the domain in one pass.

    ``main`` (w, n) base; ``aux`` (2a, n) and ``composition`` (2d, n) hold (c0, c1) rows.
    ``*_coefficients`` are ``(columns, 4)``: (a0, a1) for the z term, (b0, b1) for the z*g
    term (composition columns use only the z term). ``constants`` is (2, 2): the sums of
    coefficient * value at z and at z*g. ``points`` is (2, 2): z and z*g. ``norm_inverses``
    is (2, n): 1 / norm(x_i - point). Writes
    ``(S_z(x) - K_z) / (x - z) + (S_zg(x) - K_zg) / (x - z g)`` into ``out`` (2, n).

    The plain twin of :func:`deep_combine` (one reduction per product).
    """
    # Blocked: for each block of _DEEP_BLOCK points, sweep the columns one at a time so every
    # column is read sequentially (a wide trace has one memory stream per column otherwise).
    size = xs.shape[0]
    n_blocks = (size + _DEEP_BLOCK - 1) // _DEEP_BLOCK
    for blk in prange(n_blocks):
        lo = blk * _DEEP_BLOCK
        hi = min(size, lo + _DEEP_BLOCK)
        m = hi - lo
        acc = np.zeros((4, m), dtype=np.uint64)
        for c in range(main.shape[0]):
            a0 = main_coefficients[c, 0]
            a1 = main_coefficients[c, 1]
            b0 = main_coefficients[c, 2]
            b1 = main_coefficients[c, 3]
            for j in range(m):
                v = main[c, lo + j]
                acc[0, j] = kadd(acc[0, j], kmul(v, a0))
                acc[1, j] = kadd(acc[1, j], kmul(v, a1))
                acc[2, j] = kadd(acc[2, j], kmul(v, b0))
                acc[3, j] = kadd(acc[3, j], kmul(v, b1))
        for c in range(aux_coefficients.shape[0]):
            a0 = aux_coefficients[c, 0]
            a1 = aux_coefficients[c, 1]
            b0 = aux_coefficients[c, 2]
            b1 = aux_coefficients[c, 3]
            for j in range(m):
                v0 = aux[2 * c, lo + j]
                v1 = aux[2 * c + 1, lo + j]
                acc[0, j] = kadd(acc[0, j], kadd(kmul(v0, a0), kmul(_W, kmul(v1, a1))))
                acc[1, j] = kadd(acc[1, j], kadd(kmul(v0, a1), kmul(v1, a0)))
                acc[2, j] = kadd(acc[2, j], kadd(kmul(v0, b0), kmul(_W, kmul(v1, b1))))
                acc[3, j] = kadd(acc[3, j], kadd(kmul(v0, b1), kmul(v1, b0)))
        for c in range(composition_coefficients.shape[0]):
            a0 = composition_coefficients[c, 0]
            a1 = composition_coefficients[c, 1]
            for j in range(m):
                v0 = composition[2 * c, lo + j]
                v1 = composition[2 * c + 1, lo + j]
                acc[0, j] = kadd(acc[0, j], kadd(kmul(v0, a0), kmul(_W, kmul(v1, a1))))
                acc[1, j] = kadd(acc[1, j], kadd(kmul(v0, a1), kmul(v1, a0)))
        for j in range(m):
            i = lo + j
            s0 = ksub(acc[0, j], constants[0, 0])
            s1 = ksub(acc[1, j], constants[0, 1])
            t0 = ksub(acc[2, j], constants[1, 0])
            t1 = ksub(acc[3, j], constants[1, 1])
            _divide_deep_sums(s0, s1, t0, t1, xs[i], points, norm_inverses, i, out)


@njit(cache=True, parallel=True)
def combine_composition_reference(
    transitions: np.ndarray,
    factor: np.ndarray,
    main: np.ndarray,
    aux: np.ndarray,
    groups: np.ndarray,
    alphas: np.ndarray,
    constants: np.ndarray,
    inverses: np.ndarray,
    out: np.ndarray,
) -> None:
    """Finish the composition polynomial in one pass over the domain.

    ``transitions`` (2, n) is sum alpha_j C_j and ``factor`` (n,) is (x - g^(n-1)) / (x^n - 1).
    Boundary constraint b reads column ``groups[b, 2]`` of the main (``groups[b, 1] == 0``)
    or aux segment, belongs to row group ``groups[b, 0]`` and has coefficient ``alphas[b]``;
    ``constants[r]`` is sum alpha_b v_b of group r and ``inverses[r, i]`` = 1 / (x_i - g^row).
    The plain twin of :func:`combine_composition` (one reduction per product).
    """
    for i in prange(factor.shape[0]):
        f = factor[i]
        h0 = kmul(transitions[0, i], f)
        h1 = kmul(transitions[1, i], f)
        for r in range(constants.shape[0]):
            a0 = ksub(np.uint64(0), constants[r, 0])
            a1 = ksub(np.uint64(0), constants[r, 1])
            for b in range(groups.shape[0]):
                if groups[b, 0] != r:
                    continue
                column = groups[b, 2]
                s0 = alphas[b, 0]
                s1 = alphas[b, 1]
                if groups[b, 1] == 0:
                    v = main[column, i]
                    a0 = kadd(a0, kmul(v, s0))
                    a1 = kadd(a1, kmul(v, s1))
                else:
                    v0 = aux[2 * column, i]
                    v1 = aux[2 * column + 1, i]
                    a0 = kadd(a0, kadd(kmul(v0, s0), kmul(_W, kmul(v1, s1))))
                    a1 = kadd(a1, kadd(kmul(v0, s1), kmul(v1, s0)))
            d = inverses[r, i]
            h0 = kadd(h0, kmul(a0, d))
            h1 = kadd(h1, kmul(a1, d))
        out[0, i] = h0
        out[1, i] = h1


_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


@njit(cache=True, inline="always")
def lazy_reduce(low: np.uint64, high: np.uint64) -> np.uint64:
    """Return (low + high * 2^32) mod p for low, high < 2^64 (sums of split products)."""
    shifted = (high & _MASK32) << _SHIFT32
    lo = low + shifted
    carry = np.uint64(1) if lo < low else np.uint64(0)
    return kreduce128((high >> _SHIFT32) + carry, lo)


_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_TWO_32 = np.uint64(1 << 32)


@njit(cache=True)
def acc_wide(
    lo: np.uint64, hi: np.uint64, top: np.uint64, a: np.uint64, b: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64]:
    """Return (lo, hi, top) + a * b: a 192-bit sum of products, carried but never reduced.

    Start from three zeros, add up to 2^32 products, then :func:`reduce_wide` once.
    """
    ph, pl = kmul_wide(a, b)  # type: ignore[call-arg, arg-type, var-annotated]
    lo = lo + pl
    ph = ph + (_ONE if lo < pl else _ZERO)  # ph <= 2^64 - 2: no overflow
    hi = hi + ph
    top = top + (_ONE if hi < ph else _ZERO)
    return lo, hi, top


@njit(cache=True)
def reduce_wide(lo: np.uint64, hi: np.uint64, top: np.uint64) -> np.uint64:
    """Return (top * 2^128 + hi * 2^64 + lo) mod p for top < 2^32 (2^128 = -2^32 mod p)."""
    return ksub(kreduce128(hi, lo), top * _TWO_32)


@njit(cache=True)
def _deep_sums(
    block: np.ndarray,
    j: int,
    width: int,
    n_ext: int,
    coefficients: np.ndarray,
    part: int,
) -> tuple[np.uint64, np.uint64]:
    # The z (part 0) or z*g (part 1) sum at point j of the block: ``width`` base columns, then
    # ``n_ext`` extension columns as (c0, c1) pairs; ``coefficients`` rows are (a0, a1, b0, b1,
    # 7 a1, 7 b1) and (v0 + v1 X)(c0 + c1 X) = v0 c0 + 7 v1 c1 + (v0 c1 + v1 c0) X.
    k = 2 * part
    l0 = _ZERO
    h0 = _ZERO
    t0 = _ZERO
    l1 = _ZERO
    h1 = _ZERO
    t1 = _ZERO
    for c in range(width):
        v = block[j, c]
        l0, h0, t0 = acc_wide(l0, h0, t0, v, coefficients[c, k])
        l1, h1, t1 = acc_wide(l1, h1, t1, v, coefficients[c, k + 1])
    for e in range(n_ext):
        c = width + e
        v0 = block[j, width + 2 * e]
        v1 = block[j, width + 2 * e + 1]
        l0, h0, t0 = acc_wide(l0, h0, t0, v0, coefficients[c, k])
        l0, h0, t0 = acc_wide(l0, h0, t0, v1, coefficients[c, 4 + part])
        l1, h1, t1 = acc_wide(l1, h1, t1, v0, coefficients[c, k + 1])
        l1, h1, t1 = acc_wide(l1, h1, t1, v1, coefficients[c, k])
    return reduce_wide(l0, h0, t0), reduce_wide(l1, h1, t1)


@njit(cache=True, parallel=True)
def deep_combine(
    main: np.ndarray,
    aux: np.ndarray,
    composition: np.ndarray,
    main_coefficients: np.ndarray,
    aux_coefficients: np.ndarray,
    composition_coefficients: np.ndarray,
    constants: np.ndarray,
    xs: np.ndarray,
    points: np.ndarray,
    norm_inverses: np.ndarray,
    out: np.ndarray,
) -> None:
    """Evaluate the DEEP composition polynomial over the domain in one pass (fast path).

    Same arguments and result as :func:`deep_combine_reference`. Every product of a column
    value by a coefficient is accumulated unreduced into a 192-bit sum that is reduced once
    per point, and each block of points is first copied point-major, so the columns are read
    sequentially and the inner loops run over contiguous memory.
    """
    size = xs.shape[0]
    width = main.shape[0]
    n_aux = aux_coefficients.shape[0]
    n_comp = composition_coefficients.shape[0]
    n_ext = n_aux + n_comp
    coefficients = np.zeros((width + n_ext, 6), dtype=np.uint64)
    for c in range(width):
        for t in range(4):
            coefficients[c, t] = main_coefficients[c, t]
    for e in range(n_aux):
        for t in range(4):
            coefficients[width + e, t] = aux_coefficients[e, t]
    for e in range(n_comp):
        for t in range(2):
            coefficients[width + n_aux + e, t] = composition_coefficients[e, t]
    for c in range(width, width + n_ext):
        coefficients[c, 4] = kmul(_W, coefficients[c, 1])
        coefficients[c, 5] = kmul(_W, coefficients[c, 3])
    columns = width + 2 * n_ext
    n_blocks = (size + _LAZY_BLOCK - 1) // _LAZY_BLOCK
    for blk in prange(n_blocks):
        lo = blk * _LAZY_BLOCK
        m = min(size, lo + _LAZY_BLOCK) - lo
        block = np.empty((m, columns), dtype=np.uint64)
        for c in range(width):
            for j in range(m):
                block[j, c] = main[c, lo + j]
        for c in range(2 * n_aux):
            for j in range(m):
                block[j, width + c] = aux[c, lo + j]
        for c in range(2 * n_comp):
            for j in range(m):
                block[j, width + 2 * n_aux + c] = composition[c, lo + j]
        for j in range(m):
            i = lo + j
            # the composition columns have no z*g term
            s0, s1 = _deep_sums(block, j, width, n_ext, coefficients, 0)
            t0, t1 = _deep_sums(block, j, width, n_aux, coefficients, 1)
            s0 = ksub(s0, constants[0, 0])
            s1 = ksub(s1, constants[0, 1])
            t0 = ksub(t0, constants[1, 0])
            t1 = ksub(t1, constants[1, 1])
            _divide_deep_sums(s0, s1, t0, t1, xs[i], points, norm_inverses, i, out)


@njit(cache=True, parallel=True)
def combine_composition(
    transitions: np.ndarray,
    factor: np.ndarray,
    main: np.ndarray,
    aux: np.ndarray,
    groups: np.ndarray,
    alphas: np.ndarray,
    constants: np.ndarray,
    inverses: np.ndarray,
    out: np.ndarray,
) -> None:
    """Finish the composition polynomial in one pass over the domain (fast path).

    Same arguments and result as :func:`combine_composition_reference`; the boundary sums of
    each row group are accumulated unreduced (:func:`acc_wide`) and reduced once per point.
    """
    n_boundaries = groups.shape[0]
    # boundary b's coefficient with 7 * a1 for the aux products, and minus the group constants
    alpha7 = np.empty(n_boundaries, dtype=np.uint64)
    for b in range(n_boundaries):
        alpha7[b] = kmul(_W, alphas[b, 1])
    for i in prange(factor.shape[0]):
        f = factor[i]
        h0 = kmul(transitions[0, i], f)
        h1 = kmul(transitions[1, i], f)
        for r in range(constants.shape[0]):
            l0 = _ZERO
            m0 = _ZERO
            t0 = _ZERO
            l1 = _ZERO
            m1 = _ZERO
            t1 = _ZERO
            for b in range(n_boundaries):
                if groups[b, 0] != r:
                    continue
                column = groups[b, 2]
                if groups[b, 1] == 0:
                    v = main[column, i]
                    l0, m0, t0 = acc_wide(l0, m0, t0, v, alphas[b, 0])
                    l1, m1, t1 = acc_wide(l1, m1, t1, v, alphas[b, 1])
                else:
                    v0 = aux[2 * column, i]
                    v1 = aux[2 * column + 1, i]
                    l0, m0, t0 = acc_wide(l0, m0, t0, v0, alphas[b, 0])
                    l0, m0, t0 = acc_wide(l0, m0, t0, v1, alpha7[b])
                    l1, m1, t1 = acc_wide(l1, m1, t1, v0, alphas[b, 1])
                    l1, m1, t1 = acc_wide(l1, m1, t1, v1, alphas[b, 0])
            a0 = ksub(reduce_wide(l0, m0, t0), constants[r, 0])
            a1 = ksub(reduce_wide(l1, m1, t1), constants[r, 1])
            d = inverses[r, i]
            h0 = kadd(h0, kmul(a0, d))
            h1 = kadd(h1, kmul(a1, d))
        out[0, i] = h0
        out[1, i] = h1


@njit(cache=True, parallel=True)
def fri_fold(
    values: np.ndarray,
    factor: int,
    x_inv: np.ndarray,
    root_inv_powers: np.ndarray,
    beta0: np.uint64,
    beta1: np.uint64,
    f_inv: np.uint64,
    out: np.ndarray,
) -> None:
    """Fold a (2, m) FRI layer by ``factor`` into ``out`` (fast path, same values).

    As :func:`fri_fold_reference`, but with P_t(x_j^f) = (x_j^-t / f) sum_k P(x_j w^k) w^-kt:
    the inner sums use the fixed roots and are accumulated unreduced (:func:`acc_wide`), and
    x_j^-t / f multiplies once per t.
    """
    m_out = out.shape[1]
    for j in prange(m_out):
        acc0 = np.uint64(0)
        acc1 = np.uint64(0)
        bp0 = np.uint64(1)
        bp1 = np.uint64(0)
        xt = f_inv
        for t in range(factor):
            l0 = _ZERO
            h0 = _ZERO
            u0 = _ZERO
            l1 = _ZERO
            h1 = _ZERO
            u1 = _ZERO
            for k in range(factor):
                w = root_inv_powers[(k * t) % factor]
                l0, h0, u0 = acc_wide(l0, h0, u0, values[0, j + k * m_out], w)
                l1, h1, u1 = acc_wide(l1, h1, u1, values[1, j + k * m_out], w)
            s0 = kmul(reduce_wide(l0, h0, u0), xt)
            s1 = kmul(reduce_wide(l1, h1, u1), xt)
            acc0 = kadd(acc0, kadd(kmul(s0, bp0), kmul(_W, kmul(s1, bp1))))
            acc1 = kadd(acc1, kadd(kmul(s0, bp1), kmul(s1, bp0)))
            nb0 = kadd(kmul(bp0, beta0), kmul(_W, kmul(bp1, beta1)))
            bp1 = kadd(kmul(bp0, beta1), kmul(bp1, beta0))
            bp0 = nb0
            xt = kmul(xt, x_inv[j])
        out[0, j] = acc0
        out[1, j] = acc1
