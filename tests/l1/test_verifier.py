"""The generated on-chain STARK verifier against the Python verifier's proofs.

Every proof that verifies in Python verifies on the EVM; every tampered twin (one flipped
byte in any section of the proof) and a wrong public input revert.
"""

from __future__ import annotations

import boa
import pytest
from examples.fibonacci import FIBONACCI_AIR, build_fibonacci_trace
from examples.permutation import PERMUTATION_AIR, build_permutation_trace

from starkperp.l1.client import L1Client
from starkperp.l1.errors import L1Error
from starkperp.l1.verifier_gen import GENERATED_DIR, deploy_verifier, render_verifier
from starkperp.rollup.hashing import compute_keccak256
from starkperp.stark.options import PRESETS
from starkperp.stark.proof import Proof
from starkperp.stark.prover import prove
from starkperp.stark.verifier import verify

MINIMAL = PRESETS["minimal"]


@pytest.fixture(scope="module")
def fibonacci() -> tuple[object, bytes, list[int]]:
    sources = render_verifier(FIBONACCI_AIR, MINIMAL, contract_name="FibonacciVerifier")
    contract = deploy_verifier(boa.Env(), FIBONACCI_AIR, sources, "FibonacciVerifier")
    trace, public = build_fibonacci_trace(1 << 6)
    proof = prove(FIBONACCI_AIR, trace, public, MINIMAL)
    verify(FIBONACCI_AIR, public, proof, MINIMAL)
    return contract, proof, public


def test_generated_sources_are_fresh() -> None:
    sources = render_verifier(FIBONACCI_AIR, MINIMAL, contract_name="FibonacciVerifier")
    for name, source in sources.items():
        assert (GENERATED_DIR / f"{name}.vy").read_text() == source


def test_fibonacci_proof_verifies_on_chain(fibonacci: tuple[object, bytes, list[int]]) -> None:
    contract, proof, public = fibonacci
    assert contract.verify(proof, public)  # type: ignore[attr-defined]
    contract.verifyProof(proof, public)  # type: ignore[attr-defined]
    fact = compute_keccak256(b"".join(v.to_bytes(32, "big") for v in [32, len(public), *public]))
    assert contract.isValid(fact)  # type: ignore[attr-defined]


def test_invalid_tampered_twins(fibonacci: tuple[object, bytes, list[int]]) -> None:
    contract, proof, public = fibonacci
    for name, start, end in Proof.get_section_spans(proof):
        if end <= start:
            continue
        bad = bytearray(proof)
        bad[(start + end) // 2] ^= 1
        with pytest.raises(boa.BoaError):
            contract.verify(bytes(bad), public)  # type: ignore[attr-defined]
            pytest.fail(f"tampered section {name} accepted")


def test_invalid_wrong_public_input(fibonacci: tuple[object, bytes, list[int]]) -> None:
    contract, proof, public = fibonacci
    wrong = [(public[0] + 1) % (2**64 - 2**32 + 1)]
    with pytest.raises(L1Error, match="out-of-domain mismatch"):
        L1Client.embedded().transact(lambda: contract.verify(proof, wrong))  # type: ignore[attr-defined]


def test_invalid_truncated_proof(fibonacci: tuple[object, bytes, list[int]]) -> None:
    contract, proof, public = fibonacci
    with pytest.raises(boa.BoaError):
        contract.verify(proof[:-1], public)  # type: ignore[attr-defined]


def test_aux_segment_air_verifies_on_chain() -> None:
    sources = render_verifier(PERMUTATION_AIR, MINIMAL, contract_name="PermutationVerifier")
    contract = deploy_verifier(boa.Env(), PERMUTATION_AIR, sources, "PermutationVerifier")
    proof = prove(PERMUTATION_AIR, build_permutation_trace(1 << 5), [], MINIMAL)
    assert contract.verify(proof, [])  # type: ignore[attr-defined]
    bad = bytearray(proof)
    bad[len(bad) // 3] ^= 1
    with pytest.raises(boa.BoaError):
        contract.verify(bytes(bad), [])  # type: ignore[attr-defined]


@pytest.mark.slow
def test_fibonacci_default_preset_verifies_on_chain() -> None:
    options = PRESETS["default"]
    sources = render_verifier(FIBONACCI_AIR, options, contract_name="FibonacciVerifier")
    contract = deploy_verifier(boa.Env(), FIBONACCI_AIR, sources, "FibonacciVerifier")
    trace, public = build_fibonacci_trace(1 << 6)
    proof = prove(FIBONACCI_AIR, trace, public, options)
    assert contract.verify(proof, public)  # type: ignore[attr-defined]


@pytest.mark.parametrize("air_name", ["fibonacci", "rpo_chain"])
def test_invalid_non_canonical_row_value_reverts_in_deep(air_name: str) -> None:
    # The DEEP contract reads the queried rows (one slice per value for rows narrower than a
    # word, four values to a word otherwise) and rejects any value >= p: the encoding of p
    # itself (which reduces to the canonical 0) and the largest 8-byte value, at the first
    # and the last position of the main rows.
    from examples.rpo_chain import RPO_CHAIN_AIR

    from starkperp.field.goldilocks import P
    from starkperp.l1.verifier_gen import deploy_verifier_contracts
    from starkperp.stark.air import get_composition_width

    air = FIBONACCI_AIR if air_name == "fibonacci" else RPO_CHAIN_AIR
    contracts = deploy_verifier_contracts(
        boa.Env(), air, render_verifier(air, MINIMAL, contract_name="V"), "V"
    )
    nq, w, a, cw = MINIMAL.n_queries, air.trace_width, air.aux_width, get_composition_width(air)

    def encode(values: list[int]) -> bytes:
        return b"".join(v.to_bytes(8, "big") for v in values)

    def evaluate(main: list[int]) -> object:
        return contracts.deep.evaluate(  # type: ignore[attr-defined]
            list(range(nq)),
            7,
            3,
            5,
            11,
            13,
            encode(main),
            encode([1] * (nq * 2 * a)),
            encode([1] * (nq * 2 * cw)),
            [1] * (2 * w),
            [1] * (2 * w),
            [1] * (2 * a + 2),
            [1] * (2 * a + 2),
            [1] * (2 * cw),
            [1] * (4 * (w + a) + 2 * cw),
        )

    evaluate([P - 1] * (nq * w))
    for at in (0, nq * w - 1):
        for bad in (P, 2**64 - 1):
            main = [1] * (nq * w)
            main[at] = bad
            with pytest.raises(boa.BoaError, match="non-canonical field element"):
                evaluate(main)
