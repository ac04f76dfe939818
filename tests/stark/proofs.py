"""Small proofs shared by the STARK tests (built once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from fibonacci import FIBONACCI_AIR, build_fibonacci_trace
from permutation import PERMUTATION_AIR, build_permutation_trace
from rpo_chain import RPO_CHAIN_AIR, build_rpo_chain_trace
from starkperp.stark.air import Air
from starkperp.stark.options import MINIMAL, ProofOptions
from starkperp.stark.prover import prove


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One proven statement."""

    name: str
    air: Air
    trace: np.ndarray
    public_inputs: list[int]
    options: ProofOptions
    proof: bytes


CASE_NAMES = ("fibonacci", "permutation", "rpo_chain")


@cache
def get_case(name: str) -> Case:
    """Build (once) and return the named case, proven at the minimal preset."""
    if name == "fibonacci":
        air = FIBONACCI_AIR
        trace, public_inputs = build_fibonacci_trace(64)
    elif name == "permutation":
        air = PERMUTATION_AIR
        trace, public_inputs = build_permutation_trace(32), []
    else:
        air = RPO_CHAIN_AIR
        trace, public_inputs = build_rpo_chain_trace(32)
    proof = prove(air, trace, public_inputs, MINIMAL)
    return Case(
        name=name,
        air=air,
        trace=trace,
        public_inputs=public_inputs,
        options=MINIMAL,
        proof=proof,
    )


def assert_tampered_twins_rejected(
    air: Air, public_inputs: list[int], proof: bytes, options: ProofOptions
) -> None:
    """Flip one byte in the middle of every section of ``proof``; each twin must be rejected."""
    import pytest

    from starkperp.stark.errors import VerificationError
    from starkperp.stark.proof import Proof
    from starkperp.stark.verifier import verify

    for _, start, end in Proof.get_section_spans(proof):
        if end == start:
            continue
        twin = bytearray(proof)
        twin[(start + end) // 2] ^= 0x10
        with pytest.raises(VerificationError):
            verify(air, public_inputs, bytes(twin), options)
