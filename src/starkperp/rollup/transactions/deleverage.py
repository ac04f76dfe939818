"""Deleverage: close a bankrupt position (TV < 0) against a profitable opposite one.

Allowed only when the deleveraged position's TV is negative and the insurance fund's total
value cannot cover the loss (:func:`is_insurance_able_to_absorb`). The deleverager must only
reduce its holdings; the deleveraged position must be left valid by the rule's "not worse"
branch; and StarkEx's fairness check requires the price to be the best possible for the deleverager: one quantum
less collateral to the deleveraged position would have made its TV/TR ratio worse.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.position import apply_funding, compute_status, is_deleveragable
from starkperp.rollup.quantities import FXP_32_ONE, AssetId, Collateral, PositionId, Quantity
from starkperp.rollup.transactions.common import (
    StateView,
    TxEffect,
    update_position,
    validate_amount,
)

__all__ = ["Deleverage", "apply_deleverage", "is_insurance_able_to_absorb"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Deleverage:
    """Move ``amount_synthetic`` for ``amount_collateral`` between the two positions."""

    deleveraged_position_id: PositionId
    deleverager_position_id: PositionId
    synthetic_asset_id: AssetId
    amount_synthetic: Quantity
    amount_collateral: Collateral
    deleverager_is_buying_synthetic: bool


def is_insurance_able_to_absorb(view: StateView, tv: int) -> bool:
    """Return whether the insurance fund's value covers a deficit of ``-tv`` (TV x 2^32).

    Judged before the transaction, in whole quanta: the fund's total value at the current
    prices and funding (rounded down) against the deficit (rounded up). A fund holding
    balances it took over is worth their value, not only its collateral; the exchange
    deleverages exactly when this is false (after the fund paid what it could).
    """
    config = view.config
    fund = apply_funding(view.base.get_position(config.insurance_position_id), view.global_state)
    fund_tv = compute_status(fund, config, view.global_state).tv
    return fund_tv // FXP_32_ONE >= -(tv // FXP_32_ONE)


def apply_deleverage(view: StateView, tx: Deleverage) -> TxEffect:
    """Return the effect of a deleverage."""
    config = view.config
    validate_amount(tx.amount_synthetic, "amount_synthetic")
    validate_amount(tx.amount_collateral, "amount_collateral")
    if tx.deleverager_position_id == tx.deleveraged_position_id:
        raise TransactionRejected(Reason.SAME_POSITION_ID)
    slot = config.get_asset_slot(tx.synthetic_asset_id)
    sign = 1 if tx.deleverager_is_buying_synthetic else -1
    deleveraged = update_position(
        view,
        tx.deleveraged_position_id,
        public_key=None,
        collateral_delta=sign * tx.amount_collateral,
        asset_id=tx.synthetic_asset_id,
        synthetic_delta=-sign * tx.amount_synthetic,
    )
    deleverager = update_position(
        view,
        tx.deleverager_position_id,
        public_key=None,
        collateral_delta=-sign * tx.amount_collateral,
        asset_id=tx.synthetic_asset_id,
        synthetic_delta=sign * tx.amount_synthetic,
    )
    held = deleverager.funded.assets[slot].balance
    if not 0 <= tx.amount_synthetic <= -sign * held:
        raise TransactionRejected(Reason.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS)
    initial = compute_status(deleveraged.funded, config, view.global_state)
    if not is_deleveragable(initial):
        raise TransactionRejected(Reason.UNDELEVERAGABLE_POSITION)
    if is_insurance_able_to_absorb(view, initial.tv):
        raise TransactionRejected(Reason.INSURANCE_FUND_CAN_ABSORB)
    updated = compute_status(deleveraged.after, config, view.global_state)
    if (updated.tv - FXP_32_ONE) * initial.tr + 1 > initial.tv * updated.tr:
        raise TransactionRejected(Reason.UNFAIR_DELEVERAGE)
    return view.to_effect()
