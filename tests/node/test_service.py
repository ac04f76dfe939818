"""The node service: sequencer group commits, refusals log nothing, recovery replays exactly."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from starkperp.exchange.errors import ExchangeError, Reason
from starkperp.exchange.markets import price_from_human, quantity_from_human
from starkperp.exchange.model import AccountId, Order, Side, Timestamp
from starkperp.node import config as node_config
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.log import SqliteLogStore
from starkperp.node.recovery import ApiCredentials, replay_log
from starkperp.node.sequencer import compute_order_key, get_order_key_rule
from starkperp.node.service import Node, compute_account_uuid
from starkperp.node.settlement import get_rollup_config
from tests.node.pg import fresh_pg_url

NOW_MS = 1_700_000_000_000


def _creds(i: int) -> ApiCredentials:
    return ApiCredentials(key=f"key-{i}", secret="c2VjcmV0", passphrase=f"pp-{i}")


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


async def _session(node: Node) -> list[int]:
    await node.start(ticks=False)
    ids = []
    for i in range(2):
        rec = await node.onboard(
            eth_address=f"0x{i + 1:040x}", stark_key=i + 5, stark_key_y=1, credentials=_creds(i)
        )
        await node.deposit(rec.account_id, 100_000 * 10**6)
        ids.append(rec.account_id)
    views = await asyncio.gather(
        *(
            node.place_order(_order(node, ids[0], Side.SELL, "0.01", str(50_100 + k), f"s{k}"))
            for k in range(20)
        )
    )
    await node.place_order(_order(node, ids[1], Side.BUY, "0.05", "50200", "b"))
    await node.cancel_order(ids[0], int(views[-1].order_id))
    await node.withdraw(ids[1], 10 * 10**6, "w1")
    return ids


def _config(tmp_path: Path, backend: str) -> node_config.NodeConfig:
    if backend == "postgres":
        url = fresh_pg_url()
    else:
        url = str(tmp_path / "node.sqlite")
    return node_config.minimal(url, require_signatures=False)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_restart_replays_to_the_same_state(tmp_path: Path, backend: str) -> None:
    config = _config(tmp_path, backend)

    async def first() -> tuple[bytes, int, list[int]]:
        node = Node(config, clock_ms=lambda: NOW_MS)
        ids = await _session(node)
        digest, seq = node.engine.compute_state_digest(), node.seq.last_seq
        await node.stop()
        return digest, seq, ids

    digest, seq, ids = asyncio.run(first())
    again = Node(config, clock_ms=lambda: NOW_MS)
    again.open()
    assert again.recovered_records == seq
    assert again.engine.compute_state_digest() == digest
    assert again.registry.by_account[ids[0]].uuid == compute_account_uuid(f"0x{1:040x}")
    assert (ids[1], "w1") in again.registry.used_withdrawal_ids
    fills = again.store.query_rows("fills", account_id=str(ids[1]))
    assert len(fills) == 5
    again.store.close()


def test_group_commit_batches_concurrent_commands(tmp_path: Path) -> None:
    config = _config(tmp_path, "sqlite")

    async def run() -> None:
        node = Node(config, clock_ms=lambda: NOW_MS)
        await _session(node)
        hist = node.metrics.log_group_size
        count = sum(s.value for s in hist.collect()[0].samples if s.name.endswith("_count"))
        total = sum(s.value for s in hist.collect()[0].samples if s.name.endswith("_sum"))
        assert total > count  # at least one commit carried several commands
        await node.stop()

    asyncio.run(run())


def test_invalid_refused_command_logs_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path, "sqlite")

    async def run() -> None:
        node = Node(config, clock_ms=lambda: NOW_MS)
        ids = await _session(node)
        seq, digest = node.seq.last_seq, node.engine.compute_state_digest()
        with pytest.raises(ExchangeError):
            await node.place_order(_order(node, ids[0], Side.BUY, "0.00001", "50000", "tiny"))
        with pytest.raises(ExchangeError):
            await node.withdraw(ids[0], 10**15, "too-much")
        with pytest.raises(NodeError) as err:
            await node.withdraw(ids[1], 1, "w1")
        assert err.value.reason is NodeReason.REPLAYED_NONCE
        with pytest.raises(NodeError):
            await node.onboard(
                eth_address=f"0x{1:040x}", stark_key=9, stark_key_y=1, credentials=_creds(9)
            )
        assert node.seq.last_seq == seq and node.engine.compute_state_digest() == digest
        await node.stop()

    asyncio.run(run())


def test_invalid_commit_failure_stops_the_node(tmp_path: Path) -> None:
    config = _config(tmp_path, "sqlite")

    async def run() -> bytes:
        node = Node(config, clock_ms=lambda: NOW_MS)
        ids = await _session(node)
        durable = node.engine.compute_state_digest()
        store = node.store
        assert isinstance(store, SqliteLogStore)

        def broken(*args: object) -> list[int]:
            raise OSError("disk full")

        store.commit = broken  # type: ignore[method-assign]
        with pytest.raises(NodeError) as err:
            await node.deposit(ids[0], 1)
        assert err.value.reason is NodeReason.NOT_READY and not node.is_ready
        with pytest.raises(NodeError):
            await node.deposit(ids[0], 1)
        await node.stop()
        return durable

    durable = asyncio.run(run())
    store = SqliteLogStore(config.db_url)
    exchange, _, _ = replay_log(store, config.exchange, require_signatures=False)
    store.close()
    assert exchange.compute_state_digest() == durable


def test_invalid_order_whose_rollup_key_is_taken_and_restart_keeps_the_keys(
    tmp_path: Path,
) -> None:
    """A settling node refuses an order whose rollup order key another order holds.

    An 3-bit order tree forces collisions. An open order holds its key; an order that was
    ever filled holds it for good; an order canceled without a fill releases it. The keys
    are in the log (``OrderAccepted.order_key``), so a restarted node refuses the same.
    """
    config = _config(tmp_path, "sqlite")
    rule = dataclasses.replace(
        get_order_key_rule(config.exchange, get_rollup_config("minimal")), orders_depth=3
    )
    market = config.exchange.markets[0]

    def key_of(order: Order) -> int | None:
        return compute_order_key(rule, order, market)

    def pick(
        node: Node, account: int, side: Side, price: str, key: int, size: str = "0.01"
    ) -> Order:
        """Return the first order of a series of client ids whose key is ``key``."""
        for i in range(200):
            order = _order(node, account, side, size, price, f"{side.value}-{price}-{i}")
            if key_of(order) == key:
                return order
        raise AssertionError("no client id with that key")

    async def first() -> tuple[bytes, int, Order, int]:
        node = Node(config, clock_ms=lambda: NOW_MS, signature_workers=0)
        ids = await _session(node)
        node.seq.use_order_keys(rule)  # the wiring of a node that settles
        seller, buyer = ids
        held = pick(node, seller, Side.SELL, "50000", key=1, size="0.02")
        await node.place_order(held)
        colliding = pick(node, buyer, Side.BUY, "40000", key=1)
        seq, digest = node.seq.last_seq, node.engine.compute_state_digest()
        with pytest.raises(ExchangeError) as info:
            await node.place_order(colliding)
        assert info.value.reason is Reason.ORDER_KEY_TAKEN
        assert node.seq.last_seq == seq and node.engine.compute_state_digest() == digest
        # a fill makes the key held for good, even after the order is canceled
        taker = pick(node, buyer, Side.BUY, "50000", key=2)
        await node.place_order(taker)
        view = node.get_order_view(int(node.engine.accounts[seller].client_orders[held.client_id]))
        assert view.filled == held.size // 2
        await node.cancel_order(seller, int(view.order_id))
        with pytest.raises(ExchangeError) as info:
            await node.place_order(colliding)
        assert info.value.reason is Reason.ORDER_KEY_TAKEN
        # a key released by an order canceled without any fill can be used again
        unfilled = pick(node, buyer, Side.BUY, "40000", key=5)
        placed = await node.place_order(unfilled)
        reuse = pick(node, seller, Side.SELL, "60000", key=5)
        with pytest.raises(ExchangeError):
            await node.place_order(reuse)
        await node.cancel_order(buyer, int(placed.order_id))
        assert (await node.place_order(reuse)).remaining == reuse.size
        out = node.engine.compute_state_digest(), node.seq.last_seq, colliding, key_of(reuse)
        await node.stop()
        return out  # type: ignore[return-value]

    digest, seq, colliding, reused = asyncio.run(first())
    assert reused == 5

    async def second() -> None:
        again = Node(config, clock_ms=lambda: NOW_MS, signature_workers=0)
        again.open()
        assert again.recovered_records == seq
        assert again.engine.compute_state_digest() == digest
        again.seq.use_order_keys(rule)
        await again.start(ticks=False)
        with pytest.raises(ExchangeError) as info:  # the filled key is still held
            await again.place_order(dataclasses.replace(colliding, client_id=colliding.client_id))
        assert info.value.reason is Reason.ORDER_KEY_TAKEN
        await again.stop()

    asyncio.run(second())
