"""The log's JSON codec round-trips every kind of exchange event exactly."""

from __future__ import annotations

import json

import pytest

from starkperp.exchange import events as ev
from starkperp.exchange.markets import MarketId, MarketStatus, Price, Quantity
from starkperp.exchange.model import (
    AccountId,
    AccountKind,
    CancelReason,
    Fill,
    Order,
    OrderId,
    OrderSignature,
    OrderType,
    Side,
    TimeInForce,
    Timestamp,
)
from starkperp.node.codec import decode_event, encode_event

T = Timestamp(1_700_000_000)
BTC = MarketId("BTC-USD")
ORDER = Order(
    account_id=AccountId(100),
    market=BTC,
    side=Side.SELL,
    size=Quantity(10**7),
    price=Price(2**80 + 3),
    client_id="c-1",
    expiration=Timestamp(1_800_000_000),
    order_type=OrderType.STOP_LIMIT,
    time_in_force=TimeInForce.IOC,
    trigger_price=Price(5),
    post_only=True,
    signature=OrderSignature(r=2**250 + 1, s=7),
    public_key=2**249,
)

EVENTS = [
    ev.AccountCreated(time=T, account_id=AccountId(100), kind=AccountKind.TRADER, public_key=5),
    ev.AccountCreated(time=T, account_id=AccountId(1), kind=AccountKind.FEE, public_key=None),
    ev.Deposited(time=T, account_id=AccountId(100), amount=10**12),
    ev.OrderAccepted(time=T, order_id=OrderId(9), order=ORDER),
    ev.OrderCanceled(time=T, order_id=OrderId(9), reason=CancelReason.SELF_TRADE),
    ev.MarketStatusChanged(time=T, market=BTC, status=MarketStatus.CLOSE_ONLY),
    Fill(
        fill_id=1,
        market=BTC,
        time=T,
        maker_order_id=OrderId(1),
        taker_order_id=OrderId(2),
        maker_account_id=AccountId(100),
        taker_account_id=AccountId(101),
        taker_side=Side.BUY,
        quantity=Quantity(5),
        price=Price(77),
        buyer_collateral=-(2**70),
        seller_collateral=2**70,
        maker_fee=1,
        taker_fee=2,
    ),
    ev.Liquidated(
        time=T,
        account_id=AccountId(100),
        closes=(ev.PositionClose(market=BTC, balance=Quantity(-3), collateral=-9),),
        penalty=4,
        insurance_payment=0,
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_roundtrip(event: object) -> None:
    text = json.dumps(encode_event(event))
    assert decode_event(json.loads(text)) == event


def test_invalid_unknown_type() -> None:
    with pytest.raises(ValueError):
        decode_event({"type": "Nope"})
