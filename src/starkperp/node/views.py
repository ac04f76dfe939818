"""The dYdX v3 JSON shapes of the exchange's values.

Pure functions from the exchange's integer model (``OrderView``, ``Fill``, ``AccountView`` ...)
to the camelCase documents dYdX v3 returns, with human decimal strings for sizes, prices and
USDC amounts. Integers stay exact: decimals are formatted from ``Decimal`` values, never floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starkperp.exchange.markets import (
    MarketConfig,
    compute_human_price,
    human_from_collateral,
    human_from_quantity,
)
from starkperp.exchange.model import (
    AccountView,
    BookSnapshot,
    Fill,
    OrderView,
    PositionView,
    Side,
)
from starkperp.node.errors import NodeError, NodeReason

__all__ = [
    "format_iso_ms",
    "parse_iso_ms",
    "format_decimal",
    "get_account_json",
    "get_fill_json",
    "get_market_json",
    "get_order_json",
    "get_orderbook_json",
    "get_position_json",
    "get_trade_json",
]


def parse_iso_ms(text: str) -> int:
    """Parse an ISO 8601 UTC timestamp into epoch milliseconds; raise on bad input."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, TypeError) as exc:
        raise NodeError(NodeReason.WRONG_TYPE, f"bad ISO timestamp {text!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def format_iso_ms(epoch_ms: int) -> str:
    """Format epoch milliseconds as dYdX does: ``2021-01-01T00:00:00.000Z``."""
    seconds, millis = divmod(epoch_ms, 1000)
    prefix = _ISO_SECONDS.get(seconds)
    if prefix is None:
        prefix = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _remember(_ISO_SECONDS, seconds, prefix)
    return f"{prefix}{millis:03d}Z"


# Views are built on the ack path of every order; the same seconds, prices and sizes recur,
# so their text is remembered in small bounded tables (cleared when full: memory stays flat).
_CACHE_LIMIT = 8192
_ISO_SECONDS: dict[int, str] = {}
_PRICE_TEXT: dict[tuple[int, int, int], str] = {}
_SIZE_TEXT: dict[tuple[int, int], str] = {}
_USD_TEXT: dict[int, str] = {}


def _remember(table: dict[Any, str], key: Any, text: str) -> None:
    if len(table) >= _CACHE_LIMIT:
        table.clear()
    table[key] = text


def format_decimal(value: Decimal) -> str:
    """Format a decimal without exponent and without trailing zeros (``"0"`` for zero)."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _price(market: MarketConfig, price: int | None) -> str | None:
    if price is None:
        return None
    key = (price, market.resolution, market.tick_size)
    text = _PRICE_TEXT.get(key)
    if text is None:
        text = format_decimal(compute_human_price(market, price))
        _remember(_PRICE_TEXT, key, text)
    return text


def _size(market: MarketConfig, quantity: int) -> str:
    key = (quantity, market.resolution)
    text = _SIZE_TEXT.get(key)
    if text is None:
        text = format_decimal(human_from_quantity(market, quantity))
        _remember(_SIZE_TEXT, key, text)
    return text


def _usd(amount: int) -> str:
    text = _USD_TEXT.get(amount)
    if text is None:
        text = format_decimal(human_from_collateral(amount))
        _remember(_USD_TEXT, amount, text)
    return text


def get_order_json(view: OrderView, market: MarketConfig, account_uuid: str) -> dict[str, Any]:
    """Return an order as dYdX v3's ``order`` object."""
    o = view.order
    return {
        "id": str(view.order_id),
        "clientId": o.client_id,
        "accountId": account_uuid,
        "market": o.market,
        "side": o.side.value,
        "price": _price(market, o.price),
        "triggerPrice": _price(market, o.trigger_price),
        "trailingPercent": None,
        "size": _size(market, o.size),
        "remainingSize": _size(market, view.remaining),
        "type": o.order_type.value,
        "createdAt": format_iso_ms(view.created_at * 1000),
        "unfillableAt": None
        if view.status.value in ("OPEN", "PENDING", "UNTRIGGERED")
        else format_iso_ms(view.updated_at * 1000),
        "expiresAt": format_iso_ms(o.expiration * 1000),
        "status": view.status.value,
        "timeInForce": o.time_in_force.value,
        "postOnly": o.post_only,
        "reduceOnly": o.reduce_only,
        "cancelReason": None if view.cancel_reason is None else view.cancel_reason.value,
        "limitFee": format_decimal(Decimal(o.limit_fee).scaleb(-6)),
    }


def get_fill_json(fill: Fill, market: MarketConfig, account_id: int) -> dict[str, Any]:
    """Return one account's side of a fill as dYdX v3's ``fill`` object."""
    is_maker = fill.maker_account_id == account_id
    side = fill.taker_side.opposite if is_maker else fill.taker_side
    return {
        "id": f"{fill.fill_id}-{'M' if is_maker else 'T'}",
        "side": side.value,
        "liquidity": "MAKER" if is_maker else "TAKER",
        "type": "LIMIT",
        "market": fill.market,
        "orderId": str(fill.maker_order_id if is_maker else fill.taker_order_id),
        "price": _price(market, fill.price),
        "size": _size(market, fill.quantity),
        "fee": _usd(fill.maker_fee if is_maker else fill.taker_fee),
        "createdAt": format_iso_ms(fill.time * 1000),
    }


def get_trade_json(fill: Fill, market: MarketConfig) -> dict[str, Any]:
    """Return a public trade as dYdX v3's ``trade`` object (side of the taker)."""
    return {
        "side": fill.taker_side.value,
        "size": _size(market, fill.quantity),
        "price": _price(market, fill.price),
        "createdAt": format_iso_ms(fill.time * 1000),
        "liquidation": False,
    }


def get_position_json(
    view: PositionView, market: MarketConfig, oracle_price: int | None, created_ms: int
) -> dict[str, Any]:
    """Return a position as dYdX v3's ``position`` object."""
    balance = view.balance
    entry = None
    if balance:
        # open_cost is collateral quanta (signed) paid for the balance; entry price per coin.
        per_coin = Decimal(view.open_cost) * market.resolution / Decimal(balance)
        entry = format_decimal(per_coin.scaleb(-6).quantize(Decimal("0.000001")))
    unrealized = "0"
    if oracle_price is not None and balance:
        value_scaled = balance * oracle_price  # collateral quanta * 2^32
        unrealized = _usd((value_scaled >> 32) - view.open_cost)
    return {
        "market": view.market,
        "status": "OPEN" if balance else "CLOSED",
        "side": "LONG" if balance > 0 else "SHORT",
        "size": _size(market, balance),
        "maxSize": _size(market, balance),
        "entryPrice": entry,
        "exitPrice": None,
        "unrealizedPnl": unrealized,
        "realizedPnl": _usd(view.realized_pnl),
        "createdAt": format_iso_ms(created_ms),
        "closedAt": None,
        "sumOpen": _size(market, abs(balance)),
        "sumClose": "0",
        "netFunding": _usd(-view.funding_paid),
    }


def get_account_json(
    view: AccountView,
    markets: dict[str, MarketConfig],
    oracle_prices: Mapping[str, int | None],
    *,
    account_uuid: str,
    created_ms: int,
    stark_key_hex: str,
) -> dict[str, Any]:
    """Return an account as dYdX v3's ``account`` object with its open positions."""
    open_positions = {
        p.market: get_position_json(p, markets[p.market], oracle_prices.get(p.market), created_ms)
        for p in view.positions
        if p.balance
    }
    return {
        "starkKey": stark_key_hex,
        "positionId": str(view.account_id),
        "equity": _usd(view.equity),
        "freeCollateral": _usd(view.free_collateral),
        "pendingDeposits": "0",
        "pendingWithdrawals": "0",
        "openPositions": open_positions,
        "accountNumber": "0",
        "id": account_uuid,
        "quoteBalance": _usd(view.collateral),
        "createdAt": format_iso_ms(created_ms),
    }


def get_orderbook_json(snapshot: BookSnapshot, market: MarketConfig) -> dict[str, Any]:
    """Return a book snapshot as dYdX v3's orderbook (plus our ``offset`` = book seq)."""
    return {
        "offset": str(snapshot.seq),
        "bids": [
            {"price": _price(market, lv.price), "size": _size(market, lv.size)}
            for lv in snapshot.bids
        ],
        "asks": [
            {"price": _price(market, lv.price), "size": _size(market, lv.size)}
            for lv in snapshot.asks
        ],
    }


def get_market_json(
    market: MarketConfig,
    *,
    oracle_price: int | None,
    next_funding_rate_ppb: int,
    next_funding_at_ms: int,
    open_interest: int,
) -> dict[str, Any]:
    """Return a market as dYdX v3's ``market`` object."""

    def frac(rf: int) -> str:
        return format_decimal((Decimal(rf) / (1 << 32)).quantize(Decimal("0.0001")))

    price = _price(market, oracle_price) or "0"
    return {
        "market": market.market,
        "status": market.status.value,
        "baseAsset": market.asset,
        "quoteAsset": "USD",
        "stepSize": _size(market, market.step_size),
        "tickSize": format_decimal(Decimal(market.tick_size).scaleb(-6)),
        "indexPrice": price,
        "oraclePrice": price,
        "priceChange24H": "0",
        "nextFundingRate": format_decimal(Decimal(next_funding_rate_ppb).scaleb(-9)),
        "nextFundingAt": format_iso_ms(next_funding_at_ms),
        "minOrderSize": _size(market, market.min_order_size),
        "type": "PERPETUAL",
        "initialMarginFraction": frac(market.initial_margin_fraction),
        "maintenanceMarginFraction": frac(market.maintenance_margin_fraction),
        "transferMarginFraction": "0",
        "volume24H": "0",
        "trades24H": "0",
        "openInterest": _size(market, open_interest),
        "incrementalInitialMarginFraction": frac(market.incremental_initial_margin_fraction),
        "incrementalPositionSize": _size(market, market.incremental_position_size),
        "maxPositionSize": _size(market, market.max_position_size),
        "baselinePositionSize": _size(market, market.baseline_position_size),
        "assetResolution": str(market.resolution),
        "syntheticAssetId": hex(market.asset_id),
    }


def get_side(text: str) -> Side:
    """Parse ``BUY`` / ``SELL``."""
    return Side(text)
