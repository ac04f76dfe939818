"""InsuranceTakeover: the insurance fund takes over an unhealthy position at the oracle price.

This is how the exchange liquidates (:mod:`starkperp.exchange.liquidation`): no liquidator's
signed order, but the insurance fund's position taking the liquidated balances at the oracle
price, then a penalty from the liquidated position to the fund (when value is left) or an
insurance payment from the fund to the liquidated position (when it is bankrupt). One
transaction carries all of it, so every position moves exactly as the exchange moved it.

The executor recomputes everything it relies on from the state (the batch's current oracle
prices and funding indices), trusting nothing the operator claims:

1. the liquidated position is neither the fee position (FEE_POSITION_PARTICIPATION) nor the
   insurance fund (INSURANCE_POSITION_PARTICIPATION), and after funding TR > TV
   (UNLIQUIDATABLE_POSITION);
2. each close names its own asset (DUPLICATE_ASSET) and hands over a non-zero part of the
   funded balance in it, never flipping its sign
   (ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS), for exactly the oracle value
   ``collateral = floor(balance * price / 2^32)`` (rounding favours the fund;
   TAKEOVER_NOT_AT_ORACLE_PRICE);
3. the penalty is at most ``ceil(max_penalty * sum |balance * price| / 2^64)`` over the
   closes, ``max_penalty`` being :func:`get_max_liquidation_penalty` (0.32 fixed point;
   LIQUIDATION_PENALTY_TOO_LARGE): with (2), the price the liquidated position gets is the
   oracle price within the configured penalty;
4. an insurance payment comes without a penalty and leaves the liquidated position with
   TV <= 0: the fund pays at most the deficit (INSURANCE_OVERPAYMENT);
5. the liquidated position's whole change satisfies the validity rule (a full takeover
   leaves TR = 0, so its TV must end >= 0: the penalty never exceeds the value left);
6. the insurance fund stays solvent: its TV after the takeover is >= 0, or the takeover did
   not lower it (INSURANCE_FUND_INSOLVENT). The fund is the system's backstop, not a
   margin account: taking over balances raises its TR, and a fund whose value turns
   negative later is deleveraged like any bankrupt position;
7. amounts fit: balances and close collateral in (-2^63, 2^63), penalty and payment in
   [0, 2^64) (AMOUNT_OUT_OF_RANGE, BALANCE_OUT_OF_RANGE); a takeover that moves nothing is
   refused (ZERO_FILL).

Leaf updates, in order: the liquidated position, then the insurance fund's position. No order
leaf and no fee position is touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.config import RollupConfig
from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.position import apply_funding, compute_status, is_liquidatable
from starkperp.rollup.quantities import (
    FXP_32_ONE,
    AssetId,
    Collateral,
    PositionId,
    Quantity,
    RiskFactor,
    is_balance,
)
from starkperp.rollup.transactions.common import (
    StateView,
    TxEffect,
    update_position_assets,
    validate_amount,
)

__all__ = [
    "MAX_LIQUIDATION_PENALTY",
    "InsuranceTakeover",
    "TakeoverClose",
    "apply_insurance_takeover",
    "compute_max_penalty",
    "compute_takeover_collateral",
    "get_max_liquidation_penalty",
]

MAX_LIQUIDATION_PENALTY = RiskFactor(-(-FXP_32_ONE // 100))
"""The largest liquidation penalty the rollup accepts: 1 % of the closed notional, in 0.32
fixed point rounded up (the exchange's default ``liquidation_penalty`` of 10,000 ppm)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeoverClose:
    """One synthetic balance handed to the insurance fund."""

    asset_id: AssetId
    balance: Quantity
    """The balance handed over (signed: positive for a long); the fund's balance grows by it."""
    collateral: Collateral
    """What the liquidated position receives for it (negative: it pays)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InsuranceTakeover:
    """Liquidate ``liquidated_position_id`` into the insurance fund at the oracle price."""

    liquidated_position_id: PositionId
    closes: tuple[TakeoverClose, ...]
    penalty: Collateral
    """From the liquidated position to the insurance fund."""
    insurance_payment: Collateral
    """From the insurance fund to the liquidated position."""


def get_max_liquidation_penalty(config: RollupConfig) -> RiskFactor:
    """Return the penalty bound of ``config`` (0.32 fixed point of the closed notional).

    ``RollupConfig`` has no penalty field yet; every configuration uses
    :data:`MAX_LIQUIDATION_PENALTY` until it gains one.
    """
    del config
    return MAX_LIQUIDATION_PENALTY


def compute_takeover_collateral(balance: int, price: int) -> Collateral:
    """Return the oracle value of ``balance`` in collateral quanta, rounded down (floor)."""
    return Collateral((balance * price) // FXP_32_ONE)


def compute_max_penalty(notional_scaled: int, max_penalty: int) -> Collateral:
    """Return ``ceil(max_penalty * notional_scaled / 2^64)`` (``notional_scaled`` x 2^32)."""
    return Collateral(-((-max_penalty * notional_scaled) // FXP_32_ONE**2))


def apply_insurance_takeover(view: StateView, tx: InsuranceTakeover) -> TxEffect:
    """Return the effect of an insurance-fund takeover (see the module's conditions)."""
    config = view.config
    global_state = view.global_state
    validate_amount(tx.penalty, "penalty")
    validate_amount(tx.insurance_payment, "insurance_payment")
    liquidated_id = tx.liquidated_position_id
    fund_id = config.insurance_position_id
    if liquidated_id == config.fee_position_id:
        raise TransactionRejected(Reason.FEE_POSITION_PARTICIPATION)
    if liquidated_id == fund_id:
        raise TransactionRejected(Reason.INSURANCE_POSITION_PARTICIPATION)
    if not tx.closes and not tx.penalty and not tx.insurance_payment:
        raise TransactionRejected(Reason.ZERO_FILL, "the takeover moves nothing")
    funded = apply_funding(view.get_position(liquidated_id), global_state)
    if not is_liquidatable(compute_status(funded, config, global_state)):
        raise TransactionRejected(Reason.UNLIQUIDATABLE_POSITION)
    # 1. The closes: distinct assets, shrinking balances, exactly at the oracle price.
    seen: set[int] = set()
    notional_scaled = 0
    received = 0
    for close in tx.closes:
        slot = config.get_asset_slot(close.asset_id)
        if slot in seen:
            raise TransactionRejected(Reason.DUPLICATE_ASSET, f"asset {close.asset_id}")
        seen.add(slot)
        if not (is_balance(close.balance) and is_balance(close.collateral)):
            raise TransactionRejected(Reason.AMOUNT_OUT_OF_RANGE, "close")
        held = funded.assets[slot].balance
        if (
            close.balance == 0
            or (close.balance > 0) != (held > 0)
            or abs(close.balance) > abs(held)
        ):
            raise TransactionRejected(
                Reason.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS,
                f"asset {close.asset_id}: hands over {close.balance} of {held}",
            )
        price = global_state.prices[slot]
        if close.collateral != compute_takeover_collateral(close.balance, price):
            raise TransactionRejected(
                Reason.TAKEOVER_NOT_AT_ORACLE_PRICE, f"asset {close.asset_id}"
            )
        notional_scaled += abs(close.balance * price)
        received += close.collateral
    # 2. The penalty bound and the payment bound (checked on the result below).
    bound = compute_max_penalty(notional_scaled, get_max_liquidation_penalty(config))
    if tx.penalty > bound:
        raise TransactionRejected(Reason.LIQUIDATION_PENALTY_TOO_LARGE, f"{tx.penalty} > {bound}")
    if tx.insurance_payment and tx.penalty:
        raise TransactionRejected(Reason.INSURANCE_OVERPAYMENT, "payment with a penalty")
    # 3. Both positions, in order: the liquidated one (validity rule), then the fund.
    net = received - tx.penalty + tx.insurance_payment
    moves = [(int(c.asset_id), -int(c.balance)) for c in tx.closes]
    liquidated = update_position_assets(
        view, liquidated_id, collateral_delta=net, synthetic_deltas=moves
    )
    if tx.insurance_payment and compute_status(liquidated.after, config, global_state).tv > 0:
        raise TransactionRejected(Reason.INSURANCE_OVERPAYMENT, "the fund pays past the deficit")
    fund = update_position_assets(
        view,
        fund_id,
        collateral_delta=-net,
        synthetic_deltas=[(a, -d) for a, d in moves],
        check_validity=False,
    )
    fund_before = compute_status(fund.funded, config, global_state).tv
    fund_after = compute_status(fund.after, config, global_state).tv
    if fund_after < 0 and fund_after < fund_before:
        raise TransactionRejected(
            Reason.INSURANCE_FUND_INSOLVENT, "the takeover leaves the fund with TV < 0"
        )
    return view.to_effect()
