"""A small WebSocket client that keeps a local order book and detects gaps.

:class:`LocalBook` applies the ``v3_orderbook`` messages of ``/v3/ws``: the ``subscribed``
snapshot (``offset`` = the book's sequence number) and then ``channel_data`` deltas, each
naming the ``prevOffset`` it continues from. A delta whose ``prevOffset`` is not the offset
the book holds, or a ``message_id`` that skips, means messages were missed:
:class:`GapDetected` is raised and the caller resubscribes (which :func:`follow_book` does).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from starkperp.errors import StarkPerpError
from starkperp.node.errors import NodeReason

__all__ = ["GapDetected", "LocalBook", "follow_book"]


class GapDetected(StarkPerpError):
    """The feed skipped a sequence number; the local book is no longer trustworthy."""

    def __init__(self, message: str) -> None:
        super().__init__(NodeReason.NOT_READY, message)


class LocalBook:
    """Price levels of one market rebuilt from the feed (human decimal prices and sizes)."""

    def __init__(self, market: str) -> None:
        self.market = market
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.offset = -1
        self.last_message_id = -1
        self.gaps = 0

    def best_bid(self) -> Decimal | None:
        """Return the highest bid price."""
        return max(self.bids) if self.bids else None

    def best_ask(self) -> Decimal | None:
        """Return the lowest ask price."""
        return min(self.asks) if self.asks else None

    def apply(self, message: dict[str, Any]) -> bool:
        """Apply one feed message; return True if it changed the book. Raise on a gap."""
        if message.get("channel") != "v3_orderbook" or message.get("id") != self.market:
            return False
        message_id = int(message.get("message_id", -1))
        if self.last_message_id >= 0 and message_id != self.last_message_id + 1:
            self.gaps += 1
            raise GapDetected(f"message_id {self.last_message_id} -> {message_id}")
        self.last_message_id = message_id
        contents = message["contents"]
        if message.get("type") == "subscribed" or contents.get("snapshot"):
            self.bids = {Decimal(lv["price"]): Decimal(lv["size"]) for lv in contents["bids"]}
            self.asks = {Decimal(lv["price"]): Decimal(lv["size"]) for lv in contents["asks"]}
            self.offset = int(contents["offset"])
            return True
        prev = int(contents["prevOffset"])
        if prev != self.offset:
            self.gaps += 1
            raise GapDetected(f"book offset {self.offset}, update continues from {prev}")
        for side, levels in (("bids", self.bids), ("asks", self.asks)):
            for price_text, size_text in contents.get(side, []):
                price, size = Decimal(price_text), Decimal(size_text)
                if size == 0:
                    levels.pop(price, None)
                else:
                    levels[price] = size
        self.offset = int(contents["offset"])
        return True

    def reset(self) -> None:
        """Forget everything (before a resubscription)."""
        self.bids.clear()
        self.asks.clear()
        self.offset = -1
        self.last_message_id = -1


async def follow_book(
    ws_url: str,
    market: str,
    on_update: Callable[[LocalBook], Awaitable[bool]],
) -> LocalBook:
    """Keep a local book of ``market`` from ``ws_url``; resubscribe on gaps.

    ``on_update`` is awaited after every change and returns False to stop following.
    """
    import websockets

    book = LocalBook(market)
    while True:
        book.reset()
        async with websockets.connect(ws_url) as ws:
            hello = json.loads(await ws.recv())
            book.last_message_id = int(hello.get("message_id", 0))
            request = {"type": "subscribe", "channel": "v3_orderbook", "id": market}
            await ws.send(json.dumps(request))
            try:
                while True:
                    message = json.loads(await ws.recv())
                    if book.apply(message) and not await on_update(book):
                        return book
            except GapDetected:
                continue
