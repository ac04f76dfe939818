"""ConditionalTransfer: a transfer valid only if a fact is registered on L1.

The batch outputs the condition ``keccak256(word(fact_registry) ‖ word(fact))``; L1 must
check, when it accepts the batch, that ``fact_registry`` holds ``fact``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.hashing import compute_keccak256
from starkperp.rollup.messages import MessageKind, Signature, compute_message_hash
from starkperp.rollup.quantities import Collateral, PositionId, PublicKey
from starkperp.rollup.state import encode_word
from starkperp.rollup.transactions.common import StateView, TxEffect
from starkperp.rollup.transactions.transfer import Transfer, execute_transfer

__all__ = [
    "ConditionalTransfer",
    "apply_conditional_transfer",
    "compute_condition",
    "compute_conditional_transfer_hash",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionalTransfer:
    """A transfer plus the L1 fact it is conditioned on."""

    sender_position_id: PositionId
    sender_public_key: PublicKey
    receiver_position_id: PositionId
    receiver_public_key: PublicKey
    amount: Collateral
    nonce: int
    expiration_hours: int
    fact_registry: int
    fact: int
    signature: Signature = Signature()

    def as_transfer(self) -> Transfer:
        """Return the plain transfer part."""
        return Transfer(
            sender_position_id=self.sender_position_id,
            sender_public_key=self.sender_public_key,
            receiver_position_id=self.receiver_position_id,
            receiver_public_key=self.receiver_public_key,
            amount=self.amount,
            nonce=self.nonce,
            expiration_hours=self.expiration_hours,
            signature=self.signature,
        )


def compute_condition(tx: ConditionalTransfer) -> bytes:
    """Return the 32-byte condition L1 checks against its fact registry."""
    return compute_keccak256(encode_word(tx.fact_registry) + encode_word(tx.fact))


def compute_conditional_transfer_hash(tx: ConditionalTransfer) -> int:
    """Return the hash the sender signs (transfer fields, then the condition)."""
    condition = int.from_bytes(compute_condition(tx), "big") >> 8  # fits the STARK field
    return compute_message_hash(
        MessageKind.CONDITIONAL_TRANSFER,
        (
            tx.sender_position_id,
            tx.receiver_position_id,
            tx.receiver_public_key,
            tx.amount,
            tx.nonce,
            tx.expiration_hours,
            condition,
        ),
    )


def apply_conditional_transfer(view: StateView, tx: ConditionalTransfer) -> TxEffect:
    """Return the effect of a conditional transfer (its condition goes to L1)."""
    execute_transfer(view, tx.as_transfer(), compute_conditional_transfer_hash(tx))
    return view.to_effect(conditions=(compute_condition(tx),))
