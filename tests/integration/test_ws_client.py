"""The WebSocket book client against a real node (uvicorn subprocess)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest

from starkperp.client.http import AsyncStarkPerpClient, Identity
from starkperp.client.ws import LocalBook, follow_book
from tests.node.nodeproc import NodeProcess


@pytest.mark.slow
def test_follow_book_tracks_orders_placed_over_http(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "node.sqlite")
    node.start()
    exp = int(time.time()) + 86400

    async def run() -> LocalBook:
        maker = AsyncStarkPerpClient(node.url, identity=Identity.from_eth_key("0x" + "5e" * 32))
        await maker.onboard()
        await maker.deposit_testnet("100000")
        seen = asyncio.Event()

        async def on_update(book: LocalBook) -> bool:
            seen.set()
            return len(book.asks) < 3

        follower = asyncio.create_task(
            follow_book(node.url.replace("http", "ws") + "/v3/ws", "BTC-USD", on_update)
        )
        await asyncio.wait_for(seen.wait(), 20)
        for k in range(3):
            await maker.place_order(
                market="BTC-USD", side="SELL", size="0.01", price=str(50_100 + k),
                client_id=f"a{k}", expiration_s=exp,
            )  # fmt: skip
        book = await asyncio.wait_for(follower, 20)
        await maker.aclose()
        return book

    try:
        book = asyncio.run(run())
    finally:
        node.stop()
    assert sorted(book.asks) == [Decimal(50_100), Decimal(50_101), Decimal(50_102)]
    assert book.gaps == 0 and book.offset > 0
