"""The exchange's domain values: orders, fills, acknowledgements and read-only views.

Every value is a frozen, slotted, keyword-only dataclass; money is integers in the units of
:mod:`starkperp.exchange.markets`. Fee rates (``limit_fee`` and the fee tiers) are parts per
million of the fill's collateral notional (dYdX's ``limitFee`` has six decimals, so
``0.0015`` is ``1500``). Times are integer epoch seconds; a signed order carries its
expiration in hours (see ``exchange.signing``), the model keeps seconds.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, NewType, TypeVar

from starkperp.exchange.markets import Collateral, FundingIndex, MarketId, Price, Quantity

__all__ = [
    "AccountId",
    "AccountKind",
    "AccountView",
    "BookDelta",
    "BookLevel",
    "BookSnapshot",
    "CancelReason",
    "FeeRate",
    "Fill",
    "Liquidity",
    "Order",
    "OrderAck",
    "OrderId",
    "OrderSignature",
    "OrderStatus",
    "OrderType",
    "OrderView",
    "PositionView",
    "Side",
    "TimeInForce",
    "Timestamp",
    "compute_fast_constructor",
]

_T = TypeVar("_T")

AccountId = NewType("AccountId", int)
"""An account is a StarkEx position; its id is the position id."""
OrderId = NewType("OrderId", int)
FeeRate = NewType("FeeRate", int)
"""Parts per million of collateral notional."""
Timestamp = NewType("Timestamp", int)
"""Epoch seconds."""


class Side(enum.Enum):
    """Which way an order trades the synthetic asset."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        """Return the other side."""
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        """Return +1 for BUY, -1 for SELL (the sign of the balance change)."""
        return 1 if self is Side.BUY else -1


class OrderType(enum.Enum):
    """Order types as dYdX v3 offers them."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP_LIMIT = "STOP_LIMIT"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"

    @property
    def is_conditional(self) -> bool:
        """Tell whether the order waits for a trigger price."""
        return self not in (OrderType.LIMIT, OrderType.MARKET)

    @property
    def is_market(self) -> bool:
        """Tell whether the order executes immediately (IOC) at a worst price."""
        return self in (OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)


class TimeInForce(enum.Enum):
    """Good-til-time, immediate-or-cancel, fill-or-kill."""

    GTT = "GTT"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(enum.Enum):
    """Lifecycle of an order (dYdX v3 names)."""

    PENDING = "PENDING"
    OPEN = "OPEN"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    UNTRIGGERED = "UNTRIGGERED"


class CancelReason(enum.Enum):
    """Why an accepted order stopped resting (dYdX v3 ``cancelReason`` style)."""

    USER_CANCELED = "USER_CANCELED"
    EXPIRED = "EXPIRED"
    SELF_TRADE = "SELF_TRADE"
    UNDERCOLLATERALIZED = "UNDERCOLLATERALIZED"
    IOC_REMAINDER = "IOC_REMAINDER"
    REDUCE_ONLY = "REDUCE_ONLY"
    MARKET_CLOSED = "MARKET_CLOSED"
    REPLACED = "REPLACED"
    LIQUIDATED = "LIQUIDATED"
    NO_ORACLE_PRICE = "NO_ORACLE_PRICE"


class Liquidity(enum.Enum):
    """Whether a fill's side rested (MAKER) or arrived (TAKER)."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class AccountKind(enum.Enum):
    """Traders, and the two system positions (insurance fund, fee account)."""

    TRADER = "TRADER"
    INSURANCE_FUND = "INSURANCE_FUND"
    FEE = "FEE"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSignature:
    """A STARK-curve ECDSA signature over the dYdX v3 order hash."""

    r: int
    s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """An order as a trader submits it.

    ``price`` is the limit price, or the worst price for market orders (32.32 protocol
    price, on tick). ``trigger_price`` is required for stop and take-profit orders.
    ``limit_fee`` is the most the trader agrees to pay, in ppm of notional. The exchange
    assigns the order id on acceptance.
    """

    account_id: AccountId
    market: MarketId
    side: Side
    size: Quantity
    price: Price
    client_id: str
    expiration: Timestamp
    limit_fee: FeeRate = FeeRate(2_000)
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.GTT
    trigger_price: Price | None = None
    post_only: bool = False
    reduce_only: bool = False
    signature: OrderSignature | None = None
    public_key: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One match between a resting maker and an incoming taker, as settled.

    The buyer pays ``buyer_collateral`` (rounded up), the seller receives
    ``seller_collateral`` (rounded down); the rounding remainder and both fees go to the
    fee account, so collateral is conserved exactly.
    """

    fill_id: int
    market: MarketId
    time: Timestamp
    maker_order_id: OrderId
    taker_order_id: OrderId
    maker_account_id: AccountId
    taker_account_id: AccountId
    taker_side: Side
    quantity: Quantity
    price: Price
    buyer_collateral: Collateral
    seller_collateral: Collateral
    maker_fee: Collateral
    taker_fee: Collateral

    @property
    def buyer_account_id(self) -> AccountId:
        """Return the buying account."""
        return self.taker_account_id if self.taker_side is Side.BUY else self.maker_account_id

    @property
    def seller_account_id(self) -> AccountId:
        """Return the selling account."""
        return self.maker_account_id if self.taker_side is Side.BUY else self.taker_account_id


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderView:
    """The current state of one accepted order."""

    order_id: OrderId
    order: Order
    status: OrderStatus
    filled: Quantity
    remaining: Quantity
    created_at: Timestamp
    updated_at: Timestamp
    cancel_reason: CancelReason | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAck:
    """What ``place_order`` returns: the order's id, its status and the fills it took."""

    order_id: OrderId
    client_id: str
    status: OrderStatus
    filled: Quantity
    remaining: Quantity
    fills: tuple[Fill, ...] = ()
    cancel_reason: CancelReason | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionView:
    """One account's balance in one market, with its cached funding index."""

    account_id: AccountId
    market: MarketId
    balance: Quantity
    cached_funding_index: FundingIndex
    open_cost: Collateral
    """Collateral paid to open the current balance (signed); entry price = cost / balance."""
    realized_pnl: Collateral
    funding_paid: Collateral


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountView:
    """An account's money: collateral, positions, and its margin figures at oracle prices."""

    account_id: AccountId
    kind: AccountKind
    public_key: int | None
    collateral: Collateral
    positions: tuple[PositionView, ...]
    equity: Collateral
    """Total value TV = collateral + sum(balance * oracle price), rounded down."""
    initial_margin: Collateral
    maintenance_margin: Collateral
    free_collateral: Collateral
    """Equity minus initial margin requirement (may be negative)."""
    is_liquidatable: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class BookLevel:
    """Aggregated resting size at one price."""

    price: Price
    size: Quantity


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot:
    """The whole book of one market at sequence number ``seq`` (bids best first)."""

    market: MarketId
    seq: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BookDelta:
    """One book change: the level ``price`` on ``side`` now holds ``size`` (0 = removed)."""

    market: MarketId
    seq: int
    side: Side
    price: Price
    size: Quantity


def compute_fast_constructor(cls: type[_T]) -> Callable[..., _T]:
    """Return a keyword-only constructor for a frozen, slotted dataclass, without validation.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which
    costs several times a plain slot store. The engine's hot path builds several events per
    order, so it uses this constructor: it fills an instance of a private *twin* class that
    has exactly the same ``__slots__`` (so the same memory layout) with plain attribute
    stores, then sets the instance's ``__class__`` to ``cls``. The result IS a ``cls``
    (same type, fields, equality, hash, repr, codec, and frozen from then on); CPython
    refuses the ``__class__`` assignment unless the two layouts are identical. It must only
    be given values of the declared field types (the engine's own).
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    slots = cls.__dict__.get("__slots__")
    assert slots is not None and tuple(slots) == tuple(names), "needs a slotted dataclass"
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": tuple(slots)})
    namespace: dict[str, Any] = {"_cls": cls, "_twin": twin}
    params = []
    for f in fields(cls):  # type: ignore[arg-type]
        if f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        else:
            assert f.default_factory is MISSING, "fields with factories are not supported"
            params.append(f.name)
    body = "".join(f"    obj.{n} = {n}\n" for n in names)
    source = (
        f"def make(*, {', '.join(params)}):\n    obj = _twin()\n{body}"
        "    obj.__class__ = _cls\n    return obj\n"
    )
    exec(source, namespace)  # noqa: S102 - generated from the dataclass's own field names
    make = namespace["make"]
    make.__qualname__ = make.__name__ = f"new_{cls.__name__}"
    make.__doc__ = f"Build a {cls.__name__} without per-field validation (hot path)."
    return make  # type: ignore[no-any-return]
