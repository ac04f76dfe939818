"""Compiled scalar primitives: both multiplications and the reductions against Python ints."""

from __future__ import annotations

import random

import numpy as np
from numba import njit

from starkperp.field import kernels as k
from starkperp.field.goldilocks import P
from tests.strategies.field import EDGE_VALUES


@njit(cache=True)
def _apply_all(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(a.shape[0]):
        out[0, i] = k.kadd(a[i], b[i])
        out[1, i] = k.ksub(a[i], b[i])
        out[2, i] = k.kmul(a[i], b[i])
        out[3, i] = k.kmul_split(a[i], b[i])
        out[4, i] = k.kneg(a[i])
        out[5, i] = k.kpow(a[i], b[i] & np.uint64(0xFFFF))
        out[6, i] = k.kreduce128(a[i] | np.uint64(1 << 63), b[i])
        c0, c1 = k.kemul(a[i], b[i], b[i], a[i])
        out[7, i] = c0
        out[8, i] = c1


def test_primitives_match_python_integers() -> None:
    rng = random.Random(4)
    xs = [x for x in EDGE_VALUES for _ in EDGE_VALUES] + [rng.randrange(P) for _ in range(3000)]
    ys = [y for _ in EDGE_VALUES for y in EDGE_VALUES] + [rng.randrange(P) for _ in range(3000)]
    a = np.array(xs, dtype=np.uint64)
    b = np.array(ys, dtype=np.uint64)
    out = np.zeros((9, len(xs)), dtype=np.uint64)
    _apply_all(a, b, out)
    rows = [[int(v) for v in r] for r in out.tolist()]
    assert rows[0] == [(x + y) % P for x, y in zip(xs, ys)]
    assert rows[1] == [(x - y) % P for x, y in zip(xs, ys)]
    assert rows[2] == [(x * y) % P for x, y in zip(xs, ys)]
    assert rows[3] == rows[2]
    assert rows[4] == [(-x) % P for x in xs]
    assert rows[5] == [pow(x, y & 0xFFFF, P) for x, y in zip(xs, ys)]
    assert rows[6] == [(((x | 1 << 63) << 64) + y) % P for x, y in zip(xs, ys)]
    assert rows[7] == [(x * y + 7 * y * x) % P for x, y in zip(xs, ys)]
    assert rows[8] == [(x * x + y * y) % P for x, y in zip(xs, ys)]


@njit(cache=True)
def _inverses(a: np.ndarray, out: np.ndarray) -> None:
    for i in range(a.shape[0]):
        out[0, i] = k.kinv(a[i])
        e0, e1 = k.keinv(a[i], a[a.shape[0] - 1 - i])
        out[1, i] = e0
        out[2, i] = e1


def test_inverses() -> None:
    xs = [1, 2, P - 1, 2**32, 123456789123456789]
    a = np.array(xs, dtype=np.uint64)
    out = np.zeros((3, len(xs)), dtype=np.uint64)
    _inverses(a, out)
    for i, x in enumerate(xs):
        assert int(out[0, i]) * x % P == 1
        y = xs[len(xs) - 1 - i]
        e0, e1 = int(out[1, i]), int(out[2, i])
        # (x + yX)(e0 + e1X) = 1 in F_p[X]/(X^2 - 7)
        assert (x * e0 + 7 * y * e1) % P == 1
        assert (x * e1 + y * e0) % P == 0
