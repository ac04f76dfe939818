"""Benchmark: peak memory of the exchange holding 1,000,000 resting orders.

The orders go through the real ``Exchange.place_order`` (validation, margin check, book,
per-account indexes, client-id index, expiry index; no event log kept), spread over 1,000
accounts and 4,000 price levels of one market. The figure is the growth of the process's
peak resident set size (``ru_maxrss``) from just before the first order to just after the
last, in MiB.

Target: 1,024 MiB, i.e. about 1 KiB per resting order including every index the engine
keeps for it: a commodity 8 GiB server then holds several million resting orders, far
more than a perpetual venue rests per market.

Run: ``python bench/book_memory.py`` (``--quick`` places 100,000 orders and scales up).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time

from starkperp.exchange import Exchange, MarketId, Order, Side, Timestamp
from starkperp.exchange.config import ExchangeConfig
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.markets import DEFAULT_MARKETS, compute_price_from_e6

TARGET_MIB = 1024
MARKET = MarketId("BTC-USD")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(n_orders: int) -> tuple[float, int, float]:
    """Place ``n_orders`` resting orders; return (MiB grown, resting count, seconds)."""
    config = ExchangeConfig(markets=DEFAULT_MARKETS[:1], book_delta_history=1_000)
    btc = config.markets[0]
    clock = ManualClock(1_700_000_000)
    exchange = Exchange(config, clock=clock, require_signatures=False, record_events=False)
    exchange.set_oracle_price(MARKET, compute_price_from_e6(btc, 50_000 * 10**6))
    accounts = [exchange.create_account() for _ in range(1_000)]
    for account in accounts:
        exchange.deposit(account, 10**15)
    prices = {}
    for level in range(1, 2_001):
        prices[level] = compute_price_from_e6(btc, (50_000 - level) * btc.tick_size)
        prices[-level] = compute_price_from_e6(btc, (50_000 + level) * btc.tick_size)
    expiration = Timestamp(clock.now + 30 * 86_400)
    gc.collect()
    before = _rss_mib()
    start = time.perf_counter()
    place = exchange.place_order
    for i in range(n_orders):
        level = 1 + (i * 7919) % 2_000
        side = Side.BUY if i % 2 else Side.SELL
        place(
            Order(
                account_id=accounts[i % 1_000],
                market=MARKET,
                side=side,
                size=btc.min_order_size * (1 + i % 5),
                price=prices[level if side is Side.BUY else -level],
                client_id=f"{i:x}",
                expiration=expiration,
            )
        )
    elapsed = time.perf_counter() - start
    gc.collect()
    grown = _rss_mib() - before
    return grown, exchange.books[MARKET].count_orders(), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 orders, scaled to 1M")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    grown, resting, elapsed = measure(n)
    per_order = grown * 1024 * 1024 / resting
    estimate = grown * (1_000_000 / resting)
    print(f"{resting:,} resting orders placed in {elapsed:.1f} s")
    print(f"peak RSS grew {grown:,.0f} MiB: {per_order:,.0f} bytes per resting order")
    if args.quick:
        print(f"scaled to 1,000,000 orders: {estimate:,.0f} MiB (target {TARGET_MIB} MiB)")
    else:
        print(f"1,000,000 resting orders: {estimate:,.0f} MiB (target {TARGET_MIB} MiB)")
    print(
        json.dumps(
            {
                "name": "book_memory_1m_resting_orders",
                "value": round(estimate),
                "unit": "MiB",
                "target": TARGET_MIB,
                "higher_is_better": False,
            }
        )
    )


if __name__ == "__main__":
    main()
