"""The fast path agrees with the readable reference path, event for event.

``Exchange(reference=True)`` sends every request through the general validation, planning
and execution code and applies every event through ``apply_event``; the default exchange
takes the fast path for plain limit and market orders and applies the hot events by direct
calls. Driven with the same operations, the two must return the same answers (or refuse
with the same reason), emit equal event logs and reach the same state digest after every
step.
"""

from __future__ import annotations

import dataclasses
import hashlib

from hypothesis import HealthCheck, given, settings

from starkperp.exchange import (
    Exchange,
    ExchangeError,
    MarketId,
    MarketStatus,
    Order,
    OrderStatus,
    Side,
    Timestamp,
    replay,
)
from starkperp.exchange.config import minimal
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.markets import compute_price_from_e6
from tests.exchange.helpers import START, USDC
from tests.exchange.test_open_order_margin import incremental_totals, scan_totals
from tests.strategies.exchange import N_ACCOUNTS, differential_operations

INDEX_E6 = {"BTC-USD": 50_000 * 10**6, "ETH-USD": 3_000 * 10**6}

# field replacements that a hostile client could send; each must be refused identically
_HOSTILE = (
    {"size": -5},
    {"size": 1 << 70},
    {"size": True},
    {"price": 3},
    {"limit_fee": 5},
    {"client_id": ""},
    {"expiration": 0},
    {"trigger_price": 1},
)


def _settlement_key(order: Order, public_key: int | None) -> int:
    """A toy settlement key with 32 values, so that ORDER_KEY_TAKEN happens too."""
    return hashlib.sha256(order.client_id.encode()).digest()[0] % 32


class _Pair:
    """The same operations on a fast exchange and a reference exchange, compared."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.fast = Exchange(
            minimal(), clock=self.clock, require_signatures=False, order_key=_settlement_key
        )
        self.ref = Exchange(
            minimal(),
            clock=self.clock,
            require_signatures=False,
            reference=True,
            order_key=_settlement_key,
        )
        self.both = (self.fast, self.ref)
        self.placed: list[Order] = []

    def call(self, name: str, *args: object) -> None:
        """Run one request on both; answers (or refusal reasons) must match."""
        outcomes = []
        for ex in self.both:
            try:
                outcomes.append(("ok", getattr(ex, name)(*args)))
            except ExchangeError as exc:
                outcomes.append(("refused", exc.reason))
        assert outcomes[0] == outcomes[1], f"{name}{args}: {outcomes}"
        if outcomes[0][0] == "refused" and name == "place_order":
            return
        assert self.fast.events == self.ref.events
        assert self.fast.compute_state_digest() == self.ref.compute_state_digest()
        for account_id in self.fast.accounts:  # the incremental reservation is the scan's
            assert incremental_totals(self.fast, account_id) == scan_totals(self.fast, account_id)


def _order(pair: _Pair, op: tuple, ids: list[int], index: dict[str, int], n: int) -> Order:
    _, who, market, side, units, offset, (otype, tif), post, reduce, ttl = op
    config = pair.fast.get_market(market)
    ticks_per_50 = max(1, 50 * 10**6 // config.tick_size // 1000)
    e6 = index[market] + offset * ticks_per_50 * config.tick_size * 10  # a coarse grid
    e6 -= e6 % config.tick_size
    price = compute_price_from_e6(config, max(e6, config.tick_size))
    return Order(
        account_id=ids[who],  # type: ignore[arg-type]
        market=MarketId(market),
        side=side,
        size=units * config.min_order_size,
        price=price,
        client_id=f"d{n}",
        expiration=Timestamp(pair.clock.now + ttl),
        order_type=otype,
        time_in_force=tif,
        trigger_price=price if otype.is_conditional else None,
        post_only=post,
        reduce_only=reduce,
    )


def _open_ids(ex: Exchange) -> list[int]:
    return sorted(
        oid
        for oid, r in ex.orders.items()
        if r.status in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED)
    )


def _drive(ops: list[tuple]) -> _Pair:  # noqa: C901
    pair = _Pair()
    index = dict(INDEX_E6)
    for market, e6 in index.items():
        pair.call(
            "set_oracle_price", market, compute_price_from_e6(pair.fast.get_market(market), e6)
        )
    ids = [pair.fast.create_account() for _ in range(N_ACCOUNTS)]
    assert [pair.ref.create_account() for _ in range(N_ACCOUNTS)] == ids
    for account in ids:
        pair.call("deposit", account, 20_000 * USDC)
    n = 0
    for op in ops:
        kind = op[0]
        if kind == "place":
            n += 1
            order = _order(pair, op, ids, index, n)
            pair.placed.append(order)
            pair.call("place_order", order)
        elif kind == "resend" and pair.placed:
            order = pair.placed[op[1] % len(pair.placed)]
            if op[1] % 3 == 0:  # same client id, different parameters
                order = dataclasses.replace(order, size=order.size * 2)
            pair.call("place_order", order)
        elif kind == "replace":
            open_ids = _open_ids(pair.fast)
            if open_ids:
                old = pair.fast.orders[open_ids[op[1] % len(open_ids)]].order
                n += 1
                config = pair.fast.get_market(old.market)
                price = max(old.price + op[2] * compute_price_from_e6(config, config.tick_size), 1)
                new = dataclasses.replace(old, client_id=f"d{n}", price=price)
                pair.call("cancel_replace", open_ids[op[1] % len(open_ids)], new)
        elif kind == "hostile" and pair.placed:
            n += 1
            base = dataclasses.replace(pair.placed[-1], client_id=f"d{n}")
            pair.call("place_order", dataclasses.replace(base, **_HOSTILE[op[1]]))
        elif kind == "status":
            pair.call("set_market_status", op[1], MarketStatus(op[2]))
            if op[2] != "ONLINE":  # a few requests while the market is not online
                for order in pair.placed[-3:]:
                    n += 1
                    pair.call("place_order", dataclasses.replace(order, client_id=f"d{n}"))
        elif kind == "cancel":
            open_ids = _open_ids(pair.fast)
            assert open_ids == _open_ids(pair.ref)
            if open_ids:
                pair.call("cancel_order", open_ids[op[1] % len(open_ids)])
        elif kind == "cancel_all":
            pair.call("cancel_all", ids[op[1]])
        elif kind == "deposit":
            pair.call("deposit", ids[op[1]], op[2] * USDC)
        elif kind == "withdraw":
            pair.call("withdraw", ids[op[1]], op[2] * USDC)
        elif kind == "transfer":
            pair.call("transfer", ids[op[1]], ids[op[2]], op[3] * USDC)
        elif kind == "price":
            market = op[1]
            config = pair.fast.get_market(market)
            index[market] = max(
                index[market] * (1000 + op[2]) // 1000 // config.tick_size * config.tick_size,
                config.tick_size,
            )
            pair.call("set_oracle_price", market, compute_price_from_e6(config, index[market]))
        elif kind == "time":
            pair.clock.advance(op[1])
            pair.call("advance_time")
        elif kind == "liquidate":
            pair.call("process_liquidations")
    return pair


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(differential_operations)
def test_fast_path_matches_reference(ops: list[tuple]) -> None:
    pair = _drive(ops)
    again = replay(pair.fast.events, minimal(), require_signatures=False)
    assert again.compute_state_digest() == pair.fast.compute_state_digest()


def test_fast_path_is_taken_for_plain_limit_orders() -> None:
    pair = _Pair()
    for ex in pair.both:
        ex.set_oracle_price(
            "BTC-USD", compute_price_from_e6(ex.get_market("BTC-USD"), 50_000 * 10**6)
        )
    account = pair.fast.create_account()
    pair.ref.create_account()
    pair.call("deposit", account, 10_000 * USDC)
    config = pair.fast.get_market("BTC-USD")
    order = Order(
        account_id=account,  # type: ignore[arg-type]
        market=MarketId("BTC-USD"),
        side=Side.BUY,
        size=config.min_order_size,
        price=compute_price_from_e6(config, 49_000 * 10**6),
        client_id="plain",
        expiration=Timestamp(START + 60),
    )
    calls: list[str] = []
    for ex in pair.both:
        original = ex._place_checked
        ex._place_checked = lambda *a, _o=original: calls.append("general") or _o(*a)  # type: ignore[method-assign]
    pair.call("place_order", order)
    assert calls == ["general"]  # only the reference exchange took the general path
