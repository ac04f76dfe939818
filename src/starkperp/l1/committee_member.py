"""A data-availability committee member (validium mode).

In validium mode the state diff does not go to L1; a committee keeps it instead, and
``Committee.vy`` accepts a batch only with k-of-n member signatures over the batch's
availability claim. A member therefore signs only after it has:

1. checked that the batch continues the state it holds (batch number, previous state hash);
2. checked that the payload it was given hashes to the public input's DA hash;
3. stored the payload (on disk when a directory is given, flushed before signing);
4. rebuilt the new state from its previous state and the payload alone, and found its
   shared-state hash equal to the public input's new state hash.

The claim is ``keccak256(abi_encode(keccak256("starkperp.committee.v1"), perpetual, batch,
new_state_hash, da_hash))``, signed as an EIP-191 personal message.
"""

from __future__ import annotations

import os
from pathlib import Path

from eth_account import Account

from starkperp.l1.client import sign_digest
from starkperp.l1.errors import L1Error, L1Reason
from starkperp.rollup.da import decode_payload, rebuild_state
from starkperp.rollup.errors import RollupError
from starkperp.rollup.hashing import compute_keccak256
from starkperp.rollup.public_input import decode_public_input
from starkperp.rollup.state import RollupState

__all__ = ["COMMITTEE_DOMAIN", "CommitteeMember", "compute_availability_claim"]

COMMITTEE_DOMAIN = compute_keccak256(b"starkperp.committee.v1")


def compute_availability_claim(
    *, perpetual: str, batch_id: int, new_state_hash: bytes, da_hash: bytes
) -> bytes:
    """Return the claim a member signs (equal to ``Committee.claimHash``)."""
    words = (
        COMMITTEE_DOMAIN,
        int(perpetual, 16).to_bytes(32, "big"),
        batch_id.to_bytes(32, "big"),
        bytes(new_state_hash),
        bytes(da_hash),
    )
    return compute_keccak256(b"".join(words))


class CommitteeMember:
    """One member: holds the L2 state rebuilt from the diffs it stored, signs claims."""

    def __init__(
        self, *, private_key: bytes, genesis: RollupState, storage_dir: Path | None = None
    ) -> None:
        self._key = private_key
        self.address: str = Account.from_key(private_key).address
        self.state = genesis.copy()
        self.storage_dir = storage_dir
        self.payloads: dict[int, bytes] = {}

    @property
    def next_batch(self) -> int:
        """Return the number of the next batch this member expects."""
        return len(self.payloads)

    def sign_batch(self, *, perpetual: str, public_input: bytes, payload: bytes) -> bytes:
        """Store, rebuild, check, then return this member's signature over the claim."""
        try:
            pi = decode_public_input(public_input)
            decoded = decode_payload(payload, self.state.config.n_assets)
        except RollupError as exc:
            raise L1Error(L1Reason.DA_PAYLOAD_MISMATCH, exc.message) from exc
        if pi.batch_number != self.next_batch:
            raise L1Error(L1Reason.UNKNOWN_BATCH, f"expected batch {self.next_batch}")
        if pi.prev_state_hash != self.state.get_shared_state().compute_hash():
            raise L1Error(L1Reason.STATE_HASH_MISMATCH, "batch does not continue my state")
        if decoded.compute_hash() != pi.da_hash or decoded.batch_number != pi.batch_number:
            raise L1Error(L1Reason.DA_PAYLOAD_MISMATCH, "payload is not the batch's DA payload")
        self._store(pi.batch_number, payload)
        rebuilt = rebuild_state(self.state, [decoded])
        new_hash = rebuilt.get_shared_state().compute_hash()
        if new_hash != pi.new_state_hash:
            del self.payloads[pi.batch_number]
            raise L1Error(L1Reason.STATE_HASH_MISMATCH, "rebuilt state differs from the claim")
        self.state = rebuilt
        claim = compute_availability_claim(
            perpetual=perpetual,
            batch_id=pi.batch_number,
            new_state_hash=pi.new_state_hash,
            da_hash=pi.da_hash,
        )
        return sign_digest(self._key, claim)

    def _store(self, batch: int, payload: bytes) -> None:
        self.payloads[batch] = payload
        if self.storage_dir is None:
            return
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        path = self.storage_dir / f"batch-{batch:012d}.da"
        with open(path, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
