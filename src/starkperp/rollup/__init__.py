"""The L2 rollup: state trees, transactions, batch execution, data availability, batch AIR.

Public surface (see ``docs/rollup.md``): build a :class:`RollupState` with
:meth:`RollupState.genesis`, run transactions with :func:`execute_batch`, publish the
:class:`DataAvailabilityPayload` and :class:`PublicInput` it returns, and prove it with
:func:`starkperp.rollup.air.prove_batch`.
"""

from starkperp.rollup.batch import BatchRejected, BatchResult, execute_batch
from starkperp.rollup.config import RollupConfig, SyntheticAsset, get_preset
from starkperp.rollup.da import DataAvailabilityPayload, decode_payload, rebuild_state
from starkperp.rollup.errors import DataAvailabilityError, Reason, RollupError, TransactionRejected
from starkperp.rollup.public_input import PublicInput, decode_public_input
from starkperp.rollup.state import (
    GlobalState,
    MerkleProof,
    OrderLeaf,
    Position,
    PositionAsset,
    RollupState,
    SharedState,
    SparseMerkleTree,
    verify_proof,
)

__all__ = [
    "BatchRejected",
    "BatchResult",
    "DataAvailabilityError",
    "DataAvailabilityPayload",
    "GlobalState",
    "MerkleProof",
    "OrderLeaf",
    "Position",
    "PositionAsset",
    "PublicInput",
    "Reason",
    "RollupConfig",
    "RollupError",
    "RollupState",
    "SharedState",
    "SparseMerkleTree",
    "SyntheticAsset",
    "TransactionRejected",
    "decode_payload",
    "decode_public_input",
    "execute_batch",
    "get_preset",
    "rebuild_state",
    "verify_proof",
]
