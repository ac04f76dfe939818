"""The WebSocket feed: snapshot then deltas with sequence numbers; gaps are detectable."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from starkperp.api.app import create_app
from starkperp.client.http import Identity, StarkPerpClient
from starkperp.client.ws import GapDetected, LocalBook
from starkperp.node import config as node_config
from starkperp.node.service import Node

EXP = 4_000_000_000


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Node]]:
    node = Node(node_config.minimal(str(tmp_path / "n.sqlite")))
    with TestClient(create_app(node)) as client:
        yield client, node


def _trader(client: TestClient, k: int) -> StarkPerpClient:
    sdk = StarkPerpClient("http://testserver", identity=Identity.from_eth_key(f"0x{k:064x}"))
    sdk.http = client
    sdk.onboard()
    sdk.deposit_testnet("100000")
    return sdk


def _recv_until(ws: Any, channel: str) -> dict[str, Any]:
    while True:
        msg = ws.receive_json()
        if msg.get("channel") == channel:
            return dict(msg)


def test_orderbook_snapshot_then_deltas_rebuild_the_book(api: tuple[TestClient, Node]) -> None:
    client, node = api
    maker = _trader(client, 901)
    maker.place_order(
        market="BTC-USD", side="SELL", size="0.01", price="50100", client_id="a", expiration_s=EXP
    )
    book = LocalBook("BTC-USD")
    with client.websocket_connect("/v3/ws") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "connected" and hello["message_id"] == 0
        book.last_message_id = 0
        ws.send_json({"type": "subscribe", "channel": "v3_orderbook", "id": "BTC-USD"})
        first = _recv_until(ws, "v3_orderbook")
        assert first["type"] == "subscribed"
        book.apply(first)
        assert [str(p) for p in book.asks] == ["50100"]
        maker.place_order(
            market="BTC-USD", side="SELL", size="0.02", price="50200", client_id="b",
            expiration_s=EXP,
        )  # fmt: skip
        maker.place_order(
            market="BTC-USD", side="BUY", size="0.01", price="49000", client_id="c",
            expiration_s=EXP,
        )  # fmt: skip
        for _ in range(2):
            book.apply(_recv_until(ws, "v3_orderbook"))
        snap = node.engine.get_orderbook("BTC-USD")
        assert book.offset == snap.seq
        assert [str(p) for p in sorted(book.asks)] == ["50100", "50200"]
        assert [str(p) for p in book.bids] == ["49000"]


def test_invalid_gap_is_detected() -> None:
    book = LocalBook("BTC-USD")
    snapshot = {
        "type": "subscribed", "channel": "v3_orderbook", "id": "BTC-USD", "message_id": 1,
        "contents": {"offset": "5", "bids": [], "asks": []},
    }  # fmt: skip
    book.apply(snapshot)
    delta = {
        "type": "channel_data", "channel": "v3_orderbook", "id": "BTC-USD", "message_id": 2,
        "contents": {"prevOffset": "6", "offset": "7", "bids": [["100", "1"]], "asks": []},
    }  # fmt: skip
    with pytest.raises(GapDetected):
        book.apply(delta)
    skipped = dict(delta, message_id=4)
    with pytest.raises(GapDetected):
        book.apply(skipped)
    assert book.gaps == 2


def test_trades_markets_and_accounts_channels(api: tuple[TestClient, Node]) -> None:
    client, node = api
    maker = _trader(client, 902)
    taker = _trader(client, 903)
    assert taker.identity is not None
    creds = taker.identity.credentials
    from starkperp.api.auth import compute_request_signature
    from starkperp.node.views import format_iso_ms

    ts = format_iso_ms(node.clock_ms())
    sig = compute_request_signature(
        secret=creds.secret, iso_timestamp=ts, method="GET", request_path="/ws/accounts", body=None
    )
    with client.websocket_connect("/v3/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "channel": "v3_trades", "id": "BTC-USD"})
        assert _recv_until(ws, "v3_trades")["type"] == "subscribed"
        ws.send_json({"type": "subscribe", "channel": "v3_markets"})
        markets = _recv_until(ws, "v3_markets")
        assert markets["contents"]["markets"]["BTC-USD"]["oraclePrice"] == "50000"
        ws.send_json(
            {
                "type": "subscribe", "channel": "v3_accounts", "accountNumber": "0",
                "apiKey": creds.key, "passphrase": creds.passphrase, "timestamp": ts,
                "signature": sig,
            }
        )  # fmt: skip
        sub = _recv_until(ws, "v3_accounts")
        assert sub["type"] == "subscribed"
        assert sub["contents"]["account"]["quoteBalance"] == "100000"
        maker.place_order(
            market="BTC-USD", side="SELL", size="0.01", price="50100", client_id="m",
            expiration_s=EXP,
        )  # fmt: skip
        taker.place_order(
            market="BTC-USD", side="BUY", size="0.01", price="50100", client_id="t",
            expiration_s=EXP,
        )  # fmt: skip
        trade = _recv_until(ws, "v3_trades")
        assert trade["contents"]["trades"][0]["price"] == "50100"
        acct = _recv_until(ws, "v3_accounts")
        assert acct["contents"]["fills"][0]["liquidity"] == "TAKER"
        assert acct["contents"]["positions"][0]["size"] == "0.01"
        ws.send_json({"type": "subscribe", "channel": "v3_accounts", "apiKey": "nope"})
        err = ws.receive_json()
        assert err["type"] == "error"


def test_two_subscribers_joining_at_different_times_see_no_gap(
    api: tuple[TestClient, Node],
) -> None:
    client, node = api
    maker = _trader(client, 904)

    def place(k: int) -> None:
        maker.place_order(
            market="BTC-USD", side="SELL", size="0.01", price=str(50_100 + k), client_id=f"x{k}",
            expiration_s=EXP,
        )  # fmt: skip

    with client.websocket_connect("/v3/ws") as a, client.websocket_connect("/v3/ws") as b:
        books = {}
        for name, ws in (("a", a), ("b", b)):
            ws.receive_json()
            books[name] = LocalBook("BTC-USD")
            books[name].last_message_id = 0
        a.send_json({"type": "subscribe", "channel": "v3_orderbook", "id": "BTC-USD"})
        books["a"].apply(_recv_until(a, "v3_orderbook"))
        place(0)
        place(1)
        b.send_json({"type": "subscribe", "channel": "v3_orderbook", "id": "BTC-USD"})
        books["b"].apply(_recv_until(b, "v3_orderbook"))
        place(2)
        target = node.engine.get_orderbook("BTC-USD").seq
        for name, ws in (("a", a), ("b", b)):
            while books[name].offset < target:
                books[name].apply(_recv_until(ws, "v3_orderbook"))
            assert len(books[name].asks) == 3 and books[name].gaps == 0
