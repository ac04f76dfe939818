"""The node's signature pool: order signatures checked in worker processes before sequencing."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from starkperp.crypto.stark_curve import StarkPrivateKey, private_to_public
from starkperp.exchange.errors import ExchangeError, Reason
from starkperp.exchange.markets import MarketConfig, price_from_human, quantity_from_human
from starkperp.exchange.model import AccountId, Order, OrderSignature, Side, Timestamp
from starkperp.exchange.signing import sign_exchange_order
from starkperp.node import config as node_config
from starkperp.node.recovery import ApiCredentials
from starkperp.node.sequencer import SignaturePool, verify_order_signatures
from starkperp.node.service import Node

NOW_MS = 1_700_000_000_000
KEY = StarkPrivateKey(0xABCDEF)
PUBLIC = private_to_public(KEY)
NETWORK = 1


def _market() -> MarketConfig:
    return node_config.minimal("unused").exchange.markets[0]


def _order(market: MarketConfig, account: int, cid: str, price: str = "49000") -> Order:
    return Order(
        account_id=AccountId(account),
        market=market.market,
        side=Side.BUY,
        size=quantity_from_human(market, "0.01"),
        price=price_from_human(market, price),
        client_id=cid,
        expiration=Timestamp(NOW_MS // 1000 + 86400),
    )


def _signed(order: Order, market: MarketConfig) -> Order:
    signature = sign_exchange_order(order, market, KEY, network_id=NETWORK)
    return dataclasses.replace(order, signature=signature)


def test_batch_verification_matches_each_signature() -> None:
    market = _market()
    good = _signed(_order(market, 1, "a"), market)
    forged = dataclasses.replace(good, signature=OrderSignature(r=1, s=2))
    other = dataclasses.replace(good, client_id="b")  # signature of a different order
    jobs = [(good, market, PUBLIC, NETWORK), (forged, market, PUBLIC, NETWORK)]
    jobs += [(other, market, PUBLIC, NETWORK), (good, market, PUBLIC + 1, NETWORK)]
    assert verify_order_signatures(jobs) == [True, False, False, False]


def test_invalid_malformed_job_verifies_false() -> None:
    market = _market()
    unsigned = _order(market, 1, "a")
    assert verify_order_signatures([(unsigned, market, PUBLIC, NETWORK)]) == [False]


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_pool_batches_and_agrees_with_inline(start_method: str) -> None:
    market = _market()
    orders = [_signed(_order(market, 1, f"c{i}"), market) for i in range(9)]
    orders[4] = dataclasses.replace(orders[4], signature=OrderSignature(r=3, s=4))
    jobs = [(o, market, PUBLIC, NETWORK) for o in orders]
    pool = SignaturePool(workers=2, max_batch=3, start_method=start_method)

    async def run() -> list[bool]:
        pool.start()
        assert pool.is_started
        assert await asyncio.to_thread(pool.wait_warm, 60)
        try:
            return list(await asyncio.gather(*(pool.verify(j) for j in jobs)))
        finally:
            pool.stop()

    assert asyncio.run(run()) == verify_order_signatures(jobs)
    assert not pool.is_running


def test_pool_answers_in_arrival_order() -> None:
    market = _market()
    jobs = [
        (_signed(_order(market, 1, f"c{i}"), market), market, PUBLIC, NETWORK) for i in range(12)
    ]
    pool = SignaturePool(workers=2, max_batch=2)

    async def run() -> list[int]:
        pool.start()
        assert await asyncio.to_thread(pool.wait_warm, 60)
        answered: list[int] = []

        async def one(i: int) -> None:
            assert await pool.verify(jobs[i])
            answered.append(i)

        try:
            await asyncio.gather(*(one(i) for i in range(len(jobs))))
        finally:
            pool.stop()
        return answered

    assert asyncio.run(run()) == list(range(len(jobs)))


def test_stopped_pool_verifies_inline() -> None:
    market = _market()
    job = (_signed(_order(market, 1, "a"), market), market, PUBLIC, NETWORK)
    pool = SignaturePool(workers=2)
    assert asyncio.run(pool.verify(job)) is True


def test_invalid_pool_size_is_rejected() -> None:
    with pytest.raises(ValueError):
        SignaturePool(workers=0)


def _run_node(tmp_path: Path, workers: int) -> tuple[bytes, list[Reason]]:
    config = node_config.minimal(str(tmp_path / f"node{workers}.sqlite"), network_id=NETWORK)
    market = config.exchange.markets[0]

    async def run() -> tuple[bytes, list[Reason]]:
        node = Node(config, clock_ms=lambda: NOW_MS, signature_workers=workers)
        await node.start(ticks=False)
        assert (node.signature_pool is not None) == (workers > 0)
        if node.signature_pool is not None:
            node.signature_pool.start()
            assert await asyncio.to_thread(node.signature_pool.wait_warm, 60)
        creds = ApiCredentials(key="k", secret="c2VjcmV0", passphrase="p")
        rec = await node.onboard(
            eth_address=f"0x{1:040x}", stark_key=PUBLIC, stark_key_y=1, credentials=creds
        )
        await node.deposit(rec.account_id, 100_000 * 10**6)
        orders = [
            _signed(_order(market, rec.account_id, f"o{i}", str(49_000 + i)), market)
            for i in range(6)
        ]
        views = await asyncio.gather(*(node.place_order(o) for o in orders))
        replace = _signed(_order(market, rec.account_id, "r", "48000"), market)
        await node.place_order(replace, cancel_id=int(views[0].order_id))
        reasons = []
        forged = dataclasses.replace(
            _order(market, rec.account_id, "f"), signature=OrderSignature(r=5, s=6)
        )
        wrong_key = dataclasses.replace(orders[1], client_id="w", public_key=PUBLIC + 1)
        for bad in (forged, wrong_key, _order(market, rec.account_id, "u")):
            with pytest.raises(ExchangeError) as info:
                await node.place_order(bad)
            reasons.append(info.value.reason)
        digest = node.engine.compute_state_digest()
        await node.stop()
        return digest, reasons

    return asyncio.run(run())


def test_node_starts_the_pool_on_the_first_signed_order(tmp_path: Path) -> None:
    config = node_config.minimal(str(tmp_path / "lazy.sqlite"), network_id=NETWORK)
    market = config.exchange.markets[0]

    async def run() -> None:
        node = Node(config, clock_ms=lambda: NOW_MS)
        await node.start(ticks=False)
        pool = node.signature_pool
        assert pool is not None and not pool.is_started
        creds = ApiCredentials(key="k", secret="c2VjcmV0", passphrase="p")
        rec = await node.onboard(
            eth_address=f"0x{2:040x}", stark_key=PUBLIC, stark_key_y=1, credentials=creds
        )
        await node.deposit(rec.account_id, 100_000 * 10**6)
        # verified inline by the engine while the workers warm up
        await node.place_order(_signed(_order(market, rec.account_id, "first"), market))
        assert pool.is_started
        assert await asyncio.to_thread(pool.wait_warm, 60)
        await node.place_order(_signed(_order(market, rec.account_id, "second"), market))
        await node.stop()
        assert not pool.is_started

    asyncio.run(run())


def test_node_with_pool_reaches_the_same_state_as_inline(tmp_path: Path) -> None:
    pooled, pooled_reasons = _run_node(tmp_path, 2)
    inline, inline_reasons = _run_node(tmp_path, 0)
    assert pooled == inline
    expected = [Reason.BAD_SIGNATURE, Reason.BAD_SIGNATURE, Reason.MISSING_SIGNATURE]
    assert pooled_reasons == inline_reasons == expected
