"""Helpers for the exchange tests: constants and order builders."""

from __future__ import annotations

from starkperp.exchange import (
    Exchange,
    MarketId,
    Order,
    Side,
    Timestamp,
    price_from_human,
    quantity_from_human,
)
from starkperp.exchange.config import minimal
from starkperp.exchange.engine import ManualClock

START = 1_700_000_000
BTC = MarketId("BTC-USD")
ETH = MarketId("ETH-USD")
USDC = 10**6


def new_exchange(clock: ManualClock | None = None) -> Exchange:
    """Return an exchange with BTC at 50,000 and ETH at 3,000 (unsigned orders allowed)."""
    ex = Exchange(minimal(), clock=clock or ManualClock(START), require_signatures=False)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    ex.set_oracle_price(ETH, price_from_human(ex.get_market(ETH), "3000"))
    return ex


def funded(ex: Exchange, usdc: int = 100_000) -> int:
    """Create an account holding ``usdc`` dollars."""
    account = ex.create_account()
    if usdc:
        ex.deposit(account, usdc * USDC)
    return account


_counter = [0]


def make_order(
    ex: Exchange,
    account: int,
    side: Side,
    size: str,
    price: str,
    *,
    market: str = BTC,
    client_id: str | None = None,
    expires_in: int = 3_600,
    **kwargs: object,
) -> Order:
    """Build an unsigned order from human size and price."""
    config = ex.get_market(market)
    _counter[0] += 1
    trigger = kwargs.pop("trigger", None)
    return Order(
        account_id=account,  # type: ignore[arg-type]
        market=MarketId(market),
        side=side,
        size=quantity_from_human(config, size),
        price=price_from_human(config, price),
        client_id=client_id or f"cid-{_counter[0]}",
        expiration=Timestamp(ex.clock() + expires_in),
        trigger_price=price_from_human(config, trigger) if trigger is not None else None,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


__all__ = ["BTC", "ETH", "START", "USDC", "funded", "make_order", "new_exchange"]
