"""The node settles on a JSON-RPC chain (anvil): deploy, watch deposits, settle, restart.

The node deploys the token, ``StarkPerpetual`` and the batch verifier on its first start and
records their addresses in its database; a trader registers and deposits on L1 through the
token and ``StarkPerpetual``; ``eth_getLogs`` brings the deposit to the node, which credits
it; a trade and a withdrawal go into a batch that is proven, verified on chain and settled.
The node "dies" right after ``updateState`` (before recording it); the restarted node attaches
to the same contracts, finds the batch on L1 instead of sending it again, credits nothing
twice, credits a new deposit once, and the withdrawal is paid on L1.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from starkperp.exchange.markets import price_from_human, quantity_from_human
from starkperp.exchange.model import AccountId, Order, Side, Timestamp
from starkperp.l1.client import L1Client
from starkperp.node import config as node_config
from starkperp.node.config import SettlementConfig
from starkperp.node.l1_watch import JsonRpcLogIndex, compute_log_cursor
from starkperp.node.recovery import ApiCredentials
from starkperp.node.service import Node
from starkperp.node.settlement import BatchState, SettlementReason, SettlementService
from tests.node.anvil import ANVIL, funded_account, rpc, running_anvil
from tests.node.nodeproc import NodeProcess

pytestmark = pytest.mark.skipif(not ANVIL, reason="no anvil binary (set STARKPERP_ANVIL)")

NOW_MS = 1_700_000_000_000
USDC = 10**6
DEPOSIT = 20_000 * USDC
WITHDRAWN = 7_654_321


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    with running_anvil() as url:
        yield url


def _service(url: str, operator: LocalAccount, deployer: LocalAccount) -> SettlementService:
    return SettlementService(
        SettlementConfig(max_transactions=64, max_age_seconds=3600.0, l1_poll_seconds=0.1),
        l1=L1Client.connect(url, [bytes(deployer.key), bytes(operator.key)]),
        operator_key=bytes(operator.key),
        deployer=deployer.address,
    )


def _node(db: Path, service: SettlementService | None) -> Node:
    config = node_config.minimal(str(db), require_signatures=False)
    return Node(config, clock_ms=lambda: NOW_MS, signature_workers=0, settlement=service)


def _order(node: Node, account: int, side: Side, cid: str) -> Order:
    m = node.markets["BTC-USD"]
    return Order(
        account_id=AccountId(account),
        market=m.market,
        side=side,
        size=quantity_from_human(m, "0.01"),
        price=price_from_human(m, "50000"),
        client_id=cid,
        expiration=Timestamp(NOW_MS // 1000 + 86400),
    )


def _credits(node: Node) -> list[dict[str, Any]]:
    return [
        r.payload["node"]["l1_deposit"] for r in node.store.read_from(1) if r.kind == "l1_deposit"
    ]


async def _wait(predicate: Any, service: SettlementService, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert not service.halted, service.halted
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


class Trader:
    """A user's own L1 client: registers with the operator's signature, deposits, withdraws."""

    def __init__(self, url: str, record: dict[str, Any], deployer: LocalAccount) -> None:
        self.accounts = [funded_account(url) for _ in range(2)]
        keys = [bytes(deployer.key)] + [bytes(a.key) for a in self.accounts]
        self.client = L1Client.connect(url, keys)
        self.client.attach(record)
        self.deployer = deployer.address

    def register_and_deposit(
        self, eth: str, stark_key: int, position: int, signature: bytes
    ) -> None:
        perpetual = self.client.system.perpetual
        self.client.transact(lambda: perpetual.registerUser(eth, stark_key, signature, sender=eth))
        self.deposit(eth, stark_key, position)

    def deposit(self, eth: str, stark_key: int, position: int) -> None:
        self.client.mint(eth, DEPOSIT, sender=self.deployer)
        self.client.deposit(stark_key=stark_key, position_id=position, amount=DEPOSIT, sender=eth)


def test_node_settles_on_anvil_and_restarts_without_double_work(
    tmp_path: Path, anvil_url: str
) -> None:
    operator, deployer = funded_account(anvil_url), funded_account(anvil_url)
    db = tmp_path / "node.sqlite"
    first = _service(anvil_url, operator, deployer)
    real_submit = first._submitter.submit

    def submit_then_die(*args: Any) -> Any:
        real_submit(*args)
        raise RuntimeError("killed after updateState, before recording it")

    first._submitter.submit = submit_then_die  # type: ignore[method-assign]
    node = _node(db, first)
    traders: dict[str, Any] = {}

    async def session_one() -> None:
        await node.start(ticks=False)
        assert await asyncio.to_thread(first.wait_ready, 300)
        assert not first.halted, first.halted
        record = json.loads(node.store.get_meta("l1_deployment") or "{}")
        assert record["chain_id"] == 31337 and record["operator"] == operator.address
        trader = Trader(anvil_url, record, deployer)
        traders["trader"], traders["record"] = trader, record
        ids = []
        for i, account in enumerate(trader.accounts):
            onboarded = await node.onboard(
                eth_address=account.address,
                stark_key=0x7000 + i,
                stark_key_y=1,
                credentials=ApiCredentials(key=f"k{i}", secret="c2VjcmV0", passphrase="p"),
            )
            signature = first.sign_registration(eth_address=account.address, stark_key=0x7000 + i)
            await asyncio.to_thread(
                trader.register_and_deposit,
                account.address,
                0x7000 + i,
                onboarded.account_id,
                signature,
            )
            ids.append(onboarded.account_id)
        await _wait(lambda: all(node.engine.accounts[i].collateral == DEPOSIT for i in ids), first)
        await node.place_order(_order(node, ids[0], Side.SELL, "sell-1"))
        await node.place_order(_order(node, ids[1], Side.BUY, "buy-1"))
        await node.withdraw(ids[1], WITHDRAWN, "w-1")
        first.flush()
        deadline = time.monotonic() + 300  # a cold numba cache compiles the AIR's kernels
        while not first.halted:
            assert time.monotonic() < deadline, "batch 0 not submitted"
            await asyncio.sleep(0.05)
        traders["credited"] = _credits(node)
        await node.stop()

    asyncio.run(session_one())
    assert first.batches[0].state is BatchState.SUBMITTING
    assert first.batches[0].n_deposits == 2 and first.batches[0].n_trades == 1
    trader, record = traders["trader"], traders["record"]
    chain = trader.client
    assert chain.get_batch_id() == 1  # L1 took the batch; the node did not record it
    credited = traders["credited"]
    assert len(credited) == 2 and not any("ignored" in c for c in credited)
    block = int(str(rpc(anvil_url, "eth_blockNumber", [])), 16)
    assert max(int(c["cursor"]) for c in credited) < compute_log_cursor(block + 1, 0)

    second = _service(anvil_url, operator, deployer)
    again = _node(db, second)
    buyer = trader.accounts[1].address

    async def session_two() -> None:
        await again.start(ticks=False)
        assert await asyncio.to_thread(second.wait_ready, 300)
        assert str(second.l1.system.perpetual.address) == record["perpetual"]  # attached
        batch = await asyncio.to_thread(second.wait_settled, 0, 60)
        assert batch is not None and batch.state is BatchState.SETTLED, second.halted
        assert batch.reason == "found on L1 after a restart"
        await asyncio.sleep(0.5)  # several watcher rounds: nothing is credited again
        assert len(_credits(again)) == 2
        position = again.registry.by_address[buyer.lower()].account_id
        await asyncio.to_thread(trader.deposit, buyer, 0x7001, position)  # a new deposit
        await _wait(lambda: len(_credits(again)) == 3, second)
        assert again.engine.accounts[position].collateral > DEPOSIT
        second.flush()
        settled = await asyncio.to_thread(second.wait_settled, 1, 300)
        assert settled is not None and settled.state is BatchState.SETTLED, second.halted
        assert settled.n_deposits == 1 and settled.gas_used > 21_000
        await asyncio.sleep(0.5)
        assert len(_credits(again)) == 3
        await again.stop()

    asyncio.run(session_two())
    assert second.halted == ""
    assert chain.get_batch_id() == 2
    assert "0x" + chain.get_state_hash().hex() == second.batches[1].new_state_hash
    assert chain.get_pending_deposit(0x7001, position_of(again, buyer)) == 0
    before = chain.get_token_balance(buyer)
    assert chain.get_pending_withdrawal(buyer) == WITHDRAWN
    chain.withdraw(sender=buyer)
    assert chain.get_token_balance(buyer) - before == WITHDRAWN
    assert isinstance(second.log_index, JsonRpcLogIndex) and second.log_index.scanned_block > 0


def position_of(node: Node, eth: str) -> int:
    return node.registry.by_address[eth.lower()].account_id


def test_invalid_restart_on_another_chain_halts(tmp_path: Path, anvil_url: str) -> None:
    """A database whose contracts were recorded on one chain refuses a different chain."""
    operator, deployer = funded_account(anvil_url), funded_account(anvil_url)
    db = tmp_path / "node.sqlite"
    record = {"chain_id": 1, "operator": operator.address, "block": 0}
    first = _node(db, None)
    first.open()
    first.store.set_meta("l1_deployment", json.dumps(record))
    first.store.close()
    service = _service(anvil_url, operator, deployer)
    node = _node(db, service)

    async def run() -> None:
        await node.start(ticks=False)
        assert await asyncio.to_thread(service.wait_ready, 60)
        assert service.halt_reason is SettlementReason.L1_DEPLOYMENT_LOST
        await node.stop()

    asyncio.run(run())


@pytest.mark.slow
def test_cli_node_deploys_on_json_rpc_and_attaches_after_sigkill(
    tmp_path: Path, anvil_url: str
) -> None:
    """``starkperp node --settle --l1-url``: contracts deployed once, found again after kill."""
    operator, deployer = funded_account(anvil_url), funded_account(anvil_url)
    extra = [
        "--settle", "--proof-preset", "minimal", "--l1-url", anvil_url,
        "--l1-key", "0x" + bytes(operator.key).hex(),
        "--l1-deployer-key", "0x" + bytes(deployer.key).hex(),
    ]  # fmt: skip
    db = tmp_path / "node.sqlite"
    perpetuals = []
    for _ in range(2):
        node = NodeProcess(db, extra=extra)
        node.start(timeout=120)
        try:
            deadline = time.monotonic() + 300
            while True:
                status = httpx.get(f"{node.url}/v3/status", timeout=10).json()["settlement"]
                assert not status["halted"], status["halted"]
                if status["ready"]:
                    break
                assert time.monotonic() < deadline, status
                time.sleep(0.5)
            assert status["embeddedL1"] is False and status["l1BatchId"] == 0
            perpetuals.append(status["perpetual"])
        finally:
            node.kill()
    assert perpetuals[0] == perpetuals[1] != ""
    assert not (tmp_path / "node.sqlite.l1.sqlite").exists()  # no journal: the chain is the record
