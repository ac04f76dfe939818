"""The REST API end to end in-process: onboarding, HMAC, orders, fills, withdrawals, reads."""

from __future__ import annotations

import pytest

from starkperp.client.http import ApiError
from starkperp.exchange.errors import Reason
from starkperp.node.errors import NodeReason
from tests.api.conftest import START_MS, Harness

pytestmark = pytest.mark.anyio
EXP = START_MS // 1000 + 30 * 86400


async def test_public_routes(harness: Harness) -> None:
    c = harness.client()
    t = await c.public("/v3/time")
    assert t["iso"].startswith("2023-11-14T22:13:20")
    markets = (await c.public("/v3/markets"))["markets"]
    assert set(markets) == {"BTC-USD", "ETH-USD"}
    assert markets["BTC-USD"]["oraclePrice"] == "50000"
    assert markets["BTC-USD"]["tickSize"] == "1"
    book = await c.public("/v3/orderbook/BTC-USD")
    assert book["bids"] == [] and book["asks"] == []
    assert (await c.public("/v3/config"))["defaultTakerFee"] == "0.002"
    assert (await c.public("/healthz"))["status"] == "ok"
    assert (await c.public("/readyz"))["status"] == "ready"
    metrics = await c.http.get("/metrics")
    assert b"starkperp_log_seq" in metrics.content
    spec = await c.public("/openapi.json")
    assert "/v3/orders" in spec["paths"]


async def test_onboard_trade_and_read(harness: Harness) -> None:
    maker = await harness.trader()
    taker = await harness.trader()
    account = await maker.get_account()
    assert account["quoteBalance"] == "100000"
    assert account["positionId"] == str(maker.identity.position_id)  # type: ignore[union-attr]
    ask = await maker.place_order(
        market="BTC-USD", side="SELL", size="0.01", price="50100", client_id="m1", expiration_s=EXP
    )
    assert ask["status"] == "OPEN"
    book = await maker.public("/v3/orderbook/BTC-USD")
    assert book["asks"] == [{"price": "50100", "size": "0.01"}]
    bid = await taker.place_order(
        market="BTC-USD", side="BUY", size="0.004", price="50200", client_id="t1", expiration_s=EXP
    )
    assert bid["status"] == "FILLED"
    fills = (await taker.private("GET", "/v3/fills"))["fills"]
    assert len(fills) == 1 and fills[0]["liquidity"] == "TAKER" and fills[0]["price"] == "50100"
    maker_fills = (await maker.private("GET", "/v3/fills", {"market": "BTC-USD"}))["fills"]
    assert maker_fills[0]["liquidity"] == "MAKER" and maker_fills[0]["side"] == "SELL"
    positions = (await taker.private("GET", "/v3/positions"))["positions"]
    assert positions[0]["size"] == "0.004" and positions[0]["side"] == "LONG"
    got = (await maker.private("GET", f"/v3/orders/{ask['id']}"))["order"]
    assert got["remainingSize"] == "0.006"
    by_client = (await maker.private("GET", "/v3/orders/client/m1"))["order"]
    assert by_client["id"] == ask["id"]
    active = (await maker.private("GET", "/v3/active-orders", {"market": "BTC-USD"}))["orders"]
    assert [o["id"] for o in active] == [ask["id"]]
    canceled = await maker.cancel_order(ask["id"])
    assert canceled["status"] == "CANCELED"
    orders = (await maker.private("GET", "/v3/orders", {"status": "CANCELED"}))["orders"]
    assert [o["id"] for o in orders] == [ask["id"]]
    trades = (await maker.public("/v3/trades/BTC-USD"))["trades"]
    assert trades[0]["size"] == "0.004" and trades[0]["side"] == "BUY"
    candles = (await maker.public("/v3/candles/BTC-USD"))["candles"]
    assert candles[0]["trades"] == "1"
    transfers = (await maker.private("GET", "/v3/transfers"))["transfers"]
    assert transfers[0]["type"] == "DEPOSIT" and transfers[0]["creditAmount"] == "100000"


async def test_withdrawal_and_replayed_nonce(harness: Harness) -> None:
    c = await harness.trader("1000")
    w = await c.withdraw("250.5", "w-1", EXP)
    assert w["type"] == "WITHDRAWAL" and w["debitAmount"] == "250.5"
    assert (await c.get_account())["quoteBalance"] == "749.5"
    with pytest.raises(ApiError) as err:
        await c.withdraw("1", "w-1", EXP)
    assert err.value.code == NodeReason.REPLAYED_NONCE
    listed = (await c.private("GET", "/v3/withdrawals"))["withdrawals"]
    assert len(listed) == 1


async def test_cancel_all(harness: Harness) -> None:
    c = await harness.trader()
    for i in range(3):
        await c.place_order(
            market="ETH-USD", side="BUY", size="0.1", price=str(3000 + i), client_id=f"e{i}",
            expiration_s=EXP,
        )  # fmt: skip
    out = await c.private("DELETE", "/v3/orders", {"market": "ETH-USD"})
    assert len(out["cancelOrders"]) == 3
    assert (await c.private("GET", "/v3/active-orders", {"market": "ETH-USD"}))["orders"] == []


async def test_invalid_bad_hmac(harness: Harness) -> None:
    c = await harness.trader()
    headers = c._private_headers("GET", "/v3/accounts", None)
    headers["DYDX-SIGNATURE"] = headers["DYDX-SIGNATURE"][:-4] + "AAA="
    r = await c.http.get("/v3/accounts", headers=headers)
    assert r.status_code == 401
    assert r.json()["errors"][0]["code"] == NodeReason.BAD_HMAC


async def test_invalid_stale_timestamp(harness: Harness) -> None:
    c = await harness.trader()
    headers = c._private_headers("GET", "/v3/accounts", None)
    harness.clock.now_ms += 10 * 60_000
    r = await c.http.get("/v3/accounts", headers=headers)
    assert r.json()["errors"][0]["code"] == NodeReason.STALE_TIMESTAMP


async def test_invalid_bad_stark_signature(harness: Harness) -> None:
    from starkperp.client.http import build_order_body

    c = await harness.trader()
    assert c.identity is not None
    body = build_order_body(
        c.identity, market="BTC-USD", side="BUY", size="0.01", price="40000", client_id="x",
        expiration_s=EXP,
    )  # fmt: skip
    body["size"] = "0.02"
    seq = harness.node.seq.last_seq
    with pytest.raises(ApiError) as err:
        await c.post_order_body(body)
    assert err.value.status == 400 and err.value.code == Reason.BAD_SIGNATURE
    assert harness.node.seq.last_seq == seq


async def test_invalid_expired_order(harness: Harness) -> None:
    c = await harness.trader()
    with pytest.raises(ApiError) as err:
        await c.place_order(
            market="BTC-USD", side="BUY", size="0.01", price="40000", client_id="old",
            expiration_s=START_MS // 1000 - 10,
        )  # fmt: skip
    assert err.value.code == Reason.EXPIRED


async def test_invalid_unknown_market(harness: Harness) -> None:
    c = await harness.trader()
    with pytest.raises(ApiError) as err:
        await c.place_order(
            market="SOL-USD", side="BUY", size="1", price="100", client_id="s", expiration_s=EXP
        )
    assert err.value.code in (NodeReason.UNKNOWN_MARKET, Reason.UNKNOWN_MARKET)
    r = await c.http.get("/v3/orderbook/XYZ-USD")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == NodeReason.UNKNOWN_MARKET


async def test_invalid_duplicate_onboarding(harness: Harness) -> None:
    c = await harness.trader()
    with pytest.raises(ApiError) as err:
        await c.onboard()
    assert err.value.status == 409 and err.value.code == NodeReason.ACCOUNT_EXISTS


async def test_invalid_onboarding_wrong_address(harness: Harness) -> None:
    from tests.api.conftest import _identity

    c = harness.client(_identity())
    headers, body = c._onboarding_request()
    headers["DYDX-ETHEREUM-ADDRESS"] = "0x" + "11" * 20
    r = await c.http.post("/v3/onboarding", json=body, headers=headers)
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == NodeReason.BAD_ETH_SIGNATURE


async def test_rate_limit_headers(tmp_path: object) -> None:
    from pathlib import Path

    from tests.api.conftest import make_harness

    h = await make_harness(Path(str(tmp_path)), ip_rate_limit=3)
    try:
        c = h.client()
        r = await c.http.get("/v3/time")
        assert r.headers["RateLimit-Remaining"] == "2"
        await c.http.get("/v3/time")
        await c.http.get("/v3/time")
        r = await c.http.get("/v3/time")
        assert r.status_code == 429 and r.json()["errors"][0]["code"] == NodeReason.RATE_LIMITED
        assert int(r.headers["RateLimit-Reset"]) > h.clock.now_ms
    finally:
        await h.node.stop()


async def test_invalid_registration_without_settlement(harness: Harness) -> None:
    c = await harness.trader()
    with pytest.raises(ApiError) as info:
        await c.get_registration()
    assert info.value.status == 404
    assert info.value.code == NodeReason.NOT_SETTLING
