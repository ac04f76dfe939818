"""The sequencer's fast paths agree with their readable references.

* The log codec's per-type encoders (:func:`starkperp.node.codec.encode_value`) give exactly
  what the reference definition gives, for every kind of event, including values of types
  the codec has never seen and values it must refuse.
* Signature jobs packed for the trip to a worker (:func:`pack_signature_jobs`) rebuild the
  same orders, and :func:`verify_packed_order_signatures` gives the same verdicts as
  :func:`verify_order_signatures`, malformed jobs included.
* The signature pool keeps at most one chunk per worker in flight; what arrives meanwhile
  leaves together in the next chunks.
* The cached view text (times, prices, sizes, USDC amounts) is the text the formulas give.
* :func:`compute_order_key` (a cached hash-chain prefix) gives the rollup's own order key of
  the limit order the bridge derives; the pool's workers compute it with the signature check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from starkperp.crypto.stark_curve import StarkPrivateKey, private_to_public
from starkperp.exchange.markets import (
    MarketConfig,
    compute_human_price,
    human_from_quantity,
    price_from_human,
    quantity_from_human,
)
from starkperp.exchange.model import (
    AccountId,
    Order,
    OrderSignature,
    OrderType,
    Side,
    TimeInForce,
    Timestamp,
)
from starkperp.exchange.signing import sign_exchange_order
from starkperp.node import codec, views
from starkperp.node import config as node_config
from starkperp.node.bridge import compute_limit_order
from starkperp.node.sequencer import (
    OrderKeyRule,
    SignaturePool,
    _order_from_wire,
    compute_order_key,
    get_order_key_rule,
    pack_signature_jobs,
    verify_order_signatures,
    verify_packed_order_signatures,
    verify_packed_orders_with_keys,
)
from starkperp.node.settlement import get_rollup_config
from starkperp.rollup.quantities import PublicKey
from starkperp.rollup.transactions.limit_order import compute_order_hash as compute_message_hash_of
from tests.node.test_codec import EVENTS, ORDER

KEY = StarkPrivateKey(0x5EED)
PUBLIC = private_to_public(KEY)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_fast_encoder_matches_the_reference(event: object) -> None:
    assert codec.encode_value(event) == codec._encode_reference(event)
    assert codec.encode_value(event) == codec.encode_value(event)  # cached the second time


class _Colour(enum.Enum):
    RED = "red"


class _Level(enum.IntEnum):
    HIGH = 3


class _Name(enum.StrEnum):
    ALICE = "alice"


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -(2**200), "x", _Colour.RED, _Level.HIGH, _Name.ALICE, (1, "a"), [2]],
    ids=repr,
)
def test_fast_encoder_matches_the_reference_on_plain_values(value: object) -> None:
    assert codec.encode_value(value) == codec._encode_reference(value)
    assert type(codec.encode_value(value)) is type(codec._encode_reference(value))


def test_invalid_unencodable_value_is_refused_by_both() -> None:
    for encode in (codec.encode_value, codec._encode_reference):
        with pytest.raises(TypeError):
            encode(1.5)
        with pytest.raises(TypeError):
            encode({"a": 1})


def _market() -> MarketConfig:
    return node_config.minimal("unused").exchange.markets[0]


def _signed(market: MarketConfig, cid: str, **kw: object) -> Order:
    order = Order(
        account_id=AccountId(7),
        market=market.market,
        side=Side.SELL,
        size=quantity_from_human(market, "0.02"),
        price=price_from_human(market, "51000"),
        client_id=cid,
        expiration=Timestamp(1_800_000_000),
        **kw,  # type: ignore[arg-type]
    )
    return dataclasses.replace(order, signature=sign_exchange_order(order, market, KEY))


def test_packed_orders_rebuild_exactly() -> None:
    market = _market()
    orders = [
        ORDER,
        dataclasses.replace(ORDER, signature=None, trigger_price=None, public_key=None),
        _signed(market, "a", order_type=OrderType.MARKET, time_in_force=TimeInForce.IOC),
    ]
    configs, wires = pack_signature_jobs([(o, market, PUBLIC, 1) for o in orders])
    assert configs == (market,)
    assert [_order_from_wire(w[3]) for w in wires] == orders
    assert all(isinstance(w[3], tuple) for w in wires)


def test_packed_verification_matches_the_reference() -> None:
    market = _market()
    other = dataclasses.replace(market, asset_id=market.asset_id + 1)
    good = _signed(market, "g")
    jobs = [
        (good, market, PUBLIC, 1),
        (dataclasses.replace(good, signature=OrderSignature(r=1, s=2)), market, PUBLIC, 1),
        (dataclasses.replace(good, client_id="h"), market, PUBLIC, 1),
        (good, market, PUBLIC + 1, 1),
        (good, other, PUBLIC, 1),
        (good, market, PUBLIC, 3),
        (dataclasses.replace(good, signature=None), market, PUBLIC, 1),
        (dataclasses.replace(good, side="BUY"), market, PUBLIC, 1),  # type: ignore[arg-type]
        (dataclasses.replace(good, size="1"), market, PUBLIC, 1),  # type: ignore[arg-type]
    ]
    packed = pack_signature_jobs(jobs)
    assert len(packed[0]) == 2  # each distinct market config travels once
    assert isinstance(packed[1][7][3], Order)  # an unusual order travels as it is
    expected = verify_order_signatures(jobs)
    assert expected[0] is True and not any(expected[1:])
    assert [bool(v) for v in verify_packed_order_signatures(packed)] == expected


def test_invalid_malformed_packed_job_is_refused_not_raised() -> None:
    market = _market()
    good = _signed(market, "m")
    configs, wires = pack_signature_jobs([(good, market, PUBLIC, 1)])
    broken = [(5, PUBLIC, 1, wires[0][3]), (0, PUBLIC, 1, ("not", "an", "order"))]
    assert verify_packed_order_signatures((configs, broken + wires)) == bytes([0, 0, 1])


def test_cached_view_text_matches_the_formulas() -> None:
    market = _market()
    for ms in (0, 999, 1_700_000_000_123, 1_700_000_001_000, -1, 4_102_444_800_000):
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
        want = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
        assert views.format_iso_ms(ms) == want == views.format_iso_ms(ms)
    for human in ("50000", "0.5", "123456.7"):
        price = price_from_human(market, human) if Decimal(human) % 1 == 0 else 12345
        want = views.format_decimal(compute_human_price(market, price))
        assert views._price(market, price) == want == views._price(market, price)
    coarse = dataclasses.replace(market, resolution=market.resolution // 10)
    for quantity in (1, 10**7, 123_456_789):
        for m in (market, coarse):
            want = views.format_decimal(human_from_quantity(m, quantity))
            assert views._size(m, quantity) == want
    assert views._usd(-1_500_000) == "-1.5" and views._usd(0) == "0"


def test_view_caches_stay_bounded() -> None:
    market = _market()
    for quantity in range(views._CACHE_LIMIT + 10):
        views._size(market, quantity)
    assert len(views._SIZE_TEXT) <= views._CACHE_LIMIT


def test_pool_keeps_one_chunk_per_worker_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = SignaturePool(workers=2, max_batch=64)
    monkeypatch.setattr(SignaturePool, "is_running", property(lambda self: True))
    sizes: list[int] = []
    active = peak = 0

    async def fake_chunk(jobs: list[Any], executor: object) -> list[bool]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        sizes.append(len(jobs))
        await asyncio.sleep(0.02)
        active -= 1
        return [job[2] == PUBLIC for job in jobs]

    monkeypatch.setattr(pool, "_verify_chunk", fake_chunk)
    market = _market()

    async def run() -> list[bool]:
        first = [asyncio.ensure_future(pool.verify((ORDER, market, PUBLIC, 1))) for _ in range(10)]
        await asyncio.sleep(0.005)  # both workers busy: the next ones wait and leave together
        later = [
            asyncio.ensure_future(pool.verify((ORDER, market, PUBLIC + (i == 7), 1)))
            for i in range(20)
        ]
        return list(await asyncio.gather(*first, *later))

    answers = asyncio.run(run())
    assert answers == [True] * 17 + [False] + [True] * 12
    assert peak == 2
    assert sizes == [5, 5, 10, 10]


# ---- rollup order keys ----------------------------------------------------------------------


def _key_rule(depth: int = 61) -> OrderKeyRule:
    exchange = node_config.minimal("unused").exchange
    return dataclasses.replace(
        get_order_key_rule(exchange, get_rollup_config("minimal")), orders_depth=depth
    )


def test_order_key_matches_the_rollup_message_hash() -> None:
    """The cached-prefix chain gives the rollup's own key of the bridged limit order."""
    market = _market()
    rule = _key_rule()
    asset_id = dict(rule.asset_ids)[market.market]
    for i in range(12):
        order = dataclasses.replace(
            _signed(market, f"k{i}"),
            account_id=AccountId(100 + i % 3),
            side=Side.BUY if i % 2 else Side.SELL,
            size=quantity_from_human(market, str(Decimal("0.001") * (i + 1))),
            limit_fee=i * 300,
            expiration=Timestamp(1_800_000_000 + i * 1_000),
        )
        limit = compute_limit_order(order, market, asset_id=asset_id, public_key=PublicKey(PUBLIC))
        expected = compute_message_hash_of(limit) % 2**61
        assert compute_order_key(rule, order, market) == expected
    assert compute_order_key(rule, dataclasses.replace(ORDER, market="DOGE-USD"), market) is None


def test_packed_verification_with_keys() -> None:
    market = _market()
    rule = _key_rule()
    good = _signed(market, "kg")
    bad = dataclasses.replace(good, signature=OrderSignature(r=1, s=2))
    packed = pack_signature_jobs([(good, market, PUBLIC, 1), (bad, market, PUBLIC, 1)])
    verdicts, keys = verify_packed_orders_with_keys(packed, rule)
    assert verdicts == verify_packed_order_signatures(packed) == bytes([1, 0])
    assert keys == [compute_order_key(rule, good, market), None]


def test_pool_hands_the_workers_keys_to_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = SignaturePool(workers=1)
    monkeypatch.setattr(SignaturePool, "is_running", property(lambda self: True))
    pool.order_key_rule = _key_rule()
    market = _market()
    order = _signed(market, "kp")

    async def run() -> bool:
        loop = asyncio.get_running_loop()

        def inline(executor: object, fn: Any, *args: Any) -> asyncio.Future[Any]:
            future = loop.create_future()  # the worker task, run in this process
            future.set_result(fn(*args))
            return future

        monkeypatch.setattr(loop, "run_in_executor", inline)
        pool._executor = object()  # type: ignore[assignment]
        return await pool.verify((order, market, PUBLIC, 1))

    assert asyncio.run(run()) is True
    assert pool.take_order_key(order) == compute_order_key(pool.order_key_rule, order, market)
    assert pool.take_order_key(order) is None  # taken once
    pool._executor = None
