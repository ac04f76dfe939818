"""Benchmark the Goldilocks NTT, the blowup-8 LDE and field multiplication.

Checks the compiled NTT against the readable reference on a small size first, then times
the 2^20-point NTT and LDE (median of 5 runs; ``--quick``: 2^16, 3 runs). The last line is
the JSON record for the 2^20 NTT in milliseconds (target 100 ms, lower is better).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from starkperp.field.goldilocks import P, vmul
from starkperp.field.ntt import intt, lde, ntt, ntt_reference

TARGET_MS = 100.0
BLOWUP = 8


def _time(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2^16 points, 3 runs")
    args = parser.parse_args()
    log_n = 16 if args.quick else 20
    runs = 3 if args.quick else 5
    rng = np.random.default_rng(2024)

    small = rng.integers(0, P, size=1 << 10, dtype=np.uint64)
    agree = [int(x) for x in ntt(small).tolist()] == ntt_reference([int(x) for x in small])
    agree = agree and bool((intt(ntt(small)) == small).all())
    print(f"reference vs fast NTT on 2^10 points: {'agree' if agree else 'DISAGREE'}")
    if not agree:
        raise SystemExit(1)

    a = rng.integers(0, P, size=1 << log_n, dtype=np.uint64)
    b = rng.integers(0, P, size=1 << log_n, dtype=np.uint64)
    ntt(a[:16])
    lde(a[:16], BLOWUP)
    vmul(a[:16], b[:16])

    ntt_ms, ntt_cpu = _time(lambda: ntt(a), runs)
    lde_ms, lde_cpu = _time(lambda: lde(a, BLOWUP), runs)
    mul_ms, _ = _time(lambda: vmul(a, b), runs)
    mul_rate = (1 << log_n) / (mul_ms / 1e3)

    print(f"NTT 2^{log_n}: {ntt_ms:.1f} ms median wall ({ntt_cpu:.1f} ms CPU), target {TARGET_MS}")
    print(f"LDE 2^{log_n} x{BLOWUP}: {lde_ms:.1f} ms median wall ({lde_cpu:.1f} ms CPU)")
    print(f"field multiplications: {mul_rate / 1e6:.0f} M/s (vmul, one core)")
    record = {
        "name": f"ntt_2^{log_n}",
        "value": round(ntt_ms, 2),
        "unit": "ms",
        "target": TARGET_MS,
        "higher_is_better": False,
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
