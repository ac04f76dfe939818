"""NTT, inverse NTT, coset transforms and LDE: compiled path against the readable reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from starkperp.field import ntt as N
from starkperp.field import poly as Q
from starkperp.field.errors import FieldError, FieldErrorReason
from starkperp.field.ext2 import to_ext_array
from starkperp.field.goldilocks import GENERATOR, P, get_root_of_unity
from tests.strategies.field import pow2_felt_lists


def _rand(shape: tuple[int, ...] | int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, P, size=shape, dtype=np.uint64)


def _ints(a: np.ndarray) -> list[int]:
    return [int(x) for x in a.reshape(-1).tolist()]


@pytest.mark.parametrize("log_n", [0, 1, 2, 3, 5])
def test_reference_is_evaluation_on_subgroup(log_n: int) -> None:
    coeffs = _ints(_rand(1 << log_n, log_n))
    w = get_root_of_unity(log_n)
    expected = [Q.evaluate(coeffs, pow(w, i, P)) for i in range(1 << log_n)]
    assert N.ntt_reference(coeffs) == expected
    assert N.intt_reference(expected) == coeffs


@pytest.mark.parametrize("log_n", [0, 1, 2, 3, 4, 7, 10])
def test_fast_ntt_matches_reference(log_n: int) -> None:
    a = _rand(1 << log_n, 100 + log_n)
    ref = N.ntt_reference(_ints(a))
    assert _ints(N.ntt(a)) == ref
    assert _ints(N.intt(np.array(ref, dtype=np.uint64))) == _ints(a)


@settings(max_examples=30, deadline=None)
@given(pow2_felt_lists(max_log_n=6))
def test_ntt_roundtrip_property(coeffs: list[int]) -> None:
    a = np.array(coeffs, dtype=np.uint64)
    assert _ints(N.ntt(a)) == N.ntt_reference(coeffs)
    assert _ints(N.intt(N.ntt(a))) == coeffs


def test_ntt_does_not_modify_input() -> None:
    a = _rand(16, 1)
    before = a.copy()
    N.ntt(a)
    N.lde(a, 2)
    assert (a == before).all()


def test_coset_ntt_evaluates_on_coset() -> None:
    coeffs = _rand(16, 2)
    shift = 11
    w = get_root_of_unity(4)
    expected = [Q.evaluate(coeffs, shift * pow(w, i, P) % P) for i in range(16)]
    evals = N.coset_ntt(coeffs, shift)
    assert _ints(evals) == expected
    assert _ints(N.coset_intt(evals, shift)) == _ints(coeffs)


@pytest.mark.parametrize("n", [1, 2, 8])
@pytest.mark.parametrize("blowup", [1, 2, 8])
def test_lde_extends_the_interpolant(n: int, blowup: int) -> None:
    evals = _rand(n, 3)
    coeffs = N.intt_reference(_ints(evals))
    out = N.lde(evals, blowup)
    w_big = get_root_of_unity((n * blowup).bit_length() - 1)
    expected = [Q.evaluate(coeffs, GENERATOR * pow(w_big, i, P) % P) for i in range(n * blowup)]
    assert _ints(out) == expected
    # the LDE of a degree < n polynomial stays of degree < n
    assert all(c == 0 for c in _ints(N.coset_intt(out, GENERATOR))[n:])


def test_two_dimensional_inputs_transform_each_column() -> None:
    a = _rand((3, 16), 4)
    out = N.ntt(a)
    assert out.shape == (3, 16)
    for r in range(3):
        assert _ints(out[r]) == N.ntt_reference(_ints(a[r]))
    assert (N.intt(out) == a).all()
    big = N.lde(a, 4, shift=5)
    assert big.shape == (3, 64)
    for r in range(3):
        assert (big[r] == N.lde(a[r], 4, shift=5)).all()


def test_parallel_columns_path_matches_serial() -> None:
    # (4, 2^14) reaches the multi-threaded kernels
    a = _rand((4, 1 << 14), 5)
    out = N.ntt(a)
    for r in range(4):
        assert (out[r] == N.ntt(a[r])).all()
    assert (N.intt(out) == a).all()


def test_extension_variants_are_componentwise() -> None:
    vals = [(int(x), int(y)) for x, y in _rand((16, 2), 6).tolist()]
    a = to_ext_array(vals)
    out = N.ntt_ext(a)
    assert out.shape == (16, 2)
    assert _ints(out[:, 0].copy()) == N.ntt_reference([v[0] for v in vals])
    assert _ints(out[:, 1].copy()) == N.ntt_reference([v[1] for v in vals])
    assert (N.intt_ext(out) == a).all()
    assert (N.coset_intt_ext(N.coset_ntt_ext(a, 3), 3) == a).all()
    big = N.lde_ext(a, 2)
    assert big.shape == (32, 2)
    assert (big[:, 0] == N.lde(a[:, 0].copy(), 2)).all()


def test_get_domain_and_twiddles() -> None:
    w = get_root_of_unity(3)
    assert _ints(N.get_domain(3, 7)) == [7 * pow(w, i, P) % P for i in range(8)]
    tw = N.get_twiddles(3)
    assert _ints(tw) == [pow(w, i, P) for i in range(4)]
    assert not tw.flags.writeable
    assert N.get_twiddles(3) is tw


def test_invalid_lengths_and_shifts() -> None:
    with pytest.raises(FieldError) as exc:
        N.ntt(_rand(12, 0))
    assert exc.value.reason is FieldErrorReason.BAD_SIZE
    with pytest.raises(FieldError) as exc:
        N.ntt_reference([])
    assert exc.value.reason is FieldErrorReason.BAD_SIZE
    with pytest.raises(FieldError) as exc:
        N.coset_ntt(_rand(8, 0), P)
    assert exc.value.reason is FieldErrorReason.NOT_INVERTIBLE_SHIFT
    with pytest.raises(FieldError) as exc:
        N.lde(_rand(8, 0), 3)
    assert exc.value.reason is FieldErrorReason.BAD_SIZE
    with pytest.raises(FieldError) as exc:
        N.ntt(_rand((2, 2, 2), 0))
    assert exc.value.reason is FieldErrorReason.BAD_SHAPE
    with pytest.raises(FieldError) as exc:
        N.ntt(np.zeros(8, dtype=np.int64))
    assert exc.value.reason is FieldErrorReason.BAD_DTYPE
    with pytest.raises(FieldError) as exc:
        N.ntt_ext(np.zeros((8, 3), dtype=np.uint64))
    assert exc.value.reason is FieldErrorReason.BAD_SHAPE


@pytest.mark.parametrize("log_n", [12, 13, 14, 15])
def test_blocked_and_fused_passes(log_n: int) -> None:
    # sizes above the 2^12 cache block: one radix-2 outer pass (13, 15) or radix-4 only (14)
    a = _rand(1 << log_n, log_n)
    evals = N.ntt(a)
    if log_n == 13:
        assert _ints(evals) == N.ntt_reference(_ints(a))
    assert (N.intt(evals) == a).all()
    # LDE (DIF inverse + DIT cosets) against the plain definition: pad coefficients, coset NTT
    small = a[: 1 << (log_n - 2)]
    coeffs = N.intt(small)
    padded = np.zeros(1 << log_n, dtype=np.uint64)
    padded[: small.shape[0]] = coeffs
    assert (N.lde(small, 4, shift=3) == N.coset_ntt(padded, 3)).all()


@pytest.mark.parametrize(
    ("shape", "blowup"),
    [((1,), 4), ((16,), 1), ((3, 8), 8), ((2, 1 << 13), 4), ((1, 1 << 13), 8)],
)
def test_lde_from_coeffs_matches_padded_coset_ntt(shape: tuple[int, ...], blowup: int) -> None:
    coeffs = _rand(shape, 8)
    n = shape[-1]
    padded = np.zeros((*shape[:-1], n * blowup), dtype=np.uint64)
    padded[..., :n] = coeffs
    expected = N.coset_ntt(padded, GENERATOR)
    assert (N.lde_from_coeffs(coeffs, blowup) == expected).all()
    assert (N.lde_from_coeffs(coeffs, blowup, shift=5) == N.coset_ntt(padded, 5)).all()


def test_invalid_non_canonical_input() -> None:
    bad = np.array([1, 2, P, 4], dtype=np.uint64)
    for fn in (N.ntt, N.intt, lambda a: N.lde(a, 2), lambda a: N.coset_ntt(a, 3)):
        with pytest.raises(FieldError) as exc:
            fn(bad)
        assert exc.value.reason is FieldErrorReason.NOT_CANONICAL
