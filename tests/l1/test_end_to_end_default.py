"""End to end at the default proof preset (100+ bits): verification split over transactions.

The batch of ``test_end_to_end`` (deposits, a trade, a withdrawal) proven at the ``default``
preset is too large for one transaction's verification; its Merkle openings are verified as
statements first, then ``verifyProofSplit`` registers the proof's fact, and ``updateState``
settles the batch with an empty proof. Every transaction stays under 2^24 gas; without the
steps, or with a tampered compact proof, nothing is settled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from starkperp.l1.client import L1Client, encode_rollup_data
from starkperp.l1.config import DAY, L1Config
from starkperp.l1.errors import L1Error
from starkperp.l1.split import strip_merkle_nodes
from starkperp.l1.verifier_gen import (
    VerifierContracts,
    compute_max_proof_bytes,
    deploy_verifier_contracts,
    render_verifier,
)
from starkperp.rollup.air import get_batch_air, prove_batch
from starkperp.rollup.batch import BatchResult, execute_batch
from starkperp.rollup.config import get_preset as get_rollup_preset
from starkperp.rollup.quantities import Collateral
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import Deposit
from starkperp.stark.options import PRESETS
from starkperp.stark.proof import Proof
from tests.l1.conftest import make_actors
from tests.strategies.rollup import BTC_PRICE, ETH_PRICE, make_trade, make_trader, make_withdrawal

pytestmark = pytest.mark.slow

OPTIONS = PRESETS["default"]
GAS_CAP = 2**24
DEPOSIT = 10_000 * 10**6
WITHDRAWN = 1_234_567_891


@dataclass
class World:
    client: L1Client
    actors: Any
    result: BatchResult
    proof: bytes
    verifier: VerifierContracts
    air: Any


@pytest.fixture(scope="module")
def world() -> World:
    config = get_rollup_preset("minimal", verify_signatures=False)
    genesis = RollupState.genesis(config, prices=(BTC_PRICE, ETH_PRICE))
    alice, bob = make_trader(0), make_trader(1)
    txs: list[Any] = [
        Deposit(position_id=t.position_id, public_key=t.public_key, amount=Collateral(DEPOSIT))
        for t in (alice, bob)
    ]
    txs.append(
        make_trade(
            alice,
            bob,
            asset_id=config.asset_ids[0],
            amount_synthetic=10**8,
            amount_collateral=300 * 10**6,
            nonce=1,
        )
    )
    client = L1Client.embedded()
    actors = make_actors(client)
    txs.append(make_withdrawal(alice, WITHDRAWN, nonce=2, recipient=int(actors.alice, 16)))
    result = execute_batch(genesis, txs, 0)
    proof = prove_batch(result, OPTIONS)
    air = get_batch_air(config)
    log_n = Proof.from_bytes(proof).log_trace_length
    sources = render_verifier(
        air,
        OPTIONS,
        contract_name="BatchVerifier",
        max_proof_bytes=compute_max_proof_bytes(air, OPTIONS, log_n),
    )
    verifier = deploy_verifier_contracts(client.env, air, sources, "BatchVerifier")
    client.deploy(
        config=L1Config(
            tree_depth=config.positions_depth,
            n_assets=config.n_assets,
            grace_period=DAY,
            deposit_cancel_delay=DAY,
        ),
        initial_state_hash=genesis.get_shared_state().compute_hash(),
        operator=actors.operator,
        deployer=actors.deployer,
        verifier=str(verifier.core.address),
    )
    for trader, eth in ((alice, actors.alice), (bob, actors.bob)):
        client.env.set_balance(eth, 10**21)
        client.register_user(
            eth_key=eth, stark_key=trader.public_key, operator_key=actors.operator_key, sender=eth
        )
        client.mint(eth, DEPOSIT, sender=actors.deployer)
        client.deposit(
            stark_key=trader.public_key, position_id=trader.position_id, amount=DEPOSIT, sender=eth
        )
    return World(
        client=client, actors=actors, result=result, proof=proof, verifier=verifier, air=air
    )


def _settle(w: World) -> None:
    w.client.update_state(
        proof=b"",
        public_input=w.result.public_input.encode(),
        data=encode_rollup_data(w.result.da_payload),
        sender=w.actors.operator,
    )


def test_invalid_settle_before_verification(world: World) -> None:
    with pytest.raises(L1Error, match="proof not verified"):
        _settle(world)
    assert world.client.get_batch_id() == 0


def test_invalid_tampered_compact_proof(world: World) -> None:
    felts = [int(x) for x in world.result.public_input.to_field_elements()]
    compact = bytearray(strip_merkle_nodes(world.proof))
    spans = {name: (start, end) for name, start, end in Proof.get_section_spans(bytes(compact))}
    start, end = spans["ood_frame"]
    compact[(start + end) // 2] ^= 1
    with pytest.raises(L1Error):
        world.client.transact(
            lambda: world.verifier.core.verifyProofSplit(
                bytes(compact), felts, sender=world.actors.operator, gas=GAS_CAP
            )
        )


def test_default_preset_batch_settles_in_steps(world: World) -> None:
    felts = [int(x) for x in world.result.public_input.to_field_elements()]
    steps = world.client.verify_proof_in_steps(
        verifier=world.verifier,
        air=world.air,
        options=OPTIONS,
        proof=world.proof,
        public_inputs=felts,
        sender=world.actors.operator,
    )
    assert len(steps) >= 3
    assert all(step.total_gas < GAS_CAP for step in steps)
    _settle(world)
    assert world.client.get_batch_id() == 1
    assert world.client.get_state_hash() == world.result.public_input.new_state_hash
    assert world.client.get_pending_withdrawal(world.actors.alice) == WITHDRAWN
