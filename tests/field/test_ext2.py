"""The quadratic extension F_p[X]/(X^2 - 7): scalar reference and compiled vectors."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings

from starkperp.field import ext2 as e
from starkperp.field.errors import FieldError, FieldErrorReason
from starkperp.field.goldilocks import P
from tests.strategies.field import EDGE_VALUES, ext2s, felts, nonzero_ext2s


def _rows(a: np.ndarray) -> list[tuple[int, int]]:
    return [(int(x), int(y)) for x, y in a.tolist()]


def _sample(seed: int, n: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    out = [(a, b) for a in EDGE_VALUES[:6] for b in EDGE_VALUES[:6]]
    return out + [(rng.randrange(P), rng.randrange(P)) for _ in range(n)]


def test_seven_is_a_non_residue() -> None:
    assert pow(7, (P - 1) // 2, P) == P - 1


def test_x_squared_is_seven() -> None:
    assert e.emul((0, 1), (0, 1)) == (7, 0)


@settings(deadline=None)
@given(ext2s, ext2s, ext2s)
def test_field_axioms(a: e.Ext2, b: e.Ext2, c: e.Ext2) -> None:
    assert e.emul(a, b) == e.emul(b, a)
    assert e.emul(a, e.eadd(b, c)) == e.eadd(e.emul(a, b), e.emul(a, c))
    assert e.emul(e.emul(a, b), c) == e.emul(a, e.emul(b, c))
    assert e.esub(e.eadd(a, b), b) == a
    assert e.eadd(a, e.eneg(a)) == e.EZERO


@settings(deadline=None)
@given(nonzero_ext2s)
def test_inverse(a: e.Ext2) -> None:
    assert e.emul(a, e.einv(a)) == e.EONE
    assert e.ediv(a, a) == e.EONE
    assert e.emul(e.epow(a, 5), e.epow(a, -5)) == e.EONE


@settings(deadline=None)
@given(felts)
def test_base_embedding(a: int) -> None:
    assert e.emul(e.from_base(a), e.from_base(3)) == ((a * 3) % P, 0)


def test_frobenius_order() -> None:
    # every non-zero element satisfies a^(p^2 - 1) = 1
    a = (123456789, 987654321)
    assert e.epow(a, P * P - 1) == e.EONE


def test_invalid_inverse_of_zero() -> None:
    with pytest.raises(FieldError) as exc:
        e.einv((0, 0))
    assert exc.value.reason is FieldErrorReason.DIVISION_BY_ZERO


def test_vector_ops_match_reference() -> None:
    xs = _sample(1, 300)
    ys = list(reversed(xs))
    a, b = e.to_ext_array(xs), e.to_ext_array(ys)
    assert _rows(e.veadd(a, b)) == [e.eadd(x, y) for x, y in zip(xs, ys)]
    assert _rows(e.vesub(a, b)) == [e.esub(x, y) for x, y in zip(xs, ys)]
    assert _rows(e.veneg(a)) == [e.eneg(x) for x in xs]
    assert _rows(e.vemul(a, b)) == [e.emul(x, y) for x, y in zip(xs, ys)]
    s = (P - 5, 77)
    assert _rows(e.vescale(a, s)) == [e.emul(x, s) for x in xs]
    base = np.array([y[0] for y in ys], dtype=np.uint64)
    assert _rows(e.vemul_base(a, base)) == [e.emul(x, (y[0], 0)) for x, y in zip(xs, ys)]
    nz = [x for x in xs if x != (0, 0)]
    assert _rows(e.vebatch_inv(e.to_ext_array(nz))) == [e.einv(x) for x in nz]
    assert _rows(e.vepowers(s, 5)) == [e.epow(s, i) for i in range(5)]


def test_is_canonical_ext() -> None:
    assert e.is_canonical_ext((0, P - 1))
    assert not e.is_canonical_ext((0, P))
    assert not e.is_canonical_ext((1, 2, 3))
    assert not e.is_canonical_ext([1, 2])


def test_invalid_vector_inputs() -> None:
    with pytest.raises(FieldError) as exc:
        e.vemul(np.zeros((3, 3), dtype=np.uint64), np.zeros((3, 3), dtype=np.uint64))
    assert exc.value.reason is FieldErrorReason.BAD_SHAPE
    with pytest.raises(FieldError) as exc:
        e.vemul(np.zeros((3, 2), dtype=np.uint64), np.zeros((4, 2), dtype=np.uint64))
    assert exc.value.reason is FieldErrorReason.BAD_SHAPE
    with pytest.raises(FieldError) as exc:
        e.vemul_base(np.zeros((3, 2), dtype=np.uint64), np.zeros(4, dtype=np.uint64))
    assert exc.value.reason is FieldErrorReason.BAD_SHAPE
    with pytest.raises(FieldError) as exc:
        e.vebatch_inv(e.to_ext_array([(1, 0), (0, 0)]))
    assert exc.value.reason is FieldErrorReason.DIVISION_BY_ZERO
    with pytest.raises(FieldError) as exc:
        e.veadd(np.zeros((3, 2), dtype=np.float64), np.zeros((3, 2), dtype=np.uint64))
    assert exc.value.reason is FieldErrorReason.BAD_DTYPE


def test_numpy_scalars_do_not_wrap() -> None:
    a = (np.uint64(P - 1), np.uint64(P - 2))
    b = (P - 1, P - 2)
    assert e.emul(a, a) == e.emul(b, b)  # type: ignore[arg-type]
    assert e.eadd(a, a) == e.eadd(b, b)  # type: ignore[arg-type]
    assert e.einv(a) == e.einv(b)  # type: ignore[arg-type]
    assert e.epow(a, np.uint64(5)) == e.epow(b, 5)  # type: ignore[arg-type]
