"""Polynomial helpers: evaluation, interpolation, multiplication, division, zerofiers."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings

from starkperp.field import poly as Q
from starkperp.field.errors import FieldError, FieldErrorReason
from starkperp.field.ext2 import EZERO, eadd, emul, esub, from_base
from starkperp.field.goldilocks import P, get_root_of_unity
from starkperp.field.ntt import get_domain
from tests.strategies.field import ext2s, felt_lists, felts


def _rand(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(P) for _ in range(n)]


def test_evaluate_small_cases() -> None:
    assert Q.evaluate([], 5) == 0
    assert Q.evaluate([3], 5) == 3
    assert Q.evaluate([1, 2, 3], 10) == 321
    assert Q.evaluate([0, 1], P - 1) == P - 1
    assert Q.evaluate(np.array([1, 2, 3], dtype=np.uint64), 10) == 321


@settings(deadline=None)
@given(felt_lists(max_size=12), ext2s)
def test_evaluate_ext_agrees_with_base_on_base_points(coeffs: list[int], z: tuple) -> None:
    x = z[0]
    assert Q.evaluate_ext(coeffs, from_base(x)) == (Q.evaluate(coeffs, x), 0)
    # extension-coefficient form of the same polynomial gives the same value
    ext_coeffs = [from_base(c) for c in coeffs]
    assert Q.evaluate_ext(ext_coeffs, z) == Q.evaluate_ext(coeffs, z)


def test_vevaluate_ext_matches_scalar() -> None:
    rows = np.array([_rand(9, 1), _rand(9, 2), [0] * 9], dtype=np.uint64)
    z = (123, P - 7)
    out = Q.vevaluate_ext(rows, z)
    assert out.shape == (3, 2)
    for r in range(3):
        assert (int(out[r, 0]), int(out[r, 1])) == Q.evaluate_ext(rows[r], z)
    assert Q.vevaluate_ext(rows[0], z).shape == (1, 2)


@settings(max_examples=25, deadline=None)
@given(felt_lists(min_size=1, max_size=10))
def test_interpolate_roundtrip(coeffs: list[int]) -> None:
    xs = _rand(len(coeffs), len(coeffs))
    ys = [Q.evaluate(coeffs, x) for x in xs]
    assert Q.interpolate(xs, ys) == coeffs


def test_interpolate_on_subgroup_matches_intt() -> None:
    from starkperp.field.ntt import intt_reference

    ys = _rand(8, 3)
    w = get_root_of_unity(3)
    xs = [pow(w, i, P) for i in range(8)]
    assert Q.interpolate(xs, ys) == intt_reference(ys)


def test_invalid_interpolation_inputs() -> None:
    with pytest.raises(FieldError) as exc:
        Q.interpolate([1, 2, 1], [3, 4, 5])
    assert exc.value.reason is FieldErrorReason.DUPLICATE_POINTS
    with pytest.raises(FieldError) as exc:
        Q.interpolate([1, 2], [3])
    assert exc.value.reason is FieldErrorReason.BAD_SHAPE


@pytest.mark.parametrize("sizes", [(1, 1), (3, 5), (70, 90), (200, 65)])
def test_mul_matches_pointwise_product(sizes: tuple[int, int]) -> None:
    a, b = _rand(sizes[0], 10), _rand(sizes[1], 11)
    prod = Q.mul(a, b)
    assert len(prod) == sizes[0] + sizes[1] - 1
    for x in _rand(4, 12):
        assert Q.evaluate(prod, x) == Q.evaluate(a, x) * Q.evaluate(b, x) % P
    assert Q.mul([], a) == []


@settings(deadline=None)
@given(felt_lists(max_size=15), felts, felts)
def test_div_by_linear(coeffs: list[int], z: int, x: int) -> None:
    q, r = Q.div_by_linear(coeffs, z)
    assert r == Q.evaluate(coeffs, z)
    assert len(q) == max(0, len(coeffs) - 1)
    # f(x) = q(x) (x - z) + r at a random point
    assert Q.evaluate(coeffs, x) == (Q.evaluate(q, x) * (x - z) + r) % P


@settings(deadline=None)
@given(felt_lists(min_size=1, max_size=10), ext2s, ext2s)
def test_div_by_linear_ext(coeffs: list[int], z: tuple, x: tuple) -> None:
    q, r = Q.div_by_linear_ext(coeffs, z)
    assert r == Q.evaluate_ext(coeffs, z)
    # f(x) = q(x) (x - z) + r at a random point
    lhs = Q.evaluate_ext(coeffs, x)
    rhs = eadd(emul(Q.evaluate_ext(q, x), esub(x, z)), r)
    assert lhs == rhs
    assert Q.div_by_linear_ext([], z) == ([], EZERO)


def test_zerofiers() -> None:
    n, blowup, shift = 8, 4, 7
    domain = get_domain(5, shift)
    direct = Q.zerofier_eval(domain, n)
    assert [int(v) for v in direct] == [(pow(int(x), n, P) - 1) % P for x in domain]
    assert (Q.get_zerofier_on_coset(n, blowup, shift) == direct).all()
    # vanishes on the subgroup itself
    assert not Q.zerofier_eval(get_domain(3), n).any()
    z = (5, 9)
    assert Q.zerofier_eval_ext(z, 4) == esub(Q.evaluate_ext([0, 0, 0, 0, 1], z), (1, 0))
    with pytest.raises(FieldError):
        Q.get_zerofier_on_coset(6, 4, 7)
