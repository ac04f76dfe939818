"""The prover's compiled fast paths agree with their plain twins, value for value."""

from __future__ import annotations

import numpy as np
import pytest

from starkperp.field.goldilocks import P
from starkperp.stark import _kernels as k


def _random(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(0, P, size=shape, dtype=np.uint64)


def _deep_arguments(
    rng: np.random.Generator, width: int, n_aux: int, n_comp: int, size: int
) -> tuple[np.ndarray, ...]:
    return (
        _random(rng, width, size),
        _random(rng, 2 * n_aux, size),
        _random(rng, 2 * n_comp, size),
        _random(rng, width, 4),
        _random(rng, n_aux, 4),
        _random(rng, n_comp, 2),
        _random(rng, 2, 2),
        _random(rng, size),
        _random(rng, 2, 2),
        _random(rng, 2, size),
    )


@pytest.mark.parametrize(
    ("width", "n_aux", "n_comp", "size"),
    [(12, 0, 7, 4096), (3, 2, 2, 300), (130, 3, 8, 257), (1, 0, 1, 1)],
)
def test_lazy_deep_combine_matches_reference(
    width: int, n_aux: int, n_comp: int, size: int
) -> None:
    rng = np.random.default_rng(width * 1000 + size)
    arguments = _deep_arguments(rng, width, n_aux, n_comp, size)
    expected = np.empty((2, size), dtype=np.uint64)
    actual = np.empty((2, size), dtype=np.uint64)
    k.deep_combine_reference(*arguments, expected)
    k.deep_combine(*arguments, actual)
    assert np.array_equal(actual, expected)


def test_lazy_deep_combine_extreme_values() -> None:
    # every value p - 1: the unreduced 192-bit sums carry at every step
    arguments = tuple(
        np.full_like(a, P - 1) for a in _deep_arguments(np.random.default_rng(0), 200, 2, 8, 64)
    )
    expected = np.empty((2, 64), dtype=np.uint64)
    actual = np.empty((2, 64), dtype=np.uint64)
    k.deep_combine_reference(*arguments, expected)
    k.deep_combine(*arguments, actual)
    assert np.array_equal(actual, expected)


@pytest.mark.parametrize(
    ("width", "n_aux", "n_boundaries", "n_groups"), [(12, 0, 24, 2), (4, 3, 9, 3)]
)
def test_lazy_combine_composition_matches_reference(
    width: int, n_aux: int, n_boundaries: int, n_groups: int
) -> None:
    rng = np.random.default_rng(n_boundaries)
    size = 512
    groups = np.array(
        [
            (
                b % n_groups,
                int(b % 3 == 0 and n_aux > 0),
                b % (n_aux if b % 3 == 0 and n_aux else width),
            )
            for b in range(n_boundaries)
        ],
        dtype=np.int64,
    )
    arguments = (
        _random(rng, 2, size),
        _random(rng, size),
        _random(rng, width, size),
        _random(rng, 2 * n_aux, size),
        groups,
        _random(rng, n_boundaries, 2),
        _random(rng, n_groups, 2),
        _random(rng, n_groups, size),
    )
    expected = np.empty((2, size), dtype=np.uint64)
    actual = np.empty((2, size), dtype=np.uint64)
    k.combine_composition_reference(*arguments, expected)
    k.combine_composition(*arguments, actual)
    assert np.array_equal(actual, expected)
    extreme = tuple(a if a.dtype != np.uint64 else np.full_like(a, P - 1) for a in arguments)
    k.combine_composition_reference(*extreme, expected)
    k.combine_composition(*extreme, actual)
    assert np.array_equal(actual, expected)


@pytest.mark.parametrize(("factor", "m_out"), [(2, 64), (4, 33), (8, 512)])
def test_fast_fri_fold_matches_reference(factor: int, m_out: int) -> None:
    rng = np.random.default_rng(factor)
    values = _random(rng, 2, factor * m_out)
    x_inv = _random(rng, m_out)
    roots = _random(rng, factor)
    scalars = tuple(np.uint64(v) for v in _random(rng, 3))
    expected = np.empty((2, m_out), dtype=np.uint64)
    actual = np.empty((2, m_out), dtype=np.uint64)
    k.fri_fold_reference(values, factor, x_inv, roots, *scalars, expected)
    k.fri_fold(values, factor, x_inv, roots, *scalars, actual)
    assert np.array_equal(actual, expected)
    extreme = np.full_like(values, P - 1)
    k.fri_fold_reference(extreme, factor, x_inv, roots, *scalars, expected)
    k.fri_fold(extreme, factor, x_inv, roots, *scalars, actual)
    assert np.array_equal(actual, expected)
