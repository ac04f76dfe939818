"""The event bridge: an exchange session replayed as rollup batches ends in the same money."""

from __future__ import annotations

import pytest

from starkperp.exchange import Exchange, Side
from starkperp.exchange.config import minimal
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.events import Deleveraged, FundingApplied, Liquidated
from starkperp.exchange.markets import price_from_human
from starkperp.exchange.model import AccountId, Fill, Timestamp
from starkperp.node.bridge import BridgeError, BridgeReason, EventBridge
from starkperp.rollup.batch import execute_batch
from starkperp.rollup.config import RollupConfig, get_preset
from starkperp.rollup.position import apply_funding
from starkperp.rollup.quantities import PublicKey
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import (
    Deleverage,
    Deposit,
    FundingTick,
    OraclePricesTick,
    Trade,
    Withdrawal,
)
from tests.exchange.helpers import BTC, START, USDC, make_order, new_exchange

ORACLE_KEY = PublicKey(0x0A11CE)
RECIPIENT = 0xBEEF


def _rollup_config() -> RollupConfig:
    return get_preset("minimal", oracle_signers=(ORACLE_KEY,), verify_signatures=False)


def _bridge(config: RollupConfig | None = None) -> EventBridge:
    return EventBridge(
        minimal(),
        config or _rollup_config(),
        oracle_public_key=ORACLE_KEY,
        get_recipient=lambda account: RECIPIENT,
    )


def _session() -> tuple[Exchange, list[int]]:
    """Deposits, BTC trades, one funding hour, more trades, a transfer and a withdrawal."""
    clock = ManualClock(START)
    ex = new_exchange(clock)
    accounts = [ex.create_account(public_key=0x1000 + i) for i in range(3)]
    for account in accounts:
        ex.deposit(account, 50_000 * USDC)
    a, b, c = accounts
    ex.place_order(make_order(ex, a, Side.SELL, "0.5", "50001", limit_fee=5_000))
    ex.place_order(make_order(ex, b, Side.BUY, "0.3", "50003", limit_fee=5_000))
    ex.place_order(make_order(ex, c, Side.BUY, "0.1", "50002", limit_fee=5_000))
    clock.advance(3_600)
    ex.advance_time()
    ex.place_order(make_order(ex, b, Side.SELL, "0.2", "49999", limit_fee=5_000))
    ex.place_order(make_order(ex, a, Side.BUY, "0.25", "50000", limit_fee=5_000))
    ex.transfer(c, a, 1_000 * USDC)
    ex.withdraw(b, 2_000 * USDC)
    return ex, accounts


def test_session_balances_match_exchange() -> None:
    ex, accounts = _session()
    events = list(ex.events)
    assert any(isinstance(e, FundingApplied) for e in events)
    bridge = _bridge()
    # Split the log into two batches, never inside one funding instant.
    half = next(i for i, e in enumerate(events) if isinstance(e, FundingApplied)) - 1
    txs_1 = bridge.translate(events[:half])
    txs_2 = bridge.translate(events[half:])
    kinds = {type(tx) for tx in txs_1 + txs_2}
    assert {Deposit, Trade, FundingTick, OraclePricesTick, Withdrawal} <= kinds
    config = _rollup_config()
    genesis = RollupState.genesis(config)
    first = execute_batch(genesis, txs_1, 0)
    second = execute_batch(first.state, txs_2, 1)
    state = second.state
    slot = config.get_asset_slot(config.assets[0].asset_id)
    for account in accounts:
        view = ex.get_account(account)
        position = apply_funding(state.get_position(account), state.global_state)
        assert position.collateral == view.collateral
        assert position.assets[slot].balance == ex.get_position(account, BTC).balance
    # Documented difference: the exchange credits funding's rounding dust to its fee account
    # at once; the rollup funds lazily and the dust is the batch's funding collateral change.
    paid = sum(p.funding_paid for acc in accounts for p in ex.get_positions(acc))
    fee_position = state.get_position(config.fee_position_id)
    assert ex.get_account(ex.fee_account_id).collateral == fee_position.collateral + paid
    assert second.public_input.total_withdrawals == 2_000 * USDC


def test_deleverage_matches_exchange() -> None:
    clock = ManualClock(START)
    ex = new_exchange(clock)
    a, b = (ex.create_account(public_key=0x2000 + i) for i in range(2))
    ex.deposit(a, 3_000 * USDC)
    ex.deposit(b, 100_000 * USDC)
    ex.place_order(make_order(ex, b, Side.SELL, "1", "50000", limit_fee=5_000))
    ex.place_order(make_order(ex, a, Side.BUY, "1", "50000", limit_fee=5_000))
    clock.advance(60)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "46000"))
    balance = ex.get_position(a, BTC).balance
    ex.deleverage(a, b, BTC, -balance)
    events = list(ex.events)
    assert any(isinstance(e, Deleveraged) for e in events)
    txs = _bridge().translate(events)
    assert any(isinstance(tx, Deleverage) for tx in txs)
    config = _rollup_config()
    state = execute_batch(RollupState.genesis(config), txs, 0).state
    for account in (a, b):
        position = apply_funding(state.get_position(account), state.global_state)
        assert position.collateral == ex.get_account(account).collateral
        assert position.assets[0].balance == ex.get_position(account, BTC).balance


def test_fill_rounding_remainder_goes_to_fee_position() -> None:
    ex, _ = _session()
    fills = [f for f in ex.events if isinstance(f, Fill)]
    assert any(f.buyer_collateral != f.seller_collateral for f in fills)
    trades = [tx for tx in _bridge().translate(ex.events) if isinstance(tx, Trade)]
    assert len(trades) == len(fills)
    for fill, trade in zip(fills, trades, strict=True):
        fees = trade.actual_a_fee + trade.actual_b_fee
        assert (
            fees == fill.maker_fee + fill.taker_fee + fill.buyer_collateral - fill.seller_collateral
        )


def test_invalid_liquidation_not_bridged_changes_nothing() -> None:
    ex, _ = _session()
    events = list(ex.events)
    bridge = _bridge()
    liquidated = Liquidated(
        time=Timestamp(START + 7_200),
        account_id=AccountId(100),
        closes=(),
        penalty=0,  # type: ignore[arg-type]
        insurance_payment=0,  # type: ignore[arg-type]
    )
    with pytest.raises(BridgeError) as info:
        bridge.translate([*events, liquidated])
    assert info.value.reason is BridgeReason.LIQUIDATION_NOT_BRIDGED
    # The failed call left no memory behind: the orders of the session are unknown again.
    fills = [e for e in events if isinstance(e, Fill)]
    with pytest.raises(BridgeError) as unknown:
        bridge.translate(fills[:1])
    assert unknown.value.reason is BridgeReason.UNKNOWN_ORDER


def test_invalid_deleverage_against_its_side() -> None:
    ex, (a, b, _) = _session()
    wrong = Deleveraged(
        time=Timestamp(START + 7_200),
        deleveraged_account_id=AccountId(a),
        deleverager_account_id=AccountId(b),
        market=BTC,
        quantity=-1_000_000,  # type: ignore[arg-type]
        collateral=-5,  # type: ignore[arg-type]
    )
    with pytest.raises(BridgeError) as info:
        _bridge().translate([*ex.events, wrong])
    assert info.value.reason is BridgeReason.DELEVERAGE_NOT_BRIDGED


def test_invalid_funding_instant_split() -> None:
    ex, _ = _session()
    events = list(ex.events)
    cut = next(i for i, e in enumerate(events) if isinstance(e, FundingApplied)) + 1
    bridge = _bridge()
    bridge.translate(events[:cut])
    with pytest.raises(BridgeError) as info:
        bridge.translate(events[cut:])
    assert info.value.reason is BridgeReason.FUNDING_INSTANT_SPLIT


def test_invalid_withdrawal_without_recipient() -> None:
    ex, _ = _session()
    bridge = EventBridge(
        minimal(),
        _rollup_config(),
        oracle_public_key=ORACLE_KEY,
        get_recipient=lambda account: None,
    )
    with pytest.raises(BridgeError) as info:
        bridge.translate(ex.events)
    assert info.value.reason is BridgeReason.NO_WITHDRAWAL_RECIPIENT


def test_invalid_deposit_without_public_key() -> None:
    ex = new_exchange(ManualClock(START))
    account = ex.create_account()
    ex.deposit(account, USDC)
    with pytest.raises(BridgeError) as info:
        _bridge().translate(ex.events)
    assert info.value.reason is BridgeReason.NO_PUBLIC_KEY


def test_invalid_bridge_over_signature_checking_rollup() -> None:
    config = get_preset("minimal", oracle_signers=(ORACLE_KEY,), verify_signatures=True)
    with pytest.raises(BridgeError) as info:
        _bridge(config)
    assert info.value.reason is BridgeReason.SIGNATURES_REQUIRED
