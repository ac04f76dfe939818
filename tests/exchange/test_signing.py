"""dYdX v3 signed messages: our hashes and signatures equal dydx-v3-python's, twins fail."""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.crypto.stark_curve import (
    FieldElement,
    Signature,
    StarkPrivateKey,
    StarkPublicKey,
    private_to_public,
    verify,
)
from starkperp.exchange.errors import ExchangeError, Reason
from starkperp.exchange.markets import (
    MarketConfig,
    compute_human_price,
    get_default_markets,
    price_from_human,
    quantity_from_human,
)
from starkperp.exchange.model import AccountId, FeeRate, Order, OrderSignature, Side, Timestamp
from starkperp.exchange.signing import (
    COLLATERAL_ASSET_ID_BY_NETWORK,
    NETWORK_ID_MAINNET,
    NETWORK_ID_SEPOLIA,
    SYNTHETIC_ASSETS,
    _compute_exchange_order_hash_fast,
    _starkware_order_of,
    compute_conditional_transfer_hash,
    compute_exchange_order_hash,
    compute_expiration_epoch_hours,
    compute_order_hash,
    compute_starkware_order,
    compute_starkware_order_hash,
    compute_transfer_erc20_fact,
    compute_transfer_hash,
    compute_withdrawal_hash,
    nonce_from_client_id,
    sign_conditional_transfer,
    sign_exchange_order,
    sign_order,
    sign_transfer,
    sign_withdrawal,
    verify_conditional_transfer,
    verify_order,
    verify_order_fields,
    verify_transfer,
    verify_withdrawal,
)

VECTOR_DIR = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "dydx"


def _exact_expiration(vector: dict[str, Any]) -> dict[str, Any]:
    """dydx3 got ISO expirations with milliseconds as float seconds; we take exact decimals."""
    value = vector.get("expiration_epoch_seconds")
    if isinstance(value, float):
        vector = dict(vector, expiration_epoch_seconds=Decimal(repr(value)))
    return vector


def _load(name: str) -> list[dict[str, Any]]:
    vectors = json.loads((VECTOR_DIR / name).read_text())["vectors"]
    return [_exact_expiration(v) for v in vectors] if isinstance(vectors, list) else vectors


ORDERS = _load("orders.json")
WITHDRAWALS = _load("withdrawals.json")
TRANSFERS = _load("transfers.json")
CONDITIONAL_TRANSFERS = _load("conditional_transfers.json")
MARKETS = get_default_markets()
ORDER_FIELDS = (
    "position_id",
    "market",
    "side",
    "human_size",
    "human_price",
    "human_limit_fee",
    "client_id",
    "expiration_epoch_seconds",
    "network_id",
)


def _order_kwargs(vector: dict[str, Any]) -> dict[str, Any]:
    return {name: vector[name] for name in ORDER_FIELDS}


def _signature(vector: dict[str, Any]) -> Signature:
    sig = vector["signature"]
    return Signature(r=FieldElement(int(sig["r"], 16)), s=FieldElement(int(sig["s"], 16)))


def _key(vector: dict[str, Any], name: str = "public_key") -> StarkPublicKey:
    return StarkPublicKey(int(vector[name], 16))


def _private(vector: dict[str, Any]) -> StarkPrivateKey:
    return StarkPrivateKey(int(vector["private_key"], 16))


def _oid(vector: dict[str, Any]) -> str:
    return f"{vector['market']}-{vector['side']}-{vector['client_id'][:8]}-{vector['network_id']}"


# --- Orders against dydx3's own output. ---


@pytest.mark.parametrize("vector", ORDERS, ids=_oid)
def test_order_quantums_match_dydx3(vector: dict[str, Any]) -> None:
    order = compute_starkware_order(**_order_kwargs(vector))
    expected = vector["starkware"]
    assert hex(order.asset_id_synthetic) == expected["asset_id_synthetic"]
    assert hex(order.asset_id_collateral) == expected["asset_id_collateral"]
    assert order.asset_id_fee == order.asset_id_collateral
    assert order.quantums_amount_synthetic == expected["quantums_amount_synthetic"]
    assert order.quantums_amount_collateral == expected["quantums_amount_collateral"]
    assert order.quantums_amount_fee == expected["quantums_amount_fee"]
    assert order.nonce == expected["nonce"]
    assert order.expiration_epoch_hours == expected["expiration_epoch_hours"]
    assert order.is_buying_synthetic == (vector["side"] == "BUY")


@pytest.mark.parametrize("vector", ORDERS, ids=_oid)
def test_order_hash_and_signature_match_dydx3(vector: dict[str, Any]) -> None:
    msg_hash = compute_order_hash(**_order_kwargs(vector))
    assert hex(msg_hash) == vector["hash"]
    signature = sign_order(**_order_kwargs(vector), private_key=_private(vector))
    assert signature == _signature(vector)
    assert signature.to_hex() == vector["signature"]["hex"]
    assert private_to_public(_private(vector)) == _key(vector)
    assert verify_order_fields(
        **_order_kwargs(vector), signature=_signature(vector), public_key=_key(vector)
    )


def _other_market(market: str) -> str:
    return "ETH-USD" if market != "ETH-USD" else "BTC-USD"


ORDER_TAMPERS = {
    "position_id": lambda v: v["position_id"] + 1,
    "market": lambda v: _other_market(v["market"]),
    "side": lambda v: "SELL" if v["side"] == "BUY" else "BUY",
    "human_size": lambda v: str(Decimal(v["human_size"]) * 2),
    "human_price": lambda v: str(Decimal(v["human_price"]) * 2),
    "human_limit_fee": lambda v: "0.5",
    "client_id": lambda v: v["client_id"] + "x",
    "expiration_epoch_seconds": lambda v: v["expiration_epoch_seconds"] + 3600,
    "network_id": lambda v: (
        NETWORK_ID_SEPOLIA if v["network_id"] == NETWORK_ID_MAINNET else NETWORK_ID_MAINNET
    ),
}


@pytest.mark.parametrize("field", sorted(ORDER_TAMPERS))
@pytest.mark.parametrize("vector", ORDERS[::5], ids=_oid)
def test_invalid_tampered_order_twin_fails(vector: dict[str, Any], field: str) -> None:
    kwargs = _order_kwargs(vector)
    kwargs[field] = ORDER_TAMPERS[field](vector)
    assert not verify_order_fields(**kwargs, signature=_signature(vector), public_key=_key(vector))


@pytest.mark.parametrize("vector", ORDERS[:4], ids=_oid)
def test_invalid_order_signed_by_someone_else_fails(vector: dict[str, Any]) -> None:
    other = private_to_public(StarkPrivateKey(_private(vector) + 1))
    assert not verify_order_fields(
        **_order_kwargs(vector), signature=_signature(vector), public_key=other
    )


def test_nonces_match_dydx3() -> None:
    for vector in _load("nonces.json"):
        assert nonce_from_client_id(vector["client_id"]) == vector["nonce"]


def test_asset_constants_match_dydx3() -> None:
    constants = json.loads((VECTOR_DIR / "constants.json").read_text())["vectors"]
    for network, asset_id in constants["collateral_asset_id_by_network"].items():
        assert COLLATERAL_ASSET_ID_BY_NETWORK[int(network)] == int(asset_id, 16)
    expected = {m: int(a, 16) for m, a in constants["synthetic_asset_id_by_market"].items()}
    assert {m: a.asset_id for m, a in SYNTHETIC_ASSETS.items()} == expected
    for config in MARKETS.values():
        assert SYNTHETIC_ASSETS[config.market].asset_id == config.asset_id
        assert SYNTHETIC_ASSETS[config.market].resolution == config.resolution


def test_expiration_rounds_up_to_the_hour_and_orders_add_a_week() -> None:
    assert compute_expiration_epoch_hours(7200) == 2
    assert compute_expiration_epoch_hours(7201) == 3
    assert compute_expiration_epoch_hours(Decimal("7200.001")) == 3
    assert compute_expiration_epoch_hours(7200, buffer_hours=168) == 170


# --- The exchange's integer Order. ---


def _on_tick_vectors() -> list[dict[str, Any]]:
    chosen = []
    for vector in ORDERS:
        market = MARKETS.get(vector["market"])  # type: ignore[call-overload]
        if market is None or isinstance(vector["expiration_epoch_seconds"], Decimal):
            continue
        try:
            price_from_human(market, vector["human_price"])
        except ExchangeError:
            continue
        chosen.append(vector)
    return chosen


ON_TICK = _on_tick_vectors()


def _exchange_order(vector: dict[str, Any]) -> tuple[Order, MarketConfig]:
    market = MARKETS[vector["market"]]
    sig = vector["signature"]
    order = Order(
        account_id=AccountId(vector["position_id"]),
        market=market.market,
        side=Side(vector["side"]),
        size=quantity_from_human(market, vector["human_size"]),
        price=price_from_human(market, vector["human_price"]),
        client_id=vector["client_id"],
        expiration=Timestamp(vector["expiration_epoch_seconds"]),
        limit_fee=FeeRate(int(Decimal(vector["human_limit_fee"]) * 10**6)),
        signature=OrderSignature(r=int(sig["r"], 16), s=int(sig["s"], 16)),
        public_key=int(vector["public_key"], 16),
    )
    return order, market


def test_vectors_include_exchange_markets_on_tick() -> None:
    assert len(ON_TICK) >= 8


@pytest.mark.parametrize("vector", ON_TICK, ids=_oid)
def test_verify_order_accepts_dydx3_signed_exchange_order(vector: dict[str, Any]) -> None:
    order, market = _exchange_order(vector)
    network_id = vector["network_id"]
    assert hex(compute_exchange_order_hash(order, market, network_id=network_id)) == vector["hash"]
    assert verify_order(order, market, _key(vector), network_id=network_id)
    assert sign_exchange_order(order, market, _private(vector), network_id=network_id) == (
        order.signature
    )


EXCHANGE_TAMPERS = {
    "account_id": lambda o, m: AccountId(o.account_id + 1),
    "side": lambda o, m: o.side.opposite,
    "size": lambda o, m: o.size + m.step_size,
    "price": lambda o, m: price_from_human(m, compute_human_price(m, o.price) * 2),
    "client_id": lambda o, m: o.client_id + "x",
    "expiration": lambda o, m: Timestamp(o.expiration + 3600),
    "limit_fee": lambda o, m: FeeRate(o.limit_fee + 100_000),
    "signature": lambda o, m: OrderSignature(r=o.signature.r, s=o.signature.s + 1),
}


@pytest.mark.parametrize("field", sorted(EXCHANGE_TAMPERS))
@pytest.mark.parametrize("vector", ON_TICK[::3], ids=_oid)
def test_invalid_tampered_exchange_order_twin_fails(vector: dict[str, Any], field: str) -> None:
    order, market = _exchange_order(vector)
    tampered = dataclasses.replace(order, **{field: EXCHANGE_TAMPERS[field](order, market)})
    assert tampered != order
    assert not verify_order(tampered, market, _key(vector), network_id=vector["network_id"])


def test_invalid_exchange_order_without_signature_or_wrong_context_fails() -> None:
    vector = ON_TICK[0]
    order, market = _exchange_order(vector)
    network_id = vector["network_id"]
    key = _key(vector)
    assert not verify_order(dataclasses.replace(order, signature=None), market, key)
    other_market = next(m for m in MARKETS.values() if m.market != market.market)
    assert not verify_order(order, other_market, key, network_id=network_id)
    off_tick = dataclasses.replace(order, price=order.price + 1)
    assert not verify_order(off_tick, market, key, network_id=network_id)
    other_network = NETWORK_ID_SEPOLIA if network_id == NETWORK_ID_MAINNET else NETWORK_ID_MAINNET
    assert not verify_order(order, market, key, network_id=other_network)
    assert not verify_order(order, market, key, network_id=424242)
    assert not verify_order(order, market, 0)
    assert not verify_order(dataclasses.replace(order, size=-order.size), market, key)


@st.composite
def exchange_orders(draw: st.DrawFn) -> tuple[Order, MarketConfig]:
    """Draw an on-tick exchange order in one of the default markets."""
    market = draw(st.sampled_from(sorted(MARKETS.values(), key=lambda m: m.market)))
    steps = draw(st.integers(min_value=1, max_value=10**6))
    ticks = draw(st.integers(min_value=1, max_value=10**7))
    price_e6 = ticks * market.tick_size
    order = Order(
        account_id=AccountId(draw(st.integers(min_value=0, max_value=2**63 - 1))),
        market=market.market,
        side=draw(st.sampled_from([Side.BUY, Side.SELL])),
        size=market.step_size * steps,
        price=price_from_human(market, Decimal(price_e6).scaleb(-6)),
        client_id=draw(st.text(max_size=20)),
        expiration=Timestamp(draw(st.integers(min_value=0, max_value=4 * 10**9))),
        limit_fee=FeeRate(draw(st.integers(min_value=0, max_value=10**6))),
    )
    return order, market


@settings(max_examples=200, deadline=None)
@given(case=exchange_orders(), network_id=st.sampled_from([NETWORK_ID_MAINNET, NETWORK_ID_SEPOLIA]))
def test_integer_order_path_equals_dydx3_decimal_path(
    case: tuple[Order, MarketConfig], network_id: int
) -> None:
    """The exchange's integer conversion gives the very StarkEx order dydx3's decimals give."""
    order, market = case
    ticks_e6 = (order.price * market.resolution * 2 + (market.tick_size << 32)) // (
        market.tick_size << 33
    )
    human_price = Decimal(ticks_e6 * market.tick_size).scaleb(-6)
    reference = compute_starkware_order(
        network_id=network_id,
        market=market.market,
        side=order.side,
        position_id=order.account_id,
        human_size=Decimal(order.size) / market.resolution,
        human_price=human_price,
        human_limit_fee=Decimal(order.limit_fee).scaleb(-6),
        client_id=order.client_id,
        expiration_epoch_seconds=order.expiration,
    )
    assert _starkware_order_of(order, market, network_id) == reference


@settings(max_examples=8, deadline=None)
@given(case=exchange_orders(), private_key=st.integers(min_value=1, max_value=2**250))
def test_sign_exchange_order_round_trip(case: tuple[Order, MarketConfig], private_key: int) -> None:
    order, market = case
    key = StarkPrivateKey(private_key)
    signed = dataclasses.replace(order, signature=sign_exchange_order(order, market, key))
    assert verify_order(signed, market, private_to_public(key))


# --- Rejections of malformed human input. ---

GOOD_ORDER: dict[str, Any] = {
    "position_id": 1,
    "market": "BTC-USD",
    "side": "BUY",
    "human_size": "0.001",
    "human_price": "20000",
    "human_limit_fee": "0.0005",
    "client_id": "c",
    "expiration_epoch_seconds": 1_700_000_000,
    "network_id": 1,
}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("market", "XYZ-USD", Reason.UNKNOWN_MARKET),
        ("market", None, Reason.UNKNOWN_MARKET),
        ("side", "buy", Reason.INVALID_ORDER),
        ("human_size", 0.001, Reason.INVALID_AMOUNT),
        ("human_size", "abc", Reason.INVALID_AMOUNT),
        ("human_size", "NaN", Reason.INVALID_AMOUNT),
        ("human_size", "-1", Reason.INVALID_AMOUNT),
        ("human_size", "0.00000000001", Reason.SIZE_NOT_STEP_MULTIPLE),
        ("human_size", "1e30", Reason.OVERFLOW),
        ("human_price", "Infinity", Reason.INVALID_AMOUNT),
        ("human_limit_fee", None, Reason.INVALID_AMOUNT),
        ("position_id", 2**64, Reason.OVERFLOW),
        ("position_id", -1, Reason.OVERFLOW),
        ("position_id", "1", Reason.INVALID_ORDER),
        ("client_id", 5, Reason.INVALID_ORDER),
        ("expiration_epoch_seconds", -1, Reason.INVALID_ORDER),
        ("expiration_epoch_seconds", 1.5, Reason.INVALID_ORDER),
        ("expiration_epoch_seconds", 2**32 * 3600, Reason.OVERFLOW),
        ("network_id", 2, Reason.INVALID_ORDER),
    ],
)
def test_invalid_order_field_is_rejected(field: str, value: Any, reason: Reason) -> None:
    kwargs = dict(GOOD_ORDER, **{field: value})
    with pytest.raises(ExchangeError) as info:
        compute_order_hash(**kwargs)
    assert info.value.reason is reason
    signature = sign_order(**GOOD_ORDER, private_key=StarkPrivateKey(5))
    assert not verify_order_fields(
        **kwargs, signature=signature, public_key=private_to_public(StarkPrivateKey(5))
    )


# --- Withdrawals, transfers, conditional transfers. ---


@pytest.mark.parametrize("vector", WITHDRAWALS, ids=lambda v: f"{v['client_id']}-{v['network_id']}")
def test_withdrawal_matches_dydx3_and_twins_fail(vector: dict[str, Any]) -> None:
    fields = {
        k: vector[k]
        for k in (
            "network_id",
            "position_id",
            "human_amount",
            "client_id",
            "expiration_epoch_seconds",
        )
    }
    assert hex(compute_withdrawal_hash(**fields)) == vector["hash"]
    signature = sign_withdrawal(**fields, private_key=_private(vector))
    assert signature == _signature(vector)
    assert verify_withdrawal(**fields, signature=signature, public_key=_key(vector))
    tampers = {
        "position_id": fields["position_id"] ^ 1,
        "human_amount": str(Decimal(fields["human_amount"]) + Decimal("0.000001")),
        "client_id": fields["client_id"] + "x",
        "expiration_epoch_seconds": fields["expiration_epoch_seconds"] + 3600,
        "network_id": NETWORK_ID_SEPOLIA if fields["network_id"] == 1 else 1,
    }
    for name, value in tampers.items():
        twin = dict(fields, **{name: value})
        assert not verify_withdrawal(**twin, signature=signature, public_key=_key(vector)), name


TRANSFER_FIELDS = (
    "network_id",
    "sender_position_id",
    "receiver_position_id",
    "receiver_public_key",
    "human_amount",
    "client_id",
    "expiration_epoch_seconds",
)


@pytest.mark.parametrize("vector", TRANSFERS, ids=lambda v: f"{v['client_id']}-{v['network_id']}")
def test_transfer_matches_dydx3_and_twins_fail(vector: dict[str, Any]) -> None:
    fields = {k: vector[k] for k in TRANSFER_FIELDS}
    fields["receiver_public_key"] = int(fields["receiver_public_key"], 16)
    assert hex(compute_transfer_hash(**fields)) == vector["hash"]
    signature = sign_transfer(**fields, private_key=_private(vector))
    assert signature == _signature(vector)
    assert verify_transfer(**fields, signature=signature, public_key=_key(vector))
    tampers = {
        "sender_position_id": fields["sender_position_id"] ^ 1,
        "receiver_position_id": fields["receiver_position_id"] ^ 1,
        "receiver_public_key": fields["receiver_public_key"] ^ 1,
        "human_amount": str(Decimal(fields["human_amount"]) + 1),
        "client_id": fields["client_id"] + "x",
        "expiration_epoch_seconds": fields["expiration_epoch_seconds"] + 3600,
        "network_id": NETWORK_ID_SEPOLIA if fields["network_id"] == 1 else 1,
    }
    for name, value in tampers.items():
        twin = dict(fields, **{name: value})
        assert not verify_transfer(**twin, signature=signature, public_key=_key(vector)), name


@pytest.mark.parametrize(
    "vector", CONDITIONAL_TRANSFERS, ids=lambda v: f"{v['client_id']}-{v['network_id']}"
)
def test_conditional_transfer_matches_dydx3_and_twins_fail(vector: dict[str, Any]) -> None:
    fact = compute_transfer_erc20_fact(**vector["fact_inputs"])
    assert "0x" + fact.hex() == vector["fact"]
    fields = {k: vector[k] for k in TRANSFER_FIELDS}
    fields["receiver_public_key"] = int(fields["receiver_public_key"], 16)
    fields["fact_registry_address"] = vector["fact_registry_address"]
    fields["fact"] = fact
    assert hex(compute_conditional_transfer_hash(**fields)) == vector["hash"]
    signature = sign_conditional_transfer(**fields, private_key=_private(vector))
    assert signature == _signature(vector)
    assert verify_conditional_transfer(**fields, signature=signature, public_key=_key(vector))
    tampers = {
        "fact": bytes(32),
        "fact_registry_address": "0x" + "00" * 20,
        "human_amount": str(Decimal(fields["human_amount"]) + 1),
        "receiver_position_id": fields["receiver_position_id"] ^ 1,
        "client_id": fields["client_id"] + "x",
    }
    for name, value in tampers.items():
        twin = dict(fields, **{name: value})
        assert not verify_conditional_transfer(
            **twin, signature=signature, public_key=_key(vector)
        ), name
    assert not verify_conditional_transfer(
        **dict(fields, fact=b"short"), signature=signature, public_key=_key(vector)
    )


def test_invalid_withdrawal_amount_finer_than_a_micro_usdc_is_rejected() -> None:
    with pytest.raises(ExchangeError) as info:
        compute_withdrawal_hash(
            network_id=1,
            position_id=1,
            human_amount="0.0000001",
            client_id="c",
            expiration_epoch_seconds=0,
        )
    assert info.value.reason is Reason.SIZE_NOT_STEP_MULTIPLE


def test_signature_verifies_only_its_own_hash() -> None:
    vector = ORDERS[0]
    assert verify(int(vector["hash"], 16), _signature(vector), _key(vector))
    assert not verify(int(vector["hash"], 16) + 1, _signature(vector), _key(vector))


@st.composite
def wild_exchange_orders(draw: st.DrawFn) -> tuple[Order, MarketConfig]:
    """Draw exchange orders with values anywhere, in range or not, on tick or not."""
    order, market = draw(exchange_orders())
    big = st.integers(min_value=-(2**70), max_value=2**70)
    changes: dict[str, Any] = {}
    if draw(st.booleans()):
        changes["size"] = draw(big)
    if draw(st.booleans()):
        changes["price"] = draw(st.one_of(big, st.just(order.price + 1)))
    if draw(st.booleans()):
        changes["limit_fee"] = draw(big)
    if draw(st.booleans()):
        changes["account_id"] = draw(big)
    if draw(st.booleans()):
        changes["expiration"] = draw(st.integers(min_value=-(2**50), max_value=2**50))
    return dataclasses.replace(order, **changes), market


@settings(max_examples=300, deadline=None)
@given(
    case=wild_exchange_orders(),
    network_id=st.sampled_from([NETWORK_ID_MAINNET, NETWORK_ID_SEPOLIA, 3, 5, 2]),
)
def test_fast_order_hash_equals_reference(
    case: tuple[Order, MarketConfig], network_id: int
) -> None:
    """The ingress fast path returns the reference hash, or defers to the reference."""
    order, market = case
    fast = _compute_exchange_order_hash_fast(order, market, network_id)
    try:
        reference: int | None = compute_starkware_order_hash(
            _starkware_order_of(order, market, network_id)
        )
    except ExchangeError:
        reference = None
    assert fast == reference


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("side", "BUY"),
        ("side", None),
        ("size", "100"),
        ("size", 1.0),
        ("price", None),
        ("limit_fee", "0.1"),
        ("account_id", True),
        ("expiration", 1.5),
        ("client_id", 7),
        ("signature", OrderSignature(r="1", s=2)),  # type: ignore[arg-type]
    ],
)
def test_invalid_malformed_exchange_order_verifies_false(field: str, value: Any) -> None:
    order, market = _exchange_order(ON_TICK[0])
    malformed = dataclasses.replace(order, **{field: value})
    assert (
        verify_order(malformed, market, _key(ON_TICK[0]), network_id=ON_TICK[0]["network_id"])
        is False
    )
    if field != "signature":
        assert (
            _compute_exchange_order_hash_fast(malformed, market, ON_TICK[0]["network_id"]) is None
        )


def test_iso_millisecond_expirations_match_dydx3_and_ceil_seconds_keep_the_hash() -> None:
    """dydx3 signs ``ceil(float_seconds / 3600)``; an API keeping ``ceil(ms / 1000)`` agrees."""
    fractional = [v for v in ORDERS if isinstance(v["expiration_epoch_seconds"], Decimal)]
    assert len(fractional) >= 4
    for vector in fractional:
        assert hex(compute_order_hash(**_order_kwargs(vector))) == vector["hash"]
        whole = dict(vector, expiration_epoch_seconds=math.ceil(vector["expiration_epoch_seconds"]))
        order, market = _exchange_order(whole)
        assert verify_order(order, market, _key(vector), network_id=vector["network_id"])
