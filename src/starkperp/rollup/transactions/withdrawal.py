"""Withdrawal: a signed request to move collateral from a position to an L1 address.

The position must stay valid afterwards. The signed message is recorded in the order tree
with its full amount, so a withdrawal can never be replayed.
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
from starkperp.rollup.quantities import Collateral, PositionId, PublicKey
from starkperp.rollup.transactions.common import (
    SignedMessage,
    StateView,
    TxEffect,
    WithdrawalSettlement,
    update_order_fulfillment,
    update_position,
    validate_expiration,
    validate_nonce,
    validate_positive_amount,
)

__all__ = ["Withdrawal", "apply_withdrawal", "compute_withdrawal_hash"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Withdrawal:
    """Move ``amount`` collateral from ``position_id`` to L1 address ``recipient``."""

    position_id: PositionId
    public_key: PublicKey
    amount: Collateral
    recipient: int
    nonce: int
    expiration_hours: int
    signature: Signature = Signature()


def compute_withdrawal_hash(tx: Withdrawal) -> int:
    """Return the hash the owner signs."""
    return compute_message_hash(
        MessageKind.WITHDRAWAL,
        (tx.position_id, tx.amount, tx.recipient, tx.nonce, tx.expiration_hours),
    )


def apply_withdrawal(view: StateView, tx: Withdrawal) -> TxEffect:
    """Return the effect of a withdrawal."""
    validate_positive_amount(tx.amount)
    if not 0 <= tx.recipient < 2**160:
        raise TransactionRejected(Reason.RECIPIENT_OUT_OF_RANGE)
    validate_nonce(tx.nonce)
    validate_expiration(view, tx.expiration_hours)
    message_hash = compute_withdrawal_hash(tx)
    if view.config.verify_signatures:
        validate_signature(tx.public_key, message_hash, tx.signature)
    view.signed_messages.append(
        SignedMessage(message_hash=message_hash, public_key=tx.public_key, signature=tx.signature)
    )
    update_order_fulfillment(
        view, message_hash, tx.amount, tx.amount, expiration_hours=tx.expiration_hours
    )
    update_position(view, tx.position_id, public_key=tx.public_key, collateral_delta=-tx.amount)
    settlement = WithdrawalSettlement(
        position_id=tx.position_id,
        public_key=tx.public_key,
        recipient=tx.recipient,
        amount=tx.amount,
    )
    return view.to_effect(withdrawals=(settlement,))
