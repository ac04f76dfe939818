"""Settlement keys: an order whose key another order holds is refused (ORDER_KEY_TAKEN).

A settling node gives the exchange a key function (the rollup order-tree key of the order's
message); here a toy function with four keys forces collisions. A key is held by an open
order, and for good by an order that was ever filled; an order that finished without a fill
releases it. Refusals change nothing; replay rebuilds the reservations from the events.
"""

from __future__ import annotations

import hashlib

import pytest

from starkperp.exchange import Exchange, ExchangeError, OrderStatus, Reason, Side, replay
from starkperp.exchange.config import minimal
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.markets import price_from_human
from starkperp.exchange.model import Order, OrderType, TimeInForce
from tests.exchange.helpers import BTC, START, funded, make_order

_N_KEYS = 4


def _toy_key(order: Order, public_key: int | None) -> int:
    return hashlib.sha256(order.client_id.encode()).digest()[0] % _N_KEYS


def _exchange(reference: bool = False) -> Exchange:
    ex = Exchange(
        minimal(),
        clock=ManualClock(START),
        require_signatures=False,
        reference=reference,
        order_key=_toy_key,
    )
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    return ex


def _client_ids(key: int, n: int) -> list[str]:
    """Return ``n`` client ids whose toy key is ``key``."""
    out = []
    i = 0
    while len(out) < n:
        cid = f"c{i}"
        if hashlib.sha256(cid.encode()).digest()[0] % _N_KEYS == key:
            out.append(cid)
        i += 1
    return out


def _refused(ex: Exchange, call) -> Reason:  # type: ignore[no-untyped-def]
    digest, next_id, n_events = ex.compute_state_digest(), ex.next_order_id, len(ex.events)
    with pytest.raises(ExchangeError) as info:
        call()
    assert ex.compute_state_digest() == digest
    assert ex.next_order_id == next_id and len(ex.events) == n_events
    return info.value.reason  # type: ignore[return-value]


@pytest.mark.parametrize("reference", [False, True])
def test_invalid_order_whose_key_an_open_order_holds(reference: bool) -> None:
    ex = _exchange(reference)
    trader = funded(ex)
    first, second = _client_ids(1, 2)
    ack = ex.place_order(make_order(ex, trader, Side.BUY, "0.01", "40000", client_id=first))
    assert ex.events[-2].order_key == 1  # type: ignore[attr-defined]
    colliding = make_order(ex, trader, Side.SELL, "0.01", "60000", client_id=second)
    assert _refused(ex, lambda: ex.place_order(colliding)) is Reason.ORDER_KEY_TAKEN
    other = _client_ids(2, 1)[0]
    assert ex.place_order(make_order(ex, trader, Side.SELL, "0.01", "60000", client_id=other))
    # the key of an order canceled without any fill is released
    ex.cancel_order(ack.order_id)
    assert ex.place_order(colliding).status is OrderStatus.OPEN
    again = replay(ex.events, ex.config)
    assert again.compute_state_digest() == ex.compute_state_digest()


@pytest.mark.parametrize("reference", [False, True])
def test_invalid_order_whose_key_a_filled_order_holds(reference: bool) -> None:
    ex = _exchange(reference)
    maker, taker = funded(ex), funded(ex)
    a, b, c = _client_ids(3, 3)
    resting = ex.place_order(make_order(ex, maker, Side.SELL, "0.02", "50000", client_id=a))
    ioc = make_order(
        ex, taker, Side.BUY, "0.01", "50000", client_id=_client_ids(0, 1)[0],
        time_in_force=TimeInForce.IOC,
    )  # fmt: skip
    assert ex.place_order(ioc).status is OrderStatus.FILLED
    ex.cancel_order(resting.order_id)  # partly filled: its key stays held for good
    later = make_order(ex, maker, Side.SELL, "0.01", "55000", client_id=b)
    assert _refused(ex, lambda: ex.place_order(later)) is Reason.ORDER_KEY_TAKEN
    # the taker's key (0) is held for good too: it filled
    taker_again = make_order(ex, taker, Side.BUY, "0.01", "40000", client_id=_client_ids(0, 2)[1])
    assert _refused(ex, lambda: ex.place_order(taker_again)) is Reason.ORDER_KEY_TAKEN
    replayed = replay(ex.events, ex.config)
    assert replayed.compute_state_digest() == ex.compute_state_digest()
    replayed.order_key = _toy_key  # restarted: the reservations survive
    replayed.clock = ManualClock(START)
    with pytest.raises(ExchangeError) as info:
        replayed.place_order(make_order(replayed, maker, Side.SELL, "0.01", "55000", client_id=c))
    assert info.value.reason is Reason.ORDER_KEY_TAKEN


def test_invalid_cancel_replace_onto_a_taken_key_keeps_the_old_order() -> None:
    ex = _exchange()
    trader = funded(ex)
    first, second = _client_ids(2, 2)
    holder = ex.place_order(make_order(ex, trader, Side.BUY, "0.01", "40000", client_id=first))
    old = ex.place_order(
        make_order(ex, trader, Side.BUY, "0.01", "41000", client_id=_client_ids(1, 1)[0])
    )
    new = make_order(ex, trader, Side.BUY, "0.01", "42000", client_id=second)
    assert _refused(ex, lambda: ex.cancel_replace(old.order_id, new)) is Reason.ORDER_KEY_TAKEN
    assert ex.get_order(old.order_id).status is OrderStatus.OPEN
    ex.cancel_order(holder.order_id)
    assert ex.cancel_replace(old.order_id, new).status is OrderStatus.OPEN
    assert ex.get_order(old.order_id).status is OrderStatus.CANCELED


def test_conditional_orders_reserve_keys_too() -> None:
    ex = _exchange()
    trader = funded(ex)
    first, second = _client_ids(0, 2)
    stop = make_order(
        ex, trader, Side.BUY, "0.01", "61000", client_id=first,
        order_type=OrderType.STOP_LIMIT,
        trigger="60000",
    )  # fmt: skip
    assert ex.place_order(stop).status is OrderStatus.UNTRIGGERED
    colliding = make_order(ex, trader, Side.BUY, "0.01", "40000", client_id=second)
    assert _refused(ex, lambda: ex.place_order(colliding)) is Reason.ORDER_KEY_TAKEN


def test_without_a_key_function_nothing_is_reserved() -> None:
    ex = Exchange(minimal(), clock=ManualClock(START), require_signatures=False)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    trader = funded(ex)
    for cid in _client_ids(1, 3):
        ex.place_order(make_order(ex, trader, Side.BUY, "0.01", "40000", client_id=cid))
    assert not ex._order_key_holders and not ex._filled_order_keys
