"""The event bridge: an exchange session replayed as rollup batches ends in the same money.

Including a 30 % crash: liquidations (insurance takeovers) and deleveraging.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import pytest

from starkperp.exchange import Exchange, Side
from starkperp.exchange.config import minimal
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.events import Deleveraged, FundingApplied, Liquidated, PositionClose
from starkperp.exchange.markets import Collateral, MarketId, price_from_human
from starkperp.exchange.model import AccountId, Fill, Quantity, Timestamp
from starkperp.node.bridge import BridgeError, BridgeReason, EventBridge
from starkperp.rollup.batch import BatchRejected, execute_batch
from starkperp.rollup.config import RollupConfig, get_preset
from starkperp.rollup.errors import Reason
from starkperp.rollup.position import apply_funding
from starkperp.rollup.quantities import PublicKey
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import (
    Deleverage,
    Deposit,
    FundingTick,
    InsuranceTakeover,
    OraclePricesTick,
    Trade,
    Withdrawal,
)
from tests.exchange.helpers import BTC, ETH, START, USDC, make_order, new_exchange

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


def test_bridge_forgets_orders_that_can_no_longer_fill() -> None:
    ex, accounts = _session()
    b = accounts[1]
    resting = make_order(ex, b, Side.BUY, "0.05", "40000", limit_fee=5_000)
    ex.place_order(resting)
    ex.cancel_all(b, BTC)
    bridge = _bridge()
    bridge.translate(ex.events)
    still_open = {view.order_id for account in accounts for view in ex.get_open_orders(account)}
    # cancelled and completely filled orders are gone; the rest may still fill
    assert set(bridge._memory.orders) == still_open
    assert set(bridge._memory.filled) <= still_open


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


def _crash_session(btc_shorts: int = 1) -> tuple[Exchange, list[int]]:
    """A funded insurance fund, longs on BTC and ETH, a dip, a funding hour, a 30 % crash.

    The dip liquidates the weakest long with a penalty; the crash liquidates the rest:
    bankrupt longs covered by the fund, then (fund drained) a payment of what it has left
    and deleveraging against the shorts, some of them in both markets.
    """
    clock = ManualClock(START)
    ex = new_exchange(clock)
    keys = iter(range(0x5000, 0x6000))

    def funded(usd: int) -> int:
        account = ex.create_account(public_key=next(keys))
        ex.deposit(account, usd * USDC)
        return account

    client_ids = (f"crash-{n}" for n in itertools.count())  # fixed order hashes, hence keys

    def trade(buyer: int, seller: int, size: str, price: str, market: str = BTC) -> None:
        for account, side in ((seller, Side.SELL), (buyer, Side.BUY)):
            order = make_order(
                ex,
                account,
                side,
                size,
                price,
                market=market,
                limit_fee=5_000,
                client_id=next(client_ids),
            )
            ex.place_order(order)

    ex.deposit(ex.insurance_fund_id, 40_000 * USDC)
    shorts = [funded(900_000 // btc_shorts) for _ in range(btc_shorts)]
    short_eth = funded(300_000)
    longs = []
    for i in range(10):
        long = funded(3_500 + 300 * i)
        if btc_shorts == 1:
            trade(long, shorts[0], "1", "50000")
        else:  # no short holds a long's whole BTC: deleveraging it takes several pieces
            trade(long, shorts[(2 * i) % btc_shorts], "0.5", "50000")
            trade(long, shorts[(2 * i + 1) % btc_shorts], "0.5", "50000")
        if i % 2:
            trade(long, short_eth, "2", "3000", market=ETH)
        longs.append(long)
    for btc, eth in (("48000", "2880"), ("48000", "2880"), ("35000", "2100")):
        clock.advance(1_800)
        ex.advance_time()
        ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), btc))
        ex.set_oracle_price(ETH, price_from_human(ex.get_market(ETH), eth))
        ex.process_liquidations()
    return ex, [*shorts, short_eth, *longs]


def _collateral(state: RollupState, position_id: int) -> int:
    return apply_funding(state.get_position(position_id), state.global_state).collateral


def _crash_config() -> RollupConfig:
    # The fund takes deposits under its configured key. The session's fixed client ids give
    # order keys that do not collide in the minimal preset's 8-deep order tree.
    return replace(_rollup_config(), insurance_position_key=PublicKey(0xF00D))


@pytest.mark.parametrize("btc_shorts", [1, 20])
def test_crash_session_settles_with_exchange_balances(btc_shorts: int) -> None:
    ex, accounts = _crash_session(btc_shorts)
    events = list(ex.events)
    if btc_shorts > 1:  # some bankrupt position's market was deleveraged in several pieces
        pieces = Counter(
            (e.deleveraged_account_id, e.market) for e in events if isinstance(e, Deleveraged)
        )
        assert max(pieces.values()) >= 2
    liquidations = [e for e in events if isinstance(e, Liquidated)]
    deleverages = [e for e in events if isinstance(e, Deleveraged)]
    assert any(e.penalty > 0 for e in liquidations)
    assert any(e.insurance_payment > 0 and e.closes for e in liquidations)
    assert any(e.insurance_payment > 0 and not e.closes for e in liquidations)
    assert any(len(e.closes) == 2 for e in liquidations)
    assert len({(e.deleveraged_account_id, e.market) for e in deleverages}) >= 4
    assert any(isinstance(e, FundingApplied) for e in events)
    # One batch per stretch of the log, each ending before a liquidation.
    cuts = [i for i, e in enumerate(events) if isinstance(e, Liquidated)]
    bounds = [0, *cuts, len(events)]
    config = _crash_config()
    if btc_shorts > 1:  # more orders than the 8-deep order tree holds without key collisions
        config = replace(config, orders_depth=32)
    bridge = _bridge(config)
    state = RollupState.genesis(config)
    kinds: set[type] = set()
    for number, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        txs = bridge.translate(events[lo:hi])
        kinds |= {type(tx) for tx in txs}
        state = execute_batch(state, txs, number).state
    assert {InsuranceTakeover, Deleverage, FundingTick} <= kinds
    fund = ex.insurance_fund_id
    for account in [*accounts, fund]:
        position = apply_funding(state.get_position(account), state.global_state)
        assert position.collateral == ex.get_account(account).collateral, account
        for slot, market in enumerate((BTC, ETH)):
            assert position.assets[slot].balance == ex.get_position(account, market).balance
    # The exchange credits funding's rounding dust (under a quantum per position and tick) to
    # its fee account at once; the rollup's funding rounding simply leaves the system.
    dust = ex.get_account(ex.fee_account_id).collateral - _collateral(state, config.fee_position_id)
    n_ticks = sum(isinstance(e, FundingApplied) for e in events)
    assert 0 <= dust < n_ticks * (len(accounts) + 1)
    rollup_total = sum(_collateral(state, i) for i in [*accounts, fund, config.fee_position_id])
    assert rollup_total + dust == ex.compute_total_collateral()


def test_liquidation_becomes_insurance_takeover() -> None:
    ex, _ = _crash_session()
    bridge = _bridge(_crash_config())
    config = _crash_config()
    txs = bridge.translate(ex.events)
    takeovers = [tx for tx in txs if isinstance(tx, InsuranceTakeover)]
    liquidations = [e for e in ex.events if isinstance(e, Liquidated)]
    assert len(takeovers) == len(liquidations)
    by_market = {BTC: config.asset_ids[0], ETH: config.asset_ids[1]}
    for event, tx in zip(liquidations, takeovers, strict=True):
        assert tx.liquidated_position_id == event.account_id
        assert tx.penalty == event.penalty
        assert tx.insurance_payment == event.insurance_payment
        assert [(c.asset_id, c.balance, c.collateral) for c in tx.closes] == [
            (by_market[c.market], c.balance, c.collateral) for c in event.closes
        ]


def test_invalid_tampered_liquidation_is_rejected_by_the_rollup() -> None:
    ex, _ = _crash_session()
    events = list(ex.events)
    index = next(i for i, e in enumerate(events) if isinstance(e, Liquidated) and e.penalty)
    event = events[index]
    assert isinstance(event, Liquidated)
    close = event.closes[0]
    tampered = {
        Reason.LIQUIDATION_PENALTY_TOO_LARGE: replace(event, penalty=Collateral(event.penalty * 3)),
        Reason.TAKEOVER_NOT_AT_ORACLE_PRICE: replace(
            event, closes=(replace(close, collateral=Collateral(close.collateral - 1)),)
        ),
    }
    config = _crash_config()
    for reason, bad in tampered.items():
        txs = _bridge(config).translate([*events[:index], bad])
        with pytest.raises(BatchRejected) as info:
            execute_batch(RollupState.genesis(config), txs, 0)
        assert info.value.reason is reason
        assert info.value.index == len(txs) - 1


def test_invalid_liquidation_in_unknown_market_changes_nothing() -> None:
    ex, _ = _session()
    events = list(ex.events)
    bridge = _bridge()
    liquidated = Liquidated(
        time=Timestamp(START + 7_200),
        account_id=AccountId(100),
        closes=(
            PositionClose(
                market=MarketId("DOGE-USD"),
                balance=Quantity(10),
                collateral=Collateral(1),
            ),
        ),
        penalty=Collateral(0),
        insurance_payment=Collateral(0),
    )
    with pytest.raises(BridgeError) as info:
        bridge.translate([*events, liquidated])
    assert info.value.reason is BridgeReason.UNKNOWN_MARKET
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
