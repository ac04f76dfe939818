"""``Exchange.orders`` keeps open orders and a bounded window of finished ones.

The window is part of the state (its contents follow from the events alone), so a replay
reproduces it and the digest; a forgotten order's client id stays taken.
"""

from __future__ import annotations

import dataclasses

import pytest

from starkperp.exchange import (
    Exchange,
    ExchangeError,
    OrderStatus,
    Reason,
    Side,
    TimeInForce,
    price_from_human,
    replay,
)
from starkperp.exchange.config import ExchangeConfig, minimal
from starkperp.exchange.engine import ManualClock
from tests.exchange.helpers import BTC, START, funded, make_order


def _exchange(history: int) -> Exchange:
    config = dataclasses.replace(minimal(), order_history=history)
    ex = Exchange(config, clock=ManualClock(START), require_signatures=False)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    return ex


def test_finished_orders_beyond_the_window_are_forgotten() -> None:
    ex = _exchange(3)
    maker, taker = funded(ex), funded(ex)
    resting = ex.place_order(make_order(ex, maker, Side.SELL, "1", "51000"))
    canceled = []
    for i in range(5):
        ack = ex.place_order(make_order(ex, maker, Side.BUY, "0.01", str(40_000 + i)))
        ex.cancel_order(ack.order_id)
        canceled.append(ack.order_id)
    fill = ex.place_order(
        make_order(ex, taker, Side.BUY, "0.1", "51000", time_in_force=TimeInForce.IOC)
    )
    assert fill.status is OrderStatus.FILLED
    # open orders stay; the 3 newest finished stay; older finished ones are gone
    assert ex.get_order(resting.order_id).status is OrderStatus.OPEN
    assert ex.get_order(fill.order_id).status is OrderStatus.FILLED
    assert [oid for oid in canceled if oid in ex.orders] == canceled[-2:]
    with pytest.raises(ExchangeError) as info:
        ex.get_order(canceled[0])
    assert info.value.reason is Reason.UNKNOWN_ORDER
    assert len([r for r in ex.orders.values() if r.status is OrderStatus.CANCELED]) == 2


def test_invalid_resend_of_a_forgotten_client_id() -> None:
    ex = _exchange(1)
    account = funded(ex)
    first = make_order(ex, account, Side.BUY, "0.01", "40000", client_id="mine")
    ack = ex.place_order(first)
    ex.cancel_order(ack.order_id)
    assert ex.place_order(first) == ex.orders[ack.order_id].ack  # still in the window
    other = ex.place_order(make_order(ex, account, Side.BUY, "0.01", "40001"))
    ex.cancel_order(other.order_id)  # pushes "mine" out of the window
    assert ack.order_id not in ex.orders
    digest = ex.compute_state_digest()
    for call in (
        lambda: ex.place_order(first),
        lambda: ex.get_order_by_client_id(account, "mine"),
        lambda: ex.cancel_order_by_client_id(account, "mine"),
    ):
        with pytest.raises(ExchangeError) as info:
            call()
        assert info.value.reason in (Reason.DUPLICATE_CLIENT_ID, Reason.UNKNOWN_ORDER)
    assert ex.compute_state_digest() == digest


def test_expiry_skips_forgotten_orders_and_replay_reproduces_the_window() -> None:
    clock = ManualClock(START)
    config = dataclasses.replace(minimal(), order_history=2)
    ex = Exchange(config, clock=clock, require_signatures=False)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    account = funded(ex)
    ids = []
    for i in range(4):
        ack = ex.place_order(make_order(ex, account, Side.BUY, "0.01", str(40_000 + i)))
        ids.append(ack.order_id)
    ex.cancel_order(ids[0])
    ex.cancel_order(ids[1])
    ex.cancel_order(ids[2])  # ids[0] is forgotten, its expiry entry remains scheduled
    clock.advance(7_200)
    assert ex.expire_orders() == [ids[3]]
    again = replay(ex.events, config, require_signatures=False)
    assert again.compute_state_digest() == ex.compute_state_digest()
    assert sorted(again.orders) == sorted(ex.orders) == ids[2:]


def test_invalid_history_sizes() -> None:
    for field in ("order_history", "trade_history", "book_delta_history"):
        with pytest.raises(ValueError):
            ExchangeConfig(**{field: 0})
