"""Transfer: a signed move of collateral from one position to another.

The sender must stay valid; the receiver is claimed by ``receiver_public_key`` if empty.
The message goes into the order tree with its full amount (no replay).
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
    update_order_fulfillment,
    update_position,
    validate_expiration,
    validate_nonce,
    validate_positive_amount,
)

__all__ = ["Transfer", "apply_transfer", "compute_transfer_hash", "execute_transfer"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """Move ``amount`` collateral from the sender's position to the receiver's."""

    sender_position_id: PositionId
    sender_public_key: PublicKey
    receiver_position_id: PositionId
    receiver_public_key: PublicKey
    amount: Collateral
    nonce: int
    expiration_hours: int
    signature: Signature = Signature()


def _transfer_fields(tx: Transfer) -> tuple[int, ...]:
    return (
        tx.sender_position_id,
        tx.receiver_position_id,
        tx.receiver_public_key,
        tx.amount,
        tx.nonce,
        tx.expiration_hours,
    )


def compute_transfer_hash(tx: Transfer) -> int:
    """Return the hash the sender signs."""
    return compute_message_hash(MessageKind.TRANSFER, _transfer_fields(tx))


def execute_transfer(view: StateView, tx: Transfer, message_hash: int) -> None:
    """Check and apply a transfer whose signed message hashes to ``message_hash``."""
    validate_positive_amount(tx.amount)
    validate_nonce(tx.nonce)
    validate_expiration(view, tx.expiration_hours)
    if tx.sender_position_id == tx.receiver_position_id:
        raise TransactionRejected(Reason.SAME_POSITION_ID)
    if view.config.verify_signatures:
        validate_signature(tx.sender_public_key, message_hash, tx.signature)
    view.signed_messages.append(
        SignedMessage(
            message_hash=message_hash, public_key=tx.sender_public_key, signature=tx.signature
        )
    )
    update_order_fulfillment(
        view, message_hash, tx.amount, tx.amount, expiration_hours=tx.expiration_hours
    )
    update_position(
        view, tx.sender_position_id, public_key=tx.sender_public_key, collateral_delta=-tx.amount
    )
    update_position(
        view,
        tx.receiver_position_id,
        public_key=tx.receiver_public_key,
        collateral_delta=tx.amount,
    )


def apply_transfer(view: StateView, tx: Transfer) -> TxEffect:
    """Return the effect of a transfer."""
    execute_transfer(view, tx, compute_transfer_hash(tx))
    return view.to_effect()
