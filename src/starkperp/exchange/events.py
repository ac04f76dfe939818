"""The event log: every state change of the exchange as an immutable value.

The engine decides (validation, matching, risk) and then changes its state *only* by
applying events, so applying the same events to a fresh :class:`Exchange` reproduces the
state bit for bit (:func:`replay`; compare :meth:`Exchange.compute_state_digest`). Events
carry their own time; nothing here reads a clock.

Events, in the order a reader meets them: AccountCreated, Deposited, Withdrawn,
Transferred, OrderAccepted, Fill, OrderOpened, OrderCanceled, OrderTriggered,
OraclePriceSet, PremiumSampled, FundingApplied, Liquidated, Deleveraged,
MarketStatusChanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starkperp.exchange.markets import (
    Collateral,
    FundingIndex,
    MarketId,
    MarketStatus,
    Price,
    Quantity,
)
from starkperp.exchange.model import (
    AccountId,
    AccountKind,
    CancelReason,
    Fill,
    Order,
    OrderId,
    Timestamp,
)

if TYPE_CHECKING:
    from starkperp.exchange.config import ExchangeConfig
    from starkperp.exchange.engine import Exchange

__all__ = [
    "AccountCreated",
    "Deleveraged",
    "Deposited",
    "Event",
    "Fill",
    "FundingApplied",
    "Liquidated",
    "MarketStatusChanged",
    "OraclePriceSet",
    "OrderAccepted",
    "OrderCanceled",
    "OrderOpened",
    "OrderTriggered",
    "PositionClose",
    "PremiumSampled",
    "Transferred",
    "Withdrawn",
    "replay",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountCreated:
    """A position was opened for ``account_id``."""

    time: Timestamp
    account_id: AccountId
    kind: AccountKind
    public_key: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Deposited:
    """Collateral arrived from L1."""

    time: Timestamp
    account_id: AccountId
    amount: Collateral


@dataclass(frozen=True, slots=True, kw_only=True)
class Withdrawn:
    """Collateral left for L1."""

    time: Timestamp
    account_id: AccountId
    amount: Collateral


@dataclass(frozen=True, slots=True, kw_only=True)
class Transferred:
    """Collateral moved between two positions."""

    time: Timestamp
    sender: AccountId
    receiver: AccountId
    amount: Collateral


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted:
    """An order passed every check and got its id (it is not resting yet).

    ``order_key`` is the order's settlement key when the exchange was given a key
    function (a settling node: the rollup order-tree key), recorded so that a replay
    rebuilds the key reservations without recomputing any hash.
    """

    time: Timestamp
    order_id: OrderId
    order: Order
    order_key: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderOpened:
    """The unfilled rest of an accepted order now rests in the book."""

    time: Timestamp
    order_id: OrderId


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCanceled:
    """An accepted order stopped (its unfilled rest will never fill)."""

    time: Timestamp
    order_id: OrderId
    reason: CancelReason


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTriggered:
    """A stop or take-profit order's trigger price was reached."""

    time: Timestamp
    order_id: OrderId


@dataclass(frozen=True, slots=True, kw_only=True)
class OraclePriceSet:
    """The oracle (index) price of a market changed."""

    time: Timestamp
    market: MarketId
    price: Price


@dataclass(frozen=True, slots=True, kw_only=True)
class PremiumSampled:
    """One premium sample (ppb of the index price) for the running funding hour."""

    time: Timestamp
    market: MarketId
    premium_ppb: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingApplied:
    """The global funding index moved; every open position is funded against it."""

    time: Timestamp
    market: MarketId
    rate_ppb: int
    price: Price
    index: FundingIndex


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionClose:
    """One market of a liquidated position handed to the insurance fund."""

    market: MarketId
    balance: Quantity
    """The liquidated balance (signed); the insurance fund takes it over."""
    collateral: Collateral
    """Collateral the liquidated account receives for it (negative: pays)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidated:
    """A position with TR > TV was liquidated.

    ``closes`` (possibly empty) moved balances to the insurance fund at the oracle price;
    ``penalty`` went from the account to the fund; ``insurance_payment`` went from the fund
    to the account to cover a deficit.
    """

    time: Timestamp
    account_id: AccountId
    closes: tuple[PositionClose, ...]
    penalty: Collateral
    insurance_payment: Collateral


@dataclass(frozen=True, slots=True, kw_only=True)
class Deleveraged:
    """A bankrupt position was closed against an opposite, profitable one.

    ``quantity`` is the change of the deleveraged account's balance (toward zero); the
    deleverager's balance changes by ``-quantity``. ``collateral`` is paid to the
    deleveraged account by the deleverager (negative: the other way).
    """

    time: Timestamp
    deleveraged_account_id: AccountId
    deleverager_account_id: AccountId
    market: MarketId
    quantity: Quantity
    collateral: Collateral


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketStatusChanged:
    """A market went ONLINE, CLOSE_ONLY or HALTED."""

    time: Timestamp
    market: MarketId
    status: MarketStatus


Event = (
    AccountCreated
    | Deposited
    | Withdrawn
    | Transferred
    | OrderAccepted
    | OrderOpened
    | OrderCanceled
    | OrderTriggered
    | Fill
    | OraclePriceSet
    | PremiumSampled
    | FundingApplied
    | Liquidated
    | Deleveraged
    | MarketStatusChanged
)


def replay(
    events: Iterable[Event],
    config: ExchangeConfig,
    *,
    require_signatures: bool = False,
    record_events: bool = True,
) -> Exchange:
    """Build a fresh exchange and apply ``events`` to it, reproducing the recorded state.

    Events are applied, not re-decided, so signatures are not checked again;
    ``require_signatures`` only configures the returned exchange for what comes next.
    """
    from starkperp.exchange.engine import Exchange

    exchange = Exchange(config, require_signatures=require_signatures, record_events=record_events)
    for event in events:
        exchange.apply_event(event)
    return exchange
