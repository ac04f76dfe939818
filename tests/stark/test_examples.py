"""The runnable examples prove and verify end to end (and reject their tampered twins)."""

from __future__ import annotations

import pytest

import fibonacci
import permutation
import rpo_chain
from starkperp.stark.options import MINIMAL
from starkperp.stark.proof import Proof
from tests.stark.proofs import assert_tampered_twins_rejected


@pytest.mark.parametrize(
    ("module", "air"),
    [
        (fibonacci, fibonacci.FIBONACCI_AIR),
        (permutation, permutation.PERMUTATION_AIR),
        (rpo_chain, rpo_chain.RPO_CHAIN_AIR),
    ],
)
def test_example_runs(module: object, air: object, capsys: pytest.CaptureFixture[str]) -> None:
    proof = module.run(5)  # type: ignore[attr-defined]
    assert Proof.from_bytes(proof).log_trace_length == 5
    assert "proof" in capsys.readouterr().out
    if module is fibonacci:
        public_inputs = fibonacci.build_fibonacci_trace(32)[1]
    elif module is rpo_chain:
        public_inputs = rpo_chain.build_rpo_chain_trace(32)[1]
    else:
        public_inputs = []
    assert_tampered_twins_rejected(air, public_inputs, proof, MINIMAL)  # type: ignore[arg-type]
