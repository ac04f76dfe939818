"""The node settles on L1 itself: deposits watched on L1, batches proven, stored and settled.

One embedded chain (one ``boa.Env``) for the module, with the generated batch verifier
deployed once; every test deploys its own token and ``StarkPerpetual`` on it, so chain state
outlives a node "crash" the way a real L1 outlives a killed node.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boa
import pytest
from eth_account import Account

from starkperp.exchange.markets import price_from_human, quantity_from_human
from starkperp.exchange.model import AccountId, Order, Side, Timestamp
from starkperp.l1.client import L1Client
from starkperp.node import config as node_config
from starkperp.node.config import SettlementConfig
from starkperp.node.l1_watch import EmbeddedLogIndex
from starkperp.node.recovery import ApiCredentials
from starkperp.node.service import Node
from starkperp.node.settlement import (
    BatchState,
    SettlementError,
    SettlementReason,
    SettlementService,
    deploy_contracts,
    get_rollup_config,
)
from starkperp.rollup.state import RollupState
from starkperp.stark.options import PRESETS

pytestmark = pytest.mark.slow

NOW_MS = 1_700_000_000_000
USDC = 10**6
DEPOSIT = 50_000 * USDC
WITHDRAWN = 123_456_789


@dataclass
class Chain:
    env: boa.Env
    index: EmbeddedLogIndex
    verifier: str


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    """One embedded chain with the batch verifier (compiling it takes ~30 s)."""
    client = L1Client(boa.Env())
    index = EmbeddedLogIndex(client)
    config = get_rollup_config("minimal")
    verifier = deploy_contracts(
        client,
        config,
        PRESETS["minimal"],
        genesis=RollupState.genesis(config),
        operator=Account.create().address,
        deployer=client.new_account(),
    )
    yield Chain(env=client.env, index=index, verifier=verifier)


@dataclass
class World:
    client: L1Client
    operator_key: bytes
    deployer: str
    chain: Chain


def _world(chain: Chain) -> World:
    client = L1Client(chain.env)
    operator = Account.create()
    deployer = client.new_account()
    config = get_rollup_config("minimal")
    deploy_contracts(
        client,
        config,
        PRESETS["minimal"],
        genesis=RollupState.genesis(config),
        operator=operator.address,
        deployer=deployer,
        verifier=chain.verifier,
    )
    return World(client=client, operator_key=bytes(operator.key), deployer=deployer, chain=chain)


def _service(world: World, **overrides: object) -> SettlementService:
    kwargs: dict[str, object] = {"max_transactions": 64, "max_age_seconds": 3600.0}
    kwargs.update(overrides)
    return SettlementService(
        SettlementConfig(**kwargs),  # type: ignore[arg-type]
        l1=world.client,
        operator_key=world.operator_key,
        deployer=world.deployer,
        log_index=world.chain.index,
    )


def _node(tmp_path: Path, service: SettlementService) -> Node:
    config = node_config.minimal(str(tmp_path / "node.sqlite"), require_signatures=False)
    return Node(config, clock_ms=lambda: NOW_MS, signature_workers=0, settlement=service)


def _order(node: Node, account: int, side: Side, size: str, price: str, cid: str) -> Order:
    m = node.markets["BTC-USD"]
    return Order(
        account_id=AccountId(account),
        market=m.market,
        side=side,
        size=quantity_from_human(m, size),
        price=price_from_human(m, price),
        client_id=cid,
        expiration=Timestamp(NOW_MS // 1000 + 86400),
    )


def _deposit_on_l1(
    service: SettlementService, world: World, eth: str, stark: int, pos: int
) -> None:
    client = world.client
    with service.l1_lock:
        signature = service.sign_registration(eth_address=eth, stark_key=stark)
        client.transact(
            lambda: client.system.perpetual.registerUser(eth, stark, signature, sender=eth)
        )
        client.mint(eth, DEPOSIT, sender=world.deployer)
        client.deposit(stark_key=stark, position_id=pos, amount=DEPOSIT, sender=eth)


def _l1_deposit(service: SettlementService, world: World, eth: str, stark: int, pos: int) -> None:
    with service.l1_lock:
        world.client.mint(eth, DEPOSIT, sender=world.deployer)
        world.client.deposit(stark_key=stark, position_id=pos, amount=DEPOSIT, sender=eth)


def _l1_deposit_records(node: Node) -> list[dict[str, object]]:
    return [
        r.payload["node"]["l1_deposit"] for r in node.store.read_from(1) if r.kind == "l1_deposit"
    ]


def _metrics(node: Node) -> dict[str, float]:
    out = {}
    for line in node.metrics.render().decode().splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def _wait(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _trade_session(node: Node, service: SettlementService, world: World) -> list[str]:
    """Onboard two traders, deposit on L1, trade once, withdraw; return their L1 addresses."""
    await node.start(ticks=False)
    assert await asyncio.to_thread(service.wait_ready, 300)
    addresses = []
    for i in range(2):
        eth = world.client.new_account()
        record = await node.onboard(
            eth_address=eth,
            stark_key=0x5000 + i,
            stark_key_y=1,
            credentials=ApiCredentials(key=f"k{i}", secret="c2VjcmV0", passphrase="p"),
        )
        await asyncio.to_thread(_deposit_on_l1, service, world, eth, 0x5000 + i, record.account_id)
        addresses.append(eth)
    ids = [node.registry.by_address[a.lower()].account_id for a in addresses]
    await _wait(lambda: all(node.engine.accounts[i].collateral == DEPOSIT for i in ids))
    await node.place_order(_order(node, ids[0], Side.SELL, "0.01", "50000", "sell-1"))
    await node.place_order(_order(node, ids[1], Side.BUY, "0.01", "50000", "buy-1"))
    await node.withdraw(ids[1], WITHDRAWN, "w-1")
    return addresses


def test_node_credits_l1_deposits_and_settles_its_batch(tmp_path: Path, chain: Chain) -> None:
    world = _world(chain)
    service = _service(world)
    node = _node(tmp_path, service)

    async def run() -> list[str]:
        addresses = await _trade_session(node, service, world)
        with pytest.raises(SettlementError) as info:  # the operator attests onboarded keys only
            service.sign_registration(eth_address=addresses[0], stark_key=0x5001)
        assert info.value.reason is SettlementReason.UNKNOWN_ACCOUNT
        # a deposit to a position that is not the key's: logged with its cursor, not credited
        await asyncio.to_thread(_l1_deposit, service, world, addresses[0], 0x5000, 77)
        await _wait(lambda: len(_l1_deposit_records(node)) == 3)
        assert "ignored" in _l1_deposit_records(node)[-1]
        service.flush()
        batch = await asyncio.to_thread(service.wait_settled, 0, 300)
        assert batch is not None, service.halted
        assert batch.state is BatchState.SETTLED
        assert batch.n_trades == 1 and batch.n_deposits == 2 and batch.n_withdrawals == 1
        assert 0 < batch.gas_used < 2**24
        assert node.get_status()["settlement"]["batches"] == {"SETTLED": 1}
        metrics = _metrics(node)
        assert metrics["starkperp_l1_gas_total"] == batch.gas_used
        assert metrics["starkperp_proving_seconds_count"] == 1
        assert metrics["starkperp_batch_size"] == 0
        await node.stop()
        return addresses

    addresses = asyncio.run(run())
    client = world.client
    assert client.get_batch_id() == 1
    assert "0x" + client.get_state_hash().hex() == service.batches[0].new_state_hash
    for i, eth in enumerate(addresses):  # the batch settled both pending deposits
        position = node.registry.by_address[eth.lower()].account_id
        assert client.get_pending_deposit(0x5000 + i, position) == 0
    before = client.get_token_balance(addresses[1])
    assert client.get_pending_withdrawal(addresses[1]) == WITHDRAWN
    client.withdraw(sender=addresses[1])
    assert client.get_token_balance(addresses[1]) - before == WITHDRAWN


def test_restart_never_resubmits_and_rebatches_the_same(tmp_path: Path, chain: Chain) -> None:
    """Crash before the proof, then crash after ``updateState`` before recording it."""
    world = _world(chain)
    first = _service(world)

    async def crash_before_proof() -> None:
        node = _node(tmp_path, first)
        await _trade_session(node, first, world)
        first.flush()
        await _wait(lambda: len(first.batches) == 1, timeout=120)
        await node.stop()  # the proof is abandoned; the batch stays CLOSED

    asyncio.run(crash_before_proof())
    closed = first.batches[0]
    assert closed.state is BatchState.CLOSED and closed.n_trades == 1
    assert world.client.get_batch_id() == 0

    second = _service(world)
    real_submit = second._submitter.submit

    def submit_then_die(*args: object) -> object:
        real_submit(*args)  # type: ignore[arg-type]
        raise RuntimeError("killed after updateState, before recording it")

    second._submitter.submit = submit_then_die  # type: ignore[method-assign,assignment]

    async def crash_after_submit() -> None:
        node = _node(tmp_path, second)
        await node.start(ticks=False)
        await _wait(lambda: bool(second.halted), timeout=300)
        assert len(_l1_deposit_records(node)) == 2  # deposits were not credited again
        await node.stop()

    asyncio.run(crash_after_submit())
    assert second.batches[0].state is BatchState.SUBMITTING
    assert (second.batches[0].first_tx, second.batches[0].n_tx) == (closed.first_tx, closed.n_tx)
    assert world.client.get_batch_id() == 1 and len(world.client.sent_batches) == 1

    third = _service(world)

    async def restart() -> None:
        node = _node(tmp_path, third)
        await node.start(ticks=False)
        assert await asyncio.to_thread(third.wait_ready, 300)
        await asyncio.sleep(1.0)  # a few watcher rounds: nothing new to credit
        assert len(_l1_deposit_records(node)) == 2
        await node.stop()

    asyncio.run(restart())
    settled = third.batches[0]
    assert settled.state is BatchState.SETTLED and settled.reason == "found on L1 after a restart"
    assert settled.new_state_hash == "0x" + world.client.get_state_hash().hex()
    assert len(world.client.sent_batches) == 1  # never submitted twice
    assert third.halted == ""


def test_invalid_settlement_config() -> None:
    with pytest.raises(ValueError):
        SettlementConfig(max_transactions=0)
    with pytest.raises(ValueError):
        SettlementConfig(rollup_preset="huge")
