"""The hot routes of the REST API, served by one pure ASGI layer in front of the framework.

``POST /v3/orders`` and ``DELETE /v3/orders/{id}`` carry nearly all of a trading node's
traffic. The framework serves them too — its routes stay, for the OpenAPI document and for
every request this layer does not take — but its machinery per request (matching the path
against every route, dependency injection, ``Request`` objects, ``jsonable_encoder``) costs
more CPU than sequencing the order. Here the same steps run directly, in the same order:
parse the JSON, authenticate (:func:`~starkperp.api.auth.validate_private_request`), check the
body with the same pydantic model, build the order (:mod:`starkperp.api.orders`), call the
node, which answers only after the log commit, and write the JSON answer.

Every refusal is the same 4xx body with the same reason code as the framework route gives.
What this layer does not recognise — another content type, an empty body, a body that is not
a JSON object — goes to the framework unchanged (the body already read is handed on), so the
framework stays the reference for every unusual request.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starkperp.api.auth import validate_private_request
from starkperp.api.orders import build_order, parse_order_id
from starkperp.api.ratelimit import RateDecision, RateLimiter
from starkperp.api.responses import (
    compute_json_bytes,
    error_body,
    get_exchange_error_status,
    get_validation_error,
)
from starkperp.api.schemas import OrderBody
from starkperp.crypto.errors import CryptoError
from starkperp.exchange.errors import ExchangeError
from starkperp.monitor.metrics import NodeMetrics
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.recovery import AccountRecord
from starkperp.node.views import get_order_json

if TYPE_CHECKING:
    from starkperp.node.service import Node

__all__ = ["HotRoutes"]

_ORDERS = SimpleNamespace(path="/v3/orders")
_ORDER = SimpleNamespace(path="/v3/orders/{order_id}")
_ORDER_PREFIX = "/v3/orders/"
_JSON_TYPES = frozenset((b"application/json", b"application/json; charset=utf-8"))


class _Disconnected(Exception):
    """The client went away before its request body arrived."""


class _Replay:
    """A ``receive`` that hands on a body already read, then the connection's own events."""

    __slots__ = ("body", "receive", "sent")

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body = body
        self.receive = receive
        self.sent = False

    async def __call__(self) -> Message:
        if not self.sent:
            self.sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        return await self.receive()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _headers_of(scope: Scope) -> dict[str, str]:
    """Return the request headers by lower-case name (the first of repeated ones wins)."""
    out: dict[str, str] = {}
    for name, value in reversed(scope["headers"]):
        out[name.decode("latin-1")] = value.decode("latin-1")
    return out


def _request_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw is not None else scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    if query and "?" not in path:
        path = f"{path}?{query}"
    return path


class HotRoutes:
    """Pure ASGI middleware serving order placement and cancellation without the framework.

    Sits inside :class:`~starkperp.api.app.RateLimitMiddleware` (which counts the IP, adds
    the ``RateLimit-*`` headers and times the request) and in front of the framework.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        node: Node,
        account_limiter: RateLimiter,
        metrics: NodeMetrics,
    ) -> None:
        self.app = app
        self.node = node
        self.account_limiter = account_limiter
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if method == "POST" and path == "/v3/orders":
                await self._place_order(scope, receive, send)
                return
            if method == "DELETE" and path.startswith(_ORDER_PREFIX):
                order_id = path[len(_ORDER_PREFIX) :]
                if order_id and "/" not in order_id:
                    await self._cancel_order(scope, receive, send, order_id)
                    return
        await self.app(scope, receive, send)

    # ---- routes ------------------------------------------------------------------------

    async def _place_order(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers_of(scope)
        if headers.get("content-type", "").lower().encode("latin-1") not in _JSON_TYPES:
            await self.app(scope, receive, send)
            return
        try:
            raw = await _read_body(receive)
        except _Disconnected:
            return
        data = _load_object(raw)
        if data is None:  # not a JSON object: the framework answers exactly as it always did
            await self.app(scope, _Replay(raw, receive), send)
            return
        scope["route"] = _ORDERS
        try:
            record = self._authenticate(scope, headers, raw, data)
            try:
                body = OrderBody.model_validate(data)
            except ValidationError as exc:
                errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
                reason, msg = get_validation_error(errors)
                await _answer(send, 400, error_body(int(reason), msg))
                return
            node = self.node
            config = node.get_market_config(body.market)
            order, cancel_id = build_order(
                body, account_id=record.account_id, public_key=record.stark_key, config=config
            )
            view = await node.place_order(order, cancel_id=cancel_id)
            document = {"order": get_order_json(view, config, record.uuid)}
        except (NodeError, ExchangeError, CryptoError) as exc:
            await self._refuse(send, exc)
            return
        await _answer(send, 200, document)

    async def _cancel_order(
        self, scope: Scope, receive: Receive, send: Send, order_id: str
    ) -> None:
        try:
            raw = await _read_body(receive)
        except _Disconnected:
            return
        scope["route"] = _ORDER
        try:
            record = self._authenticate(scope, _headers_of(scope), raw, None)
            node = self.node
            oid = parse_order_id(order_id)
            node.get_order_view(oid, record.account_id)
            view = await node.cancel_order(record.account_id, oid)
            config = node.markets[view.order.market]
            document = {"cancelOrder": get_order_json(view, config, record.uuid)}
        except (NodeError, ExchangeError, CryptoError) as exc:
            await self._refuse(send, exc)
            return
        await _answer(send, 200, document)

    # ---- shared steps ------------------------------------------------------------------

    def _authenticate(
        self, scope: Scope, headers: dict[str, str], raw: bytes, data: dict[str, Any] | None
    ) -> AccountRecord:
        record, _, decision = validate_private_request(
            self.node,
            self.account_limiter,
            header=headers.get,
            method=scope["method"],
            request_path=_request_path(scope),
            raw_body=raw,
            parsed_body=data,
        )
        _merge_rate(scope, decision)
        if not decision.allowed:
            raise NodeError(NodeReason.RATE_LIMITED, "account rate limit", status=429)
        return record

    async def _refuse(self, send: Send, exc: NodeError | ExchangeError | CryptoError) -> None:
        if isinstance(exc, NodeError):
            self.metrics.orders_rejected.labels(exc.reason.name).inc()
            await _answer(send, exc.status, error_body(int(exc.reason), exc.message))
        elif isinstance(exc, ExchangeError):
            self.metrics.orders_rejected.labels(exc.reason.name).inc()
            status = get_exchange_error_status(exc)
            await _answer(send, status, error_body(int(exc.reason), exc.message))
        else:
            await _answer(send, 400, error_body(int(NodeReason.BAD_ETH_SIGNATURE), exc.message))


def _load_object(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _merge_rate(scope: Scope, decision: RateDecision) -> None:
    state = scope.get("state")
    if state is None:
        return
    current: RateDecision | None = state.get("rate")
    if current is None or decision.remaining < current.remaining:
        state["rate"] = decision


async def _answer(send: Send, status: int, document: Any) -> None:
    content = compute_json_bytes(document)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(content)).encode("latin-1")),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
