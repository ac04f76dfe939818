"""Risk: total value, total risk, the validity rule, initial margin and liquidation prices.

All figures are exact integers. To avoid any rounding inside a comparison, values are kept
*scaled*: a total value ``TV`` is carried as ``TV * 2^32`` (collateral quanta times 2^32,
the unit of ``balance * price``) and a total risk ``TR`` as ``TR * 2^64`` (it also carries
the 0.32 risk factor). Comparisons of ratios are done by cross-multiplication. Only the
figures shown to people (equity, margins, free collateral) are rounded, and always in the
system's favour: value down, requirements up.

The validity rule (DESIGN.md section 5): after a change, ``TR <= TV``; otherwise the change
must only shrink balances without flipping a sign, must not lower ``TV / TR``, and if ``TR``
was 0 it must not lower ``TV``.

Open orders reserve margin as dYdX v3 does for free collateral: per market, the account is
valued in the worse of two outcomes, *all its open bids fill* and *all its open asks fill*,
each at the orders' own prices (no fees), and the per-market figures are summed
(:func:`compute_worst_case_excess_scaled`). A new resting order is accepted when that
worst-case excess stays non-negative, or when the order does not worsen the outcome of its
own side (:func:`is_open_order_acceptable`; e.g. an order that only reduces a position).
Reduce-only orders reserve nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from starkperp.exchange.markets import (
    FIXED_POINT_ONE,
    Collateral,
    MarketConfig,
    MarketId,
    Price,
)

__all__ = [
    "OpenOrderTotals",
    "RiskSnapshot",
    "compute_initial_risk_scaled",
    "compute_liquidation_price",
    "compute_risk_snapshot",
    "compute_total_risk_scaled",
    "compute_total_value_scaled",
    "compute_worst_case_excess_scaled",
    "compute_side_outcome_scaled",
    "is_open_order_acceptable",
    "is_healthy",
    "is_initial_margin_ok",
    "is_liquidatable",
    "is_open_order_margin_ok",
    "is_only_shrinking",
    "is_valid_change",
    "is_risk_increasing",
]

_SHIFT = 32


def compute_total_value_scaled(
    collateral: int, balances: Mapping[MarketId, int], prices: Mapping[MarketId, Price]
) -> int:
    """Return ``TV * 2^32`` = ``collateral * 2^32 + sum(balance * price)``."""
    tv = collateral << _SHIFT
    for market, balance in balances.items():
        if balance:
            tv += balance * prices[market]
    return tv


def compute_total_risk_scaled(
    balances: Mapping[MarketId, int],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> int:
    """Return maintenance ``TR * 2^64`` = ``sum(mmf * |balance * price|)``."""
    tr = 0
    for market, balance in balances.items():
        if balance:
            tr += markets[market].maintenance_margin_fraction * abs(balance * prices[market])
    return tr


def compute_initial_risk_scaled(
    balances: Mapping[MarketId, int],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> int:
    """Return the initial requirement ``IR * 2^64`` with the incremental IMF per size."""
    ir = 0
    for market, balance in balances.items():
        if balance:
            config = markets[market]
            ir += config.compute_initial_margin_fraction(balance) * abs(balance * prices[market])
    return ir


def is_healthy(tv_scaled: int, tr_scaled: int) -> bool:
    """Tell whether ``TR <= TV`` (both scaled as this module says)."""
    return tr_scaled <= tv_scaled << _SHIFT


def is_only_shrinking(before: Mapping[MarketId, int], after: Mapping[MarketId, int]) -> bool:
    """Tell whether every balance moved toward zero (or stayed) without flipping sign."""
    for market in set(before) | set(after):
        b = before.get(market, 0)
        a = after.get(market, 0)
        if a == b:
            continue
        if b > 0 and not 0 <= a < b:
            return False
        if b < 0 and not b < a <= 0:
            return False
        if b == 0:
            return False
    return True


def is_risk_increasing(before: Mapping[MarketId, int], after: Mapping[MarketId, int]) -> bool:
    """Tell whether any balance grows in size or flips sign (new risk needs initial margin)."""
    return not is_only_shrinking(before, after)


def is_valid_change(
    *,
    tv_before: int,
    tr_before: int,
    tv_after: int,
    tr_after: int,
    balances_before: Mapping[MarketId, int],
    balances_after: Mapping[MarketId, int],
) -> bool:
    """Apply DESIGN.md section 5's validity rule to one position's change (scaled figures)."""
    if is_healthy(tv_after, tr_after):
        return True
    if not is_only_shrinking(balances_before, balances_after):
        return False
    if tr_before == 0:
        return tv_after >= tv_before
    return tv_after * tr_before >= tv_before * tr_after


def is_initial_margin_ok(
    collateral: int,
    balances: Mapping[MarketId, int],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> bool:
    """Tell whether ``TV >= IR``: the position may carry new risk."""
    tv = compute_total_value_scaled(collateral, balances, prices)
    ir = compute_initial_risk_scaled(balances, prices, markets)
    return ir <= tv << _SHIFT


def is_liquidatable(
    collateral: int,
    balances: Mapping[MarketId, int],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> bool:
    """Tell whether ``TR > TV`` at the given prices."""
    tv = compute_total_value_scaled(collateral, balances, prices)
    tr = compute_total_risk_scaled(balances, prices, markets)
    return not is_healthy(tv, tr)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskSnapshot:
    """The margin figures of one position, rounded in the system's favour."""

    equity: Collateral
    initial_margin: Collateral
    maintenance_margin: Collateral
    free_collateral: Collateral
    is_liquidatable: bool


def compute_risk_snapshot(
    collateral: int,
    balances: Mapping[MarketId, int],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> RiskSnapshot:
    """Return equity (rounded down), margins (rounded up) and free collateral."""
    tv = compute_total_value_scaled(collateral, balances, prices)
    tr = compute_total_risk_scaled(balances, prices, markets)
    ir = compute_initial_risk_scaled(balances, prices, markets)
    equity = tv >> _SHIFT
    initial = -((-ir) >> (2 * _SHIFT))
    maintenance = -((-tr) >> (2 * _SHIFT))
    return RiskSnapshot(
        equity=Collateral(equity),
        initial_margin=Collateral(initial),
        maintenance_margin=Collateral(maintenance),
        free_collateral=Collateral(equity - initial),
        is_liquidatable=not is_healthy(tv, tr),
    )


def compute_liquidation_price(
    market: MarketId,
    collateral: int,
    balances: Mapping[MarketId, int],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> Price | None:
    """Return the price of ``market`` at which ``TR == TV``, other prices held fixed.

    Rounded toward the current price (up for longs, down for shorts), so the position is
    liquidatable at the returned price. None when there is no position or no positive
    liquidation price.
    """
    balance = balances.get(market, 0)
    if balance == 0:
        return None
    others = {m: b for m, b in balances.items() if m != market}
    rest_tv = compute_total_value_scaled(collateral, others, prices)
    rest_tr = compute_total_risk_scaled(others, prices, markets)
    mmf = markets[market].maintenance_margin_fraction
    # TV(p) = rest_tv + b*p (scaled 2^32); TR(p) = rest_tr + mmf*|b|*p (scaled 2^64).
    # Solve rest_tv*2^32 + b*p*2^32 = rest_tr + mmf*|b|*p for p.
    numerator = rest_tr - (rest_tv << _SHIFT)
    denominator = balance * FIXED_POINT_ONE - mmf * abs(balance)
    if denominator == 0:
        return None
    if balance > 0:
        price = -((-numerator) // denominator)
    else:
        price = numerator // denominator
    return Price(price) if price > 0 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenOrderTotals:
    """The open (margin-reserving) orders of one account in one market, summed.

    Sizes are synthetic quanta; notionals are ``sum(remaining * price)``, collateral
    quanta times 2^32 (the unit of ``balance * price``), so no rounding is involved.
    """

    bid_size: int = 0
    bid_notional: int = 0
    ask_size: int = 0
    ask_notional: int = 0


def compute_side_outcome_scaled(
    config: MarketConfig, balance: int, price: Price, *, sign: int, size: int, notional: int
) -> int:
    """Return one market's ``(TV - IR) * 2^64`` if open orders of one side all fill.

    ``sign`` is +1 for bids (the balance grows by ``size``, ``notional`` is paid) and -1
    for asks (the balance shrinks, ``notional`` is received); collateral is not included.
    """
    after = balance + sign * size
    value = after * price
    tv = value - sign * notional
    ir = config.compute_initial_margin_fraction(after) * abs(value) if after else 0
    return (tv << _SHIFT) - ir


def compute_worst_case_excess_scaled(
    collateral: int,
    balances: Mapping[MarketId, int],
    open_orders: Mapping[MarketId, OpenOrderTotals],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> int:
    """Return ``(TV - IR) * 2^64`` with every market in its worse open-order outcome.

    Per market the smaller of the all-bids-filled and all-asks-filled figures is taken;
    with no open orders both equal the current position, so this is ``TV - IR`` then.
    """
    excess = collateral << (2 * _SHIFT)
    for market in sorted(set(balances) | set(open_orders)):
        balance = balances.get(market, 0)
        totals = open_orders.get(market, OpenOrderTotals())
        if not balance and not totals.bid_size and not totals.ask_size:
            continue
        config = markets[market]
        price = prices[market]
        bids = compute_side_outcome_scaled(
            config, balance, price, sign=1, size=totals.bid_size, notional=totals.bid_notional
        )
        asks = compute_side_outcome_scaled(
            config, balance, price, sign=-1, size=totals.ask_size, notional=totals.ask_notional
        )
        excess += min(bids, asks)
    return excess


def is_open_order_margin_ok(
    collateral: int,
    balances: Mapping[MarketId, int],
    open_orders: Mapping[MarketId, OpenOrderTotals],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
) -> bool:
    """Tell whether the account meets initial margin however its open orders fill."""
    return compute_worst_case_excess_scaled(collateral, balances, open_orders, prices, markets) >= 0


def is_open_order_acceptable(
    collateral: int,
    balances: Mapping[MarketId, int],
    open_orders: Mapping[MarketId, OpenOrderTotals],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
    *,
    market: MarketId,
    sign: int,
    size: int,
    price: Price,
) -> bool:
    """Tell whether a new order of ``size`` at ``price`` may rest (``sign`` +1 buys).

    It may when the worst case with the order added still meets initial margin, or when
    the order does not lower the outcome of its own side in its market (it takes no new
    risk, as when it only reduces a position at a fair price).
    """
    totals = open_orders.get(market, OpenOrderTotals())
    if sign > 0:
        grown = replace(
            totals,
            bid_size=totals.bid_size + size,
            bid_notional=totals.bid_notional + size * price,
        )
    else:
        grown = replace(
            totals,
            ask_size=totals.ask_size + size,
            ask_notional=totals.ask_notional + size * price,
        )
    after = {**open_orders, market: grown}
    if is_open_order_margin_ok(collateral, balances, after, prices, markets):
        return True
    config = markets[market]
    balance = balances.get(market, 0)
    oracle = prices[market]
    if sign > 0:
        before_side = (totals.bid_size, totals.bid_notional)
        after_side = (grown.bid_size, grown.bid_notional)
    else:
        before_side = (totals.ask_size, totals.ask_notional)
        after_side = (grown.ask_size, grown.ask_notional)
    old = compute_side_outcome_scaled(
        config, balance, oracle, sign=sign, size=before_side[0], notional=before_side[1]
    )
    new = compute_side_outcome_scaled(
        config, balance, oracle, sign=sign, size=after_side[0], notional=after_side[1]
    )
    return new >= old
