"""Open orders reserve initial margin: the worse of all-bids-filled and all-asks-filled.

A trader can no longer rest unlimited orders: a new resting order is accepted only if the
account meets initial margin however its open orders fill (per market, the worse of the two
sides), unless the order does not worsen its own side (e.g. it only reduces a position).
The reservation is kept incrementally per account and market; these tests compare it with a
scan of the open orders and the readable functions of ``exchange.risk``.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings

from starkperp.exchange import (
    CancelReason,
    Exchange,
    ExchangeError,
    MarketId,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Timestamp,
    price_from_human,
)
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.errors import Reason
from starkperp.exchange.markets import compute_price_from_e6
from starkperp.exchange.risk import (
    OpenOrderTotals,
    compute_worst_case_excess_scaled,
    is_open_order_acceptable,
    is_open_order_margin_ok,
)
from tests.exchange.helpers import BTC, ETH, START, USDC, funded, make_order, new_exchange
from tests.strategies.exchange import RESERVE_ACCOUNTS, reserve_operations


def scan_totals(ex: Exchange, account_id: int) -> dict[MarketId, OpenOrderTotals]:
    """Sum the account's resting, margin-reserving orders by scanning them (the reference)."""
    sums: dict[MarketId, list[int]] = {}
    for record in ex.accounts[account_id].open_orders.values():
        if not record.in_book or record.order.reduce_only:
            continue
        t = sums.setdefault(record.order.market, [0, 0, 0, 0])
        i = 0 if record.is_buy else 2
        t[i] += record.remaining
        t[i + 1] += record.remaining * record.price
    return {
        m: OpenOrderTotals(bid_size=a, bid_notional=b, ask_size=c, ask_notional=d)
        for m, (a, b, c, d) in sums.items()
        if a or c
    }


def incremental_totals(ex: Exchange, account_id: int) -> dict[MarketId, OpenOrderTotals]:
    return {
        m: OpenOrderTotals(bid_size=a, bid_notional=b, ask_size=c, ask_notional=d)
        for m, (a, b, c, d) in ex.accounts[account_id].reserved.items()
        if a or c
    }


def worst_case_ok(ex: Exchange, account_id: int) -> bool:
    account = ex.accounts[account_id]
    balances = {m: b for m, b in account.balances.items() if b}
    return is_open_order_margin_ok(
        account.collateral, balances, scan_totals(ex, account_id), ex.oracle_prices, ex.markets
    )


# ---------------------------------------------------------------------------- units


def test_invalid_second_resting_order_over_commits(exchange: Exchange) -> None:
    trader = funded(exchange, 3_000)  # one BTC at 5 % IMF needs ~2,500
    exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "50100"))
    digest, n_events = exchange.compute_state_digest(), len(exchange.events)
    with pytest.raises(ExchangeError) as info:
        exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "50200"))
    assert info.value.reason is Reason.INSUFFICIENT_MARGIN
    assert exchange.compute_state_digest() == digest and len(exchange.events) == n_events
    # each order alone would have been fine: the old check let both rest
    assert len(exchange.get_open_orders(trader)) == 1


def test_bids_and_asks_reserve_the_larger_side_only(exchange: Exchange) -> None:
    trader = funded(exchange, 3_000)
    exchange.place_order(make_order(exchange, trader, Side.BUY, "1", "49900"))
    exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "50100"))
    assert len(exchange.get_open_orders(trader)) == 2
    assert worst_case_ok(exchange, trader)
    with pytest.raises(ExchangeError) as info:
        exchange.place_order(make_order(exchange, trader, Side.BUY, "0.5", "49800"))
    assert info.value.reason is Reason.INSUFFICIENT_MARGIN


def test_cancel_and_expiry_free_the_reservation(exchange: Exchange, clock: ManualClock) -> None:
    trader = funded(exchange, 3_000)
    first = exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "50100"))
    exchange.cancel_order(first.order_id)
    assert incremental_totals(exchange, trader) == {}
    exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "50100", expires_in=60))
    clock.advance(61)
    exchange.advance_time()
    assert incremental_totals(exchange, trader) == {}
    exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "50200"))


def test_fills_move_the_reservation_into_the_position(exchange: Exchange) -> None:
    maker, taker = funded(exchange, 6_000), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "2", "50100"))
    exchange.place_order(make_order(exchange, taker, Side.BUY, "0.5", "50100"))
    config = exchange.get_market(BTC)
    (totals,) = incremental_totals(exchange, maker).values()
    assert totals == scan_totals(exchange, maker)[BTC]
    assert totals.ask_size == 15 * config.min_order_size * 100  # 1.5 BTC left
    assert totals.ask_notional == totals.ask_size * price_from_human(config, "50100")
    assert exchange.get_position(maker, BTC).balance == -(totals.ask_size // 3)


def test_reduce_only_orders_reserve_nothing(exchange: Exchange) -> None:
    maker, trader = funded(exchange), funded(exchange, 3_000)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "1", "50000"))
    exchange.place_order(make_order(exchange, trader, Side.BUY, "1", "50000"))
    for price in ("51000", "52000", "53000"):
        exchange.place_order(make_order(exchange, trader, Side.SELL, "1", price, reduce_only=True))
    assert len(exchange.get_open_orders(trader)) == 3
    assert incremental_totals(exchange, trader) == {}


def test_reducing_order_rests_below_initial_margin(exchange: Exchange) -> None:
    maker, trader = funded(exchange), funded(exchange, 3_000)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "1", "50000"))
    exchange.place_order(make_order(exchange, trader, Side.BUY, "1", "50000"))
    # the index falls: TV ~ 1,900 < IR ~ 2,455, but TR ~ 1,473: not liquidatable
    exchange.set_oracle_price(BTC, price_from_human(exchange.get_market(BTC), "49100"))
    assert not exchange.get_account(trader).is_liquidatable
    with pytest.raises(ExchangeError) as info:  # more risk: refused
        exchange.place_order(make_order(exchange, trader, Side.BUY, "0.1", "49000"))
    assert info.value.reason is Reason.INSUFFICIENT_MARGIN
    ack = exchange.place_order(make_order(exchange, trader, Side.SELL, "0.5", "49200"))
    assert ack.status is OrderStatus.OPEN


def test_free_collateral_counts_open_orders(exchange: Exchange) -> None:
    trader = funded(exchange, 10_000)
    before = exchange.get_account(trader)
    exchange.place_order(make_order(exchange, trader, Side.BUY, "1", "49000"))
    after = exchange.get_account(trader)
    assert after.equity == before.equity and after.initial_margin == before.initial_margin
    # long 1 BTC bought at 49,000, valued at 50,000: IR 2,500 minus the 1,000 gain
    # (prices are 32.32 fractions of a quantum: the reservation is rounded up)
    reserved = before.free_collateral - after.free_collateral
    assert 1_500 * USDC <= reserved <= 1_500 * USDC + 2
    exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "52000"))
    # the ask side (short 1 sold 2,000 above the index) is the smaller one: no change
    assert exchange.get_account(trader).free_collateral == after.free_collateral


def test_invalid_withdrawal_that_open_orders_need(exchange: Exchange) -> None:
    trader = funded(exchange, 3_000)
    exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "50100"))
    with pytest.raises(ExchangeError) as info:
        exchange.withdraw(trader, 2_000 * USDC)
    assert info.value.reason is Reason.INSUFFICIENT_COLLATERAL
    exchange.withdraw(trader, 400 * USDC)  # what the order does not need
    assert worst_case_ok(exchange, trader)


def test_cancel_replace_reuses_the_old_reservation(exchange: Exchange) -> None:
    trader = funded(exchange, 3_000)
    old = exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "50100"))
    new = exchange.cancel_replace(
        old.order_id, make_order(exchange, trader, Side.SELL, "1", "50200")
    )
    assert new.status is OrderStatus.OPEN
    with pytest.raises(ExchangeError) as info:  # too big even without the old one
        exchange.cancel_replace(new.order_id, make_order(exchange, trader, Side.SELL, "2", "50200"))
    assert info.value.reason is Reason.INSUFFICIENT_MARGIN
    assert exchange.get_order(new.order_id).status is OrderStatus.OPEN


def test_triggered_stop_limit_that_over_commits_is_canceled(exchange: Exchange) -> None:
    trader = funded(exchange, 3_000)
    stop = exchange.place_order(
        make_order(
            exchange,
            trader,
            Side.BUY,
            "1",
            "50500",
            order_type=OrderType.STOP_LIMIT,
            trigger="50500",
        )
    )
    exchange.place_order(make_order(exchange, trader, Side.BUY, "1", "49900"))
    exchange.set_oracle_price(BTC, price_from_human(exchange.get_market(BTC), "50500"))
    view = exchange.get_order(stop.order_id)
    assert view.status is OrderStatus.CANCELED
    assert view.cancel_reason is CancelReason.UNDERCOLLATERALIZED


def test_markets_add_up(exchange: Exchange) -> None:
    trader = funded(exchange, 4_000)
    exchange.place_order(make_order(exchange, trader, Side.BUY, "1", "49900"))
    with pytest.raises(ExchangeError) as info:  # 1 BTC + 12 ETH need 4,300 (gains: 220)
        exchange.place_order(make_order(exchange, trader, Side.BUY, "12", "2990", market=ETH))
    assert info.value.reason is Reason.INSUFFICIENT_MARGIN
    exchange.place_order(make_order(exchange, trader, Side.BUY, "5", "2990", market=ETH))
    assert worst_case_ok(exchange, trader)


def test_acceptance_rule_reference_examples() -> None:
    ex = new_exchange()
    config = ex.get_market(BTC)
    one = 10 * config.min_order_size * 100  # 1 BTC
    price = price_from_human(config, "50000")
    prices, markets = ex.oracle_prices, ex.markets
    collateral = 2_600 * USDC
    assert is_open_order_acceptable(
        collateral, {}, {}, prices, markets, market=BTC, sign=1, size=one, price=price
    )
    assert not is_open_order_acceptable(
        2_400 * USDC, {}, {}, prices, markets, market=BTC, sign=1, size=one, price=price
    )
    # a seller of 1 against a long of 1 reduces: accepted even with little collateral
    assert is_open_order_acceptable(
        -48_000 * USDC, {BTC: one}, {}, prices, markets, market=BTC, sign=-1, size=one, price=price
    )
    excess = compute_worst_case_excess_scaled(collateral, {}, {}, prices, markets)
    assert excess == collateral << 64


# ---------------------------------------------------------------------------- properties


def _drive_resting(ops: list[tuple]) -> tuple[Exchange, list[int]]:
    clock = ManualClock(START)
    ex = new_exchange(clock)
    ids = [funded(ex, 2_000) for _ in range(RESERVE_ACCOUNTS)]
    n = 0
    for op in ops:
        kind = op[0]
        try:
            if kind == "deposit":
                ex.deposit(ids[op[1]], op[2] * USDC)
            elif kind == "withdraw":
                ex.withdraw(ids[op[1]], op[2] * USDC)
            elif kind == "transfer" and op[1] != op[2]:
                ex.transfer(ids[op[1]], ids[op[2]], op[3] * USDC)
            elif kind == "cancel":
                open_ids = sorted(o for a in ids for o in ex.accounts[a].open_orders)
                if open_ids:
                    ex.cancel_order(open_ids[op[1] % len(open_ids)])
            elif kind == "place":
                _, who, market, side, units, offset, post = op
                config = ex.get_market(market)
                index = 50_000 if market == BTC else 3_000
                e6 = (index + offset * (50 if market == BTC else 3)) * 10**6
                e6 -= e6 % config.tick_size
                n += 1
                ex.place_order(
                    Order(
                        account_id=ids[who],  # type: ignore[arg-type]
                        market=MarketId(market),
                        side=side,
                        size=units * config.min_order_size,
                        price=compute_price_from_e6(config, e6),
                        client_id=f"r{n}",
                        expiration=Timestamp(clock.now + 3_600),
                        post_only=post,
                    )
                )
        except ExchangeError:
            pass
        for account_id in ids:
            assert incremental_totals(ex, account_id) == scan_totals(ex, account_id)
            if kind != "place" or not op[6]:
                continue
            # only resting orders (post-only) at fixed prices: however the open orders of
            # any account fill at their placement prices, it keeps initial margin
            assert worst_case_ok(ex, account_id)
    return ex, ids


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reserve_operations(post_only=True))
def test_open_orders_never_over_commit_at_placement_prices(ops: list[tuple]) -> None:
    ex, ids = _drive_resting(ops)
    for account_id in ids:
        assert worst_case_ok(ex, account_id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reserve_operations(post_only=False))
def test_reservation_equals_a_scan_with_fills(ops: list[tuple]) -> None:
    ex, ids = _drive_resting(ops)
    for account_id in ids:
        view = ex.get_account(account_id)
        assert view.free_collateral <= view.equity - view.initial_margin


def test_incremental_check_matches_the_readable_rule() -> None:
    ex = new_exchange()
    trader = funded(ex, 3_000)
    maker = funded(ex)
    ex.place_order(make_order(ex, maker, Side.SELL, "0.5", "50000"))
    ex.place_order(make_order(ex, trader, Side.BUY, "0.5", "50000"))
    ex.place_order(make_order(ex, trader, Side.SELL, "0.3", "50500"))
    ex.place_order(make_order(ex, trader, Side.BUY, "0.2", "49000"))
    account = ex.accounts[trader]
    config = ex.get_market(BTC)
    step = config.min_order_size
    for is_buy in (True, False):
        for units in (1, 10, 30, 60, 100, 300):
            for e6 in (45_000, 49_000, 50_000, 51_000, 55_000):
                price = compute_price_from_e6(config, e6 * 10**6)
                fast = ex._check_open_order_margin(account, config, is_buy, units * step, price)
                readable = is_open_order_acceptable(
                    account.collateral,
                    {m: b for m, b in account.balances.items() if b},
                    scan_totals(ex, trader),
                    ex.oracle_prices,
                    ex.markets,
                    market=BTC,
                    sign=1 if is_buy else -1,
                    size=units * step,
                    price=price,
                )
                assert (fast is None) == readable, (is_buy, units, e6)


def test_reserved_time_in_force_only_gtt_limit(exchange: Exchange) -> None:
    trader = funded(exchange, 3_000)
    exchange.place_order(make_order(exchange, trader, Side.SELL, "1", "50100"))
    # an IOC order never rests: it is checked as a taker only (and finds nothing here)
    order = make_order(exchange, trader, Side.SELL, "1", "60000", time_in_force=TimeInForce.IOC)
    ack = exchange.place_order(dataclasses.replace(order))
    assert ack.status is OrderStatus.CANCELED
