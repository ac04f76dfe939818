"""keccak Merkle trees: compiled vs reference, batch openings, rejected openings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.crypto.keccak import keccak256
from starkperp.field.goldilocks import P
from starkperp.stark.errors import StarkReason, VerificationError
from starkperp.stark.merkle import (
    build_merkle_tree,
    build_merkle_tree_reference,
    compute_batch_root,
    compute_batch_root_reference,
    encode_row,
    get_batch_opening,
    hash_columns,
    hash_row,
    hash_rows,
)


def _rows(n: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, P, size=(n, width), dtype=np.uint64)


def test_leaf_encoding_is_big_endian() -> None:
    assert encode_row([1, 2]) == (1).to_bytes(8, "big") + (2).to_bytes(8, "big")
    assert hash_row([1, 2]) == keccak256(encode_row([1, 2]))


@pytest.mark.parametrize(("n", "width"), [(1, 1), (2, 3), (64, 5), (256, 14)])
def test_compiled_tree_matches_reference(n: int, width: int) -> None:
    rows = _rows(n, width)
    fast = build_merkle_tree(hash_rows(rows))
    slow = build_merkle_tree_reference(rows.tolist())
    assert fast.root == slow.root
    assert fast.root == (hash_row(rows[0].tolist()) if n == 1 else fast.root)
    assert len(fast.levels) == len(slow.levels)
    assert all((a == b).all() for a, b in zip(fast.levels, slow.levels, strict=True))
    assert (hash_columns(np.ascontiguousarray(rows.T)) == fast.levels[0]).all()


def test_node_is_keccak_of_children() -> None:
    rows = _rows(2, 2)
    tree = build_merkle_tree(hash_rows(rows))
    assert tree.root == keccak256(hash_row(rows[0].tolist()) + hash_row(rows[1].tolist()))


@given(st.sets(st.integers(0, 63), min_size=1, max_size=20))
@settings(max_examples=40, deadline=None)
def test_batch_opening_round_trip(index_set: set[int]) -> None:
    rows = _rows(64, 3, seed=7)
    tree = build_merkle_tree(hash_rows(rows))
    indices = sorted(index_set)
    nodes = get_batch_opening(tree, indices)
    leaves = [hash_row(rows[i].tolist()) for i in indices]
    assert compute_batch_root(indices, leaves, nodes, 6) == tree.root
    assert len(nodes) <= 6 * len(indices)


def test_invalid_batch_openings() -> None:
    rows = _rows(16, 2, seed=3)
    tree = build_merkle_tree(hash_rows(rows))
    indices = [1, 5, 6]
    nodes = get_batch_opening(tree, indices)
    leaves = [hash_row(rows[i].tolist()) for i in indices]
    with pytest.raises(VerificationError) as info:
        compute_batch_root(indices, leaves, nodes[:-1], 4)
    assert info.value.reason is StarkReason.MERKLE_PROOF
    with pytest.raises(VerificationError):
        compute_batch_root(indices, leaves, [*nodes, nodes[0]], 4)
    with pytest.raises(VerificationError):
        compute_batch_root(indices, leaves[:2], nodes, 4)
    with pytest.raises(VerificationError):
        compute_batch_root([1, 5, 22], leaves, nodes, 4)
    bad_leaf = [leaves[0], leaves[2], leaves[1]]
    assert compute_batch_root(indices, bad_leaf, nodes, 4) != tree.root


@given(st.sets(st.integers(0, 31), min_size=1, max_size=12))
@settings(max_examples=30, deadline=None)
def test_batched_root_matches_reference(index_set: set[int]) -> None:
    rows = _rows(32, 2, seed=9)
    tree = build_merkle_tree(hash_rows(rows))
    indices = sorted(index_set)
    nodes = get_batch_opening(tree, indices)
    leaves = [hash_row(rows[i].tolist()) for i in indices]
    fast = compute_batch_root(indices, leaves, nodes, 5)
    assert fast == compute_batch_root_reference(indices, leaves, nodes, 5) == tree.root


def test_invalid_node_length() -> None:
    rows = _rows(8, 1)
    tree = build_merkle_tree(hash_rows(rows))
    nodes = get_batch_opening(tree, [3])
    with pytest.raises(VerificationError):
        compute_batch_root([3], [hash_row(rows[3].tolist())], [nodes[0][:31], *nodes[1:]], 3)
