"""The keccak256 Fiat-Shamir transcript and proof-of-work grinding.

The transcript is a 32-byte ``state`` and a draw ``counter`` (both public):

* start: ``state = keccak256("starkperp.stark.v1")`` (the 18 ASCII bytes), ``counter = 0``;
* ``absorb(data)``: ``state = keccak256(state || data)``, ``counter = 0``;
* ``draw()``: ``out = keccak256(state || u64_be(counter))``, ``counter += 1``, read ``out``
  as a 256-bit big-endian integer;
* a base-field element is ``draw() mod p``; an extension element is two draws (c0, c1);
* a query index below N (a power of two) is ``draw() mod N``;
* field elements are absorbed as 8 bytes big-endian each (extension: c0 then c1).

Proof of work: the prover finds the smallest ``nonce`` (a u64) such that
``keccak256(state || u64_be(nonce))`` read as a 256-bit integer is below
``2^(256 - grinding_bits)``; then ``absorb(u64_be(nonce))``.

Every encoding is fixed width so an EVM verifier re-implements it with a handful of
``keccak256`` calls over ``concat`` of ``bytes32`` and ``convert(x, bytes8)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from starkperp.crypto.keccak import keccak256, keccak256_batch
from starkperp.field.goldilocks import P
from starkperp.stark.errors import ProvingError, StarkReason

__all__ = [
    "PROTOCOL_TAG",
    "Transcript",
    "encode_ext",
    "encode_felts",
    "find_pow_nonce",
    "is_valid_pow",
]

PROTOCOL_TAG = b"starkperp.stark.v1"

ExtFelt = tuple[int, int]


def encode_felts(values: Sequence[int]) -> bytes:
    """Return base-field elements as 8 bytes big-endian each."""
    return b"".join(int(v).to_bytes(8, "big") for v in values)


def encode_ext(values: Sequence[ExtFelt]) -> bytes:
    """Return extension elements as (c0, c1), 8 bytes big-endian each."""
    return b"".join(c0.to_bytes(8, "big") + c1.to_bytes(8, "big") for c0, c1 in values)


class Transcript:
    """A keccak256 Fiat-Shamir transcript shared by prover and verifier."""

    __slots__ = ("_counter", "_state")

    def __init__(self) -> None:
        self._state = keccak256(PROTOCOL_TAG)
        self._counter = 0

    @property
    def state(self) -> bytes:
        """Return the current 32-byte state."""
        return self._state

    def absorb(self, data: bytes) -> None:
        """Hash ``data`` into the state and reset the draw counter."""
        self._state = keccak256(self._state + data)
        self._counter = 0

    def draw(self) -> int:
        """Return the next 256-bit pseudo-random integer."""
        out = keccak256(self._state + self._counter.to_bytes(8, "big"))
        self._counter += 1
        return int.from_bytes(out, "big")

    def draw_felt(self) -> int:
        """Return a base-field element."""
        return self.draw() % P

    def draw_ext(self) -> ExtFelt:
        """Return an extension-field element."""
        c0 = self.draw_felt()
        c1 = self.draw_felt()
        return (c0, c1)

    def draw_ext_outside(self) -> ExtFelt:
        """Return an extension element outside the base field (so off every domain)."""
        for _ in range(16):
            value = self.draw_ext()
            if value[1] != 0:
                return value
        raise ProvingError(StarkReason.QUERY_SAMPLING, "no out-of-domain point found")

    def draw_distinct_indices(self, count: int, bound: int) -> list[int]:
        """Return ``count`` distinct indices below ``bound`` in draw order (duplicates skipped).

        At most ``16 * count`` draws are made; ``bound`` must be at least ``4 * count``.
        """
        assert bound >= 4 * count, "domain too small for the number of queries"
        seen: list[int] = []
        for _ in range(16 * count):
            index = self.draw() % bound
            if index not in seen:
                seen.append(index)
                if len(seen) == count:
                    return seen
        raise ProvingError(StarkReason.QUERY_SAMPLING, "could not draw distinct query indices")


def is_valid_pow(state: bytes, nonce: int, grinding_bits: int) -> bool:
    """Return whether ``nonce`` solves the proof-of-work puzzle for ``state``."""
    if not 0 <= nonce < 2**64:
        return False
    digest = keccak256(state + nonce.to_bytes(8, "big"))
    return int.from_bytes(digest, "big") >> (256 - grinding_bits) == 0 if grinding_bits else True


def find_pow_nonce(state: bytes, grinding_bits: int, batch: int = 1 << 15) -> int:
    """Return the smallest nonce solving the puzzle (batched compiled keccak)."""
    if grinding_bits == 0:
        return 0
    prefix = np.frombuffer(state, dtype=np.uint8)
    start = 0
    while start < 2**64:
        nonces = np.arange(start, start + batch, dtype=np.uint64)
        rows = np.empty((batch, 40), dtype=np.uint8)
        rows[:, :32] = prefix
        rows[:, 32:] = nonces.astype(">u8").view(np.uint8).reshape(batch, 8)
        digests = keccak256_batch(rows)
        head = digests[:, :8].copy().view(">u8").reshape(batch).astype(np.uint64)
        hits = np.nonzero((head >> np.uint64(64 - grinding_bits)) == 0)[0]
        if hits.size:
            nonce = start + int(hits[0])
            assert is_valid_pow(state, nonce, grinding_bits)
            return nonce
        start += batch
    raise ProvingError(StarkReason.POW, "no proof-of-work nonce found")
