"""Batch execution: run transactions from a starting state, collect what L1 and the AIR need.

:func:`execute_batch` works on a copy of the starting state. Each transaction runs against a
scratch view; its effect is committed only if it succeeded, and a rejected transaction
rejects the whole batch (the sequencer must not propose invalid transactions) while the
starting state stays untouched. The result carries the new state, one witness record per
transaction (its ordered position and order steps), the state diff, the L1 settlements,
the forced actions served, the DA payload and the public input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starkperp.rollup.da import DataAvailabilityPayload
from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.public_input import PublicInput
from starkperp.rollup.state import OrderLeaf, Position, RollupState, SharedState
from starkperp.rollup.transactions import Transaction, apply_transaction
from starkperp.rollup.transactions.common import StateView, TxEffect

__all__ = [
    "BatchRejected",
    "BatchResult",
    "apply_effect",
    "compute_collateral_flows",
    "execute_batch",
]


class BatchRejected(TransactionRejected):
    """A transaction of the batch was rejected; ``index`` says which."""

    def __init__(self, reason: Reason, message: str, index: int) -> None:
        super().__init__(reason, f"tx {index}: {message}")
        self.index = index


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    """Everything one executed batch produced."""

    batch_number: int
    prev_state: RollupState
    state: RollupState
    transactions: tuple[Transaction, ...]
    effects: tuple[TxEffect, ...]
    prev_shared_state: SharedState
    new_shared_state: SharedState
    positions_diff: tuple[tuple[int, Position], ...]
    orders_diff: tuple[tuple[int, OrderLeaf], ...]
    da_payload: DataAvailabilityPayload
    public_input: PublicInput


def apply_effect(state: RollupState, effect: TxEffect) -> None:
    """Commit one transaction's effect into ``state`` (positions, orders, global state)."""
    for step in effect.position_steps:
        state.set_position(step.position_id, step.after)
    for order in effect.order_steps:
        state.set_order(order.key, order.after)
    if effect.new_global_state is not None:
        state.global_state = effect.new_global_state


def compute_collateral_flows(effects: Sequence[TxEffect]) -> tuple[int, int]:
    """Return (net collateral change by transactions, net change by funding) over effects.

    Conservation: the first equals total deposits minus total withdrawals; the second is
    funding's rounding (never positive: funding rounds against every position).
    """
    tx_flow = 0
    funding_flow = 0
    for effect in effects:
        for step in effect.position_steps:
            tx_flow += step.after.collateral - step.funded.collateral
            funding_flow += step.funded.collateral - step.before.collateral
    return tx_flow, funding_flow


def execute_batch(
    state: RollupState, transactions: Sequence[Transaction], batch_number: int
) -> BatchResult:
    """Execute ``transactions`` from ``state`` (left unchanged) and return the result."""
    prev_shared = state.get_shared_state()
    work = state.copy()
    effects: list[TxEffect] = []
    for i, tx in enumerate(transactions):
        try:
            effect = apply_transaction(StateView(base=work), tx)
        except TransactionRejected as exc:
            raise BatchRejected(exc.reason, exc.message, i) from exc
        apply_effect(work, effect)
        effects.append(effect)
    changed_positions = sorted({s.position_id for e in effects for s in e.position_steps})
    changed_orders = sorted({o.key for e in effects for o in e.order_steps})
    new_shared = work.get_shared_state()
    positions_diff = tuple((i, work.get_position(i)) for i in changed_positions)
    orders_diff = tuple((k, work.get_order(k)) for k in changed_orders)
    payload = DataAvailabilityPayload(
        batch_number=batch_number,
        global_state=work.global_state,
        positions=positions_diff,
        orders=orders_diff,
        signed_messages=tuple(m for e in effects for m in e.signed_messages),
    )
    public_input = PublicInput(
        batch_number=batch_number,
        prev_shared_state=prev_shared,
        new_shared_state=new_shared,
        deposits=tuple(d for e in effects for d in e.deposits),
        withdrawals=tuple(w for e in effects for w in e.withdrawals),
        forced_actions=tuple(f for e in effects for f in e.forced),
        conditions=tuple(c for e in effects for c in e.conditions),
        da_hash=payload.compute_hash(),
        funding_collateral_change=compute_collateral_flows(effects)[1],
    )
    return BatchResult(
        batch_number=batch_number,
        prev_state=state,
        state=work,
        transactions=tuple(transactions),
        effects=tuple(effects),
        prev_shared_state=prev_shared,
        new_shared_state=new_shared,
        positions_diff=positions_diff,
        orders_diff=orders_diff,
        da_payload=payload,
        public_input=public_input,
    )
