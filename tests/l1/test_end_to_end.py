"""End to end on the embedded EVM: L1 deposits, an L2 batch proven, verified on chain, paid out.

Two traders deposit collateral on L1; one batch (their deposits, a trade between them, a
withdrawal) is executed and proven with the batch AIR at the ``minimal`` presets; the
generated verifier of that AIR checks the proof inside ``updateState`` (one transaction under
the 2^24-gas cap); the withdrawal is then paid on L1, exact to the quantum. A tampered proof
and a replayed batch revert and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boa
import pytest

from starkperp.l1.client import L1Client, encode_rollup_data
from starkperp.l1.config import DAY, L1Config
from starkperp.l1.errors import L1Error
from starkperp.l1.verifier_gen import deploy_verifier, render_verifier
from starkperp.rollup.air import get_batch_air, prove_batch, verify_batch
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

OPTIONS = PRESETS["minimal"]
GAS_CAP = 2**24
DEPOSIT = 10_000 * 10**6
WITHDRAWN = 1_234_567_891
MAX_CODE = 24_576


@dataclass
class World:
    client: L1Client
    actors: Any
    result: BatchResult
    proof: bytes
    verifier: Any
    sources: dict[str, str]


@pytest.fixture(scope="module")
def world() -> World:
    config = get_rollup_preset("minimal", verify_signatures=False)
    genesis = RollupState.genesis(config, prices=(BTC_PRICE, ETH_PRICE))
    alice, bob = make_trader(0), make_trader(1)
    client = L1Client.embedded()
    actors = make_actors(client)
    air = get_batch_air(config)
    sources = render_verifier(air, OPTIONS, contract_name="BatchVerifier")
    verifier = deploy_verifier(client.env, air, sources, "BatchVerifier")
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
        verifier=str(verifier.address),
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
    txs = [
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
    txs.append(make_withdrawal(alice, WITHDRAWN, nonce=2, recipient=int(actors.alice, 16)))
    result = execute_batch(genesis, txs, 0)
    proof = prove_batch(result, OPTIONS)
    verify_batch(config, result.public_input, proof, OPTIONS)
    return World(
        client=client, actors=actors, result=result, proof=proof, verifier=verifier, sources=sources
    )


def _submit(w: World, proof: bytes) -> int:
    perpetual = w.client.system.perpetual
    pi = w.result.public_input.encode()
    data = encode_rollup_data(w.result.da_payload)
    w.client.transact(
        lambda: perpetual.updateState(proof, pi, data, sender=w.actors.operator, gas=GAS_CAP)
    )
    return int(perpetual.call_trace().gas_used)


def test_every_verifier_contract_fits_eip170(world: World) -> None:
    env = world.client.env
    names = world.sources
    with boa.swap_env(env):
        ood = boa.loads_partial(names["BatchVerifierOod"], name="BatchVerifierOod").at(
            world.verifier.ood()
        )
    n_chunks = sum(1 for n in names if n.startswith("BatchVerifierChunk"))
    n_groups = sum(1 for n in names if n.startswith("BatchVerifierPeriodic"))
    assert n_chunks >= 1 and n_groups >= 1
    addresses = [
        world.verifier.address,
        ood.address,
        world.verifier.merkle(),
        world.verifier.deepComposer(),
    ]
    addresses += [ood.CHUNKS(i) for i in range(n_chunks)]
    addresses += [ood.PERIODICS(i) for i in range(n_groups)]
    for address in addresses:
        assert 0 < len(env.get_code(address)) <= MAX_CODE


def test_invalid_tampered_proof_reverts(world: World) -> None:
    spans = {name: (start, end) for name, start, end in Proof.get_section_spans(world.proof)}
    start, end = spans["ood_frame"]
    bad = bytearray(world.proof)
    bad[(start + end) // 2] ^= 1
    with pytest.raises(L1Error):
        _submit(world, bytes(bad))
    assert world.client.get_batch_id() == 0
    assert world.client.get_pending_deposit(make_trader(0).public_key, 2) == DEPOSIT


def test_batch_settles_on_chain_then_replay_rejected(world: World) -> None:
    client, a = world, world.actors
    c = client.client
    assert c.get_token_balance(c.system.perpetual.address) == 2 * DEPOSIT
    gas = _submit(world, world.proof)
    assert gas < GAS_CAP
    print(f"updateState with on-chain proof verification: {gas} gas")
    assert c.get_batch_id() == 1
    assert c.get_state_hash() == world.result.public_input.new_state_hash
    for trader in (make_trader(0), make_trader(1)):
        assert c.get_pending_deposit(trader.public_key, trader.position_id) == 0
    assert c.get_pending_withdrawal(a.alice) == WITHDRAWN
    before = c.get_token_balance(a.alice)
    c.withdraw(sender=a.alice)
    assert c.get_token_balance(a.alice) == before + WITHDRAWN
    assert c.get_pending_withdrawal(a.alice) == 0
    assert c.get_token_balance(c.system.perpetual.address) == 2 * DEPOSIT - WITHDRAWN
    with pytest.raises(L1Error, match="wrong batch id"):
        _submit(world, world.proof)
    assert c.get_batch_id() == 1
