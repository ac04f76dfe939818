"""The hot order routes answer exactly as the framework routes they stand in for.

Two nodes start from the same state with the same clock and traders; one serves
``POST /v3/orders`` and ``DELETE /v3/orders/{id}`` through :class:`starkperp.api.hot.HotRoutes`,
the other through the FastAPI routes (the reference). The same requests — accepted orders,
fills, cancel-replace, cancels, and every kind of refusal — go to both, and the status, the
body (error code, or the whole order document) and the rate-limit headers must agree, as must
the two nodes' log positions and state digests at the end.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from starkperp.api import hot
from starkperp.api.app import create_app
from starkperp.client.http import AsyncStarkPerpClient, Identity, build_order_body
from starkperp.node import config as node_config
from starkperp.node.service import Node
from tests.api.conftest import START_MS, Clock

pytestmark = pytest.mark.anyio

EXP = START_MS // 1000 + 30 * 86400
_KEYS = [Identity.from_eth_key(f"0x{0xA000 + k:064x}") for k in range(2)]


@dataclass
class Side_:
    node: Node
    clients: list[AsyncStarkPerpClient]


async def _start(path: Path, clock: Clock, *, hot_routes: bool, **overrides: Any) -> Side_:
    config = node_config.minimal(str(path / "node.sqlite"), **overrides)
    node = Node(config, clock_ms=clock, signature_workers=0)
    await node.start(ticks=False)
    app = create_app(node, manage_lifecycle=False, hot_routes=hot_routes)
    transport = httpx.ASGITransport(app=app)
    clients = []
    for ident in _KEYS:
        c = AsyncStarkPerpClient("http://node", identity=ident, transport=transport)
        c._clock_ms = clock
        await c.onboard()
        await c.deposit_testnet("100000")
        clients.append(c)
    return Side_(node=node, clients=clients)


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Side_, Side_]]:
    clock = Clock()
    (tmp_path / "hot").mkdir()
    (tmp_path / "ref").mkdir()
    fast = await _start(tmp_path / "hot", clock, hot_routes=True)
    ref = await _start(tmp_path / "ref", clock, hot_routes=False)
    yield fast, ref
    for side in (fast, ref):
        for c in side.clients:
            await c.aclose()
        await side.node.stop()


Request = tuple[str, str, bytes | None, dict[str, str]]


def _signed(
    c: AsyncStarkPerpClient,
    method: str,
    path: str,
    body: Any,
    *,
    content_type: str = "application/json",
) -> Request:
    headers = c._private_headers(method, path, body)
    headers["Content-Type"] = content_type
    content = None if body is None else json.dumps(body).encode()
    return method, path, content, headers


def _order(c: AsyncStarkPerpClient, **kw: Any) -> dict[str, Any]:
    assert c.identity is not None
    args: dict[str, Any] = {
        "market": "BTC-USD",
        "side": "SELL",
        "size": "0.01",
        "price": "50000",
        "client_id": "c",
        "expiration_s": EXP,
    }
    args.update(kw)
    return build_order_body(c.identity, **args)


async def _send(c: AsyncStarkPerpClient, request: Request) -> httpx.Response:
    method, path, content, headers = request
    return await c.http.request(method, path, headers=headers, content=content)


def _digest(response: httpx.Response) -> tuple[int, Any, tuple[str | None, ...]]:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if response.status_code >= 400 and isinstance(body, dict) and "errors" in body:
        body = body["errors"][0]["code"]  # messages may word pydantic's errors differently
    rate = tuple(response.headers.get(h) for h in ("ratelimit-limit", "ratelimit-remaining"))
    return response.status_code, body, rate


async def _both(
    pair: tuple[Side_, Side_], who: int, build: Callable[[AsyncStarkPerpClient], Request]
) -> tuple[int, Any]:
    fast, ref = pair
    got = _digest(await _send(fast.clients[who], build(fast.clients[who])))
    want = _digest(await _send(ref.clients[who], build(ref.clients[who])))
    assert got == want
    return got[0], got[1]


def _tamper(request: Request, header: str, value: str) -> Request:
    method, path, content, headers = request
    return method, path, content, {**headers, header: value}


async def test_hot_routes_answer_as_the_framework(
    pair: tuple[Side_, Side_], monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[str] = []
    real = hot.HotRoutes._place_order

    async def spy(self: hot.HotRoutes, scope: Any, receive: Any, send: Any) -> None:
        served.append(scope["path"])
        await real(self, scope, receive, send)

    monkeypatch.setattr(hot.HotRoutes, "_place_order", spy)
    post = "/v3/orders"

    status, maker = await _both(pair, 0, lambda c: _signed(c, "POST", post, _order(c)))
    assert status == 200 and maker["order"]["status"] == "OPEN", maker
    assert served == [post]  # the hot node took it; the reference node has no hot layer
    status, taker = await _both(
        pair, 1, lambda c: _signed(c, "POST", post, _order(c, side="BUY", client_id="t"))
    )
    assert status == 200 and taker["order"]["status"] == "FILLED"
    status, resting = await _both(
        pair, 0, lambda c: _signed(c, "POST", post, _order(c, price="51000", client_id="r"))
    )
    assert status == 200
    oid = resting["order"]["id"]
    status, replaced = await _both(
        pair,
        0,
        lambda c: _signed(
            c, "POST", post, {**_order(c, price="52000", client_id="r2"), "cancelId": oid}
        ),
    )
    assert status == 200
    new_id = replaced["order"]["id"]

    refusals: list[tuple[int, Callable[[AsyncStarkPerpClient], Request]]] = [
        (0, lambda c: _signed(c, "POST", post, _order(c, client_id="c", size="0.02"))),
        (0, lambda c: _signed(c, "POST", post, _order(c, market="DOGE-USD", client_id="u"))),
        (0, lambda c: _signed(c, "POST", post, {**_order(c, client_id="s"), "size": "0.0001"})),
        (0, lambda c: _signed(c, "POST", post, {**_order(c, client_id="s"), "size": "0.02"})),
        (0, lambda c: _signed(c, "POST", post, {**_order(c, client_id="s"), "postOnly": "no"})),
        (0, lambda c: _signed(c, "POST", post, {**_order(c, client_id="s"), "price": 5})),
        (0, lambda c: _signed(c, "POST", post, {**_order(c, client_id="s"), "side": "UP"})),
        (0, lambda c: _signed(c, "POST", post, {**_order(c, client_id="s"), "limitFee": "1"})),
        (0, lambda c: _signed(c, "POST", post, {**_order(c, client_id="s"), "cancelId": "x"})),
        (0, lambda c: _signed(c, "POST", post, {**_order(c, client_id="s"), "signature": "0x1"})),
        (0, lambda c: _signed(c, "POST", post, _order(c, client_id="e", expiration_s=10))),
        (0, lambda c: _signed(c, "POST", post, {k: v for k, v in _order(c).items() if k != "price"})),
        (0, lambda c: _signed(c, "POST", post, {})),
        (0, lambda c: _signed(c, "POST", post, [1, 2])),
        (0, lambda c: _signed(c, "POST", post, "text")),
        (0, lambda c: _signed(c, "POST", post, None)),
        (0, lambda c: ("POST", post, b"{not json", c._private_headers("POST", post, None))),
        (0, lambda c: ("POST", post, b"\xff\xfe", c._private_headers("POST", post, None))),
        (0, lambda c: _signed(c, "POST", post, _order(c, client_id="p"), content_type="text/plain")),
        (0, lambda c: ("POST", post, json.dumps(_order(c, client_id="h")).encode(), {})),
        (0, lambda c: _tamper(_signed(c, "POST", post, _order(c, client_id="h")), "DYDX-SIGNATURE", "AAAA")),
        (0, lambda c: _tamper(_signed(c, "POST", post, _order(c, client_id="h")), "DYDX-PASSPHRASE", "x")),
        (0, lambda c: _tamper(_signed(c, "POST", post, _order(c, client_id="h")), "DYDX-API-KEY", "k")),
        (0, lambda c: _tamper(_signed(c, "POST", post, _order(c, client_id="h")), "DYDX-TIMESTAMP", "2001-01-01T00:00:00.000Z")),
        (0, lambda c: _tamper(_signed(c, "POST", post, _order(c, client_id="h")), "DYDX-TIMESTAMP", "yesterday")),
        (0, lambda c: _signed(c, "POST", post + "?x=1", _order(c, client_id="q", price="53000"))),
        (0, lambda c: _signed(c, "DELETE", "/v3/orders/99999", None)),
        (0, lambda c: _signed(c, "DELETE", "/v3/orders/abc", None)),
        (0, lambda c: _signed(c, "DELETE", f"/v3/orders/{oid}", None)),
        (1, lambda c: _signed(c, "DELETE", f"/v3/orders/{new_id}", None)),
        (0, lambda c: _signed(c, "DELETE", f"/v3/orders/{oid}", {"x": 1})),
        (0, lambda c: ("DELETE", f"/v3/orders/{new_id}", b"{", c._private_headers("DELETE", f"/v3/orders/{new_id}", None))),
        (0, lambda c: _signed(c, "DELETE", "/v3/orders/client/x", None)),
    ]  # fmt: skip
    statuses = [(await _both(pair, who, build))[0] for who, build in refusals]
    # All refused (the order cancel-replace cancelled cannot be cancelled again) but one:
    # the order posted to a path with a query string, which its HMAC covers.
    assert [k for k, status in enumerate(statuses) if not 400 <= status < 500] == [25]
    status, canceled = await _both(
        pair, 0, lambda c: _signed(c, "DELETE", f"/v3/orders/{new_id}", None)
    )
    assert status == 200 and canceled["cancelOrder"]["status"] == "CANCELED"
    fast, ref = pair
    assert fast.node.seq.last_seq == ref.node.seq.last_seq
    assert fast.node.engine.compute_state_digest() == ref.node.engine.compute_state_digest()


async def test_invalid_over_the_account_rate_limit_answers_as_the_framework(
    tmp_path: Path,
) -> None:
    clock = Clock()
    sides = []
    for name, hot_routes in (("hot", True), ("ref", False)):
        (tmp_path / name).mkdir()
        sides.append(
            await _start(tmp_path / name, clock, hot_routes=hot_routes, account_rate_limit=3)
        )
    pair = (sides[0], sides[1])
    try:
        answers = []
        for k in range(3):
            answers.append(
                await _both(
                    pair,
                    0,
                    lambda c, k=k: _signed(  # type: ignore[misc]
                        c, "POST", "/v3/orders", _order(c, client_id=f"l{k}", price="55000")
                    ),
                )
            )
        # The deposit used 1 of the 3; the third order is one too many.
        assert [a[0] for a in answers] == [200, 200, 429]
        assert answers[2][1] == 1030
    finally:
        for side in sides:
            for c in side.clients:
                await c.aclose()
            await side.node.stop()
