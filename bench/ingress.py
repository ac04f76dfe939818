"""Benchmark: signed-order ingress on both cores, against the signature library's bound.

Orders in the exchange's model (BTC-USD, ETH-USD, SOL-USD, from 32 traders) are signed as
dYdX v3 clients sign them before the clock starts. Timed: batches of orders go to a pool of
two worker processes in the node's own format (``starkperp.node.sequencer``:
``pack_signature_jobs`` flattens each order to a tuple and sends each market config once per
batch; ``verify_packed_order_signatures`` rebuilds the orders and, for each, the dYdX v3 hash
and its STARK signature check, ``starkperp.exchange.signing.verify_order``); the parent hands
each accepted order, in arrival order, to a sink callable (here: appending to a list,
standing in for the sequencer). One order in 64 carries a corrupted signature and must be
refused.

In the same run, the raw rate of ``fast_stark_crypto.verify`` on one core is measured; the
bound is that rate times two cores and the target is 80 % of it. Several rounds alternate
bound and ingress measurements, and medians are reported, so that background load on the
shared machine hits both alike.

Run: ``python bench/ingress.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import random
import statistics
import time
from collections.abc import Callable, Sequence

import fast_stark_crypto

from starkperp.crypto.stark_curve import StarkPrivateKey, private_to_public
from starkperp.exchange.markets import (
    MarketConfig,
    get_default_markets,
    price_from_human,
)
from starkperp.exchange.model import AccountId, FeeRate, Order, OrderSignature, Side, Timestamp
from starkperp.exchange.signing import compute_exchange_order_hash, sign_exchange_order
from starkperp.node.sequencer import (
    PackedJobs,
    pack_signature_jobs,
    verify_packed_order_signatures,
)

N_WORKERS = 2
BAD_EVERY = 64
MARKET_PRICES = {"BTC-USD": 50_000, "ETH-USD": 3_000, "SOL-USD": 100}

NETWORK_ID = 1


def _verify_batch(packed: PackedJobs) -> bytes:
    """Worker task: the node's packed signature check (one byte per order, 1 = valid)."""
    return verify_packed_order_signatures(packed)


def _pack(orders: Sequence[Order], markets: dict[str, MarketConfig]) -> PackedJobs:
    return pack_signature_jobs(
        [(o, markets[o.market], o.public_key or 0, NETWORK_ID) for o in orders]
    )


def build_signed_orders(n_orders: int, seed: int) -> list[Order]:
    """Return ``n_orders`` signed orders (every ``BAD_EVERY``-th with a corrupted signature)."""
    rng = random.Random(seed)
    markets = get_default_markets()
    traders = [StarkPrivateKey(rng.randrange(1, 2**250)) for _ in range(32)]
    public = [private_to_public(key) for key in traders]
    orders = []
    for i in range(n_orders):
        trader = rng.randrange(len(traders))
        market = markets[rng.choice(sorted(MARKET_PRICES))]  # type: ignore[index]
        base = MARKET_PRICES[market.market]
        side = rng.choice((Side.BUY, Side.SELL))
        ticks_off = rng.randint(-500, 500)
        human_price = base * 10**6 + ticks_off * market.tick_size
        order = Order(
            account_id=AccountId(1_000 + trader),
            market=market.market,
            side=side,
            size=market.step_size * rng.randint(1, 500),
            price=price_from_human(market, f"{human_price / 10**6:.6f}"),
            client_id=f"bench-{seed}-{i}",
            expiration=Timestamp(1_700_000_000 + rng.randint(0, 10**6)),
            limit_fee=FeeRate(rng.choice((500, 2_000))),
            public_key=public[trader],
        )
        signature = sign_exchange_order(order, market, traders[trader])
        if i % BAD_EVERY == BAD_EVERY - 1:
            signature = OrderSignature(r=signature.r, s=signature.s ^ 2)
        orders.append(dataclasses.replace(order, signature=signature))
    return orders


def measure_raw_verify_rate(samples: Sequence[tuple[int, int, int, int]], seconds: float) -> float:
    """Return fast_stark_crypto.verify calls per second on this core (valid signatures)."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for public_key, msg_hash, r, s in samples:
            if not fast_stark_crypto.verify(public_key, msg_hash, r, s):
                raise AssertionError("a valid sample failed to verify")
        done += len(samples)
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def _raw_verify_task(job: tuple[Sequence[tuple[int, int, int, int]], float]) -> float:
    samples, seconds = job
    return measure_raw_verify_rate(samples, seconds)


def run_ingress(
    pool: multiprocessing.pool.Pool,
    orders: Sequence[Order],
    batch_size: int,
    sink: Callable[[Order], None],
) -> tuple[float, int]:
    """Push ``orders`` through the pool; return (seconds, number accepted)."""
    batches = [orders[i : i + batch_size] for i in range(0, len(orders), batch_size)]
    markets = get_default_markets()
    accepted = 0
    start = time.perf_counter()
    packed = (_pack(batch, markets) for batch in batches)  # type: ignore[arg-type]
    for batch, verdicts in zip(batches, pool.imap(_verify_batch, packed)):
        for order, ok in zip(batch, verdicts):
            if ok:
                sink(order)
                accepted += 1
    return time.perf_counter() - start, accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    n_orders = args.orders or (512 if args.quick else 4_096)
    rounds = args.rounds or (2 if args.quick else 5)
    raw_seconds = 0.5 if args.quick else 2.0

    t0 = time.perf_counter()
    orders = build_signed_orders(n_orders, seed=7)
    print(f"signed {n_orders} orders in {time.perf_counter() - t0:.1f} s (untimed setup)")
    markets = get_default_markets()
    expected_bad = sum(1 for i in range(n_orders) if i % BAD_EVERY == BAD_EVERY - 1)
    samples = []
    for order in orders[: BAD_EVERY - 1]:
        assert order.signature is not None and order.public_key is not None
        msg_hash = compute_exchange_order_hash(order, markets[order.market])
        samples.append((order.public_key, msg_hash, order.signature.r, order.signature.s))

    ctx = multiprocessing.get_context("fork")
    raw_rates: list[float] = []
    ingress_rates: list[float] = []
    parallel_rates: list[float] = []
    ratios: list[float] = []
    with ctx.Pool(N_WORKERS) as pool:
        pool.map(_verify_batch, [_pack(orders[:4], markets)] * N_WORKERS)  # type: ignore[arg-type]
        for round_no in range(rounds):
            # The raw rate is measured just before and just after the ingress run and
            # averaged, so drifting background load hits the bound and the figure alike.
            raw_before = measure_raw_verify_rate(samples, raw_seconds / 2)
            parallel = sum(pool.map(_raw_verify_task, [(samples, raw_seconds)] * N_WORKERS))
            parallel_rates.append(parallel)
            sunk: list[Order] = []
            seconds, accepted = run_ingress(pool, orders, args.batch, sunk.append)
            if accepted != n_orders - expected_bad or len(sunk) != accepted:
                raise AssertionError(f"accepted {accepted}, expected {n_orders - expected_bad}")
            raw = (raw_before + measure_raw_verify_rate(samples, raw_seconds / 2)) / 2
            rate = n_orders / seconds
            raw_rates.append(raw)
            ingress_rates.append(rate)
            ratios.append(rate / (raw * N_WORKERS))
            print(
                f"round {round_no + 1}: raw verify {raw:,.0f}/s on one core "
                f"(bound {raw * N_WORKERS:,.0f}/s; raw on both workers at once "
                f"{parallel:,.0f}/s), ingress {rate:,.0f} signed orders/s = "
                f"{100 * ratios[-1]:.0f} % of the bound "
                f"({accepted} accepted, {n_orders - accepted} refused)"
            )

    raw_median = statistics.median(raw_rates)
    ingress_median = statistics.median(ingress_rates)
    bound = raw_median * N_WORKERS
    target = 0.8 * bound
    print(f"raw fast_stark_crypto.verify (median, one core): {raw_median:,.0f}/s")
    print(f"bound = {N_WORKERS} cores x raw = {bound:,.0f}/s; target (80 %) = {target:,.0f}/s")
    print(
        f"signed order ingress (median of {rounds}): {ingress_median:,.0f} orders/s = "
        f"{100 * ingress_median / bound:.1f} % of the bound"
    )
    print(f"per-round ingress / bound (median): {100 * statistics.median(ratios):.1f} %")
    parallel_median = statistics.median(parallel_rates)
    print(
        f"raw verify observed on the {N_WORKERS} pool workers at once (median): "
        f"{parallel_median:,.0f}/s; ingress = {100 * ingress_median / parallel_median:.1f} % "
        "of it (the gap to the 2-core bound is the machine's other load)"
    )
    print(
        json.dumps(
            {
                "name": "ingress",
                "value": round(ingress_median, 1),
                "unit": "signed orders/s",
                "target": round(target, 1),
                "higher_is_better": True,
            }
        )
    )


if __name__ == "__main__":
    main()
