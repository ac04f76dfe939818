"""Hostile input never breaks the node: a 4xx with a reason code, no state change, no 5xx.

Hypothesis throws malformed JSON, missing fields, wrong types, oversized numbers, unknown
markets, tampered STARK signatures, expired orders, replayed client ids and broken HMAC
headers at a live in-process node (real SQLite log). Every refusal must carry a numeric code
and leave the log and the engine's state digest untouched; a body that happens to still be a
valid order may be accepted, but nothing may ever answer 5xx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starkperp.client.http import build_order_body
from tests.api.conftest import START_MS, Harness, make_harness
from tests.strategies.api import hostile_values, mutated_body, raw_bodies

EXP = START_MS // 1000 + 30 * 86400
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Live:
    """A harness running on its own event loop, for synchronous Hypothesis tests."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.h: Harness = self.loop.run_until_complete(make_harness(tmp))
        self.trader = self.loop.run_until_complete(self.h.trader())
        assert self.trader.identity is not None
        self.base = build_order_body(
            self.trader.identity, market="BTC-USD", side="BUY", size="0.01", price="40000",
            client_id="base", expiration_s=EXP,
        )  # fmt: skip
        self.run(self.trader.post_order_body(self.base))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def state(self) -> tuple[int, bytes]:
        return self.h.node.seq.last_seq, self.h.node.engine.compute_state_digest()

    async def send(
        self, method: str, path: str, content: bytes | None, *, sign: bool = True
    ) -> Any:
        c = self.trader
        body: Any = None
        if content is not None:
            try:
                body = json.loads(content)
            except (ValueError, UnicodeDecodeError):
                body = None
        headers = c._private_headers(method, path, body) if sign else {}
        if sign and content is not None and body is None:
            headers = c._private_headers(method, path, None)
        headers["Content-Type"] = "application/json"
        return await c.http.request(method, path, headers=headers, content=content)

    def close(self) -> None:
        self.run(self.trader.aclose())
        self.run(self.h.node.stop())
        self.loop.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    lv = Live(tmp_path_factory.mktemp("fuzz"))
    yield lv
    lv.close()


def _check(live: Live, response: Any, before: tuple[int, bytes]) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        errors = response.json()["errors"]
        assert isinstance(errors[0]["code"], int) and errors[0]["code"] > 0
        assert isinstance(errors[0]["msg"], str)
        assert live.state() == before


@FUZZ
@given(content=raw_bodies)
def test_invalid_malformed_json_bodies(live: Live, content: bytes) -> None:
    before = live.state()
    for path in ("/v3/orders", "/v3/withdrawals", "/v3/onboarding", "/v3/oracle/prices"):
        response = live.run(live.send("POST", path, content))
        _check(live, response, before)
        assert response.status_code >= 400


@FUZZ
@given(data=st.data())
def test_invalid_mutated_orders(live: Live, data: st.DataObject) -> None:
    body = data.draw(mutated_body(live.base))
    before = live.state()
    response = live.run(live.send("POST", "/v3/orders", json.dumps(body).encode()))
    _check(live, response, before)


@FUZZ
@given(field=st.sampled_from(["size", "price", "limitFee", "expiration", "clientId", "market"]))
def test_invalid_signed_fields_tampered(live: Live, field: str) -> None:
    assert live.trader.identity is not None
    body = build_order_body(
        live.trader.identity, market="BTC-USD", side="SELL", size="0.02", price="60000",
        client_id="tamper", expiration_s=EXP,
    )  # fmt: skip
    body[field] = {
        "size": "0.03", "price": "60001", "limitFee": "0.001",
        "expiration": "2024-01-01T00:00:00.000Z", "clientId": "tamper-2", "market": "ETH-USD",
    }[field]  # fmt: skip
    before = live.state()
    response = live.run(live.send("POST", "/v3/orders", json.dumps(body).encode()))
    assert 400 <= response.status_code < 500
    _check(live, response, before)


@FUZZ
@given(
    header=st.sampled_from(
        ["DYDX-SIGNATURE", "DYDX-API-KEY", "DYDX-TIMESTAMP", "DYDX-PASSPHRASE", None]
    ),
    value=st.one_of(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126))),
)
def test_invalid_auth_headers(live: Live, header: str | None, value: str) -> None:
    c = live.trader
    headers = c._private_headers("GET", "/v3/accounts", None)
    if header is None:
        headers.pop("DYDX-SIGNATURE")
    else:
        if headers[header] == value:
            return
        headers[header] = value
    before = live.state()
    response = live.run(c.http.get("/v3/accounts", headers=headers))
    assert response.status_code in (400, 401)
    _check(live, response, before)


@FUZZ
@given(
    path=st.sampled_from(
        ["/v3/orderbook/{}", "/v3/trades/{}", "/v3/candles/{}", "/v3/historical-funding/{}"]
    ),
    market=st.text(
        alphabet=st.characters(
            min_codepoint=33, max_codepoint=0x2FFF, exclude_characters="/?#%\x7f"
        ),
        max_size=30,
    ),
    query=st.dictionaries(
        st.sampled_from(["limit", "resolution", "market", "createdBeforeOrAt", "status"]),
        hostile_values.map(str),
        max_size=3,
    ),
)
def test_invalid_public_queries(live: Live, path: str, market: str, query: dict[str, str]) -> None:
    before = live.state()
    url = path.format(market or "x")
    response = live.run(live.trader.http.get(url, params=query))
    _check(live, response, before)


@FUZZ
@given(
    entry=st.dictionaries(
        st.sampled_from(["signer", "price", "timestamp", "signature", "extra"]),
        hostile_values,
        max_size=5,
    ),
    market=hostile_values,
)
def test_invalid_oracle_ticks(live: Live, entry: dict[str, Any], market: Any) -> None:
    before = live.state()
    body = {"market": market, "prices": [entry]}
    content = json.dumps(body).encode()  # NaN/Infinity tokens included on purpose
    headers = {"Content-Type": "application/json"}
    response = live.run(
        live.trader.http.post("/v3/oracle/prices", content=content, headers=headers)
    )
    assert 400 <= response.status_code < 500
    _check(live, response, before)


def test_invalid_replayed_client_id(live: Live) -> None:
    assert live.trader.identity is not None
    body = build_order_body(
        live.trader.identity, market="BTC-USD", side="BUY", size="0.02", price="40000",
        client_id="base", expiration_s=EXP,
    )  # fmt: skip
    before = live.state()
    response = live.run(live.send("POST", "/v3/orders", json.dumps(body).encode()))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 15  # DUPLICATE_CLIENT_ID
    _check(live, response, before)


def test_invalid_unknown_routes_and_methods(live: Live) -> None:
    before = live.state()
    for method, path in (("GET", "/v3/nope"), ("PUT", "/v3/orders"), ("POST", "/v3/time")):
        response = live.run(live.trader.http.request(method, path))
        assert 400 <= response.status_code < 500
        _check(live, response, before)
