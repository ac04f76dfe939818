"""The generator on large AIRs: shared subexpressions, interpreted chunks, periodic groups.

The RPO-chain example (12 columns of RPO rounds, 25 periodic columns) is the first AIR whose
constraints do not fit one straight-line contract: its proof verifies on chain and every
tampered twin reverts. The compiled constraint program is checked against the reference
evaluation of the expressions, and the batch AIR's contracts are split under the EIP-170
limit (its proof is verified on chain in ``test_end_to_end.py``).
"""

from __future__ import annotations

import random

import boa
import pytest
from examples.rpo_chain import RPO_CHAIN_AIR, build_rpo_chain_trace

from starkperp.field.goldilocks import P
from starkperp.l1.verifier_gen import (
    compute_constraint_programs,
    deploy_verifier,
    evaluate_constraint_program,
    render_verifier,
)
from starkperp.rollup.air import get_batch_air
from starkperp.rollup.config import get_preset as get_rollup_preset
from starkperp.stark import expr as ex
from starkperp.stark.air import Frame, evaluate_expr
from starkperp.stark.options import PRESETS
from starkperp.stark.proof import Proof
from starkperp.stark.prover import prove
from starkperp.stark.verifier import verify

MINIMAL = PRESETS["minimal"]


@pytest.fixture(scope="module")
def rpo_chain() -> tuple[object, bytes, list[int]]:
    sources = render_verifier(RPO_CHAIN_AIR, MINIMAL, contract_name="RpoChainVerifier")
    contract = deploy_verifier(boa.Env(), RPO_CHAIN_AIR, sources, "RpoChainVerifier")
    trace, public = build_rpo_chain_trace(64)
    proof = prove(RPO_CHAIN_AIR, trace, public, MINIMAL)
    verify(RPO_CHAIN_AIR, public, proof, MINIMAL)
    return contract, proof, public


@pytest.mark.slow
def test_rpo_chain_proof_verifies_on_chain(rpo_chain: tuple[object, bytes, list[int]]) -> None:
    contract, proof, public = rpo_chain
    assert contract.verify(proof, public)  # type: ignore[attr-defined]
    contract.verifyProof(proof, public)  # type: ignore[attr-defined]
    gas = contract.call_trace().gas_used  # type: ignore[attr-defined]
    assert gas < 2**24


@pytest.mark.slow
def test_invalid_rpo_chain_tampered_twins(rpo_chain: tuple[object, bytes, list[int]]) -> None:
    contract, proof, public = rpo_chain
    for name, start, end in Proof.get_section_spans(proof):
        if end <= start:
            continue
        bad = bytearray(proof)
        bad[(start + end) // 2] ^= 1
        with pytest.raises(boa.BoaError):
            contract.verify(bytes(bad), public)  # type: ignore[attr-defined]
            pytest.fail(f"tampered section {name} accepted")


@pytest.mark.slow
def test_invalid_rpo_chain_wrong_public_input(rpo_chain: tuple[object, bytes, list[int]]) -> None:
    contract, proof, public = rpo_chain
    wrong = [*public[:-1], (public[-1] + 1) % P]
    with pytest.raises(boa.BoaError):
        contract.verify(proof, wrong)  # type: ignore[attr-defined]


def _random_frame(air: object, rng: random.Random) -> Frame:
    def ext(n: int) -> list[tuple[int, int]]:
        return [(rng.randrange(P), rng.randrange(P)) for _ in range(n)]

    return Frame(  # type: ignore[call-arg]
        main_current=ext(air.trace_width),  # type: ignore[attr-defined]
        main_next=ext(air.trace_width),  # type: ignore[attr-defined]
        aux_current=ext(air.aux_width),  # type: ignore[attr-defined]
        aux_next=ext(air.aux_width),  # type: ignore[attr-defined]
        periodic=ext(len(air.periodic_columns)),  # type: ignore[attr-defined]
        public_inputs=[rng.randrange(P) for _ in range(air.n_public_inputs)],  # type: ignore[attr-defined]
        challenges=ext(air.n_aux_challenges),  # type: ignore[attr-defined]
    )


def test_constraint_program_equals_expression_evaluation() -> None:
    air = get_batch_air(get_rollup_preset("minimal", verify_signatures=False))
    rng = random.Random(7)
    frame = _random_frame(air, rng)
    alphas = [(rng.randrange(P), rng.randrange(P)) for _ in air.transitions]
    chunks = compute_constraint_programs(air, max_ops=600)
    assert len(chunks) > 1
    assert [c[0] for c in chunks[1:]] == [c[1] for c in chunks[:-1]]
    total = (0, 0)
    for _, _, program in chunks:
        s = evaluate_constraint_program(program, frame, alphas)
        total = ((total[0] + s[0]) % P, (total[1] + s[1]) % P)
    expected = (0, 0)
    for constraint, (a0, a1) in zip(air.transitions, alphas, strict=True):
        v = evaluate_expr(constraint.expr, frame)
        v0, v1 = int(v[0]), int(v[1])  # type: ignore[index]
        expected = (
            (expected[0] + v0 * a0 + 7 * v1 * a1) % P,
            (expected[1] + v0 * a1 + v1 * a0) % P,
        )
    assert total == expected


def test_shared_subexpressions_are_evaluated_once() -> None:
    x = ex.main(0) * ex.main(1) + 3
    y = ex.main(0) * ex.main(1) + 3  # built separately, equal in structure
    (lo, hi, program), *rest = compute_constraint_programs(
        _air_of([x - ex.main_next(0), y * y - ex.main_next(1)])
    )
    assert not rest and (lo, hi) == (0, 2)
    muls = [op for op in program.ops if op[0] == 0]
    assert len(muls) == 2  # main0 * main1 once, then y * y


def _air_of(exprs: list[ex.Expr]) -> object:
    from starkperp.stark.air import Air, TransitionConstraint

    return Air(  # type: ignore[call-arg]
        name="cse",
        trace_width=2,
        transitions=tuple(TransitionConstraint(name=f"t{i}", expr=e) for i, e in enumerate(exprs)),
        boundaries=(),
    )
