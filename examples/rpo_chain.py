"""Prove a chain of RPO permutations: ``out = RPO^k(input)``, one round per row.

Each permutation takes 8 rows of a 12-column trace: rows 0..6 of the cycle hold the state
before rounds 0..6, row 7 holds the permutation's output, which is copied unchanged into the
first row of the next permutation. A round ``MDS, +ARK1, x^7, MDS, +ARK2, x^(1/7)`` is checked
without the inverse S-box by raising the next state to the 7th power::

    next^7 = MDS((MDS(cur) + ARK1)^7) + ARK2

Periodic columns carry the round constants and the "is a round" selector (cycle 8). The first
row is bound to the 12 public input elements and the last row to the 12 public output
elements. Run ``python examples/rpo_chain.py [log_n] [preset]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from starkperp.crypto import rpo
from starkperp.stark.air import (
    LAST_ROW,
    Air,
    BoundaryConstraint,
    PeriodicColumn,
    TransitionConstraint,
)
from starkperp.stark.expr import Expr, main, main_next, periodic, public
from starkperp.stark.options import PRESETS, ProofOptions
from starkperp.stark.prover import prove
from starkperp.stark.verifier import verify

__all__ = ["CYCLE", "RPO_CHAIN_AIR", "WIDTH", "build_rpo_chain_trace", "run"]

WIDTH = rpo.STATE_WIDTH
CYCLE = 8


def _build_air() -> Air:
    is_round = periodic(0)
    ark1 = [periodic(1 + i) for i in range(WIDTH)]
    ark2 = [periodic(1 + WIDTH + i) for i in range(WIDTH)]
    current = [main(i) for i in range(WIDTH)]

    def mds(state: list[Expr]) -> list[Expr]:
        rows = []
        for row in rpo.MDS:
            acc: Expr = state[0] * row[0]
            for coefficient, value in zip(row[1:], state[1:], strict=True):
                acc = acc + value * coefficient
            rows.append(acc)
        return rows

    middle = [(x + c) ** 7 for x, c in zip(mds(current), ark1, strict=True)]
    after = [x + c for x, c in zip(mds(middle), ark2, strict=True)]
    transitions = tuple(
        TransitionConstraint(
            name=f"state[{i}]",
            expr=is_round * (main_next(i) ** 7 - after[i])
            + (1 - is_round) * (main_next(i) - current[i]),
        )
        for i in range(WIDTH)
    )
    boundaries = tuple(
        BoundaryConstraint(name=f"input[{i}]", column=i, row=0, value=public(i))
        for i in range(WIDTH)
    ) + tuple(
        BoundaryConstraint(name=f"output[{i}]", column=i, row=LAST_ROW, value=public(WIDTH + i))
        for i in range(WIDTH)
    )
    selector = PeriodicColumn(name="is_round", values=(1,) * rpo.NUM_ROUNDS + (0,))
    constants = [
        PeriodicColumn(
            name=f"{name}[{i}]",
            values=tuple(table[r][i] for r in range(rpo.NUM_ROUNDS)) + (0,),
        )
        for name, table in (("ark1", rpo.ARK1), ("ark2", rpo.ARK2))
        for i in range(WIDTH)
    ]
    return Air(
        name="rpo_chain",
        trace_width=WIDTH,
        n_public_inputs=2 * WIDTH,
        transitions=transitions,
        boundaries=boundaries,
        periodic_columns=(selector, *constants),
    )


RPO_CHAIN_AIR = _build_air()


def build_rpo_chain_trace(
    n_rows: int, seed: list[int] | None = None
) -> tuple[np.ndarray, list[int]]:
    """Return the (12, n_rows) trace of n_rows / 8 chained permutations and the public inputs."""
    state = list(seed) if seed is not None else list(range(1, WIDTH + 1))
    first = list(state)
    trace = np.zeros((WIDTH, n_rows), dtype=np.uint64)
    for start in range(0, n_rows, CYCLE):
        for r in range(rpo.NUM_ROUNDS):
            trace[:, start + r] = state
            state = rpo.apply_round(state, r)
        trace[:, start + CYCLE - 1] = state
    return trace, first + state


def run(log_n: int = 10, options: ProofOptions | None = None) -> bytes:
    """Prove and verify a chain filling 2^log_n rows; return the proof bytes."""
    options = options or PRESETS["minimal"]
    trace, public_inputs = build_rpo_chain_trace(1 << log_n)
    assert public_inputs[WIDTH:] == _chain(public_inputs[:WIDTH], (1 << log_n) // CYCLE)
    start = time.perf_counter()
    proof = prove(RPO_CHAIN_AIR, trace, public_inputs, options)
    proved = time.perf_counter()
    verify(RPO_CHAIN_AIR, public_inputs, proof, options)
    verified = time.perf_counter()
    print(
        f"rpo chain of {(1 << log_n) // CYCLE} permutations ({1 << log_n} rows x {WIDTH}): "
        f"proof {len(proof)} bytes, prove {proved - start:.3f} s, "
        f"verify {1000 * (verified - proved):.1f} ms"
    )
    return proof


def _chain(state: list[int], count: int) -> list[int]:
    for _ in range(count):
        state = rpo.permute(state)
    return state


if __name__ == "__main__":
    log_n_arg = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    preset = sys.argv[2] if len(sys.argv) > 2 else "minimal"
    run(log_n_arg, PRESETS[preset])
