"""Limit orders and their execution: the signed limits a fill must respect.

An order says "buy (or sell) up to ``amount_synthetic`` for ``amount_collateral`` or better,
paying at most ``amount_fee``". A fill of ``actual_synthetic`` for ``actual_collateral`` with
``actual_fee`` must satisfy StarkEx's fairness rules, one quantum of slack on the collateral
side so opposite orders can always be matched:

* fee:    ``actual_fee · amount_collateral ≤ amount_fee · actual_collateral``
* buyer:  ``(actual_collateral − 1) · amount_synthetic < amount_collateral · actual_synthetic``
* seller: ``actual_synthetic · amount_collateral < amount_synthetic · (actual_collateral + 1)``

and never fill past ``amount_synthetic`` nor after expiry. Shared by Trade and Liquidate.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.messages import (
    MessageKind,
    Signature,
    compute_message_hash,
    validate_signature,
)
from starkperp.rollup.quantities import AssetId, Collateral, PositionId, PublicKey, Quantity
from starkperp.rollup.transactions.common import (
    SignedMessage,
    StateView,
    update_order_fulfillment,
    update_position,
    validate_amount,
    validate_expiration,
    validate_nonce,
    validate_positive_amount,
)

__all__ = ["LimitOrder", "compute_order_hash", "execute_limit_order", "validate_fairness"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitOrder:
    """A signed limit order on one synthetic asset against collateral."""

    position_id: PositionId
    public_key: PublicKey
    asset_id_synthetic: AssetId
    amount_synthetic: Quantity
    amount_collateral: Collateral
    amount_fee: Collateral
    is_buying_synthetic: bool
    nonce: int
    expiration_hours: int
    signature: Signature = Signature()


def compute_order_hash(order: LimitOrder) -> int:
    """Return the hash the order's owner signs."""
    return compute_message_hash(
        MessageKind.LIMIT_ORDER,
        (
            order.position_id,
            order.asset_id_synthetic,
            order.amount_synthetic,
            order.amount_collateral,
            order.amount_fee,
            int(order.is_buying_synthetic),
            order.nonce,
            order.expiration_hours,
        ),
    )


def validate_fairness(
    order: LimitOrder, actual_collateral: int, actual_synthetic: int, actual_fee: int
) -> None:
    """Raise unless the fill respects the order's signed price and fee limits."""
    if actual_fee * order.amount_collateral > order.amount_fee * actual_collateral:
        raise TransactionRejected(Reason.INVALID_FULFILLMENT_FEE_RATIO)
    if order.is_buying_synthetic:
        if actual_collateral == 0:
            return
        if (actual_collateral - 1) * order.amount_synthetic >= (
            order.amount_collateral * actual_synthetic
        ):
            raise TransactionRejected(Reason.INVALID_FULFILLMENT_ASSETS_RATIO, "buyer pays more")
    elif actual_synthetic * order.amount_collateral >= order.amount_synthetic * (
        actual_collateral + 1
    ):
        raise TransactionRejected(Reason.INVALID_FULFILLMENT_ASSETS_RATIO, "seller gets less")


def execute_limit_order(
    view: StateView,
    order: LimitOrder,
    *,
    actual_collateral: int,
    actual_synthetic: int,
    actual_fee: int,
) -> None:
    """Check the fill against the order, record fulfillment, move fee and balances."""
    config = view.config
    if order.position_id == config.fee_position_id:
        raise TransactionRejected(Reason.FEE_POSITION_PARTICIPATION)
    config.get_asset_slot(order.asset_id_synthetic)
    validate_positive_amount(order.amount_collateral, "amount_collateral")
    validate_positive_amount(order.amount_synthetic, "amount_synthetic")
    validate_amount(order.amount_fee, "amount_fee")
    validate_amount(actual_collateral, "actual_collateral")
    validate_amount(actual_fee, "actual_fee")
    validate_amount(actual_synthetic, "actual_synthetic")
    if actual_synthetic == 0:
        raise TransactionRejected(Reason.ZERO_FILL)
    validate_nonce(order.nonce)
    validate_expiration(view, order.expiration_hours)
    validate_fairness(order, actual_collateral, actual_synthetic, actual_fee)
    message_hash = compute_order_hash(order)
    if config.verify_signatures:
        validate_signature(order.public_key, message_hash, order.signature)
    view.signed_messages.append(
        SignedMessage(
            message_hash=message_hash, public_key=order.public_key, signature=order.signature
        )
    )
    update_order_fulfillment(
        view,
        message_hash,
        actual_synthetic,
        order.amount_synthetic,
        expiration_hours=order.expiration_hours,
        amount_collateral=order.amount_collateral,
        amount_fee=order.amount_fee,
        is_buying=order.is_buying_synthetic,
    )
    if order.is_buying_synthetic:
        collateral_delta, synthetic_delta = -actual_collateral - actual_fee, actual_synthetic
    else:
        collateral_delta, synthetic_delta = actual_collateral - actual_fee, -actual_synthetic
    if actual_fee:
        update_position(view, config.fee_position_id, public_key=None, collateral_delta=actual_fee)
    update_position(
        view,
        order.position_id,
        public_key=order.public_key,
        collateral_delta=collateral_delta,
        asset_id=order.asset_id_synthetic,
        synthetic_delta=synthetic_delta,
    )
