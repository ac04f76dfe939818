"""keccak256 Merkle trees over rows of field elements, with batched multi-openings.

Encodings (the on-chain verifier re-implements exactly these):

* a **leaf** is ``keccak256(e_0 || e_1 || ... || e_{w-1})`` where each field element of the
  row is 8 bytes big-endian (an extension element is its two coordinates, c0 then c1);
* a **node** is ``keccak256(left || right)`` of the two 32-byte children;
* the number of leaves is a power of two; the root of a one-leaf tree is the leaf hash.

A **batch opening** of sorted, distinct leaf indices lists only the sibling nodes the verifier
cannot compute itself, in the order it consumes them: level by level from the leaves up, and
within a level by increasing index; a node whose sibling is also known is paired with it and
consumes nothing. :func:`compute_batch_root` replays that walk.

:func:`hash_rows` and :func:`build_merkle_tree` are the compiled fast path (batched keccak);
:func:`hash_row` and :func:`build_merkle_tree_reference` are the readable reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from starkperp.crypto.keccak import (
    keccak256,
    keccak256_felt_columns,
    keccak256_merkle_levels,
    keccak256_pairs,
)
from starkperp.stark.errors import StarkReason, VerificationError

__all__ = [
    "MerkleTree",
    "build_merkle_tree",
    "build_merkle_tree_reference",
    "compute_batch_root",
    "compute_batch_root_reference",
    "encode_row",
    "get_batch_opening",
    "hash_columns",
    "hash_row",
    "hash_rows",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MerkleTree:
    """All levels of a tree: ``levels[0]`` are the leaf hashes (n, 32), the last is the root."""

    levels: tuple[np.ndarray, ...]

    @property
    def root(self) -> bytes:
        """Return the 32-byte root."""
        return bytes(self.levels[-1][0])

    @property
    def n_leaves(self) -> int:
        """Return the number of leaves."""
        return int(self.levels[0].shape[0])


def encode_row(row: Sequence[int]) -> bytes:
    """Return the leaf pre-image of a row: every element as 8 bytes big-endian."""
    return b"".join(int(v).to_bytes(8, "big") for v in row)


def hash_row(row: Sequence[int]) -> bytes:
    """Return the leaf hash of one row (reference)."""
    return keccak256(encode_row(row))


def hash_rows(rows: np.ndarray) -> np.ndarray:
    """Return the leaf hashes (n, 32) of an (n, w) uint64 array of rows (compiled).

    ``rows`` is best a transposed view of column-major ``(w, n)`` data (an LDE): the kernel
    reads the columns directly and serialises each value big-endian itself.
    """
    return hash_columns(np.asarray(rows, dtype=np.uint64).T)


def hash_columns(columns: np.ndarray) -> np.ndarray:
    """Return the leaf hashes (n, 32) of the rows of a column-major (w, n) array (compiled)."""
    return keccak256_felt_columns(np.asarray(columns, dtype=np.uint64))


def build_merkle_tree(leaf_hashes: np.ndarray) -> MerkleTree:
    """Build a tree over (n, 32) leaf hashes, n a power of two (compiled, one call)."""
    n = leaf_hashes.shape[0]
    assert n > 0 and n & (n - 1) == 0, "number of leaves must be a power of two"
    levels = keccak256_merkle_levels(np.ascontiguousarray(leaf_hashes, dtype=np.uint8))
    return MerkleTree(levels=tuple(levels))


def build_merkle_tree_reference(rows: Sequence[Sequence[int]]) -> MerkleTree:
    """Build the same tree as :func:`build_merkle_tree` one hash at a time (reference)."""
    level = [hash_row(row) for row in rows]
    levels = [level]
    while len(level) > 1:
        level = [keccak256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    return MerkleTree(
        levels=tuple(
            np.frombuffer(b"".join(lv), dtype=np.uint8).reshape(len(lv), 32) for lv in levels
        )
    )


def get_batch_opening(tree: MerkleTree, indices: Sequence[int]) -> list[bytes]:
    """Return the sibling nodes that open the sorted, distinct leaf ``indices``."""
    assert list(indices) == sorted(set(indices)), "indices must be sorted and distinct"
    nodes: list[bytes] = []
    current = list(indices)
    for level in tree.levels[:-1]:
        parents: list[int] = []
        i = 0
        while i < len(current):
            index = current[i]
            if index % 2 == 0 and i + 1 < len(current) and current[i + 1] == index + 1:
                i += 2
            else:
                nodes.append(bytes(level[index ^ 1]))
                i += 1
            parents.append(index // 2)
        current = parents
    return nodes


def compute_batch_root(
    indices: Sequence[int], leaf_hashes: Sequence[bytes], nodes: Sequence[bytes], depth: int
) -> bytes:
    """Return the root implied by a batch opening; raise on a malformed opening.

    ``indices`` are sorted and distinct, ``leaf_hashes`` their hashes, ``nodes`` the opening,
    ``depth`` the log2 of the number of leaves. Every node must be consumed. The parents of
    one level are hashed in one compiled batch; :func:`compute_batch_root_reference` is the
    one-hash-at-a-time twin.
    """
    if len(indices) != len(leaf_hashes) or not indices:
        raise VerificationError(StarkReason.MERKLE_PROOF, "indices and leaves differ in count")
    if any(len(d) != 32 for d in leaf_hashes) or any(len(d) != 32 for d in nodes):
        raise VerificationError(StarkReason.MERKLE_PROOF, "hashes must be 32 bytes")
    current = list(indices)
    digests = list(leaf_hashes)
    cursor = 0
    for _ in range(depth):
        parents: list[int] = []
        pairs: list[bytes] = []
        i = 0
        while i < len(current):
            index = current[i]
            if index % 2 == 0 and i + 1 < len(current) and current[i + 1] == index + 1:
                pairs.append(digests[i] + digests[i + 1])
                i += 2
            else:
                if cursor >= len(nodes):
                    raise VerificationError(StarkReason.MERKLE_PROOF, "opening too short")
                sibling = nodes[cursor]
                cursor += 1
                pairs.append(digests[i] + sibling if index % 2 == 0 else sibling + digests[i])
                i += 1
            parents.append(index // 2)
        packed = np.frombuffer(b"".join(pairs), dtype=np.uint8).reshape(len(pairs), 64)
        hashed = keccak256_pairs(packed[:, :32], packed[:, 32:], parallel=False)
        digests = [bytes(row) for row in hashed]
        current = parents
    if cursor != len(nodes):
        raise VerificationError(StarkReason.MERKLE_PROOF, "opening has unused nodes")
    if len(current) != 1 or current[0] != 0:
        raise VerificationError(StarkReason.MERKLE_PROOF, "indices out of range")
    return digests[0]


def compute_batch_root_reference(
    indices: Sequence[int], leaf_hashes: Sequence[bytes], nodes: Sequence[bytes], depth: int
) -> bytes:
    """Return the root implied by a batch opening, one keccak call per node (reference)."""
    if len(indices) != len(leaf_hashes) or not indices:
        raise VerificationError(StarkReason.MERKLE_PROOF, "indices and leaves differ in count")
    current = list(zip(indices, leaf_hashes, strict=True))
    cursor = 0
    for _ in range(depth):
        parents: list[tuple[int, bytes]] = []
        i = 0
        while i < len(current):
            index, digest = current[i]
            if index % 2 == 0 and i + 1 < len(current) and current[i + 1][0] == index + 1:
                parent = keccak256(digest + current[i + 1][1])
                i += 2
            else:
                if cursor >= len(nodes):
                    raise VerificationError(StarkReason.MERKLE_PROOF, "opening too short")
                sibling = nodes[cursor]
                cursor += 1
                pair = digest + sibling if index % 2 == 0 else sibling + digest
                parent = keccak256(pair)
                i += 1
            parents.append((index // 2, parent))
        current = parents
    if cursor != len(nodes):
        raise VerificationError(StarkReason.MERKLE_PROOF, "opening has unused nodes")
    if len(current) != 1 or current[0][0] != 0:
        raise VerificationError(StarkReason.MERKLE_PROOF, "indices out of range")
    return current[0][1]
