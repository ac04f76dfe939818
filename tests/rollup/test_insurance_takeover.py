"""InsuranceTakeover: the exchange's liquidation as a rollup transaction, and its rejections.

A trader goes 1 BTC long at $30,000 with $2,000 of collateral (collateral -$28,000); the BTC
price then falls. Each rejection test checks the named reason and that nothing changed.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.exchange.config import minimal
from starkperp.exchange.deleverage import compute_fair_transfer
from starkperp.exchange.markets import MarketId
from starkperp.rollup.batch import (
    BatchRejected,
    BatchResult,
    compute_collateral_flows,
    execute_batch,
)
from starkperp.rollup.config import RollupConfig
from starkperp.rollup.da import decode_payload, rebuild_state
from starkperp.rollup.errors import Reason
from starkperp.rollup.position import apply_funding, compute_status, is_liquidatable
from starkperp.rollup.quantities import (
    FXP_32_ONE,
    AssetId,
    Collateral,
    FundingIndex,
    PositionId,
    Price,
    Quantity,
)
from starkperp.rollup.state import Position, RollupState
from starkperp.rollup.transactions import (
    Deleverage,
    InsuranceTakeover,
    TakeoverClose,
    Transaction,
)
from starkperp.rollup.transactions.insurance_takeover import (
    MAX_LIQUIDATION_PENALTY,
    compute_max_penalty,
)
from tests.strategies.rollup import BTC_PRICE, make_config, make_takeover, make_trade, make_world

BTC = 10**10
USD = 10**6


@pytest.fixture(scope="module")
def cfg() -> RollupConfig:
    return make_config(verify_signatures=False)


@pytest.fixture(scope="module")
def levered(cfg: RollupConfig) -> tuple[RollupState, int, int]:
    """Return (state, long position, short position): 1 BTC long at $30,000, 15x."""
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
    return execute_batch(state, [trade], 1).state, a.position_id, b.position_id


def _at(state: RollupState, usd: int, *, fund: int = 0) -> RollupState:
    """Return a copy with BTC at ``usd`` dollars and the insurance fund holding ``fund``."""
    s = state.copy()
    price = Price(BTC_PRICE * usd // 30_000)
    s.global_state = replace(s.global_state, prices=(price, *s.global_state.prices[1:]))
    if fund:
        empty = Position.empty(s.config.n_assets)
        s.set_position(s.config.insurance_position_id, replace(empty, collateral=Collateral(fund)))
    return s


def _reject(state: RollupState, txs: list[Transaction], reason: Reason) -> None:
    before = state.get_shared_state()
    snapshot = (dict(state.positions), state.global_state)
    with pytest.raises(BatchRejected) as exc:
        execute_batch(state, txs, batch_number=2)
    assert exc.value.reason is reason, exc.value
    assert state.get_shared_state() == before
    assert (dict(state.positions), state.global_state) == snapshot


def _bound(tx: InsuranceTakeover, state: RollupState) -> int:
    slot = state.config.get_asset_slot(tx.closes[0].asset_id)
    notional = abs(tx.closes[0].balance * state.global_state.prices[slot])
    return compute_max_penalty(notional, MAX_LIQUIDATION_PENALTY)


def _collateral(state: RollupState, position_id: int) -> int:
    return apply_funding(state.get_position(position_id), state.global_state).collateral


def test_takeover_with_value_left_pays_penalty_to_fund(cfg, levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    probe = make_takeover(crashed, a)
    penalty = _bound(probe, crashed)
    assert 280 * USD < penalty < 290 * USD
    tx = make_takeover(crashed, a, penalty=penalty)
    result = execute_batch(crashed, [tx], 2)
    close = tx.closes[0]
    liquidated = result.state.get_position(a)
    fund = result.state.get_position(cfg.insurance_position_id)
    assert liquidated.assets[0].balance == 0 and fund.assets[0].balance == BTC
    assert liquidated.collateral == -28_000 * USD + close.collateral - penalty
    assert fund.collateral == -close.collateral + penalty
    assert 0 <= liquidated.collateral < 500 * USD
    # The witness: the liquidated position's leaf, then the fund's; no order leaf.
    (effect,) = result.effects
    assert [s.position_id for s in effect.position_steps] == [a, cfg.insurance_position_id]
    assert effect.order_steps == ()
    assert compute_collateral_flows(result.effects) == (0, 0)


def test_bankrupt_position_is_covered_by_fund(cfg, levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 27_000, fund=10_000 * USD)
    probe = make_takeover(crashed, a)
    deficit = 28_000 * USD - probe.closes[0].collateral
    assert 999 * USD < deficit < 1_001 * USD
    result = execute_batch(crashed, [make_takeover(crashed, a, insurance_payment=deficit)], 2)
    assert result.state.get_position(a).is_empty()
    fund = result.state.get_position(cfg.insurance_position_id)
    assert fund.collateral == 10_000 * USD - probe.closes[0].collateral - deficit
    assert fund.assets[0].balance == BTC


def test_payment_without_closes_leaves_position_for_deleverage(cfg, levered) -> None:
    state, a, b = levered
    crashed = _at(state, 27_000, fund=400 * USD)
    pay = InsuranceTakeover(
        liquidated_position_id=PositionId(a),
        closes=(),
        penalty=Collateral(0),
        insurance_payment=Collateral(400 * USD),
    )
    after = execute_batch(crashed, [pay], 2).state
    assert after.get_position(a).collateral == -27_600 * USD
    assert after.get_position(cfg.insurance_position_id).collateral == 0
    # The fund paid what it had; the rest of the loss is deleveraged against the short.
    deleverage = Deleverage(
        deleveraged_position_id=PositionId(a),
        deleverager_position_id=PositionId(b),
        synthetic_asset_id=AssetId(cfg.asset_ids[0]),
        amount_synthetic=Quantity(BTC),
        amount_collateral=Collateral(27_600 * USD),
        deleverager_is_buying_synthetic=True,
    )
    assert execute_batch(after, [deleverage], 3).state.get_position(a).is_empty()


def test_takeover_funds_the_position_first(cfg, levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_900)
    assert not is_liquidatable(compute_status(crashed.get_position(a), cfg, crashed.global_state))
    _reject(crashed, [make_takeover(crashed, a)], Reason.UNLIQUIDATABLE_POSITION)
    # A funding index move charges the long $100: now TV < TR.
    moved = crashed.copy()
    index = FundingIndex(100 * USD * FXP_32_ONE // BTC + 1)
    moved.global_state = replace(
        moved.global_state, funding_indices=(index, *moved.global_state.funding_indices[1:])
    )
    tx = make_takeover(moved, a)
    result = execute_batch(moved, [tx], 2)
    expected = _collateral(moved, a) + tx.closes[0].collateral
    assert result.state.get_position(a).collateral == expected


def test_takeover_batch_rebuilds_from_its_payload(cfg, levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    result = execute_batch(crashed, [make_takeover(crashed, a, penalty=100 * USD)], 2)
    payload = decode_payload(result.da_payload.encode(), cfg.n_assets)
    rebuilt = rebuild_state(crashed, [payload], [result.new_shared_state])
    assert rebuilt.get_shared_state() == result.state.get_shared_state()


@pytest.mark.slow
def test_takeover_batch_proves_as_leaf_updates(cfg, levered) -> None:
    from starkperp.rollup.air import prove_batch, verify_batch
    from starkperp.stark.options import PRESETS

    state, a, _ = levered
    crashed = _at(state, 27_000, fund=10_000 * USD)
    probe = make_takeover(crashed, a)
    deficit = 28_000 * USD - probe.closes[0].collateral
    result: BatchResult = execute_batch(
        crashed, [make_takeover(crashed, a, insurance_payment=deficit)], 2
    )
    options = PRESETS["minimal"]
    proof = prove_batch(result, options)
    verify_batch(cfg, result.public_input, proof, options)


# ------------------------------------------------------------------ rejections


def test_invalid_takeover_of_healthy_position(levered) -> None:
    state, a, _ = levered
    healthy = _at(state, 29_500)
    _reject(healthy, [make_takeover(healthy, a)], Reason.UNLIQUIDATABLE_POSITION)


@pytest.mark.parametrize("delta", [-1, 1])
def test_invalid_takeover_off_the_oracle_price(levered, delta: int) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    tx = make_takeover(crashed, a)
    close = replace(tx.closes[0], collateral=Collateral(tx.closes[0].collateral + delta))
    _reject(crashed, [replace(tx, closes=(close,))], Reason.TAKEOVER_NOT_AT_ORACLE_PRICE)


def test_invalid_penalty_above_bound(levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    bound = _bound(make_takeover(crashed, a), crashed)
    execute_batch(crashed, [make_takeover(crashed, a, penalty=bound)], 2)
    too_much = make_takeover(crashed, a, penalty=bound + 1)
    _reject(crashed, [too_much], Reason.LIQUIDATION_PENALTY_TOO_LARGE)


def test_invalid_penalty_beyond_value_left(levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_200)  # $200 left, the bound is ~$282
    bound = _bound(make_takeover(crashed, a), crashed)
    _reject(
        crashed,
        [make_takeover(crashed, a, penalty=bound)],
        Reason.ILLEGAL_POSITION_TRANSITION_REDUCING_TOTAL_VALUE_RISK_RATIO,
    )


def test_invalid_bankrupt_takeover_without_payment(levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 27_000, fund=10_000 * USD)
    _reject(
        crashed,
        [make_takeover(crashed, a)],
        Reason.ILLEGAL_POSITION_TRANSITION_REDUCING_TOTAL_VALUE_RISK_RATIO,
    )


def test_invalid_overpayment(levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 27_000, fund=10_000 * USD)
    deficit = 28_000 * USD - make_takeover(crashed, a).closes[0].collateral
    over = make_takeover(crashed, a, insurance_payment=deficit + 1)
    _reject(crashed, [over], Reason.INSURANCE_OVERPAYMENT)
    value_left = _at(state, 28_500, fund=10_000 * USD)
    both = make_takeover(value_left, a, penalty=10, insurance_payment=10)
    _reject(value_left, [both], Reason.INSURANCE_OVERPAYMENT)


def test_invalid_takeover_leaves_fund_insolvent(levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 27_000, fund=500 * USD)
    deficit = 28_000 * USD - make_takeover(crashed, a).closes[0].collateral
    tx = make_takeover(crashed, a, insurance_payment=deficit)
    _reject(crashed, [tx], Reason.INSURANCE_FUND_INSOLVENT)


@pytest.mark.parametrize(
    ("field", "value"),
    [("penalty", 2**64), ("insurance_payment", 2**64), ("penalty", -1)],
)
def test_invalid_takeover_amount_overflow(levered, field: str, value: int) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    tx = replace(make_takeover(crashed, a), **{field: value})
    _reject(crashed, [tx], Reason.AMOUNT_OUT_OF_RANGE)


def test_invalid_close_amount_overflow(levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    tx = make_takeover(crashed, a)
    for close in (
        replace(tx.closes[0], balance=Quantity(2**63)),
        replace(tx.closes[0], collateral=Collateral(-(2**63))),
    ):
        _reject(crashed, [replace(tx, closes=(close,))], Reason.AMOUNT_OUT_OF_RANGE)


@pytest.mark.parametrize("balance", [0, -BTC, BTC + 1])
def test_invalid_close_enlarges_or_flips(levered, balance: int) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    tx = make_takeover(crashed, a)
    close = replace(tx.closes[0], balance=Quantity(balance))
    _reject(
        crashed,
        [replace(tx, closes=(close,))],
        Reason.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS,
    )


def test_invalid_duplicate_asset(levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    tx = make_takeover(crashed, a)
    half = replace(
        tx.closes[0],
        balance=Quantity(BTC // 2),
        collateral=Collateral(tx.closes[0].collateral // 2),
    )
    _reject(crashed, [replace(tx, closes=(half, half))], Reason.DUPLICATE_ASSET)


def test_invalid_takeover_of_special_positions(cfg, levered) -> None:
    state, _, _ = levered
    crashed = _at(state, 28_500, fund=1_000 * USD)
    for pid, reason in (
        (cfg.fee_position_id, Reason.FEE_POSITION_PARTICIPATION),
        (cfg.insurance_position_id, Reason.INSURANCE_POSITION_PARTICIPATION),
    ):
        tx = InsuranceTakeover(
            liquidated_position_id=PositionId(pid),
            closes=(),
            penalty=Collateral(0),
            insurance_payment=Collateral(1),
        )
        _reject(crashed, [tx], reason)


def test_invalid_empty_takeover(levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    tx = replace(make_takeover(crashed, a), closes=())
    _reject(crashed, [tx], Reason.ZERO_FILL)


def test_invalid_close_in_unheld_asset(cfg, levered) -> None:
    state, a, _ = levered
    crashed = _at(state, 28_500)
    tx = make_takeover(crashed, a)
    eth = TakeoverClose(asset_id=AssetId(cfg.asset_ids[1]), balance=Quantity(1), collateral=0)  # type: ignore[arg-type]
    _reject(
        crashed,
        [replace(tx, closes=(*tx.closes, eth))],
        Reason.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS,
    )


# ------------------------------------------------------------------ deleverage and the fund


def test_fund_holding_balances_is_judged_by_value(cfg, levered) -> None:
    state, a, b = levered
    crashed = _at(state, 27_000)
    deleverage = Deleverage(
        deleveraged_position_id=PositionId(a),
        deleverager_position_id=PositionId(b),
        synthetic_asset_id=AssetId(cfg.asset_ids[0]),
        amount_synthetic=Quantity(BTC),
        amount_collateral=Collateral(28_000 * USD),
        deleverager_is_buying_synthetic=True,
    )
    price = crashed.global_state.prices[0]
    value = 10 * BTC * price // FXP_32_ONE
    # Plenty of collateral, but a short worth as much: the fund cannot absorb.
    short_fund = crashed.copy()
    empty = Position.empty(cfg.n_assets)
    short_fund.set_position(
        cfg.insurance_position_id,
        replace(empty, collateral=Collateral(value + 500 * USD)).with_balance(0, -10 * BTC),
    )
    execute_batch(short_fund, [deleverage], 2)
    # Negative collateral, but a long worth more: the fund can absorb.
    long_fund = crashed.copy()
    long_fund.set_position(
        cfg.insurance_position_id,
        replace(empty, collateral=Collateral(-value + 5_000 * USD)).with_balance(0, 10 * BTC),
    )
    _reject(long_fund, [deleverage], Reason.INSURANCE_FUND_CAN_ABSORB)


@settings(max_examples=25, deadline=None)
@given(
    usd=st.integers(min_value=20_000, max_value=28_999),
    fund=st.integers(min_value=0, max_value=20_000),
    penalty_share=st.integers(min_value=0, max_value=100),
)
def test_exchange_style_takeover_is_accepted_and_conserves(
    cfg, levered, usd: int, fund: int, penalty_share: int
) -> None:
    """Close at the oracle price; penalty up to min(bound, value left) or pay the deficit."""
    state, a, _ = levered
    crashed = _at(state, usd, fund=fund * USD)
    probe = make_takeover(crashed, a)
    remaining = -28_000 * USD + probe.closes[0].collateral
    if not is_liquidatable(compute_status(crashed.get_position(a), cfg, crashed.global_state)):
        _reject(crashed, [probe], Reason.UNLIQUIDATABLE_POSITION)
        return
    if remaining >= 0:
        tx = make_takeover(
            crashed, a, penalty=min(_bound(probe, crashed), remaining) * penalty_share // 100
        )
    else:
        tx = make_takeover(crashed, a, insurance_payment=-remaining)
    fund_tv = fund * USD * FXP_32_ONE + remaining * FXP_32_ONE
    fund_tv += BTC * crashed.global_state.prices[0] - probe.closes[0].collateral * FXP_32_ONE
    if remaining < 0 and fund_tv < 0:
        _reject(crashed, [tx], Reason.INSURANCE_FUND_INSOLVENT)
        return
    result = execute_batch(crashed, [tx], 2)
    assert compute_collateral_flows(result.effects) == (0, 0)
    assert result.state.get_position(a).collateral >= 0


def test_exchange_fair_transfers_are_exactly_what_deleverage_accepts(cfg, levered) -> None:
    """Partial steps priced on the current position: accepted; a quantum less: refused."""
    state, a, b = levered
    crashed = _at(state, 27_000)
    markets = {m.market: m for m in minimal().markets}
    btc = MarketId("BTC-USD")
    prices = {btc: crashed.global_state.prices[0]}
    for number, piece in enumerate((3 * BTC // 10, 3 * BTC // 10, 4 * BTC // 10)):
        position = apply_funding(crashed.get_position(a), crashed.global_state)
        balances = {btc: position.assets[0].balance}
        fair = compute_fair_transfer(position.collateral, balances, btc, -piece, prices, markets)

        def step(amount: int, piece: int = piece) -> Deleverage:
            return Deleverage(
                deleveraged_position_id=PositionId(a),
                deleverager_position_id=PositionId(b),
                synthetic_asset_id=AssetId(cfg.asset_ids[0]),
                amount_synthetic=Quantity(piece),
                amount_collateral=Collateral(amount),
                deleverager_is_buying_synthetic=True,
            )

        worse = Reason.ILLEGAL_POSITION_TRANSITION_REDUCING_TOTAL_VALUE_RISK_RATIO
        _reject(crashed, [step(fair - 1)], worse)
        _reject(crashed, [step(fair + 1)], Reason.UNFAIR_DELEVERAGE)
        crashed = execute_batch(crashed, [step(fair)], 3 + number).state
    assert crashed.get_position(a).is_empty()
