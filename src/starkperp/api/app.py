"""The HTTP API in the dYdX v3 dialect: routes under ``/v3``, thin handlers over the node.

Public routes (markets, orderbook, trades, candles, historical funding, time, config) read the
live engine; private routes authenticate with dYdX v3's HMAC headers
(:mod:`starkperp.api.auth`) and call :class:`~starkperp.node.service.Node` commands, which
answer only after the command's log record is durable. Every refusal is a 4xx with dYdX's
error body ``{"errors": [{"msg": ..., "code": <reason code>}]}``; rate limits per IP and per
account answer with ``RateLimit-*`` headers. ``/healthz``, ``/readyz``, ``/metrics`` and
``/openapi.json`` serve operators and tools; ``/v3/ws`` streams markets, trades, books and
accounts (:mod:`starkperp.api.ws`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starkperp.api.auth import validate_private_request
from starkperp.api.hot import HotRoutes
from starkperp.api.orders import build_order, parse_order_id, parse_signature
from starkperp.api.orders import parse_expiration_s as _parse_expiration_s
from starkperp.api.ratelimit import RateDecision, RateLimiter
from starkperp.api.responses import (
    error_response,
    get_exchange_error_status,
    get_validation_error,
)
from starkperp.api.schemas import (
    OnboardingBody,
    OracleTickBody,
    OrderBody,
    TestnetTokensBody,
    WithdrawalBody,
)
from starkperp.api.ws import WsHub, serve_websocket
from starkperp.crypto.errors import CryptoError
from starkperp.exchange.errors import ExchangeError
from starkperp.exchange.markets import (
    Price,
    collateral_from_human,
    compute_human_price,
    human_from_quantity,
)
from starkperp.exchange.oracle import PriceTick, SignedPrice
from starkperp.monitor.metrics import NodeMetrics
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.recovery import AccountRecord, ApiCredentials
from starkperp.node.service import Node
from starkperp.node.views import (
    format_decimal,
    format_iso_ms,
    get_account_json,
    get_market_json,
    get_order_json,
    get_orderbook_json,
    get_position_json,
    get_trade_json,
    parse_iso_ms,
)

__all__ = ["create_app"]

_MAX_LIMIT = 1_000
_error = error_response


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _limit(value: str | None) -> int:
    if value is None:
        return 100
    try:
        n = int(value)
    except ValueError as exc:
        raise NodeError(NodeReason.WRONG_TYPE, "limit must be an integer") from exc
    if not 1 <= n <= _MAX_LIMIT:
        raise NodeError(NodeReason.NUMBER_OUT_OF_RANGE, f"limit must be 1..{_MAX_LIMIT}")
    return n


def _before_ms(value: str | None) -> int | None:
    return None if value is None else parse_iso_ms(value)


async def authenticate(request: Request) -> AccountRecord:
    """Check dYdX v3 HMAC headers and the per-account rate limit; return the account."""
    raw = await request.body()
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    if query and "?" not in path:
        path = f"{path}?{query}"
    record, _, decision = validate_private_request(
        _node(request),
        request.app.state.account_limiter,
        header=request.headers.get,
        method=request.method,
        request_path=path,
        raw_body=raw,
    )
    _merge_rate(request, decision)
    if not decision.allowed:
        raise NodeError(NodeReason.RATE_LIMITED, "account rate limit", status=429)
    return record


def _merge_rate(request: Request, decision: RateDecision) -> None:
    current: RateDecision | None = getattr(request.state, "rate", None)
    if current is None or decision.remaining < current.remaining:
        request.state.rate = decision


class RateLimitMiddleware:
    """Pure ASGI middleware: per-IP rate limit, ``RateLimit-*`` headers, request metrics."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, metrics: NodeMetrics) -> None:
        self.app = app
        self.limiter = limiter
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client = scope.get("client")
        decision = self.limiter.check(f"ip:{client[0] if client else 'unknown'}")
        state = scope.setdefault("state", {})
        state["rate"] = decision
        if not decision.allowed:
            response = _error(
                429, int(NodeReason.RATE_LIMITED), "IP rate limit", decision.headers()
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *state["rate"].raw_headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)
        route = scope.get("route")
        self.metrics.http_seconds.labels(
            scope["method"], getattr(route, "path", "unmatched")
        ).observe(time.perf_counter() - started)


def create_app(node: Node, *, manage_lifecycle: bool = True, hot_routes: bool = True) -> FastAPI:
    """Build the FastAPI application around a node (started/stopped with the app if asked).

    ``hot_routes=False`` leaves order placement and cancellation to the framework routes
    (the reference the hot path is tested against).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await node.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                await node.stop()

    app = FastAPI(
        title="starkperp",
        version="0.1.0",
        description="A STARK-proven perpetual exchange; REST in the dYdX v3 dialect.",
        lifespan=lifespan,
    )
    app.state.node = node
    app.state.ip_limiter = RateLimiter(
        limit=node.config.ip_rate_limit,
        window_ms=node.config.rate_window_ms,
        clock_ms=node.clock_ms,
    )
    app.state.account_limiter = RateLimiter(
        limit=node.config.account_rate_limit,
        window_ms=node.config.rate_window_ms,
        clock_ms=node.clock_ms,
    )
    hub = WsHub(node)
    app.state.hub = hub
    metrics = node.metrics

    # Added first, so it sits inside the rate limiter: the hot routes skip the framework
    # but still count against the IP limit and carry the RateLimit-* headers.
    if hot_routes:
        app.add_middleware(
            HotRoutes, node=node, account_limiter=app.state.account_limiter, metrics=metrics
        )
    app.add_middleware(RateLimitMiddleware, limiter=app.state.ip_limiter, metrics=metrics)

    @app.exception_handler(NodeError)
    async def node_error(request: Request, exc: NodeError) -> JSONResponse:
        metrics.orders_rejected.labels(exc.reason.name).inc()
        return _error(exc.status, int(exc.reason), exc.message)

    @app.exception_handler(ExchangeError)
    async def exchange_error(request: Request, exc: ExchangeError) -> JSONResponse:
        metrics.orders_rejected.labels(exc.reason.name).inc()
        return _error(get_exchange_error_status(exc), int(exc.reason), exc.message)

    @app.exception_handler(CryptoError)
    async def crypto_error(request: Request, exc: CryptoError) -> JSONResponse:
        return _error(400, int(NodeReason.BAD_ETH_SIGNATURE), exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        reason, msg = get_validation_error(exc.errors())
        return _error(400, int(reason), msg)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = NodeReason.NOT_FOUND if exc.status_code == 404 else NodeReason.MALFORMED_REQUEST
        return _error(exc.status_code, int(reason), str(exc.detail))

    # ---- operations ------------------------------------------------------------------

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        """Readiness: the log is healthy and the sequencer takes commands."""
        if node.is_ready:
            return JSONResponse({"status": "ready", "logSeq": node.seq.last_seq})
        return _error(503, int(NodeReason.NOT_READY), "node not ready")

    @app.get("/metrics", tags=["ops"])
    async def prometheus() -> Response:
        """Prometheus metrics."""
        for market, book in node.engine.books.items():
            snap = book.get_snapshot()
            metrics.book_depth.labels(market, "bid").set(len(snap.bids))
            metrics.book_depth.labels(market, "ask").set(len(snap.asks))
        return Response(node.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v3/status", tags=["ops"])
    async def status() -> dict[str, Any]:
        """Node status: log position, accounts, state digest."""
        return node.get_status()

    # ---- public ----------------------------------------------------------------------

    @app.get("/v3/time", tags=["public"])
    async def get_time() -> dict[str, Any]:
        """Server time."""
        ms = node.clock_ms()
        return {"iso": format_iso_ms(ms), "epoch": ms / 1000}

    @app.get("/v3/config", tags=["public"])
    async def get_config() -> dict[str, Any]:
        """Exchange-wide configuration."""
        from starkperp.exchange.signing import get_collateral_asset_id

        tier = node.config.exchange.fee_tiers[0]
        return {
            "collateralAssetId": hex(get_collateral_asset_id(node.config.network_id)),
            "collateralTokenAddress": None,
            "defaultMakerFee": format_decimal(Decimal(tier.maker_fee).scaleb(-6)),
            "defaultTakerFee": format_decimal(Decimal(tier.taker_fee).scaleb(-6)),
            "exchangeAddress": None,
            "maxExpectedBatchLengthMinutes": "60",
            "maxFastWithdrawalAmount": "0",
            "cancelOrderRateLimiting": {"maxPointsMulti": node.config.account_rate_limit},
            "placeOrderRateLimiting": {"maxPointsMulti": node.config.account_rate_limit},
            "networkId": node.config.network_id,
        }

    @app.get("/v3/markets", tags=["public"])
    async def get_markets(market: str | None = None) -> dict[str, Any]:
        """Markets with their parameters and oracle prices."""
        names = [market] if market is not None else list(node.markets)
        out = {}
        interval = node.config.exchange.funding_interval
        next_funding_ms = (node.clock_ms() // 1000 // interval + 1) * interval * 1000
        for name in names:
            config = node.get_market_config(name)
            open_interest = sum(
                b for a in node.engine.accounts.values() for m, b in a.balances.items()
                if m == name and b > 0
            )  # fmt: skip
            out[name] = get_market_json(
                config,
                oracle_price=node.engine.get_oracle_price(name),
                next_funding_rate_ppb=0,
                next_funding_at_ms=next_funding_ms,
                open_interest=open_interest,
            )
        return {"markets": out}

    @app.get("/v3/orderbook/{market}", tags=["public"])
    async def get_orderbook(market: str) -> dict[str, Any]:
        """The aggregated order book with its sequence number (``offset``)."""
        config = node.get_market_config(market)
        return get_orderbook_json(node.engine.get_orderbook(market), config)

    @app.get("/v3/trades/{market}", tags=["public"])
    async def get_trades(market: str, limit: str | None = None) -> dict[str, Any]:
        """Recent trades, newest first."""
        config = node.get_market_config(market)
        fills = node.engine.get_trades(market, _limit(limit))
        return {"trades": [get_trade_json(f, config) for f in fills]}

    @app.get("/v3/candles/{market}", tags=["public"])
    async def get_candles(
        market: str, resolution: str = "1MIN", limit: str | None = None
    ) -> dict[str, Any]:
        """OHLC candles built from the recent trades."""
        config = node.get_market_config(market)
        seconds = _CANDLE_SECONDS.get(resolution)
        if seconds is None:
            raise NodeError(NodeReason.WRONG_TYPE, f"unknown resolution {resolution!r}")
        fills = list(reversed(node.engine.get_trades(market, node.config.exchange.trade_history)))
        candles: dict[int, dict[str, Any]] = {}
        for f in fills:
            start = int(f.time) - int(f.time) % seconds
            price = compute_human_price(config, f.price)
            size = human_from_quantity(config, f.quantity)
            c = candles.get(start)
            if c is None:
                c = candles[start] = {
                    "startedAt": format_iso_ms(start * 1000),
                    "market": market,
                    "resolution": resolution,
                    "open": price,
                    "high": price,
                    "low": price,
                    "close": price,
                    "baseTokenVolume": Decimal(0),
                    "usdVolume": Decimal(0),
                    "trades": 0,
                    "startingOpenInterest": "0",
                }
            c["high"] = max(c["high"], price)
            c["low"] = min(c["low"], price)
            c["close"] = price
            c["baseTokenVolume"] += size
            c["usdVolume"] += size * price
            c["trades"] += 1
            c["updatedAt"] = format_iso_ms(int(f.time) * 1000)
        out = []
        for start in sorted(candles, reverse=True)[: _limit(limit)]:
            c = candles[start]
            out.append(
                {
                    k: (format_decimal(v) if isinstance(v, Decimal) else str(v))
                    if k not in ("market", "resolution", "startedAt", "updatedAt")
                    else v
                    for k, v in c.items()
                }
            )
        return {"candles": out}

    @app.get("/v3/historical-funding/{market}", tags=["public"])
    async def get_historical_funding(market: str) -> dict[str, Any]:
        """Funding rates applied to a market, newest first."""
        config = node.get_market_config(market)
        rows = []
        for tick in reversed(node.engine.get_funding_history(market)):
            rows.append(
                {
                    "market": market,
                    "rate": format_decimal(Decimal(tick.rate_ppb).scaleb(-9)),
                    "price": format_decimal(compute_human_price(config, tick.price)),
                    "effectiveAt": format_iso_ms(int(tick.time) * 1000),
                }
            )
        return {"historicalFunding": rows}

    @app.post("/v3/oracle/prices", tags=["oracle"])
    async def post_oracle_prices(body: OracleTickBody) -> dict[str, Any]:
        """Accept signed oracle prices (a quorum of the configured signers; our extension)."""
        config = node.get_market_config(body.market)
        signed = []
        for p in body.prices:
            sig = parse_signature(p.signature)
            signed.append(
                SignedPrice(
                    signer=int(p.signer, 16),
                    price=Price(int(p.price)),
                    timestamp=int(p.timestamp),
                    r=sig.r,
                    s=sig.s,
                )
            )
        price = await node.apply_oracle_tick(
            PriceTick(asset_id=config.asset_id, prices=tuple(signed))
        )
        return {
            "market": body.market,
            "oraclePrice": format_decimal(compute_human_price(config, price)),
        }

    # ---- onboarding ------------------------------------------------------------------

    @app.post("/v3/onboarding", tags=["onboarding"])
    async def onboarding(request: Request, body: OnboardingBody) -> dict[str, Any]:
        """Create a user and its account from an Ethereum-signed onboarding action."""
        from starkperp.crypto.keys import (
            derive_api_key_credentials_from_signature,
            recover_onboarding_signer,
        )

        signature = request.headers.get("DYDX-SIGNATURE")
        address = request.headers.get("DYDX-ETHEREUM-ADDRESS")
        if not signature or not address:
            raise NodeError(
                NodeReason.MISSING_AUTH_HEADERS,
                "need DYDX-SIGNATURE and DYDX-ETHEREUM-ADDRESS",
                status=401,
            )
        signer = recover_onboarding_signer(
            typed_signature=signature, network_id=node.config.network_id
        )
        if signer.lower() != address.lower():
            raise NodeError(
                NodeReason.BAD_ETH_SIGNATURE, "signature is not the address's", status=401
            )
        stark_key = int(body.starkKey, 16)
        stark_key_y = int(body.starkKeyYCoordinate, 16)
        derived = derive_api_key_credentials_from_signature(signature)
        creds = ApiCredentials(
            key=derived.key, secret=derived.secret, passphrase=derived.passphrase
        )
        record = await node.onboard(
            eth_address=address, stark_key=stark_key, stark_key_y=stark_key_y, credentials=creds
        )
        return {
            "apiKey": {"key": creds.key, "secret": creds.secret, "passphrase": creds.passphrase},
            "user": {
                "ethereumAddress": record.eth_address,
                "isRegistered": True,
                "email": None,
                "username": None,
                "makerFeeRate": "0.0005",
                "takerFeeRate": "0.002",
            },
            "account": _account_json(node, record),
        }

    # ---- private: accounts and positions ----------------------------------------------

    @app.get("/v3/accounts", tags=["private"])
    async def get_accounts(record: AccountRecord = Depends(authenticate)) -> dict[str, Any]:
        """The caller's accounts."""
        return {"accounts": [_account_json(node, record)]}

    @app.get("/v3/accounts/{account_id}", tags=["private"])
    async def get_account(
        account_id: str, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """One of the caller's accounts, by dYdX account id (uuid) or position id."""
        if account_id not in (record.uuid, str(record.account_id)):
            raise NodeError(NodeReason.NOT_FOUND, "no such account", status=404)
        return {"account": _account_json(node, record)}

    @app.get("/v3/registration", tags=["private"])
    async def get_registration(record: AccountRecord = Depends(authenticate)) -> dict[str, Any]:
        """The operator's signature that registers the caller's STARK key on L1 (as dYdX v3).

        The user passes it to ``StarkPerpetual.registerUser`` before depositing on L1.
        """
        settlement = node.settlement
        if settlement is None:
            raise NodeError(NodeReason.NOT_SETTLING, "this node does not settle on L1", status=404)
        signature = await asyncio.to_thread(
            settlement.sign_registration,
            eth_address=record.eth_address,
            stark_key=record.stark_key,
        )
        return {"signature": "0x" + signature.hex()}

    @app.get("/v3/positions", tags=["private"])
    async def get_positions(
        market: str | None = None,
        status: str | None = None,
        record: AccountRecord = Depends(authenticate),
    ) -> dict[str, Any]:
        """The caller's positions (open ones; closed with ``status=CLOSED``)."""
        if market is not None:
            node.get_market_config(market)
        out = []
        for view in node.engine.get_account(record.account_id).positions:
            if market is not None and view.market != market:
                continue
            doc = get_position_json(
                view,
                node.markets[view.market],
                node.engine.get_oracle_price(view.market),
                record.created_ms,
            )
            if doc["status"] != (status or "OPEN"):
                continue
            out.append(doc)
        return {"positions": out}

    # ---- private: orders -------------------------------------------------------------

    @app.post("/v3/orders", tags=["private"])
    async def create_order(
        body: OrderBody, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """Place a signed order; answered after the order is in the durable log.

        Requests with a JSON body are served by :class:`~starkperp.api.hot.HotRoutes`
        with the same steps; this route is the reference and serves the rest.
        """
        config = node.get_market_config(body.market)
        order, cancel_id = build_order(
            body, account_id=record.account_id, public_key=record.stark_key, config=config
        )
        view = await node.place_order(order, cancel_id=cancel_id)
        return {"order": get_order_json(view, config, record.uuid)}

    @app.get("/v3/orders", tags=["private"])
    async def get_orders(
        market: str | None = None,
        status: str | None = None,
        side: str | None = None,
        type: str | None = None,
        limit: str | None = None,
        createdBeforeOrAt: str | None = None,
        record: AccountRecord = Depends(authenticate),
    ) -> dict[str, Any]:
        """The caller's orders, newest first."""
        if market is not None:
            node.get_market_config(market)
        rows = node.store.query_rows(
            "orders",
            account_id=str(record.account_id),
            market=market,
            statuses=status.split(",") if status else None,
            created_before_ms=_before_ms(createdBeforeOrAt),
            limit=_limit(limit),
        )
        rows = [
            r
            for r in rows
            if (side is None or r["side"] == side) and (type is None or r["type"] == type)
        ]
        return {"orders": rows}

    @app.get("/v3/orders/client/{client_id}", tags=["private"])
    async def get_order_by_client_id(
        client_id: str, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """One of the caller's orders by client id."""
        rows = node.store.query_rows("orders", key2=f"{record.account_id}:{client_id}", limit=1)
        if not rows:
            raise NodeError(NodeReason.NOT_FOUND, "no such order", status=404)
        return {"order": rows[0]}

    @app.get("/v3/orders/{order_id}", tags=["private"])
    async def get_order(
        order_id: str, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """One of the caller's orders by id."""
        row = node.store.get_row("orders", order_id)
        if row is None or row["accountId"] != record.uuid:
            raise NodeError(NodeReason.NOT_FOUND, "no such order", status=404)
        return {"order": row}

    @app.delete("/v3/orders/{order_id}", tags=["private"])
    async def cancel_order(
        order_id: str, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """Cancel one order; answered after the cancel is in the durable log."""
        oid = parse_order_id(order_id)
        node.get_order_view(oid, record.account_id)
        view = await node.cancel_order(record.account_id, oid)
        config = node.markets[view.order.market]
        return {"cancelOrder": get_order_json(view, config, record.uuid)}

    @app.delete("/v3/orders", tags=["private"])
    async def cancel_all_orders(
        market: str | None = None, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """Cancel every open order (of one market, or all)."""
        views = await node.cancel_all(record.account_id, market)
        return {
            "cancelOrders": [
                get_order_json(v, node.markets[v.order.market], record.uuid) for v in views
            ]
        }

    @app.get("/v3/active-orders", tags=["private"])
    async def get_active_orders(
        market: str,
        side: str | None = None,
        id: str | None = None,
        record: AccountRecord = Depends(authenticate),
    ) -> dict[str, Any]:
        """The caller's resting orders in one market."""
        config = node.get_market_config(market)
        out = []
        for v in node.engine.get_open_orders(record.account_id, market):
            if side is not None and v.order.side.value != side:
                continue
            if id is not None and str(v.order_id) != id:
                continue
            out.append(
                {
                    "id": str(v.order_id),
                    "accountId": record.uuid,
                    "market": market,
                    "side": v.order.side.value,
                    "price": format_decimal(compute_human_price(config, v.order.price)),
                    "remainingSize": format_decimal(human_from_quantity(config, v.remaining)),
                }
            )
        return {"orders": out}

    @app.delete("/v3/active-orders", tags=["private"])
    async def cancel_active_orders(
        market: str, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """Cancel the caller's resting orders in one market."""
        views = await node.cancel_all(record.account_id, market)
        config = node.get_market_config(market)
        return {"cancelOrders": [get_order_json(v, config, record.uuid) for v in views]}

    # ---- private: fills, transfers, funding ------------------------------------------

    @app.get("/v3/fills", tags=["private"])
    async def get_fills(
        market: str | None = None,
        orderId: str | None = None,
        limit: str | None = None,
        createdBeforeOrAt: str | None = None,
        record: AccountRecord = Depends(authenticate),
    ) -> dict[str, Any]:
        """The caller's fills, newest first."""
        if market is not None:
            node.get_market_config(market)
        rows = node.store.query_rows(
            "fills",
            account_id=str(record.account_id),
            market=market,
            key2=orderId,
            created_before_ms=_before_ms(createdBeforeOrAt),
            limit=_limit(limit),
        )
        return {"fills": rows}

    @app.get("/v3/transfers", tags=["private"])
    async def get_transfers(
        type: str | None = None,
        limit: str | None = None,
        createdBeforeOrAt: str | None = None,
        record: AccountRecord = Depends(authenticate),
    ) -> dict[str, Any]:
        """The caller's deposits, withdrawals and transfers, newest first."""
        rows = node.store.query_rows(
            "transfers",
            account_id=str(record.account_id),
            statuses=[type] if type else None,
            created_before_ms=_before_ms(createdBeforeOrAt),
            limit=_limit(limit),
        )
        return {"transfers": rows}

    @app.get("/v3/withdrawals", tags=["private"])
    async def get_withdrawals(
        limit: str | None = None, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """The caller's withdrawals, newest first."""
        rows = node.store.query_rows(
            "transfers",
            account_id=str(record.account_id),
            statuses=["WITHDRAWAL"],
            limit=_limit(limit),
        )
        return {"withdrawals": rows}

    @app.post("/v3/withdrawals", tags=["private"])
    async def create_withdrawal(
        body: WithdrawalBody, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """Withdraw USDC to L1 with a STARK-signed withdrawal."""
        from starkperp.crypto.stark_curve import FieldElement, Signature, StarkPublicKey
        from starkperp.exchange.signing import verify_withdrawal

        amount = collateral_from_human(body.amount)
        expiration_s = _parse_expiration_s(body.expiration)
        if expiration_s <= node.clock_ms() // 1000:
            raise NodeError(NodeReason.EXPIRED, "withdrawal expired")
        sig = parse_signature(body.signature)
        ok = verify_withdrawal(
            network_id=node.config.network_id,
            position_id=record.account_id,
            human_amount=body.amount,
            client_id=body.clientId,
            expiration_epoch_seconds=Decimal(parse_iso_ms(body.expiration)) / 1000,
            signature=Signature(r=FieldElement(sig.r), s=FieldElement(sig.s)),
            public_key=StarkPublicKey(record.stark_key),
        )
        if not ok:
            raise NodeError(NodeReason.BAD_STARK_SIGNATURE, "withdrawal signature does not verify")
        doc = await node.withdraw(record.account_id, amount, body.clientId)
        return {"withdrawal": doc}

    @app.post("/v3/testnet/tokens", tags=["private"])
    async def request_testnet_tokens(
        body: TestnetTokensBody | None = None, record: AccountRecord = Depends(authenticate)
    ) -> dict[str, Any]:
        """Credit test collateral (dYdX's testnet faucet; stands in for an L1 deposit)."""
        if not node.config.enable_testnet_tokens:
            raise NodeError(NodeReason.NOT_FOUND, "faucet disabled", status=404)
        human = (body.amount if body and body.amount else None) or node.config.testnet_token_amount
        amount = collateral_from_human(human)
        doc = await node.deposit(record.account_id, amount)
        return {"transfer": doc}

    @app.get("/v3/funding", tags=["private"])
    async def get_funding_payments(
        market: str | None = None,
        limit: str | None = None,
        effectiveBeforeOrAt: str | None = None,
        record: AccountRecord = Depends(authenticate),
    ) -> dict[str, Any]:
        """The caller's funding payments, newest first."""
        if market is not None:
            node.get_market_config(market)
        rows = node.store.query_rows(
            "funding",
            account_id=str(record.account_id),
            market=market,
            created_before_ms=_before_ms(effectiveBeforeOrAt),
            limit=_limit(limit),
        )
        return {"fundingPayments": rows}

    @app.websocket("/v3/ws")
    async def ws_feed(websocket: WebSocket) -> None:
        """dYdX v3 WebSocket feed (markets, trades, orderbook, accounts)."""
        await serve_websocket(hub, websocket)

    return app


_CANDLE_SECONDS = {
    "1MIN": 60,
    "5MINS": 300,
    "15MINS": 900,
    "30MINS": 1800,
    "1HOUR": 3600,
    "4HOURS": 14400,
    "1DAY": 86400,
}


def _account_json(node: Node, record: AccountRecord) -> dict[str, Any]:
    view = node.engine.get_account(record.account_id)
    prices = {m: node.engine.get_oracle_price(m) for m in node.markets}
    return get_account_json(
        view,
        node.markets,
        prices,
        account_uuid=record.uuid,
        created_ms=record.created_ms,
        stark_key_hex=hex(record.stark_key),
    )
