"""The event log: replay reproduces the state bit for bit; signed orders end to end."""

from __future__ import annotations

import dataclasses

import fast_stark_crypto
import pytest

from starkperp.exchange import (
    Exchange,
    ExchangeError,
    MarketStatus,
    OrderType,
    Reason,
    Side,
    TimeInForce,
    price_from_human,
    replay,
)
from starkperp.exchange.config import minimal
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.events import Deposited, Fill, OrderAccepted
from tests.exchange.helpers import BTC, ETH, START, USDC, funded, make_order


def _busy_session(ex: Exchange, clock: ManualClock) -> None:
    a, b, c = funded(ex, 5_000), funded(ex), funded(ex)
    ex.place_order(make_order(ex, b, Side.SELL, "1", "50100"))
    ex.place_order(make_order(ex, a, Side.BUY, "1", "50100"))
    ex.place_order(make_order(ex, c, Side.BUY, "2", "2990", market=ETH))
    ex.place_order(make_order(ex, b, Side.SELL, "1", "2990", market=ETH))
    ex.place_order(
        make_order(
            ex, b, Side.BUY, "0.5", "52000", order_type=OrderType.STOP_LIMIT, trigger="51000"
        )
    )
    ex.transfer(c, a, 100 * USDC)
    for _ in range(40):
        clock.advance(120)
        ex.advance_time()
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "51000"))
    ex.set_market_status(ETH, MarketStatus.CLOSE_ONLY)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "46000"))
    ex.process_liquidations()
    ex.cancel_all(c)


def test_replay_reproduces_state_digest(exchange: Exchange, clock: ManualClock) -> None:
    _busy_session(exchange, clock)
    again = replay(exchange.events, minimal(), require_signatures=False)
    assert again.compute_state_digest() == exchange.compute_state_digest()
    assert again.get_orderbook(ETH) == exchange.get_orderbook(ETH)
    assert again.get_account(exchange.insurance_fund_id) == exchange.get_account(
        exchange.insurance_fund_id
    )


def test_replay_of_a_prefix_differs(exchange: Exchange, clock: ManualClock) -> None:
    _busy_session(exchange, clock)
    prefix = replay(exchange.events[:-3], minimal(), require_signatures=False)
    assert prefix.compute_state_digest() != exchange.compute_state_digest()


def test_events_are_immutable(exchange: Exchange) -> None:
    trader = funded(exchange)
    exchange.place_order(make_order(exchange, trader, Side.BUY, "0.1", "49000"))
    event = next(e for e in exchange.events if isinstance(e, OrderAccepted))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.order_id = 5  # type: ignore[misc]
    assert any(isinstance(e, Deposited) for e in exchange.events)


def test_take_events_drains_the_log(exchange: Exchange) -> None:
    funded(exchange)
    taken = exchange.take_events()
    assert taken and exchange.events == []


KEY = 0x4C8E3A5B2E0F9A1D7C6B5A49382716E5D4C3B2A1908F7E6D5C4B3A29180706
PUBLIC = fast_stark_crypto.get_public_key(KEY)


def test_signed_orders_are_verified(clock: ManualClock) -> None:
    from starkperp.exchange.signing import sign_exchange_order

    ex = Exchange(minimal(), clock=clock)  # signatures required
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    trader = ex.create_account(public_key=PUBLIC)
    ex.deposit(trader, 10_000 * USDC)
    market = ex.get_market(BTC)
    order = make_order(ex, trader, Side.BUY, "0.1", "49000")
    signed = dataclasses.replace(order, signature=sign_exchange_order(order, market, KEY))
    assert ex.place_order(signed).remaining == order.size
    tampered = dataclasses.replace(signed, size=order.size * 2, client_id="other")
    digest = ex.compute_state_digest()
    with pytest.raises(ExchangeError) as info:
        ex.place_order(tampered)
    assert info.value.reason is Reason.BAD_SIGNATURE
    other_key = dataclasses.replace(signed, client_id="x2", public_key=PUBLIC + 1)
    with pytest.raises(ExchangeError) as info:
        ex.place_order(other_key)
    assert info.value.reason is Reason.BAD_SIGNATURE
    assert ex.compute_state_digest() == digest


def test_fill_event_carries_everything_settlement_needs(exchange: Exchange) -> None:
    maker, taker = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.3", "50100"))
    exchange.place_order(
        make_order(exchange, taker, Side.BUY, "0.3", "50100", time_in_force=TimeInForce.FOK)
    )
    (fill,) = [e for e in exchange.events if isinstance(e, Fill)]
    assert fill.buyer_account_id == taker and fill.seller_account_id == maker
    assert fill.time == START
