"""The order book of one market: price levels in price-time priority.

Each side keeps a dict ``price -> Level`` and a plain sorted list of level keys
(``bid_keys`` / ``ask_keys``, read-only outside this module) with the best level at the END
of the list (the key is the price for bids and minus the price for
asks), so reaching the best price is ``keys[-1]`` and a new level is one ``bisect.insort``
(measured: with ~1,000 live levels and random level births and deaths this list is about
3x faster than ``sortedcontainers.SortedList``; changes near the top are O(1) appends/pops).
A level is a FIFO ``deque`` of :class:`BookOrder` records plus its aggregate size. Removal
is lazy: a canceled order is only flagged and its size taken off the level; the dead record
is dropped when it reaches the head of its queue, or with the whole level when the level
empties. Every change of an aggregate level bumps the book's sequence number and is kept
as a delta (bounded history) so a consumer can follow the book from a snapshot.

:class:`BookOrder` is also the exchange's mutable record of every accepted order (resting
or not); it uses ``__slots__`` so a million resting orders stay small.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from itertools import islice

from starkperp.exchange.markets import MarketId, Price, Quantity
from starkperp.exchange.model import (
    BookDelta,
    BookLevel,
    BookSnapshot,
    CancelReason,
    Order,
    OrderAck,
    OrderId,
    OrderStatus,
    OrderView,
    Side,
    compute_fast_constructor,
)

__all__ = ["BookOrder", "Level", "OrderBook"]

_new_order_view = compute_fast_constructor(OrderView)
# enum members as module constants (an enum member read through its class is slow)
_BUY = Side.BUY
_SELL = Side.SELL
_PENDING = OrderStatus.PENDING


class BookOrder:
    """The exchange's mutable record of one accepted order."""

    __slots__ = (
        "order_id",
        "order",
        "account_id",
        "is_buy",
        "price",
        "remaining",
        "filled",
        "status",
        "in_book",
        "created_at",
        "updated_at",
        "cancel_reason",
        "ack",
    )

    def __init__(self, order_id: OrderId, order: Order, created_at: int) -> None:
        self.order_id = order_id
        self.order = order
        self.account_id = order.account_id
        self.is_buy = order.side is _BUY
        self.price: Price = order.price
        self.remaining: int = order.size
        self.filled = 0
        self.status = _PENDING
        self.in_book = False
        self.created_at = created_at
        self.updated_at = created_at
        self.cancel_reason: CancelReason | None = None
        self.ack: OrderAck | None = None

    def to_view(self) -> OrderView:
        """Return an immutable view of the order's current state."""
        return _new_order_view(
            order_id=self.order_id,
            order=self.order,
            status=self.status,
            filled=self.filled,
            remaining=self.remaining,
            created_at=self.created_at,
            updated_at=self.updated_at,
            cancel_reason=self.cancel_reason,
        )


class Level:
    """All resting orders at one price, oldest first."""

    __slots__ = ("price", "size", "count", "queue")

    def __init__(self, price: int) -> None:
        self.price = price
        self.size = 0
        self.count = 0
        self.queue: deque[BookOrder] = deque()


class OrderBook:
    """Bids and asks of one market, never crossed, with a sequence number per change."""

    __slots__ = ("market", "seq", "_bids", "_asks", "bid_keys", "ask_keys", "_deltas")

    def __init__(self, market: MarketId, delta_history: int = 100_000) -> None:
        self.market = market
        self.seq = 0
        self._bids: dict[int, Level] = {}
        self._asks: dict[int, Level] = {}
        self.bid_keys: list[int] = []
        self.ask_keys: list[int] = []
        self._deltas: deque[tuple[int, bool, int, int]] = deque(maxlen=delta_history)

    # -- reads ------------------------------------------------------------------------

    def best_bid(self) -> Price | None:
        """Return the highest bid price, or None."""
        return Price(self.bid_keys[-1]) if self.bid_keys else None

    def best_ask(self) -> Price | None:
        """Return the lowest ask price, or None."""
        return Price(-self.ask_keys[-1]) if self.ask_keys else None

    def is_crossed(self) -> bool:
        """Tell whether the best bid is at or above the best ask (must never be true)."""
        return bool(self.bid_keys and self.ask_keys and self.bid_keys[-1] >= -self.ask_keys[-1])

    def peek_best(self, bids: bool) -> BookOrder | None:
        """Return the oldest live order at the best price of one side."""
        keys = self.bid_keys if bids else self.ask_keys
        if not keys:
            return None
        levels = self._bids if bids else self._asks
        level = levels[keys[-1] if bids else -keys[-1]]
        queue = level.queue
        head = queue[0]
        while not head.in_book:
            queue.popleft()
            head = queue[0]
        return head

    def iter_orders(self, bids: bool) -> Iterator[BookOrder]:
        """Yield live orders of one side in priority order (best price, then oldest)."""
        keys = self.bid_keys if bids else self.ask_keys
        levels = self._bids if bids else self._asks
        for key in reversed(keys):
            for order in levels[key if bids else -key].queue:
                if order.in_book:
                    yield order

    def iter_levels(self, bids: bool) -> Iterator[tuple[int, int]]:
        """Yield ``(price, size)`` per level of one side, best first."""
        keys = self.bid_keys if bids else self.ask_keys
        levels = self._bids if bids else self._asks
        for key in reversed(keys):
            level = levels[key if bids else -key]
            yield level.price, level.size

    def get_level_size(self, side: Side, price: int) -> int:
        """Return the aggregate size resting at ``price`` on ``side`` (0 if none)."""
        level = (self._bids if side is _BUY else self._asks).get(price)
        return level.size if level else 0

    def count_orders(self) -> int:
        """Return the number of live resting orders."""
        return sum(lv.count for lv in self._bids.values()) + sum(
            lv.count for lv in self._asks.values()
        )

    def get_snapshot(self, depth: int | None = None) -> BookSnapshot:
        """Return the aggregated book (bids and asks best first) at the current sequence."""
        bids: list[BookLevel] = []
        for price, size in self.iter_levels(True):
            if depth is not None and len(bids) >= depth:
                break
            bids.append(BookLevel(price=Price(price), size=Quantity(size)))
        asks: list[BookLevel] = []
        for price, size in self.iter_levels(False):
            if depth is not None and len(asks) >= depth:
                break
            asks.append(BookLevel(price=Price(price), size=Quantity(size)))
        return BookSnapshot(market=self.market, seq=self.seq, bids=tuple(bids), asks=tuple(asks))

    def get_deltas_since(self, seq: int) -> list[BookDelta] | None:
        """Return the changes after sequence ``seq``; None if history no longer reaches it.

        Every change bumps ``seq`` by one and appends one delta, so the history holds the
        contiguous sequence numbers up to ``self.seq``: the ``k = self.seq - seq`` wanted
        deltas are the newest ``k``, read from the right in O(k) (no scan of the history).
        """
        if seq >= self.seq:
            return []
        deltas = self._deltas
        if not deltas or deltas[0][0] > seq + 1:
            return None
        wanted = self.seq - seq
        newest = list(islice(reversed(deltas), wanted))
        newest.reverse()
        assert newest[0][0] == seq + 1, "book delta history is not contiguous"
        market = self.market
        return [
            BookDelta(
                market=market,
                seq=d_seq,
                side=_BUY if is_bid else _SELL,
                price=Price(price),
                size=Quantity(size),
            )
            for d_seq, is_bid, price, size in newest
        ]

    # -- changes ----------------------------------------------------------------------

    def add(self, order: BookOrder) -> None:
        """Rest ``order`` at the back of its price level (caller ensures it does not cross)."""
        price: int = order.price
        if order.is_buy:
            levels, keys, key = self._bids, self.bid_keys, price
        else:
            levels, keys, key = self._asks, self.ask_keys, -price
        level = levels.get(price)
        if level is None:
            level = Level(price)
            levels[price] = level
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.queue.append(order)
        level.size += order.remaining
        level.count += 1
        order.in_book = True
        self.seq += 1
        self._deltas.append((self.seq, order.is_buy, price, level.size))

    def remove(self, order: BookOrder) -> None:
        """Take a resting order off the book (lazily)."""
        self.reduce(order, order.remaining)

    def reduce(self, order: BookOrder, quantity: int) -> None:
        """Take ``quantity`` off a resting order; remove it when nothing remains."""
        price = order.price
        is_buy = order.is_buy
        levels = self._bids if is_buy else self._asks
        level = levels[price]
        size = level.size - quantity
        level.size = size
        if quantity >= order.remaining:
            order.in_book = False
            count = level.count - 1
            level.count = count
            if count == 0:
                del levels[price]
                keys = self.bid_keys if is_buy else self.ask_keys
                key = price if is_buy else -price
                if keys[-1] == key:
                    keys.pop()
                else:
                    del keys[bisect_left(keys, key)]
            else:
                queue = level.queue
                while not queue[0].in_book:
                    queue.popleft()
        seq = self.seq + 1
        self.seq = seq
        self._deltas.append((seq, is_buy, price, size))
