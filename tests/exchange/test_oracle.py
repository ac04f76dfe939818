"""Signed oracle prices: quorum of distinct signers, median, staleness, bad signatures."""

from __future__ import annotations

import dataclasses

import fast_stark_crypto
import pytest

from starkperp.exchange import Exchange, ExchangeError, PriceTick, Reason
from starkperp.exchange.config import minimal
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.markets import get_default_markets
from starkperp.exchange.oracle import compute_mark_price, compute_median, sign_price
from tests.exchange.helpers import BTC, START

KEYS = [0x3C1E9550E66958296D11B60F8E8E7A7AD990D07FA65D5F7652C4A6C87D4E3CC + i for i in range(4)]
SIGNERS = tuple(fast_stark_crypto.get_public_key(k) for k in KEYS)
ASSET = get_default_markets()[BTC].asset_id


def _exchange(quorum: int = 2) -> tuple[Exchange, ManualClock]:
    clock = ManualClock(START)
    config = minimal(oracle_signers=SIGNERS[:3], oracle_quorum=quorum)
    return Exchange(config, clock=clock, require_signatures=False), clock


def _tick(prices: list[int], keys: list[int], timestamp: int = START) -> PriceTick:
    return PriceTick(
        asset_id=ASSET,
        prices=tuple(sign_price(k, ASSET, p, timestamp) for k, p in zip(keys, prices)),
    )


def _reject(ex: Exchange, tick: PriceTick, reason: Reason) -> None:
    digest = ex.compute_state_digest()
    with pytest.raises(ExchangeError) as info:
        ex.apply_oracle_tick(tick)
    assert info.value.reason is reason
    assert ex.compute_state_digest() == digest


def test_quorum_median_is_accepted() -> None:
    ex, _ = _exchange()
    price = ex.apply_oracle_tick(_tick([5 << 32, 7 << 32, 6 << 32], KEYS[:3]))
    assert price == 6 << 32
    assert ex.get_oracle_price(BTC) == 6 << 32


def test_median_helpers() -> None:
    assert compute_median([3, 1, 2]) == 2
    assert compute_median([4, 1, 3, 2]) == 2
    assert compute_mark_price(10, 8, 9) == 9
    assert compute_mark_price(10, None, 12) == 10


def test_invalid_below_quorum() -> None:
    ex, _ = _exchange(quorum=3)
    _reject(ex, _tick([5 << 32, 5 << 32], KEYS[:2]), Reason.ORACLE_QUORUM)


def test_invalid_same_signer_twice() -> None:
    ex, _ = _exchange()
    _reject(ex, _tick([5 << 32, 5 << 32], [KEYS[0], KEYS[0]]), Reason.ORACLE_QUORUM)


def test_invalid_unknown_signer() -> None:
    ex, _ = _exchange()
    _reject(ex, _tick([5 << 32, 5 << 32], [KEYS[0], KEYS[3]]), Reason.UNKNOWN_ORACLE_SIGNER)


def test_invalid_stale_and_future_prices() -> None:
    ex, clock = _exchange()
    clock.advance(1_000)
    _reject(ex, _tick([5 << 32, 5 << 32], KEYS[:2], START), Reason.STALE_ORACLE)
    _reject(ex, _tick([5 << 32, 5 << 32], KEYS[:2], clock.now + 5), Reason.STALE_ORACLE)


def test_invalid_tampered_price() -> None:
    ex, _ = _exchange()
    tick = _tick([5 << 32, 5 << 32], KEYS[:2])
    forged = dataclasses.replace(tick.prices[1], price=9 << 32)
    _reject(
        ex, PriceTick(asset_id=ASSET, prices=(tick.prices[0], forged)), Reason.BAD_ORACLE_SIGNATURE
    )


def test_invalid_hostile_signature_values() -> None:
    ex, _ = _exchange()
    tick = _tick([5 << 32, 5 << 32], KEYS[:2])
    for r, s in ((0, 1), (2**300, 5), (-1, 3)):
        bad = dataclasses.replace(tick.prices[1], r=r, s=s)
        _reject(
            ex, PriceTick(asset_id=ASSET, prices=(tick.prices[0], bad)), Reason.BAD_ORACLE_SIGNATURE
        )


def test_invalid_unknown_asset() -> None:
    ex, _ = _exchange()
    tick = dataclasses.replace(_tick([5 << 32, 5 << 32], KEYS[:2]), asset_id=12345)
    _reject(ex, tick, Reason.UNKNOWN_MARKET)


def test_invalid_malformed_ticks() -> None:
    ex, _ = _exchange()
    good = _tick([5 << 32, 5 << 32], KEYS[:2])
    _reject(ex, dataclasses.replace(good, prices=list(good.prices)), Reason.BAD_ORACLE_SIGNATURE)  # type: ignore[arg-type]
    bad = dataclasses.replace(good.prices[0], signer="x")  # type: ignore[arg-type]
    _reject(
        ex, PriceTick(asset_id=ASSET, prices=(bad, good.prices[1])), Reason.BAD_ORACLE_SIGNATURE
    )
