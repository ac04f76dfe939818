"""ForcedTrade: a trade party A requested on L1 with party B's signed consent.

Party A authenticated on L1; party B signed the trade's terms. If ``is_valid`` both
positions move (funding first, validity rule after each) and B's message is recorded in the
order tree as fully used; if not, nothing changes, but only when the trade really is
invalid. The request id goes to L1 either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.hashing import compute_keccak256
from starkperp.rollup.messages import (
    MessageKind,
    Signature,
    compute_message_hash,
    validate_signature,
)
from starkperp.rollup.quantities import AssetId, Collateral, PositionId, PublicKey, Quantity
from starkperp.rollup.state import encode_word
from starkperp.rollup.transactions.common import (
    ForcedActionServed,
    SignedMessage,
    StateView,
    TxEffect,
    update_order_fulfillment,
    update_position,
    validate_expiration,
    validate_nonce,
    validate_positive_amount,
)

__all__ = ["FORCED_TRADE_KIND", "ForcedTrade", "apply_forced_trade", "compute_forced_trade_hash"]

FORCED_TRADE_KIND = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class ForcedTrade:
    """A trade between positions A and B at fixed amounts, forced from L1."""

    position_a: PositionId
    public_key_a: PublicKey
    position_b: PositionId
    public_key_b: PublicKey
    synthetic_asset_id: AssetId
    amount_collateral: Collateral
    amount_synthetic: Quantity
    is_party_a_buying_synthetic: bool
    nonce: int
    expiration_hours: int
    signature_b: Signature = Signature()
    is_valid: bool = True

    def _fields(self) -> tuple[int, ...]:
        return (
            self.position_a,
            self.public_key_a,
            self.position_b,
            self.public_key_b,
            self.synthetic_asset_id,
            self.amount_collateral,
            self.amount_synthetic,
            int(self.is_party_a_buying_synthetic),
            self.nonce,
            self.expiration_hours,
        )

    def compute_request_id(self) -> bytes:
        """Return the id L1 files the request under (keccak256 of its words)."""
        words = (FORCED_TRADE_KIND, *self._fields())
        return compute_keccak256(b"".join(encode_word(w) for w in words))


def compute_forced_trade_hash(tx: ForcedTrade) -> int:
    """Return the hash party B signs."""
    return compute_message_hash(MessageKind.FORCED_TRADE, tx._fields())


def _execute(view: StateView, tx: ForcedTrade) -> None:
    validate_positive_amount(tx.amount_synthetic, "amount_synthetic")
    validate_positive_amount(tx.amount_collateral, "amount_collateral")
    validate_nonce(tx.nonce)
    validate_expiration(view, tx.expiration_hours)
    if tx.position_a == tx.position_b:
        raise TransactionRejected(Reason.SAME_POSITION_ID)
    fee_id = view.config.fee_position_id
    if fee_id in (tx.position_a, tx.position_b):
        raise TransactionRejected(Reason.FEE_POSITION_PARTICIPATION)
    view.config.get_asset_slot(tx.synthetic_asset_id)
    message_hash = compute_forced_trade_hash(tx)
    if view.config.verify_signatures:
        validate_signature(tx.public_key_b, message_hash, tx.signature_b)
    view.signed_messages.append(
        SignedMessage(
            message_hash=message_hash, public_key=tx.public_key_b, signature=tx.signature_b
        )
    )
    update_order_fulfillment(
        view,
        message_hash,
        tx.amount_synthetic,
        tx.amount_synthetic,
        expiration_hours=tx.expiration_hours,
        amount_collateral=tx.amount_collateral,
        is_buying=not tx.is_party_a_buying_synthetic,
    )
    sign = 1 if tx.is_party_a_buying_synthetic else -1
    for position_id, key, s in (
        (tx.position_a, tx.public_key_a, sign),
        (tx.position_b, tx.public_key_b, -sign),
    ):
        update_position(
            view,
            position_id,
            public_key=key,
            collateral_delta=-s * tx.amount_collateral,
            asset_id=tx.synthetic_asset_id,
            synthetic_delta=s * tx.amount_synthetic,
        )


def apply_forced_trade(view: StateView, tx: ForcedTrade) -> TxEffect:
    """Return the effect of serving a forced trade."""
    served = (ForcedActionServed(request_id=tx.compute_request_id(), is_valid=tx.is_valid),)
    if tx.is_valid:
        _execute(view, tx)
        return view.to_effect(forced=served)
    try:
        _execute(StateView(base=view), tx)
    except TransactionRejected:
        return view.to_effect(forced=served)
    raise TransactionRejected(Reason.FORCED_ACTION_WRONGLY_MARKED_INVALID)
