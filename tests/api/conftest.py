"""An in-process node and API for tests: a real SQLite log, httpx over ASGI, a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from starkperp.api.app import create_app
from starkperp.client.http import AsyncStarkPerpClient, Identity
from starkperp.node import config as node_config
from starkperp.node.service import Node

START_MS = 1_700_000_000_000


class Clock:
    """A manual millisecond clock."""

    def __init__(self, now_ms: int = START_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class Harness:
    node: Node
    clock: Clock
    transport: httpx.ASGITransport
    path: Path

    def client(self, identity: Identity | None = None) -> AsyncStarkPerpClient:
        c = AsyncStarkPerpClient("http://node", identity=identity, transport=self.transport)
        c._clock_ms = self.clock
        return c

    async def trader(self, deposit: str = "100000") -> AsyncStarkPerpClient:
        c = self.client(_identity())
        await c.onboard()
        await c.deposit_testnet(deposit)
        return c


_IDS: list[Identity] = []


def _identity() -> Identity:
    # Deriving keys costs ~10 ms each; deterministic keys keep failures reproducible.
    index = len(_IDS) + 1
    ident = Identity.from_eth_key("0x" + f"{index:064x}")
    _IDS.append(ident)
    return ident


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def make_harness(path: Path, **overrides: object) -> Harness:
    clock = Clock()
    config = node_config.minimal(str(path / "node.sqlite"), **overrides)
    node = Node(config, clock_ms=clock)
    await node.start(ticks=False)
    app = create_app(node, manage_lifecycle=False)
    transport = httpx.ASGITransport(app=app)
    return Harness(node=node, clock=clock, transport=transport, path=path)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await make_harness(tmp_path)
    yield h
    await h.node.stop()
