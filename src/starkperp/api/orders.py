"""A dYdX v3 order request at the API edge: its body turned into the engine's integer ``Order``.

Both ways in — the framework route and the hot ASGI path (:mod:`starkperp.api.hot`) — build
orders here, so they refuse the same input with the same reason codes: a size that is not a
whole number of quanta, a price off tick, a fee outside [0, 1) with at most 6 decimals, an
expiration outside the 32-bit range of seconds, a signature that is not 64 bytes of hex.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from starkperp.api.schemas import OrderBody
from starkperp.exchange.errors import ExchangeError, Reason
from starkperp.exchange.markets import MarketConfig, price_from_human, quantity_from_human
from starkperp.exchange.model import (
    AccountId,
    FeeRate,
    Order,
    OrderSignature,
    OrderType,
    Side,
    TimeInForce,
    Timestamp,
)
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.views import parse_iso_ms

__all__ = [
    "build_order",
    "parse_cancel_id",
    "parse_expiration_s",
    "parse_fee_ppm",
    "parse_order_id",
    "parse_signature",
]


def parse_signature(text: str) -> OrderSignature:
    """Parse ``r || s`` (64 bytes of hex, optional ``0x``) into an order signature."""
    body = text[2:] if text.startswith("0x") else text
    if len(body) != 128:
        raise ExchangeError(Reason.BAD_SIGNATURE, "signature must be 64 bytes of hex (r || s)")
    return OrderSignature(r=int(body[:64], 16), s=int(body[64:], 16))


def parse_fee_ppm(text: str) -> FeeRate:
    """Parse a fee fraction (``"0.002"``) into parts per million; refuse what is not exact."""
    try:
        value = Decimal(text) * 1_000_000
    except InvalidOperation as exc:
        raise ExchangeError(Reason.INVALID_ORDER, "limitFee is not a number") from exc
    if not value.is_finite() or value != value.to_integral_value() or not 0 <= value < 10**6:
        raise ExchangeError(Reason.INVALID_ORDER, "limitFee must be in [0, 1) with 6 decimals")
    return FeeRate(int(value))


def parse_expiration_s(text: str) -> int:
    """Parse an ISO 8601 expiration into epoch seconds, rounded up, within 32 bits."""
    ms = parse_iso_ms(text)
    if not 0 <= ms < 2**32 * 1000:
        raise NodeError(NodeReason.NUMBER_OUT_OF_RANGE, "expiration out of range")
    return -(-ms // 1000)


def parse_order_id(text: str) -> int:
    """Parse an order id from a path; anything that cannot be one is NOT_FOUND."""
    if not text.isdigit() or len(text) > 19:
        raise NodeError(NodeReason.NOT_FOUND, "no such order", status=404)
    return int(text)


def parse_cancel_id(text: str | None) -> int | None:
    """Parse the ``cancelId`` of a cancel-replace (``None`` for a plain placement)."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise ExchangeError(Reason.UNKNOWN_ORDER, "cancelId") from exc


def build_order(
    body: OrderBody, *, account_id: int, public_key: int, config: MarketConfig
) -> tuple[Order, int | None]:
    """Return the engine order a validated body asks for, and the id it replaces (if any)."""
    trigger = None if body.triggerPrice is None else price_from_human(config, body.triggerPrice)
    order = Order(
        account_id=AccountId(account_id),
        market=config.market,
        side=Side(body.side),
        size=quantity_from_human(config, body.size),
        price=price_from_human(config, body.price),
        client_id=body.clientId,
        expiration=Timestamp(parse_expiration_s(body.expiration)),
        limit_fee=parse_fee_ppm(body.limitFee),
        order_type=OrderType(body.type),
        time_in_force=TimeInForce(body.timeInForce),
        trigger_price=trigger,
        post_only=body.postOnly,
        reduce_only=body.reduceOnly,
        signature=parse_signature(body.signature),
        public_key=public_key,
    )
    return order, parse_cancel_id(body.cancelId)
