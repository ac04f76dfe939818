"""Funding: premium from impact prices, the capped hourly rate, the index, payments."""

from __future__ import annotations

from starkperp.exchange import Exchange, Side
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.funding import (
    compute_funding_cap_ppb,
    compute_funding_index_delta,
    compute_funding_payment,
    compute_funding_rate_ppb,
    compute_impact_price,
    compute_premium_ppb,
)
from tests.exchange.helpers import BTC, funded, make_order


def test_payment_rounds_against_the_payer() -> None:
    assert compute_funding_payment(3, 1, 0) == 1  # owes 3 / 2^32: pays a whole quantum
    assert compute_funding_payment(-3, 1, 0) == 0  # is owed 3 / 2^32: receives nothing
    assert compute_funding_payment(2, 3 << 32, 1 << 32) == 4
    assert compute_funding_payment(-2, 3 << 32, 1 << 32) == -4


def test_rate_is_premium_over_eight_plus_interest_capped() -> None:
    cap = compute_funding_cap_ppb(40_000_000, 3_600)
    assert cap == 5_000_000  # 4 % per 8 h = 0.5 % per hour
    assert compute_funding_rate_ppb([800_000, 800_000], 12_500, cap) == 112_500
    assert compute_funding_rate_ppb([10**9], 0, cap) == cap
    assert compute_funding_rate_ppb([-(10**9)], 0, cap) == -cap
    assert compute_funding_rate_ppb([], 12_500, cap) == 12_500


def test_impact_price_and_premium() -> None:
    levels = [(10 << 32, 100), (11 << 32, 100)]
    assert compute_impact_price(levels, 500) == 10 << 32
    # 1,000 from the first level, then ceil(500 / 11) = 46 quanta of the second
    assert compute_impact_price(levels, 1_500) == (1_000 + 46 * 11) * (1 << 32) // 146
    assert compute_impact_price(levels, 10**9) is None
    assert compute_premium_ppb(101, 102, 100) == 10_000_000
    assert compute_premium_ppb(98, 99, 100) == -10_000_000
    assert compute_premium_ppb(99, 101, 100) == 0


def test_index_delta_is_bounded_by_cap_times_price() -> None:
    price = 5 << 32
    delta = compute_funding_index_delta(5_000_000, price)
    assert delta * 10**9 <= 5_000_000 * price
    assert compute_funding_index_delta(-5_000_000, price) == -delta


def test_hourly_funding_moves_collateral_and_conserves_it(
    exchange: Exchange, clock: ManualClock
) -> None:
    maker, taker = funded(exchange), funded(exchange)
    # a rich bid above the index: the premium is positive, longs pay shorts
    exchange.place_order(make_order(exchange, maker, Side.SELL, "1", "50000"))
    exchange.place_order(make_order(exchange, taker, Side.BUY, "1", "50000"))
    exchange.place_order(make_order(exchange, maker, Side.BUY, "1", "50400"))
    exchange.place_order(make_order(exchange, taker, Side.SELL, "1", "50600"))
    total = exchange.compute_total_collateral()
    long_before = exchange.get_account(taker).collateral
    fees_before = exchange.get_account(exchange.fee_account_id).collateral
    for _ in range(61):
        clock.advance(60)
        exchange.advance_time()
    (tick,) = exchange.get_funding_history(BTC)
    assert tick.rate_ppb > 12_500
    assert exchange.get_account(taker).collateral < long_before
    assert exchange.compute_total_collateral() == total
    assert exchange.get_position(taker, BTC).cached_funding_index == tick.index
    paid_long = exchange.get_position(taker, BTC).funding_paid
    paid_short = exchange.get_position(maker, BTC).funding_paid
    dust = exchange.get_account(exchange.fee_account_id).collateral - fees_before
    assert paid_long > 0 and paid_long + paid_short == dust and 0 <= dust <= 2


def test_missed_hours_each_get_a_capped_tick(exchange: Exchange, clock: ManualClock) -> None:
    maker, taker = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "1", "50000"))
    exchange.place_order(make_order(exchange, taker, Side.BUY, "1", "50000"))
    # a rich bid far above the index: the first tick's premium hits the cap
    exchange.place_order(make_order(exchange, maker, Side.BUY, "1", "55000"))
    exchange.place_order(make_order(exchange, taker, Side.SELL, "1", "56000"))
    clock.advance(60)
    exchange.advance_time()  # one premium sample
    hour = exchange.funding_period[BTC]
    total = exchange.compute_total_collateral()
    clock.now = (hour + 4) * 3_600 + 17  # four hour boundaries pass at once
    exchange.advance_time()
    ticks = exchange.get_funding_history(BTC)
    assert len(ticks) == 4
    assert exchange.funding_period[BTC] == hour + 4
    cap = compute_funding_cap_ppb(
        exchange.config.max_funding_rate_ppb_per_8h, exchange.config.funding_interval
    )
    interest = exchange.config.interest_rate_ppb_per_interval
    assert ticks[0].rate_ppb == cap
    assert [t.rate_ppb for t in ticks[1:]] == [interest] * 3
    index = 0
    for tick in ticks:  # each tick moves the index by its own capped rate
        assert abs(tick.rate_ppb) <= cap
        index += compute_funding_index_delta(tick.rate_ppb, tick.price)
        assert tick.index == index
        assert tick.time == clock.now
    assert exchange.get_position(taker, BTC).cached_funding_index == index
    assert exchange.compute_total_collateral() == total
    clock.advance(60)
    exchange.advance_time()  # nothing more is due within the hour
    assert len(exchange.get_funding_history(BTC)) == 4


def test_missed_hours_replay_bit_for_bit(exchange: Exchange, clock: ManualClock) -> None:
    from starkperp.exchange import replay
    from starkperp.exchange.config import minimal

    maker, taker = funded(exchange), funded(exchange)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "1", "50000"))
    exchange.place_order(make_order(exchange, taker, Side.BUY, "1", "50000"))
    for step in (7_300, 100, 11_000, 3_600):
        clock.advance(step)
        exchange.advance_time()
    assert len(exchange.get_funding_history(BTC)) == 6
    again = replay(exchange.events, minimal(), require_signatures=False)
    assert again.compute_state_digest() == exchange.compute_state_digest()
    assert again.funding_period == exchange.funding_period
