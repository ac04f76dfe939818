"""AIR v5: a trade's steps are tied to its fill, fees and the orders' signed limits.

Honest trades prove and verify in both witness modes. False trades are forced through the
test-only path: the debug checker names the violated constraint and the verifier rejects the
forged proof (``_forced`` of ``test_air``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.rollup.air import (
    build_batch_trace,
    build_batch_witness_trace,
    compute_batch_steps,
    compute_layout,
    prove_batch,
    verify_batch,
)
from starkperp.rollup.air.constraints import compute_trade_range_values
from starkperp.rollup.air.fairness import (
    FEE_SPLITS,
    PRICE_SPLITS,
    FairnessOperands,
    compute_chain_witness,
    compute_fee_coefficients,
    compute_price_coefficients,
    compute_split_witness,
)
from starkperp.rollup.air.layout import (
    ROLE_FEE_A,
    ROLE_FEE_B,
    ROLE_ORDER_A,
    ROLE_PARTY_A,
    ROLE_PARTY_B,
)
from starkperp.rollup.air.trace import StepWitness
from starkperp.rollup.batch import BatchResult, execute_batch
from starkperp.rollup.errors import RollupError, TransactionRejected
from starkperp.rollup.quantities import Collateral, FundingIndex, Quantity, Timestamp
from starkperp.rollup.state import compute_order_leaf, compute_position_leaf
from starkperp.rollup.transactions import LimitOrder, Trade
from starkperp.rollup.transactions.funding_tick import FundingIndexEntry, FundingTick
from starkperp.rollup.transactions.limit_order import validate_fairness
from starkperp.stark.evaluator import find_first_violation_vectorized
from tests.rollup.test_air import CFG, OPTIONS, _forced
from tests.strategies.rollup import make_order, make_transfer, make_world

STATE, TRADERS = make_world(CFG, 4, collateral=10**11)
ASSET = CFG.asset_ids[0]
SIZE, PRICE_COLL = 2 * 10**9, 6_000 * 10**6  # each order: 2e9 synthetic for 6000e6
FILL, FILL_COLL = 10**9, 3_000 * 10**6
FEE_LIMIT, FEE_A = 12 * 10**6, 3 * 10**6


def _trade(buyer, seller, nonce: int, *, fee_a: int = FEE_A, fee_b: int = 0) -> Trade:
    def order(trader, buying: bool) -> LimitOrder:
        return make_order(
            trader,
            asset_id=ASSET,
            is_buying=buying,
            amount_synthetic=SIZE,
            amount_collateral=PRICE_COLL,
            amount_fee=FEE_LIMIT,
            nonce=nonce,
        )

    return Trade(
        party_a_order=order(buyer, True),
        party_b_order=order(seller, False),
        actual_a_fee=Collateral(fee_a),
        actual_b_fee=Collateral(fee_b),
        actual_collateral=Collateral(FILL_COLL),
        actual_synthetic=Quantity(FILL),
    )


@pytest.fixture(scope="module")
def batch() -> BatchResult:
    """A partial fill (A buys, pays a fee; B sells, no fee), then a transfer between two
    other positions."""
    a, b, c, d = TRADERS
    return execute_batch(STATE, [_trade(a, b, 11), make_transfer(c, d, 7, 12)], 1)


def _steps(batch: BatchResult, *, squash: bool = False) -> list[StepWitness]:
    return compute_batch_steps(
        batch.prev_state, batch.effects, squash=squash, transactions=batch.transactions
    )


def test_trade_steps_take_their_roles(batch: BatchResult) -> None:
    steps = _steps(batch)
    assert [s.role for s in steps[:6]] == list(range(6))
    assert [s.tx_start for s in steps[:7]] == [True] + [False] * 5 + [True]
    fee_b = steps[ROLE_FEE_B]
    assert fee_b.position_id == CFG.fee_position_id and fee_b.old == fee_b.new
    assert steps[ROLE_FEE_A].new.collateral - steps[ROLE_FEE_A].old.collateral == FEE_A
    assert all(s.role == -1 and s.trade is None for s in steps[6:])
    assert all(s.trade is None for s in _steps(batch, squash=True))


def test_trade_batch_proves_in_both_modes(batch: BatchResult) -> None:
    for squash in (False, True):
        bt = build_batch_witness_trace(batch, squash=squash)
        assert find_first_violation_vectorized(bt.air, bt.trace, bt.public_inputs) is None
    proof = prove_batch(batch, OPTIONS)
    verify_batch(CFG, batch.public_input, proof, OPTIONS)
    bad = bytearray(proof)
    bad[len(bad) // 3] ^= 0x04
    with pytest.raises(RollupError):
        verify_batch(CFG, batch.public_input, bytes(bad), OPTIONS)


@pytest.fixture(scope="module")
def funded_trade(batch: BatchResult) -> BatchResult:
    """A funding tick, then a trade between two positions that hold the asset: both parties
    pay or receive funding in their trade steps."""
    a, b, _, _ = TRADERS
    g = batch.state.global_state
    tick = FundingTick(
        timestamp=Timestamp(g.funding_timestamp + 3600),
        indices=tuple(
            FundingIndexEntry(asset_id=asset, funding_index=FundingIndex(old + step))
            for asset, old, step in zip(CFG.asset_ids, g.funding_indices, (3000, -2), strict=True)
        ),
    )
    return execute_batch(batch.state, [tick, _trade(b, a, 21, fee_b=FEE_A)], 2)


def test_funded_trade_proves(funded_trade: BatchResult) -> None:
    steps = _steps(funded_trade)
    assert steps[ROLE_PARTY_A].funding and steps[ROLE_PARTY_B].funding
    for squash in (False, True):
        bt = build_batch_witness_trace(funded_trade, squash=squash)
        assert find_first_violation_vectorized(bt.air, bt.trace, bt.public_inputs) is None
    proof = prove_batch(funded_trade, OPTIONS)
    verify_batch(CFG, funded_trade.public_input, proof, OPTIONS)


def _forge(batch: BatchResult, edit) -> tuple[object, list[int]]:
    """Replay edited per-update steps (trades marked) and let the public input claim the
    forged final roots."""
    lay = compute_layout(CFG)
    work = batch.prev_state.copy()
    trees = {False: work.position_tree, True: work.order_tree}
    current: dict[tuple[bool, int], object] = {}
    steps = []
    for i, honest in enumerate(_steps(batch)):
        s = edit(i, honest)
        key = (s.is_order, s.position_id)
        prev = batch.prev_state
        start = prev.get_order(s.position_id) if s.is_order else prev.get_position(s.position_id)
        old = current.get(key, start if s is honest else s.old)
        if s is honest and not s.is_order and old != s.old:  # carry an earlier forged change
            s = _move(
                s,
                old.collateral - s.old.collateral,
                old.assets[0].balance - s.old.assets[0].balance,
            )
        tree = trees[s.is_order]
        steps.append(replace(s, old=old, siblings=tree.get_proof(s.position_id).siblings))
        leaf = compute_order_leaf(s.new) if s.is_order else compute_position_leaf(s.new)
        tree.set_leaf(s.position_id, leaf)
        current[(s.is_order, s.position_id)] = s.new
    prev = batch.prev_shared_state
    built = build_batch_trace(lay, steps, prev.positions_root, prev.orders_root, strict=False)
    shared = replace(
        batch.public_input.new_shared_state,
        positions_root=built.positions_root,
        orders_root=built.orders_root,
    )
    pi = replace(batch.public_input, new_shared_state=shared)
    return built.trace, [int(x) for x in pi.to_field_elements()]


def _move(s: StepWitness, collateral: int = 0, synthetic: int = 0) -> StepWitness:
    new = s.new.with_collateral(s.new.collateral + collateral)
    if synthetic:
        assets = list(new.assets)
        assets[0] = replace(assets[0], balance=assets[0].balance + synthetic)
        new = replace(new, assets=tuple(assets))
    return replace(s, new=new)


def _reprice(collateral: int = FILL_COLL, fee_a: int = FEE_A):
    """Return an edit that restates the trade's terms and moves the parties to match."""

    def edit(i: int, s: StepWitness) -> StepWitness:
        if s.trade is None:
            return s
        terms = replace(s.trade, collateral=collateral, fee_a=fee_a)
        extra_coll, extra_fee = collateral - FILL_COLL, fee_a - FEE_A
        s = replace(s, trade=terms)
        if s.role in (ROLE_FEE_A, ROLE_FEE_B):  # the fee position, twice
            return _move(s, extra_fee)
        if s.role == ROLE_PARTY_A:  # the buyer
            return _move(s, -extra_coll - extra_fee)
        if s.role == ROLE_PARTY_B:  # the seller
            return _move(s, extra_coll)
        return s

    return edit


def test_invalid_buyer_pays_past_signed_price(batch: BatchResult) -> None:
    trace, pis = _forge(batch, _reprice(collateral=FILL_COLL + 2))
    _forced(trace, pis, "range.order[fair.price.")


def test_invalid_seller_receives_below_signed_price(batch: BatchResult) -> None:
    trace, pis = _forge(batch, _reprice(collateral=FILL_COLL - 2))
    _forced(trace, pis, "range.order[fair.price.")


def test_invalid_fee_above_signed_limit(batch: BatchResult) -> None:
    # A's limit allows FEE_LIMIT · FILL_COLL / PRICE_COLL = 6e6 on this fill.
    trace, pis = _forge(batch, _reprice(fee_a=FEE_LIMIT * FILL_COLL // PRICE_COLL + 1))
    _forced(trace, pis, "range.order[fair.fee.")


def test_edge_of_signed_limits_follows_the_rules(batch: BatchResult) -> None:
    """At the limits (one quantum either side of the price, the full fee) the AIR accepts
    exactly the fills ``validate_fairness`` accepts for both orders."""
    trade = batch.transactions[0]
    assert isinstance(trade, Trade)
    air = build_batch_witness_trace(batch).air
    for coll, fee_a in (
        (FILL_COLL + 1, FEE_A),
        (FILL_COLL - 1, FEE_A),
        (FILL_COLL, FEE_LIMIT * FILL_COLL // PRICE_COLL),
    ):
        fair = _ok(trade.party_a_order, coll, FILL, fee_a) and _ok(
            trade.party_b_order, coll, FILL, 0
        )
        trace, pis = _forge(batch, _reprice(collateral=coll, fee_a=fee_a))
        violation = find_first_violation_vectorized(air, trace, pis)
        assert (violation is None) == fair, (coll, fee_a, violation)


def test_invalid_position_move_differs_from_fill(batch: BatchResult) -> None:
    def edit(i: int, s: StepWitness) -> StepWitness:
        if s.role == ROLE_PARTY_A:
            return _move(s, synthetic=1)
        if s.role == ROLE_PARTY_B:
            return _move(s, synthetic=-1)
        return s

    trace, pis = _forge(batch, edit)
    _forced(trace, pis, "trade.party_a.synthetic[0]")


def test_invalid_fill_differs_from_position_move(batch: BatchResult) -> None:
    def edit(i: int, s: StepWitness) -> StepWitness:
        if s.role == ROLE_ORDER_A:
            return replace(s, new=replace(s.new, filled=s.new.filled + 1))
        return s

    trace, pis = _forge(batch, edit)
    _forced(trace, pis, "trade.order_a.fill")


def test_invalid_collateral_move_differs(batch: BatchResult) -> None:
    steps = _steps(batch)
    sender = next(i for i, s in enumerate(steps) if s.trade is None and not s.is_order)

    def edit(i: int, s: StepWitness) -> StepWitness:
        if s.role == ROLE_PARTY_B:
            return _move(s, 5)
        return _move(s, -5) if i == sender else s

    trace, pis = _forge(batch, edit)
    _forced(trace, pis, "trade.party_b.collateral")


def test_invalid_fee_paid_to_another_position(batch: BatchResult) -> None:
    other = batch.prev_state.get_position(TRADERS[2].position_id)

    def edit(i: int, s: StepWitness) -> StepWitness:
        if s.role != ROLE_FEE_A:
            return s
        return replace(
            s,
            position_id=TRADERS[2].position_id,
            old=other,
            new=other.with_collateral(other.collateral + FEE_A),
        )

    trace, pis = _forge(batch, edit)
    _forced(trace, pis, "trade.fee_a.position")


@pytest.fixture(scope="module")
def holders(batch: BatchResult) -> BatchResult:
    """A second trade between the same parties: both hold the asset, neither closes it, no
    funding tick in between (a market maker's typical step)."""
    a, b, _, _ = TRADERS
    return execute_batch(batch.state, [_trade(a, b, 31)], 2)


def _shift_as_funding(batch: BatchResult) -> None:
    """Force funding components that sum to the public total but move no cached index."""

    def edit(i: int, s: StepWitness) -> StepWitness:
        if s.role == ROLE_PARTY_A:
            return replace(_move(s, 5), funding=5)
        if s.role == ROLE_PARTY_B:
            return replace(_move(s, -5), funding=-5)
        return s

    trace, pis = _forge(batch, edit)
    _forced(trace, pis, "fund.only_when_funded")


def test_invalid_collateral_moved_as_funding(batch: BatchResult) -> None:
    _shift_as_funding(batch)


def test_invalid_collateral_moved_as_funding_between_holders(holders: BatchResult) -> None:
    _shift_as_funding(holders)


def test_invalid_trade_cut_short(batch: BatchResult) -> None:
    def edit(i: int, s: StepWitness) -> StepWitness:
        return replace(s, tx_start=True) if s.role == ROLE_ORDER_A + 1 else s

    trace, pis = _forge(batch, edit)
    _forced(trace, pis, "tx.")


def _ok(order: LimitOrder, c: int, s: int, f: int) -> bool:
    try:
        validate_fairness(order, c, s, f)
    except TransactionRejected:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    big=st.integers(1, 2**62 - 1),
    coll=st.integers(1, 2**64 - 1),
    fee_limit=st.integers(0, 2**64 - 1),
    s=st.integers(1, 2**47 - 1),
    c=st.integers(0, 2**47 - 1),
    f=st.integers(0, 2**47 - 1),
    buying=st.booleans(),
    near=st.booleans(),
)
def test_fairness_arithmetic_matches_the_rules(
    big: int, coll: int, fee_limit: int, s: int, c: int, f: int, buying: bool, near: bool
) -> None:
    """The limb witnesses are all in range exactly when ``validate_fairness`` accepts."""
    if near:  # land next to the price and fee limits, where the slack matters
        c = min(2**47 - 1, max(0, coll * s // big + (c % 5) - 2))
        f = min(2**47 - 1, fee_limit * c // coll + (f % 3) - 1) if coll else f
        f = max(0, f)
    order = LimitOrder(
        position_id=2,
        public_key=1,
        asset_id_synthetic=ASSET,
        amount_synthetic=big,
        amount_collateral=coll,
        amount_fee=fee_limit,
        is_buying_synthetic=buying,
        nonce=0,
        expiration_hours=1,
    )
    ops = FairnessOperands(
        S1=big >> 32,
        S0=big & 0xFFFFFFFF,
        C1=coll >> 32,
        C0=coll & 0xFFFFFFFF,
        F1=fee_limit >> 32,
        F0=fee_limit & 0xFFFFFFFF,
        s1=s >> 32,
        s0=s & 0xFFFFFFFF,
        c1=c >> 32,
        c0=c & 0xFFFFFFFF,
        f1=f >> 32,
        f0=f & 0xFFFFFFFF,
        sigma=1 if buying else -1,
    )
    witnesses = []
    for splits, coefficients in (
        (PRICE_SPLITS, compute_price_coefficients),
        (FEE_SPLITS, compute_fee_coefficients),
    ):
        n = len(splits)
        split = compute_split_witness(ops, splits)
        e = coefficients(ops, split[:n], split[n:])
        chain = compute_chain_witness(e)
        r, k = chain[:3], chain[3:]
        assert (
            sum(v * 2 ** (32 * i) for i, v in enumerate(e))
            == r[0] + r[1] * 2**32 + (r[2] + k[2] * 2**32) * 2**64
        )
        witnesses.append(split + chain)
    values = compute_trade_range_values(ops, witnesses[0], witnesses[1])
    in_range = all(0 <= v < 2**32 for _, v in values)
    assert in_range == _ok(order, c, s, f)
