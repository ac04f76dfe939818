"""RPO: Miden's published constants and test vectors; compiled batch paths vs the reference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from starkperp.crypto import rpo
from starkperp.crypto.errors import CryptoError, CryptoErrorReason
from starkperp.field.goldilocks import P
from tests.strategies.field import felt_lists, felts

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rpo"


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def _rows(a: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(int(x) for x in r) for r in a.tolist()]


def test_constants_match_miden() -> None:
    c = _load("miden_constants.json")
    assert [list(r) for r in rpo.MDS] == c["MDS"]
    assert [list(r) for r in rpo.ARK1] == c["ARK1"]
    assert [list(r) for r in rpo.ARK2] == c["ARK2"]
    assert rpo.NUM_ROUNDS == c["NUM_ROUNDS"] == 7
    assert rpo.INV_ALPHA == c["INV_ALPHA"]
    assert rpo.ALPHA * rpo.INV_ALPHA % (P - 1) == 1


@pytest.mark.parametrize("k", range(20))
def test_hash_elements_matches_miden_vectors(k: int) -> None:
    vec = _load("miden_hash_elements.json")["vectors"][k]
    assert vec["elements"] == list(range(k))
    assert list(rpo.hash_elements_reference(vec["elements"])) == vec["digest"]
    assert list(rpo.hash_elements(vec["elements"])) == vec["digest"]


def test_sbox_roundtrip() -> None:
    state = [3, 0, 1, P - 1, 2**32, 12345678901234, 7, 8, 9, 10, 11, 2**63]
    assert rpo.apply_inv_sbox(rpo.apply_sbox(state)) == state


def test_merge_equals_hashing_eight_elements() -> None:
    a, b = (1, 2, 3, 4), (5, 6, 7, 8)
    assert rpo.merge(a, b) == rpo.hash_elements([*a, *b])
    assert rpo.merge_reference(a, b) == rpo.hash_elements_reference([*a, *b])
    assert rpo.merge(a, b) == rpo.merge_reference(a, b)
    assert rpo.hash_elements([]) == rpo.hash_elements_reference([]) == rpo.ZERO_DIGEST


def test_padding_separates_lengths() -> None:
    assert rpo.hash_elements([5, 6]) != rpo.hash_elements([5, 6, 0])
    assert rpo.hash_elements(list(range(8))) != rpo.hash_elements(list(range(8)) + [0])


def test_permute_batch_matches_reference() -> None:
    states = np.random.default_rng(1).integers(0, P, size=(20, 12), dtype=np.uint64)
    states[0] = 0
    states[1] = P - 1
    out = rpo.permute_batch(states)
    expected = [tuple(rpo.permute_reference([int(x) for x in s])) for s in states]
    assert _rows(out) == expected
    assert out is not states
    assert tuple(rpo.permute([int(x) for x in states[5]])) == expected[5]


@settings(max_examples=20, deadline=None)
@given(felt_lists(min_size=4, max_size=4), felt_lists(min_size=4, max_size=4))
def test_merge_batch_property(a: list[int], b: list[int]) -> None:
    out = rpo.merge_batch(np.array([a], dtype=np.uint64), np.array([b], dtype=np.uint64))
    assert _rows(out) == [rpo.merge_reference(tuple(a), tuple(b))]  # type: ignore[arg-type]
    assert rpo.merge(tuple(a), tuple(b)) == _rows(out)[0]  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 63, 64, 65, 200, 700])
def test_merge_batch_many_rows(n: int) -> None:
    # covers partial lane groups and the multi-threaded path (n >= 512)
    rng = np.random.default_rng(n)
    a = rng.integers(0, P, size=(n, 4), dtype=np.uint64)
    b = rng.integers(0, P, size=(n, 4), dtype=np.uint64)
    out = _rows(rpo.merge_batch(a, b))
    ra, rb = _rows(a), _rows(b)
    for i in sorted({0, n // 2, 63 % n, 64 % n, n - 1}):
        assert out[i] == rpo.merge_reference(ra[i], rb[i])  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0, 1, 7, 8, 9, 16, 19])
def test_hash_elements_batch_matches_reference(k: int) -> None:
    rows = np.random.default_rng(k).integers(0, P, size=(5, k), dtype=np.uint64)
    expected = [rpo.hash_elements_reference([int(x) for x in r]) for r in rows]
    assert _rows(rpo.hash_elements_batch(rows)) == expected


def test_hash_elements_batch_on_miden_vectors() -> None:
    for vec in _load("miden_hash_elements.json")["vectors"][1:]:
        rows = np.array([vec["elements"]], dtype=np.uint64)
        assert list(_rows(rpo.hash_elements_batch(rows))[0]) == vec["digest"]


@settings(deadline=None)
@given(felts)
def test_single_element_hash_is_deterministic(x: int) -> None:
    assert rpo.hash_elements([x]) == rpo.hash_elements([x])


def test_invalid_inputs() -> None:
    with pytest.raises(CryptoError) as exc:
        rpo.permute_reference([0] * 11)
    assert exc.value.reason is CryptoErrorReason.BAD_LENGTH
    with pytest.raises(CryptoError) as exc:
        rpo.merge_reference((1, 2, 3), (1, 2, 3, 4))  # type: ignore[arg-type]
    assert exc.value.reason is CryptoErrorReason.BAD_LENGTH
    with pytest.raises(CryptoError) as exc:
        rpo.permute([0] * 11)
    assert exc.value.reason is CryptoErrorReason.BAD_LENGTH
    with pytest.raises(CryptoError) as exc:
        rpo.permute([P] + [0] * 11)
    assert exc.value.reason is CryptoErrorReason.NOT_CANONICAL
    with pytest.raises(CryptoError) as exc:
        rpo.hash_elements([1, -1])
    assert exc.value.reason is CryptoErrorReason.NOT_CANONICAL
    with pytest.raises(CryptoError) as exc:
        rpo.merge((1, 2, 3), (1, 2, 3, 4))  # type: ignore[arg-type]
    assert exc.value.reason is CryptoErrorReason.BAD_LENGTH
    with pytest.raises(CryptoError) as exc:
        rpo.permute_batch(np.zeros((3, 11), dtype=np.uint64))
    assert exc.value.reason is CryptoErrorReason.BAD_SHAPE
    with pytest.raises(CryptoError) as exc:
        rpo.merge_batch(np.full((2, 4), P, dtype=np.uint64), np.zeros((2, 4), dtype=np.uint64))
    assert exc.value.reason is CryptoErrorReason.NOT_CANONICAL
    with pytest.raises(CryptoError) as exc:
        rpo.merge_batch(np.zeros((2, 4), dtype=np.int64), np.zeros((2, 4), dtype=np.int64))
    assert exc.value.reason is CryptoErrorReason.BAD_DTYPE


def test_numpy_integers_are_accepted() -> None:
    row = np.arange(12, dtype=np.uint64)
    assert rpo.permute(list(row)) == rpo.permute_reference(list(range(12)))
    assert rpo.hash_elements(list(row[:5])) == rpo.hash_elements_reference(list(range(5)))
    d = (np.uint64(P - 1), np.uint64(2), np.uint64(3), np.uint64(4))
    assert rpo.merge(d, d) == rpo.merge_reference((P - 1, 2, 3, 4), (P - 1, 2, 3, 4))


def test_invalid_element_types() -> None:
    for bad in ([1.5], [True], ["1"], [np.int64(-1)]):
        with pytest.raises(CryptoError) as exc:
            rpo.hash_elements(bad)  # type: ignore[arg-type]
        assert exc.value.reason is CryptoErrorReason.NOT_CANONICAL


@pytest.mark.parametrize("n", [0, 1, 70, 600])
def test_permute_batch_rounds_records_every_round(n: int) -> None:
    states = np.random.default_rng(n).integers(0, P, size=(n, 12), dtype=np.uint64)
    trace = rpo.permute_batch_rounds(states)
    assert trace.shape == (n, rpo.NUM_ROUNDS + 1, 12)
    if n:
        assert (trace[:, rpo.NUM_ROUNDS] == rpo.permute_batch(states)).all()
        assert (trace[:, 0] == states).all()
    for k in sorted({0, n // 2, n - 1}) if n else []:
        state = [int(x) for x in states[k]]
        for r in range(rpo.NUM_ROUNDS):
            state = rpo.apply_round(state, r)
            assert [int(x) for x in trace[k, r + 1]] == state
