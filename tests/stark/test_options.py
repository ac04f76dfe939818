"""Proof options: range checks, presets and conjectured security."""

from __future__ import annotations

import pytest
from hypothesis import given

from starkperp.stark.errors import InvalidOptionsError, StarkReason
from starkperp.stark.options import (
    DEFAULT,
    MINIMAL,
    PRESETS,
    ProofOptions,
    compute_conjectured_security,
)
from tests.strategies.stark import proof_options


def test_presets() -> None:
    assert PRESETS == {"minimal": MINIMAL, "default": DEFAULT}
    for log_n in range(3, 21):
        assert DEFAULT.conjectured_security_bits(log_n) >= 100
    assert MINIMAL.conjectured_security_bits(10) < 100


def test_ethstark_formula() -> None:
    options = ProofOptions(
        blowup=8, n_queries=27, grinding_bits=20, folding_factor=8, fri_max_remainder_degree=31
    )
    # min(128 - (18 + 3), 27 * 3 + 20) - 1
    assert compute_conjectured_security(options, 18) == 100
    # field bound binds for huge traces
    assert compute_conjectured_security(options, 40) == 128 - 43 - 1


@given(proof_options)
def test_security_is_bounded(options: ProofOptions) -> None:
    bits = options.conjectured_security_bits(16)
    assert 0 <= bits <= 128
    assert len(options.to_bytes()) == 40


@pytest.mark.parametrize(
    "field_values",
    [
        {"blowup": 3},
        {"blowup": 1},
        {"n_queries": 0},
        {"n_queries": 129},
        {"grinding_bits": 33},
        {"folding_factor": 16},
        {"fri_max_remainder_degree": 2},
        {"fri_max_remainder_degree": 256},
        {"blowup": True},
    ],
)
def test_invalid_options(field_values: dict[str, int]) -> None:
    values = {
        "blowup": 8,
        "n_queries": 10,
        "grinding_bits": 0,
        "folding_factor": 4,
        "fri_max_remainder_degree": 7,
    }
    values.update(field_values)
    with pytest.raises(InvalidOptionsError) as info:
        ProofOptions(**values)
    assert info.value.reason is StarkReason.INVALID_OPTIONS
