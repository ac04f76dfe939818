"""Risk: the validity rule, initial margin, liquidation price and rounding direction."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.exchange import MarketId, Price
from starkperp.exchange.markets import FIXED_POINT_ONE, get_default_markets, price_from_human
from starkperp.exchange.risk import (
    compute_liquidation_price,
    compute_risk_snapshot,
    compute_total_risk_scaled,
    compute_total_value_scaled,
    is_initial_margin_ok,
    is_liquidatable,
    is_only_shrinking,
    is_valid_change,
)

MARKETS = get_default_markets()
BTC = MarketId("BTC-USD")
P = {BTC: price_from_human(MARKETS[BTC], "50000")}  # 5 quanta per quantum
ONE_BTC = 10**10


def _figures(collateral: int, balance: int) -> tuple[int, int]:
    b = {BTC: balance}
    return compute_total_value_scaled(collateral, b, P), compute_total_risk_scaled(b, P, MARKETS)


def test_total_value_and_risk() -> None:
    tv, tr = _figures(-45_000 * 10**6, ONE_BTC)
    assert tv == 5_000 * 10**6 * FIXED_POINT_ONE
    mmf = MARKETS[BTC].maintenance_margin_fraction
    assert tr == mmf * 50_000 * 10**6 * FIXED_POINT_ONE


def test_validity_rule_cases() -> None:
    # healthy after: valid
    tv, tr = _figures(-45_000 * 10**6, ONE_BTC)
    assert is_valid_change(
        tv_before=tv, tr_before=tr, tv_after=tv, tr_after=tr,
        balances_before={BTC: ONE_BTC}, balances_after={BTC: ONE_BTC},
    )  # fmt: skip
    # unhealthy before and after; halving the position at the oracle price keeps TV/TR: valid
    tv_b, tr_b = _figures(-49_000 * 10**6, ONE_BTC)
    tv_a, tr_a = _figures(-24_500 * 10**6, ONE_BTC // 2)
    assert tr_b > tv_b << 32 and tr_a > tv_a << 32
    assert is_valid_change(
        tv_before=tv_b, tr_before=tr_b, tv_after=tv_a, tr_after=tr_a,
        balances_before={BTC: ONE_BTC}, balances_after={BTC: ONE_BTC // 2},
    )  # fmt: skip
    # same shrink but selling below the oracle price lowers TV/TR: invalid
    tv_a2, tr_a2 = _figures(-24_600 * 10**6, ONE_BTC // 2)
    assert not is_valid_change(
        tv_before=tv_b, tr_before=tr_b, tv_after=tv_a2, tr_after=tr_a2,
        balances_before={BTC: ONE_BTC}, balances_after={BTC: ONE_BTC // 2},
    )  # fmt: skip
    # growing while unhealthy: invalid; flipping sign: invalid
    tv_g, tr_g = _figures(-98_500 * 10**6, 2 * ONE_BTC)
    assert not is_valid_change(
        tv_before=tv_b, tr_before=tr_b, tv_after=tv_g, tr_after=tr_g,
        balances_before={BTC: ONE_BTC}, balances_after={BTC: 2 * ONE_BTC},
    )  # fmt: skip
    assert not is_only_shrinking({BTC: ONE_BTC}, {BTC: -1})
    assert is_only_shrinking({BTC: -5}, {BTC: 0})


def test_tr_zero_must_not_lower_tv() -> None:
    assert is_valid_change(
        tv_before=-5 << 32, tr_before=0, tv_after=-5 << 32, tr_after=0,
        balances_before={}, balances_after={},
    )  # fmt: skip
    assert not is_valid_change(
        tv_before=-5 << 32, tr_before=0, tv_after=-6 << 32, tr_after=0,
        balances_before={}, balances_after={},
    )  # fmt: skip


def test_initial_margin_and_snapshot_rounding() -> None:
    balances = {BTC: ONE_BTC}
    # 5 % of 50,000 is 2,500; the risk factor is rounded up, so exactly 2,500 falls short
    assert is_initial_margin_ok(-47_499 * 10**6, balances, P, MARKETS)
    assert not is_initial_margin_ok(-47_500 * 10**6, balances, P, MARKETS)
    snap = compute_risk_snapshot(-47_500 * 10**6, balances, P, MARKETS)
    assert snap.equity == 2_500 * 10**6
    assert snap.initial_margin >= 2_500 * 10**6  # rounded up
    assert snap.free_collateral <= 0
    assert not snap.is_liquidatable


def test_liquidation_price_is_where_tr_meets_tv() -> None:
    collateral = -45_000 * 10**6
    balances = {BTC: ONE_BTC}
    price = compute_liquidation_price(BTC, collateral, balances, P, MARKETS)
    assert price is not None
    assert is_liquidatable(collateral, balances, {BTC: Price(price - 1)}, MARKETS)
    assert not is_liquidatable(collateral, balances, {BTC: Price(price + 1)}, MARKETS)
    short = compute_liquidation_price(BTC, 55_000 * 10**6, {BTC: -ONE_BTC}, P, MARKETS)
    assert short is not None and short > P[BTC]
    assert is_liquidatable(55_000 * 10**6, {BTC: -ONE_BTC}, {BTC: Price(short + 1)}, MARKETS)
    assert compute_liquidation_price(BTC, 10**12, {BTC: ONE_BTC}, P, MARKETS) is None


@settings(max_examples=300, deadline=None)
@given(
    collateral=st.integers(min_value=-(10**12), max_value=10**12),
    btc=st.integers(min_value=-(10**11), max_value=10**11),
    eth=st.integers(min_value=-(10**11), max_value=10**11),
    dq=st.integers(min_value=-(10**11), max_value=10**11),
    dcoll=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_engine_fast_margin_check_matches_reference(
    collateral: int, btc: int, eth: int, dq: int, dcoll: int
) -> None:
    from starkperp.exchange.config import ExchangeConfig
    from starkperp.exchange.engine import Exchange
    from starkperp.exchange.markets import DEFAULT_MARKETS

    ex = Exchange(ExchangeConfig(markets=DEFAULT_MARKETS[:2]), require_signatures=False)
    eth_m = MarketId("ETH-USD")
    ex.set_oracle_price(BTC, P[BTC])
    ex.set_oracle_price(eth_m, price_from_human(MARKETS[eth_m], "3000"))
    account = ex.accounts[ex.create_account()]
    account.collateral = collateral
    account.balances.update({BTC: btc, eth_m: eth})
    config = MARKETS[BTC]
    before = dict(account.balances)
    after = dict(before)
    after[BTC] = btc + dq
    prices = ex.oracle_prices
    if is_only_shrinking(before, after):
        expected = is_valid_change(
            tv_before=compute_total_value_scaled(collateral, before, prices),
            tr_before=compute_total_risk_scaled(before, prices, MARKETS),
            tv_after=compute_total_value_scaled(collateral + dcoll, after, prices),
            tr_after=compute_total_risk_scaled(after, prices, MARKETS),
            balances_before=before,
            balances_after=after,
        )
    else:
        expected = abs(after[BTC]) <= config.max_position_size and is_initial_margin_ok(
            collateral + dcoll, after, prices, MARKETS
        )
    assert (ex._check_change(account, config, dq, dcoll) is None) == expected
