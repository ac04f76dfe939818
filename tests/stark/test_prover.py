"""End-to-end proofs: valid statements verify, proofs are deterministic and versioned,
false statements are refused by the prover and, when forced, rejected by the verifier."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from fibonacci import FIBONACCI_AIR, build_fibonacci_trace
from permutation import PERMUTATION_AIR, build_permutation_trace
from rpo_chain import RPO_CHAIN_AIR, build_rpo_chain_trace
from starkperp.crypto import rpo
from starkperp.field.goldilocks import P
from starkperp.stark.air import find_first_violation
from starkperp.stark.errors import (
    InvalidTraceError,
    ProvingError,
    StarkReason,
    VerificationError,
)
from starkperp.stark.options import DEFAULT, MINIMAL, ProofOptions
from starkperp.stark.prover import _prove, prove
from starkperp.stark.verifier import verify
from tests.stark.proofs import CASE_NAMES, assert_tampered_twins_rejected, get_case

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "stark"
FIXTURE = VECTORS / "fibonacci_minimal_v1.bin"
FIXTURE_META = VECTORS / "fibonacci_minimal_v1.json"


@pytest.mark.parametrize("name", CASE_NAMES)
def test_valid_proof_verifies(name: str) -> None:
    case = get_case(name)
    verify(case.air, case.public_inputs, case.proof, case.options)


def test_rpo_chain_binds_the_real_permutation() -> None:
    case = get_case("rpo_chain")
    state = case.public_inputs[:12]
    for _ in range(case.trace.shape[1] // 8):
        state = rpo.permute(state)
    assert case.public_inputs[12:] == state


@pytest.mark.parametrize(
    "options",
    [
        ProofOptions(
            blowup=2, n_queries=8, grinding_bits=2, folding_factor=2, fri_max_remainder_degree=0
        ),
        ProofOptions(
            blowup=4, n_queries=8, grinding_bits=0, folding_factor=8, fri_max_remainder_degree=3
        ),
        ProofOptions(
            blowup=16, n_queries=8, grinding_bits=0, folding_factor=4, fri_max_remainder_degree=255
        ),
    ],
)
def test_other_options_verify(options: ProofOptions) -> None:
    trace, public_inputs = build_fibonacci_trace(128)
    proof = prove(FIBONACCI_AIR, trace, public_inputs, options)
    verify(FIBONACCI_AIR, public_inputs, proof, options)
    assert_tampered_twins_rejected(FIBONACCI_AIR, public_inputs, proof, options)


def test_default_preset_rpo_chain() -> None:
    trace, public_inputs = build_rpo_chain_trace(1 << 10)
    proof = prove(RPO_CHAIN_AIR, trace, public_inputs, DEFAULT)
    verify(RPO_CHAIN_AIR, public_inputs, proof, DEFAULT)
    assert_tampered_twins_rejected(RPO_CHAIN_AIR, public_inputs, proof, DEFAULT)


def test_default_preset_fibonacci() -> None:
    trace, public_inputs = build_fibonacci_trace(1 << 8)
    proof = prove(FIBONACCI_AIR, trace, public_inputs, DEFAULT)
    verify(FIBONACCI_AIR, public_inputs, proof, DEFAULT)
    assert_tampered_twins_rejected(FIBONACCI_AIR, public_inputs, proof, DEFAULT)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_determinism(name: str) -> None:
    case = get_case(name)
    again = prove(case.air, case.trace.copy(), case.public_inputs, case.options)
    assert again == case.proof


def _fixture_meta(proof: bytes) -> dict[str, object]:
    return {
        "air": "fibonacci",
        "trace_length": 64,
        "preset": "minimal",
        "public_inputs": get_case("fibonacci").public_inputs,
        "proof_version": proof[0],
        "proof_bytes": len(proof),
        "sha256": hashlib.sha256(proof).hexdigest(),
    }


def test_versioned_fixture() -> None:
    """Guard the proof format: a change to these bytes must be deliberate (regenerate with
    STARKPERP_REGENERATE_VECTORS=1 and bump PROOF_VERSION if the layout changed)."""
    proof = get_case("fibonacci").proof
    if os.environ.get("STARKPERP_REGENERATE_VECTORS") == "1":
        VECTORS.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_bytes(proof)
        FIXTURE_META.write_text(json.dumps(_fixture_meta(proof), indent=2) + "\n")
    stored = FIXTURE.read_bytes()
    meta = json.loads(FIXTURE_META.read_text())
    assert hashlib.sha256(stored).hexdigest() == meta["sha256"]
    assert stored == proof
    verify(FIBONACCI_AIR, meta["public_inputs"], stored, MINIMAL)


def test_invalid_false_fibonacci_result() -> None:
    trace, public_inputs = build_fibonacci_trace(64)
    wrong = [(public_inputs[0] + 1) % P]
    violation = find_first_violation(FIBONACCI_AIR, trace, wrong)
    assert violation is not None and violation.constraint == "b ends at the result"
    with pytest.raises(ProvingError) as info:
        prove(FIBONACCI_AIR, trace, wrong, MINIMAL)
    assert info.value.reason is StarkReason.CONSTRAINT_VIOLATED
    assert "b ends at the result" in info.value.message
    forced = _prove(FIBONACCI_AIR, trace, wrong, MINIMAL, check_constraints=False)
    with pytest.raises(VerificationError):
        verify(FIBONACCI_AIR, wrong, forced, MINIMAL)


def test_invalid_false_fibonacci_transition() -> None:
    trace, public_inputs = build_fibonacci_trace(64)
    trace[0, 20] = (int(trace[0, 20]) + 1) % P
    violation = find_first_violation(FIBONACCI_AIR, trace, public_inputs)
    assert violation is not None and violation.constraint == "a' = b" and violation.row == 19
    with pytest.raises(ProvingError):
        prove(FIBONACCI_AIR, trace, public_inputs, MINIMAL)
    forced = _prove(FIBONACCI_AIR, trace, public_inputs, MINIMAL, check_constraints=False)
    with pytest.raises(VerificationError):
        verify(FIBONACCI_AIR, public_inputs, forced, MINIMAL)


def test_invalid_false_rpo_round() -> None:
    trace, public_inputs = build_rpo_chain_trace(32)
    trace[3, 12] = (int(trace[3, 12]) + 5) % P
    violation = find_first_violation(RPO_CHAIN_AIR, trace, public_inputs)
    assert violation is not None and violation.row == 11
    forced = _prove(RPO_CHAIN_AIR, trace, public_inputs, MINIMAL, check_constraints=False)
    with pytest.raises(VerificationError):
        verify(RPO_CHAIN_AIR, public_inputs, forced, MINIMAL)


def test_invalid_false_permutation() -> None:
    trace = build_permutation_trace(32)
    trace[1, 4] = (int(trace[1, 4]) + 1) % P
    with pytest.raises(ProvingError) as info:
        prove(PERMUTATION_AIR, trace, [], MINIMAL)
    assert "z ends at 1" in info.value.message
    forced = _prove(PERMUTATION_AIR, trace, [], MINIMAL, check_constraints=False)
    with pytest.raises(VerificationError):
        verify(PERMUTATION_AIR, [], forced, MINIMAL)


def test_invalid_prover_inputs() -> None:
    trace, public_inputs = build_fibonacci_trace(64)
    with pytest.raises(InvalidTraceError):
        prove(FIBONACCI_AIR, trace[:, :48], public_inputs, MINIMAL)
    with pytest.raises(InvalidTraceError):
        prove(FIBONACCI_AIR, trace, [P], MINIMAL)
    low_blowup = ProofOptions(
        blowup=4, n_queries=4, grinding_bits=0, folding_factor=2, fri_max_remainder_degree=0
    )
    rpo_trace, rpo_public = build_rpo_chain_trace(32)
    with pytest.raises(ProvingError) as info:
        prove(RPO_CHAIN_AIR, rpo_trace, rpo_public, low_blowup)
    assert info.value.reason is StarkReason.TRACE_TOO_SHORT
    bad_aux = PERMUTATION_AIR.aux_builder
    assert bad_aux is not None
    broken = np.zeros((2, 32), dtype=np.uint64)
    proof = prove(PERMUTATION_AIR, broken, [], MINIMAL)  # all-zero columns are a permutation
    verify(PERMUTATION_AIR, [], proof, MINIMAL)
    assert_tampered_twins_rejected(PERMUTATION_AIR, [], proof, MINIMAL)


def test_air_without_boundaries_or_transitions() -> None:
    from starkperp.stark.air import Air, BoundaryConstraint, PeriodicColumn, TransitionConstraint
    from starkperp.stark.expr import const, main, main_next, periodic

    # column 1 counts up by the periodic step (1, 2, 1, 2, ...), column 0 is constant
    only_transitions = Air(
        name="only-transitions",
        trace_width=2,
        transitions=(
            TransitionConstraint(name="constant", expr=main_next(0) - main(0)),
            TransitionConstraint(name="count", expr=main_next(1) - main(1) - periodic(0)),
        ),
        boundaries=(),
        periodic_columns=(PeriodicColumn(name="step", values=(1, 2)),),
    )
    trace = np.zeros((2, 32), dtype=np.uint64)
    trace[0] = 9
    trace[1] = np.cumsum([0] + [1 if i % 2 == 0 else 2 for i in range(31)])
    proof = prove(only_transitions, trace, [], MINIMAL)
    verify(only_transitions, [], proof, MINIMAL)
    assert_tampered_twins_rejected(only_transitions, [], proof, MINIMAL)

    only_boundaries = Air(
        name="only-boundaries",
        trace_width=1,
        transitions=(),
        boundaries=(BoundaryConstraint(name="pin", column=0, row=5, value=const(3)),),
    )
    column = np.arange(32, dtype=np.uint64).reshape(1, 32)
    column[0, 5] = 3
    proof = prove(only_boundaries, column, [], MINIMAL)
    verify(only_boundaries, [], proof, MINIMAL)
    assert_tampered_twins_rejected(only_boundaries, [], proof, MINIMAL)
    column[0, 5] = 4
    with pytest.raises(ProvingError):
        prove(only_boundaries, column, [], MINIMAL)
