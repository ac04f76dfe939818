"""Funding: dYdX v3's hourly rate (premium + interest, capped) and the global index.

Every ``premium_sample_interval`` the exchange samples the premium of the book over the
index price, using impact prices (the average price to trade ``impact_notional``):

    premium = (max(0, impact_bid - index) - max(0, index - impact_ask)) / index

Each funding interval (an hour) the rate is ``mean(premium samples) / 8 + interest``,
clamped to the 4 %-per-8-hours cap scaled to the interval. Rates are parts per billion.
A positive rate means longs pay shorts.

The global index of a market counts collateral quanta (32.32) paid per synthetic quantum
held long; it moves by ``rate * price`` (truncated toward zero, so never past the cap).
A position is funded by ``collateral -= balance * (global - cached) / 2^32``, rounded
against the payer (:func:`compute_funding_payment`).
"""

from __future__ import annotations

from collections.abc import Iterable

from starkperp.exchange.markets import FIXED_POINT_ONE, Collateral, Price

__all__ = [
    "PPB",
    "compute_funding_cap_ppb",
    "compute_funding_index_delta",
    "compute_funding_payment",
    "compute_funding_rate_ppb",
    "compute_impact_price",
    "compute_premium_ppb",
]

PPB = 10**9


def compute_impact_price(levels: Iterable[tuple[int, int]], impact_notional: int) -> int | None:
    """Return the average 32.32 price to trade ``impact_notional`` collateral quanta.

    ``levels`` are ``(price, size)`` best first. None when the side is too thin.
    """
    target = impact_notional * FIXED_POINT_ONE
    spent = 0
    quantity = 0
    for price, size in levels:
        level_value = price * size
        if spent + level_value >= target:
            need = -(-(target - spent) // price)
            return (spent + need * price) // (quantity + need)
        spent += level_value
        quantity += size
    return None


def compute_premium_ppb(impact_bid: int | None, impact_ask: int | None, index: int) -> int:
    """Return the premium sample in ppb of the index (0 for a missing side)."""
    numerator = 0
    if impact_bid is not None and impact_bid > index:
        numerator += impact_bid - index
    if impact_ask is not None and impact_ask < index:
        numerator -= index - impact_ask
    return _div_toward_zero(numerator * PPB, index)


def _div_toward_zero(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def compute_funding_cap_ppb(max_rate_ppb_per_8h: int, interval: int) -> int:
    """Return the cap for one interval, scaled from the 8-hour cap (truncated)."""
    return max_rate_ppb_per_8h * interval // (8 * 3_600)


def compute_funding_rate_ppb(samples: list[int], interest_ppb: int, cap_ppb: int) -> int:
    """Return ``clamp(mean(samples) / 8 + interest, -cap, cap)`` in ppb."""
    premium = _div_toward_zero(sum(samples), len(samples)) if samples else 0
    rate = _div_toward_zero(premium, 8) + interest_ppb
    return max(-cap_ppb, min(cap_ppb, rate))


def compute_funding_index_delta(rate_ppb: int, price: Price) -> int:
    """Return how far the index moves: ``rate * price`` (32.32), truncated toward zero."""
    return _div_toward_zero(rate_ppb * price, PPB)


def compute_funding_payment(balance: int, global_index: int, cached_index: int) -> Collateral:
    """Return what the position pays (positive) or receives, rounded against the payer."""
    owed = balance * (global_index - cached_index)
    return Collateral(-((-owed) >> 32))
