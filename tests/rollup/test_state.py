"""Tests of leaf encodings, sparse Merkle trees and the shared state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.rollup.errors import Reason, RollupError
from starkperp.rollup.hashing import merge
from starkperp.rollup.state import (
    OrderLeaf,
    Position,
    RollupState,
    SparseMerkleTree,
    compute_order_leaf,
    compute_position_elements,
    compute_position_leaf,
    decode_signed,
    encode_signed,
    verify_proof,
)
from tests.strategies.rollup import make_config

EMPTY = compute_position_leaf(Position.empty(2))


@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_signed_limbs_roundtrip(x: int) -> None:
    hi, lo = encode_signed(x)
    assert 0 <= hi < 2**32 and 0 <= lo < 2**32
    assert decode_signed(hi, lo) == x


def test_position_elements_layout() -> None:
    pos = Position.empty(2).with_collateral(-5).with_balance(1, 7)
    elems = compute_position_elements(pos)
    assert len(elems) == 6 + 4 * 2
    assert decode_signed(elems[4], elems[5]) == -5
    assert decode_signed(elems[10], elems[11]) == 7


def test_leaf_digest_depends_on_every_field() -> None:
    base = Position.empty(2)
    variants = [
        base.with_collateral(1),
        base.with_balance(0, 1),
        base.with_balance(1, -1),
        Position(public_key=3, collateral=0, assets=base.assets),
    ]
    digests = {compute_position_leaf(v) for v in [base, *variants]}
    assert len(digests) == 5
    assert compute_order_leaf(OrderLeaf()) != compute_order_leaf(OrderLeaf(filled=1))


def test_empty_tree_root_is_chain_of_merges() -> None:
    tree = SparseMerkleTree(4, EMPTY)
    node = EMPTY
    for _ in range(4):
        node = merge(node, node)
    assert tree.get_root() == node


@settings(deadline=None, max_examples=30)
@given(st.dictionaries(st.integers(0, 63), st.integers(1, 10**6), min_size=1, max_size=12))
def test_batched_update_equals_sequential(updates: dict[int, int]) -> None:
    batched = SparseMerkleTree(6, EMPTY)
    sequential = SparseMerkleTree(6, EMPTY)
    leaves = {
        i: compute_position_leaf(Position.empty(2).with_collateral(v)) for i, v in updates.items()
    }
    batched.set_leaves(leaves)
    for i, d in leaves.items():
        sequential.set_leaf(i, d)
    assert batched.get_root() == sequential.get_root()
    for i, d in leaves.items():
        assert verify_proof(batched.get_root(), d, batched.get_proof(i), 6)


def test_invalid_proof_rejected() -> None:
    tree = SparseMerkleTree(5, EMPTY)
    leaf = compute_position_leaf(Position.empty(2).with_collateral(9))
    tree.set_leaf(3, leaf)
    proof = tree.get_proof(3)
    assert verify_proof(tree.get_root(), leaf, proof, 5)
    assert not verify_proof(tree.get_root(), EMPTY, proof, 5)
    assert not verify_proof(tree.get_root(), leaf, tree.get_proof(4), 5)
    assert not verify_proof(tree.get_root(), leaf, proof, 4)


def test_leaf_back_to_empty_restores_root() -> None:
    tree = SparseMerkleTree(5, EMPTY)
    root = tree.get_root()
    tree.set_leaf(7, compute_position_leaf(Position.empty(2).with_collateral(9)))
    assert tree.get_root() != root
    tree.set_leaf(7, EMPTY)
    assert tree.get_root() == root


def test_invalid_leaf_index_rejected() -> None:
    tree = SparseMerkleTree(3, EMPTY)
    with pytest.raises(RollupError) as exc:
        tree.set_leaf(8, EMPTY)
    assert exc.value.reason is Reason.POSITION_ID_OUT_OF_RANGE


def test_shared_state_encoding_is_words_and_hash_changes() -> None:
    state = RollupState.genesis(make_config(), prices=(5, 6))
    shared = state.get_shared_state()
    data = shared.encode()
    assert len(data) == 32 * (6 + 3 * 2)
    assert int.from_bytes(data[32 * 4 : 32 * 5], "big") == shared.asset_ids[0]
    before = shared.compute_hash()
    state.set_position(5, Position.empty(2).with_collateral(1))
    assert state.get_shared_state().compute_hash() != before


def test_copy_is_independent() -> None:
    state = RollupState.genesis(make_config())
    other = state.copy()
    other.set_position(5, Position.empty(2).with_collateral(1))
    assert other.get_shared_state() != state.get_shared_state()
