"""ForcedWithdrawal: a withdrawal requested on L1 that the operator must serve.

The request carries no L2 signature (L1 authenticated the requester). If ``is_valid`` the
withdrawal is applied like a signed one; if not, the request is served without any change,
but only when applying it really would be rejected. Either way the request id goes to L1,
which clears the pending request.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.hashing import compute_keccak256
from starkperp.rollup.quantities import Collateral, PositionId, PublicKey
from starkperp.rollup.state import encode_word
from starkperp.rollup.transactions.common import (
    ForcedActionServed,
    StateView,
    TxEffect,
    WithdrawalSettlement,
    update_position,
    validate_positive_amount,
)

__all__ = ["FORCED_WITHDRAWAL_KIND", "ForcedWithdrawal", "apply_forced_withdrawal"]

FORCED_WITHDRAWAL_KIND = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ForcedWithdrawal:
    """Withdraw ``amount`` from ``position_id`` to ``recipient``, as requested on L1."""

    position_id: PositionId
    public_key: PublicKey
    amount: Collateral
    recipient: int
    is_valid: bool = True

    def compute_request_id(self) -> bytes:
        """Return the id L1 files the request under (keccak256 of its words)."""
        words = (FORCED_WITHDRAWAL_KIND, self.position_id, self.public_key, self.amount)
        return compute_keccak256(b"".join(encode_word(w) for w in (*words, self.recipient)))


def _execute(view: StateView, tx: ForcedWithdrawal) -> WithdrawalSettlement:
    validate_positive_amount(tx.amount)
    if not 0 <= tx.recipient < 2**160:
        raise TransactionRejected(Reason.RECIPIENT_OUT_OF_RANGE)
    update_position(view, tx.position_id, public_key=tx.public_key, collateral_delta=-tx.amount)
    return WithdrawalSettlement(
        position_id=tx.position_id,
        public_key=tx.public_key,
        recipient=tx.recipient,
        amount=tx.amount,
    )


def apply_forced_withdrawal(view: StateView, tx: ForcedWithdrawal) -> TxEffect:
    """Return the effect of serving a forced withdrawal."""
    served = (ForcedActionServed(request_id=tx.compute_request_id(), is_valid=tx.is_valid),)
    if tx.is_valid:
        settlement = _execute(view, tx)
        return view.to_effect(withdrawals=(settlement,), forced=served)
    try:
        _execute(StateView(base=view), tx)
    except TransactionRejected:
        return view.to_effect(forced=served)
    raise TransactionRejected(Reason.FORCED_ACTION_WRONGLY_MARKED_INVALID)
