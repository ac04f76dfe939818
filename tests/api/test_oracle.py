"""Signed oracle prices through the API: a quorum moves the price; forgeries change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from starkperp.exchange.errors import Reason
from starkperp.exchange.markets import compute_price_from_e6
from starkperp.exchange.oracle import sign_price
from tests.api.conftest import START_MS, Harness, make_harness

pytestmark = pytest.mark.anyio
KEYS = (0x1234567, 0x7654321)


@pytest.fixture
async def oracle_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    import fast_stark_crypto

    from starkperp.exchange import config as exchange_config

    signers = tuple(fast_stark_crypto.get_public_key(k) for k in KEYS)
    exchange = replace(exchange_config.minimal(), oracle_signers=signers, oracle_quorum=2)
    h = await make_harness(tmp_path, exchange=exchange)
    yield h
    await h.node.stop()


def _body(h: Harness, human: int, keys: tuple[int, ...] = KEYS) -> dict:
    market = h.node.markets["BTC-USD"]
    price = compute_price_from_e6(market, human * 10**6)
    ts = START_MS // 1000
    prices = []
    for k in keys:
        sp = sign_price(k, market.asset_id, price, ts)
        prices.append(
            {
                "signer": hex(sp.signer),
                "price": str(sp.price),
                "timestamp": str(sp.timestamp),
                "signature": f"{sp.r:064x}{sp.s:064x}",
            }
        )
    return {"market": "BTC-USD", "prices": prices}


async def test_quorum_moves_the_price(oracle_harness: Harness) -> None:
    h = oracle_harness
    c = h.client()
    r = await c.http.post("/v3/oracle/prices", json=_body(h, 42_000))
    assert r.status_code == 200, r.text
    assert r.json()["oraclePrice"] == "42000"
    markets = (await c.public("/v3/markets"))["markets"]
    assert markets["BTC-USD"]["oraclePrice"] == "42000"


async def test_invalid_oracle_ticks_change_nothing(oracle_harness: Harness) -> None:
    h = oracle_harness
    c = h.client()
    before = (h.node.seq.last_seq, h.node.engine.compute_state_digest())
    short = await c.http.post("/v3/oracle/prices", json=_body(h, 1, KEYS[:1]))
    assert short.json()["errors"][0]["code"] == Reason.ORACLE_QUORUM
    forged = _body(h, 1, (KEYS[0], 0xBAD))
    r = await c.http.post("/v3/oracle/prices", json=forged)
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == Reason.UNKNOWN_ORACLE_SIGNER
    tampered = _body(h, 30_000)
    tampered["prices"][1]["price"] = str(int(tampered["prices"][1]["price"]) + 1)
    r = await c.http.post("/v3/oracle/prices", json=tampered)
    assert r.json()["errors"][0]["code"] == Reason.BAD_ORACLE_SIGNATURE
    assert (h.node.seq.last_seq, h.node.engine.compute_state_digest()) == before


async def test_crash_liquidates_through_the_api(oracle_harness: Harness) -> None:
    h = oracle_harness
    maker = await h.trader("1000000")
    taker = await h.trader("600")
    exp = START_MS // 1000 + 86400
    await maker.place_order(
        market="BTC-USD", side="SELL", size="0.1", price="50000", client_id="m", expiration_s=exp
    )
    await taker.place_order(
        market="BTC-USD", side="BUY", size="0.1", price="50000", client_id="t", expiration_s=exp
    )
    assert (await taker.private("GET", "/v3/positions"))["positions"][0]["size"] == "0.1"
    r = await taker.http.post("/v3/oracle/prices", json=_body(h, 44_000))
    assert r.status_code == 200, r.text
    assert (await taker.private("GET", "/v3/positions"))["positions"] == []
