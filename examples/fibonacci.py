"""Prove and verify the n-th Fibonacci number over Goldilocks with starkperp's STARK.

The trace has two columns (a, b) starting at (1, 1); each row steps (a, b) -> (b, a + b).
The public input is b at the last row. Run ``python examples/fibonacci.py [log_n] [preset]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from starkperp.field.goldilocks import P
from starkperp.stark.air import LAST_ROW, Air, BoundaryConstraint, TransitionConstraint
from starkperp.stark.expr import const, main, main_next, public
from starkperp.stark.options import PRESETS, ProofOptions
from starkperp.stark.prover import prove
from starkperp.stark.verifier import verify

__all__ = ["FIBONACCI_AIR", "build_fibonacci_trace", "run"]

FIBONACCI_AIR = Air(
    name="fibonacci",
    trace_width=2,
    n_public_inputs=1,
    transitions=(
        TransitionConstraint(name="a' = b", expr=main_next(0) - main(1)),
        TransitionConstraint(name="b' = a + b", expr=main_next(1) - (main(0) + main(1))),
    ),
    boundaries=(
        BoundaryConstraint(name="a starts at 1", column=0, row=0, value=const(1)),
        BoundaryConstraint(name="b starts at 1", column=1, row=0, value=const(1)),
        BoundaryConstraint(name="b ends at the result", column=1, row=LAST_ROW, value=public(0)),
    ),
)


def build_fibonacci_trace(n_rows: int) -> tuple[np.ndarray, list[int]]:
    """Return the (2, n_rows) trace and the public input [b at the last row]."""
    trace = np.zeros((2, n_rows), dtype=np.uint64)
    a, b = 1, 1
    for row in range(n_rows):
        trace[0, row] = a
        trace[1, row] = b
        a, b = b, (a + b) % P
    return trace, [int(trace[1, -1])]


def run(log_n: int = 10, options: ProofOptions | None = None) -> bytes:
    """Prove and verify a trace of 2^log_n rows; return the proof bytes."""
    options = options or PRESETS["minimal"]
    trace, public_inputs = build_fibonacci_trace(1 << log_n)
    start = time.perf_counter()
    proof = prove(FIBONACCI_AIR, trace, public_inputs, options)
    proved = time.perf_counter()
    verify(FIBONACCI_AIR, public_inputs, proof, options)
    verified = time.perf_counter()
    print(
        f"fibonacci 2^{log_n} rows: proof {len(proof)} bytes, prove {proved - start:.3f} s, "
        f"verify {1000 * (verified - proved):.1f} ms, result {public_inputs[0]}"
    )
    return proof


if __name__ == "__main__":
    log_n_arg = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    preset = sys.argv[2] if len(sys.argv) > 2 else "minimal"
    run(log_n_arg, PRESETS[preset])
