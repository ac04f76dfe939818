"""Trade: two signed limit orders on opposite sides filled against each other.

Party A's and party B's orders must be on the same synthetic asset, on opposite sides and on
distinct positions; each is executed with :func:`execute_limit_order` (fairness, fee limit,
fulfillment, expiry, funding first, validity rule after).
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.quantities import Collateral, Quantity
from starkperp.rollup.transactions.common import StateView, TxEffect
from starkperp.rollup.transactions.limit_order import LimitOrder, execute_limit_order

__all__ = ["Trade", "apply_trade"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade:
    """A fill of ``actual_synthetic`` for ``actual_collateral`` between two orders."""

    party_a_order: LimitOrder
    party_b_order: LimitOrder
    actual_a_fee: Collateral
    actual_b_fee: Collateral
    actual_collateral: Collateral
    actual_synthetic: Quantity


def apply_trade(view: StateView, tx: Trade) -> TxEffect:
    """Return the effect of a trade."""
    a, b = tx.party_a_order, tx.party_b_order
    if (
        a.asset_id_synthetic != b.asset_id_synthetic
        or a.is_buying_synthetic == b.is_buying_synthetic
    ):
        raise TransactionRejected(Reason.ORDERS_NOT_MATCHING)
    if a.position_id == b.position_id:
        raise TransactionRejected(Reason.SAME_POSITION_ID)
    for order, fee in ((a, tx.actual_a_fee), (b, tx.actual_b_fee)):
        execute_limit_order(
            view,
            order,
            actual_collateral=tx.actual_collateral,
            actual_synthetic=tx.actual_synthetic,
            actual_fee=fee,
        )
    return view.to_effect()
