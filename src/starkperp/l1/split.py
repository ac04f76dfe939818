"""Split-step verification: one STARK proof verified over several L1 transactions.

A proof at real security (the ``default`` preset: 29 queries) does not fit the 2^24 gas of one
transaction. As StarkWare's verifier does, its Merkle openings are verified first, each as a
*Merkle statement* in its own transaction: the generated ``<Name>Merkle`` contract checks
``(root, depth, sorted indices, leaf hashes)`` against the sibling nodes and registers
``keccak256(abi_encode(root, depth, indices, leaves))``. The last transaction,
``verifyProofSplit(compactProof, publicInputs)``, runs everything else (shape, transcript,
out-of-domain identity, DEEP composition, FRI folding and remainder) on the proof with its
node sections emptied, and instead of recomputing a root it requires the statement of every
opening it would have checked to be registered. It then registers the proof's fact
``keccak256(abi_encode(publicInputs))``, which ``StarkPerpetual.updateState`` accepts with an
empty proof.

The statements need the query positions, which this module derives by replaying the
Fiat-Shamir transcript exactly as :mod:`starkperp.stark.verifier` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from starkperp.crypto.keccak import keccak256
from starkperp.stark.air import Air
from starkperp.stark.fri import draw_fri_betas
from starkperp.stark.options import ProofOptions
from starkperp.stark.proof import Proof
from starkperp.stark.protocol import (
    absorb_context,
    draw_composition_coefficients,
    draw_deep_coefficients,
)
from starkperp.stark.transcript import Transcript, encode_ext

__all__ = [
    "MerkleStatement",
    "VerificationStep",
    "compute_query_positions",
    "get_merkle_statements",
    "strip_merkle_nodes",
    "verify_proof_in_steps",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MerkleStatement:
    """One batch opening: leaves (hashes) at sorted indices of a tree, with its nodes."""

    name: str
    root: bytes
    depth: int
    indices: tuple[int, ...]
    leaves: tuple[bytes, ...]
    nodes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationStep:
    """One transaction of a split verification and its gas (execution, and with calldata)."""

    name: str
    execution_gas: int
    calldata_bytes: int
    total_gas: int


def compute_query_positions(
    air: Air, public_inputs: Sequence[int], proof: Proof, options: ProofOptions
) -> list[int]:
    """Replay the transcript of ``proof``; return its sorted query positions."""
    log_n = proof.log_trace_length
    transcript = Transcript()
    absorb_context(transcript, air, log_n, tuple(public_inputs), options)
    transcript.absorb(proof.main_root)
    if air.aux_width:
        for _ in range(air.n_aux_challenges):
            transcript.draw_ext()
        transcript.absorb(proof.aux_root)
    draw_composition_coefficients(transcript, air)
    transcript.absorb(proof.composition_root)
    transcript.draw_ext_outside()
    transcript.absorb(
        encode_ext(proof.ood_main_current)
        + encode_ext(proof.ood_main_next)
        + encode_ext(proof.ood_aux_current)
        + encode_ext(proof.ood_aux_next)
        + encode_ext(proof.ood_composition)
    )
    draw_deep_coefficients(transcript, air)
    draw_fri_betas(proof.fri_roots, proof.fri_remainder, transcript)
    transcript.absorb(proof.pow_nonce.to_bytes(8, "big"))
    size = (1 << log_n) * options.blowup
    return sorted(transcript.draw_distinct_indices(options.n_queries, size))


def _leaf(values: Sequence[int]) -> bytes:
    return keccak256(b"".join(int(v).to_bytes(8, "big") for v in values))


def get_merkle_statements(
    air: Air, public_inputs: Sequence[int], proof_bytes: bytes, options: ProofOptions
) -> list[MerkleStatement]:
    """Return every Merkle opening the verifier checks, in the order it checks them."""
    proof = Proof.from_bytes(proof_bytes)
    positions = compute_query_positions(air, public_inputs, proof, options)
    log_size = proof.log_trace_length + options.blowup.bit_length() - 1
    segments = [("main", proof.main_root, proof.main_rows, proof.main_nodes)]
    if air.aux_width:
        segments.append(("aux", proof.aux_root, proof.aux_rows, proof.aux_nodes))
    segments.append(
        ("composition", proof.composition_root, proof.composition_rows, proof.composition_nodes)
    )
    statements = [
        MerkleStatement(
            name=name,
            root=root,
            depth=log_size,
            indices=tuple(positions),
            leaves=tuple(_leaf(row) for row in rows),
            nodes=tuple(nodes),
        )
        for name, root, rows, nodes in segments
    ]
    log_fold = options.folding_factor.bit_length() - 1
    current = positions
    log_m = log_size
    for layer, (root, opening) in enumerate(zip(proof.fri_roots, proof.fri_openings, strict=True)):
        n_leaves = 1 << (log_m - log_fold)
        indices = sorted({p % n_leaves for p in current})
        statements.append(
            MerkleStatement(
                name=f"fri{layer}",
                root=root,
                depth=log_m - log_fold,
                indices=tuple(indices),
                leaves=tuple(_leaf([c for e in leaf for c in e]) for leaf in opening.leaves),
                nodes=tuple(opening.nodes),
            )
        )
        current = indices
        log_m -= log_fold
    return statements


def strip_merkle_nodes(proof_bytes: bytes) -> bytes:
    """Return the proof with every node section emptied (what ``verifyProofSplit`` reads)."""
    proof = Proof.from_bytes(proof_bytes)
    return replace(
        proof,
        main_nodes=(),
        aux_nodes=(),
        composition_nodes=(),
        fri_openings=tuple(replace(o, nodes=()) for o in proof.fri_openings),
    ).to_bytes()


def _calldata_gas(data: bytes) -> int:
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def verify_proof_in_steps(
    verifier: Any,
    merkle: Any,
    *,
    air: Air,
    options: ProofOptions,
    proof: bytes,
    public_inputs: Sequence[int],
    sender: str | None = None,
    gas: int = 2**24,
) -> list[VerificationStep]:
    """Verify ``proof`` on chain in several transactions; return each one's gas.

    ``verifier`` and ``merkle`` are the deployed core and Merkle contracts of
    :func:`starkperp.l1.verifier_gen.deploy_verifier`. One transaction per Merkle statement,
    then ``verifyProofSplit`` on the compact proof, which registers the proof's fact. A
    failing step raises the contract's revert (nothing is registered for the proof).
    """
    kwargs: dict[str, Any] = {"gas": gas}
    if sender is not None:
        kwargs["sender"] = sender
    steps = []
    for statement in get_merkle_statements(air, public_inputs, proof, options):
        args = (
            statement.root,
            statement.depth,
            list(statement.indices),
            list(statement.leaves),
            b"".join(statement.nodes),
        )
        calldata = bytes(merkle.verifyStatement.prepare_calldata(*args))
        merkle.verifyStatement(*args, **kwargs)
        used = int(merkle.call_trace().gas_used)
        steps.append(
            VerificationStep(
                name=f"merkle {statement.name}",
                execution_gas=used,
                calldata_bytes=len(calldata),
                total_gas=21_000 + _calldata_gas(calldata) + used,
            )
        )
    compact = strip_merkle_nodes(proof)
    felts = [int(v) for v in public_inputs]
    calldata = bytes(verifier.verifyProofSplit.prepare_calldata(compact, felts))
    verifier.verifyProofSplit(compact, felts, **kwargs)
    used = int(verifier.call_trace().gas_used)
    steps.append(
        VerificationStep(
            name="verifyProofSplit",
            execution_gas=used,
            calldata_bytes=len(calldata),
            total_gas=21_000 + _calldata_gas(calldata) + used,
        )
    )
    return steps
