"""The order book: price-time priority, lazy removal, sequence numbers, snapshot + deltas."""

from __future__ import annotations

from starkperp.exchange import MarketId, Order, Side, Timestamp
from starkperp.exchange.book import BookOrder, OrderBook

M = MarketId("BTC-USD")


def _rec(order_id: int, side: Side, price: int, size: int) -> BookOrder:
    order = Order(
        account_id=1,  # type: ignore[arg-type]
        market=M,
        side=side,
        size=size,  # type: ignore[arg-type]
        price=price,  # type: ignore[arg-type]
        client_id=str(order_id),
        expiration=Timestamp(10),
    )
    return BookOrder(order_id, order, 0)


def test_best_prices_and_priority() -> None:
    book = OrderBook(M)
    a = _rec(1, Side.BUY, 100, 5)
    b = _rec(2, Side.BUY, 101, 5)
    c = _rec(3, Side.BUY, 101, 7)
    d = _rec(4, Side.SELL, 105, 1)
    for r in (a, b, c, d):
        book.add(r)
    assert book.best_bid() == 101 and book.best_ask() == 105
    assert [o.order_id for o in book.iter_orders(True)] == [2, 3, 1]
    assert book.peek_best(True) is b
    assert not book.is_crossed()
    assert book.count_orders() == 4


def test_lazy_removal_and_level_cleanup() -> None:
    book = OrderBook(M)
    recs = [_rec(i, Side.SELL, 200 + (i % 2), 3) for i in range(6)]
    for r in recs:
        book.add(r)
    book.remove(recs[2])
    book.remove(recs[0])
    assert book.peek_best(False) is recs[4]
    assert book.get_level_size(Side.SELL, 200) == 3
    book.reduce(recs[4], 1)  # the engine reduces the book before the record
    recs[4].remaining -= 1
    assert book.get_level_size(Side.SELL, 200) == 2 and recs[4].in_book
    book.reduce(recs[4], 2)
    recs[4].remaining -= 2
    assert not recs[4].in_book
    assert book.best_ask() == 201
    for r in (recs[3], recs[1], recs[5]):
        book.remove(r)
    assert book.best_ask() is None and book.count_orders() == 0
    assert not list(book.iter_orders(False))


def test_sequence_and_deltas_rebuild_the_snapshot() -> None:
    book = OrderBook(M)
    start = book.get_snapshot()
    recs = [
        _rec(i, Side.BUY if i % 2 else Side.SELL, 100 + i if i % 2 else 200 + i, 2)
        for i in range(10)
    ]
    for r in recs:
        book.add(r)
    book.reduce(recs[3], 1)
    book.remove(recs[4])
    deltas = book.get_deltas_since(start.seq)
    assert deltas is not None and len(deltas) == book.seq - start.seq
    assert [d.seq for d in deltas] == list(range(start.seq + 1, book.seq + 1))
    levels: dict[tuple[Side, int], int] = {}
    for d in deltas:
        if d.size:
            levels[(d.side, d.price)] = d.size
        else:
            levels.pop((d.side, d.price), None)
    snap = book.get_snapshot()
    expected = {(Side.BUY, lv.price): lv.size for lv in snap.bids}
    expected |= {(Side.SELL, lv.price): lv.size for lv in snap.asks}
    assert levels == expected
    assert book.get_deltas_since(book.seq) == []


def test_delta_history_is_bounded() -> None:
    book = OrderBook(M, delta_history=3)
    for i in range(5):
        book.add(_rec(i, Side.BUY, 100 - i, 1))
    assert book.get_deltas_since(0) is None
    assert book.get_deltas_since(2) is not None


def test_deltas_since_every_sequence_match_a_full_scan() -> None:
    book = OrderBook(M, delta_history=7)
    recs = [
        _rec(i, Side.BUY if i % 3 else Side.SELL, 100 + i if i % 3 else 300 + i, 3)
        for i in range(12)
    ]
    for r in recs:
        book.add(r)
        if r.order_id % 4 == 0:
            book.reduce(r, 1)
    book.remove(recs[5])
    history = list(book._deltas)
    for seq in range(-2, book.seq + 2):
        got = book.get_deltas_since(seq)
        if seq >= book.seq:
            assert got == []
        elif history[0][0] > seq + 1:
            assert got is None
        else:
            assert got is not None
            assert [(d.seq, d.side is Side.BUY, d.price, d.size) for d in got] == [
                h for h in history if h[0] > seq
            ]
