"""The matching engine: order types, time in force, fees, self-trade prevention, idempotency."""

from __future__ import annotations

import dataclasses

import pytest

from starkperp.exchange import (
    CancelReason,
    Exchange,
    ExchangeError,
    MarketStatus,
    OrderStatus,
    OrderType,
    Reason,
    Side,
    TimeInForce,
    price_from_human,
    quantity_from_human,
)
from starkperp.exchange.engine import ManualClock
from tests.exchange.helpers import BTC, USDC, funded, make_order


def _reject(ex: Exchange, reason: Reason, call, *args) -> None:  # type: ignore[no-untyped-def]
    digest = ex.compute_state_digest()
    events = len(ex.events)
    with pytest.raises(ExchangeError) as info:
        call(*args)
    assert info.value.reason is reason
    assert ex.compute_state_digest() == digest
    assert len(ex.events) == events


def test_limit_orders_rest_and_match_at_maker_price(exchange: Exchange) -> None:
    maker, taker = funded(exchange), funded(exchange)
    ask = exchange.place_order(make_order(exchange, maker, Side.SELL, "1", "50100"))
    assert ask.status is OrderStatus.OPEN
    ack = exchange.place_order(make_order(exchange, taker, Side.BUY, "0.4", "50500"))
    assert ack.status is OrderStatus.FILLED
    (fill,) = ack.fills
    assert fill.price == price_from_human(exchange.get_market(BTC), "50100")
    assert fill.quantity == quantity_from_human(exchange.get_market(BTC), "0.4")
    assert exchange.get_position(taker, BTC).balance == fill.quantity
    assert exchange.get_position(maker, BTC).balance == -fill.quantity
    assert exchange.get_order(ask.order_id).remaining == quantity_from_human(
        exchange.get_market(BTC), "0.6"
    )
    # 0.4 BTC at 50,100 = 20,040 USDC; fees 0.05 % maker, 0.20 % taker, rounded up
    assert fill.seller_collateral == 20_040 * USDC
    assert fill.buyer_collateral - fill.seller_collateral in (0, 1)
    assert fill.maker_fee == -(-fill.buyer_collateral * 500 // 10**6)
    assert fill.taker_fee == -(-fill.buyer_collateral * 2_000 // 10**6)
    assert exchange.get_account(exchange.fee_account_id).collateral == (
        fill.maker_fee + fill.taker_fee + fill.buyer_collateral - fill.seller_collateral
    )


def test_price_time_priority_and_partial_fills(exchange: Exchange) -> None:
    a, b, c, taker = (funded(exchange) for _ in range(4))
    first = exchange.place_order(make_order(exchange, a, Side.SELL, "0.1", "50100"))
    second = exchange.place_order(make_order(exchange, b, Side.SELL, "0.1", "50100"))
    better = exchange.place_order(make_order(exchange, c, Side.SELL, "0.1", "50050"))
    ack = exchange.place_order(make_order(exchange, taker, Side.BUY, "0.25", "50100"))
    assert [f.maker_order_id for f in ack.fills] == [
        better.order_id,
        first.order_id,
        second.order_id,
    ]
    assert exchange.get_order(second.order_id).filled == quantity_from_human(
        exchange.get_market(BTC), "0.05"
    )
    assert exchange.get_order(second.order_id).status is OrderStatus.OPEN
    assert not exchange.books[BTC].is_crossed()


def test_gtt_remainder_rests_and_book_never_crosses(exchange: Exchange) -> None:
    maker, taker = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.1", "50100"))
    ack = exchange.place_order(make_order(exchange, taker, Side.BUY, "0.3", "50200"))
    assert ack.status is OrderStatus.OPEN and ack.filled == 10**9
    assert exchange.books[BTC].best_bid() == price_from_human(exchange.get_market(BTC), "50200")
    assert exchange.books[BTC].best_ask() is None


def test_ioc_remainder_is_canceled(exchange: Exchange) -> None:
    maker, taker = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.1", "50100"))
    order = make_order(exchange, taker, Side.BUY, "0.3", "50200", time_in_force=TimeInForce.IOC)
    ack = exchange.place_order(order)
    assert ack.status is OrderStatus.CANCELED
    assert ack.cancel_reason is CancelReason.IOC_REMAINDER
    assert ack.filled == 10**9
    assert exchange.books[BTC].best_bid() is None


def test_market_order_uses_worst_price(exchange: Exchange) -> None:
    maker, taker = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.1", "50100"))
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.1", "50300"))
    order = make_order(
        exchange,
        taker,
        Side.BUY,
        "0.2",
        "50200",
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.IOC,
    )
    ack = exchange.place_order(order)
    assert ack.filled == 10**9 and ack.status is OrderStatus.CANCELED


def test_fok_fills_completely(exchange: Exchange) -> None:
    maker, taker = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.2", "50100"))
    order = make_order(exchange, taker, Side.BUY, "0.2", "50100", time_in_force=TimeInForce.FOK)
    assert exchange.place_order(order).status is OrderStatus.FILLED


def test_invalid_fok_not_fillable(exchange: Exchange) -> None:
    maker, taker = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.1", "50100"))
    order = make_order(exchange, taker, Side.BUY, "0.2", "50100", time_in_force=TimeInForce.FOK)
    _reject(exchange, Reason.FOK_NOT_FILLABLE, exchange.place_order, order)


def test_post_only_rests(exchange: Exchange) -> None:
    maker = funded(exchange)
    ack = exchange.place_order(
        make_order(exchange, maker, Side.BUY, "0.1", "49000", post_only=True)
    )
    assert ack.status is OrderStatus.OPEN


def test_invalid_post_only_would_cross(exchange: Exchange) -> None:
    maker, other = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.1", "50100"))
    order = make_order(exchange, other, Side.BUY, "0.1", "50100", post_only=True)
    _reject(exchange, Reason.POST_ONLY_WOULD_CROSS, exchange.place_order, order)


def test_self_trade_prevention_cancels_resting_maker(exchange: Exchange) -> None:
    trader, other = funded(exchange), funded(exchange)
    own = exchange.place_order(make_order(exchange, trader, Side.SELL, "0.1", "50100"))
    theirs = exchange.place_order(make_order(exchange, other, Side.SELL, "0.1", "50150"))
    ack = exchange.place_order(make_order(exchange, trader, Side.BUY, "0.1", "50200"))
    assert exchange.get_order(own.order_id).cancel_reason is CancelReason.SELF_TRADE
    assert [f.maker_order_id for f in ack.fills] == [theirs.order_id]


def test_reduce_only_caps_at_position(exchange: Exchange) -> None:
    maker, trader = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.1", "50000"))
    exchange.place_order(make_order(exchange, trader, Side.BUY, "0.1", "50000"))
    exchange.place_order(make_order(exchange, maker, Side.BUY, "1", "49900"))
    order = make_order(
        exchange, trader, Side.SELL, "0.5", "49900", reduce_only=True, time_in_force=TimeInForce.IOC
    )
    ack = exchange.place_order(order)
    assert ack.filled == 10**9
    assert exchange.get_position(trader, BTC).balance == 0


def test_invalid_reduce_only_would_increase(exchange: Exchange) -> None:
    trader = funded(exchange)
    order = make_order(exchange, trader, Side.BUY, "0.1", "50000", reduce_only=True)
    _reject(exchange, Reason.REDUCE_ONLY_WOULD_INCREASE, exchange.place_order, order)


def test_client_id_makes_placement_idempotent(exchange: Exchange) -> None:
    trader = funded(exchange)
    order = make_order(exchange, trader, Side.BUY, "0.1", "49000", client_id="same")
    first = exchange.place_order(order)
    events = len(exchange.events)
    assert exchange.place_order(order) == first
    assert len(exchange.events) == events


def test_invalid_duplicate_client_id(exchange: Exchange) -> None:
    trader = funded(exchange)
    exchange.place_order(make_order(exchange, trader, Side.BUY, "0.1", "49000", client_id="x"))
    other = make_order(exchange, trader, Side.BUY, "0.2", "49000", client_id="x")
    _reject(exchange, Reason.DUPLICATE_CLIENT_ID, exchange.place_order, other)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"size": 10**6 + 1}, Reason.SIZE_NOT_STEP_MULTIPLE),
        ({"size": 10**6}, Reason.BELOW_MIN_SIZE),
        ({"size": 0}, Reason.INVALID_AMOUNT),
        ({"size": 2**64 * 10**6}, Reason.OVERFLOW),
        ({"price": 123}, Reason.PRICE_OFF_TICK),
        ({"market": "XRP-USD"}, Reason.UNKNOWN_MARKET),
        ({"expiration": 0}, Reason.EXPIRED),
        ({"limit_fee": 100}, Reason.FEE_LIMIT_TOO_LOW),
        ({"account_id": 999_999}, Reason.UNKNOWN_ACCOUNT),
        ({"account_id": 1}, Reason.SYSTEM_ACCOUNT),
        ({"order_type": OrderType.MARKET}, Reason.INVALID_ORDER),
        ({"order_type": OrderType.STOP_LIMIT}, Reason.INVALID_PRICE),
        ({"post_only": True, "time_in_force": TimeInForce.IOC}, Reason.INVALID_ORDER),
        ({"client_id": ""}, Reason.INVALID_ORDER),
    ],
)
def test_invalid_order_fields(exchange: Exchange, change: dict, reason: Reason) -> None:
    trader = funded(exchange)
    order = dataclasses.replace(make_order(exchange, trader, Side.BUY, "0.1", "49000"), **change)
    _reject(exchange, reason, exchange.place_order, order)


def test_invalid_insufficient_margin(exchange: Exchange) -> None:
    trader = funded(exchange, 1_000)
    # 1 BTC at 50,000 needs 2,500 USDC of initial margin (5 %)
    order = make_order(exchange, trader, Side.BUY, "1", "50000")
    _reject(exchange, Reason.INSUFFICIENT_MARGIN, exchange.place_order, order)


def test_invalid_missing_signature_when_required(clock: ManualClock) -> None:
    from starkperp.exchange.config import minimal

    ex = Exchange(minimal(), clock=clock)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    trader = ex.create_account()
    ex.deposit(trader, 10**12)
    _reject(
        ex,
        Reason.MISSING_SIGNATURE,
        ex.place_order,
        make_order(ex, trader, Side.BUY, "0.1", "49000"),
    )


def test_invalid_market_halted_and_close_only(exchange: Exchange) -> None:
    maker, trader = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.1", "50000"))
    exchange.place_order(make_order(exchange, trader, Side.BUY, "0.1", "50000"))
    exchange.set_market_status(BTC, MarketStatus.CLOSE_ONLY)
    opening = make_order(exchange, maker, Side.SELL, "0.1", "50000")
    _reject(exchange, Reason.MARKET_CLOSE_ONLY, exchange.place_order, opening)
    closing = make_order(exchange, trader, Side.SELL, "0.1", "50500")
    assert exchange.place_order(closing).status is OrderStatus.OPEN
    exchange.set_market_status(BTC, MarketStatus.HALTED)
    _reject(
        exchange,
        Reason.MARKET_HALTED,
        exchange.place_order,
        make_order(exchange, trader, Side.SELL, "0.1", "50500"),
    )


def test_cancel_cancel_all_and_cancel_replace(exchange: Exchange) -> None:
    trader = funded(exchange)
    a = exchange.place_order(make_order(exchange, trader, Side.BUY, "0.1", "49000"))
    b = exchange.place_order(make_order(exchange, trader, Side.BUY, "0.1", "48000"))
    c = exchange.place_order(make_order(exchange, trader, Side.BUY, "1", "2900", market="ETH-USD"))
    view = exchange.cancel_order(a.order_id, trader)
    assert view.status is OrderStatus.CANCELED and view.cancel_reason is CancelReason.USER_CANCELED
    new = exchange.cancel_replace(
        b.order_id, make_order(exchange, trader, Side.BUY, "0.2", "48500")
    )
    assert exchange.get_order(b.order_id).cancel_reason is CancelReason.REPLACED
    assert new.status is OrderStatus.OPEN
    assert exchange.cancel_all(trader, BTC) == [new.order_id]
    assert [o.order_id for o in exchange.get_open_orders(trader)] == [c.order_id]
    assert exchange.cancel_all(trader) == [c.order_id]
    assert exchange.books[BTC].best_bid() is None


def test_invalid_cancel_unknown_and_foreign_and_closed(exchange: Exchange) -> None:
    trader, other = funded(exchange), funded(exchange)
    ack = exchange.place_order(make_order(exchange, trader, Side.BUY, "0.1", "49000"))
    _reject(exchange, Reason.UNKNOWN_ORDER, exchange.cancel_order, 12345)
    _reject(exchange, Reason.WRONG_ACCOUNT, exchange.cancel_order, ack.order_id, other)
    exchange.cancel_order(ack.order_id)
    _reject(exchange, Reason.ORDER_NOT_OPEN, exchange.cancel_order, ack.order_id)


def test_invalid_cancel_replace_keeps_old_order(exchange: Exchange) -> None:
    trader = funded(exchange, 1_000)
    old = exchange.place_order(make_order(exchange, trader, Side.BUY, "0.01", "49000"))
    too_big = make_order(exchange, trader, Side.BUY, "5", "49000")
    _reject(exchange, Reason.INSUFFICIENT_MARGIN, exchange.cancel_replace, old.order_id, too_big)
    assert exchange.get_order(old.order_id).status is OrderStatus.OPEN


def test_expiry_cancels_and_expired_makers_never_fill(
    exchange: Exchange, clock: ManualClock
) -> None:
    maker, taker = funded(exchange), funded(exchange)
    ack = exchange.place_order(
        make_order(exchange, maker, Side.SELL, "0.1", "50100", expires_in=60)
    )
    clock.advance(61)
    fill = exchange.place_order(
        make_order(exchange, taker, Side.BUY, "0.1", "50100", time_in_force=TimeInForce.IOC)
    )
    assert fill.filled == 0
    assert exchange.get_order(ack.order_id).cancel_reason is CancelReason.EXPIRED
    other = exchange.place_order(
        make_order(exchange, maker, Side.SELL, "0.1", "50100", expires_in=60)
    )
    clock.advance(120)
    assert exchange.expire_orders() == [other.order_id]


def test_stop_market_triggers_on_oracle_price(exchange: Exchange) -> None:
    maker, trader = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.BUY, "1", "48000"))
    stop = make_order(
        exchange,
        trader,
        Side.SELL,
        "0.1",
        "47000",
        order_type=OrderType.STOP_MARKET,
        time_in_force=TimeInForce.IOC,
        trigger="48500",
    )
    ack = exchange.place_order(stop)
    assert ack.status is OrderStatus.UNTRIGGERED
    exchange.set_oracle_price(BTC, price_from_human(exchange.get_market(BTC), "49000"))
    assert exchange.get_order(ack.order_id).status is OrderStatus.UNTRIGGERED
    exchange.set_oracle_price(BTC, price_from_human(exchange.get_market(BTC), "48400"))
    assert exchange.get_order(ack.order_id).status is OrderStatus.FILLED
    assert exchange.get_position(trader, BTC).balance == -(10**9)


def test_take_profit_limit_rests_after_trigger(exchange: Exchange) -> None:
    trader = funded(exchange)
    tp = make_order(
        exchange,
        trader,
        Side.SELL,
        "0.1",
        "52000",
        order_type=OrderType.TAKE_PROFIT,
        trigger="51000",
    )
    ack = exchange.place_order(tp)
    assert ack.status is OrderStatus.UNTRIGGERED
    exchange.set_oracle_price(BTC, price_from_human(exchange.get_market(BTC), "51000"))
    assert exchange.get_order(ack.order_id).status is OrderStatus.OPEN
    assert exchange.books[BTC].best_ask() == price_from_human(exchange.get_market(BTC), "52000")


def test_fee_tier_drops_with_volume(exchange: Exchange) -> None:
    maker, taker = funded(exchange, 10_000_000), funded(exchange, 10_000_000)
    assert exchange.get_fee_rates(taker) == (500, 2_000)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "30", "50000", limit_fee=10**6))
    exchange.place_order(make_order(exchange, taker, Side.BUY, "30", "50000", limit_fee=10**6))
    assert exchange.get_fee_rates(taker) == (400, 1_500)  # 1.5M USDC of volume


def test_maker_without_margin_is_canceled_at_fill_time(exchange: Exchange) -> None:
    maker, taker = funded(exchange, 3_000), funded(exchange)
    resting = exchange.place_order(make_order(exchange, maker, Side.SELL, "1", "50100"))
    # the index rises: filling the short at 50,100 would now leave TV below initial margin
    exchange.set_oracle_price(BTC, price_from_human(exchange.get_market(BTC), "52000"))
    ack = exchange.place_order(
        make_order(exchange, taker, Side.BUY, "1", "50100", time_in_force=TimeInForce.IOC)
    )
    assert ack.filled == 0
    assert exchange.get_order(resting.order_id).cancel_reason is CancelReason.UNDERCOLLATERALIZED


def test_orderbook_snapshot_and_deltas_follow_changes(exchange: Exchange) -> None:
    maker = funded(exchange)
    snap = exchange.get_orderbook(BTC)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.1", "50100"))
    exchange.place_order(make_order(exchange, maker, Side.BUY, "0.1", "49900"))
    deltas = exchange.get_book_deltas(BTC, snap.seq)
    assert deltas is not None and [d.seq for d in deltas] == [snap.seq + 1, snap.seq + 2]
    assert exchange.get_orderbook(BTC).seq == snap.seq + 2
    assert exchange.get_mark_price(BTC) == price_from_human(exchange.get_market(BTC), "50000")


_HOSTILE = [None, "1", 1.5, True, -1, 2**80, b"x", [1], {"a": 1}, object()]


def test_invalid_hostile_field_values_never_crash(exchange: Exchange) -> None:
    trader = funded(exchange)
    base = make_order(exchange, trader, Side.BUY, "0.1", "49000")
    for field in dataclasses.fields(base):
        for value in _HOSTILE:
            order = dataclasses.replace(base, **{field.name: value})
            digest = exchange.compute_state_digest()
            try:
                exchange.place_order(order)
            except ExchangeError:
                assert exchange.compute_state_digest() == digest
            else:  # only values of the right type can be accepted
                assert type(getattr(order, field.name)) is type(getattr(base, field.name))
                exchange.cancel_all(trader)
    for call in (exchange.deposit, exchange.withdraw):
        for value in _HOSTILE:
            with pytest.raises(ExchangeError):
                call(trader, value)  # type: ignore[arg-type]
            with pytest.raises(ExchangeError):
                call(value, 10)  # type: ignore[arg-type]
    for value in _HOSTILE:
        with pytest.raises(ExchangeError):
            exchange.get_orderbook(value)  # type: ignore[arg-type]
        with pytest.raises(ExchangeError):
            exchange.cancel_order(value)  # type: ignore[arg-type]


def test_reads_for_the_api(exchange: Exchange) -> None:
    maker, taker = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "0.2", "50100", client_id="m1"))
    exchange.place_order(make_order(exchange, taker, Side.BUY, "0.1", "50100", client_id="t1"))
    assert exchange.get_order_by_client_id(maker, "m1").filled == 10**9
    assert [f.taker_account_id for f in exchange.get_fills(maker)] == [taker]
    assert exchange.get_trades(BTC)[0].quantity == 10**9
    assert [o.order.client_id for o in exchange.get_open_orders(maker, BTC)] == ["m1"]
    assert exchange.cancel_order_by_client_id(maker, "m1").status is OrderStatus.CANCELED
    assert [p.market for p in exchange.get_positions(taker)] == [BTC]
    assert exchange.get_equity(taker) == exchange.get_account(taker).equity
    assert exchange.get_free_collateral(taker) < exchange.get_equity(taker)
    assert exchange.get_liquidation_price(maker, BTC) is not None  # short: liquidated above
    assert exchange.get_liquidation_price(taker, BTC) is None  # long, fully collateralised
    assert {m.market for m in exchange.get_markets()} == {"BTC-USD", "ETH-USD"}
    account = exchange.get_account(taker)
    assert account.positions[0].open_cost > 0 and not account.is_liquidatable


def test_close_only_cancels_resting_orders_that_add_risk(exchange: Exchange) -> None:
    long, seller, bidder = funded(exchange), funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, seller, Side.SELL, "0.2", "50000"))
    exchange.place_order(make_order(exchange, long, Side.BUY, "0.2", "50000"))
    resting = exchange.place_order(make_order(exchange, bidder, Side.BUY, "0.1", "49900"))
    exchange.set_market_status(BTC, MarketStatus.CLOSE_ONLY)
    closing = make_order(exchange, long, Side.SELL, "0.1", "49900", time_in_force=TimeInForce.IOC)
    ack = exchange.place_order(closing)
    assert ack.filled == 0
    assert exchange.get_order(resting.order_id).cancel_reason is CancelReason.MARKET_CLOSED
    assert exchange.get_position(long, BTC).balance == 2 * 10**9
