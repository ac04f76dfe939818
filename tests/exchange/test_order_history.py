"""``Exchange.orders`` keeps open orders and a bounded window of finished ones.

The window is part of the state (its contents follow from the events alone), so a replay
reproduces it and the digest. A forgotten order's client id stays taken until its signed
expiry has passed; then it is forgotten too, and a replay of the order is refused as
expired (never placed a second time).
"""

from __future__ import annotations

import dataclasses

import pytest

from starkperp.crypto.stark_curve import StarkPrivateKey, private_to_public
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
from starkperp.exchange.model import Order
from starkperp.exchange.retention import compute_forget_time
from starkperp.exchange.signing import compute_expiration_epoch_hours, sign_exchange_order
from tests.exchange.helpers import BTC, START, funded, make_order


def _exchange(history: int) -> Exchange:
    config = dataclasses.replace(minimal(), order_history=history)
    ex = Exchange(config, clock=ManualClock(START), require_signatures=False)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    return ex


def test_finished_orders_beyond_the_window_are_forgotten() -> None:
    ex = _exchange(3)
    clock = ex.clock
    assert isinstance(clock, ManualClock)
    maker, taker = funded(ex), funded(ex)
    resting = ex.place_order(make_order(ex, maker, Side.SELL, "1", "51000"))
    canceled = []
    for i in range(5):
        clock.advance(1)  # orders that finished at the current time are never forgotten
        ack = ex.place_order(make_order(ex, maker, Side.BUY, "0.01", str(40_000 + i)))
        ex.cancel_order(ack.order_id)
        canceled.append(ack.order_id)
    clock.advance(1)
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
    clock = ex.clock
    assert isinstance(clock, ManualClock)
    clock.advance(1)
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
    for order_id in ids[:3]:
        clock.advance(1)
        ex.cancel_order(order_id)  # ids[0] is forgotten
    clock.advance(7_200)
    assert ex.expire_orders() == [ids[3]]
    again = replay(ex.events, config, require_signatures=False)
    assert again.compute_state_digest() == ex.compute_state_digest()
    assert sorted(again.orders) == sorted(ex.orders) == ids[2:]


def test_invalid_history_sizes() -> None:
    for field in ("order_history", "trade_history", "book_delta_history", "account_fill_history"):
        with pytest.raises(ValueError):
            ExchangeConfig(**{field: 0})


# ---- client ids: forgotten once the signed expiry has passed --------------------------

_KEY = StarkPrivateKey(0x51DE)


def _signed(history: int) -> tuple[Exchange, ManualClock, int]:
    clock = ManualClock(START)
    config = dataclasses.replace(minimal(), order_history=history)
    ex = Exchange(config, clock=clock)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    trader = ex.create_account(public_key=private_to_public(_KEY))
    ex.deposit(trader, 10**12)
    return ex, clock, trader


def _sign(ex: Exchange, order: Order) -> Order:
    signature = sign_exchange_order(
        order, ex.get_market(order.market), _KEY, network_id=ex.config.network_id
    )
    return dataclasses.replace(order, signature=signature)


def _churn(ex: Exchange, clock: ManualClock, trader: int, n: int = 2) -> None:
    """Place and cancel ``n`` orders one second apart (pushes older ones out of the window)."""
    for _ in range(n):
        clock.advance(1)
        ack = ex.place_order(_sign(ex, make_order(ex, trader, Side.BUY, "0.01", "40000")))
        ex.cancel_order(ack.order_id)


def _refusal(ex: Exchange, order: Order) -> Reason:
    digest, next_id = ex.compute_state_digest(), ex.next_order_id
    with pytest.raises(ExchangeError) as info:
        ex.place_order(order)
    assert ex.compute_state_digest() == digest and ex.next_order_id == next_id
    return info.value.reason  # type: ignore[return-value]


def test_compute_forget_time_is_the_end_of_the_signed_hour() -> None:
    assert compute_forget_time(3_600) == 3_600
    assert compute_forget_time(3_601) == 7_200
    assert compute_forget_time(7_199) == 7_200
    # every expiration that signs to the same hours ends at the forget time
    for expiration in (3_601, 5_000, 7_200):
        assert compute_expiration_epoch_hours(expiration) == compute_expiration_epoch_hours(
            compute_forget_time(expiration)
        )
    assert compute_expiration_epoch_hours(7_201) != compute_expiration_epoch_hours(7_200)


def test_invalid_replay_of_a_forgotten_signed_order_is_expired() -> None:
    ex, clock, trader = _signed(history=1)
    order = _sign(ex, make_order(ex, trader, Side.BUY, "0.01", "40000", expires_in=600))
    ack = ex.place_order(order)
    ex.cancel_order(ack.order_id)
    _churn(ex, clock, trader)
    assert ack.order_id not in ex.orders
    assert order.client_id not in ex.accounts[trader].client_orders
    # before the signed hour ends the client id is still taken (a fingerprint)
    assert _refusal(ex, order) is Reason.DUPLICATE_CLIENT_ID
    same_hour = dataclasses.replace(order, expiration=compute_forget_time(order.expiration))
    assert _refusal(ex, same_hour) is Reason.DUPLICATE_CLIENT_ID
    # the signed hour ends; the next finished order sweeps the client id away
    clock.now = compute_forget_time(order.expiration)
    _churn(ex, clock, trader)
    assert not ex._is_client_id_spent(trader, order.client_id)
    assert _refusal(ex, order) is Reason.EXPIRED
    assert _refusal(ex, same_hour) is Reason.EXPIRED  # the latest expiry of the signed hour
    later = dataclasses.replace(order, expiration=order.expiration + 3_600)
    assert _refusal(ex, later) is Reason.BAD_SIGNATURE  # any other hour breaks the signature
    replayed = replay(ex.events, ex.config)
    assert replayed.compute_state_digest() == ex.compute_state_digest()


def test_a_client_id_forgotten_after_its_expiry_can_be_used_again() -> None:
    ex, clock, trader = _signed(history=1)
    order = _sign(ex, make_order(ex, trader, Side.BUY, "0.01", "40000", client_id="again"))
    first = ex.place_order(order)
    ex.cancel_order(first.order_id)
    clock.now = compute_forget_time(order.expiration) + 1
    _churn(ex, clock, trader)  # forgotten at once: its signed expiry has passed
    assert not ex._is_client_id_spent(trader, "again")
    assert "again" not in ex.accounts[trader].client_orders
    fresh = _sign(ex, make_order(ex, trader, Side.BUY, "0.01", "40000", client_id="again"))
    second = ex.place_order(fresh)  # a new signature by the key holder, a new order
    assert second.order_id != first.order_id
    assert replay(ex.events, ex.config).compute_state_digest() == ex.compute_state_digest()


def test_client_id_memory_stays_bounded_under_churn() -> None:
    ex, clock, trader = _signed(history=50)
    for _round in range(6):
        for _ in range(200):
            clock.advance(1)
            order = make_order(ex, trader, Side.BUY, "0.01", "40000", expires_in=60)
            ack = ex.place_order(_sign(ex, order), signature_verified=True)
            ex.cancel_order(ack.order_id)
        # the window and the client-id map stay bounded; fingerprints live about an hour
        assert len(ex.orders) <= 51
        assert len(ex.accounts[trader].client_orders) <= 51
        assert len(ex._spent_client_ids) <= 3_600 + 60 + 1
        assert len(ex._expiring) == 0 and len(ex._expiry) <= 64 + 1
    assert replay(ex.events, ex.config).compute_state_digest() == ex.compute_state_digest()


def test_a_burst_of_finished_orders_stays_readable_then_drains() -> None:
    """A command that finishes more orders than the window keeps them readable; later
    events forget the backlog a few at a time (bounded work per event)."""
    ex = _exchange(5)
    clock = ex.clock
    assert isinstance(clock, ManualClock)
    account = funded(ex)
    ids = [
        ex.place_order(make_order(ex, account, Side.BUY, "0.001", str(40_000 + i))).order_id
        for i in range(40)
    ]
    clock.advance(1)
    assert ex.cancel_all(account) == ids
    assert all(ex.get_order(i).status is OrderStatus.CANCELED for i in ids)
    sizes = []
    for i in range(20):
        clock.advance(1)
        ack = ex.place_order(make_order(ex, account, Side.BUY, "0.001", str(30_000 + i)))
        ex.cancel_order(ack.order_id)
        sizes.append(len(ex._finished))
    assert sizes[0] == 37  # 40 + 1 finished, 4 forgotten by the first later event
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] == 5
    assert replay(ex.events, ex.config).compute_state_digest() == ex.compute_state_digest()
