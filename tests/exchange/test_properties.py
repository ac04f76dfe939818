"""Properties over random operation sequences (Hypothesis).

* collateral is conserved: the sum over all positions (traders, insurance fund, fee
  account) changes only by deposits and withdrawals; balances of each market sum to zero;
* the book is never crossed;
* a rejected request changes nothing (the state digest is unchanged);
* trading never makes a healthy position unhealthy (only prices and funding can), and
  after ``process_liquidations`` a trader is left with ``TR > TV`` only when it is flagged
  and bankrupt with no fair deleverager available;
* replaying the event log reproduces the state bit for bit.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from starkperp.exchange import (
    Exchange,
    ExchangeError,
    MarketId,
    Order,
    OrderStatus,
    Timestamp,
    replay,
)
from starkperp.exchange.config import minimal
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.markets import compute_price_from_e6
from tests.exchange.helpers import START, USDC
from tests.strategies.exchange import N_ACCOUNTS, operations, seeded_operations

INDEX_E6 = {"BTC-USD": 50_000 * 10**6, "ETH-USD": 3_000 * 10**6}


def _run(ops: list[tuple]) -> tuple[Exchange, ManualClock]:  # noqa: C901
    clock = ManualClock(START)
    ex = Exchange(minimal(), clock=clock, require_signatures=False)
    index = dict(INDEX_E6)
    for market, e6 in index.items():
        ex.set_oracle_price(market, compute_price_from_e6(ex.get_market(market), e6))
    ids = [ex.create_account() for _ in range(N_ACCOUNTS)]
    for account in ids:
        ex.deposit(account, 20_000 * USDC)
    net_deposits = N_ACCOUNTS * 20_000 * USDC
    counter = 0
    for op in ops:
        kind = op[0]
        digest = ex.compute_state_digest()
        unhealthy_before = set(ex.get_liquidatable_accounts())
        try:
            if kind == "place":
                _, who, market, side, units, offset, (otype, tif), post, reduce, ttl = op
                config = ex.get_market(market)
                ticks_per_50 = max(1, 50 * 10**6 // config.tick_size // 1000)
                e6 = index[market] + offset * ticks_per_50 * config.tick_size * 10
                e6 -= e6 % config.tick_size
                price = compute_price_from_e6(config, max(e6, config.tick_size))
                trigger = None
                if otype.is_conditional:
                    trigger = price
                counter += 1
                ex.place_order(
                    Order(
                        account_id=ids[who],
                        market=MarketId(market),
                        side=side,
                        size=units * config.min_order_size,
                        price=price,
                        client_id=f"c{counter}",
                        expiration=Timestamp(clock.now + ttl),
                        order_type=otype,
                        time_in_force=tif,
                        trigger_price=trigger,
                        post_only=post,
                        reduce_only=reduce,
                    )
                )
            elif kind == "cancel":
                open_ids = sorted(
                    oid
                    for oid, r in ex.orders.items()
                    if r.status in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED)
                )
                if open_ids:
                    ex.cancel_order(open_ids[op[1] % len(open_ids)])
            elif kind == "cancel_all":
                ex.cancel_all(ids[op[1]])
            elif kind == "deposit":
                ex.deposit(ids[op[1]], op[2] * USDC)
                net_deposits += op[2] * USDC
            elif kind == "withdraw":
                ex.withdraw(ids[op[1]], op[2] * USDC)
                net_deposits -= op[2] * USDC
            elif kind == "transfer":
                ex.transfer(ids[op[1]], ids[op[2]], op[3] * USDC)
            elif kind == "price":
                market = op[1]
                config = ex.get_market(market)
                index[market] = max(
                    index[market] * (1000 + op[2]) // 1000 // config.tick_size * config.tick_size,
                    config.tick_size,
                )
                ex.set_oracle_price(market, compute_price_from_e6(config, index[market]))
            elif kind == "time":
                clock.advance(op[1])
                ex.advance_time()
            elif kind == "liquidate":
                ex.process_liquidations()
                # what is left is flagged and bankrupt: no fair deleverager was available
                for account_id in ex.get_liquidatable_accounts():
                    view = ex.get_account(account_id)
                    assert view.is_liquidatable and view.equity < 0
        except ExchangeError:
            assert ex.compute_state_digest() == digest, f"rejected {kind} changed the state"
        assert ex.compute_total_collateral() == net_deposits
        for market in INDEX_E6:
            assert sum(a.balances.get(MarketId(market), 0) for a in ex.accounts.values()) == 0
            assert not ex.books[MarketId(market)].is_crossed()
        if kind in ("place", "cancel", "cancel_all", "deposit", "withdraw", "transfer"):
            assert set(ex.get_liquidatable_accounts()) <= unhealthy_before
    return ex, clock


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_conservation_book_and_rejections(ops: list[tuple]) -> None:
    _run(ops)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeded_operations)
def test_conservation_book_and_rejections_with_dense_trading(ops: list[tuple]) -> None:
    _run(ops)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeded_operations)
def test_replay_is_deterministic(ops: list[tuple]) -> None:
    ex, _ = _run(ops)
    again = replay(ex.events, minimal(), require_signatures=False)
    assert again.compute_state_digest() == ex.compute_state_digest()
    assert again.get_orderbook("BTC-USD") == ex.get_orderbook("BTC-USD")
