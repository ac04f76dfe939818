"""Deleveraging: closing a bankrupt position against profitable opposite positions.

When a liquidated position's value is negative and the insurance fund cannot absorb the
deficit, its balances are closed against opposite positions, ranked by *profit times
leverage* (highest first, as dYdX v3). The price is the bankruptcy price: the deficit is
shared among the markets in proportion to their risk, so each closed piece keeps the
bankrupt position's ``TV / TR`` ratio, and the whole close brings its collateral to zero.

The fairness check (StarkEx's deleverage conditions) for one step:

1. the deleveraged position has ``TV < 0`` before;
2. both balances move toward zero and neither flips sign;
3. the deleveraged position's ``TV / TR`` does not decrease (``TV`` must not decrease
   when it is closed completely); one collateral quantum of slack absorbs rounding;
4. it is not over-deleveraged: unless closed completely its ``TV`` stays at most zero
   (with a one-quantum slack for rounding);
5. the deleverager's change satisfies the validity rule.

The rollup's Deleverage is stricter on (3): StarkEx's rule accepts exactly the least
transfer that keeps ``TV / TR`` (one quantum less would lower it).
:func:`compute_fair_transfer` computes that amount on the position as it is;
:func:`compute_bankruptcy_transfers` uses it market by market, so a market closed in one step
settles in the rollup; a piece priced by :func:`compute_partial_transfer` may be a quantum off.
"""

from __future__ import annotations

from collections.abc import Mapping

from starkperp.exchange.errors import ExchangeError, Reason
from starkperp.exchange.markets import Collateral, MarketConfig, MarketId, Price
from starkperp.exchange.risk import (
    compute_total_risk_scaled,
    compute_total_value_scaled,
    is_only_shrinking,
    is_valid_change,
)

__all__ = [
    "compute_bankruptcy_transfers",
    "compute_deleverage_score",
    "compute_fair_transfer",
    "compute_partial_transfer",
    "validate_deleverage",
]


def compute_deleverage_score(pnl: int, notional: int, total_value: int) -> int:
    """Return the ranking key ``pnl * leverage`` (leverage = notional / TV), in micro-units.

    Positions without positive value rank last (score of the most negative integer form).
    """
    if total_value <= 0:
        return -(1 << 200)
    return pnl * notional * 10**6 // total_value


def compute_fair_transfer(
    collateral: int,
    balances: Mapping[MarketId, int],
    market: MarketId,
    quantity: int,
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> Collateral:
    """Return the collateral StarkEx's fairness rule allows for one deleverage step.

    ``quantity`` changes the bankrupt position's balance in ``market`` (toward zero). The
    answer is the least transfer to the bankrupt position that keeps its ``TV / TR`` from
    falling (or, when the step closes everything, its ``TV`` from going negative): one
    quantum less would make its ratio worse, so the rollup's Deleverage accepts exactly
    this amount. It is computed on the position as it is now, so every step of a
    multi-step close is exact.
    """
    after = dict(balances)
    after[market] = after.get(market, 0) + quantity
    tv_b = compute_total_value_scaled(collateral, balances, prices)
    tr_b = compute_total_risk_scaled(balances, prices, markets)
    tr_a = compute_total_risk_scaled(after, prices, markets)
    base = tv_b + quantity * prices[market]  # TV after the step, before any transfer
    if tr_a == 0 or tr_b == 0:
        return Collateral(-(base >> 32))
    numerator = tv_b * tr_a - base * tr_b
    return Collateral(-((-numerator) // (tr_b << 32)))


def compute_bankruptcy_transfers(
    collateral: int,
    balances: Mapping[MarketId, int],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> dict[MarketId, Collateral]:
    """Return, per market, the collateral paid to the bankrupt position for its balance.

    Markets close in sorted order, each at :func:`compute_fair_transfer` on the position
    left by the previous closes: the deficit is shared in proportion to risk, every close
    keeps the bankrupt position's ``TV / TR`` (rounded for it, by less than a quantum), and
    the transfers sum to exactly ``-collateral``, so closing everything leaves zero.
    """
    current = {m: b for m, b in balances.items() if b}
    transfers: dict[MarketId, Collateral] = {}
    left = collateral
    for market in sorted(current):
        transfer = compute_fair_transfer(left, current, market, -current[market], prices, markets)
        transfers[market] = transfer
        left += transfer
        current[market] = 0
    return transfers


def compute_partial_transfer(full_transfer: int, quantity: int, balance: int) -> Collateral:
    """Return the share of ``full_transfer`` for closing ``quantity`` of ``balance``.

    Rounded up (in the bankrupt position's favour) so its ``TV / TR`` never drops. Not
    exact after earlier partial steps (their rounding moved the position); the rollup's
    fairness rule then may refuse it by one quantum: :func:`compute_fair_transfer` is exact.
    """
    return Collateral(-((-full_transfer * abs(quantity)) // abs(balance)))


def validate_deleverage(
    *,
    market: MarketId,
    quantity: int,
    collateral_transfer: int,
    deleveraged_collateral: int,
    deleveraged_balances: Mapping[MarketId, int],
    deleverager_collateral: int,
    deleverager_balances: Mapping[MarketId, int],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> None:
    """Raise ``DELEVERAGE_UNFAIR`` unless one deleverage step passes the fairness check.

    ``quantity`` changes the deleveraged balance (toward zero); the deleverager's balance
    changes by ``-quantity``; ``collateral_transfer`` goes to the deleveraged position.
    """
    d_before = dict(deleveraged_balances)
    d_after = dict(d_before)
    d_after[market] = d_after.get(market, 0) + quantity
    l_before = dict(deleverager_balances)
    l_after = dict(l_before)
    l_after[market] = l_after.get(market, 0) - quantity
    tv_b = compute_total_value_scaled(deleveraged_collateral, d_before, prices)
    tr_b = compute_total_risk_scaled(d_before, prices, markets)
    d_coll_after = deleveraged_collateral + collateral_transfer
    tv_a = compute_total_value_scaled(d_coll_after, d_after, prices)
    tr_a = compute_total_risk_scaled(d_after, prices, markets)
    if quantity == 0:
        raise ExchangeError(Reason.DELEVERAGE_UNFAIR, "nothing to deleverage")
    if tv_b >= 0:
        raise ExchangeError(Reason.NOT_DELEVERAGEABLE, "the position's value is not negative")
    if not is_only_shrinking(d_before, d_after) or not is_only_shrinking(l_before, l_after):
        raise ExchangeError(Reason.DELEVERAGE_UNFAIR, "a balance grows or flips sign")
    if tr_a == 0:
        if tv_a < tv_b:
            raise ExchangeError(Reason.DELEVERAGE_UNFAIR, "closing lowers the value")
    elif (tv_a + (1 << 32)) * tr_b < tv_b * tr_a:
        raise ExchangeError(Reason.DELEVERAGE_UNFAIR, "TV/TR of the deleveraged drops")
    if tr_a != 0 and tv_a > (1 << 32):
        raise ExchangeError(Reason.DELEVERAGE_UNFAIR, "over-deleveraged: value turned positive")
    l_tv_b = compute_total_value_scaled(deleverager_collateral, l_before, prices)
    l_tr_b = compute_total_risk_scaled(l_before, prices, markets)
    l_tv_a = compute_total_value_scaled(
        deleverager_collateral - collateral_transfer, l_after, prices
    )
    l_tr_a = compute_total_risk_scaled(l_after, prices, markets)
    if not is_valid_change(
        tv_before=l_tv_b,
        tr_before=l_tr_b,
        tv_after=l_tv_a,
        tr_after=l_tr_a,
        balances_before=l_before,
        balances_after=l_after,
    ):
        raise ExchangeError(Reason.DELEVERAGE_UNFAIR, "the deleverager would become invalid")
