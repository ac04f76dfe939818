"""Liquidations, the insurance fund and deleveraging, down to a 30 % crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.exchange import (
    Exchange,
    ExchangeError,
    OrderStatus,
    Reason,
    Side,
    price_from_human,
)
from starkperp.exchange.config import minimal
from starkperp.exchange.deleverage import compute_bankruptcy_transfers, compute_fair_transfer
from starkperp.exchange.events import Deleveraged, Liquidated
from starkperp.exchange.risk import compute_total_risk_scaled, compute_total_value_scaled
from tests.exchange.helpers import BTC, ETH, USDC, funded, make_order


def _set_price(ex: Exchange, human: str) -> None:
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), human))


def _trade(ex: Exchange, buyer: int, seller: int, size: str, price: str) -> None:
    ex.place_order(make_order(ex, seller, Side.SELL, size, price))
    ack = ex.place_order(make_order(ex, buyer, Side.BUY, size, price))
    assert ack.status is OrderStatus.FILLED


def _balance_sum(ex: Exchange) -> int:
    return sum(a.balances.get(BTC, 0) for a in ex.accounts.values())


def test_invalid_liquidate_healthy_account(exchange: Exchange) -> None:
    trader = funded(exchange)
    digest = exchange.compute_state_digest()
    with pytest.raises(ExchangeError) as info:
        exchange.liquidate(trader)
    assert info.value.reason is Reason.NOT_LIQUIDATABLE
    assert exchange.compute_state_digest() == digest


def test_liquidation_with_value_left_pays_penalty_to_fund(exchange: Exchange) -> None:
    long, short = funded(exchange, 3_000), funded(exchange, 100_000)
    _trade(exchange, long, short, "1", "50000")
    resting = exchange.place_order(make_order(exchange, long, Side.BUY, "0.01", "40000"))
    liq = exchange.get_liquidation_price(long, BTC)
    assert liq is not None
    _set_price(exchange, "48500")
    assert exchange.get_liquidatable_accounts() == [long]
    total = exchange.compute_total_collateral()
    (event,) = exchange.process_liquidations()
    assert isinstance(event, Liquidated) and event.penalty > 0 and event.insurance_payment == 0
    assert exchange.get_position(long, BTC).balance == 0
    assert exchange.get_position(exchange.insurance_fund_id, BTC).balance == 10**10
    assert exchange.get_order(resting.order_id).status is OrderStatus.CANCELED
    assert exchange.get_account(long).collateral >= 0
    assert exchange.compute_total_collateral() == total
    assert _balance_sum(exchange) == 0


def test_bankrupt_account_is_covered_by_insurance_fund(exchange: Exchange) -> None:
    long, short = funded(exchange, 3_000), funded(exchange, 100_000)
    exchange.deposit(exchange.insurance_fund_id, 50_000 * USDC)
    _trade(exchange, long, short, "1", "50000")
    _set_price(exchange, "45000")
    total = exchange.compute_total_collateral()
    (event,) = exchange.process_liquidations()
    assert isinstance(event, Liquidated) and event.insurance_payment > 0
    assert exchange.get_account(long).collateral == 0
    assert exchange.compute_total_collateral() == total


def test_bankrupt_account_is_deleveraged_when_fund_is_empty(exchange: Exchange) -> None:
    long, short_a, short_b = funded(exchange, 3_000), funded(exchange), funded(exchange)
    _trade(exchange, long, short_a, "0.6", "50000")
    _trade(exchange, long, short_b, "0.4", "50000")
    _set_price(exchange, "45000")
    total = exchange.compute_total_collateral()
    events = exchange.process_liquidations()
    steps = [e for e in events if isinstance(e, Deleveraged)]
    assert {e.deleverager_account_id for e in steps} == {short_a, short_b}
    assert all(e.deleveraged_account_id == long for e in steps)
    assert exchange.get_account(long).collateral == 0
    assert exchange.get_position(long, BTC).balance == 0
    assert exchange.compute_total_collateral() == total
    assert _balance_sum(exchange) == 0


def test_manual_deleverage_checks_fairness(exchange: Exchange) -> None:
    long, short = funded(exchange, 3_000), funded(exchange, 100_000)
    _trade(exchange, long, short, "1", "50000")
    _set_price(exchange, "45000")
    digest = exchange.compute_state_digest()
    with pytest.raises(ExchangeError) as info:  # a long cannot deleverage against a long
        exchange.deleverage(long, funded(exchange), BTC, -(10**10))
    assert info.value.reason in (Reason.DELEVERAGE_UNFAIR, Reason.NOT_DELEVERAGEABLE)
    digest = exchange.compute_state_digest()
    with pytest.raises(ExchangeError) as info:  # flipping the bankrupt position is unfair
        exchange.deleverage(long, short, BTC, -(2 * 10**10))
    assert info.value.reason is Reason.DELEVERAGE_UNFAIR
    assert exchange.compute_state_digest() == digest
    event = exchange.deleverage(long, short, BTC, -(10**10))
    assert event.collateral > 0
    assert exchange.get_account(long).collateral == 0
    assert exchange.get_position(short, BTC).balance == 0


def test_invalid_deleverage_of_solvent_account(exchange: Exchange) -> None:
    long, short = funded(exchange, 3_000), funded(exchange, 100_000)
    _trade(exchange, long, short, "1", "50000")
    digest = exchange.compute_state_digest()
    with pytest.raises(ExchangeError) as info:
        exchange.deleverage(long, short, BTC, -(10**10))
    assert info.value.reason is Reason.NOT_DELEVERAGEABLE
    assert exchange.compute_state_digest() == digest


def test_liquidation_cascade_after_30pct_crash_drains_fund_and_deleverages(
    exchange: Exchange,
) -> None:
    fund = exchange.insurance_fund_id
    exchange.deposit(fund, 20_000 * USDC)
    deposits = 20_000 * USDC
    shorts = [funded(exchange, 200_000) for _ in range(3)]
    longs = []
    for i in range(12):
        long = funded(exchange, 3_000 + 200 * i)
        _trade(exchange, long, shorts[i % 3], "1", "50000")
        longs.append(long)
    deposits += 3 * 200_000 * USDC + sum((3_000 + 200 * i) * USDC for i in range(12))
    assert exchange.compute_total_collateral() == deposits
    events = []
    for price in ("47500", "45000", "42500", "40000", "37500", "35000"):
        _set_price(exchange, price)
        events.extend(exchange.process_liquidations())
        assert exchange.compute_total_collateral() == deposits  # nothing created or lost
        assert _balance_sum(exchange) == 0
    liquidated = [e for e in events if isinstance(e, Liquidated)]
    deleveraged = [e for e in events if isinstance(e, Deleveraged)]
    assert len({e.account_id for e in liquidated}) >= 6
    assert any(e.insurance_payment > 0 for e in liquidated)
    assert deleveraged, "the fund ran dry, so losses must be deleveraged"
    assert {e.deleverager_account_id for e in deleveraged} <= set(shorts)
    # the fund is drained: it cannot pay any further deficit while staying valid
    view = exchange.get_account(fund)
    assert view.equity <= view.maintenance_margin + 4_000 * USDC // 10
    # no trader is left with TR > TV (all were liquidated), and no bankrupt position remains
    assert exchange.get_liquidatable_accounts() == []
    for account in exchange.accounts.values():
        tv = compute_total_value_scaled(
            account.collateral, account.balances, exchange.oracle_prices
        )
        assert tv >= -(1 << 32) * 4, account.account_id


_MARKETS = {m.market: m for m in minimal().markets}
_PRICES = {
    BTC: price_from_human(_MARKETS[BTC], "35000"),
    ETH: price_from_human(_MARKETS[ETH], "2100"),
}


@settings(max_examples=60, deadline=None)
@given(
    btc=st.integers(min_value=1, max_value=5 * 10**10),
    eth=st.integers(min_value=0, max_value=50 * 10**9),
    loss=st.integers(min_value=1, max_value=10**10),
    pieces=st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=4),
    sign=st.sampled_from([1, -1]),
)
def test_fair_transfer_is_the_least_that_keeps_the_ratio(
    btc: int, eth: int, loss: int, pieces: list[int], sign: int
) -> None:
    """Step by step on the current position: the ratio holds, one quantum less breaks it."""
    prices = {BTC: _PRICES[BTC], ETH: _PRICES[ETH]}
    balances = {BTC: sign * btc, ETH: sign * eth}
    tv = compute_total_value_scaled(0, balances, prices)
    collateral = -(tv >> 32) - loss  # bankrupt by ``loss`` quanta or so
    for piece in pieces:
        if balances[BTC] == 0:
            break
        quantity = -sign * min(piece, abs(balances[BTC]))
        transfer = compute_fair_transfer(collateral, balances, BTC, quantity, prices, _MARKETS)
        after = {**balances, BTC: balances[BTC] + quantity}
        assert _keeps_ratio(collateral, balances, collateral + transfer, after, prices)
        assert not _keeps_ratio(collateral, balances, collateral + transfer - 1, after, prices)
        collateral, balances = collateral + transfer, after
    transfers = compute_bankruptcy_transfers(collateral, balances, prices, _MARKETS)
    assert sum(transfers.values()) == -collateral


def _keeps_ratio(c_b: int, b_b: dict, c_a: int, b_a: dict, prices: dict) -> bool:
    tv_b = compute_total_value_scaled(c_b, b_b, prices)
    tv_a = compute_total_value_scaled(c_a, b_a, prices)
    tr_b = compute_total_risk_scaled(b_b, prices, _MARKETS)
    tr_a = compute_total_risk_scaled(b_a, prices, _MARKETS)
    if tr_a == 0:
        return tv_a >= 0
    return tv_a * tr_b >= tv_b * tr_a


def test_bankruptcy_transfers_close_markets_in_order_at_the_fair_price() -> None:
    prices = {BTC: _PRICES[BTC], ETH: _PRICES[ETH]}
    balances = {BTC: 10**10, ETH: 20 * 10**9}
    collateral = -(compute_total_value_scaled(0, balances, prices) >> 32) - 1_234_567
    transfers = compute_bankruptcy_transfers(collateral, balances, prices, _MARKETS)
    assert sorted(transfers) == [BTC, ETH]
    first = compute_fair_transfer(collateral, balances, BTC, -(10**10), prices, _MARKETS)
    assert transfers[BTC] == first
    assert transfers[ETH] == -collateral - first
