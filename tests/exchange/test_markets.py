"""Markets: dYdX v3 defaults, unit conversions, ticks and incremental margin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from starkperp.exchange import ExchangeError, Reason
from starkperp.exchange.markets import (
    FIXED_POINT_ONE,
    compute_human_price,
    compute_price_from_oracle,
    compute_risk_factor_from_ppm,
    get_default_markets,
    is_price_on_tick,
    price_from_human,
    quantity_from_human,
)

MARKETS = get_default_markets()


def test_default_markets_follow_dydx_v3() -> None:
    btc, eth = MARKETS["BTC-USD"], MARKETS["ETH-USD"]
    assert btc.asset_id == 0x4254432D3130000000000000000000
    assert eth.asset_id == 0x4554482D3900000000000000000000
    assert MARKETS["DOGE-USD"].asset_id == 0x444F47452D35000000000000000000
    assert [MARKETS[m].resolution for m in ("BTC-USD", "ETH-USD", "SOL-USD", "LINK-USD", "DOGE-USD")] == [
        10**10, 10**9, 10**7, 10**7, 10**5,
    ]  # fmt: skip
    assert btc.initial_margin_fraction == compute_risk_factor_from_ppm(50_000)
    assert btc.maintenance_margin_fraction == compute_risk_factor_from_ppm(30_000)
    assert MARKETS["SOL-USD"].initial_margin_fraction == compute_risk_factor_from_ppm(100_000)
    assert btc.step_size == 10**6 and btc.min_order_size == 10**7


def test_risk_factor_rounds_up() -> None:
    rf = compute_risk_factor_from_ppm(50_000)
    assert rf * 10**6 >= 50_000 * FIXED_POINT_ONE > (rf - 1) * 10**6


def test_price_conversion_matches_design_formula() -> None:
    btc = MARKETS["BTC-USD"]
    price = price_from_human(btc, "50000")
    # 50,000 USDC per BTC = 5e10 quanta per 1e10 quanta = 5 per quantum
    assert price == 5 * FIXED_POINT_ONE
    assert compute_price_from_oracle(btc, 50_000 * 10**18) == price
    assert compute_human_price(btc, price) == Decimal(50000)


@pytest.mark.parametrize("market", sorted(MARKETS))
def test_every_tick_round_trips(market: str) -> None:
    config = MARKETS[market]
    for ticks in (1, 7, 12345, 10**6 + 3):
        human = Decimal(ticks * config.tick_size) / 10**6
        price = price_from_human(config, human)
        assert is_price_on_tick(config, price)
        assert compute_human_price(config, price) == human
        assert (
            not is_price_on_tick(config, price + 1) or config.tick_size * 2**32 < config.resolution
        )


def test_invalid_price_off_tick() -> None:
    with pytest.raises(ExchangeError) as info:
        price_from_human(MARKETS["BTC-USD"], "50000.5")
    assert info.value.reason is Reason.PRICE_OFF_TICK


def test_invalid_quantity_finer_than_quantum() -> None:
    with pytest.raises(ExchangeError) as info:
        quantity_from_human(MARKETS["DOGE-USD"], "0.000001")
    assert info.value.reason is Reason.SIZE_NOT_STEP_MULTIPLE


def test_invalid_number_text() -> None:
    with pytest.raises(ExchangeError) as info:
        quantity_from_human(MARKETS["BTC-USD"], "NaN")
    assert info.value.reason is Reason.INVALID_AMOUNT


def test_incremental_initial_margin_above_baseline() -> None:
    btc = MARKETS["BTC-USD"]
    base = btc.initial_margin_fraction
    incr = btc.incremental_initial_margin_fraction
    assert btc.compute_initial_margin_fraction(btc.baseline_position_size) == base
    just_over = btc.baseline_position_size + 1
    assert btc.compute_initial_margin_fraction(just_over) == base + incr
    two_steps = btc.baseline_position_size + btc.incremental_position_size + 1
    assert btc.compute_initial_margin_fraction(-two_steps) == base + 2 * incr
    assert btc.compute_initial_margin_fraction(10**30) == FIXED_POINT_ONE
