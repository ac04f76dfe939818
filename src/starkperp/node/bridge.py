"""The bridge: the exchange's immutable events translated into rollup transactions.

The exchange decides (matching, risk, funding) and records events; the rollup proves state
transitions. :class:`EventBridge` walks the event log in order and emits, for every event
that moves money or global state, the rollup transaction with the same effect:

* ``Deposited`` -> :class:`Deposit`; ``Withdrawn`` -> :class:`Withdrawal` (to the account's
  L1 recipient); ``Transferred`` -> :class:`Transfer`.
* ``Fill`` -> one :class:`Trade` of the two orders. The rollup's limit orders are built from
  the exchange order's signed limits exactly as the dYdX v3 client derives them (synthetic
  quanta = size; collateral = size x signed price, rounded up for a buy and down for a sell;
  fee = ceil(limit fee x collateral)). The exchange settles a fill with two collateral
  amounts (buyer pays ``buyer_collateral`` rounded up, seller receives ``seller_collateral``
  rounded down, the remainder goes to the fee account); a rollup Trade has one. The bridge
  sets the trade's collateral to one of them and adds the rounding remainder to the other
  party's fee, which gives every position exactly the exchange's change; if neither choice
  respects both orders' signed fee limits, the fill is rejected (FILL_OUTSIDE_SIGNED_LIMITS).
* ``OraclePriceSet`` -> :class:`OraclePricesTick`; the ``FundingApplied`` events of one
  instant (events without rollup effect may sit between them) -> one :class:`FundingTick`
  carrying every asset's index (the rollup bounds an index move by the time since the last
  tick, so one instant must not be split across two :meth:`EventBridge.translate` calls:
  FUNDING_INSTANT_SPLIT).
* ``Liquidated`` -> :class:`InsuranceTakeover` with the same closes (market -> asset,
  balance handed to the insurance fund, collateral the account receives), penalty and
  insurance payment: every position, the insurance fund's included, moves exactly as in the
  exchange. The rollup re-checks the exchange's decision (TR > TV at the batch's prices,
  closes at the oracle price, penalty within its bound, payment at most the deficit, the fund
  solvent afterwards) and rejects the batch with its named reason if it does not hold.
* ``Deleveraged`` -> :class:`Deleverage` with the same balance and collateral moves; the
  rollup then enforces its own conditions (TV < 0, the insurance fund's value cannot absorb
  the deficit, StarkEx's fairness rule) and rejects the batch with its named reason if the
  exchange's decision does not meet them. A deleverage whose collateral flows against the
  side (the rollup's amounts are unsigned) raises DELEVERAGE_NOT_BRIDGED.
* Account creation, order acceptance, resting, cancels, triggers, premium samples and
  market status have no rollup effect; the bridge only remembers keys and orders.

Signatures are not proven in v1, and the exchange's signatures are over the dYdX (Pedersen)
message, not the rollup's: transactions leave the bridge with empty signatures and the rollup
must run with ``verify_signatures=False``. Oracle ticks carry the operator's price, signed by
nobody, under the configured ``oracle_public_key``; withdrawals and transfers get nonces from
a counter of the bridge (deterministic when the log is replayed from its start).

A translation is atomic: if any event is rejected, :meth:`EventBridge.translate` raises
:class:`BridgeError` and the bridge's memory is as before the call.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starkperp.errors import StarkPerpError
from starkperp.exchange.config import ExchangeConfig
from starkperp.exchange.events import (
    AccountCreated,
    Deleveraged,
    Deposited,
    Event,
    FundingApplied,
    Liquidated,
    OraclePriceSet,
    OrderAccepted,
    OrderCanceled,
    Transferred,
    Withdrawn,
)
from starkperp.exchange.markets import MarketConfig
from starkperp.exchange.model import Fill, Order, Side
from starkperp.exchange.signing import (
    ORDER_SIGNATURE_EXPIRATION_BUFFER_HOURS,
    compute_expiration_epoch_hours,
    nonce_from_client_id,
)
from starkperp.rollup.config import COLLATERAL_RESOLUTION, RollupConfig, SyntheticAsset
from starkperp.rollup.errors import TransactionRejected
from starkperp.rollup.quantities import (
    FXP_32_ONE,
    NONCE_UPPER_BOUND,
    AssetId,
    Collateral,
    FundingIndex,
    PositionId,
    Price,
    PublicKey,
    Quantity,
    Timestamp,
)
from starkperp.rollup.transactions import (
    AssetOraclePrice,
    Deleverage,
    Deposit,
    FundingIndexEntry,
    FundingTick,
    InsuranceTakeover,
    LimitOrder,
    OraclePricesTick,
    SignedOraclePrice,
    TakeoverClose,
    Trade,
    Transaction,
    Transfer,
    Withdrawal,
)
from starkperp.rollup.transactions.limit_order import validate_fairness
from starkperp.rollup.transactions.oracle_prices_tick import compute_internal_price

__all__ = [
    "BridgeError",
    "BridgeReason",
    "EventBridge",
    "compute_limit_order",
    "compute_takeover",
    "compute_trade",
]

_EXTERNAL_DECIMALS = 10**18


class BridgeReason(enum.Enum):
    """Why an exchange event cannot become a rollup transaction."""

    UNKNOWN_MARKET = 1
    UNKNOWN_ACCOUNT = 2
    UNKNOWN_ORDER = 3
    NO_PUBLIC_KEY = 4
    NO_WITHDRAWAL_RECIPIENT = 5
    POSITION_OUT_OF_TREE = 6
    POSITION_ID_RESERVED = 7
    FILL_OUTSIDE_SIGNED_LIMITS = 8
    PRICE_NOT_REPRESENTABLE = 9
    LIQUIDATION_NOT_BRIDGED = 10
    """Retired: liquidations are bridged as InsuranceTakeover (kept so numbers stay)."""
    DELEVERAGE_NOT_BRIDGED = 11
    SIGNATURES_REQUIRED = 12
    NONCES_EXHAUSTED = 13
    FUNDING_INSTANT_SPLIT = 14


class BridgeError(StarkPerpError):
    """An event cannot be bridged; ``reason`` is a :class:`BridgeReason`.

    Kept in this module (not ``node/errors.py``, owned elsewhere) so the bridge stands alone.
    """

    def __init__(self, reason: BridgeReason, message: str = "") -> None:
        super().__init__(reason, message)


def compute_limit_order(
    order: Order,
    market: MarketConfig,
    *,
    asset_id: AssetId,
    public_key: PublicKey,
) -> LimitOrder:
    """Return the rollup limit order holding the exchange order's signed limits.

    The signed price is a whole number of ticks: collateral quanta are
    ``size x price_e6 / resolution``, rounded up for a buy and down for a sell; the fee limit
    is ``ceil(limit_fee_ppm x collateral / 10^6)`` (the dYdX v3 client's integers).
    """
    ticks = (order.price * market.resolution * 2 + (market.tick_size << 32)) // (
        market.tick_size << 33
    )
    notional = order.size * ticks * market.tick_size
    is_buy = order.side is Side.BUY
    collateral = -(-notional // market.resolution) if is_buy else notional // market.resolution
    fee = -(-(order.limit_fee * collateral) // COLLATERAL_RESOLUTION)
    return LimitOrder(
        position_id=PositionId(order.account_id),
        public_key=public_key,
        asset_id_synthetic=asset_id,
        amount_synthetic=Quantity(order.size),
        amount_collateral=Collateral(collateral),
        amount_fee=Collateral(fee),
        is_buying_synthetic=is_buy,
        nonce=nonce_from_client_id(order.client_id),
        expiration_hours=compute_expiration_epoch_hours(
            order.expiration, buffer_hours=ORDER_SIGNATURE_EXPIRATION_BUFFER_HOURS
        ),
    )


def _fits(order: LimitOrder, collateral: int, synthetic: int, fee: int) -> bool:
    try:
        validate_fairness(order, collateral, synthetic, fee)
    except TransactionRejected:
        return False
    return True


def compute_trade(fill: Fill, buy_order: LimitOrder, sell_order: LimitOrder) -> Trade:
    """Return the trade that moves every position exactly as ``fill`` settles it.

    Party A is the buyer. The rounding remainder ``buyer_collateral - seller_collateral``
    is charged as extra fee to the seller (trade at the buyer's amount) or, if that breaks
    the seller's fee limit, to the buyer (trade at the seller's amount).
    """
    buyer_fee = fill.taker_fee if fill.taker_side is Side.BUY else fill.maker_fee
    seller_fee = fill.maker_fee if fill.taker_side is Side.BUY else fill.taker_fee
    remainder = fill.buyer_collateral - fill.seller_collateral
    candidates = (
        (fill.buyer_collateral, buyer_fee, seller_fee + remainder),
        (fill.seller_collateral, buyer_fee + remainder, seller_fee),
    )
    for collateral, a_fee, b_fee in candidates:
        if _fits(buy_order, collateral, fill.quantity, a_fee) and _fits(
            sell_order, collateral, fill.quantity, b_fee
        ):
            return Trade(
                party_a_order=buy_order,
                party_b_order=sell_order,
                actual_a_fee=Collateral(a_fee),
                actual_b_fee=Collateral(b_fee),
                actual_collateral=Collateral(collateral),
                actual_synthetic=Quantity(fill.quantity),
            )
    raise BridgeError(
        BridgeReason.FILL_OUTSIDE_SIGNED_LIMITS,
        f"fill {fill.fill_id}: no split of the rounding remainder respects both orders",
    )


def compute_takeover(
    event: Liquidated,
    *,
    position_id: PositionId,
    get_asset_id: Callable[[str], AssetId],
) -> InsuranceTakeover:
    """Return the insurance takeover that moves every position exactly as ``event``.

    Each exchange close (market, balance, collateral) becomes a close of the market's rollup
    asset with the same signed balance and collateral; penalty and insurance payment are
    carried unchanged.
    """
    return InsuranceTakeover(
        liquidated_position_id=position_id,
        closes=tuple(
            TakeoverClose(
                asset_id=get_asset_id(close.market),
                balance=Quantity(close.balance),
                collateral=Collateral(close.collateral),
            )
            for close in event.closes
        ),
        penalty=Collateral(event.penalty),
        insurance_payment=Collateral(event.insurance_payment),
    )


_MISSING = object()


@dataclass(slots=True)
class _Memory:
    """What the bridge remembers between events.

    ``orders`` holds the orders that may still fill (an order leaves when it is cancelled or
    completely filled; ``filled`` counts its fills until then), so a node that settles for
    days does not keep every order it ever saw. A translation writes through :meth:`put`
    and :meth:`drop`, which journal the old values, so a failed translation is undone in
    the time of its own changes instead of a copy of everything.
    """

    public_keys: dict[int, int]
    orders: dict[int, Order]
    filled: dict[int, int]
    funding_indices: dict[AssetId, int]
    next_nonce: int
    last_funding_time: int
    journal: list[tuple[dict[Any, Any], Any, Any]] = field(default_factory=list)

    def put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        self.journal.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def drop(self, table: dict[Any, Any], key: Any) -> None:
        if key in table:
            self.journal.append((table, key, table.pop(key)))

    def undo(self) -> None:
        for table, key, old in reversed(self.journal):
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old
        self.journal.clear()


class EventBridge:
    """Translate exchange events into rollup transactions, remembering keys and orders."""

    def __init__(
        self,
        exchange_config: ExchangeConfig,
        rollup_config: RollupConfig,
        *,
        oracle_public_key: PublicKey,
        get_recipient: Callable[[int], int | None],
    ) -> None:
        """Bridge ``exchange_config``'s markets to the rollup assets of the same ticker.

        ``get_recipient`` returns the L1 address (as an int) that receives an account's
        withdrawals, or None if it has none.
        """
        if rollup_config.verify_signatures:
            raise BridgeError(
                BridgeReason.SIGNATURES_REQUIRED,
                "the bridge emits unsigned transactions: use verify_signatures=False",
            )
        self.exchange_config = exchange_config
        self.rollup_config = rollup_config
        self.oracle_public_key = oracle_public_key
        self.get_recipient = get_recipient
        by_name = {a.name: a for a in rollup_config.assets}
        self._assets: dict[str, tuple[MarketConfig, SyntheticAsset]] = {}
        for market in exchange_config.markets:
            asset = by_name.get(market.asset)
            if asset is not None and asset.resolution == market.resolution:
                self._assets[market.market] = (market, asset)
        self._memory = _Memory(
            public_keys={},
            orders={},
            filled={},
            funding_indices={a.asset_id: 0 for a in rollup_config.assets},
            next_nonce=0,
            last_funding_time=-1,
        )

    # ------------------------------------------------------------ public

    def translate(self, events: Iterable[Event]) -> list[Transaction]:
        """Return the rollup transactions of ``events`` (all or nothing)."""
        memory = self._memory
        memory.journal.clear()
        scalars = (memory.next_nonce, memory.last_funding_time)
        try:
            return self._translate(list(events))
        except BaseException:
            memory.undo()
            memory.next_nonce, memory.last_funding_time = scalars
            raise
        finally:
            memory.journal.clear()

    # ------------------------------------------------------------ translation

    def _translate(self, events: Sequence[Event]) -> list[Transaction]:
        txs: list[Transaction] = []
        pending_funding: list[FundingApplied] = []
        for event in events:
            if isinstance(event, FundingApplied):
                if pending_funding and event.time != pending_funding[0].time:
                    txs.append(self._funding_tick(pending_funding))
                    pending_funding = []
                pending_funding.append(event)
                continue
            tx = self._translate_one(event)
            if tx is None:
                continue  # no rollup effect: a funding instant may continue past it
            if pending_funding:
                txs.append(self._funding_tick(pending_funding))
                pending_funding = []
            txs.append(tx)
        if pending_funding:
            txs.append(self._funding_tick(pending_funding))
        return txs

    def _translate_one(self, event: Event) -> Transaction | None:
        memory = self._memory
        if isinstance(event, AccountCreated):
            self._position_id(event.account_id)
            if event.public_key is not None:
                memory.put(memory.public_keys, event.account_id, event.public_key)
            return None
        if isinstance(event, OrderAccepted):
            self._asset(event.order.market)
            memory.put(memory.orders, event.order_id, event.order)
            return None
        if isinstance(event, OrderCanceled):
            memory.drop(memory.orders, event.order_id)
            memory.drop(memory.filled, event.order_id)
            return None
        if isinstance(event, Deposited):
            return Deposit(
                position_id=self._position_id(event.account_id),
                public_key=self._public_key(event.account_id),
                amount=Collateral(event.amount),
            )
        if isinstance(event, Withdrawn):
            recipient = self.get_recipient(event.account_id)
            if recipient is None:
                raise BridgeError(
                    BridgeReason.NO_WITHDRAWAL_RECIPIENT, f"account {event.account_id}"
                )
            return Withdrawal(
                position_id=self._position_id(event.account_id),
                public_key=self._public_key(event.account_id),
                amount=Collateral(event.amount),
                recipient=recipient,
                nonce=self._take_nonce(),
                expiration_hours=-(-event.time // 3600),
            )
        if isinstance(event, Transferred):
            return Transfer(
                sender_position_id=self._position_id(event.sender),
                sender_public_key=self._public_key(event.sender),
                receiver_position_id=self._position_id(event.receiver),
                receiver_public_key=self._public_key(event.receiver),
                amount=Collateral(event.amount),
                nonce=self._take_nonce(),
                expiration_hours=-(-event.time // 3600),
            )
        if isinstance(event, Fill):
            return self._trade(event)
        if isinstance(event, OraclePriceSet):
            return self._oracle_tick(event)
        if isinstance(event, Liquidated):
            return compute_takeover(
                event,
                position_id=self._position_id(event.account_id),
                get_asset_id=lambda market: self._asset(market)[1].asset_id,
            )
        if isinstance(event, Deleveraged):
            return self._deleverage(event)
        return None

    def _deleverage(self, event: Deleveraged) -> Deleverage:
        _, asset = self._asset(event.market)
        # The deleverager buys when the deleveraged account was long (its balance falls).
        is_buying = event.quantity < 0
        sign = 1 if is_buying else -1
        amount_collateral = sign * event.collateral
        if event.quantity == 0 or amount_collateral < 0:
            raise BridgeError(
                BridgeReason.DELEVERAGE_NOT_BRIDGED,
                f"account {event.deleveraged_account_id}: collateral flows against the side",
            )
        return Deleverage(
            deleveraged_position_id=self._position_id(event.deleveraged_account_id),
            deleverager_position_id=self._position_id(event.deleverager_account_id),
            synthetic_asset_id=asset.asset_id,
            amount_synthetic=Quantity(abs(event.quantity)),
            amount_collateral=Collateral(amount_collateral),
            deleverager_is_buying_synthetic=is_buying,
        )

    def _trade(self, fill: Fill) -> Trade:
        market, asset = self._asset(fill.market)
        buy_id, sell_id = (
            (fill.taker_order_id, fill.maker_order_id)
            if fill.taker_side is Side.BUY
            else (fill.maker_order_id, fill.taker_order_id)
        )
        limit_orders = []
        for order_id in (buy_id, sell_id):
            order = self._memory.orders.get(order_id)
            if order is None:
                raise BridgeError(BridgeReason.UNKNOWN_ORDER, f"order {order_id}")
            self._position_id(order.account_id)
            limit_orders.append(
                compute_limit_order(
                    order,
                    market,
                    asset_id=asset.asset_id,
                    public_key=self._public_key(order.account_id),
                )
            )
        trade = compute_trade(fill, limit_orders[0], limit_orders[1])
        memory = self._memory
        for order_id in (buy_id, sell_id):
            filled = memory.filled.get(order_id, 0) + fill.quantity
            if filled >= memory.orders[order_id].size:  # complete: it will never fill again
                memory.drop(memory.orders, order_id)
                memory.drop(memory.filled, order_id)
            else:
                memory.put(memory.filled, order_id, filled)
        return trade

    def _oracle_tick(self, event: OraclePriceSet) -> OraclePricesTick:
        _, asset = self._asset(event.market)
        external = (
            2 * event.price * asset.resolution * _EXTERNAL_DECIMALS
            + COLLATERAL_RESOLUTION * FXP_32_ONE
        ) // (2 * COLLATERAL_RESOLUTION * FXP_32_ONE)
        if external <= 0 or compute_internal_price(asset, external) != event.price:
            raise BridgeError(
                BridgeReason.PRICE_NOT_REPRESENTABLE, f"{event.market} price {event.price}"
            )
        signed = SignedOraclePrice(
            signer_public_key=self.oracle_public_key,
            external_price=external,
            timestamp=Timestamp(event.time),
        )
        return OraclePricesTick(
            timestamp=Timestamp(event.time),
            prices=(
                AssetOraclePrice(
                    asset_id=asset.asset_id, price=Price(event.price), signed_prices=(signed,)
                ),
            ),
        )

    def _funding_tick(self, events: Sequence[FundingApplied]) -> FundingTick:
        # A second tick at the same instant has dt = 0 and could move no index.
        if events[0].time == self._memory.last_funding_time:
            raise BridgeError(
                BridgeReason.FUNDING_INSTANT_SPLIT,
                f"funding at {events[0].time} was split across translate calls",
            )
        self._memory.last_funding_time = events[0].time
        indices = self._memory.funding_indices
        for event in events:
            _, asset = self._asset(event.market)
            self._memory.put(indices, asset.asset_id, event.index)
        return FundingTick(
            timestamp=Timestamp(events[0].time),
            indices=tuple(
                FundingIndexEntry(asset_id=a, funding_index=FundingIndex(indices[a]))
                for a in self.rollup_config.asset_ids
            ),
        )

    # ------------------------------------------------------------ lookups

    def _asset(self, market: str) -> tuple[MarketConfig, SyntheticAsset]:
        found = self._assets.get(market)
        if found is None:
            raise BridgeError(BridgeReason.UNKNOWN_MARKET, f"{market} has no rollup asset")
        return found

    def _position_id(self, account_id: int) -> PositionId:
        ex, ro = self.exchange_config, self.rollup_config
        if account_id == ex.fee_account_id:
            return ro.fee_position_id
        if account_id == ex.insurance_fund_account_id:
            return ro.insurance_position_id
        if account_id in (ro.fee_position_id, ro.insurance_position_id):
            raise BridgeError(BridgeReason.POSITION_ID_RESERVED, f"account {account_id}")
        if not 0 <= account_id < 2**ro.positions_depth:
            raise BridgeError(BridgeReason.POSITION_OUT_OF_TREE, f"account {account_id}")
        return PositionId(account_id)

    def _public_key(self, account_id: int) -> PublicKey:
        position_id = self._position_id(account_id)
        special = self.rollup_config.get_special_position_key(position_id)
        key = special if special is not None else self._memory.public_keys.get(account_id)
        if not key:
            raise BridgeError(BridgeReason.NO_PUBLIC_KEY, f"account {account_id}")
        return PublicKey(key)

    def _take_nonce(self) -> int:
        nonce = self._memory.next_nonce
        if nonce >= NONCE_UPPER_BOUND:
            raise BridgeError(BridgeReason.NONCES_EXHAUSTED)
        self._memory.next_nonce = nonce + 1
        return nonce
