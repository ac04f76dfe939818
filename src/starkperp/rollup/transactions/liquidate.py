"""Liquidate: a liquidator's signed order takes over part of an unhealthy position.

Allowed only when the liquidated position (after funding) has TR > TV. The liquidated
position's synthetic balance must shrink towards zero without flipping sign; it then takes
the opposite side of the liquidator's order at the fill price, subject to the validity rule's
"smaller and not worse TV/TR" branch (StarkEx's ``update_position``). The liquidator's order
is executed like a trade order, paying its fee to the fee position.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.position import apply_funding, compute_status, is_liquidatable
from starkperp.rollup.quantities import Collateral, PositionId, Quantity, is_amount
from starkperp.rollup.transactions.common import StateView, TxEffect, update_position
from starkperp.rollup.transactions.limit_order import LimitOrder, execute_limit_order

__all__ = ["Liquidate", "apply_liquidate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidate:
    """Fill ``liquidator_order`` against ``liquidated_position_id``."""

    liquidator_order: LimitOrder
    liquidated_position_id: PositionId
    actual_collateral: Collateral
    actual_synthetic: Quantity
    actual_liquidator_fee: Collateral


def apply_liquidate(view: StateView, tx: Liquidate) -> TxEffect:
    """Return the effect of a liquidation."""
    order = tx.liquidator_order
    config = view.config
    if not (is_amount(tx.actual_collateral) and is_amount(tx.actual_liquidator_fee)):
        raise TransactionRejected(Reason.AMOUNT_OUT_OF_RANGE)
    if order.position_id == tx.liquidated_position_id:
        raise TransactionRejected(Reason.SAME_POSITION_ID)
    if tx.liquidated_position_id == config.fee_position_id:
        raise TransactionRejected(Reason.FEE_POSITION_PARTICIPATION)
    slot = config.get_asset_slot(order.asset_id_synthetic)
    funded = apply_funding(view.get_position(tx.liquidated_position_id), view.global_state)
    if not is_liquidatable(compute_status(funded, config, view.global_state)):
        raise TransactionRejected(Reason.UNLIQUIDATABLE_POSITION)
    balance = funded.assets[slot].balance
    if order.is_buying_synthetic:
        collateral_delta, synthetic_delta = int(tx.actual_collateral), -tx.actual_synthetic
        if not 0 <= tx.actual_synthetic <= balance:
            raise TransactionRejected(
                Reason.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS
            )
    else:
        collateral_delta, synthetic_delta = -int(tx.actual_collateral), int(tx.actual_synthetic)
        if not 0 <= tx.actual_synthetic <= -balance:
            raise TransactionRejected(
                Reason.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS
            )
    update_position(
        view,
        tx.liquidated_position_id,
        public_key=None,
        collateral_delta=collateral_delta,
        asset_id=order.asset_id_synthetic,
        synthetic_delta=synthetic_delta,
    )
    execute_limit_order(
        view,
        order,
        actual_collateral=tx.actual_collateral,
        actual_synthetic=tx.actual_synthetic,
        actual_fee=tx.actual_liquidator_fee,
    )
    return view.to_effect()
