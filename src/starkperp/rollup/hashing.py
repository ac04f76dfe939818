"""The two hashes of the rollup: RPO inside the proof (trees, leaves) and keccak256 for L1.

A single seam over :mod:`starkperp.crypto.rpo` so the rest of the package sees one digest
type: a tuple of four canonical Goldilocks elements. ``merge`` is RPO's 2-to-1 compression
(Merkle nodes) and ``hash_elements`` its sponge over a sequence of elements (leaves).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from starkperp.crypto import rpo
from starkperp.crypto.keccak import keccak256
from starkperp.field.goldilocks import Felt

__all__ = [
    "Digest",
    "ZERO_DIGEST",
    "compute_digest_bytes",
    "compute_keccak256",
    "hash_elements",
    "hash_elements_many",
    "merge",
    "merge_many",
]

Digest = tuple[Felt, Felt, Felt, Felt]
ZERO_DIGEST: Digest = (Felt(0), Felt(0), Felt(0), Felt(0))


def _as_digest(d: object) -> Digest:
    a, b, c, e = (int(x) for x in d)  # type: ignore[attr-defined]
    return (Felt(a), Felt(b), Felt(c), Felt(e))


def merge(left: Digest, right: Digest) -> Digest:
    """Return RPO's 2-to-1 compression of two digests (a Merkle parent)."""
    return _as_digest(rpo.merge(left, right))


def hash_elements(elements: Sequence[Felt]) -> Digest:
    """Return the RPO sponge hash of a sequence of field elements (a leaf)."""
    return _as_digest(rpo.hash_elements(list(elements)))


def merge_many(lefts: Sequence[Digest], rights: Sequence[Digest]) -> list[Digest]:
    """Return ``merge(l, r)`` for each pair (compiled batch path; equals :func:`merge`)."""
    if len(lefts) < 4:
        return [merge(a, b) for a, b in zip(lefts, rights, strict=True)]
    out = rpo.merge_batch(np.array(lefts, dtype=np.uint64), np.array(rights, dtype=np.uint64))
    return [_as_digest(row) for row in out.tolist()]


def hash_elements_many(rows: Sequence[Sequence[Felt]]) -> list[Digest]:
    """Return ``hash_elements`` of equally long rows (compiled batch path)."""
    if len(rows) < 4:
        return [hash_elements(r) for r in rows]
    out = rpo.hash_elements_batch(np.array(rows, dtype=np.uint64))
    return [_as_digest(row) for row in out.tolist()]


def compute_digest_bytes(d: Digest) -> bytes:
    """Return a digest as 32 bytes: its four elements, each 8 bytes big-endian."""
    return b"".join(int(x).to_bytes(8, "big") for x in d)


def compute_keccak256(data: bytes) -> bytes:
    """Return keccak256 (Ethereum's, not SHA3-256) of ``data``."""
    return keccak256(data)
