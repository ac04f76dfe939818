"""``signature_verified``: a caller that already verified a signature can skip the curve check."""

from __future__ import annotations

import dataclasses

import pytest

from starkperp.crypto.stark_curve import StarkPrivateKey, private_to_public
from starkperp.exchange import Exchange, ExchangeError, OrderStatus, Reason, Side, price_from_human
from starkperp.exchange.config import minimal
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.model import OrderSignature
from starkperp.exchange.signing import sign_exchange_order
from tests.exchange.helpers import BTC, START, make_order

_KEY = StarkPrivateKey(0x1234567)


def _signed_exchange() -> tuple[Exchange, int]:
    ex = Exchange(minimal(), clock=ManualClock(START))
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    trader = ex.create_account(public_key=private_to_public(_KEY))
    ex.deposit(trader, 10**12)
    return ex, trader


def _sign(ex: Exchange, order):  # type: ignore[no-untyped-def]
    signature = sign_exchange_order(
        order, ex.get_market(order.market), _KEY, network_id=ex.config.network_id
    )
    return dataclasses.replace(order, signature=signature)


def test_verified_signature_places_like_an_unverified_one() -> None:
    slow, trader = _signed_exchange()
    fast, _ = _signed_exchange()
    order = _sign(slow, make_order(slow, trader, Side.BUY, "0.1", "49000"))
    a = slow.place_order(order)
    b = fast.place_order(order, signature_verified=True)
    assert a == b and a.status is OrderStatus.OPEN
    assert slow.compute_state_digest() == fast.compute_state_digest()


def test_signature_verified_skips_only_the_curve_check() -> None:
    ex, trader = _signed_exchange()
    order = _sign(ex, make_order(ex, trader, Side.BUY, "0.1", "49000"))
    forged = dataclasses.replace(order, signature=OrderSignature(r=1, s=1))
    with pytest.raises(ExchangeError) as info:
        ex.place_order(forged)
    assert info.value.reason is Reason.BAD_SIGNATURE
    # The caller vouches for the signature, so the engine trusts it.
    assert ex.place_order(forged, signature_verified=True).status is OrderStatus.OPEN


def test_invalid_verified_flag_still_requires_a_signature() -> None:
    ex, trader = _signed_exchange()
    unsigned = make_order(ex, trader, Side.BUY, "0.1", "49000")
    digest = ex.compute_state_digest()
    with pytest.raises(ExchangeError) as info:
        ex.place_order(unsigned, signature_verified=True)
    assert info.value.reason is Reason.MISSING_SIGNATURE
    assert ex.compute_state_digest() == digest


def test_invalid_verified_flag_still_checks_the_account_key() -> None:
    ex, trader = _signed_exchange()
    order = _sign(ex, make_order(ex, trader, Side.BUY, "0.1", "49000"))
    other_key = private_to_public(StarkPrivateKey(99))
    digest = ex.compute_state_digest()
    with pytest.raises(ExchangeError) as info:
        ex.place_order(dataclasses.replace(order, public_key=other_key), signature_verified=True)
    assert info.value.reason is Reason.BAD_SIGNATURE
    assert ex.compute_state_digest() == digest


def test_cancel_replace_accepts_a_verified_signature() -> None:
    ex, trader = _signed_exchange()
    first = ex.place_order(_sign(ex, make_order(ex, trader, Side.BUY, "0.1", "49000")))
    new = make_order(ex, trader, Side.BUY, "0.2", "48000")
    forged = dataclasses.replace(new, signature=OrderSignature(r=1, s=1))
    with pytest.raises(ExchangeError) as info:
        ex.cancel_replace(first.order_id, forged)
    assert info.value.reason is Reason.BAD_SIGNATURE
    assert ex.get_order(first.order_id).status is OrderStatus.OPEN
    signed = _sign(ex, new)
    assert ex.cancel_replace(first.order_id, signed).status is OrderStatus.OPEN
    assert ex.get_order(first.order_id).status is OrderStatus.CANCELED
