"""Benchmark: prove batches of trades with the batch AIR (issue 3's batch-proof figures).

A realistic mix: a few market makers quote, many takers trade against them, so most trades
touch a maker position and the fee position. Prints trades proven per second (batch
execution + witness + trace + proof), proof size, Python verification time and peak memory,
beside their targets; the last line is one JSON object.

    python bench/batch_proof.py [--trades N] [--preset default|minimal] [--runs R] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starkperp.rollup.air import build_batch_witness_trace, get_batch_air  # noqa: E402
from starkperp.rollup.air.prover import verify_batch  # noqa: E402
from starkperp.rollup.batch import execute_batch  # noqa: E402
from starkperp.rollup.config import get_preset  # noqa: E402
from starkperp.rollup.quantities import Collateral, PositionId, PublicKey  # noqa: E402
from starkperp.rollup.state import RollupState  # noqa: E402
from starkperp.rollup.transactions import Deposit, LimitOrder, Trade  # noqa: E402
from starkperp.stark.options import PRESETS  # noqa: E402
from starkperp.stark.prover import prove  # noqa: E402

BTC_PRICE = 30_000 * 10**6 * 2**32 // 10**10


def compute_trade_mix(asset: int, trades: int, n_makers: int) -> list[Trade]:
    """Return the realistic mix: each trade puts a fresh taker against one of a few makers."""
    txs: list[Trade] = []
    for t in range(trades):
        maker, taker = 10 + t % n_makers, 10 + n_makers + t
        size = 10**7 * (1 + t % 5)
        coll = size * 30_000 * 10**6 // 10**10
        fee = coll // 500

        def order(pid: int, buy: bool, nonce: int, size=size, coll=coll, fee=fee) -> LimitOrder:
            return LimitOrder(
                position_id=PositionId(pid), public_key=PublicKey(1000 + pid - 10),
                asset_id_synthetic=asset, amount_synthetic=size, amount_collateral=coll,
                amount_fee=fee, is_buying_synthetic=buy, nonce=nonce, expiration_hours=10**6,
            )  # fmt: skip

        txs.append(
            Trade(
                party_a_order=order(taker, t % 2 == 0, t),
                party_b_order=order(maker, t % 2 == 1, 10**6 + t),
                actual_a_fee=fee,
                actual_b_fee=fee // 4,
                actual_collateral=coll,
                actual_synthetic=size,
            )  # fmt: skip
        )
    return txs


def build_batch(trades: int, config_name: str, depth: int | None, orders_depth: int | None = None):
    """Return (previous state, executed batch) for ``trades`` taker-vs-maker trades."""
    from dataclasses import replace

    config = get_preset(config_name, verify_signatures=False)
    if depth is not None:
        config = replace(config, positions_depth=depth)
    if orders_depth is not None:
        config = replace(config, orders_depth=orders_depth)
    prices = [BTC_PRICE] + [2**32] * (config.n_assets - 1)
    state = RollupState.genesis(config, prices=prices)
    n_makers, n_takers = 3, max(1, trades)
    deposits = [
        Deposit(
            position_id=PositionId(10 + i),
            public_key=PublicKey(1000 + i),
            amount=Collateral(10**12),
        )
        for i in range(n_makers + n_takers)
    ]
    state = execute_batch(state, deposits, 0).state
    asset = config.asset_ids[0]
    txs = compute_trade_mix(asset, trades, n_makers)
    return state, execute_batch(state, txs, 1)


def run_once(
    trades: int,
    config_name: str,
    depth: int | None,
    options_name: str,
    squash: bool = False,
    orders_depth: int | None = None,
) -> dict:
    options = PRESETS[options_name]
    t0 = time.perf_counter()
    _, result = build_batch(trades, config_name, depth, orders_depth)
    t1 = time.perf_counter()
    bt = build_batch_witness_trace(result, squash=squash)
    t2 = time.perf_counter()
    proof = prove(bt.air, bt.trace, bt.public_inputs, options)
    t3 = time.perf_counter()
    verify_batch(result.state.config, result.public_input, proof, options)
    t4 = time.perf_counter()
    return {
        "execute_s": t1 - t0,
        "trace_s": t2 - t1,
        "prove_s": t3 - t2,
        "verify_ms": 1000 * (t4 - t3),
        "proof_bytes": len(proof),
        "rows": bt.trace.shape[1],
        "width": bt.trace.shape[0],
        "steps": bt.n_steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=16)
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--config", default="default", choices=["default", "minimal"])
    parser.add_argument("--depth", type=int, default=None, help="positions tree depth")
    parser.add_argument("--orders-depth", type=int, default=None, help="orders tree depth")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--mode",
        default="both",
        choices=["per-update", "squashed", "both"],
        help="one Merkle update per touched position per tx, or per distinct position",
    )
    parser.add_argument("--quick", action="store_true", help="4 trades, minimal config, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.trades, args.config, args.preset, args.runs = 4, "minimal", "minimal", 1
    # Warm the compiled kernels (numba; the constraint kernels are compiled per AIR, so warm
    # with the measured configuration) so the figures measure steady-state work.
    run_once(1, args.config, args.depth, "minimal", orders_depth=args.orders_depth)
    modes = {"per-update": [False], "squashed": [True], "both": [False, True]}[args.mode]
    config = build_batch(1, args.config, args.depth, args.orders_depth)[1].state.config
    width = get_batch_air(config).trace_width
    rate = 0.0
    for squash in modes:
        runs = [
            run_once(args.trades, args.config, args.depth, args.preset, squash, args.orders_depth)
            for _ in range(args.runs)
        ]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rate = args.trades / (med["trace_s"] + med["prove_s"])
        log_rows = int(med["rows"]).bit_length() - 1
        security = PRESETS[args.preset].conjectured_security_bits(log_rows)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        mode = "squashed (one update per distinct position)" if squash else "per update"
        print(f"config {args.config} (depths {config.positions_depth}/{config.orders_depth}), "
              f"proof preset {args.preset} "
              f"({security} bits conjectured), {args.trades} trades, {mode}, "
              f"median of {args.runs} run(s)")  # fmt: skip
        print(f"  steps {med['steps']:.0f}, trace {med['rows']:.0f} rows x {width} columns")
        print(f"  execute {med['execute_s']:.2f} s, witness+trace {med['trace_s']:.2f} s, "
              f"prove {med['prove_s']:.2f} s")  # fmt: skip
        print(f"  trades proven per second: {rate:.2f} (target >= 100)")
        print(f"  proof size: {med['proof_bytes'] / 1024:.1f} KiB")
        print(f"  Python verification: {med['verify_ms']:.1f} ms (target <= 100 ms)")
        print(f"  peak memory so far (max RSS): {peak_mb:.0f} MiB")
    print(json.dumps({
        "name": "batch_proof_trades_per_second", "value": round(rate, 3), "unit": "trades/s",
        "target": 100, "higher_is_better": True,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
