"""The escape hatch from the user's side: what a frozen position is worth and its proof.

Once the exchange is frozen, every position of the last accepted state can be paid on L1
without the operator. The user (or anyone on their behalf) needs the position's leaf and its
RPO Merkle path against the frozen position root; both come from the L2 state, which in
rollup mode anyone rebuilds from L1 calldata alone (:func:`rebuild_state_from_calldata`).

The payout rule is the contract's, mirrored here as the readable reference: fund the
position first (``collateral += floor(-Σ balance·(index - cached) / 2^32)``), then add the
value of its synthetic balances at the frozen prices (``floor(Σ balance·price / 2^32)``);
a negative total pays nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starkperp.l1.client import EscapeProofArgs
from starkperp.l1.errors import L1Error, L1Reason
from starkperp.rollup.da import decode_payload, rebuild_state
from starkperp.rollup.errors import RollupError
from starkperp.rollup.hashing import compute_keccak256
from starkperp.rollup.public_input import PublicInput, decode_public_input
from starkperp.rollup.quantities import FXP_32_ONE
from starkperp.rollup.state import GlobalState, Position, RollupState

__all__ = [
    "UPDATE_STATE_SELECTOR",
    "UpdateStateCall",
    "compute_escape_amount",
    "compute_escape_total",
    "decode_update_state_calldata",
    "get_escape_proof",
    "rebuild_state_from_calldata",
]

UPDATE_STATE_SELECTOR = compute_keccak256(b"updateState(bytes,bytes,bytes)")[:4]


def compute_escape_amount(position: Position, global_state: GlobalState) -> int:
    """Return the collateral quanta ``escape`` pays for ``position`` at ``global_state``."""
    funding = 0
    value = 0
    for asset, index, price in zip(
        position.assets, global_state.funding_indices, global_state.prices, strict=True
    ):
        funding -= asset.balance * (index - asset.cached_funding_index)
        value += asset.balance * price
    total = position.collateral + funding // FXP_32_ONE + value // FXP_32_ONE
    return max(total, 0)


def compute_escape_total(state: RollupState) -> int:
    """Return the sum ``escape`` pays over every non-empty position of ``state``."""
    return sum(
        compute_escape_amount(p, state.global_state)
        for p in state.positions.values()
        if not p.is_empty()
    )


def get_escape_proof(state: RollupState, position_id: int) -> EscapeProofArgs:
    """Return the arguments of ``escape`` for ``position_id`` in ``state``."""
    position = state.get_position(position_id)
    if position.is_empty():
        raise L1Error(L1Reason.POSITION_NOT_FOUND, f"position {position_id} is empty")
    proof = state.get_position_proof(position_id)
    return EscapeProofArgs(
        position_id=position_id,
        stark_key=int(position.public_key),
        collateral=int(position.collateral),
        balances=tuple(int(a.balance) for a in position.assets),
        cached_funding_indices=tuple(int(a.cached_funding_index) for a in position.assets),
        siblings=tuple(tuple(int(x) for x in s) for s in proof.siblings),  # type: ignore[misc]
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateStateCall:
    """The three arguments of one ``updateState`` transaction."""

    proof: bytes
    public_input: bytes
    data: bytes


def _abi_bytes(args: bytes, head_index: int) -> bytes:
    offset = int.from_bytes(args[32 * head_index : 32 * head_index + 32], "big")
    if offset + 32 > len(args):
        raise L1Error(L1Reason.DA_PAYLOAD_MISMATCH, "calldata offset out of range")
    length = int.from_bytes(args[offset : offset + 32], "big")
    if offset + 32 + length > len(args):
        raise L1Error(L1Reason.DA_PAYLOAD_MISMATCH, "calldata length out of range")
    return args[offset + 32 : offset + 32 + length]


def decode_update_state_calldata(calldata: bytes) -> UpdateStateCall:
    """Split the input of an ``updateState(bytes,bytes,bytes)`` transaction."""
    if calldata[:4] != UPDATE_STATE_SELECTOR or len(calldata) < 4 + 96:
        raise L1Error(L1Reason.DA_PAYLOAD_MISMATCH, "not an updateState call")
    args = calldata[4:]
    return UpdateStateCall(
        proof=_abi_bytes(args, 0), public_input=_abi_bytes(args, 1), data=_abi_bytes(args, 2)
    )


def _apply_call(state: RollupState, call: UpdateStateCall) -> tuple[RollupState, PublicInput]:
    try:
        pi = decode_public_input(call.public_input)
    except RollupError as exc:
        raise L1Error(L1Reason.DA_PAYLOAD_MISMATCH, exc.message) from exc
    if pi.prev_state_hash != state.get_shared_state().compute_hash():
        raise L1Error(L1Reason.STATE_HASH_MISMATCH, f"batch {pi.batch_number} does not chain")
    if len(call.data) < 32:
        raise L1Error(L1Reason.DA_PAYLOAD_MISMATCH, "rollup data too short")
    state_part, audit_hash = call.data[:-32], call.data[-32:]
    if compute_keccak256(compute_keccak256(state_part) + audit_hash) != pi.da_hash:
        raise L1Error(L1Reason.DA_PAYLOAD_MISMATCH, f"batch {pi.batch_number} data hash")
    # Only the audit part's hash is on L1; an empty audit part decodes the state part alone.
    framed = len(state_part).to_bytes(4, "big") + state_part + (0).to_bytes(4, "big")
    try:
        payload = decode_payload(framed, state.config.n_assets)
        rebuilt = rebuild_state(state, [payload], expected=[pi.new_shared_state])
    except RollupError as exc:
        raise L1Error(L1Reason.STATE_HASH_MISMATCH, exc.message) from exc
    return rebuilt, pi


def rebuild_state_from_calldata(genesis: RollupState, calldatas: Sequence[bytes]) -> RollupState:
    """Rebuild the L2 state from the genesis and the inputs of every accepted
    ``updateState`` (rollup mode), checking each step against its public input."""
    state = genesis.copy()
    for calldata in calldatas:
        state, _ = _apply_call(state, decode_update_state_calldata(calldata))
    return state
