"""The proof byte format: round trip, sections, shape and bounds checks before cryptography."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.field.goldilocks import P
from starkperp.stark.errors import StarkReason, VerificationError
from starkperp.stark.proof import PROOF_VERSION, Proof
from tests.stark.proofs import CASE_NAMES, get_case


@pytest.mark.parametrize("name", CASE_NAMES)
def test_round_trip(name: str) -> None:
    data = get_case(name).proof
    proof = Proof.from_bytes(data)
    assert proof.to_bytes() == data
    assert data[0] == PROOF_VERSION


@pytest.mark.parametrize("name", CASE_NAMES)
def test_sections_cover_the_proof(name: str) -> None:
    data = get_case(name).proof
    spans = Proof.get_section_spans(data)
    assert spans[0][1] == 0 and spans[-1][2] == len(data)
    for (_, _, end), (_, start, _) in zip(spans, spans[1:], strict=False):
        assert end == start
    names = [s[0] for s in spans]
    assert "ood_frame" in names and "pow_nonce" in names
    assert ("aux_rows" in names) == (name == "permutation")


def test_invalid_version() -> None:
    data = bytearray(get_case("fibonacci").proof)
    data[0] = 2
    with pytest.raises(VerificationError) as info:
        Proof.from_bytes(bytes(data))
    assert info.value.reason is StarkReason.BAD_VERSION


def test_invalid_truncated_and_trailing() -> None:
    data = get_case("fibonacci").proof
    for cut in (0, 1, 10, len(data) // 2, len(data) - 1):
        with pytest.raises(VerificationError) as info:
            Proof.from_bytes(data[:cut])
        assert info.value.reason is StarkReason.MALFORMED
    with pytest.raises(VerificationError):
        Proof.from_bytes(data + b"\x00")


def test_invalid_non_canonical_element() -> None:
    data = bytearray(get_case("fibonacci").proof)
    start = dict((s[0], s[1]) for s in Proof.get_section_spans(bytes(data)))["ood_frame"]
    data[start : start + 8] = P.to_bytes(8, "big")
    with pytest.raises(VerificationError) as info:
        Proof.from_bytes(bytes(data))
    assert info.value.reason is StarkReason.NON_CANONICAL_FIELD_ELEMENT


def test_invalid_header_fields() -> None:
    data = get_case("fibonacci").proof
    for offset, value in ((1, 2), (1, 40), (3, 0), (10, 3)):
        mutated = bytearray(data)
        mutated[offset] = value
        with pytest.raises(VerificationError) as info:
            Proof.from_bytes(bytes(mutated))
        assert info.value.reason in (StarkReason.MALFORMED, StarkReason.NON_CANONICAL_FIELD_ELEMENT)


def test_invalid_not_bytes() -> None:
    with pytest.raises(VerificationError):
        Proof.from_bytes("proof")  # type: ignore[arg-type]


@given(st.binary(max_size=600))
@settings(max_examples=200, deadline=None)
def test_hostile_bytes_only_raise_verification_errors(data: bytes) -> None:
    try:
        Proof.from_bytes(data)
    except VerificationError:
        pass
