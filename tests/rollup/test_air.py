"""The batch AIR: honest batches prove and verify; tampered proofs and false statements fail.

Every proof test has a tampered twin. False statements are forced through the test-only path
(``_prove(..., check_constraints=False)``): the debug checker must name the violated
constraint and the verifier must reject the proof.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings

from starkperp.field.goldilocks import Felt
from starkperp.rollup.air import (
    build_batch_trace,
    build_batch_witness_trace,
    compute_batch_steps,
    compute_layout,
    get_batch_air,
    prove_batch,
    verify_batch,
)
from starkperp.rollup.air.trace import StepWitness
from starkperp.rollup.batch import BatchResult, apply_effect, execute_batch
from starkperp.rollup.errors import Reason, RollupError, TransactionRejected
from starkperp.rollup.hashing import Digest
from starkperp.rollup.public_input import PublicInput
from starkperp.rollup.quantities import FundingIndex, PublicKey, Timestamp
from starkperp.rollup.state import (
    OrderLeaf,
    SharedState,
    compute_order_leaf,
    compute_position_leaf,
)
from starkperp.rollup.transactions import StateView, apply_transaction
from starkperp.rollup.transactions.funding_tick import FundingIndexEntry, FundingTick
from starkperp.stark.air import find_first_violation
from starkperp.stark.evaluator import find_first_violation_vectorized
from starkperp.stark.options import PRESETS
from starkperp.stark.proof import Proof
from starkperp.stark.prover import _prove
from tests.strategies.rollup import (
    make_config,
    make_trade,
    make_transfer,
    make_world,
    transaction_lists,
)

OPTIONS = PRESETS["minimal"]
CFG = replace(make_config(verify_signatures=False, depth=4), orders_depth=8)
STATE, TRADERS = make_world(CFG, 3, collateral=10**11)


@pytest.fixture(scope="module")
def batch() -> BatchResult:
    a, b, c = TRADERS
    trade = make_trade(
        a,
        b,
        asset_id=CFG.asset_ids[0],
        amount_synthetic=10**9,
        amount_collateral=3_000 * 10**6,
        nonce=1,
    )
    return execute_batch(STATE, [trade, make_transfer(a, c, 5, 2)], 1)


@pytest.fixture(scope="module")
def proof(batch: BatchResult) -> bytes:
    return prove_batch(batch, OPTIONS)


def test_layout_schedule_fits() -> None:
    lay = compute_layout(CFG)
    assert lay.root_row < lay.step_rows - 1
    assert lay.n_lanes * lay.windows_per_lane >= 4
    assert get_batch_air(CFG).trace_width == lay.width


def test_invalid_orders_depth_beyond_key_binding() -> None:
    with pytest.raises(RollupError) as exc:
        compute_layout(replace(CFG, orders_depth=63))
    assert exc.value.reason is Reason.INVALID_CONFIG


def test_batch_proof_verifies(batch: BatchResult, proof: bytes) -> None:
    verify_batch(CFG, batch.public_input, proof, OPTIONS)


def test_honest_trace_satisfies_every_constraint(batch: BatchResult) -> None:
    bt = build_batch_witness_trace(batch)
    assert find_first_violation_vectorized(bt.air, bt.trace, bt.public_inputs) is None


def test_squashed_batch_proof_verifies_and_tampered_twin_fails(batch: BatchResult) -> None:
    steps = compute_batch_steps(batch.prev_state, batch.effects, squash=True)
    assert len({s.position_id for s in steps}) == len(steps) or steps[-1].old == steps[-1].new
    proof = prove_batch(batch, OPTIONS, squash=True)
    verify_batch(CFG, batch.public_input, proof, OPTIONS)
    bad = bytearray(proof)
    bad[len(bad) // 2] ^= 0x80
    with pytest.raises(RollupError):
        verify_batch(CFG, batch.public_input, bytes(bad), OPTIONS)


def test_batch_proof_is_deterministic(batch: BatchResult, proof: bytes) -> None:
    assert prove_batch(batch, OPTIONS) == proof


def test_invalid_tampered_proof_every_section(batch: BatchResult, proof: bytes) -> None:
    spans = Proof.get_section_spans(proof)
    assert spans
    for name, start, end in spans:
        if end <= start:
            continue
        for offset in {start, (start + end) // 2, end - 1}:
            bad = bytearray(proof)
            bad[offset] ^= 0x01
            with pytest.raises(RollupError) as exc:
                verify_batch(CFG, batch.public_input, bytes(bad), OPTIONS)
            assert exc.value.reason is Reason.INVALID_BATCH_PROOF, name


def test_invalid_proof_for_other_public_input(batch: BatchResult, proof: bytes) -> None:
    other = replace(batch.public_input, batch_number=batch.public_input.batch_number + 1)
    with pytest.raises(RollupError):
        verify_batch(CFG, other, proof, OPTIONS)


def _forced(
    trace, public_inputs: list[int], constraint_prefix: str, *, scalar: bool = False
) -> None:
    air = get_batch_air(CFG)
    checker = find_first_violation if scalar else find_first_violation_vectorized
    violation = checker(air, trace, public_inputs)
    assert violation is not None and violation.constraint.startswith(constraint_prefix), violation
    forged = _prove(air, trace, public_inputs, OPTIONS, check_constraints=False)
    with pytest.raises(Exception) as exc:
        from starkperp.stark.verifier import verify

        verify(air, public_inputs, forged, OPTIONS)
    assert type(exc.value).__name__ == "VerificationError"


def _with_root(pi: PublicInput, root: Digest) -> PublicInput:
    shared: SharedState = replace(pi.new_shared_state, positions_root=root)
    return replace(pi, new_shared_state=shared)


def test_invalid_wrong_new_root(batch: BatchResult) -> None:
    bt = build_batch_witness_trace(batch)
    root = batch.public_input.new_shared_state.positions_root
    bad_pi = _with_root(
        batch.public_input, (root[0], root[1], root[2], (root[3] + 1) % (2**64 - 2**32 + 1))
    )
    _forced(bt.trace, [int(x) for x in bad_pi.to_field_elements()], "root.final", scalar=True)


def _forge(batch: BatchResult, edit, *, squash: bool = False) -> tuple[object, list[int]]:
    """Replay edited witness steps on the previous trees (paths stay consistent), lay them
    out, and let the public input claim the forged final roots."""
    lay = compute_layout(CFG)
    honest = compute_batch_steps(batch.prev_state, batch.effects, squash=squash)
    work = batch.prev_state.copy()
    trees = {False: work.position_tree, True: work.order_tree}
    current: dict[tuple[bool, int], object] = {}
    steps = []
    for i, s in enumerate(honest):
        s = edit(i, s)
        old = current.get((s.is_order, s.position_id), s.old)
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


def _last_update_of_first_position(batch: BatchResult) -> int:
    steps = compute_batch_steps(batch.prev_state, batch.effects)
    return max(i for i, s in enumerate(steps) if s.position_id == steps[0].position_id)


def test_invalid_minted_collateral(batch: BatchResult) -> None:
    last = _last_update_of_first_position(batch)

    def mint(i: int, s: StepWitness) -> StepWitness:
        return replace(s, new=s.new.with_collateral(s.new.collateral + 10**6)) if i == last else s

    trace, pis = _forge(batch, mint)
    _forced(trace, pis, "conserve.total")


def test_invalid_minted_synthetic(batch: BatchResult) -> None:
    last = _last_update_of_first_position(batch)

    def mint(i: int, s: StepWitness) -> StepWitness:
        return (
            replace(s, new=s.new.with_balance(0, s.new.assets[0].balance + 1)) if i == last else s
        )

    trace, pis = _forge(batch, mint)
    _forced(trace, pis, "conserve.synthetic[0]")


@pytest.fixture(scope="module")
def second_fill() -> BatchResult:
    """A batch filling the second half of an order half-filled by the previous batch."""
    a, b, _ = TRADERS
    t = make_trade(
        a,
        b,
        asset_id=CFG.asset_ids[0],
        amount_synthetic=2 * 10**9,
        amount_collateral=6_000 * 10**6,
        nonce=5,
    )
    half = replace(
        t, actual_synthetic=10**9, actual_collateral=3_000 * 10**6, actual_a_fee=0, actual_b_fee=0
    )
    first = execute_batch(STATE, [half], 1)
    return execute_batch(first.state, [half], 2)


def _forge_order(batch: BatchResult, **changes: int) -> tuple[object, list[int]]:
    steps = compute_batch_steps(batch.prev_state, batch.effects, squash=True)
    target = next(i for i, s in enumerate(steps) if s.is_order)
    assert steps[target].old.filled > 0

    def edit(i: int, s: StepWitness) -> StepWitness:
        return replace(s, new=replace(s.new, **changes)) if i == target else s

    return _forge(batch, edit, squash=True)


def test_second_fill_proves(second_fill: BatchResult) -> None:
    proof = prove_batch(second_fill, OPTIONS, squash=True)
    verify_batch(CFG, second_fill.public_input, proof, OPTIONS)


def test_invalid_order_fill_reset(second_fill: BatchResult) -> None:
    """Replay protection: an order leaf's filled amount may never go down."""
    trace, pis = _forge_order(second_fill, filled=0)
    _forced(trace, pis, "range.order[fill")


def test_invalid_fill_past_signed_amount(second_fill: BatchResult) -> None:
    """Order leaf v2: the fill never passes the signed amount the leaf stores."""
    steps = compute_batch_steps(second_fill.prev_state, second_fill.effects, squash=True)
    order = next(s for s in steps if s.is_order)
    assert order.new.filled == order.new.amount
    trace, pis = _forge_order(second_fill, filled=order.new.amount + 1)
    _forced(trace, pis, "range.order[slack")


def test_invalid_signed_amount_raised(second_fill: BatchResult) -> None:
    """An existing order leaf's limits are constant: no later batch may raise its size."""
    steps = compute_batch_steps(second_fill.prev_state, second_fill.effects, squash=True)
    order = next(s for s in steps if s.is_order)
    trace, pis = _forge_order(second_fill, filled=order.new.amount + 1, amount=order.new.amount + 1)
    _forced(trace, pis, "order.limit_constant[7]")


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("amount_collateral", 1, "order.limit_constant[9]"),
        ("amount_fee", 1, "order.limit_constant[11]"),
        ("is_buying", None, "order.limit_constant[12]"),
        ("expiration_hours", 1, "order.limit_constant[13]"),
    ],
)
def test_invalid_signed_limit_changed(
    second_fill: BatchResult, field: str, value: int | None, constraint: str
) -> None:
    steps = compute_batch_steps(second_fill.prev_state, second_fill.effects, squash=True)
    order = next(s for s in steps if s.is_order)
    new_value = (not order.new.is_buying) if value is None else getattr(order.new, field) + value
    trace, pis = _forge_order(second_fill, **{field: new_value})
    _forced(trace, pis, constraint)


def test_invalid_fill_past_amount_at_creation(batch: BatchResult) -> None:
    """A new order leaf may not start above the amount it records."""
    steps = compute_batch_steps(batch.prev_state, batch.effects)
    target = next(i for i, s in enumerate(steps) if s.is_order)

    def overfill(i: int, s: StepWitness) -> StepWitness:
        return replace(s, new=replace(s.new, amount=s.new.filled - 1)) if i == target else s

    trace, pis = _forge(batch, overfill)
    _forced(trace, pis, "range.order[slack")


def test_invalid_order_side_not_binary(batch: BatchResult) -> None:
    steps = compute_batch_steps(batch.prev_state, batch.effects)
    target = next(i for i, s in enumerate(steps) if s.is_order)

    def side(i: int, s: StepWitness) -> StepWitness:
        return replace(s, new=replace(s.new, is_buying=2)) if i == target else s

    trace, pis = _forge(batch, side)
    _forced(trace, pis, "order.side_binary")


def test_invalid_order_leaf_emptied() -> None:
    """A used order leaf never returns to the empty leaf (its fill could start over)."""
    state = STATE.copy()
    state.set_order(5, OrderLeaf(message_hash=12345))  # used, with all-zero limits
    a, _, c = TRADERS
    result = execute_batch(state, [make_transfer(a, c, 5, 2)], 1)

    def empty_it(i: int, s: StepWitness) -> StepWitness:
        if not s.is_order:
            return s
        return replace(s, position_id=5, old=OrderLeaf(message_hash=12345), new=OrderLeaf())

    trace, pis = _forge(result, empty_it)
    _forced(trace, pis, "order.not_emptied")


def test_invalid_order_hash_swapped(second_fill: BatchResult) -> None:
    trace, pis = _forge_order(second_fill, message_hash=7)
    _forced(trace, pis, "key.owner")


def test_invalid_owner_key_changed(batch: BatchResult) -> None:
    def steal(i: int, s: StepWitness) -> StepWitness:
        return replace(s, new=replace(s.new, public_key=PublicKey(12345))) if i == 0 else s

    trace, pis = _forge(batch, steal)
    _forced(trace, pis, "key.owner")


def test_invalid_path_not_shared(batch: BatchResult) -> None:
    """The new leaf is hashed up a different path than the old one (a moved position)."""
    lay = compute_layout(CFG)
    steps = compute_batch_steps(batch.prev_state, batch.effects)
    prev = batch.prev_shared_state
    trace = build_batch_trace(lay, steps, prev.positions_root, prev.orders_root).trace
    row = lay.merge_rows()[0] + 1  # first merge cycle's input row of step 0
    trace[lay.hasher_b + 8, row] = (int(trace[lay.hasher_b + 8, row]) + 1) % (2**64 - 2**32 + 1)
    _forced(trace, [int(x) for x in batch.public_input.to_field_elements()], "merge.sibling")


def test_invalid_unprovable_batch_reported() -> None:
    state, (a, b) = make_world(CFG, 2, collateral=2**47 + 10)
    big = execute_batch(state, [make_transfer(a, b, 2**47 + 5, 9)], 2)
    with pytest.raises(RollupError) as exc:
        build_batch_witness_trace(big)
    assert exc.value.reason is Reason.UNPROVABLE_BATCH


def test_fast_trace_equals_reference(batch: BatchResult) -> None:
    import numpy as np

    lay = compute_layout(CFG)
    steps = compute_batch_steps(batch.prev_state, batch.effects)
    steps = [steps[0], next(s for s in steps if s.is_order)]
    work = batch.prev_state.copy()
    steps[1] = replace(
        steps[1],
        siblings=work.order_tree.get_proof(steps[1].position_id).siblings,
        old=work.get_order(steps[1].position_id),
    )
    prev = batch.prev_shared_state
    fast = build_batch_trace(lay, steps, prev.positions_root, prev.orders_root, fast=True)
    slow = build_batch_trace(lay, steps, prev.positions_root, prev.orders_root, fast=False)
    assert np.array_equal(fast.trace, slow.trace)
    assert (fast.positions_root, fast.orders_root, fast.totals) == (
        slow.positions_root,
        slow.orders_root,
        slow.totals,
    )


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transaction_lists(TRADERS, CFG))
def test_random_valid_batches_prove(txs) -> None:
    work = STATE.copy()
    kept = []
    for tx in txs:
        try:
            effect = apply_transaction(StateView(base=work), tx)
        except TransactionRejected:
            continue
        apply_effect(work, effect)
        kept.append(tx)
    result = execute_batch(STATE, kept, 3)
    for squash in (False, True):  # per update: every trade marked and checked (AIR v5)
        bt = build_batch_witness_trace(result, squash=squash)
        assert find_first_violation_vectorized(bt.air, bt.trace, bt.public_inputs) is None
    proof = prove_batch(result, OPTIONS, squash=True)
    verify_batch(CFG, result.public_input, proof, OPTIONS)


def _with_index(position, slot: int, index: int):
    assets = tuple(
        replace(a, cached_funding_index=index) if k == slot else a
        for k, a in enumerate(position.assets)
    )
    return replace(position, assets=assets)


@pytest.fixture(scope="module")
def funded(batch: BatchResult) -> BatchResult:
    """A funding tick moves both indices, then a transfer funds trader a's position: its
    traded slot caches the new non-zero index, its untraded slot keeps index 0."""
    a, _, c = TRADERS
    g = batch.state.global_state
    tick = FundingTick(
        timestamp=Timestamp(g.funding_timestamp + 3600),
        indices=tuple(
            FundingIndexEntry(asset_id=asset, funding_index=FundingIndex(old + step))
            for asset, old, step in zip(CFG.asset_ids, g.funding_indices, (3, -2), strict=True)
        ),
    )
    return execute_batch(batch.state, [tick, make_transfer(a, c, 7, 3)], 2)


def test_funded_batch_proves(funded: BatchResult) -> None:
    steps = compute_batch_steps(funded.prev_state, funded.effects)
    news = [s.new for s in steps if not s.is_order]
    cached = {a.cached_funding_index for p in news for a in p.assets if a.balance}
    assert any(cached), "the batch must cache a non-zero funding index"
    for squash in (False, True):
        bt = build_batch_witness_trace(funded, squash=squash)
        assert find_first_violation_vectorized(bt.air, bt.trace, bt.public_inputs) is None
    proof = prove_batch(funded, OPTIONS)
    verify_batch(CFG, funded.public_input, proof, OPTIONS)


def test_invalid_funding_index_on_zero_balance(batch: BatchResult) -> None:
    """Leaf encoding v1: a zero balance stores cached funding index 0."""

    def stale(i: int, s: StepWitness) -> StepWitness:
        if i != 0:
            return s
        assert not s.is_order and s.new.assets[1].balance == 0
        return replace(s, new=_with_index(s.new, 1, 5))

    trace, pis = _forge(batch, stale)
    _forced(trace, pis, "fund.zero_balance[1]")


def test_invalid_funding_index_not_canonical(
    batch: BatchResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same index with a borrowed limb (hi - 1, lo + 2^32) hashes to another leaf."""
    import starkperp.rollup.air.trace as trace_module
    import starkperp.rollup.state as state_module

    honest_elements = state_module.compute_position_elements
    marked: list[object] = []

    def elements(position):
        out = honest_elements(position)
        if any(position is m for m in marked):
            hi, lo = compute_layout(CFG).funding_limbs(0)
            out[hi], out[lo] = Felt(int(out[hi]) - 1), Felt(int(out[lo]) + 2**32)
        return out

    monkeypatch.setattr(state_module, "compute_position_elements", elements)
    monkeypatch.setattr(trace_module, "compute_position_elements", elements)
    last = _last_update_of_first_position(batch)

    def borrow(i: int, s: StepWitness) -> StepWitness:
        if i != last:
            return s
        forged = replace(s, new=replace(s.new))
        marked.append(forged.new)
        return forged

    trace, pis = _forge(batch, borrow)
    _forced(trace, pis, "range.value[fund0.lo]")


def test_invalid_order_at_wrong_key(second_fill: BatchResult) -> None:
    """One message, one leaf: re-creating a filled order at another key (fill restarting
    from zero) is rejected."""
    steps = compute_batch_steps(second_fill.prev_state, second_fill.effects, squash=True)
    target = next(i for i, s in enumerate(steps) if s.is_order)
    moved = steps[target].position_id ^ 1

    def elsewhere(i: int, s: StepWitness) -> StepWitness:
        if i != target:
            return s
        fresh = replace(s.new, filled=s.new.filled - s.old.filled)
        return replace(s, position_id=moved, old=OrderLeaf(), new=fresh)

    trace, pis = _forge(second_fill, elsewhere, squash=True)
    _forced(trace, pis, "order.key")
