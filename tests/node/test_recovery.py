"""SIGKILL a node under load at random moments, restart it: nothing acknowledged is lost.

Concurrent signed clients place orders (some crossing), cancel and withdraw, recording every
acknowledgement. The node subprocess is killed with SIGKILL at a random moment, restarted on
the same log, and must (1) show every acknowledged order with its client id, every
acknowledged cancel as canceled, every acknowledged withdrawal, and a fill for every
acknowledged fill, and (2) hold a state whose digest equals a clean replay of the log.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from starkperp.client.http import ApiError, AsyncStarkPerpClient, Identity
from starkperp.node import config as node_config
from starkperp.node.log import SqliteLogStore
from starkperp.node.recovery import replay_log
from tests.node.nodeproc import NodeProcess

EXP_TTL = 30 * 86400


async def _load(
    clients: list[AsyncStarkPerpClient], acked: dict[str, Any], stop: asyncio.Event, seed: int
) -> None:
    rng = random.Random(seed)
    exp = int(time.time()) + EXP_TTL

    async def worker(i: int) -> None:
        c = clients[i % len(clients)]
        n = 0
        while not stop.is_set():
            n += 1
            action = rng.random()
            try:
                if action < 0.75:
                    side = rng.choice(["BUY", "SELL"])
                    price = str(rng.randint(49_900, 50_100))
                    cid = f"{seed}-{i}-{n}"
                    order = await c.place_order(
                        market="BTC-USD", side=side, size="0.001", price=price, client_id=cid,
                        expiration_s=exp,
                    )  # fmt: skip
                    acked["orders"][order["id"]] = (c, cid, order["status"])
                elif action < 0.95 and acked["orders"]:
                    oid = rng.choice(list(acked["orders"]))
                    owner = acked["orders"][oid][0]
                    out = await owner.cancel_order(oid)
                    acked["cancels"].add(out["id"])
                else:
                    wid = f"w-{seed}-{i}-{n}"
                    await c.withdraw("1", wid, exp)
                    acked["withdrawals"].add((c.identity.position_id, wid))  # type: ignore[union-attr]
            except ApiError:
                continue
            except httpx.HTTPError:
                return

    await asyncio.gather(*(worker(i) for i in range(6)))


async def _session(node: NodeProcess, idents: list[Identity], seed: int, kill_after: float) -> dict:
    clients = [AsyncStarkPerpClient(node.url, identity=i, timeout=5) for i in idents]
    acked: dict[str, Any] = {"orders": {}, "cancels": set(), "withdrawals": set()}
    stop = asyncio.Event()
    task = asyncio.create_task(_load(clients, acked, stop, seed))
    await asyncio.sleep(kill_after)
    node.kill()
    stop.set()
    await task
    for c in clients:
        await c.aclose()
    return acked


async def _verify(node: NodeProcess, idents: list[Identity], acked: dict[str, Any]) -> None:
    by_pos = {i.position_id: AsyncStarkPerpClient(node.url, identity=i) for i in idents}
    try:
        for oid, (c, cid, _status) in acked["orders"].items():
            owner = by_pos[c.identity.position_id]
            got = (await owner.private("GET", f"/v3/orders/{oid}"))["order"]
            assert got["clientId"] == cid
            if oid in acked["cancels"]:
                assert got["status"] == "CANCELED"
        for pos, wid in acked["withdrawals"]:
            rows = await by_pos[pos].private("GET", "/v3/withdrawals", {"limit": 1000})
            assert rows["withdrawals"], f"withdrawal {wid} lost"
        for c in by_pos.values():
            fills = (await c.private("GET", "/v3/fills", {"limit": 1000}))["fills"]
            filled = {
                oid for oid, (cl, _, st) in acked["orders"].items()
                if st == "FILLED" and cl.identity.position_id == c.identity.position_id
            }  # fmt: skip
            assert filled <= {f["orderId"] for f in fills}
    finally:
        for c in by_pos.values():
            await c.aclose()


@pytest.mark.slow
def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "node.sqlite"
    node = NodeProcess(db)
    node.start()
    idents: list[Identity] = []

    async def onboard() -> None:
        for k in range(3):
            c = AsyncStarkPerpClient(node.url, identity=Identity.from_eth_key(f"0x{k + 77:064x}"))
            await c.onboard()
            await c.deposit_testnet("1000000")
            assert c.identity is not None
            idents.append(c.identity)
            await c.aclose()

    asyncio.run(onboard())
    rng = random.Random(2024)
    totals = {"orders": 0, "cancels": 0, "withdrawals": 0}
    for round_ in range(3):
        acked = asyncio.run(_session(node, idents, round_, kill_after=rng.uniform(1.0, 2.5)))
        for k in totals:
            totals[k] += len(acked[k])
        node.start()
        asyncio.run(_verify(node, idents, acked))
    assert totals["orders"] > 20, totals
    status = httpx.get(f"{node.url}/v3/status", timeout=10).json()
    node.stop()
    store = SqliteLogStore(str(db))
    exchange, _, last = replay_log(store, node_config.minimal(str(db)).exchange)
    store.close()
    assert last == status["logSeq"]
    assert exchange.compute_state_digest().hex() == status["stateDigest"]
