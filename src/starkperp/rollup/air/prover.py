"""Prove and verify a batch with the generic STARK: the rollup's entry points to the AIR.

``prove_batch`` builds the witness from an executed batch, lays out the trace and proves it;
``verify_batch`` checks a proof against a :class:`~starkperp.rollup.public_input.PublicInput`
alone (what L1 has). The AIR's public inputs are ``PublicInput.to_field_elements()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starkperp.rollup.air.constraints import build_batch_air
from starkperp.rollup.air.layout import BatchAirLayout, compute_layout
from starkperp.rollup.air.trace import build_batch_trace, compute_batch_steps
from starkperp.rollup.batch import BatchResult
from starkperp.rollup.config import RollupConfig
from starkperp.rollup.errors import Reason, RollupError
from starkperp.rollup.public_input import PublicInput
from starkperp.stark.air import Air
from starkperp.stark.errors import VerificationError
from starkperp.stark.options import ProofOptions
from starkperp.stark.prover import prove
from starkperp.stark.verifier import verify

__all__ = [
    "BatchTrace",
    "build_batch_witness_trace",
    "get_batch_air",
    "prove_batch",
    "verify_batch",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchTrace:
    """A batch's trace and the AIR public inputs it is proven against."""

    air: Air
    layout: BatchAirLayout
    trace: np.ndarray
    public_inputs: tuple[int, ...]
    n_steps: int


def get_batch_air(config: RollupConfig) -> Air:
    """Return the batch AIR of ``config``."""
    return build_batch_air(compute_layout(config))


def build_batch_witness_trace(result: BatchResult, *, squash: bool = False) -> BatchTrace:
    """Return the trace of an executed batch (raises UNPROVABLE_BATCH if out of bounds).

    ``squash`` proves one Merkle update per distinct position instead of one per touched
    position per transaction; both prove the same statement (``docs/proof-statement.md``).
    """
    config = result.state.config
    layout = compute_layout(config)
    steps = compute_batch_steps(
        result.prev_state, result.effects, squash=squash, transactions=result.transactions
    )
    prev = result.prev_shared_state
    built = build_batch_trace(layout, steps, prev.positions_root, prev.orders_root)
    trace, net = built.trace, built.totals
    pi = result.public_input
    if (built.positions_root, built.orders_root) != (
        pi.new_shared_state.positions_root,
        pi.new_shared_state.orders_root,
    ):
        raise RollupError(Reason.UNPROVABLE_BATCH, "replayed roots differ from the batch's")
    if net[0] != pi.total_deposits - pi.total_withdrawals + pi.funding_collateral_change:
        raise RollupError(Reason.UNPROVABLE_BATCH, "collateral flows do not add up")
    if any(net[1:]):
        raise RollupError(Reason.UNPROVABLE_BATCH, "synthetic balances do not net to zero")
    return BatchTrace(
        air=build_batch_air(layout),
        layout=layout,
        trace=trace,
        public_inputs=tuple(int(x) for x in pi.to_field_elements()),
        n_steps=len(steps),
    )


def prove_batch(
    result: BatchResult,
    options: ProofOptions,
    *,
    squash: bool = False,
    timings: dict[str, float] | None = None,
) -> bytes:
    """Return the STARK proof of an executed batch (see :func:`build_batch_witness_trace`)."""
    bt = build_batch_witness_trace(result, squash=squash)
    return prove(bt.air, bt.trace, bt.public_inputs, options, timings=timings)


def verify_batch(
    config: RollupConfig, public_input: PublicInput, proof: bytes, options: ProofOptions
) -> None:
    """Return if ``proof`` proves the batch described by ``public_input``; else raise.

    Raises :class:`~starkperp.rollup.errors.RollupError` with INVALID_BATCH_PROOF (the STARK
    verifier's reason in the message) and nothing else.
    """
    air = get_batch_air(config)
    try:
        verify(air, [int(x) for x in public_input.to_field_elements()], proof, options)
    except VerificationError as exc:
        raise RollupError(Reason.INVALID_BATCH_PROOF, f"{exc.reason.name}: {exc.message}") from exc
