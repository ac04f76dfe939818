"""The hot path's fast constructors build values identical to the dataclasses' own."""

from __future__ import annotations

import dataclasses

import pytest

from starkperp.exchange.events import OrderAccepted, OrderCanceled, OrderOpened
from starkperp.exchange.model import (
    CancelReason,
    Fill,
    OrderAck,
    OrderStatus,
    Side,
    compute_fast_constructor,
)
from tests.exchange.helpers import BTC, START, make_order, new_exchange


def _fill() -> Fill:
    return Fill(
        fill_id=1,
        market=BTC,
        time=START,  # type: ignore[arg-type]
        maker_order_id=2,  # type: ignore[arg-type]
        taker_order_id=3,  # type: ignore[arg-type]
        maker_account_id=4,  # type: ignore[arg-type]
        taker_account_id=5,  # type: ignore[arg-type]
        taker_side=Side.BUY,
        quantity=6,  # type: ignore[arg-type]
        price=7,  # type: ignore[arg-type]
        buyer_collateral=8,  # type: ignore[arg-type]
        seller_collateral=9,  # type: ignore[arg-type]
        maker_fee=10,  # type: ignore[arg-type]
        taker_fee=11,  # type: ignore[arg-type]
    )


def test_fast_values_equal_dataclass_values() -> None:
    ex = new_exchange()
    order = make_order(ex, 1, Side.BUY, "0.1", "50000")
    cases = [
        OrderAccepted(time=START, order_id=1, order=order),  # type: ignore[arg-type]
        OrderOpened(time=START, order_id=1),  # type: ignore[arg-type]
        OrderCanceled(time=START, order_id=1, reason=CancelReason.EXPIRED),  # type: ignore[arg-type]
        _fill(),
        OrderAck(
            order_id=1,  # type: ignore[arg-type]
            client_id="c",
            status=OrderStatus.OPEN,
            filled=0,  # type: ignore[arg-type]
            remaining=5,  # type: ignore[arg-type]
            fills=(),
            cancel_reason=None,
        ),
        order,
    ]
    for value in cases:
        make = compute_fast_constructor(type(value))
        fast = make(**{f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
        assert type(fast) is type(value)
        assert fast == value and hash(fast) == hash(value) and repr(fast) == repr(value)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(fast, dataclasses.fields(value)[0].name, 0)


def test_fast_constructor_keeps_defaults() -> None:
    ex = new_exchange()
    order = make_order(ex, 1, Side.BUY, "0.1", "50000")
    make = compute_fast_constructor(type(order))
    required = {
        f.name: getattr(order, f.name)
        for f in dataclasses.fields(order)
        if f.default is dataclasses.MISSING
    }
    assert make(**required) == order


def test_invalid_missing_field_is_refused() -> None:
    make = compute_fast_constructor(OrderOpened)
    with pytest.raises(TypeError):
        make(time=START)
    with pytest.raises(TypeError):
        make(START, 1)
