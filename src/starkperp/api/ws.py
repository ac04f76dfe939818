"""The WebSocket feed ``/v3/ws`` in dYdX v3's message format.

A client subscribes with ``{"type": "subscribe", "channel": "v3_orderbook", "id": "BTC-USD"}``
and gets ``subscribed`` (a snapshot) then ``channel_data`` updates, each with a per-connection
``message_id`` that grows by one. Channels: ``v3_markets`` (oracle prices), ``v3_trades``
(fills), ``v3_orderbook`` (snapshot with ``offset`` = the book's sequence number, then deltas
whose ``prevOffset`` must equal the last ``offset`` the client holds — otherwise it missed
something and must resubscribe), and ``v3_accounts`` (orders, fills and positions of one
account; authenticated with the dYdX HMAC over ``timestamp + "GET" + "/ws/accounts"``).

Updates are published only after their log records committed, so the feed never shows what
a crash could take back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from starkperp.api.auth import validate_request_signature
from starkperp.exchange.events import OraclePriceSet
from starkperp.exchange.markets import (
    compute_human_price,
    human_from_collateral,
    human_from_quantity,
)
from starkperp.exchange.model import Fill, Side
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.sequencer import Committed
from starkperp.node.views import format_decimal, get_orderbook_json, get_position_json
from starkperp.node.views import get_trade_json as trade_json

if TYPE_CHECKING:
    from starkperp.node.service import Node

__all__ = ["WsHub", "serve_websocket"]

_MAX_QUEUE = 10_000


class _Connection:
    __slots__ = ("id", "queue", "message_id", "subs", "closed", "book_offsets")

    def __init__(self) -> None:
        self.id = str(uuid.uuid4())
        self.book_offsets: dict[str, int] = {}
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.message_id = 0
        self.subs: set[tuple[str, str]] = set()
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        if self.queue.qsize() > _MAX_QUEUE:
            self.closed = True
            self.queue.put_nowait(None)
            return
        self.message_id += 1
        message["connection_id"] = self.id
        message["message_id"] = self.message_id
        self.queue.put_nowait(message)


class WsHub:
    """Fans committed node events out to subscribed WebSocket connections."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.connections: set[_Connection] = set()
        self.subscribers: dict[tuple[str, str], set[_Connection]] = {}
        self._attached = False

    def attach(self) -> None:
        """Listen to the node's sequencer (once it exists)."""
        if not self._attached:
            self.node.seq.listeners.append(self.publish)
            self._attached = True

    # ---- subscriptions ---------------------------------------------------------------

    def subscribe(self, conn: _Connection, channel: str, key: str) -> None:
        """Register a subscription."""
        conn.subs.add((channel, key))
        self.subscribers.setdefault((channel, key), set()).add(conn)

    def unsubscribe(self, conn: _Connection, channel: str, key: str) -> None:
        """Drop a subscription."""
        conn.subs.discard((channel, key))
        subs = self.subscribers.get((channel, key))
        if subs is not None:
            subs.discard(conn)

    def drop(self, conn: _Connection) -> None:
        """Forget a connection."""
        for channel, key in list(conn.subs):
            self.unsubscribe(conn, channel, key)
        self.connections.discard(conn)

    def _fanout(self, channel: str, key: str, contents: dict[str, Any]) -> None:
        for conn in list(self.subscribers.get((channel, key), ())):
            conn.send({"type": "channel_data", "channel": channel, "id": key, "contents": contents})

    # ---- publishing ------------------------------------------------------------------

    def publish(self, committed: Sequence[Committed]) -> None:
        """Turn a committed group into channel messages."""
        if not self.connections:
            return
        node = self.node
        trades: dict[str, list[dict[str, Any]]] = {}
        prices: dict[str, dict[str, Any]] = {}
        account_rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for c in committed:
            for event in c.events:
                if isinstance(event, Fill) and ("v3_trades", event.market) in self.subscribers:
                    trades.setdefault(event.market, []).append(
                        trade_json(event, node.markets[event.market])
                    )
                elif isinstance(event, OraclePriceSet):
                    human = format_decimal(
                        compute_human_price(node.markets[event.market], event.price)
                    )
                    prices[event.market] = {"oraclePrice": human, "indexPrice": human}
            for w in c.writes:
                if w.table in ("orders", "fills") and ("v3_accounts", w.account_id) in (
                    self.subscribers
                ):
                    account_rows.setdefault(w.account_id, {}).setdefault(w.table, []).append(w.data)
        for market, rows in trades.items():
            self._fanout("v3_trades", market, {"trades": rows})
        if prices:
            self._fanout("v3_markets", "", {"markets": prices})
        if committed:
            self._publish_books(committed[-1].book_seqs)
        for account_id, tables in account_rows.items():
            contents: dict[str, Any] = {
                "orders": tables.get("orders", []),
                "fills": tables.get("fills", []),
                "positions": self._positions(int(account_id)),
            }
            self._fanout("v3_accounts", account_id, contents)

    def _publish_books(self, book_seqs: dict[str, int]) -> None:
        # Each connection continues from its own offset (its snapshot may have been taken
        # ahead of what was published); group connections by offset to build each message once.
        for (channel, market), conns in self.subscribers.items():
            if channel != "v3_orderbook" or not conns:
                continue
            target = book_seqs.get(market)
            if target is None:
                continue
            by_offset: dict[int, list[_Connection]] = {}
            for conn in conns:
                last = conn.book_offsets.get(market, target)
                if last < target:
                    by_offset.setdefault(last, []).append(conn)
            for last, group in by_offset.items():
                contents, offset = self._book_update(market, last, target)
                if contents is None:
                    continue
                for conn in group:
                    conn.book_offsets[market] = offset
                    conn.send(
                        {
                            "type": "channel_data",
                            "channel": "v3_orderbook",
                            "id": market,
                            "contents": dict(contents),
                        }
                    )

    def _book_update(
        self, market: str, last: int, target: int
    ) -> tuple[dict[str, Any] | None, int]:
        config = self.node.markets[market]
        deltas = self.node.engine.get_book_deltas(market, last)
        if deltas is None:
            snap = self.node.engine.get_orderbook(market)
            contents = get_orderbook_json(snap, config)
            contents["snapshot"] = True
            contents["prevOffset"] = str(last)
            return contents, snap.seq
        deltas = [d for d in deltas if d.seq <= target]
        if not deltas:
            return None, last

        def level(d: Any) -> list[str]:
            return [
                format_decimal(compute_human_price(config, d.price)),
                format_decimal(human_from_quantity(config, d.size)),
            ]

        return {
            "prevOffset": str(last),
            "offset": str(deltas[-1].seq),
            "bids": [level(d) for d in deltas if d.side is Side.BUY],
            "asks": [level(d) for d in deltas if d.side is Side.SELL],
        }, deltas[-1].seq

    def _positions(self, account_id: int) -> list[dict[str, Any]]:
        node = self.node
        record = node.registry.by_account.get(account_id)
        created = record.created_ms if record else 0
        return [
            get_position_json(
                p, node.markets[p.market], node.engine.get_oracle_price(p.market), created
            )
            for p in node.engine.get_positions(account_id)
        ]

    # ---- snapshots -------------------------------------------------------------------

    def snapshot(self, channel: str, key: str, conn: _Connection | None = None) -> dict[str, Any]:
        """Return the ``contents`` of a ``subscribed`` message."""
        node = self.node
        if channel == "v3_orderbook":
            config = node.get_market_config(key)
            snap = node.engine.get_orderbook(key)
            if conn is not None:
                # The next delta message to this connection continues from the snapshot.
                conn.book_offsets[key] = snap.seq
            return get_orderbook_json(snap, config)
        if channel == "v3_trades":
            config = node.get_market_config(key)
            return {"trades": [trade_json(f, config) for f in node.engine.get_trades(key, 100)]}
        if channel == "v3_markets":
            out = {}
            for market, config in node.markets.items():
                price = node.engine.get_oracle_price(market)
                human = "0" if price is None else format_decimal(compute_human_price(config, price))
                out[market] = {"market": market, "oraclePrice": human, "indexPrice": human}
            return {"markets": out}
        raise NodeError(NodeReason.MALFORMED_REQUEST, f"unknown channel {channel!r}")


async def serve_websocket(hub: WsHub, ws: WebSocket) -> None:
    """Serve one WebSocket connection until it closes."""
    await ws.accept()
    hub.attach()
    conn = _Connection()
    hub.connections.add(conn)
    await ws.send_text(json.dumps({"type": "connected", "connection_id": conn.id, "message_id": 0}))
    writer = asyncio.get_running_loop().create_task(_writer(ws, conn))
    try:
        while True:
            text = await ws.receive_text()
            _handle(hub, conn, text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.drop(conn)
        conn.closed = True
        conn.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await writer


async def _writer(ws: WebSocket, conn: _Connection) -> None:
    while True:
        message = await conn.queue.get()
        if message is None:
            with contextlib.suppress(Exception):
                await ws.close()
            return
        try:
            await ws.send_text(json.dumps(message))
        except Exception:
            return


_CHANNELS = ("v3_orderbook", "v3_trades", "v3_markets", "v3_accounts")


def _handle(hub: WsHub, conn: _Connection, text: str) -> None:
    try:
        msg = json.loads(text)
    except ValueError:
        conn.send({"type": "error", "message": "message is not JSON"})
        return
    if not isinstance(msg, dict):
        conn.send({"type": "error", "message": "message must be an object"})
        return
    kind = msg.get("type")
    channel = msg.get("channel")
    if kind not in ("subscribe", "unsubscribe") or channel not in _CHANNELS:
        conn.send({"type": "error", "message": f"unknown type/channel {kind!r}/{channel!r}"})
        return
    key = str(msg.get("id", "")) if channel != "v3_markets" else ""
    try:
        if channel == "v3_accounts":
            key = _authenticate_ws(hub, msg)
        elif channel != "v3_markets":
            hub.node.get_market_config(key)
    except NodeError as exc:
        conn.send({"type": "error", "message": exc.message, "code": int(exc.reason)})
        return
    except Exception as exc:  # hostile auth fields
        conn.send({"type": "error", "message": f"bad subscription: {type(exc).__name__}"})
        return
    if kind == "unsubscribe":
        hub.unsubscribe(conn, channel, key)
        conn.send({"type": "unsubscribed", "channel": channel, "id": msg.get("id", key)})
        return
    if channel == "v3_accounts":
        contents = _account_snapshot(hub, int(key))
    else:
        contents = hub.snapshot(channel, key, conn)
    hub.subscribe(conn, channel, key)
    conn.send(
        {"type": "subscribed", "channel": channel, "id": msg.get("id", key), "contents": contents}
    )


def _authenticate_ws(hub: WsHub, msg: dict[str, Any]) -> str:
    node = hub.node
    creds, record = node.get_credentials(str(msg.get("apiKey", "")))
    validate_request_signature(
        credentials=creds,
        passphrase=str(msg.get("passphrase", "")),
        signature=str(msg.get("signature", "")),
        iso_timestamp=str(msg.get("timestamp", "")),
        method="GET",
        request_path="/ws/accounts",
        body=None,
        now_ms=node.clock_ms(),
        max_skew_ms=node.config.max_timestamp_skew_ms,
    )
    return str(record.account_id)


def _account_snapshot(hub: WsHub, account_id: int) -> dict[str, Any]:
    node = hub.node
    orders = node.store.query_rows(
        "orders", account_id=str(account_id), statuses=["OPEN", "UNTRIGGERED"], limit=1000
    )
    view = node.engine.get_account(account_id)
    return {
        "account": {
            "positionId": str(account_id),
            "equity": format_decimal(human_from_collateral(view.equity)),
            "freeCollateral": format_decimal(human_from_collateral(view.free_collateral)),
            "quoteBalance": format_decimal(human_from_collateral(view.collateral)),
            "openPositions": {p["market"]: p for p in hub._positions(account_id)},
        },
        "orders": orders,
    }
