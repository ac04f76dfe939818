"""The on-chain RPO (generated Vyper) against the Python reference, on many inputs."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.crypto import rpo
from starkperp.l1.client import L1Client, get_deployer
from starkperp.l1.errors import L1Error
from starkperp.l1.rpo_gen import GENERATED_PATH, render_from_python_rpo
from starkperp.rollup.state import SparseMerkleTree, compute_root_from_path

P = 2**64 - 2**32 + 1
felts = st.integers(min_value=0, max_value=P - 1)


@pytest.fixture(scope="module")
def hasher() -> object:
    client = L1Client.embedded()
    return get_deployer("RpoMerkle").deploy(env=client.env)


def test_generated_source_is_fresh() -> None:
    assert GENERATED_PATH.read_text() == render_from_python_rpo()


def test_permute_matches_reference_on_edge_states(hasher: object) -> None:
    for state in ([0] * 12, [P - 1] * 12, list(range(12)), [1] + [0] * 11):
        assert list(hasher.permute(state)) == list(rpo.permute(state))  # type: ignore[attr-defined]


@settings(max_examples=8, deadline=None)
@given(st.lists(felts, min_size=12, max_size=12))
def test_permute_matches_reference(hasher: object, state: list[int]) -> None:
    assert list(hasher.permute(state)) == list(rpo.permute(state))  # type: ignore[attr-defined]


@settings(max_examples=12, deadline=None)
@given(st.lists(felts, min_size=0, max_size=17))
def test_hash_elements_matches_reference(hasher: object, elements: list[int]) -> None:
    expected = tuple(rpo.hash_elements(elements))
    assert tuple(hasher.hash_elements(elements)) == expected  # type: ignore[attr-defined]


@settings(max_examples=8, deadline=None)
@given(st.lists(felts, min_size=4, max_size=4), st.lists(felts, min_size=4, max_size=4))
def test_merge_matches_reference(hasher: object, a: list[int], b: list[int]) -> None:
    expected = tuple(rpo.merge(tuple(a), tuple(b)))  # type: ignore[arg-type]
    assert tuple(hasher.merge(a, b)) == expected  # type: ignore[attr-defined]


def test_compute_root_matches_sparse_tree(hasher: object) -> None:
    rng = random.Random(7)
    tree = SparseMerkleTree(6, (1, 2, 3, 4))  # type: ignore[arg-type]
    leaves = {i: tuple(rng.randrange(P) for _ in range(4)) for i in rng.sample(range(64), 3)}
    tree.set_leaves(leaves)  # type: ignore[arg-type]
    for index, leaf in leaves.items():
        proof = tree.get_proof(index)
        siblings = [list(s) for s in proof.siblings]
        root = tuple(hasher.compute_root(list(leaf), index, siblings))  # type: ignore[attr-defined]
        assert root == tuple(tree.get_root())
        assert root == tuple(compute_root_from_path(index, leaf, proof.siblings))  # type: ignore[arg-type]


def test_invalid_non_canonical_element(hasher: object) -> None:
    client = L1Client.embedded()
    with pytest.raises(L1Error, match="not a field element"):
        client.transact(lambda: hasher.hash_elements([P]))  # type: ignore[attr-defined]
    with pytest.raises(L1Error, match="not a field element"):
        client.transact(lambda: hasher.permute([0] * 11 + [P]))  # type: ignore[attr-defined]


def test_invalid_index_beyond_path(hasher: object) -> None:
    client = L1Client.embedded()
    with pytest.raises(L1Error, match="index out of range"):
        client.transact(lambda: hasher.compute_root([0] * 4, 4, [[0] * 4, [0] * 4]))  # type: ignore[attr-defined]
