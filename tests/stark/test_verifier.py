"""The verifier: every tampered byte is rejected with a named reason, nothing else escapes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.field.goldilocks import P
from starkperp.stark.errors import StarkReason, VerificationError
from starkperp.stark.options import MINIMAL, ProofOptions
from starkperp.stark.proof import Proof
from starkperp.stark.verifier import verify
from tests.stark.proofs import CASE_NAMES, get_case


def _flip(data: bytes, position: int, mask: int = 1) -> bytes:
    out = bytearray(data)
    out[position] ^= mask
    return bytes(out)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_invalid_tampered_twin_every_section(name: str) -> None:
    """Flipping a byte at the start, middle and end of every section is rejected."""
    case = get_case(name)
    spans = Proof.get_section_spans(case.proof)
    reasons = set()
    for section, start, end in spans:
        if end == start:
            continue
        for position in sorted({start, (start + end) // 2, end - 1}):
            with pytest.raises(VerificationError) as info:
                verify(case.air, case.public_inputs, _flip(case.proof, position), case.options)
            reasons.add(info.value.reason)
            assert isinstance(info.value.reason, StarkReason), section
    assert len(reasons) >= 4


@given(st.data())
@settings(max_examples=40, deadline=None)
def test_invalid_random_byte_changes(data: st.DataObject) -> None:
    case = get_case(data.draw(st.sampled_from(CASE_NAMES)))
    position = data.draw(st.integers(0, len(case.proof) - 1))
    mask = data.draw(st.integers(1, 255))
    with pytest.raises(VerificationError):
        verify(case.air, case.public_inputs, _flip(case.proof, position, mask), case.options)


@given(st.binary(max_size=400), st.sampled_from(CASE_NAMES))
@settings(max_examples=100, deadline=None)
def test_hostile_bytes_never_escape(data: bytes, name: str) -> None:
    case = get_case(name)
    with pytest.raises(VerificationError):
        verify(case.air, case.public_inputs, data, case.options)


@given(st.integers(0, 10_000), st.integers(1, 64))
@settings(max_examples=40, deadline=None)
def test_invalid_truncated_or_extended(seed: int, length: int) -> None:
    case = get_case("fibonacci")
    cut = seed % len(case.proof)
    with pytest.raises(VerificationError):
        verify(case.air, case.public_inputs, case.proof[:cut], case.options)
    with pytest.raises(VerificationError):
        verify(case.air, case.public_inputs, case.proof + bytes(length), case.options)


def test_invalid_wrong_public_inputs() -> None:
    case = get_case("fibonacci")
    with pytest.raises(VerificationError) as info:
        verify(case.air, [(case.public_inputs[0] + 1) % P], case.proof, case.options)
    assert info.value.reason is StarkReason.OOD_MISMATCH
    with pytest.raises(VerificationError) as info:
        verify(case.air, [], case.proof, case.options)
    assert info.value.reason is StarkReason.SHAPE_MISMATCH
    with pytest.raises(VerificationError):
        verify(case.air, [P], case.proof, case.options)


def test_invalid_wrong_air_or_options() -> None:
    case = get_case("fibonacci")
    other = get_case("rpo_chain")
    with pytest.raises(VerificationError) as info:
        verify(other.air, other.public_inputs, case.proof, case.options)
    assert info.value.reason is StarkReason.SHAPE_MISMATCH
    more_grinding = ProofOptions(
        blowup=MINIMAL.blowup,
        n_queries=MINIMAL.n_queries,
        grinding_bits=MINIMAL.grinding_bits + 8,
        folding_factor=MINIMAL.folding_factor,
        fri_max_remainder_degree=MINIMAL.fri_max_remainder_degree,
    )
    with pytest.raises(VerificationError):
        verify(case.air, case.public_inputs, case.proof, more_grinding)


def test_invalid_swapped_proofs() -> None:
    fib = get_case("fibonacci")
    perm = get_case("permutation")
    with pytest.raises(VerificationError):
        verify(fib.air, fib.public_inputs, perm.proof, fib.options)


def test_verifier_never_imports_the_prover() -> None:
    import subprocess
    import sys

    code = (
        "import sys, starkperp.stark.verifier, starkperp.stark; "
        "assert 'starkperp.stark.prover' not in sys.modules, 'prover loaded'; "
        "assert callable(starkperp.stark.verify)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
