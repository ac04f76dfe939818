"""The L2 transaction set of StarkEx Perpetual, one module per transaction type.

Each module holds a frozen dataclass and ``apply_<tx>(view, tx) -> TxEffect``;
:func:`apply_transaction` dispatches on the type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.transactions.common import (
    DepositSettlement,
    ForcedActionServed,
    OrderUpdate,
    SignedMessage,
    StateView,
    TxEffect,
    WithdrawalSettlement,
)
from starkperp.rollup.transactions.conditional_transfer import (
    ConditionalTransfer,
    apply_conditional_transfer,
)
from starkperp.rollup.transactions.deleverage import Deleverage, apply_deleverage
from starkperp.rollup.transactions.deposit import Deposit, apply_deposit
from starkperp.rollup.transactions.forced_trade import ForcedTrade, apply_forced_trade
from starkperp.rollup.transactions.forced_withdrawal import (
    ForcedWithdrawal,
    apply_forced_withdrawal,
)
from starkperp.rollup.transactions.funding_tick import (
    FundingIndexEntry,
    FundingTick,
    apply_funding_tick,
)
from starkperp.rollup.transactions.insurance_takeover import (
    InsuranceTakeover,
    TakeoverClose,
    apply_insurance_takeover,
)
from starkperp.rollup.transactions.limit_order import LimitOrder, compute_order_hash
from starkperp.rollup.transactions.liquidate import Liquidate, apply_liquidate
from starkperp.rollup.transactions.oracle_prices_tick import (
    AssetOraclePrice,
    OraclePricesTick,
    SignedOraclePrice,
    apply_oracle_prices_tick,
)
from starkperp.rollup.transactions.trade import Trade, apply_trade
from starkperp.rollup.transactions.transfer import Transfer, apply_transfer
from starkperp.rollup.transactions.withdrawal import Withdrawal, apply_withdrawal

__all__ = [
    "AssetOraclePrice",
    "ConditionalTransfer",
    "Deleverage",
    "Deposit",
    "DepositSettlement",
    "ForcedActionServed",
    "ForcedTrade",
    "ForcedWithdrawal",
    "FundingIndexEntry",
    "FundingTick",
    "InsuranceTakeover",
    "LimitOrder",
    "Liquidate",
    "OraclePricesTick",
    "OrderUpdate",
    "SignedMessage",
    "SignedOraclePrice",
    "StateView",
    "TakeoverClose",
    "Trade",
    "Transaction",
    "Transfer",
    "TxEffect",
    "Withdrawal",
    "WithdrawalSettlement",
    "apply_transaction",
    "compute_order_hash",
]

Transaction = (
    Deposit
    | Withdrawal
    | Transfer
    | ConditionalTransfer
    | Trade
    | Liquidate
    | InsuranceTakeover
    | Deleverage
    | FundingTick
    | OraclePricesTick
    | ForcedWithdrawal
    | ForcedTrade
)

_APPLY: dict[type, Callable[[StateView, Any], TxEffect]] = {
    Deposit: apply_deposit,
    Withdrawal: apply_withdrawal,
    Transfer: apply_transfer,
    ConditionalTransfer: apply_conditional_transfer,
    Trade: apply_trade,
    Liquidate: apply_liquidate,
    InsuranceTakeover: apply_insurance_takeover,
    Deleverage: apply_deleverage,
    FundingTick: apply_funding_tick,
    OraclePricesTick: apply_oracle_prices_tick,
    ForcedWithdrawal: apply_forced_withdrawal,
    ForcedTrade: apply_forced_trade,
}


def apply_transaction(view: StateView, tx: Transaction) -> TxEffect:
    """Return the effect of any transaction on ``view`` (raises if rejected)."""
    fn = _APPLY.get(type(tx))
    if fn is None:
        raise TransactionRejected(Reason.UNKNOWN_TRANSACTION, type(tx).__name__)
    return fn(view, tx)
