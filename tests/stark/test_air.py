"""AIR definitions, the row-by-row debug checker and the scalar evaluator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fibonacci import FIBONACCI_AIR, build_fibonacci_trace
from permutation import PERMUTATION_AIR, build_permutation_aux, build_permutation_trace
from rpo_chain import RPO_CHAIN_AIR, build_rpo_chain_trace
from starkperp.field.goldilocks import P, get_root_of_unity, pow_
from starkperp.stark.air import (
    LAST_ROW,
    Air,
    BoundaryConstraint,
    PeriodicColumn,
    Segment,
    TransitionConstraint,
    air_to_json,
    compute_periodic_coefficients,
    evaluate_periodic_at,
    find_first_violation,
    get_composition_width,
    get_max_degree,
    validate_trace,
)
from starkperp.stark.errors import InvalidAirError, InvalidTraceError, StarkReason
from starkperp.stark.expr import aux, challenge, const, main, main_next, periodic, public
from tests.strategies.stark import felts


def _air(**overrides: object) -> Air:
    fields: dict[str, object] = {
        "name": "t",
        "trace_width": 2,
        "n_public_inputs": 1,
        "transitions": (TransitionConstraint(name="step", expr=main_next(0) - main(1)),),
        "boundaries": (BoundaryConstraint(name="start", column=0, value=public(0)),),
    }
    fields.update(overrides)
    return Air(**fields)  # type: ignore[arg-type]


def test_fibonacci_trace_is_valid() -> None:
    trace, public_inputs = build_fibonacci_trace(32)
    assert find_first_violation(FIBONACCI_AIR, trace, public_inputs) is None
    validate_trace(FIBONACCI_AIR, trace, public_inputs)


def test_degrees_and_composition_width() -> None:
    assert get_max_degree(FIBONACCI_AIR) == 1
    assert get_composition_width(FIBONACCI_AIR) == 1
    assert get_max_degree(RPO_CHAIN_AIR) == 8
    assert get_composition_width(RPO_CHAIN_AIR) == 7


def test_invalid_trace_transition_named_with_row() -> None:
    trace, public_inputs = build_fibonacci_trace(32)
    trace[1, 7] = (int(trace[1, 7]) + 1) % P
    violation = find_first_violation(FIBONACCI_AIR, trace, public_inputs)
    assert violation is not None
    assert (violation.constraint, violation.row) == ("b' = a + b", 6)
    with pytest.raises(InvalidTraceError) as info:
        validate_trace(FIBONACCI_AIR, trace, public_inputs)
    assert info.value.reason is StarkReason.CONSTRAINT_VIOLATED
    assert info.value.constraint == "b' = a + b" and info.value.row == 6


def test_invalid_trace_boundary_named() -> None:
    trace, public_inputs = build_fibonacci_trace(32)
    violation = find_first_violation(FIBONACCI_AIR, trace, [(public_inputs[0] + 1) % P])
    assert violation is not None and violation.constraint == "b ends at the result"
    assert violation.row == 31


def test_invalid_rpo_trace_names_round_constraint() -> None:
    trace, public_inputs = build_rpo_chain_trace(32)
    trace[5, 10] = (int(trace[5, 10]) + 1) % P
    violation = find_first_violation(RPO_CHAIN_AIR, trace, public_inputs)
    assert violation is not None
    assert violation.row == 9 and violation.constraint.startswith("state[")


def test_permutation_checker_with_aux() -> None:
    trace = build_permutation_trace(16)
    gamma = (12345, 678)
    aux_trace = build_permutation_aux(trace, (gamma,))
    assert (
        find_first_violation(PERMUTATION_AIR, trace, [], aux_trace=aux_trace, challenges=[gamma])
        is None
    )
    trace[1, 3] = (int(trace[1, 3]) + 1) % P  # no longer a permutation
    aux_trace = build_permutation_aux(trace, (gamma,))
    violation = find_first_violation(
        PERMUTATION_AIR, trace, [], aux_trace=aux_trace, challenges=[gamma]
    )
    assert violation is not None and violation.constraint == "z ends at 1"


def test_invalid_trace_shapes() -> None:
    trace, public_inputs = build_fibonacci_trace(32)
    with pytest.raises(InvalidTraceError):
        find_first_violation(FIBONACCI_AIR, trace[:, :24], public_inputs)
    with pytest.raises(InvalidTraceError):
        find_first_violation(FIBONACCI_AIR, trace.astype(np.int64), public_inputs)
    with pytest.raises(InvalidTraceError):
        find_first_violation(FIBONACCI_AIR, trace[:1], public_inputs)
    with pytest.raises(InvalidTraceError) as info:
        find_first_violation(FIBONACCI_AIR, trace, [])
    assert info.value.reason is StarkReason.INVALID_PUBLIC_INPUTS
    with pytest.raises(InvalidTraceError):
        find_first_violation(PERMUTATION_AIR, build_permutation_trace(16), [])


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": ""},
        {"trace_width": 0},
        {"transitions": (TransitionConstraint(name="x", expr=main(5)),)},
        {"transitions": (TransitionConstraint(name="x", expr=main(0) * periodic(0)),)},
        {"transitions": (TransitionConstraint(name="x", expr=main(0) + public(3)),)},
        {"transitions": (TransitionConstraint(name="x", expr=main(0) * challenge(0)),)},
        {"transitions": (TransitionConstraint(name="x", expr=aux(0)),)},
        {"transitions": (TransitionConstraint(name="x", expr=const(3) + public(0)),)},
        {"transitions": (), "boundaries": ()},
        {"boundaries": (BoundaryConstraint(name="step", column=0, value=const(1)),)},
        {"boundaries": (BoundaryConstraint(name="b", column=0, value=main(0)),)},
        {"boundaries": (BoundaryConstraint(name="b", column=2, value=const(0)),)},
        {
            "boundaries": (
                BoundaryConstraint(name="b", column=0, value=const(0), segment=Segment.AUX),
            )
        },
        {"periodic_columns": (PeriodicColumn(name="p", values=(1, 2, 3)),)},
        {"periodic_columns": (PeriodicColumn(name="p", values=(1, P)),)},
        {"aux_width": 1},
        {"n_aux_challenges": 1},
    ],
)
def test_invalid_air(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidAirError) as info:
        _air(**overrides)
    assert info.value.reason is StarkReason.INVALID_AIR


@given(st.lists(felts, min_size=1, max_size=16).filter(lambda v: len(v) & (len(v) - 1) == 0))
@settings(max_examples=25, deadline=None)
def test_periodic_polynomial_matches_values(values: list[int]) -> None:
    column = PeriodicColumn(name="p", values=tuple(values))
    coefficients = compute_periodic_coefficients(column)
    n = 32
    g = get_root_of_unity(5)
    for row in range(n):
        expected = (values[row % len(values)], 0)
        assert evaluate_periodic_at(coefficients, (pow_(g, row), 0), n) == expected


def test_air_to_json_is_complete() -> None:
    data = air_to_json(RPO_CHAIN_AIR)
    assert data["trace_width"] == 12 and len(data["transitions"]) == 12  # type: ignore[arg-type]
    assert len(data["periodic_columns"]) == 25  # type: ignore[arg-type]
    assert data["boundaries"][-1]["row"] == LAST_ROW  # type: ignore[index]
