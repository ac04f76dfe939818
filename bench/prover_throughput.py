"""Prover throughput of the generic STARK on a wide AIR (the RPO permutation chain).

Proves RPO chains of 2^log_n rows x 12 columns at a preset (``default`` unless told), prints
per-stage times, proof size, verification time and conjectured security, and ends with one
JSON line: trace cells (rows x columns) proven per second, the median over ``--runs`` runs.

    python bench/prover_throughput.py [--log-n 16] [--runs 3] [--preset default] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from rpo_chain import RPO_CHAIN_AIR, WIDTH, build_rpo_chain_trace  # noqa: E402
from starkperp.stark.options import PRESETS  # noqa: E402
from starkperp.stark.prover import prove  # noqa: E402
from starkperp.stark.verifier import verify  # noqa: E402

TARGET_CELLS_PER_SECOND = 2_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log-n", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--quick", action="store_true", help="2^12 rows, one timed run")
    args = parser.parse_args()
    log_n = 12 if args.quick else args.log_n
    runs = 1 if args.quick else args.runs
    options = PRESETS[args.preset]
    n_rows = 1 << log_n
    cells = n_rows * WIDTH

    trace, public_inputs = build_rpo_chain_trace(n_rows)
    print(f"AIR rpo_chain: {n_rows} rows x {WIDTH} columns = {cells} cells, preset {args.preset}")
    print(
        f"options {options}; conjectured security {options.conjectured_security_bits(log_n)} bits"
    )
    prove(RPO_CHAIN_AIR, trace, public_inputs, options)  # warm up the compiled kernels
    durations = []
    proof = b""
    for run in range(runs):
        timings: dict[str, float] = {}
        start = time.perf_counter()
        proof = prove(RPO_CHAIN_AIR, trace, public_inputs, options, timings=timings)
        durations.append(time.perf_counter() - start)
        stages = ", ".join(f"{name} {seconds:.3f}" for name, seconds in timings.items())
        print(f"run {run}: {durations[-1]:.3f} s ({stages})")
    verify_times = []
    for _ in range(3):
        start = time.perf_counter()
        verify(RPO_CHAIN_AIR, public_inputs, proof, options)
        verify_times.append(time.perf_counter() - start)
    median = statistics.median(durations)
    throughput = cells / median
    print(
        f"prove median {median:.3f} s -> {throughput:,.0f} cells/s (target {TARGET_CELLS_PER_SECOND:,})"
    )
    print(
        f"proof size {len(proof):,} bytes; verify median {1000 * statistics.median(verify_times):.1f} ms"
    )
    print(
        json.dumps(
            {
                "name": f"prover_throughput_rpo_chain_2^{log_n}_{args.preset}",
                "value": round(throughput),
                "unit": "cells/s",
                "target": TARGET_CELLS_PER_SECOND,
                "higher_is_better": True,
            }
        )
    )


if __name__ == "__main__":
    main()
