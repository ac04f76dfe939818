"""Tests of every transaction type: the happy path and each rejection (state unchanged)."""

from __future__ import annotations

from dataclasses import replace

import fast_stark_crypto
import pytest

from starkperp.rollup.batch import BatchRejected, execute_batch
from starkperp.rollup.config import RollupConfig
from starkperp.rollup.errors import Reason
from starkperp.rollup.messages import Signature, sign_message
from starkperp.rollup.position import compute_status, is_liquidatable
from starkperp.rollup.quantities import (
    FXP_32_ONE,
    AssetId,
    Collateral,
    FundingIndex,
    PositionId,
    Price,
    PublicKey,
    Quantity,
    Timestamp,
)
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import (
    AssetOraclePrice,
    ConditionalTransfer,
    Deleverage,
    Deposit,
    ForcedTrade,
    ForcedWithdrawal,
    FundingIndexEntry,
    FundingTick,
    Liquidate,
    OraclePricesTick,
    SignedOraclePrice,
    Transaction,
)
from starkperp.rollup.transactions.conditional_transfer import compute_conditional_transfer_hash
from starkperp.rollup.transactions.forced_trade import compute_forced_trade_hash
from starkperp.rollup.transactions.oracle_prices_tick import (
    compute_internal_price,
    compute_oracle_price_hash,
)
from tests.strategies.rollup import (
    BTC_PRICE,
    make_config,
    make_order,
    make_trade,
    make_transfer,
    make_withdrawal,
    make_world,
)

BTC = 10**10  # one BTC in quanta
USD = 10**6


def _reject(state: RollupState, txs: list[Transaction], reason: Reason) -> None:
    before = state.get_shared_state()
    snapshot = (dict(state.positions), dict(state.orders), state.global_state)
    with pytest.raises(BatchRejected) as exc:
        execute_batch(state, txs, batch_number=1)
    assert exc.value.reason is reason, exc.value
    assert state.get_shared_state() == before
    assert (dict(state.positions), dict(state.orders), state.global_state) == snapshot


@pytest.fixture(scope="module")
def cfg() -> RollupConfig:
    return make_config()


@pytest.fixture(scope="module")
def world(cfg: RollupConfig):
    return make_world(cfg, 4, collateral=100_000 * USD)


def test_deposit_claims_and_credits(cfg: RollupConfig) -> None:
    state = RollupState.genesis(cfg, prices=(BTC_PRICE, 1))
    r = execute_batch(
        state,
        [Deposit(position_id=PositionId(9), public_key=PublicKey(5), amount=Collateral(10))],
        1,
    )
    pos = r.state.get_position(9)
    assert pos.public_key == 5 and pos.collateral == 10
    assert r.public_input.deposits[0].amount == 10


def test_invalid_deposit_to_foreign_position(world) -> None:
    state, traders = world
    tx = Deposit(
        position_id=traders[0].position_id, public_key=traders[1].public_key, amount=Collateral(1)
    )
    _reject(state, [tx], Reason.INVALID_PUBLIC_KEY)


def test_invalid_claim_of_fee_position(world) -> None:
    state, traders = world
    t = traders[0]
    cfg = state.config
    for pid in (cfg.fee_position_id, cfg.insurance_position_id):
        tx = Deposit(position_id=PositionId(pid), public_key=t.public_key, amount=Collateral(1))
        _reject(state, [tx], Reason.INVALID_PUBLIC_KEY)
        _reject(
            state,
            [make_transfer(t, replace(t, position_id=PositionId(pid)), 1, 77)],
            Reason.INVALID_PUBLIC_KEY,
        )


def test_invalid_deposit_zero(world) -> None:
    state, traders = world
    tx = Deposit(
        position_id=traders[0].position_id, public_key=traders[0].public_key, amount=Collateral(0)
    )
    _reject(state, [tx], Reason.AMOUNT_OUT_OF_RANGE)


def test_trade_moves_balances_and_fees(cfg, world) -> None:
    state, (a, b, *_) = world
    tx = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=1,
    )
    r = execute_batch(state, [tx], 1)
    fee = 30_000 * USD * 20 // 10_000
    assert r.state.get_position(a.position_id).assets[0].balance == BTC
    assert r.state.get_position(b.position_id).assets[0].balance == -BTC
    assert r.state.get_position(a.position_id).collateral == 100_000 * USD - 30_000 * USD - fee
    assert r.state.get_position(b.position_id).collateral == 100_000 * USD + 30_000 * USD - fee
    assert r.state.get_position(cfg.fee_position_id).collateral == 2 * fee


def test_partial_fills_accumulate(cfg, world) -> None:
    state, (a, b, *_) = world
    t = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=2,
    )
    half = replace(
        t,
        actual_synthetic=Quantity(BTC // 2),
        actual_collateral=Collateral(15_000 * USD),
        actual_a_fee=Collateral(0),
        actual_b_fee=Collateral(0),
    )
    r = execute_batch(state, [half, half], 1)
    assert r.state.get_position(a.position_id).assets[0].balance == BTC
    _reject(state, [half, half, half], Reason.ORDER_OVERFILLED)


def test_invalid_trade_amount_beyond_provable_bound(cfg, world) -> None:
    """Order leaf v2 stores the signed amount; the AIR proves fills against it below 2^62."""
    state, (a, b, *_) = world
    t = make_trade(
        a, b, asset_id=cfg.asset_ids[0], amount_synthetic=2**62, amount_collateral=2**62, nonce=7
    )
    small = replace(
        t,
        actual_synthetic=Quantity(10),
        actual_collateral=Collateral(10),
        actual_a_fee=Collateral(0),
        actual_b_fee=Collateral(0),
    )
    _reject(state, [small], Reason.AMOUNT_OUT_OF_RANGE)


def test_order_leaf_records_signed_limits(cfg, world) -> None:
    state, (a, b, *_) = world
    t = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=8,
    )
    r = execute_batch(state, [t], 1)
    leaves = [leaf for _, leaf in r.orders_diff]
    assert sorted(leaf.is_buying for leaf in leaves) == [False, True]
    for leaf in leaves:
        assert leaf.filled == leaf.amount == BTC
        assert leaf.amount_collateral == 30_000 * USD
        assert leaf.expiration_hours > 0


def test_invalid_trade_buyer_price_exceeded(cfg, world) -> None:
    state, (a, b, *_) = world
    t = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=3,
    )
    _reject(
        state,
        [replace(t, actual_collateral=Collateral(30_000 * USD + 2))],
        Reason.INVALID_FULFILLMENT_ASSETS_RATIO,
    )


def test_one_quantum_slack_allowed(cfg, world) -> None:
    state, (a, b, *_) = world
    buy = make_order(
        a,
        asset_id=cfg.asset_ids[0],
        is_buying=True,
        amount_synthetic=3,
        amount_collateral=10,
        amount_fee=0,
        nonce=4,
    )
    sell = make_order(
        b,
        asset_id=cfg.asset_ids[0],
        is_buying=False,
        amount_synthetic=3,
        amount_collateral=10,
        amount_fee=0,
        nonce=4,
    )
    from starkperp.rollup.transactions import Trade

    # 1 synthetic for 4 collateral: buyer's limit is 3.33.. -> 4 within the slack (3 < 3.33).
    tx = Trade(
        party_a_order=buy,
        party_b_order=sell,
        actual_a_fee=Collateral(0),
        actual_b_fee=Collateral(0),
        actual_collateral=Collateral(4),
        actual_synthetic=Quantity(1),
    )
    execute_batch(state, [tx], 1)
    tx5 = replace(tx, actual_collateral=Collateral(5))
    _reject(state, [tx5], Reason.INVALID_FULFILLMENT_ASSETS_RATIO)
    tx2 = replace(tx, actual_collateral=Collateral(2))
    _reject(state, [tx2], Reason.INVALID_FULFILLMENT_ASSETS_RATIO)


def test_invalid_trade_fee_exceeded(cfg, world) -> None:
    state, (a, b, *_) = world
    t = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=5,
    )
    _reject(
        state,
        [replace(t, actual_a_fee=Collateral(t.actual_a_fee + 1))],
        Reason.INVALID_FULFILLMENT_FEE_RATIO,
    )


def test_invalid_trade_expired(cfg, world) -> None:
    state, (a, b, *_) = world
    late = replace(
        state.copy(),
        global_state=replace(state.global_state, system_time=Timestamp(3600 * 10**6 + 1)),
    )
    t = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=6,
    )
    _reject(late, [t], Reason.ORDER_EXPIRED)


def test_invalid_trade_bad_signature(cfg, world) -> None:
    state, (a, b, *_) = world
    t = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=7,
    )
    bad = replace(t.party_a_order, signature=Signature(r=1, s=1))
    _reject(state, [replace(t, party_a_order=bad)], Reason.INVALID_SIGNATURE)


def test_invalid_trade_same_side(cfg, world) -> None:
    state, (a, b, *_) = world
    t = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=8,
    )
    _reject(state, [replace(t, party_b_order=t.party_a_order)], Reason.ORDERS_NOT_MATCHING)


def test_invalid_trade_undercollateralized(cfg, world) -> None:
    state, (a, b, *_) = world
    t = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=1000 * BTC,
        amount_collateral=30_000_000 * USD,
        nonce=9,
    )
    _reject(state, [t], Reason.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS)


def test_transfer_and_replay(world) -> None:
    state, (a, b, *_) = world
    t = make_transfer(a, b, 5 * USD, nonce=1)
    r = execute_batch(state, [t], 1)
    assert r.state.get_position(b.position_id).collateral == 100_005 * USD
    _reject(r.state, [t], Reason.ORDER_OVERFILLED)


def test_invalid_transfer_overdraft(world) -> None:
    state, (a, b, *_) = world
    _reject(
        state,
        [make_transfer(a, b, 100_001 * USD, nonce=2)],
        Reason.ILLEGAL_POSITION_TRANSITION_NO_RISK_REDUCED_VALUE,
    )


def test_conditional_transfer_outputs_condition(world) -> None:
    state, (a, b, *_) = world
    tx = ConditionalTransfer(
        sender_position_id=a.position_id,
        sender_public_key=a.public_key,
        receiver_position_id=b.position_id,
        receiver_public_key=b.public_key,
        amount=Collateral(7),
        nonce=3,
        expiration_hours=10**6,
        fact_registry=0xFAC7,
        fact=42,
    )
    tx = replace(tx, signature=sign_message(a.private_key, compute_conditional_transfer_hash(tx)))
    r = execute_batch(state, [tx], 1)
    assert len(r.public_input.conditions) == 1
    _reject(state, [replace(tx, fact=43)], Reason.INVALID_SIGNATURE)


def test_withdrawal_settles(world) -> None:
    state, (a, *_) = world
    r = execute_batch(state, [make_withdrawal(a, 10 * USD, nonce=1, recipient=0xABC)], 1)
    assert r.public_input.withdrawals[0].recipient == 0xABC
    assert r.state.get_position(a.position_id).collateral == 100_000 * USD - 10 * USD


def test_invalid_withdrawal_overdraft(world) -> None:
    state, (a, *_) = world
    _reject(
        state,
        [make_withdrawal(a, 100_001 * USD, nonce=2)],
        Reason.ILLEGAL_POSITION_TRANSITION_NO_RISK_REDUCED_VALUE,
    )


def _funding(
    cfg: RollupConfig, state: RollupState, dt: int, deltas: tuple[int, int]
) -> FundingTick:
    g = state.global_state
    return FundingTick(
        timestamp=Timestamp(g.funding_timestamp + dt),
        indices=tuple(
            FundingIndexEntry(asset_id=a, funding_index=FundingIndex(i + d))
            for a, i, d in zip(cfg.asset_ids, g.funding_indices, deltas)
        ),
    )


def test_funding_is_charged_on_next_touch(cfg, world) -> None:
    state, (a, b, c, _) = world
    trade = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=10,
    )
    r1 = execute_batch(state, [trade], 1)
    dt = 3600
    max_delta = cfg.max_funding_rate * BTC_PRICE * dt // FXP_32_ONE
    tick = _funding(cfg, r1.state, dt, (max_delta, 0))
    r2 = execute_batch(
        r1.state, [tick, make_transfer(a, c, 1, nonce=11), make_transfer(b, c, 1, nonce=11)], 2
    )
    pay = -(-BTC * max_delta // FXP_32_ONE)  # long pays, rounded up
    got = (
        r1.state.get_position(a.position_id).collateral
        - r2.state.get_position(a.position_id).collateral
        - 1
    )
    assert got == pay
    assert r2.state.get_position(a.position_id).assets[0].cached_funding_index == max_delta
    _reject(
        r1.state, [_funding(cfg, r1.state, dt, (max_delta + 1, 0))], Reason.FUNDING_TICK_TOO_LARGE
    )


def test_invalid_funding_tick_time_backwards(cfg, world) -> None:
    state, _ = world
    s = state.copy()
    s.global_state = replace(
        s.global_state, system_time=Timestamp(100), funding_timestamp=Timestamp(100)
    )
    tick = replace(_funding(cfg, s, 0, (0, 0)), timestamp=Timestamp(99))
    _reject(s, [tick], Reason.TIME_WENT_BACKWARDS)


ORACLE_KEYS = (0xA11CE, 0xB0B, 0xCAFE)


def _oracle_config(cfg: RollupConfig) -> RollupConfig:
    return replace(
        cfg,
        oracle_signers=tuple(PublicKey(fast_stark_crypto.get_public_key(k)) for k in ORACLE_KEYS),
        oracle_quorum=2,
    )


def _tick(
    cfg: RollupConfig, t: int, external: list[int], price: int | None = None, signers=ORACLE_KEYS
) -> OraclePricesTick:
    asset = cfg.assets[0]
    signed = []
    for priv, ext in zip(signers, external):
        sp = SignedOraclePrice(
            signer_public_key=PublicKey(fast_stark_crypto.get_public_key(priv)),
            external_price=ext,
            timestamp=Timestamp(t),
        )
        signed.append(
            replace(sp, signature=sign_message(priv, compute_oracle_price_hash(asset, sp)))
        )
    internal = [compute_internal_price(asset, e) for e in external]
    p = price if price is not None else sorted(internal)[len(internal) // 2]
    return OraclePricesTick(
        timestamp=Timestamp(t),
        prices=(
            AssetOraclePrice(asset_id=asset.asset_id, price=Price(p), signed_prices=tuple(signed)),
        ),
    )


def test_oracle_tick_sets_price(cfg) -> None:
    ocfg = _oracle_config(cfg)
    state = RollupState.genesis(ocfg, prices=(BTC_PRICE, 1))
    ext = [30_000 * 10**18, 30_100 * 10**18, 29_900 * 10**18]
    r = execute_batch(state, [_tick(ocfg, 50, ext)], 1)
    assert r.state.global_state.prices[0] == compute_internal_price(ocfg.assets[0], 30_000 * 10**18)
    assert r.state.global_state.system_time == 50


def test_invalid_oracle_price_outside_signed_range(cfg) -> None:
    ocfg = _oracle_config(cfg)
    state = RollupState.genesis(ocfg, prices=(BTC_PRICE, 1))
    ext = [30_000 * 10**18, 30_100 * 10**18]
    hi = compute_internal_price(ocfg.assets[0], 30_100 * 10**18)
    _reject(state, [_tick(ocfg, 50, ext, price=hi + 1)], Reason.ORACLE_PRICE_OUT_OF_SIGNED_RANGE)


def test_invalid_oracle_quorum(cfg) -> None:
    ocfg = _oracle_config(cfg)
    state = RollupState.genesis(ocfg, prices=(BTC_PRICE, 1))
    _reject(
        state,
        [_tick(ocfg, 50, [30_000 * 10**18], signers=ORACLE_KEYS[:1])],
        Reason.ORACLE_QUORUM_NOT_REACHED,
    )
    ext = [30_000 * 10**18, 30_001 * 10**18]
    _reject(state, [_tick(ocfg, 50, ext, signers=(0xA11CE, 0xD00D))], Reason.ORACLE_UNKNOWN_SIGNER)
    _reject(
        state, [_tick(ocfg, 50, ext, signers=(0xA11CE, 0xA11CE))], Reason.ORACLE_DUPLICATE_SIGNER
    )


def _crash(cfg: RollupConfig, state: RollupState, price: int) -> RollupState:
    s = state.copy()
    s.global_state = replace(s.global_state, prices=(Price(price), s.global_state.prices[1]))
    return s


def test_liquidate_only_unhealthy(cfg) -> None:
    state, (a, b, c) = make_world(cfg, 3, collateral=2_000 * USD)
    # a goes 1 BTC long at $30,000 with $2,000 collateral: 15x, maintenance 3%.
    trade = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=1,
        fee_ratio_bps=0,
    )
    r = execute_batch(state, [trade], 1)
    order = make_order(
        c,
        asset_id=cfg.asset_ids[0],
        is_buying=True,
        amount_synthetic=BTC,
        amount_collateral=29_000 * USD,
        amount_fee=0,
        nonce=2,
    )
    liq = Liquidate(
        liquidator_order=order,
        liquidated_position_id=a.position_id,
        actual_collateral=Collateral(28_500 * USD),
        actual_synthetic=Quantity(BTC),
        actual_liquidator_fee=Collateral(0),
    )
    _reject(r.state, [liq], Reason.UNLIQUIDATABLE_POSITION)
    crashed = _crash(cfg, r.state, BTC_PRICE * 28_500 // 30_000)
    assert is_liquidatable(
        compute_status(crashed.get_position(a.position_id), cfg, crashed.global_state)
    )
    r2 = execute_batch(crashed, [liq], 2)
    assert r2.state.get_position(a.position_id).assets[0].balance == 0
    assert r2.state.get_position(c.position_id).assets[0].balance == BTC


def test_deleverage_bankrupt_position(cfg) -> None:
    state, (a, b) = make_world(cfg, 2, collateral=2_000 * USD)
    trade = make_trade(
        a,
        b,
        asset_id=cfg.asset_ids[0],
        amount_synthetic=BTC,
        amount_collateral=30_000 * USD,
        nonce=1,
        fee_ratio_bps=0,
    )
    r = execute_batch(state, [trade], 1)
    crashed = _crash(cfg, r.state, BTC_PRICE * 27_000 // 30_000)
    assert compute_status(crashed.get_position(a.position_id), cfg, crashed.global_state).tv < 0

    def dl(amount_collateral: int) -> Deleverage:
        return Deleverage(
            deleveraged_position_id=a.position_id,
            deleverager_position_id=b.position_id,
            synthetic_asset_id=AssetId(cfg.asset_ids[0]),
            amount_synthetic=Quantity(BTC),
            amount_collateral=Collateral(amount_collateral),
            deleverager_is_buying_synthetic=True,
        )

    # b (short) buys a's BTC for exactly a's debt: a ends empty, the fairest price for b.
    r2 = execute_batch(crashed, [dl(28_000 * USD)], 2)
    assert r2.state.get_position(a.position_id).is_empty()
    assert r2.state.get_position(b.position_id).collateral == 4_000 * USD
    _reject(crashed, [dl(28_000 * USD + 1)], Reason.UNFAIR_DELEVERAGE)
    _reject(
        crashed,
        [dl(28_000 * USD - 1)],
        Reason.ILLEGAL_POSITION_TRANSITION_REDUCING_TOTAL_VALUE_RISK_RATIO,
    )
    healthy = _crash(cfg, r.state, BTC_PRICE)
    _reject(healthy, [dl(28_000 * USD)], Reason.UNDELEVERAGABLE_POSITION)
    rich = crashed.copy()
    rich.set_position(
        cfg.insurance_position_id,
        replace(rich.get_position(cfg.insurance_position_id), collateral=Collateral(10**6 * USD)),
    )
    _reject(rich, [dl(28_000 * USD)], Reason.INSURANCE_FUND_CAN_ABSORB)


def test_forced_withdrawal_valid_and_invalid(world) -> None:
    state, (a, *_) = world
    ok = ForcedWithdrawal(
        position_id=a.position_id, public_key=a.public_key, amount=Collateral(5), recipient=0x1
    )
    r = execute_batch(state, [ok], 1)
    assert r.public_input.forced_actions[0].request_id == ok.compute_request_id()
    assert r.public_input.withdrawals[0].amount == 5
    too_much = replace(ok, amount=Collateral(10**15), is_valid=False)
    r2 = execute_batch(state, [too_much], 1)
    assert r2.state.get_position(a.position_id) == state.get_position(a.position_id)
    _reject(state, [replace(ok, is_valid=False)], Reason.FORCED_ACTION_WRONGLY_MARKED_INVALID)


def test_forced_trade(cfg, world) -> None:
    state, (a, b, *_) = world
    ft = ForcedTrade(
        position_a=a.position_id,
        public_key_a=a.public_key,
        position_b=b.position_id,
        public_key_b=b.public_key,
        synthetic_asset_id=AssetId(cfg.asset_ids[1]),
        amount_collateral=Collateral(2_000 * USD),
        amount_synthetic=Quantity(10**9),
        is_party_a_buying_synthetic=True,
        nonce=1,
        expiration_hours=10**6,
    )
    ft = replace(ft, signature_b=sign_message(b.private_key, compute_forced_trade_hash(ft)))
    r = execute_batch(state, [ft], 1)
    assert r.state.get_position(a.position_id).assets[1].balance == 10**9
    _reject(state, [replace(ft, amount_synthetic=Quantity(10**9 + 1))], Reason.INVALID_SIGNATURE)
    r2 = execute_batch(
        state, [replace(ft, amount_synthetic=Quantity(10**9 + 1), is_valid=False)], 1
    )
    assert r2.public_input.forced_actions[0].is_valid is False
