"""Prove that column b is a permutation of column a with a running-product argument.

This is the pattern of every memory or permutation argument: after the main trace (a, b) is
committed the verifier's challenge ``gamma`` is drawn, and an auxiliary extension-field column
``z`` accumulates ``z' = z * (gamma - a) / (gamma - b)`` from ``z = 1`` on the first row. The
constraint is written without division::

    z' * (gamma - b) - z * (gamma - a) = 0

and ``z = 1`` on the last row shows the product over rows 0..n-2 is 1, so the two multisets
agree (with probability 1 - n / |F_p^2|). The last row of both columns is padding fixed to 0.
Run ``python examples/permutation.py [log_n] [preset]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from starkperp.field import ext2
from starkperp.field.goldilocks import P
from starkperp.stark.air import LAST_ROW, Air, BoundaryConstraint, Segment, TransitionConstraint
from starkperp.stark.expr import aux, aux_next, challenge, const, main
from starkperp.stark.options import PRESETS, ProofOptions
from starkperp.stark.prover import prove
from starkperp.stark.verifier import verify

__all__ = ["PERMUTATION_AIR", "build_permutation_aux", "build_permutation_trace", "run"]


def build_permutation_aux(
    main_trace: np.ndarray, challenges: tuple[tuple[int, int], ...]
) -> np.ndarray:
    """Return the running product ``z`` as a ``(1, n, 2)`` auxiliary segment."""
    (gamma,) = challenges
    n = main_trace.shape[1]
    out = np.zeros((1, n, 2), dtype=np.uint64)
    z: tuple[int, int] = (1, 0)
    for row in range(n):
        out[0, row] = z
        numerator = ext2.esub(gamma, (int(main_trace[0, row]), 0))
        denominator = ext2.esub(gamma, (int(main_trace[1, row]), 0))
        z = ext2.emul(z, ext2.ediv(numerator, denominator))
    return out


gamma = challenge(0)
PERMUTATION_AIR = Air(
    name="permutation",
    trace_width=2,
    aux_width=1,
    n_aux_challenges=1,
    aux_builder=build_permutation_aux,
    transitions=(
        TransitionConstraint(
            name="running product",
            expr=aux_next(0) * (gamma - main(1)) - aux(0) * (gamma - main(0)),
        ),
    ),
    boundaries=(
        BoundaryConstraint(name="a padding", column=0, row=LAST_ROW, value=const(0)),
        BoundaryConstraint(name="b padding", column=1, row=LAST_ROW, value=const(0)),
        BoundaryConstraint(name="z starts at 1", column=0, value=const(1), segment=Segment.AUX),
        BoundaryConstraint(
            name="z ends at 1", column=0, row=LAST_ROW, value=const(1), segment=Segment.AUX
        ),
    ),
)


def build_permutation_trace(n_rows: int, seed: int = 1) -> np.ndarray:
    """Return a (2, n_rows) trace whose column b is a shuffle of column a (last row 0)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, P, size=n_rows - 1, dtype=np.uint64)
    trace = np.zeros((2, n_rows), dtype=np.uint64)
    trace[0, :-1] = values
    trace[1, :-1] = rng.permutation(values)
    return trace


def run(log_n: int = 10, options: ProofOptions | None = None) -> bytes:
    """Prove and verify a shuffle of 2^log_n - 1 values; return the proof bytes."""
    options = options or PRESETS["minimal"]
    trace = build_permutation_trace(1 << log_n)
    start = time.perf_counter()
    proof = prove(PERMUTATION_AIR, trace, [], options)
    proved = time.perf_counter()
    verify(PERMUTATION_AIR, [], proof, options)
    verified = time.perf_counter()
    print(
        f"permutation of {(1 << log_n) - 1} values: proof {len(proof)} bytes, "
        f"prove {proved - start:.3f} s, verify {1000 * (verified - proved):.1f} ms"
    )
    return proof


if __name__ == "__main__":
    log_n_arg = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    preset = sys.argv[2] if len(sys.argv) > 2 else "minimal"
    run(log_n_arg, PRESETS[preset])
