"""Liquidation: what happens to a position whose total risk exceeds its total value.

A position is liquidatable when ``TR > TV`` at oracle prices. The insurance fund acts as
the liquidator: it takes over every balance at the oracle price (the liquidated account
receives ``floor(balance * price / 2^32)``, so rounding favours the fund), then

* if the account still has value, a penalty of ``liquidation_penalty * notional`` (rounded
  up, at most the remaining value) goes to the fund;
* if the account is bankrupt (negative value), the fund pays the deficit, provided the
  fund's own total value stays non-negative with the taken-over balances;
* otherwise the fund pays what value it has left and the rest of the loss is *deleveraged*
  (:mod:`starkperp.exchange.deleverage`): the balances are closed against the most
  profitable, most leveraged opposite positions at the bankruptcy price.

A fund whose own value turns negative (it holds the balances it took over) is deleveraged
like any bankrupt position. The functions here are pure arithmetic; the engine turns their
results into events.

The rollup proves exactly this rule: the bridge turns each ``Liquidated`` event into an
``InsuranceTakeover`` (:mod:`starkperp.rollup.transactions.insurance_takeover`), whose
executor re-checks TR > TV, the takeover value (this module's floor), the penalty bound (the
rollup accepts at most 1 % of the closed notional, the default ``liquidation_penalty``),
that the fund pays at most the deficit and stays solvent.
"""

from __future__ import annotations

from collections.abc import Mapping

from starkperp.exchange.markets import Collateral, MarketConfig, MarketId, Price

__all__ = [
    "compute_liquidation_penalty",
    "compute_takeover_collateral",
]


def compute_takeover_collateral(balance: int, price: Price) -> Collateral:
    """Return what the liquidated account receives for handing over ``balance`` (floor)."""
    return Collateral((balance * price) >> 32)


def compute_liquidation_penalty(
    balances: Mapping[MarketId, int],
    prices: Mapping[MarketId, Price],
    markets: Mapping[MarketId, MarketConfig],
    remaining_value: int,
) -> Collateral:
    """Return ``min(ceil(sum(penalty * |balance * price|)), max(0, remaining_value))``."""
    scaled = 0
    for market, balance in balances.items():
        if balance:
            scaled += markets[market].liquidation_penalty * abs(balance * prices[market])
    penalty = -((-scaled) >> 64)
    return Collateral(max(0, min(penalty, remaining_value)))
