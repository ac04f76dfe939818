"""The exchange facade: accounts, orders, matching, prices, funding, liquidations.

:class:`Exchange` is the one object the node, the simulator and the demo drive. Every
public method either returns a read-only view or performs one request: it *decides*
(validation, signature, risk, matching) without touching state, raises
:class:`ExchangeError` with a :class:`Reason` if the request is refused (nothing changed),
and otherwise emits events; the state changes only by applying events, through
:meth:`Exchange.apply_event` (what :func:`starkperp.exchange.events.replay` calls) or, on
the hot path, by calling the same per-event handlers directly. Time comes from the
injected ``clock`` (integer epoch seconds); there is no randomness.

Plain limit and market orders take a fast path in :meth:`Exchange.place_order` (the
general path's checks inlined, in the same order); ``Exchange(reference=True)`` runs every
request through the readable general path instead, and the tests require both to emit the
same events and reach the same state. ``Exchange.orders`` keeps open orders and a bounded
window of finished ones (``ExchangeConfig.order_history``), a function of the event log.

Matching is price-time priority. An incoming order first passes an initial-margin check as
if it filled completely at its limit (worst) price, fees included; an order that may rest
must also keep the account within initial margin in the worst case of all its open orders
filling (``risk.is_open_order_acceptable``, with per account and market running sums of the
resting orders kept by the event handlers, so no check scans orders). Then it is matched
against the opposite side; each fill is re-checked for the resting maker (new risk needs
initial margin, a reduction needs the validity rule), and a maker that fails, is expired,
belongs to the same account (self-trade prevention), or is reduce-only with nothing left to
reduce is canceled instead. The taker pays the taker fee of its 30-day-volume tier, the
maker the maker fee; the buyer's collateral is rounded up, the seller's down, and the
remainder goes to the fee account with the fees, so collateral is conserved exactly.

Funding is applied explicitly to every open position when the index moves (the rounding
remainder, always in the system's favour, goes to the fee account) and lazily to any
position touched with a stale cached index. If several hour boundaries pass between two
calls of :meth:`Exchange.advance_time`, each missed hour gets its own capped tick, in
order, all stamped with the current time (the premium samples go to the first of them; the
later ones carry the interest rate alone).
"""

from __future__ import annotations

import hashlib
import heapq
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace

from starkperp.exchange.book import BookOrder, OrderBook
from starkperp.exchange.config import ExchangeConfig, default
from starkperp.exchange.deleverage import (
    compute_bankruptcy_transfers,
    compute_deleverage_score,
    compute_fair_transfer,
    validate_deleverage,
)
from starkperp.exchange.errors import ExchangeError, Reason
from starkperp.exchange.events import (
    AccountCreated,
    Deleveraged,
    Deposited,
    Event,
    FundingApplied,
    Liquidated,
    MarketStatusChanged,
    OraclePriceSet,
    OrderAccepted,
    OrderCanceled,
    OrderOpened,
    OrderTriggered,
    PositionClose,
    PremiumSampled,
    Transferred,
    Withdrawn,
)
from starkperp.exchange.funding import (
    compute_funding_cap_ppb,
    compute_funding_index_delta,
    compute_funding_payment,
    compute_funding_rate_ppb,
    compute_impact_price,
    compute_premium_ppb,
)
from starkperp.exchange.liquidation import (
    compute_liquidation_penalty,
    compute_takeover_collateral,
)
from starkperp.exchange.markets import (
    Collateral,
    FundingIndex,
    MarketConfig,
    MarketId,
    MarketStatus,
    Price,
    Quantity,
    is_price_on_tick,
)
from starkperp.exchange.model import (
    AccountId,
    AccountKind,
    AccountView,
    BookDelta,
    BookSnapshot,
    CancelReason,
    Fill,
    Order,
    OrderAck,
    OrderId,
    OrderSignature,
    OrderStatus,
    OrderType,
    OrderView,
    PositionView,
    Side,
    TimeInForce,
    Timestamp,
    compute_fast_constructor,
)
from starkperp.exchange.oracle import PriceTick, compute_mark_price, validate_price_tick
from starkperp.exchange.retention import (
    CompactIntSet,
    ExpiringIntSet,
    compute_client_id_fingerprint,
    compute_forget_time,
)
from starkperp.exchange.risk import (
    OpenOrderTotals,
    compute_liquidation_price,
    compute_risk_snapshot,
    compute_total_risk_scaled,
    compute_total_value_scaled,
    compute_worst_case_excess_scaled,
    is_healthy,
    is_initial_margin_ok,
    is_open_order_acceptable,
)

__all__ = ["AccountState", "Exchange", "ManualClock"]

_MAX_AMOUNT = 1 << 64
_MAX_BALANCE = 1 << 63
_CANCEL = 0
_FILL = 1
# Enum members as module constants: reading ``Side.BUY`` goes through the enum's
# metaclass and costs several times a global load on the hot path.
_BUY = Side.BUY
_SELL = Side.SELL
_OPEN = OrderStatus.OPEN
_UNTRIGGERED = OrderStatus.UNTRIGGERED
_PENDING = OrderStatus.PENDING
_FILLED = OrderStatus.FILLED
_CANCELED = OrderStatus.CANCELED
_GTT = TimeInForce.GTT
_FOK = TimeInForce.FOK
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_STOP_LIMIT = OrderType.STOP_LIMIT
_STOP_MARKET = OrderType.STOP_MARKET
_TRADER = AccountKind.TRADER
_FEE = AccountKind.FEE
_ONLINE = MarketStatus.ONLINE
_CLOSE_ONLY = MarketStatus.CLOSE_ONLY
_HALTED = MarketStatus.HALTED
_USER_CANCELED = CancelReason.USER_CANCELED
_EXPIRED = CancelReason.EXPIRED
_SELF_TRADE = CancelReason.SELF_TRADE
_REDUCE_ONLY = CancelReason.REDUCE_ONLY
_MARKET_CLOSED = CancelReason.MARKET_CLOSED
_UNDERCOLLATERALIZED = CancelReason.UNDERCOLLATERALIZED
_IOC_REMAINDER = CancelReason.IOC_REMAINDER
_REPLACED = CancelReason.REPLACED
_LIQUIDATED = CancelReason.LIQUIDATED
_OPEN_STATUSES = (_OPEN, _UNTRIGGERED, _PENDING)
_CONDITIONAL = frozenset(t for t in OrderType if t.is_conditional)
_MARKET_TYPES = frozenset(t for t in OrderType if t.is_market)
_SECONDS_PER_DAY = 86_400
# at most this many finished orders are forgotten per finishing event (each event adds one)
_FORGET_BUDGET = 4
# Hot-path constructors: same frozen classes, built without the frozen-__setattr__ detour.
_new_order_accepted = compute_fast_constructor(OrderAccepted)
_new_order_opened = compute_fast_constructor(OrderOpened)
_new_order_canceled = compute_fast_constructor(OrderCanceled)
_new_fill = compute_fast_constructor(Fill)
_new_order_ack = compute_fast_constructor(OrderAck)
_new_order_view = compute_fast_constructor(OrderView)


def _is_conditional(order_type: OrderType) -> bool:
    return order_type is not _LIMIT and order_type in _CONDITIONAL


class _MarketHot:
    """One market's constants and objects, gathered once for the hot path.

    Rebuilt whenever the market's configuration changes (status); ``on_tick`` memoises the
    on-tick test per price (prices near the market repeat).
    """

    __slots__ = (
        "config",
        "book",
        "is_online",
        "step_size",
        "min_order_size",
        "max_position_size",
        "imf",
        "mmf",
        "baseline",
        "on_tick",
    )

    def __init__(self, config: MarketConfig, book: OrderBook, on_tick: dict[int, bool]) -> None:
        self.config = config
        self.book = book
        self.is_online = config.status is _ONLINE
        self.step_size: int = config.step_size
        self.min_order_size: int = config.min_order_size
        self.max_position_size: int = config.max_position_size
        self.imf: int = config.initial_margin_fraction
        self.mmf: int = config.maintenance_margin_fraction
        self.baseline: int = config.baseline_position_size
        self.on_tick = on_tick


class ManualClock:
    """A clock the caller moves by hand (tests, simulations, replays)."""

    __slots__ = ("now",)

    def __init__(self, now: int = 0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> int:
        """Move the clock forward and return the new time."""
        self.now += seconds
        return self.now


class AccountState:
    """The exchange's mutable record of one position (collateral and balances)."""

    __slots__ = (
        "account_id",
        "kind",
        "public_key",
        "collateral",
        "balances",
        "funding_index",
        "open_cost",
        "realized_pnl",
        "funding_paid",
        "client_orders",
        "open_orders",
        "volume_days",
        "volume_cache_day",
        "volume_cache",
        "fee_rates",
        "next_tier_volume",
        "fills",
        "reserved",
    )

    def __init__(
        self, account_id: int, kind: AccountKind, public_key: int | None, fill_history: int
    ) -> None:
        self.account_id = account_id
        self.kind = kind
        self.public_key = public_key
        self.collateral = 0
        self.balances: dict[MarketId, int] = {}
        self.funding_index: dict[MarketId, int] = {}
        self.open_cost: dict[MarketId, int] = {}
        self.realized_pnl: dict[MarketId, int] = {}
        self.funding_paid: dict[MarketId, int] = {}
        self.client_orders: dict[str, int] = {}
        self.open_orders: dict[int, BookOrder] = {}
        self.volume_days: dict[int, int] = {}
        self.volume_cache_day = -1
        self.volume_cache = 0
        self.fee_rates = (0, 0)
        self.next_tier_volume = 0
        self.fills: deque[Fill] = deque(maxlen=fill_history)
        # market -> [bid size, bid notional, ask size, ask notional] of the resting orders
        # that reserve margin (not reduce-only); notionals are sum(remaining * price)
        self.reserved: dict[MarketId, list[int]] = {}


class Exchange:
    """The perpetual exchange engine (one process, one thread, deterministic)."""

    def __init__(
        self,
        config: ExchangeConfig | None = None,
        *,
        clock: Callable[[], int] | None = None,
        require_signatures: bool = True,
        record_events: bool = True,
        reference: bool = False,
        order_key: Callable[[Order, int | None], int | None] | None = None,
    ) -> None:
        """Create an empty exchange: the system accounts exist, no prices, no orders.

        ``clock`` returns integer epoch seconds (default: a :class:`ManualClock` at 0).
        Unsigned orders are accepted only with ``require_signatures=False``.
        ``record_events=False`` keeps no event log (benchmarks).
        ``reference=True`` runs every request through the readable general path and applies
        every event through :meth:`apply_event` (tests check that the default fast path
        emits the same events and reaches the same state).
        ``order_key(order, account_public_key)`` returns an order's settlement key (a
        settling node: the rollup order-tree key of the order's message) or None; with it,
        an order whose key another order holds is refused (``ORDER_KEY_TAKEN``). Default
        None: no keys (a node that does not settle). The attribute may be set later.
        """
        self.config = config if config is not None else default()
        self.clock: Callable[[], int] = clock if clock is not None else ManualClock()
        self.require_signatures = require_signatures
        self.record_events = record_events
        self.markets: dict[MarketId, MarketConfig] = {m.market: m for m in self.config.markets}
        self.books = {m: OrderBook(m, self.config.book_delta_history) for m in self.markets}
        self.accounts: dict[int, AccountState] = {}
        self.orders: dict[int, BookOrder] = {}
        self.events: list[Event] = []
        self.oracle_prices: dict[MarketId, Price] = {}
        self.oracle_times: dict[MarketId, int] = {}
        self.funding_index: dict[MarketId, int] = {m: 0 for m in self.markets}
        self.funding_history: dict[MarketId, list[FundingApplied]] = {m: [] for m in self.markets}
        self.premium_samples: dict[MarketId, list[int]] = {m: [] for m in self.markets}
        self.last_premium_sample: dict[MarketId, int] = {}
        self.funding_period: dict[MarketId, int] = {}
        self.trades: dict[MarketId, deque[Fill]] = {
            m: deque(maxlen=self.config.trade_history) for m in self.markets
        }
        self._conditional: dict[MarketId, dict[int, BookOrder]] = {m: {} for m in self.markets}
        self.reference = reference
        self._hot: dict[MarketId, _MarketHot] = {
            m: _MarketHot(c, self.books[m], {}) for m, c in self.markets.items()
        }
        self._finished: deque[int] = deque()  # finished order ids, oldest first
        self._order_history = self.config.order_history
        # client ids of forgotten finished orders whose signed expiry has not passed yet
        self._spent_client_ids = ExpiringIntSet()
        # settlement keys: open orders' reservations, and keys of orders ever filled
        self.order_key = order_key
        self._order_key_holders: dict[int, int] = {}  # key -> open order id
        self._order_keys: dict[int, int] = {}  # open order id -> key
        self._filled_order_keys = CompactIntSet()
        self._last_order_key: tuple[Order | None, int | None] = (None, None)
        self._expiry: list[int] = []  # heap of expiration times (may hold stale ones)
        self._expiring: dict[int, dict[int, None]] = {}  # expiration -> open order ids
        self.now = 0
        self.next_order_id = 1
        self.next_fill_id = 1
        self.next_account_id = int(self.config.first_trader_account_id)
        self._fill_history = self.config.account_fill_history
        for account_id, kind in (
            (self.config.insurance_fund_account_id, AccountKind.INSURANCE_FUND),
            (self.config.fee_account_id, _FEE),
        ):
            self.accounts[account_id] = AccountState(account_id, kind, None, self._fill_history)
        self._fee_account = self.accounts[self.config.fee_account_id]
        self._handlers: dict[type, Callable[[object], None]] = {
            AccountCreated: self._apply_account_created,  # type: ignore[dict-item]
            Deposited: self._apply_deposited,  # type: ignore[dict-item]
            Withdrawn: self._apply_withdrawn,  # type: ignore[dict-item]
            Transferred: self._apply_transferred,  # type: ignore[dict-item]
            OrderAccepted: self._apply_order_accepted,  # type: ignore[dict-item]
            OrderOpened: self._apply_order_opened,  # type: ignore[dict-item]
            OrderCanceled: self._apply_order_canceled,  # type: ignore[dict-item]
            OrderTriggered: self._apply_order_triggered,  # type: ignore[dict-item]
            Fill: self._apply_fill,  # type: ignore[dict-item]
            OraclePriceSet: self._apply_oracle_price_set,  # type: ignore[dict-item]
            PremiumSampled: self._apply_premium_sampled,  # type: ignore[dict-item]
            FundingApplied: self._apply_funding_applied,  # type: ignore[dict-item]
            Liquidated: self._apply_liquidated,  # type: ignore[dict-item]
            Deleveraged: self._apply_deleveraged,  # type: ignore[dict-item]
            MarketStatusChanged: self._apply_market_status_changed,  # type: ignore[dict-item]
        }

    # ===================================================================================
    # accounts and collateral
    # ===================================================================================

    @property
    def insurance_fund_id(self) -> AccountId:
        """Return the insurance fund's account id."""
        return self.config.insurance_fund_account_id

    @property
    def fee_account_id(self) -> AccountId:
        """Return the fee account's id."""
        return self.config.fee_account_id

    def create_account(
        self, account_id: int | None = None, *, public_key: int | None = None
    ) -> AccountId:
        """Open a trader position (the next free id unless one is given) and return its id."""
        now = self._tick()
        if account_id is None:
            account_id = self.next_account_id
        if type(account_id) is not int:
            raise ExchangeError(Reason.INVALID_AMOUNT, "account id must be an int")
        if public_key is not None and type(public_key) is not int:
            raise ExchangeError(Reason.BAD_SIGNATURE, "public key must be an int")
        if account_id in self.accounts:
            raise ExchangeError(Reason.ACCOUNT_EXISTS, f"account {account_id} exists")
        if not 0 < account_id < _MAX_BALANCE:
            raise ExchangeError(Reason.OVERFLOW, "account id out of range")
        if public_key is not None and not 0 < public_key < 2**251:
            raise ExchangeError(Reason.BAD_SIGNATURE, "public key out of range")
        self._emit(
            AccountCreated(
                time=Timestamp(now),
                account_id=AccountId(account_id),
                kind=_TRADER,
                public_key=public_key,
            )
        )
        return AccountId(account_id)

    def deposit(self, account_id: int, amount: int) -> None:
        """Credit collateral that arrived on L1 (the insurance fund may be funded too)."""
        now = self._tick()
        account = self._get_account(account_id)
        self._validate_amount(amount)
        if account.collateral + amount >= _MAX_BALANCE:
            raise ExchangeError(Reason.OVERFLOW, "collateral would overflow")
        self._emit(
            Deposited(
                time=Timestamp(now), account_id=AccountId(account_id), amount=Collateral(amount)
            )
        )

    def withdraw(self, account_id: int, amount: int) -> None:
        """Debit collateral for L1; the account must keep its initial margin."""
        now = self._tick()
        account = self._get_trader(account_id)
        self._validate_amount(amount)
        self._validate_can_release(account, amount)
        self._emit(
            Withdrawn(
                time=Timestamp(now), account_id=AccountId(account_id), amount=Collateral(amount)
            )
        )

    def transfer(self, sender: int, receiver: int, amount: int) -> None:
        """Move collateral between two positions; the sender keeps its initial margin."""
        now = self._tick()
        source = self._get_account(sender)
        target = self._get_account(receiver)
        if source is target:
            raise ExchangeError(Reason.INVALID_AMOUNT, "sender and receiver are the same")
        if source.kind is _FEE:
            raise ExchangeError(Reason.SYSTEM_ACCOUNT, "the fee account does not send")
        self._validate_amount(amount)
        if target.collateral + amount >= _MAX_BALANCE:
            raise ExchangeError(Reason.OVERFLOW, "collateral would overflow")
        self._validate_can_release(source, amount)
        self._emit(
            Transferred(
                time=Timestamp(now),
                sender=AccountId(sender),
                receiver=AccountId(receiver),
                amount=Collateral(amount),
            )
        )

    # ===================================================================================
    # orders
    # ===================================================================================

    def place_order(self, order: Order, *, signature_verified: bool = False) -> OrderAck:
        """Validate, risk-check and match an order; return its acknowledgement.

        Placing again with the same ``client_id`` and identical parameters returns the
        original acknowledgement; different parameters raise ``DUPLICATE_CLIENT_ID``.

        ``signature_verified=True`` tells the engine that the caller has already verified
        ``order.signature`` against the account's STARK key (e.g. the node does it in a
        process pool). The engine then skips only the expensive curve check; it still
        requires a signature when ``require_signatures`` is set and still checks that the
        signing key is the account's key. Callers that did not verify must leave it False.

        Plain limit and market orders (GTT or IOC, not reduce-only) on an ONLINE market take
        the fast path below: the same checks in the same order as :meth:`_validate_order` and
        :meth:`_validate_taker_risk`, with the market's constants gathered once, and the
        hot events applied by direct calls to their handlers. Everything else (and every
        order when ``reference=True``) takes the general path :meth:`_place_checked`.
        """
        clock = self.clock
        now = clock.now if type(clock) is ManualClock else int(clock())
        if now < self.now:
            now = self.now
        if type(order) is not Order:
            raise ExchangeError(Reason.INVALID_ORDER, "a field of the order has the wrong type")
        # plain attribute loads (specialised by the interpreter) beat one attrgetter call
        account_id = order.account_id
        market = order.market
        side = order.side
        size = order.size
        price = order.price
        client_id = order.client_id
        expiration = order.expiration
        limit_fee = order.limit_fee
        order_type = order.order_type
        tif = order.time_in_force
        trigger = order.trigger_price
        post_only = order.post_only
        reduce_only = order.reduce_only
        signature = order.signature
        public_key = order.public_key
        if not (
            type(account_id) is int
            and type(market) is str
            and type(side) is Side
            and type(size) is int
            and type(price) is int
            and type(client_id) is str
            and type(expiration) is int
            and type(limit_fee) is int
            and type(order_type) is OrderType
            and type(tif) is TimeInForce
            and trigger is None
            and type(post_only) is bool
            and type(reduce_only) is bool
            and signature is None
            and public_key is None
        ):
            _validate_field_types(order)  # the full check, with the optional fields
        account = self.accounts.get(account_id)
        if account is None:
            raise ExchangeError(Reason.UNKNOWN_ACCOUNT, f"account {account_id}")
        if account.kind is not _TRADER:
            raise ExchangeError(Reason.SYSTEM_ACCOUNT, f"account {account_id} is a system account")
        existing = account.client_orders.get(client_id)
        if existing is not None:
            return self._resend(order, existing)
        if self._spent_client_ids and self._is_client_id_spent(account_id, client_id):
            raise ExchangeError(Reason.DUPLICATE_CLIENT_ID, f"client id {client_id!r}")
        hot = self._hot.get(market)
        if (
            hot is None
            or self.reference
            or not hot.is_online
            or reduce_only
            or tif is _FOK
            or (order_type is not _LIMIT and order_type is not _MARKET)
        ):
            return self._place_checked(order, account, now, signature_verified)
        # -- validation: the checks of _validate_order, in its order -------------------
        if size <= 0:
            raise ExchangeError(Reason.INVALID_AMOUNT, "size must be a positive integer")
        if size >= _MAX_AMOUNT or price >= _MAX_AMOUNT:
            raise ExchangeError(Reason.OVERFLOW, "size and price must be below 2^64")
        if size % hot.step_size:
            raise ExchangeError(Reason.SIZE_NOT_STEP_MULTIPLE, f"size {size}")
        if size < hot.min_order_size:
            raise ExchangeError(Reason.BELOW_MIN_SIZE, f"size {size}")
        config = hot.config
        on_tick = hot.on_tick.get(price)
        if on_tick is None:
            on_tick = self._is_on_tick(config, price)
        if not on_tick:
            raise ExchangeError(Reason.PRICE_OFF_TICK, f"price {price}")
        if expiration <= now:
            raise ExchangeError(Reason.EXPIRED, f"expired at {expiration}")
        if not 0 <= limit_fee <= 1_000_000:
            raise ExchangeError(Reason.INVALID_ORDER, "limit fee must be within 0..1e6 ppm")
        if trigger is not None:
            raise ExchangeError(Reason.INVALID_ORDER, "only conditional orders take a trigger")
        if tif is _GTT:
            if order_type is _MARKET:
                raise ExchangeError(Reason.INVALID_ORDER, "market orders are IOC or FOK")
        elif post_only:
            raise ExchangeError(Reason.INVALID_ORDER, "post-only orders are GTT")
        if not 0 < len(client_id) <= 64:
            raise ExchangeError(Reason.INVALID_ORDER, "client id must be 1..64 characters")
        if signature is not None or self.require_signatures:
            self._validate_signature(order, account, config, signature_verified)
        if market not in self.oracle_prices:
            raise ExchangeError(Reason.NO_ORACLE_PRICE, f"no price for {market}")
        if account.volume_cache_day == now // _SECONDS_PER_DAY:
            maker_rate, taker_rate = account.fee_rates
        else:
            maker_rate, taker_rate = self._fee_rates(account, now)
        needed = maker_rate if post_only else taker_rate
        if limit_fee < needed:
            raise ExchangeError(Reason.FEE_LIMIT_TOO_LOW, f"fee {needed} ppm > {limit_fee}")
        book = hot.book
        is_buy = side is _BUY
        if is_buy:
            keys = book.ask_keys
            crosses = -keys[-1] <= price if keys else False
        else:
            keys = book.bid_keys
            crosses = keys[-1] >= price if keys else False
        if post_only and crosses:
            best = -keys[-1] if is_buy else keys[-1]
            raise ExchangeError(Reason.POST_ONLY_WOULD_CROSS, f"best {best}")
        # -- initial margin as if the order filled completely at its limit price --------
        value = size * price
        dq: int
        if is_buy:
            cash = -(-value >> 32)
            dq = size
            dcoll = -cash
        else:
            cash = value >> 32
            dq = -size
            dcoll = cash
        dcoll -= -((-cash * taker_rate) // 1_000_000)
        reason = self._check_change(account, config, dq, dcoll)
        if reason is not None:
            raise ExchangeError(reason, "the order would break the margin requirement")
        if tif is _GTT:  # it may rest (a GTT order on the fast path is a limit order)
            reason = self._check_open_order_margin(account, config, is_buy, size, price)
            if reason is not None:
                raise ExchangeError(reason, "open orders would over-commit the margin")
        order_key = None if self.order_key is None else self._check_order_key(order, account)
        # -- decided: apply OrderAccepted (and the fills, and OrderOpened) --------------
        order_id = self.next_order_id
        actions = self._plan(order, size, account, config, now, taker_rate)[0] if crosses else []
        accepted = _new_order_accepted(
            time=now, order_id=order_id, order=order, order_key=order_key
        )
        # _apply_order_accepted, inlined (the id is the engine's own counter: an OrderId)
        record = BookOrder(order_id, order, now)  # type: ignore[arg-type]
        self.orders[order_id] = record
        self.next_order_id = order_id + 1
        account.client_orders[client_id] = order_id
        if order_key is not None:
            self._order_key_holders[order_key] = order_id
            self._order_keys[order_id] = order_key
        account.open_orders[order_id] = record
        self.now = now
        if self.record_events:
            self.events.append(accepted)
        if crosses or tif is not _GTT or order_type is not _LIMIT:
            ack = self._execute(record, actions, now)
        else:  # it rests: _execute's OrderOpened and _apply_order_opened, inlined
            opened = _new_order_opened(time=now, order_id=order_id)
            record.status = _OPEN
            book.add(record)
            totals = account.reserved.get(market)  # _reserve, inlined (not reduce-only)
            if totals is None:
                totals = account.reserved[market] = [0, 0, 0, 0]
            if is_buy:
                totals[0] += size
                totals[1] += value
            else:
                totals[2] += size
                totals[3] += value
            bucket = self._expiring.get(expiration)  # _schedule_expiry, inlined
            if bucket is None:
                self._expiring[expiration] = {order_id: None}
                heapq.heappush(self._expiry, expiration)
            else:
                bucket[order_id] = None
            if self.record_events:
                self.events.append(opened)
            ack = _new_order_ack(
                order_id=order_id,
                client_id=client_id,
                status=_OPEN,
                filled=0,
                remaining=size,
                fills=(),
                cancel_reason=None,
            )
        record.ack = ack
        return ack

    def _resend(self, order: Order, existing: int) -> OrderAck:
        """Answer an order whose client id is taken: the original ack, or a refusal."""
        record = self.orders.get(existing)
        if record is not None and record.order == order:
            return record.ack if record.ack is not None else self._build_ack(record, ())
        raise ExchangeError(Reason.DUPLICATE_CLIENT_ID, f"client id {order.client_id!r}")

    def _place_checked(
        self, order: Order, account: AccountState, now: int, signature_verified: bool
    ) -> OrderAck:
        """Place an order through the general path (every order type; the reference)."""
        market, taker_rate = self._validate_order(order, account, now, signature_verified)
        if _is_conditional(order.order_type):
            order_key = self._check_order_key(order, account)
            order_id = self.next_order_id
            self._emit(
                _new_order_accepted(time=now, order_id=order_id, order=order, order_key=order_key)
            )
            record = self.orders[order_id]
            record.ack = self._build_ack(record, ())
            if self._is_triggered(record, self.oracle_prices[order.market]):
                self._trigger(record, now)
            return record.ack
        self._validate_taker_risk(order, account, market, taker_rate)
        self._validate_open_order_margin(order, account, market)
        book = self.books[order.market]
        if order.side is _BUY:
            best = book.best_ask()
            crosses = best is not None and best <= order.price
        else:
            best = book.best_bid()
            crosses = best is not None and best >= order.price
        if crosses:
            actions, filled = self._plan(order, order.size, account, market, now, taker_rate)
        else:
            actions, filled = [], 0
        if filled < order.size and order.time_in_force is _FOK:
            raise ExchangeError(Reason.FOK_NOT_FILLABLE, f"only {filled} of {order.size} fill")
        order_key = self._check_order_key(order, account)
        order_id = self.next_order_id
        self._emit(
            _new_order_accepted(time=now, order_id=order_id, order=order, order_key=order_key)
        )
        record = self.orders[order_id]
        record.ack = self._execute(record, actions, now)
        return record.ack

    def cancel_order(self, order_id: int, account_id: int | None = None) -> OrderView:
        """Cancel an open or untriggered order (optionally checking its owner)."""
        clock = self.clock
        now = clock.now if type(clock) is ManualClock else int(clock())
        if now < self.now:
            now = self.now
        record = self.orders.get(order_id) if type(order_id) is int else None
        if record is None:
            raise ExchangeError(Reason.UNKNOWN_ORDER, f"order {order_id}")
        if account_id is not None and record.account_id != account_id:
            raise ExchangeError(Reason.WRONG_ACCOUNT, f"order {order_id} is not yours")
        if record.status not in _OPEN_STATUSES:
            raise ExchangeError(Reason.ORDER_NOT_OPEN, f"order {order_id} is {record.status.value}")
        if self.reference:
            self._cancel(record, _USER_CANCELED, now)
        else:
            canceled = _new_order_canceled(time=now, order_id=order_id, reason=_USER_CANCELED)
            self._apply_order_canceled(canceled)
            self.now = now
            if self.record_events:
                self.events.append(canceled)
        return _new_order_view(  # record.to_view(), inlined
            order_id=order_id,
            order=record.order,
            status=_CANCELED,
            filled=record.filled,
            remaining=record.remaining,
            created_at=record.created_at,
            updated_at=now,
            cancel_reason=_USER_CANCELED,
        )

    def cancel_order_by_client_id(self, account_id: int, client_id: str) -> OrderView:
        """Cancel an order by its client id."""
        account = self._get_account(account_id)
        order_id = account.client_orders.get(client_id) if type(client_id) is str else None
        if order_id is None:
            raise ExchangeError(Reason.UNKNOWN_ORDER, f"client id {client_id!r}")
        return self.cancel_order(order_id, account_id)

    def cancel_all(self, account_id: int, market: MarketId | str | None = None) -> list[OrderId]:
        """Cancel every open order of an account (in one market, or all); return their ids."""
        now = self._tick()
        account = self._get_account(account_id)
        if market is not None:
            self._get_market(market)
        ids = [
            oid
            for oid, rec in account.open_orders.items()
            if market is None or rec.order.market == market
        ]
        for oid in sorted(ids):
            self._cancel(self.orders[oid], _USER_CANCELED, now)
        return [OrderId(i) for i in sorted(ids)]

    def cancel_replace(
        self, order_id: int, new_order: Order, *, signature_verified: bool = False
    ) -> OrderAck:
        """Cancel an open order and place ``new_order`` atomically (same account).

        If the new order is refused, the old one stays open. ``signature_verified`` has the
        meaning documented on :meth:`place_order`; the signature is checked at most once.
        """
        now = self._tick()
        record = self.orders.get(order_id) if type(order_id) is int else None
        if record is None:
            raise ExchangeError(Reason.UNKNOWN_ORDER, f"order {order_id}")
        if record.account_id != new_order.account_id:
            raise ExchangeError(Reason.WRONG_ACCOUNT, "the new order belongs to another account")
        if record.status not in _OPEN_STATUSES:
            raise ExchangeError(Reason.ORDER_NOT_OPEN, f"order {order_id} is {record.status.value}")
        _validate_field_types(new_order)
        account = self._get_trader(new_order.account_id)
        if new_order.client_id in account.client_orders or self._is_client_id_spent(
            account.account_id, new_order.client_id
        ):
            raise ExchangeError(Reason.DUPLICATE_CLIENT_ID, f"client id {new_order.client_id!r}")
        market, rate = self._validate_order(new_order, account, now, signature_verified)
        if not _is_conditional(new_order.order_type):
            self._validate_taker_risk(new_order, account, market, rate)
            self._validate_open_order_margin(new_order, account, market, replacing=record)
            _, filled = self._plan(new_order, new_order.size, account, market, now, rate)
            if new_order.time_in_force is _FOK and filled < new_order.size:
                raise ExchangeError(Reason.FOK_NOT_FILLABLE, "the new order cannot fill")
        self._check_order_key(new_order, account)
        self._cancel(record, _REPLACED, now)
        # The signature was verified by _validate_order just above.
        return self.place_order(new_order, signature_verified=True)

    def expire_orders(self) -> list[OrderId]:
        """Cancel every order whose expiration has passed; return their ids."""
        return self._expire(self._tick())

    # ===================================================================================
    # prices, time, funding
    # ===================================================================================

    def set_oracle_price(self, market: MarketId | str, price: int) -> None:
        """Set a market's oracle price directly (trusted operator path; see apply_oracle_tick)."""
        now = self._tick()
        config = self._get_market(market)
        if type(price) is not int or not (
            self.config.oracle_price_min <= price <= self.config.oracle_price_max
        ):
            raise ExchangeError(Reason.ORACLE_PRICE_OUT_OF_RANGE, f"price {price}")
        self._emit(OraclePriceSet(time=Timestamp(now), market=config.market, price=Price(price)))
        self._run_triggers(config.market, now)

    def apply_oracle_tick(self, tick: PriceTick) -> Price:
        """Accept a signed price tick (quorum of distinct signers, fresh) and return the median."""
        now = self._tick()
        config = next((m for m in self.markets.values() if m.asset_id == tick.asset_id), None)
        if config is None:
            raise ExchangeError(Reason.UNKNOWN_MARKET, f"asset id {tick.asset_id:#x}")
        price = validate_price_tick(
            tick,
            signers=self.config.oracle_signers,
            quorum=self.config.oracle_quorum,
            now=now,
            max_age=self.config.oracle_max_age,
            price_min=self.config.oracle_price_min,
            price_max=self.config.oracle_price_max,
        )
        self._emit(OraclePriceSet(time=Timestamp(now), market=config.market, price=price))
        self._run_triggers(config.market, now)
        return price

    def advance_time(self) -> None:
        """Run what the clock makes due: expiries, premium samples, hourly funding."""
        now = self._tick()
        self._expire(now)
        interval = self.config.funding_interval
        for market in self.markets:
            if market not in self.oracle_prices:
                continue
            last = self.last_premium_sample.get(market)
            if last is None or now - last >= self.config.premium_sample_interval:
                self._emit(
                    PremiumSampled(
                        time=Timestamp(now),
                        market=market,
                        premium_ppb=self.compute_premium_sample(market),
                    )
                )
            period = self.funding_period.get(market)
            if period is not None:
                # every hour boundary passed since the last tick gets its own (capped) tick,
                # oldest first; all carry ``now`` (event times never go backwards), and each
                # one advances the market's funding period by one hour
                for _ in range(now // interval - period):
                    self._apply_funding_now(market, now)

    def compute_premium_sample(self, market: MarketId | str) -> int:
        """Return the current premium (ppb) of the book's impact prices over the index."""
        config = self._get_market(market)
        index = self.oracle_prices[config.market]
        book = self.books[config.market]
        impact_bid = compute_impact_price(book.iter_levels(True), config.impact_notional)
        impact_ask = compute_impact_price(book.iter_levels(False), config.impact_notional)
        return compute_premium_ppb(impact_bid, impact_ask, index)

    def _apply_funding_now(self, market: MarketId, now: int) -> None:
        cap = compute_funding_cap_ppb(
            self.config.max_funding_rate_ppb_per_8h, self.config.funding_interval
        )
        rate = compute_funding_rate_ppb(
            self.premium_samples[market], self.config.interest_rate_ppb_per_interval, cap
        )
        price = self.oracle_prices[market]
        index = self.funding_index[market] + compute_funding_index_delta(rate, price)
        self._emit(
            FundingApplied(
                time=Timestamp(now),
                market=market,
                rate_ppb=rate,
                price=price,
                index=FundingIndex(index),
            )
        )

    def set_market_status(self, market: MarketId | str, status: MarketStatus) -> None:
        """Put a market ONLINE, CLOSE_ONLY or HALTED (operator action)."""
        now = self._tick()
        config = self._get_market(market)
        self._emit(MarketStatusChanged(time=Timestamp(now), market=config.market, status=status))

    # ===================================================================================
    # liquidation and deleveraging
    # ===================================================================================

    def get_liquidatable_accounts(self) -> list[AccountId]:
        """Return the trader accounts with TR > TV at the oracle prices (sorted)."""
        out = []
        for account_id in sorted(self.accounts):
            account = self.accounts[account_id]
            if account.kind is _TRADER and self._is_liquidatable(account):
                out.append(AccountId(account_id))
        return out

    def process_liquidations(self) -> list[Event]:
        """Liquidate (and if needed deleverage) every liquidatable account; return events.

        A bankrupt insurance fund (``TV < 0``) is deleveraged too.
        """
        start = len(self.events)
        emitted: list[Event] = []
        for account_id in self.get_liquidatable_accounts():
            emitted.extend(self.liquidate(account_id))
        fund = self.accounts[self.insurance_fund_id]
        if self._is_liquidatable(fund):
            prices = self._prices_for(fund)
            if compute_total_value_scaled(fund.collateral, fund.balances, prices) < 0:
                emitted.extend(self._deleverage_all(fund, self._tick()))
        if self.record_events:
            return [e for e in self.events[start:] if isinstance(e, Liquidated | Deleveraged)]
        return emitted

    def liquidate(self, account_id: int) -> list[Event]:
        """Liquidate one account with TR > TV (see :mod:`starkperp.exchange.liquidation`)."""
        now = self._tick()
        account = self._get_trader(account_id)
        if not self._is_liquidatable(account):
            raise ExchangeError(Reason.NOT_LIQUIDATABLE, f"account {account_id} is healthy")
        out: list[Event] = []
        for oid in sorted(account.open_orders):
            self._cancel(self.orders[oid], _LIQUIDATED, now)
        prices = self.oracle_prices
        balances = {m: b for m, b in account.balances.items() if b}
        closes = tuple(
            PositionClose(
                market=m,
                balance=Quantity(b),
                collateral=compute_takeover_collateral(b, prices[m]),
            )
            for m, b in sorted(balances.items())
        )
        remaining = account.collateral + sum(c.collateral for c in closes)
        fund = self.accounts[self.insurance_fund_id]
        if remaining >= 0:
            penalty = compute_liquidation_penalty(balances, prices, self.markets, remaining)
            out.append(self._liquidated(account_id, closes, penalty, 0, now))
            return out
        deficit = -remaining
        fund_balances = dict(fund.balances)
        for c in closes:
            fund_balances[c.market] = fund_balances.get(c.market, 0) + c.balance
        fund_collateral = fund.collateral - sum(c.collateral for c in closes) - deficit
        fund_tv = compute_total_value_scaled(fund_collateral, fund_balances, prices)
        if fund_tv >= 0:
            out.append(self._liquidated(account_id, closes, 0, deficit, now))
            return out
        spare = max(0, compute_total_value_scaled(fund.collateral, fund.balances, prices) >> 32)
        account_tv = compute_total_value_scaled(account.collateral, account.balances, prices)
        payment = min(spare, -((account_tv) >> 32) - 1)
        if payment > 0:
            out.append(self._liquidated(account_id, (), 0, payment, now))
        out.extend(self._deleverage_all(account, now))
        return out

    def _liquidated(
        self,
        account_id: int,
        closes: tuple[PositionClose, ...],
        penalty: int,
        payment: int,
        now: int,
    ) -> Liquidated:
        event = Liquidated(
            time=Timestamp(now),
            account_id=AccountId(account_id),
            closes=closes,
            penalty=Collateral(penalty),
            insurance_payment=Collateral(payment),
        )
        self._emit(event)
        return event

    def _deleverage_all(self, account: AccountState, now: int) -> list[Event]:
        prices = self.oracle_prices
        out: list[Event] = []
        transfers = compute_bankruptcy_transfers(
            account.collateral, account.balances, prices, self.markets
        )
        for market in sorted(transfers):
            for candidate in self._rank_deleveragers(account, market):
                remaining = account.balances[market]
                if remaining == 0:
                    break
                other = candidate.balances.get(market, 0)
                size = min(abs(remaining), abs(other))
                quantity = -size if remaining > 0 else size
                # the least transfer the rollup's fairness rule accepts for this piece, on the
                # position as it now stands (a pro-rata share can be a quantum off)
                transfer = compute_fair_transfer(
                    account.collateral, account.balances, market, quantity, prices, self.markets
                )
                try:
                    validate_deleverage(
                        market=market,
                        quantity=quantity,
                        collateral_transfer=transfer,
                        deleveraged_collateral=account.collateral,
                        deleveraged_balances=account.balances,
                        deleverager_collateral=candidate.collateral,
                        deleverager_balances=candidate.balances,
                        prices=prices,
                        markets=self.markets,
                    )
                except ExchangeError:
                    continue
                event = Deleveraged(
                    time=Timestamp(now),
                    deleveraged_account_id=AccountId(account.account_id),
                    deleverager_account_id=AccountId(candidate.account_id),
                    market=market,
                    quantity=Quantity(quantity),
                    collateral=Collateral(transfer),
                )
                self._emit(event)
                out.append(event)
        return out

    def _rank_deleveragers(self, account: AccountState, market: MarketId) -> list[AccountState]:
        balance = account.balances[market]
        prices = self.oracle_prices
        ranked = []
        for other in self.accounts.values():
            if other is account or other.kind is _FEE:
                continue
            b = other.balances.get(market, 0)
            if b == 0 or (b > 0) == (balance > 0):
                continue
            value = (b * prices[market]) >> 32
            pnl = value - other.open_cost.get(market, 0)
            tv = compute_total_value_scaled(other.collateral, other.balances, prices) >> 32
            score = compute_deleverage_score(pnl, abs(value), tv)
            ranked.append((-score, other.account_id, other))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [item[2] for item in ranked]

    def deleverage(
        self, deleveraged_id: int, deleverager_id: int, market: MarketId | str, quantity: int
    ) -> Deleveraged:
        """Deleverage one step by hand at the bankruptcy price (checked for fairness)."""
        now = self._tick()
        account = self._get_trader(deleveraged_id)
        other = self._get_account(deleverager_id)
        config = self._get_market(market)
        if type(quantity) is not int:
            raise ExchangeError(Reason.INVALID_AMOUNT, "quantity must be an int")
        transfers = compute_bankruptcy_transfers(
            account.collateral, account.balances, self.oracle_prices, self.markets
        )
        if config.market not in transfers:
            raise ExchangeError(Reason.NOT_DELEVERAGEABLE, "no balance in that market")
        transfer = compute_fair_transfer(
            account.collateral,
            account.balances,
            config.market,
            quantity,
            self.oracle_prices,
            self.markets,
        )
        validate_deleverage(
            market=config.market,
            quantity=quantity,
            collateral_transfer=transfer,
            deleveraged_collateral=account.collateral,
            deleveraged_balances=account.balances,
            deleverager_collateral=other.collateral,
            deleverager_balances=other.balances,
            prices=self.oracle_prices,
            markets=self.markets,
        )
        event = Deleveraged(
            time=Timestamp(now),
            deleveraged_account_id=AccountId(deleveraged_id),
            deleverager_account_id=AccountId(deleverager_id),
            market=config.market,
            quantity=Quantity(quantity),
            collateral=Collateral(transfer),
        )
        self._emit(event)
        return event

    # ===================================================================================
    # reads
    # ===================================================================================

    def get_account(self, account_id: int) -> AccountView:
        """Return an account's collateral, positions and margin figures."""
        account = self._get_account(account_id)
        prices = self._prices_for(account)
        balances = {m: b for m, b in account.balances.items() if b}
        risk = compute_risk_snapshot(account.collateral, balances, prices, self.markets)
        free_collateral = risk.free_collateral - self._compute_reserved_margin(account)
        positions = tuple(self._position_view(account, m) for m in sorted(account.balances))
        return AccountView(
            account_id=AccountId(account.account_id),
            kind=account.kind,
            public_key=account.public_key,
            collateral=Collateral(account.collateral),
            positions=positions,
            equity=risk.equity,
            initial_margin=risk.initial_margin,
            maintenance_margin=risk.maintenance_margin,
            free_collateral=Collateral(free_collateral),
            is_liquidatable=risk.is_liquidatable,
        )

    def _compute_reserved_margin(self, account: AccountState) -> int:
        """Return how much the open orders lower free collateral (rounded up, never < 0).

        The gap between the account's ``TV - IR`` now and in its worst open-order outcome.
        """
        totals = self._open_order_totals(account)
        if not totals:
            return 0
        balances = {m: b for m, b in account.balances.items() if b}
        prices = self.oracle_prices
        now = compute_worst_case_excess_scaled(
            account.collateral, balances, {}, prices, self.markets
        )
        worst = compute_worst_case_excess_scaled(
            account.collateral, balances, totals, prices, self.markets
        )
        return max(0, -((worst - now) >> 64))

    def get_position(self, account_id: int, market: MarketId | str) -> PositionView:
        """Return one account's position in one market (zero if it never traded there)."""
        account = self._get_account(account_id)
        config = self._get_market(market)
        return self._position_view(account, config.market)

    def get_positions(self, account_id: int) -> list[PositionView]:
        """Return an account's non-zero positions."""
        account = self._get_account(account_id)
        return [self._position_view(account, m) for m, b in sorted(account.balances.items()) if b]

    def get_equity(self, account_id: int) -> Collateral:
        """Return TV at oracle prices, rounded down."""
        return self.get_account(account_id).equity

    def get_free_collateral(self, account_id: int) -> Collateral:
        """Return equity minus the initial margin requirement."""
        return self.get_account(account_id).free_collateral

    def get_liquidation_price(self, account_id: int, market: MarketId | str) -> Price | None:
        """Return the price of ``market`` at which the account becomes liquidatable."""
        account = self._get_account(account_id)
        config = self._get_market(market)
        return compute_liquidation_price(
            config.market,
            account.collateral,
            {m: b for m, b in account.balances.items() if b},
            self._prices_for(account),
            self.markets,
        )

    def get_order(self, order_id: int) -> OrderView:
        """Return one order's current state."""
        record = self.orders.get(order_id) if type(order_id) is int else None
        if record is None:
            raise ExchangeError(Reason.UNKNOWN_ORDER, f"order {order_id}")
        return record.to_view()

    def get_order_by_client_id(self, account_id: int, client_id: str) -> OrderView:
        """Return an order by its owner and client id."""
        account = self._get_account(account_id)
        order_id = account.client_orders.get(client_id) if type(client_id) is str else None
        record = self.orders.get(order_id) if order_id is not None else None
        if record is None:  # unknown, or finished and forgotten (see config.order_history)
            raise ExchangeError(Reason.UNKNOWN_ORDER, f"client id {client_id!r}")
        return record.to_view()

    def get_open_orders(
        self, account_id: int, market: MarketId | str | None = None
    ) -> list[OrderView]:
        """Return an account's open and untriggered orders (oldest first)."""
        account = self._get_account(account_id)
        return [
            rec.to_view()
            for oid, rec in sorted(account.open_orders.items())
            if market is None or rec.order.market == market
        ]

    def get_fills(self, account_id: int, market: MarketId | str | None = None) -> list[Fill]:
        """Return an account's recent fills, oldest first (bounded history)."""
        account = self._get_account(account_id)
        return [f for f in account.fills if market is None or f.market == market]

    def get_trades(self, market: MarketId | str, limit: int = 100) -> list[Fill]:
        """Return a market's most recent fills, newest first."""
        config = self._get_market(market)
        trades = self.trades[config.market]
        return [trades[-i] for i in range(1, min(limit, len(trades)) + 1)]

    def get_orderbook(self, market: MarketId | str, depth: int | None = None) -> BookSnapshot:
        """Return the aggregated book with its sequence number."""
        return self.books[self._get_market(market).market].get_snapshot(depth)

    def get_book_deltas(self, market: MarketId | str, since_seq: int) -> list[BookDelta] | None:
        """Return book changes after ``since_seq`` (None: too old, take a new snapshot)."""
        return self.books[self._get_market(market).market].get_deltas_since(since_seq)

    def get_funding_history(self, market: MarketId | str) -> list[FundingApplied]:
        """Return every funding tick of a market, oldest first."""
        return list(self.funding_history[self._get_market(market).market])

    def get_oracle_price(self, market: MarketId | str) -> Price | None:
        """Return the current oracle (index) price, or None."""
        return self.oracle_prices.get(self._get_market(market).market)

    def get_mark_price(self, market: MarketId | str) -> Price | None:
        """Return median(index, best bid, best ask), or None without an index price."""
        config = self._get_market(market)
        index = self.oracle_prices.get(config.market)
        if index is None:
            return None
        book = self.books[config.market]
        return compute_mark_price(index, book.best_bid(), book.best_ask())

    def get_markets(self) -> list[MarketConfig]:
        """Return every market's configuration (with its current status)."""
        return list(self.markets.values())

    def get_market(self, market: MarketId | str) -> MarketConfig:
        """Return a market's configuration (with its current status)."""
        return self._get_market(market)

    def get_fee_rates(self, account_id: int) -> tuple[int, int]:
        """Return the account's current (maker, taker) fee rates in ppm."""
        account = self._get_account(account_id)
        return self._fee_rates(account, self._tick())

    def take_events(self) -> list[Event]:
        """Return the events recorded since the last call and forget them."""
        events, self.events = self.events, []
        return events

    def compute_total_collateral(self) -> int:
        """Return the sum of every position's collateral (conserved but for L1 flows)."""
        return sum(a.collateral for a in self.accounts.values())

    def compute_state_digest(self) -> bytes:
        """Return a sha256 digest of the canonical state (equal states, equal digests)."""
        accounts = tuple(
            (
                a.account_id,
                a.kind.value,
                a.public_key,
                a.collateral,
                tuple(
                    (
                        m,
                        a.balances[m],
                        a.funding_index.get(m, 0),
                        a.open_cost.get(m, 0),
                        a.realized_pnl.get(m, 0),
                        a.funding_paid.get(m, 0),
                    )
                    for m in sorted(a.balances)
                ),
                tuple(sorted(a.client_orders.items())),
                tuple(sorted(a.open_orders)),
                tuple(sorted((m, tuple(t)) for m, t in a.reserved.items() if any(t))),
            )
            for _, a in sorted(self.accounts.items())
        )
        orders = tuple(
            (
                oid,
                r.status.value,
                r.filled,
                r.remaining,
                r.in_book,
                r.cancel_reason.value if r.cancel_reason else None,
                r.created_at,
                r.updated_at,
            )
            for oid, r in sorted(self.orders.items())
        )
        books = tuple(
            (m, b.seq, b.get_snapshot(), tuple(o.order_id for o in b.iter_orders(True)),
             tuple(o.order_id for o in b.iter_orders(False)))
            for m, b in sorted(self.books.items())
        )  # fmt: skip
        state = (
            self.now,
            self.next_order_id,
            self.next_fill_id,
            self.next_account_id,
            accounts,
            orders,
            books,
            tuple(sorted(self.oracle_prices.items())),
            tuple(sorted(self.funding_index.items())),
            tuple(sorted((m, tuple(s)) for m, s in self.premium_samples.items())),
            tuple(sorted(self.funding_period.items())),
            tuple(sorted((m, c.status.value) for m, c in self.markets.items())),
            self._spent_client_ids.get_entries(),
            tuple(sorted(self._order_key_holders.items())),
            tuple(sorted(self._filled_order_keys)),
        )
        return hashlib.sha256(repr(state).encode()).digest()

    # ===================================================================================
    # event application: the only place state changes
    # ===================================================================================

    def apply_event(self, event: Event) -> None:
        """Apply one event to the state and record it (used live and by replay)."""
        self._handlers[type(event)](event)
        if event.time > self.now:
            self.now = event.time
        if self.record_events:
            self.events.append(event)

    _emit = apply_event

    def _apply_account_created(self, e: AccountCreated) -> None:
        self.accounts[e.account_id] = AccountState(
            e.account_id, e.kind, e.public_key, self._fill_history
        )
        if e.account_id >= self.next_account_id:
            self.next_account_id = e.account_id + 1

    def _apply_deposited(self, e: Deposited) -> None:
        self.accounts[e.account_id].collateral += e.amount

    def _apply_withdrawn(self, e: Withdrawn) -> None:
        self.accounts[e.account_id].collateral -= e.amount

    def _apply_transferred(self, e: Transferred) -> None:
        self.accounts[e.sender].collateral -= e.amount
        self.accounts[e.receiver].collateral += e.amount

    def _apply_order_accepted(self, e: OrderAccepted) -> None:
        order = e.order
        record = BookOrder(e.order_id, order, e.time)
        self.orders[e.order_id] = record
        self.next_order_id = e.order_id + 1
        account = self.accounts[order.account_id]
        account.client_orders[order.client_id] = e.order_id
        account.open_orders[e.order_id] = record
        if e.order_key is not None:
            self._order_key_holders[e.order_key] = e.order_id
            self._order_keys[e.order_id] = e.order_key
        if _is_conditional(order.order_type):
            record.status = _UNTRIGGERED
            self._conditional[order.market][e.order_id] = record
            self._schedule_expiry(order.expiration, e.order_id)

    def _apply_order_opened(self, e: OrderOpened) -> None:
        record = self.orders[e.order_id]
        record.status = _OPEN
        record.updated_at = e.time
        self.books[record.order.market].add(record)
        self._reserve(record, record.remaining)
        self._schedule_expiry(record.order.expiration, e.order_id)

    def _schedule_expiry(self, expiration: int, order_id: int) -> None:
        bucket = self._expiring.get(expiration)
        if bucket is None:
            self._expiring[expiration] = {order_id: None}
            heapq.heappush(self._expiry, expiration)
        else:
            bucket[order_id] = None

    def _unschedule_expiry(self, expiration: int, order_id: int) -> None:
        """Drop a finished order from the expiry schedule (nothing is kept per dead order)."""
        expiring = self._expiring
        bucket = expiring.get(expiration)
        if bucket is None or bucket.pop(order_id, 0) is not None:
            return
        if not bucket:
            del expiring[expiration]
            heap = self._expiry  # stale times stay in the heap; rebuilt when they dominate
            if len(heap) > 2 * len(expiring) + 64:
                heap[:] = expiring
                heapq.heapify(heap)

    def _apply_order_canceled(self, e: OrderCanceled) -> None:
        order_id = e.order_id
        record = self.orders[order_id]
        if record.in_book:
            self._reserve(record, -record.remaining)
            self.books[record.order.market].reduce(record, record.remaining)  # = remove
        elif record.status is _UNTRIGGERED:  # only untriggered orders wait in _conditional
            self._conditional[record.order.market].pop(order_id, None)
        record.status = _CANCELED
        record.cancel_reason = e.reason
        record.updated_at = e.time
        self.accounts[record.account_id].open_orders.pop(order_id, None)
        self._unschedule_expiry(record.order.expiration, order_id)
        if self._order_keys:
            self._release_order_key(record)
        finished = self._finished  # the order joins the finished window
        finished.append(order_id)
        if len(finished) > self._order_history:
            self._forget_finished(e.time)

    def _forget_finished(self, now: int) -> None:
        """Forget the oldest finished orders beyond the window, then sweep due client ids.

        Orders that finished at ``now`` are kept even beyond the window, so whatever finished
        in the current instant (a huge ``cancel_all``, an expiry sweep) stays readable by
        the command's caller; at most ``_FORGET_BUDGET`` are forgotten per event, so such a
        burst is forgotten over the next events rather than in one. A forgotten order's client id leaves ``client_orders``; until
        its signed expiry has passed (:func:`compute_forget_time`) it stays taken as a
        fingerprint. Runs in event handlers only, so replay repeats it exactly.
        """
        finished = self._finished
        orders = self.orders
        accounts = self.accounts
        history = self._order_history
        spent = self._spent_client_ids
        budget = _FORGET_BUDGET  # bounded work per event; a burst's backlog drains over later ones
        while len(finished) > history and budget:
            budget -= 1
            record = orders[finished[0]]
            if record.updated_at >= now:
                break
            finished.popleft()
            order_id = record.order_id
            del orders[order_id]
            order = record.order
            client_orders = accounts[record.account_id].client_orders
            client_id = order.client_id
            if client_orders.get(client_id) == order_id:
                del client_orders[client_id]
                forget = compute_forget_time(order.expiration)
                if forget > now:
                    spent.add(compute_client_id_fingerprint(record.account_id, client_id), forget)
        due = spent.next_expiry
        if due is not None and due <= now:
            spent.expire(now)

    def _check_order_key(self, order: Order, account: AccountState) -> int | None:
        """Return the order's settlement key; refuse it if another order holds the key.

        A key is held by an open (or untriggered) order, and for good by every order that
        was ever filled (its leaf exists in the rollup's order tree). None without a key
        function. The last key computed is remembered, so a cancel-replace computes once.
        """
        compute = self.order_key
        if compute is None:
            return None
        last_order, last_key = self._last_order_key
        key = last_key if last_order is order else compute(order, account.public_key)
        self._last_order_key = (order, key)
        if key is not None and (key in self._order_key_holders or key in self._filled_order_keys):
            raise ExchangeError(
                Reason.ORDER_KEY_TAKEN,
                f"the order's settlement key {key} is taken: choose another client id",
            )
        return key

    def _release_order_key(self, record: BookOrder) -> None:
        """Free a finished order's key reservation (a filled key stays held)."""
        key = self._order_keys.pop(record.order_id, None)
        if key is not None and self._order_key_holders.get(key) == record.order_id:
            del self._order_key_holders[key]

    def _is_client_id_spent(self, account_id: int, client_id: str) -> bool:
        """Tell whether a forgotten order still holds this client id (signed expiry ahead)."""
        spent = self._spent_client_ids
        return bool(spent) and compute_client_id_fingerprint(account_id, client_id) in spent

    def _apply_order_triggered(self, e: OrderTriggered) -> None:
        record = self.orders[e.order_id]
        self._conditional[record.order.market].pop(e.order_id, None)
        record.status = _PENDING
        record.updated_at = e.time

    def _apply_fill(self, f: Fill) -> None:
        self._settle_fill(f, self.orders[f.maker_order_id], self.orders[f.taker_order_id])

    def _settle_fill(self, f: Fill, maker: BookOrder, taker: BookOrder) -> None:
        """Apply a fill whose maker and taker records the caller already holds.

        Per party, in one pass: fund the position if its cached index is stale, pay or
        receive the collateral and the fee, move the balance (what :meth:`_change_balance`
        does, inlined), count the volume and remember the fill. The two parties are
        distinct trader accounts, so doing one after the other equals doing each step for
        both.
        """
        market = f.market
        accounts = self.accounts
        q = f.quantity
        buyer_collateral = f.buyer_collateral
        seller_collateral = f.seller_collateral
        maker_fee = f.maker_fee
        taker_fee = f.taker_fee
        maker_account = accounts[f.maker_account_id]
        if f.taker_side is _BUY:
            buyer, seller = accounts[f.taker_account_id], maker_account
            buyer_fee, seller_fee = taker_fee, maker_fee
        else:
            buyer, seller = maker_account, accounts[f.taker_account_id]
            buyer_fee, seller_fee = maker_fee, taker_fee
        self._fee_account.collateral += maker_fee + taker_fee + buyer_collateral - seller_collateral
        global_index = self.funding_index[market]
        time = f.time
        day = time // _SECONDS_PER_DAY
        for account, dq, cash, fee in (
            (buyer, q, buyer_collateral, buyer_fee),
            (seller, -q, -seller_collateral, seller_fee),
        ):
            funding_index = account.funding_index
            if funding_index.get(market) != global_index:
                self._fund(account, market)
            account.collateral -= cash + fee
            balances = account.balances
            before = balances.get(market, 0)
            balances[market] = before + dq
            if market not in funding_index:
                funding_index[market] = 0
            open_cost = account.open_cost
            cost = open_cost.get(market, 0)
            if before == 0 or (before > 0) == (dq > 0):
                open_cost[market] = cost + cash
            else:
                # partly or wholly closes: realize PnL on the closed part (as _scale does:
                # each share truncated toward zero)
                size_before = before if before > 0 else -before
                size_dq = dq if dq > 0 else -dq
                closed = size_dq if size_dq < size_before else size_before
                cost_closed = (cost if cost >= 0 else -cost) * closed // size_before
                if cost < 0:
                    cost_closed = -cost_closed
                cash_closed = (cash if cash >= 0 else -cash) * closed // size_dq
                if cash < 0:
                    cash_closed = -cash_closed
                realized = account.realized_pnl
                realized[market] = realized.get(market, 0) - cash_closed - cost_closed
                open_cost[market] = cost - cost_closed + (cash - cash_closed)
            days = account.volume_days
            days[day] = days.get(day, 0) + buyer_collateral
            if account.volume_cache_day == day:
                account.volume_cache += buyer_collateral
                if account.volume_cache >= account.next_tier_volume:
                    self._set_fee_rates(account)
            account.fills.append(f)
        if maker.in_book:
            if not maker.order.reduce_only:  # _reserve(maker, -q), inlined
                totals = maker_account.reserved[market]
                if maker.is_buy:
                    totals[0] -= q
                    totals[1] -= q * maker.price
                else:
                    totals[2] -= q
                    totals[3] -= q * maker.price
            self.books[market].reduce(maker, q)
        finished = self._finished
        order_history = self._order_history
        order_keys = self._order_keys
        if order_keys:  # a filled order's key is held for good (its rollup leaf exists)
            for order_id in (maker.order_id, taker.order_id):
                key = order_keys.get(order_id)
                if key is not None:
                    self._filled_order_keys.add(key)
        for record in (maker, taker):
            remaining = record.remaining - q
            record.remaining = remaining
            record.filled += q
            record.updated_at = time
            if remaining == 0:
                record.status = _FILLED
                order_id = record.order_id
                accounts[record.account_id].open_orders.pop(order_id, None)
                self._unschedule_expiry(record.order.expiration, order_id)
                if order_keys:
                    self._release_order_key(record)
                finished.append(order_id)
                if len(finished) > order_history:
                    self._forget_finished(time)
        self.trades[market].append(f)
        self.next_fill_id = f.fill_id + 1

    def _apply_oracle_price_set(self, e: OraclePriceSet) -> None:
        self.oracle_prices[e.market] = e.price
        self.oracle_times[e.market] = e.time
        if e.market not in self.funding_period:
            self.funding_period[e.market] = e.time // self.config.funding_interval

    def _apply_premium_sampled(self, e: PremiumSampled) -> None:
        self.premium_samples[e.market].append(e.premium_ppb)
        self.last_premium_sample[e.market] = e.time

    def _apply_funding_applied(self, e: FundingApplied) -> None:
        market = e.market
        self.funding_index[market] = e.index
        self.premium_samples[market] = []
        # one tick per hour: a catch-up tick advances the period by one, never past ``time``
        hour = e.time // self.config.funding_interval
        period = self.funding_period.get(market)
        self.funding_period[market] = hour if period is None else min(period + 1, hour)
        self.funding_history[market].append(e)
        dust = 0
        for account in self.accounts.values():
            if account.balances.get(market):
                dust += self._fund(account, market)
        self.accounts[self.config.fee_account_id].collateral += dust

    def _apply_liquidated(self, e: Liquidated) -> None:
        account = self.accounts[e.account_id]
        fund = self.accounts[self.config.insurance_fund_account_id]
        for close in e.closes:
            self._fund(account, close.market)
            self._fund(fund, close.market)
            account.collateral += close.collateral
            fund.collateral -= close.collateral
            self._change_balance(account, close.market, -close.balance, -close.collateral)
            self._change_balance(fund, close.market, close.balance, close.collateral)
        account.collateral -= e.penalty
        fund.collateral += e.penalty
        account.collateral += e.insurance_payment
        fund.collateral -= e.insurance_payment

    def _apply_deleveraged(self, e: Deleveraged) -> None:
        account = self.accounts[e.deleveraged_account_id]
        other = self.accounts[e.deleverager_account_id]
        self._fund(account, e.market)
        self._fund(other, e.market)
        account.collateral += e.collateral
        other.collateral -= e.collateral
        self._change_balance(account, e.market, e.quantity, -e.collateral)
        self._change_balance(other, e.market, -e.quantity, e.collateral)

    def _apply_market_status_changed(self, e: MarketStatusChanged) -> None:
        config = replace(self.markets[e.market], status=e.status)
        self.markets[e.market] = config
        hot = self._hot[e.market]
        self._hot[e.market] = _MarketHot(config, hot.book, hot.on_tick)

    def _fund(self, account: AccountState, market: MarketId) -> int:
        """Fund one position against the global index; return what it paid."""
        global_index = self.funding_index[market]
        cached = account.funding_index.get(market, 0)
        if cached == global_index:
            return 0
        account.funding_index[market] = global_index
        balance = account.balances.get(market, 0)
        if balance == 0:
            return 0
        payment = compute_funding_payment(balance, global_index, cached)
        account.collateral -= payment
        account.funding_paid[market] = account.funding_paid.get(market, 0) + payment
        return payment

    def _reserve(self, record: BookOrder, quantity: int) -> None:
        """Add ``quantity`` of a resting order to its account's reservation (negative: free).

        Reduce-only orders reserve nothing.
        """
        if record.order.reduce_only:
            return
        account = self.accounts[record.account_id]
        market = record.order.market
        totals = account.reserved.get(market)
        if totals is None:
            totals = account.reserved[market] = [0, 0, 0, 0]
        i = 0 if record.is_buy else 2
        totals[i] += quantity
        totals[i + 1] += quantity * record.price

    @staticmethod
    def _change_balance(account: AccountState, market: MarketId, dq: int, cash: int) -> None:
        """Move a balance by ``dq`` for ``cash`` paid (negative: received); track cost/PnL."""
        before = account.balances.get(market, 0)
        after = before + dq
        account.balances[market] = after
        if market not in account.funding_index:
            account.funding_index[market] = 0
        cost = account.open_cost.get(market, 0)
        if before == 0 or (before > 0) == (dq > 0):
            account.open_cost[market] = cost + cash
            return
        closed = min(abs(dq), abs(before))
        cost_closed = _scale(cost, closed, abs(before))
        cash_closed = _scale(cash, closed, abs(dq))
        account.realized_pnl[market] = account.realized_pnl.get(market, 0) + (
            -cash_closed - cost_closed
        )
        account.open_cost[market] = cost - cost_closed + (cash - cash_closed)

    # ===================================================================================
    # decisions (read-only until they emit)
    # ===================================================================================

    def _tick(self) -> int:
        clock = self.clock
        # A ManualClock is read directly: calling it costs more than the whole read.
        now = clock.now if type(clock) is ManualClock else int(clock())
        return now if now > self.now else self.now

    def _get_account(self, account_id: int) -> AccountState:
        account = self.accounts.get(account_id) if type(account_id) is int else None
        if account is None:
            raise ExchangeError(Reason.UNKNOWN_ACCOUNT, f"account {account_id}")
        return account

    def _get_trader(self, account_id: int) -> AccountState:
        account = self._get_account(account_id)
        if account.kind is not _TRADER:
            raise ExchangeError(Reason.SYSTEM_ACCOUNT, f"account {account_id} is a system account")
        return account

    def _get_market(self, market: MarketId | str) -> MarketConfig:
        config = self.markets.get(MarketId(market)) if isinstance(market, str) else None
        if config is None:
            raise ExchangeError(Reason.UNKNOWN_MARKET, str(market))
        return config

    @staticmethod
    def _validate_amount(amount: int) -> None:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ExchangeError(Reason.INVALID_AMOUNT, f"amount {amount!r} must be a positive int")
        if amount >= _MAX_AMOUNT:
            raise ExchangeError(Reason.OVERFLOW, "amount must be below 2^64")

    def _prices_for(self, account: AccountState) -> dict[MarketId, Price]:
        prices = self.oracle_prices
        for market, balance in account.balances.items():
            if balance and market not in prices:
                raise ExchangeError(Reason.NO_ORACLE_PRICE, f"no price for {market}")
        return prices

    def _validate_can_release(self, account: AccountState, amount: int) -> None:
        balances = {m: b for m, b in account.balances.items() if b}
        totals = self._open_order_totals(account)
        if totals:  # the open orders keep their reservation (worst case of their fills)
            prices = self._prices_for(account)
            excess = compute_worst_case_excess_scaled(
                account.collateral - amount, balances, totals, prices, self.markets
            )
            if excess < 0:
                raise ExchangeError(Reason.INSUFFICIENT_COLLATERAL, "open orders need it")
        if not balances:
            if account.collateral < amount:
                raise ExchangeError(Reason.INSUFFICIENT_COLLATERAL, "not enough collateral")
            return
        prices = self._prices_for(account)
        if not is_initial_margin_ok(account.collateral - amount, balances, prices, self.markets):
            raise ExchangeError(Reason.INSUFFICIENT_COLLATERAL, "would break initial margin")

    def _is_liquidatable(self, account: AccountState) -> bool:
        balances = {m: b for m, b in account.balances.items() if b}
        if not balances:
            return False
        prices = self._prices_for(account)
        tv = compute_total_value_scaled(account.collateral, balances, prices)
        tr = compute_total_risk_scaled(balances, prices, self.markets)
        return not is_healthy(tv, tr)

    def _fee_rates(self, account: AccountState, now: int) -> tuple[int, int]:
        """Return (maker, taker) ppm for the account's 30-day volume (cached per day)."""
        day = now // 86_400
        if account.volume_cache_day == day:
            return account.fee_rates
        window = self.config.fee_volume_window_days
        days = account.volume_days
        account.volume_cache = sum(v for d, v in days.items() if d > day - window)
        account.volume_cache_day = day
        self._set_fee_rates(account)
        return account.fee_rates

    def _set_fee_rates(self, account: AccountState) -> None:
        volume = account.volume_cache
        tier = self.config.fee_tiers[0]
        next_volume = 1 << 256
        for candidate in self.config.fee_tiers:
            if volume >= candidate.min_volume:
                tier = candidate
            elif candidate.min_volume < next_volume:
                next_volume = candidate.min_volume
        account.fee_rates = (tier.maker_fee, tier.taker_fee)
        account.next_tier_volume = next_volume

    def _validate_order(
        self, order: Order, account: AccountState, now: int, signature_verified: bool = False
    ) -> tuple[MarketConfig, int]:
        """Check everything but margin and fillability; return the market and the taker fee."""
        config = self.markets.get(order.market)
        if config is None:
            raise ExchangeError(Reason.UNKNOWN_MARKET, str(order.market))
        if config.status is _HALTED:
            raise ExchangeError(Reason.MARKET_HALTED, str(order.market))
        size = order.size
        if size <= 0:
            raise ExchangeError(Reason.INVALID_AMOUNT, "size must be a positive integer")
        if size >= _MAX_AMOUNT or order.price >= _MAX_AMOUNT:
            raise ExchangeError(Reason.OVERFLOW, "size and price must be below 2^64")
        if size % config.step_size:
            raise ExchangeError(Reason.SIZE_NOT_STEP_MULTIPLE, f"size {size}")
        if size < config.min_order_size:
            raise ExchangeError(Reason.BELOW_MIN_SIZE, f"size {size}")
        if not self._is_on_tick(config, order.price):
            raise ExchangeError(Reason.PRICE_OFF_TICK, f"price {order.price}")
        if order.expiration <= now:
            raise ExchangeError(Reason.EXPIRED, f"expired at {order.expiration}")
        if not 0 <= order.limit_fee <= 10**6:
            raise ExchangeError(Reason.INVALID_ORDER, "limit fee must be within 0..1e6 ppm")
        order_type = order.order_type
        if _is_conditional(order_type):
            trigger = order.trigger_price
            if trigger is None or not self._is_on_tick(config, trigger):
                raise ExchangeError(
                    Reason.INVALID_PRICE, "conditional orders need a trigger on tick"
                )
        elif order.trigger_price is not None:
            raise ExchangeError(Reason.INVALID_ORDER, "only conditional orders take a trigger")
        tif = order.time_in_force
        if tif is _GTT:
            if order_type is not _LIMIT and order_type in _MARKET_TYPES:
                raise ExchangeError(Reason.INVALID_ORDER, "market orders are IOC or FOK")
        elif order.post_only:
            raise ExchangeError(Reason.INVALID_ORDER, "post-only orders are GTT")
        if not isinstance(order.client_id, str) or not 0 < len(order.client_id) <= 64:
            raise ExchangeError(Reason.INVALID_ORDER, "client id must be 1..64 characters")
        self._validate_signature(order, account, config, signature_verified)
        if order.market not in self.oracle_prices:
            raise ExchangeError(Reason.NO_ORACLE_PRICE, f"no price for {order.market}")
        if order.reduce_only or config.status is not _ONLINE:
            position = account.balances.get(order.market, 0)
            reduces = (position > 0 and order.side is _SELL) or (
                position < 0 and order.side is _BUY
            )
            if order.reduce_only and not reduces:
                raise ExchangeError(Reason.REDUCE_ONLY_WOULD_INCREASE, "no opposite position")
            if config.status is _CLOSE_ONLY and not (reduces and size <= abs(position)):
                raise ExchangeError(Reason.MARKET_CLOSE_ONLY, str(order.market))
        maker_rate, taker_rate = self._fee_rates(account, now)
        needed = maker_rate if order.post_only else taker_rate
        if order.limit_fee < needed:
            raise ExchangeError(Reason.FEE_LIMIT_TOO_LOW, f"fee {needed} ppm > {order.limit_fee}")
        if order.post_only:
            book = self.books[order.market]
            best = book.best_ask() if order.side is _BUY else book.best_bid()
            if best is not None and (
                (order.side is _BUY and order.price >= best)
                or (order.side is _SELL and order.price <= best)
            ):
                raise ExchangeError(Reason.POST_ONLY_WOULD_CROSS, f"best {best}")
        return config, taker_rate

    def _is_on_tick(self, config: MarketConfig, price: int) -> bool:
        """Tell whether ``price`` is on tick (memoised: prices near the market repeat)."""
        cache = self._hot[config.market].on_tick
        known = cache.get(price)
        if known is None:
            if len(cache) > 200_000:
                cache.clear()
            known = cache[price] = (
                isinstance(price, int) and price > 0 and is_price_on_tick(config, price)
            )
        return known

    def _validate_signature(
        self,
        order: Order,
        account: AccountState,
        config: MarketConfig,
        signature_verified: bool = False,
    ) -> None:
        if order.signature is None:
            if self.require_signatures:
                raise ExchangeError(Reason.MISSING_SIGNATURE, "this exchange needs signed orders")
            return
        public_key = order.public_key if order.public_key is not None else account.public_key
        if public_key is None:
            raise ExchangeError(Reason.BAD_SIGNATURE, "no STARK key for this account")
        if account.public_key is not None and public_key != account.public_key:
            raise ExchangeError(Reason.BAD_SIGNATURE, "the key is not the account's key")
        if signature_verified:
            return
        from starkperp.exchange.signing import verify_order

        try:
            ok = verify_order(order, config, public_key, network_id=self.config.network_id)
        except Exception:  # a hostile signature must never crash the engine
            ok = False
        if not ok:
            raise ExchangeError(Reason.BAD_SIGNATURE, "the order signature does not verify")

    def _open_order_totals(
        self, account: AccountState, excluding: BookOrder | None = None
    ) -> dict[MarketId, OpenOrderTotals]:
        """Return the account's reservation per market (without ``excluding``, if it rests)."""
        out = {}
        for market, (bid_size, bid_notional, ask_size, ask_notional) in account.reserved.items():
            if (
                excluding is not None
                and excluding.in_book
                and not excluding.order.reduce_only
                and excluding.order.market == market
            ):
                size = excluding.remaining
                if excluding.is_buy:
                    bid_size -= size
                    bid_notional -= size * excluding.price
                else:
                    ask_size -= size
                    ask_notional -= size * excluding.price
            if bid_size or ask_size:
                out[market] = OpenOrderTotals(
                    bid_size=bid_size,
                    bid_notional=bid_notional,
                    ask_size=ask_size,
                    ask_notional=ask_notional,
                )
        return out

    def _validate_open_order_margin(
        self,
        order: Order,
        account: AccountState,
        config: MarketConfig,
        replacing: BookOrder | None = None,
    ) -> None:
        """Refuse an order that may rest if the account's open orders would over-commit.

        Only orders that can rest reserve margin: GTT limit (or triggered stop-limit /
        take-profit) orders that are not reduce-only. ``replacing`` is an order that is
        canceled first (cancel-replace): its reservation does not count.
        """
        if (
            order.reduce_only
            or order.time_in_force is not _GTT
            or order.order_type in _MARKET_TYPES
        ):
            return
        if replacing is None and not self.reference:
            reason = self._check_open_order_margin(
                account, config, order.side is _BUY, order.size, order.price
            )
            if reason is not None:
                raise ExchangeError(reason, "open orders would over-commit the margin")
            return
        ok = is_open_order_acceptable(
            account.collateral,
            {m: b for m, b in account.balances.items() if b},
            self._open_order_totals(account, replacing),
            self.oracle_prices,
            self.markets,
            market=config.market,
            sign=order.side.sign,
            size=order.size,
            price=order.price,
        )
        if not ok:
            raise ExchangeError(
                Reason.INSUFFICIENT_MARGIN, "open orders would over-commit the margin"
            )

    def _check_open_order_margin(
        self, account: AccountState, config: MarketConfig, is_buy: bool, size: int, price: int
    ) -> Reason | None:
        """Return why a new resting order of ``size`` at ``price`` over-commits, or None.

        The incremental form of ``risk.is_open_order_acceptable`` for an account whose
        positions and open orders are all in this order's market (the common case); any
        other account goes through the readable function. Tests check they agree.
        """
        market = config.market
        reserved = account.reserved
        balances = account.balances
        if (len(reserved) > 1 or (reserved and market not in reserved)) or (
            len(balances) > 1 or (balances and market not in balances)
        ):
            ok = is_open_order_acceptable(
                account.collateral,
                {m: b for m, b in balances.items() if b},
                self._open_order_totals(account),
                self.oracle_prices,
                self.markets,
                market=market,
                sign=1 if is_buy else -1,
                size=size,
                price=Price(price),
            )
            return None if ok else Reason.INSUFFICIENT_MARGIN
        totals = reserved.get(market)
        if totals is None:
            bid_size = bid_notional = ask_size = ask_notional = 0
        else:
            bid_size, bid_notional, ask_size, ask_notional = totals
        balance = balances.get(market, 0)
        oracle = self.oracle_prices[market]
        hot = self._hot[market]
        baseline = hot.baseline
        imf = hot.imf
        # the order's own side with the order added, and the other side (unrolled)
        if is_buy:
            after = balance + bid_size + size
            cash = -bid_notional - size * price
            other = balance - ask_size
            other_cash = ask_notional
        else:
            after = balance - ask_size - size
            cash = ask_notional + size * price
            other = balance + bid_size
            other_cash = -bid_notional
        value = after * oracle
        tv = value + cash
        if value < 0:
            value = -value
        if -baseline <= after <= baseline:
            new_side = (tv << 32) - imf * value
        else:
            new_side = (tv << 32) - config.compute_initial_margin_fraction(after) * value
        value = other * oracle
        tv = value + other_cash
        if value < 0:
            value = -value
        if -baseline <= other <= baseline:
            other_side = (tv << 32) - imf * value
        else:
            other_side = (tv << 32) - config.compute_initial_margin_fraction(other) * value
        if (account.collateral << 64) + (new_side if new_side < other_side else other_side) >= 0:
            return None
        # short of margin: accepted only if the order does not lower its own side's outcome
        if is_buy:
            before = balance + bid_size
            cash = -bid_notional
        else:
            before = balance - ask_size
            cash = ask_notional
        value = before * oracle
        tv = value + cash
        if value < 0:
            value = -value
        if not -baseline <= before <= baseline:
            imf = config.compute_initial_margin_fraction(before)
        return None if new_side >= (tv << 32) - imf * value else Reason.INSUFFICIENT_MARGIN

    def _validate_taker_risk(
        self, order: Order, account: AccountState, config: MarketConfig, rate: int
    ) -> None:
        """Check margin as if the order filled fully at its limit price, fees included."""
        position = account.balances.get(order.market, 0)
        size: int = order.size
        if order.reduce_only or config.status is _CLOSE_ONLY:
            size = min(size, abs(position))
        value = size * order.price
        if order.side is _BUY:
            dq = size
            cash = -(-value >> 32)
            dcoll = -cash
        else:
            dq = -size
            cash = value >> 32
            dcoll = cash
        dcoll -= -((-cash * rate) // 10**6)
        reason = self._check_change(account, config, dq, dcoll)
        if reason is not None:
            raise ExchangeError(reason, "the order would break the margin requirement")

    def _check_change(
        self, account: AccountState, config: MarketConfig, dq: int, dcoll: int
    ) -> Reason | None:
        """Return why moving ``config.market`` by ``dq`` and collateral by ``dcoll`` is unsafe.

        New risk (the balance grows or flips) needs ``TV >= IR`` (initial margin with the
        incremental IMF); a reduction needs the validity rule. ``risk.is_initial_margin_ok``
        and ``risk.is_valid_change`` are the readable references; tests check they agree.
        """
        market = config.market
        balances = account.balances
        before = balances.get(market, 0)
        after = before + dq
        prices = self.oracle_prices
        hots = self._hot
        if (after > before or after < 0) if before >= 0 else (after < before or after > 0):
            if (after if after > 0 else -after) > config.max_position_size:
                return Reason.ABOVE_MAX_POSITION
            if config.status is not _ONLINE:
                return Reason.MARKET_CLOSE_ONLY
            if not balances or (len(balances) == 1 and market in balances):
                # the common case, a position in this market only: the loop's one term
                value = after * prices[market]
                tv = ((account.collateral + dcoll) << 32) + value
                if value < 0:
                    value = -value
                hot = hots[market]
                baseline = hot.baseline
                if -baseline <= after <= baseline:
                    imf = hot.imf
                else:
                    imf = config.compute_initial_margin_fraction(after)
                return None if imf * value <= tv << 32 else Reason.INSUFFICIENT_MARGIN
            tv = (account.collateral + dcoll) << 32
            ir = 0
            seen = False
            for m, b in balances.items():
                if m == market:
                    b = after
                    seen = True
                if b:
                    value = b * prices[m]
                    tv += value
                    if value < 0:
                        value = -value
                    hot = hots[m]
                    baseline = hot.baseline
                    if -baseline <= b <= baseline:
                        ir += hot.imf * value
                    else:
                        ir += hot.config.compute_initial_margin_fraction(b) * value
            if not seen:
                value = after * prices[market]
                tv += value
                if value < 0:
                    value = -value
                hot = hots[market]
                baseline = hot.baseline
                if -baseline <= after <= baseline:
                    ir += hot.imf * value
                else:
                    ir += config.compute_initial_margin_fraction(after) * value
            return None if ir <= tv << 32 else Reason.INSUFFICIENT_MARGIN
        price = prices[market]
        mmf = config.maintenance_margin_fraction
        if len(balances) == 1:  # this market only (its balance is not 0: it shrinks)
            value = before * price
            tv_b = (account.collateral << 32) + value
            tr_b = mmf * (value if value > 0 else -value)
        else:
            tv_b = account.collateral << 32
            tr_b = 0
            for m, b in balances.items():
                if b:
                    value = b * prices[m]
                    tv_b += value
                    tr_b += hots[m].mmf * (value if value > 0 else -value)
        tv_a = tv_b + (dcoll << 32) + dq * price
        tr_a = tr_b - mmf * abs(before * price) + mmf * abs(after * price)
        # The change only shrinks this balance (no flip) and leaves the others alone, so the
        # validity rule reduces to: healthy after, or TV/TR not lowered (TV if TR was 0).
        if tr_a <= tv_a << 32:
            return None
        if tr_b == 0:
            return None if tv_a >= tv_b else Reason.INSUFFICIENT_MARGIN
        return None if tv_a * tr_b >= tv_b * tr_a else Reason.INSUFFICIENT_MARGIN

    def _plan(
        self,
        order: Order,
        remaining: int,
        account: AccountState,
        config: MarketConfig,
        now: int,
        taker_rate: int,
    ) -> tuple[list[tuple], int]:
        """Walk the book and decide fills and maker cancels without changing anything."""
        market = order.market
        book = self.books[market]
        taker_buys = order.side is _BUY
        limit = order.price
        taker_id = order.account_id
        reduce_cap = -1
        if order.reduce_only or config.status is _CLOSE_ONLY:
            reduce_cap = abs(account.balances.get(market, 0))
        actions: list[tuple] = []
        filled = 0
        # maker account id -> [collateral change, balance change] already planned
        pending: dict[int, list[int]] = {}
        accounts = self.accounts
        day = now // _SECONDS_PER_DAY
        maker_sign = -1 if taker_buys else 1
        check_change = self._check_change
        for maker in book.iter_orders(not taker_buys):
            if remaining == 0:
                break
            price = maker.price
            if (price > limit) if taker_buys else (price < limit):
                break
            maker_order = maker.order
            if maker_order.expiration <= now:
                actions.append((_CANCEL, maker, _EXPIRED))
                continue
            maker_id = maker.account_id
            if maker_id == taker_id:
                actions.append((_CANCEL, maker, _SELF_TRADE))
                continue
            quantity = maker.remaining if maker.remaining < remaining else remaining
            if reduce_cap >= 0:
                if reduce_cap == 0:
                    break
                quantity = min(quantity, reduce_cap)
            maker_account = accounts[maker_id]
            state = pending.get(maker_id)
            if maker_order.reduce_only:
                position = maker_account.balances.get(market, 0)
                if state is not None:
                    position += state[1]
                reducible = abs(position) if (position > 0) == (maker_sign < 0) else 0
                if reducible == 0:
                    actions.append((_CANCEL, maker, _REDUCE_ONLY))
                    continue
                quantity = min(quantity, reducible)
            value = quantity * price
            buyer_collateral = -(-value >> 32)
            seller_collateral = value >> 32
            if maker_account.volume_cache_day == day:
                maker_rate = maker_account.fee_rates[0]
            else:
                maker_rate = self._fee_rates(maker_account, now)[0]
            maker_fee = -((-buyer_collateral * maker_rate) // 1_000_000)
            taker_fee = -((-buyer_collateral * taker_rate) // 1_000_000)
            if taker_buys:
                maker_dcoll = seller_collateral - maker_fee
            else:
                maker_dcoll = -buyer_collateral - maker_fee
            maker_dq = maker_sign * quantity
            if state is None:
                reason = check_change(maker_account, config, maker_dq, maker_dcoll)
            else:
                reason = self._check_change_pending(
                    maker_account, config, state, maker_dq, maker_dcoll
                )
            if reason is not None:
                cancel_reason = (
                    _MARKET_CLOSED if reason is Reason.MARKET_CLOSE_ONLY else _UNDERCOLLATERALIZED
                )
                actions.append((_CANCEL, maker, cancel_reason))
                continue
            if state is None:
                pending[maker_id] = [maker_dcoll, maker_dq]
            else:
                state[0] += maker_dcoll
                state[1] += maker_dq
            actions.append(
                (_FILL, maker, quantity, buyer_collateral, seller_collateral, maker_fee, taker_fee)
            )
            remaining -= quantity
            filled += quantity
            if reduce_cap > 0:
                reduce_cap -= quantity
        return actions, filled

    def _check_change_pending(
        self, account: AccountState, config: MarketConfig, state: list[int], dq: int, dcoll: int
    ) -> Reason | None:
        if state[1] == 0 and state[0] == 0:
            return self._check_change(account, config, dq, dcoll)
        market = config.market
        saved_collateral = account.collateral
        saved_balance = account.balances.get(market)
        try:
            account.collateral += state[0]
            account.balances[market] = (saved_balance or 0) + state[1]
            return self._check_change(account, config, dq, dcoll)
        finally:
            account.collateral = saved_collateral
            if saved_balance is None:
                del account.balances[market]
            else:
                account.balances[market] = saved_balance

    def _execute(self, record: BookOrder, actions: list[tuple], now: int) -> OrderAck:
        """Emit the planned cancels and fills, then rest or cancel the remainder.

        Outside ``reference`` mode the events are applied by direct calls to their handlers
        (what :meth:`apply_event` would dispatch to) and recorded the same way.
        """
        order = record.order
        fills: list[Fill] = []
        taker_side = order.side
        market = order.market
        taker_account_id = order.account_id
        taker_order_id = record.order_id
        reference = self.reference
        record_events = self.record_events
        events = self.events
        if now > self.now:
            self.now = now
        for action in actions:
            maker = action[1]
            if action[0] == _CANCEL:
                canceled = _new_order_canceled(time=now, order_id=maker.order_id, reason=action[2])
                if reference:
                    self._emit(canceled)
                else:
                    self._apply_order_canceled(canceled)
                    if record_events:
                        events.append(canceled)
                continue
            _, _, quantity, buyer_collateral, seller_collateral, maker_fee, taker_fee = action
            # the action tuple is untyped: its amounts are already Quantity / Collateral
            fill = _new_fill(
                fill_id=self.next_fill_id,
                market=market,
                time=now,
                maker_order_id=maker.order_id,
                taker_order_id=taker_order_id,
                maker_account_id=maker.account_id,
                taker_account_id=taker_account_id,
                taker_side=taker_side,
                quantity=quantity,
                price=maker.price,
                buyer_collateral=buyer_collateral,
                seller_collateral=seller_collateral,
                maker_fee=maker_fee,
                taker_fee=taker_fee,
            )
            if reference:
                self._emit(fill)
            else:
                self._settle_fill(fill, maker, record)
                if record_events:
                    events.append(fill)
            fills.append(fill)
        if record.remaining > 0:
            book = self.books[market]
            if taker_side is _BUY:
                keys = book.ask_keys
                crosses = -keys[-1] <= order.price if keys else False
            else:
                keys = book.bid_keys
                crosses = keys[-1] >= order.price if keys else False
            end: OrderOpened | OrderCanceled
            if (
                order.time_in_force is _GTT
                and (order.order_type is _LIMIT or order.order_type not in _MARKET_TYPES)
                and not crosses
            ):
                end = _new_order_opened(time=now, order_id=taker_order_id)
                if not reference:
                    self._apply_order_opened(end)
            else:
                reason = _REDUCE_ONLY if crosses else _IOC_REMAINDER
                end = _new_order_canceled(time=now, order_id=taker_order_id, reason=reason)
                if not reference:
                    self._apply_order_canceled(end)
            if reference:
                self._emit(end)
            elif record_events:
                events.append(end)
        return self._build_ack(record, tuple(fills))

    @staticmethod
    def _build_ack(record: BookOrder, fills: tuple[Fill, ...]) -> OrderAck:
        return _new_order_ack(
            order_id=record.order_id,
            client_id=record.order.client_id,
            status=record.status,
            filled=record.filled,
            remaining=record.remaining,
            fills=fills,
            cancel_reason=record.cancel_reason,
        )

    def _cancel(self, record: BookOrder, reason: CancelReason, now: int) -> None:
        self._emit(_new_order_canceled(time=now, order_id=record.order_id, reason=reason))

    def _expire(self, now: int) -> list[OrderId]:
        heap = self._expiry
        expired: list[OrderId] = []
        while heap and heap[0] <= now:
            expiration = heapq.heappop(heap)
            for order_id in self._expiring.pop(expiration, ()):
                record = self.orders.get(order_id)  # None: finished and forgotten
                if record is not None and record.status in (_OPEN, _UNTRIGGERED):
                    self._cancel(record, _EXPIRED, now)
                    expired.append(OrderId(order_id))
        return expired

    @staticmethod
    def _is_triggered(record: BookOrder, price: int) -> bool:
        order = record.order
        trigger = order.trigger_price
        assert trigger is not None
        is_stop = order.order_type in (_STOP_LIMIT, _STOP_MARKET)
        if order.side is _BUY:
            return price >= trigger if is_stop else price <= trigger
        return price <= trigger if is_stop else price >= trigger

    def _run_triggers(self, market: MarketId, now: int) -> None:
        price = self.oracle_prices[market]
        for order_id in sorted(self._conditional[market]):
            record = self._conditional[market].get(order_id)
            if record is not None and self._is_triggered(record, price):
                self._trigger(record, now)

    def _trigger(self, record: BookOrder, now: int) -> None:
        """Turn a triggered conditional order into a live one (or cancel it)."""
        order = record.order
        self._emit(OrderTriggered(time=Timestamp(now), order_id=OrderId(record.order_id)))
        if order.expiration <= now:
            self._cancel(record, _EXPIRED, now)
            return
        account = self.accounts[order.account_id]
        config = self.markets[order.market]
        try:
            if config.status is _HALTED:
                raise ExchangeError(Reason.MARKET_HALTED, "")
            _, rate = self._fee_rates(account, now)
            self._validate_taker_risk(order, account, config, rate)
            self._validate_open_order_margin(order, account, config)
            if order.reduce_only:
                position = account.balances.get(order.market, 0)
                if position == 0 or (position > 0) == (order.side is _BUY):
                    raise ExchangeError(Reason.REDUCE_ONLY_WOULD_INCREASE, "")
        except ExchangeError as exc:
            reason = (
                _REDUCE_ONLY
                if exc.reason is Reason.REDUCE_ONLY_WOULD_INCREASE
                else _MARKET_CLOSED
                if exc.reason in (Reason.MARKET_HALTED, Reason.MARKET_CLOSE_ONLY)
                else _UNDERCOLLATERALIZED
            )
            self._cancel(record, reason, now)
            return
        actions, filled = self._plan(order, record.remaining, account, config, now, rate)
        if order.time_in_force is _FOK and filled < record.remaining:
            self._cancel(record, _IOC_REMAINDER, now)
            return
        self._execute(record, actions, now)

    def _position_view(self, account: AccountState, market: MarketId) -> PositionView:
        return PositionView(
            account_id=AccountId(account.account_id),
            market=market,
            balance=Quantity(account.balances.get(market, 0)),
            cached_funding_index=FundingIndex(account.funding_index.get(market, 0)),
            open_cost=Collateral(account.open_cost.get(market, 0)),
            realized_pnl=Collateral(account.realized_pnl.get(market, 0)),
            funding_paid=Collateral(account.funding_paid.get(market, 0)),
        )

    def iter_accounts(self) -> Iterable[AccountView]:
        """Yield a view of every account (sorted by id)."""
        for account_id in sorted(self.accounts):
            yield self.get_account(account_id)


def _validate_field_types(order: Order) -> None:
    """Raise ``INVALID_ORDER`` unless every field has its declared type (hostile input)."""
    if not _has_valid_field_types(order):
        raise ExchangeError(Reason.INVALID_ORDER, "a field of the order has the wrong type")


def _has_valid_field_types(order: Order) -> bool:
    int_ = int
    return (
        type(order) is Order
        and type(order.account_id) is int_
        and type(order.market) is str
        and type(order.side) is Side
        and type(order.size) is int_
        and type(order.price) is int_
        and type(order.client_id) is str
        and type(order.expiration) is int_
        and type(order.limit_fee) is int_
        and type(order.order_type) is OrderType
        and type(order.time_in_force) is TimeInForce
        and (order.trigger_price is None or type(order.trigger_price) is int_)
        and type(order.post_only) is bool
        and type(order.reduce_only) is bool
        and (
            order.signature is None
            or (
                type(order.signature) is OrderSignature
                and type(order.signature.r) is int_
                and type(order.signature.s) is int_
            )
        )
        and (order.public_key is None or type(order.public_key) is int_)
    )


def _scale(amount: int, part: int, whole: int) -> int:
    """Return ``amount * part / whole`` truncated toward zero."""
    q = abs(amount) * part // whole
    return q if amount >= 0 else -q
