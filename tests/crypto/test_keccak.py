"""keccak256: the compiled batch paths against pycryptodome."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.crypto import keccak as K
from starkperp.crypto.errors import CryptoError, CryptoErrorReason


def _ref_rows(rows: np.ndarray) -> np.ndarray:
    digests = [K.keccak256(r.tobytes()) for r in rows]
    return np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), 32)


def test_known_answers() -> None:
    assert K.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert K.keccak256(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )


@pytest.mark.parametrize("length", [0, 1, 31, 32, 64, 135, 136, 137, 200, 271, 272, 1000])
def test_batch_matches_pycryptodome(length: int) -> None:
    rows = np.random.default_rng(length).integers(0, 256, size=(40, length), dtype=np.uint8)
    expected = _ref_rows(rows)
    assert (K.keccak256_batch_serial(rows) == expected).all()
    assert (K.keccak256_batch(rows) == expected).all()


def test_parallel_path_matches_serial() -> None:
    rows = np.random.default_rng(7).integers(0, 256, size=(1500, 64), dtype=np.uint8)
    assert (K.keccak256_batch(rows) == K.keccak256_batch_serial(rows)).all()
    assert (K.keccak256_batch(rows[:3]) == _ref_rows(rows[:3])).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=4))
def test_batch_property(blobs: list[bytes]) -> None:
    length = len(blobs[0])
    rows = np.array([list(b[:length].ljust(length, b"\x00")) for b in blobs], dtype=np.uint8)
    rows = rows.reshape(len(blobs), length)
    assert (K.keccak256_batch(rows) == _ref_rows(rows)).all()


def test_pairs_match_concatenation() -> None:
    rng = np.random.default_rng(9)
    left = rng.integers(0, 256, size=(600, 32), dtype=np.uint8)
    right = rng.integers(0, 256, size=(600, 32), dtype=np.uint8)
    expected = _ref_rows(np.concatenate([left, right], axis=1))
    assert (K.keccak256_pairs(left, right) == expected).all()
    assert (K.keccak256_pairs(left, right, parallel=False) == expected).all()
    # non-contiguous views (e.g. every other node of a tree level)
    level = rng.integers(0, 256, size=(8, 32), dtype=np.uint8)
    parents = K.keccak256_pairs(level[0::2], level[1::2])
    assert bytes(parents[1]) == K.keccak256(level[2].tobytes() + level[3].tobytes())


def test_empty_batches() -> None:
    assert K.keccak256_batch(np.zeros((0, 10), dtype=np.uint8)).shape == (0, 32)
    empty = np.zeros((0, 32), dtype=np.uint8)
    assert K.keccak256_pairs(empty, empty).shape == (0, 32)


def test_invalid_inputs() -> None:
    with pytest.raises(CryptoError) as exc:
        K.keccak256_batch(np.zeros((2, 3), dtype=np.int64))
    assert exc.value.reason is CryptoErrorReason.BAD_DTYPE
    with pytest.raises(CryptoError) as exc:
        K.keccak256_batch(np.zeros(3, dtype=np.uint8))
    assert exc.value.reason is CryptoErrorReason.BAD_SHAPE
    with pytest.raises(CryptoError) as exc:
        K.keccak256_pairs(np.zeros((2, 31), dtype=np.uint8), np.zeros((2, 31), dtype=np.uint8))
    assert exc.value.reason is CryptoErrorReason.BAD_SHAPE
    with pytest.raises(CryptoError) as exc:
        K.keccak256_pairs(np.zeros((2, 32), dtype=np.uint8), np.zeros((3, 32), dtype=np.uint8))
    assert exc.value.reason is CryptoErrorReason.BAD_SHAPE


@pytest.mark.parametrize(("width", "n"), [(0, 3), (1, 5), (12, 700), (16, 40), (17, 9), (34, 3)])
def test_felt_columns_match_big_endian_rows(width: int, n: int) -> None:
    columns = np.random.default_rng(width).integers(0, 2**64, size=(width, n), dtype=np.uint64)
    rows = np.ascontiguousarray(columns.T.astype(">u8")).view(np.uint8).reshape(n, 8 * width)
    expected = _ref_rows(rows)
    assert (K.keccak256_felt_columns(columns) == expected).all()
    assert (K.keccak256_felt_columns(columns, parallel=False) == expected).all()
    # a non-contiguous view gives the same digests
    assert (K.keccak256_felt_columns(np.asfortranarray(columns)) == expected).all()


@pytest.mark.parametrize("n", [1, 2, 8, 1 << 12])
def test_merkle_levels_match_pairwise_hashing(n: int) -> None:
    leaves = np.random.default_rng(n).integers(0, 256, size=(n, 32), dtype=np.uint8)
    expected = [leaves]
    while expected[-1].shape[0] > 1:
        level = expected[-1]
        expected.append(K.keccak256_pairs(level[0::2], level[1::2], parallel=False))
    for parallel in (True, False):
        levels = K.keccak256_merkle_levels(leaves, parallel=parallel)
        assert len(levels) == len(expected)
        assert all((a == b).all() for a, b in zip(levels, expected, strict=True))
    if n >= 2:
        root = K.keccak256_merkle_levels(leaves[:2])[-1]
        assert bytes(root[0]) == K.keccak256(leaves[0].tobytes() + leaves[1].tobytes())


def test_invalid_felt_columns_and_merkle_leaves() -> None:
    with pytest.raises(CryptoError) as exc:
        K.keccak256_felt_columns(np.zeros((2, 3), dtype=np.int64))
    assert exc.value.reason is CryptoErrorReason.BAD_DTYPE
    with pytest.raises(CryptoError) as exc:
        K.keccak256_felt_columns(np.zeros(3, dtype=np.uint64))
    assert exc.value.reason is CryptoErrorReason.BAD_SHAPE
    with pytest.raises(CryptoError) as exc:
        K.keccak256_merkle_levels(np.zeros((3, 32), dtype=np.uint8))
    assert exc.value.reason is CryptoErrorReason.BAD_SHAPE
    with pytest.raises(CryptoError) as exc:
        K.keccak256_merkle_levels(np.zeros((0, 32), dtype=np.uint8))
    assert exc.value.reason is CryptoErrorReason.BAD_SHAPE
    with pytest.raises(CryptoError) as exc:
        K.keccak256_merkle_levels(np.zeros((4, 32), dtype=np.int8))
    assert exc.value.reason is CryptoErrorReason.BAD_DTYPE
