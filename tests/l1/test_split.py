"""Split-step verification: Merkle statements first, then the rest of the proof.

At the default preset (100+ bits) a proof is verified in several transactions, each under
the 2^24 gas cap; the proof's fact is registered only after every statement it relies on
was verified, and every tampered twin (a node, a leaf, a skipped statement, a wrong public
input) reverts.
"""

from __future__ import annotations

import boa
import pytest
from examples.fibonacci import FIBONACCI_AIR, build_fibonacci_trace

from starkperp.field.goldilocks import P
from starkperp.l1.split import (
    compute_query_positions,
    get_merkle_statements,
    strip_merkle_nodes,
    verify_proof_in_steps,
)
from starkperp.l1.verifier_gen import (
    VerifierContracts,
    compute_max_proof_bytes,
    deploy_verifier_contracts,
    render_verifier,
)
from starkperp.rollup.hashing import compute_keccak256
from starkperp.stark.options import PRESETS
from starkperp.stark.proof import Proof
from starkperp.stark.prover import prove

DEFAULT = PRESETS["default"]


@pytest.fixture(scope="module")
def fibonacci() -> tuple[VerifierContracts, bytes, list[int]]:
    sources = render_verifier(FIBONACCI_AIR, DEFAULT, contract_name="FibonacciVerifier")
    contracts = deploy_verifier_contracts(boa.Env(), FIBONACCI_AIR, sources, "FibonacciVerifier")
    trace, public = build_fibonacci_trace(1 << 8)
    proof = prove(FIBONACCI_AIR, trace, public, DEFAULT)
    return contracts, proof, public


def _fact(public: list[int]) -> bytes:
    return compute_keccak256(b"".join(v.to_bytes(32, "big") for v in [32, len(public), *public]))


def test_positions_match_the_python_verifier_shape(
    fibonacci: tuple[VerifierContracts, bytes, list[int]],
) -> None:
    _, proof, public = fibonacci
    parsed = Proof.from_bytes(proof)
    positions = compute_query_positions(FIBONACCI_AIR, public, parsed, DEFAULT)
    assert len(positions) == DEFAULT.n_queries == len(set(positions))
    statements = get_merkle_statements(FIBONACCI_AIR, public, proof, DEFAULT)
    assert [s.name for s in statements][:2] == ["main", "composition"]
    assert len(statements) == 2 + len(parsed.fri_roots)
    assert len(strip_merkle_nodes(proof)) < len(proof)


def test_split_verification_registers_the_fact(
    fibonacci: tuple[VerifierContracts, bytes, list[int]],
) -> None:
    contracts, proof, public = fibonacci
    with contracts.core.env.anchor():
        steps = verify_proof_in_steps(
            contracts.core,
            contracts.merkle,
            air=FIBONACCI_AIR,
            options=DEFAULT,
            proof=proof,
            public_inputs=public,
        )
        assert all(step.total_gas < 2**24 for step in steps)
        assert contracts.core.isValid(_fact(public))


def test_invalid_split_without_statements(
    fibonacci: tuple[VerifierContracts, bytes, list[int]],
) -> None:
    contracts, proof, public = fibonacci
    with contracts.core.env.anchor():
        statements = get_merkle_statements(FIBONACCI_AIR, public, proof, DEFAULT)
        for s in statements[:-1]:  # the last FRI layer's statement is never verified
            contracts.merkle.verifyStatement(
                s.root, s.depth, list(s.indices), list(s.leaves), b"".join(s.nodes)
            )
        # boa may fail to render the reverted frame's locals: any error is a revert here
        with pytest.raises(Exception):  # noqa: B017
            contracts.core.verifyProofSplit(strip_merkle_nodes(proof), public)
        assert not contracts.core.isValid(_fact(public))


def test_invalid_tampered_statement_node(
    fibonacci: tuple[VerifierContracts, bytes, list[int]],
) -> None:
    contracts, proof, public = fibonacci
    s = get_merkle_statements(FIBONACCI_AIR, public, proof, DEFAULT)[0]
    nodes = bytearray(b"".join(s.nodes))
    nodes[5] ^= 1
    with pytest.raises(boa.BoaError, match="Merkle statement"):
        contracts.merkle.verifyStatement(
            s.root, s.depth, list(s.indices), list(s.leaves), bytes(nodes)
        )


def test_invalid_split_tampered_twins(
    fibonacci: tuple[VerifierContracts, bytes, list[int]],
) -> None:
    contracts, proof, public = fibonacci
    with contracts.core.env.anchor():
        for s in get_merkle_statements(FIBONACCI_AIR, public, proof, DEFAULT):
            contracts.merkle.verifyStatement(
                s.root, s.depth, list(s.indices), list(s.leaves), b"".join(s.nodes)
            )
        compact = strip_merkle_nodes(proof)
        for name, start, end in Proof.get_section_spans(compact):
            if end <= start:
                continue
            bad = bytearray(compact)
            bad[(start + end) // 2] ^= 1
            with pytest.raises(Exception):  # noqa: B017
                contracts.core.verifyProofSplit(bytes(bad), public)
                pytest.fail(f"tampered section {name} accepted")
        with pytest.raises(Exception):  # noqa: B017
            contracts.core.verifyProofSplit(compact, [(public[0] + 1) % P])
        assert not contracts.core.isValid(_fact(public))
        contracts.core.verifyProofSplit(compact, public)
        assert contracts.core.isValid(_fact(public))


def test_proof_size_bounds_hold(fibonacci: tuple[VerifierContracts, bytes, list[int]]) -> None:
    _, proof, _ = fibonacci
    log_n = Proof.from_bytes(proof).log_trace_length
    assert len(proof) <= compute_max_proof_bytes(FIBONACCI_AIR, DEFAULT, log_n)
    compact = strip_merkle_nodes(proof)
    assert len(compact) <= compute_max_proof_bytes(FIBONACCI_AIR, DEFAULT, log_n, with_nodes=False)
