"""Goldilocks scalar reference and the compiled vector ops, tested against each other."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.field import goldilocks as g
from starkperp.field.errors import FieldError, FieldErrorReason
from starkperp.field.goldilocks import P
from tests.strategies.field import EDGE_VALUES, felt_lists, felts, nonzero_felts


def _arr(xs: list[int]) -> np.ndarray:
    return np.array(xs, dtype=np.uint64)


def _ints(a: np.ndarray) -> list[int]:
    return [int(x) for x in a.reshape(-1).tolist()]


def _pairs(seed: int, n: int) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    xs = EDGE_VALUES + [rng.randrange(P) for _ in range(n)]
    ys = [EDGE_VALUES[(i * 7) % len(EDGE_VALUES)] for i in range(len(EDGE_VALUES))]
    ys += [rng.randrange(P) for _ in range(n)]
    # every edge value against every edge value, too
    for a in EDGE_VALUES:
        for b in EDGE_VALUES:
            xs.append(a)
            ys.append(b)
    return xs, ys


def test_constants() -> None:
    assert P == 0xFFFFFFFF00000001
    # 7 generates the whole multiplicative group: order p - 1 = 2^32 * 3 * 5 * 17 * 257 * 65537
    for q in (2, 3, 5, 17, 257, 65537):
        assert pow(g.GENERATOR, (P - 1) // q, P) != 1
    w = g.get_root_of_unity(g.TWO_ADICITY)
    assert w == 1753635133440165772
    assert pow(w, 2**32, P) == 1 and pow(w, 2**31, P) == P - 1


@pytest.mark.parametrize("log_n", [0, 1, 2, 5, 17, 32])
def test_root_of_unity_has_exact_order(log_n: int) -> None:
    w = g.get_root_of_unity(log_n)
    assert pow(w, 1 << log_n, P) == 1
    if log_n:
        assert pow(w, 1 << (log_n - 1), P) == P - 1


def test_invalid_root_of_unity_beyond_two_adicity() -> None:
    with pytest.raises(FieldError) as exc:
        g.get_root_of_unity(33)
    assert exc.value.reason is FieldErrorReason.TWO_ADICITY_EXCEEDED


@settings(deadline=None)
@given(felts, felts)
def test_scalar_ops_are_field_ops(a: int, b: int) -> None:
    assert g.add(a, b) == (a + b) % P
    assert g.sub(g.add(a, b), b) == a
    assert g.mul(a, b) == (a * b) % P
    assert g.add(a, g.neg(a)) == 0
    if b:
        assert g.mul(g.div(a, b), b) == a
        assert g.mul(b, g.inv(b)) == 1
    assert g.pow_(a, 5) == pow(a, 5, P)


@settings(deadline=None)
@given(nonzero_felts, st.integers(min_value=-50, max_value=50))
def test_pow_negative_exponent_inverts(a: int, e: int) -> None:
    assert g.mul(g.pow_(a, e), g.pow_(a, -e)) == 1


def test_invalid_inverse_of_zero() -> None:
    for fn in (lambda: g.inv(0), lambda: g.div(5, 0), lambda: g.inv(P)):
        with pytest.raises(FieldError) as exc:
            fn()
        assert exc.value.reason is FieldErrorReason.DIVISION_BY_ZERO


def test_from_int_and_to_array_reduce() -> None:
    assert g.from_int(-1) == P - 1
    assert g.from_int(P + 5) == 5
    assert _ints(g.to_array([-1, P, 2**70])) == [P - 1, 0, 2**70 % P]
    assert g.is_canonical(P - 1) and not g.is_canonical(P) and not g.is_canonical(-1)


def test_vector_ops_match_reference_on_edge_and_random_values() -> None:
    xs, ys = _pairs(11, 3000)
    a, b = _arr(xs), _arr(ys)
    assert _ints(g.vadd(a, b)) == [g.add(x, y) for x, y in zip(xs, ys)]
    assert _ints(g.vsub(a, b)) == [g.sub(x, y) for x, y in zip(xs, ys)]
    assert _ints(g.vmul(a, b)) == [g.mul(x, y) for x, y in zip(xs, ys)]
    assert _ints(g.vneg(a)) == [g.neg(x) for x in xs]
    assert _ints(g.vscale(a, P - 3)) == [g.mul(x, P - 3) for x in xs]
    assert _ints(g.vpow(a, 7)) == [g.pow_(x, 7) for x in xs]
    nz = [x for x in xs if x]
    assert _ints(g.vbatch_inv(_arr(nz))) == [g.inv(x) for x in nz]


@settings(max_examples=50, deadline=None)
@given(felt_lists(max_size=40), felt_lists(max_size=40))
def test_vmul_property(xs: list[int], ys: list[int]) -> None:
    n = min(len(xs), len(ys))
    xs, ys = xs[:n], ys[:n]
    assert _ints(g.vmul(_arr(xs), _arr(ys))) == [(x * y) % P for x, y in zip(xs, ys)]
    assert _ints(g.vadd(_arr(xs), _arr(ys))) == [(x + y) % P for x, y in zip(xs, ys)]
    assert _ints(g.vsub(_arr(xs), _arr(ys))) == [(x - y) % P for x, y in zip(xs, ys)]


def test_vector_ops_keep_2d_shape() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, P, size=(3, 8), dtype=np.uint64)
    b = rng.integers(0, P, size=(3, 8), dtype=np.uint64)
    out = g.vmul(a, b)
    assert out.shape == (3, 8)
    assert _ints(out) == [g.mul(x, y) for x, y in zip(_ints(a), _ints(b))]
    assert g.vbatch_inv(a | np.uint64(1)).shape == (3, 8)
    # non-contiguous views are accepted
    assert _ints(g.vadd(a.T, b.T)) == _ints(g.vadd(a, b).T.copy())


def test_vpow_large_and_negative_exponents() -> None:
    xs = [0, 1, 5, P - 1, 123456789]
    a = _arr(xs)
    for e in (0, 1, 2**64 + 3, P - 1, 3 * (P - 1)):
        assert _ints(g.vpow(a, e)) == [pow(x, e, P) for x in xs]
    nz = _arr([1, 5, P - 1])
    assert _ints(g.vpow(nz, -3)) == [g.pow_(x, -3) for x in (1, 5, P - 1)]


def test_vpowers() -> None:
    assert _ints(g.vpowers(3, 6)) == [pow(3, i, P) for i in range(6)]
    assert _ints(g.vpowers(P - 1, 3)) == [1, P - 1, 1]
    assert g.vpowers(5, 0).shape == (0,)


def test_invalid_batch_inverse_with_zero() -> None:
    with pytest.raises(FieldError) as exc:
        g.vbatch_inv(_arr([1, 0, 3]))
    assert exc.value.reason is FieldErrorReason.DIVISION_BY_ZERO


def test_invalid_shapes_and_dtypes() -> None:
    with pytest.raises(FieldError) as exc:
        g.vadd(_arr([1, 2]), _arr([1, 2, 3]))
    assert exc.value.reason is FieldErrorReason.BAD_SHAPE
    with pytest.raises(FieldError) as exc:
        g.vmul(np.array([1, 2], dtype=np.int64), _arr([1, 2]))
    assert exc.value.reason is FieldErrorReason.BAD_DTYPE
    with pytest.raises(FieldError) as exc:
        g.vpowers(2, -1)
    assert exc.value.reason is FieldErrorReason.BAD_SIZE


def test_invalid_non_canonical_array() -> None:
    with pytest.raises(FieldError) as exc:
        g.validate_canonical(np.array([1, P], dtype=np.uint64))
    assert exc.value.reason is FieldErrorReason.NOT_CANONICAL
    with pytest.raises(FieldError) as exc:
        g.validate_canonical(np.array([1], dtype=np.int64))
    assert exc.value.reason is FieldErrorReason.BAD_DTYPE
    g.validate_canonical(np.array([0, P - 1], dtype=np.uint64))


def test_numpy_scalars_do_not_wrap() -> None:
    a = np.uint64(P - 1)
    b = np.uint64(P - 2)
    assert g.mul(a, b) == (P - 1) * (P - 2) % P
    assert g.add(a, b) == (2 * P - 3) % P
    assert g.sub(np.uint64(0), a) == 1
    assert g.pow_(a, np.uint64(3)) == pow(P - 1, 3, P)
    assert g.inv(a) == P - 1
    assert g.to_array([a, b]).tolist() == [P - 1, P - 2]
    assert _ints(g.vscale(_arr([2]), np.int64(-1))) == [P - 2]
