"""Deposit: collateral that arrived on L1 is credited to a position.

The position is claimed by ``public_key`` if empty, else must be owned by it. L1 takes the
amount from its pending deposits when the batch settles.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.quantities import Collateral, PositionId, PublicKey
from starkperp.rollup.transactions.common import (
    DepositSettlement,
    StateView,
    TxEffect,
    update_position,
    validate_positive_amount,
)

__all__ = ["Deposit", "apply_deposit"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Deposit:
    """Credit ``amount`` collateral quanta to ``position_id`` owned by ``public_key``."""

    position_id: PositionId
    public_key: PublicKey
    amount: Collateral


def apply_deposit(view: StateView, tx: Deposit) -> TxEffect:
    """Return the effect of a deposit."""
    validate_positive_amount(tx.amount)
    update_position(view, tx.position_id, public_key=tx.public_key, collateral_delta=tx.amount)
    settlement = DepositSettlement(
        position_id=tx.position_id, public_key=tx.public_key, amount=tx.amount
    )
    return view.to_effect(deposits=(settlement,))
