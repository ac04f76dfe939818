"""The vectorized evaluator (prover) agrees with the scalar evaluator (verifier, checker)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.field.goldilocks import P
from starkperp.stark.air import Frame, evaluate_expr
from starkperp.stark.evaluator import Domain, evaluate_exprs, to_ext_vector
from starkperp.stark.expr import Expr
from tests.strategies.stark import exprs

SIZE = 16
STEP = 2


def _domain(seed: int) -> Domain:
    rng = np.random.default_rng(seed)
    return Domain(
        main=rng.integers(0, P, size=(3, SIZE), dtype=np.uint64),
        aux=rng.integers(0, P, size=(1, 2, SIZE), dtype=np.uint64),
        periodic=rng.integers(0, P, size=(1, SIZE), dtype=np.uint64),
        public_inputs=[int(v) for v in rng.integers(0, P, size=2, dtype=np.uint64)],
        challenges=[(int(rng.integers(0, 2**63)), int(rng.integers(0, 2**63)))],
        step=STEP,
    )


def _frame(domain: Domain, i: int) -> Frame:
    j = (i + STEP) % SIZE
    assert domain.aux is not None and domain.periodic is not None
    return Frame(
        main_current=[(int(v), 0) for v in domain.main[:, i]],
        main_next=[(int(v), 0) for v in domain.main[:, j]],
        aux_current=[(int(c[0, i]), int(c[1, i])) for c in domain.aux],
        aux_next=[(int(c[0, j]), int(c[1, j])) for c in domain.aux],
        periodic=[(int(v), 0) for v in domain.periodic[:, i]],
        public_inputs=domain.public_inputs,
        challenges=domain.challenges,
    )


@given(st.lists(exprs(), min_size=1, max_size=4), st.integers(0, 1000))
@settings(max_examples=60, deadline=None)
def test_vectorized_matches_scalar(expressions: list[Expr], seed: int) -> None:
    domain = _domain(seed)
    values = evaluate_exprs(expressions, domain)
    for expr, value in zip(expressions, values, strict=True):
        vector = to_ext_vector(value, SIZE)
        for i in range(SIZE):
            expected = evaluate_expr(expr, _frame(domain, i))
            assert (int(vector[0, i]), int(vector[1, i])) == expected


@given(
    st.sampled_from(["fibonacci", "rpo_chain", "permutation"]),
    st.integers(0, 31),
    st.integers(0, 11),
    st.integers(1, 5),
)
@settings(max_examples=30, deadline=None)
def test_vectorized_checker_matches_row_by_row(
    name: str, row: int, column: int, delta: int
) -> None:
    from fibonacci import FIBONACCI_AIR, build_fibonacci_trace
    from permutation import PERMUTATION_AIR, build_permutation_aux, build_permutation_trace
    from rpo_chain import RPO_CHAIN_AIR, build_rpo_chain_trace
    from starkperp.stark.air import find_first_violation
    from starkperp.stark.evaluator import find_first_violation_vectorized

    aux_trace = None
    challenges: list[tuple[int, int]] = []
    if name == "fibonacci":
        air = FIBONACCI_AIR
        trace, public_inputs = build_fibonacci_trace(32)
    elif name == "rpo_chain":
        air = RPO_CHAIN_AIR
        trace, public_inputs = build_rpo_chain_trace(32)
    else:
        air = PERMUTATION_AIR
        trace, public_inputs = build_permutation_trace(32), []
    column %= air.trace_width
    trace[column, row] = (int(trace[column, row]) + delta) % P
    if air.aux_width:
        challenges = [(987654321, 123456789)]
        aux_trace = build_permutation_aux(trace, tuple(challenges))
    expected = find_first_violation(
        air, trace, public_inputs, aux_trace=aux_trace, challenges=challenges
    )
    actual = find_first_violation_vectorized(
        air, trace, public_inputs, aux_trace=aux_trace, challenges=challenges
    )
    assert actual == expected
