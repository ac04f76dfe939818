"""Trace generation for the batch AIR, beside its constraints.

:func:`compute_batch_steps` replays a batch's position and order updates on the previous
trees and records, for each, the old and new leaf and the shared Merkle path: the witness.
The number of steps is padded to a power of two with no-op updates (a leaf rewritten
unchanged). :func:`build_batch_trace` lays the steps out as in
:mod:`starkperp.rollup.air.layout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from starkperp.crypto import rpo
from starkperp.field.goldilocks import Felt, P, vadd, vpow
from starkperp.rollup.air.constraints import (
    DIFF_BOUND_BITS,
    HALF,
    ORDER_BOUND_BITS,
    compute_quotient_bits,
    get_empty_elements,
)
from starkperp.rollup.air.layout import (
    CYCLE,
    ORDER_AMOUNT,
    ORDER_COLLATERAL,
    ORDER_ELEMS,
    ORDER_EXPIRY,
    ORDER_FEE,
    ORDER_FILLED,
    ORDER_LEAF_CYCLES,
    RANGE_WINDOW,
    VALUES_PER_TRACKED,
    BatchAirLayout,
)
from starkperp.rollup.errors import Reason, RollupError
from starkperp.rollup.hashing import Digest
from starkperp.rollup.state import (
    OrderLeaf,
    Position,
    RollupState,
    compute_order_elements,
    compute_order_leaf,
    compute_position_elements,
    compute_position_leaf,
)
from starkperp.rollup.transactions.common import TxEffect

__all__ = [
    "BatchTraceResult",
    "StepWitness",
    "apply_rounds_batch",
    "build_batch_trace",
    "compute_batch_steps",
]

_MDS_T = np.array(rpo.MDS, dtype=np.uint64).T.copy()
_ARK1 = np.array(rpo.ARK1, dtype=np.uint64)
_ARK2 = np.array(rpo.ARK2, dtype=np.uint64)
_LOW32 = np.uint64(0xFFFFFFFF)


def _mds_batch(states: np.ndarray) -> np.ndarray:
    # MDS entries are small: split each element in 32-bit halves so the products stay exact.
    lo = (states & _LOW32) @ _MDS_T
    hi = (states >> np.uint64(32)) @ _MDS_T
    b1, b0 = hi >> np.uint64(32), hi & _LOW32
    shifted = b0 << np.uint64(32)
    shifted = np.where(shifted >= np.uint64(P), shifted - np.uint64(P), shifted)
    return vadd(vadd(shifted, lo), b1 * np.uint64(2**32 - 1))


def apply_rounds_batch(states: np.ndarray, round_index: int) -> np.ndarray:
    """Return one RPO round applied to every row of an (n, 12) array (fast path)."""
    x = _mds_batch(states)
    x = vpow(vadd(x, np.broadcast_to(_ARK1[round_index], x.shape).copy()), rpo.ALPHA)
    x = _mds_batch(x)
    x = vadd(x, np.broadcast_to(_ARK2[round_index], x.shape).copy())
    return vpow(x, rpo.INV_ALPHA)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepWitness:
    """One Merkle update: a position (or, if ``is_order``, an order leaf) and its path."""

    position_id: int
    old: Position | OrderLeaf
    new: Position | OrderLeaf
    siblings: tuple[Digest, ...]
    is_order: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchTraceResult:
    """A laid-out trace, both final roots and the summed changes (collateral, balances)."""

    trace: np.ndarray
    positions_root: Digest
    orders_root: Digest
    totals: tuple[int, ...]


def compute_batch_steps(
    prev_state: RollupState, effects: Sequence[TxEffect], *, squash: bool = False
) -> list[StepWitness]:
    """Return the Merkle-update witnesses of a batch, padded to a power of two with no-ops.

    Without ``squash``: one update per touched position or order leaf per transaction, in
    execution order. With ``squash``: one update per distinct position, then per distinct
    order leaf (batch-start leaf to batch-end leaf), in key order, the DA payload's order.
    """
    state = prev_state.copy()
    state.commit()
    ptree, otree = state.position_tree, state.order_tree
    assert ptree is not None and otree is not None
    positions: dict[int, Position] = {}
    orders: dict[int, OrderLeaf] = {}
    updates: list[tuple[bool, int, Position | OrderLeaf, Position | OrderLeaf]] = []
    for effect in effects:
        for step in effect.position_steps:
            old = positions.get(step.position_id, state.get_position(step.position_id))
            assert old == step.before, "effects must replay on the previous state"
            updates.append((False, step.position_id, old, step.after))
            positions[step.position_id] = step.after
        for o in effect.order_steps:
            old_o = orders.get(o.key, state.get_order(o.key))
            assert old_o == o.before, "effects must replay on the previous state"
            updates.append((True, o.key, old_o, o.after))
            orders[o.key] = o.after
    if squash:
        updates = [(False, i, state.get_position(i), positions[i]) for i in sorted(positions)]
        updates += [(True, k, state.get_order(k), orders[k]) for k in sorted(orders)]
    steps: list[StepWitness] = []
    for is_order, key, old_leaf, new_leaf in updates:
        tree = otree if is_order else ptree
        proof = tree.get_proof(key)
        steps.append(
            StepWitness(
                position_id=key,
                old=old_leaf,
                new=new_leaf,
                siblings=proof.siblings,
                is_order=is_order,
            )
        )
        if isinstance(new_leaf, OrderLeaf):
            tree.set_leaf(key, compute_order_leaf(new_leaf))
        else:
            tree.set_leaf(key, compute_position_leaf(new_leaf))
    target = 1 << max(0, (len(steps) - 1).bit_length()) if steps else 1
    pad_id = state.config.fee_position_id
    pad_pos = positions.get(pad_id, state.get_position(pad_id))
    pad_proof = ptree.get_proof(pad_id)
    while len(steps) < target:
        steps.append(
            StepWitness(position_id=pad_id, old=pad_pos, new=pad_pos, siblings=pad_proof.siblings)
        )
    return steps


@dataclass(frozen=True, slots=True)
class _Schedule:
    n_leaf_cycles: int
    len_mod: int
    depth: int


def _schedules(lay: BatchAirLayout) -> tuple[_Schedule, _Schedule]:
    return (
        _Schedule(lay.n_leaf_cycles, lay.leaf_len_mod, lay.depth),
        _Schedule(ORDER_LEAF_CYCLES, ORDER_ELEMS % 8, lay.orders_depth),
    )


def _run_cycle(trace: np.ndarray, col: int, row: int, state: list[int]) -> list[int]:
    for r in range(rpo.NUM_ROUNDS):
        trace[col : col + 12, row + r] = state
        state = rpo.apply_round(state, r)
    trace[col : col + 12, row + CYCLE - 1] = state
    return state


def _hash_path(
    trace: np.ndarray,
    lay: BatchAirLayout,
    sched: _Schedule,
    col: int,
    base: int,
    elements: list[int],
    key: int,
    siblings: Sequence[Digest],
) -> list[int]:
    padded = elements + [0] * (8 * sched.n_leaf_cycles - len(elements))
    state = [sched.len_mod, 0, 0, 0, *padded[0:8]]
    for j in range(sched.n_leaf_cycles):
        if j:
            state = state[:4] + padded[8 * j : 8 * j + 8]
        state = _run_cycle(trace, col, base + CYCLE * j, state)
    for h in range(sched.depth):
        digest, sibling = state[4:8], [int(x) for x in siblings[h]]
        pair = digest + sibling if not (key >> h) & 1 else sibling + digest
        state = _run_cycle(trace, col, base + CYCLE * (sched.n_leaf_cycles + h), [0] * 4 + pair)
    root = state[4:8]
    idle = [0] * 12
    for c in range(sched.n_leaf_cycles + sched.depth, lay.n_cycles):
        idle = _run_cycle(trace, col, base + CYCLE * c, idle)
    return root


def _run_cycle_batch(
    trace: np.ndarray, col: int, rows: np.ndarray, state: np.ndarray
) -> np.ndarray:
    for r in range(rpo.NUM_ROUNDS):
        trace[col : col + 12, rows + r] = state.T
        state = apply_rounds_batch(state, r)
    trace[col : col + 12, rows + CYCLE - 1] = state.T
    return state


def _hash_paths_batch(
    trace: np.ndarray,
    lay: BatchAirLayout,
    sched: _Schedule,
    col: int,
    bases: np.ndarray,
    elements: np.ndarray,
    keys: np.ndarray,
    siblings: np.ndarray,
) -> np.ndarray:
    n = elements.shape[0]
    padded = np.zeros((n, 8 * sched.n_leaf_cycles), dtype=np.uint64)
    width = min(elements.shape[1], padded.shape[1])
    padded[:, :width] = elements[:, :width]
    state = np.zeros((n, 12), dtype=np.uint64)
    state[:, 0] = sched.len_mod
    for j in range(sched.n_leaf_cycles):
        state = state.copy()
        state[:, 4:12] = padded[:, 8 * j : 8 * j + 8]
        state = _run_cycle_batch(trace, col, bases + CYCLE * j, state)
    for h in range(sched.depth):
        right = ((keys >> np.uint64(h)) & np.uint64(1)).astype(bool)
        digest = state[:, 4:8]
        nxt = np.zeros((n, 12), dtype=np.uint64)
        nxt[:, 4:8] = np.where(right[:, None], siblings[:, h, :], digest)
        nxt[:, 8:12] = np.where(right[:, None], digest, siblings[:, h, :])
        state = _run_cycle_batch(trace, col, bases + CYCLE * (sched.n_leaf_cycles + h), nxt)
    root = state[:, 4:8].copy()
    idle = np.zeros((n, 12), dtype=np.uint64)
    for c in range(sched.n_leaf_cycles + sched.depth, lay.n_cycles):
        idle = _run_cycle_batch(trace, col, bases + CYCLE * c, idle)
    return root


def _fill_lane(
    trace: np.ndarray, lay: BatchAirLayout, base: int, k: int, value: int, strict: bool = True
) -> None:
    if not 0 <= value < 2**32:
        if strict:
            raise RollupError(Reason.UNPROVABLE_BATCH, f"range-checked value {k} out of 32 bits")
        value %= 2**32  # test-only: lay out a false statement for the AIR to reject
    lane, end = lay.range_slot(k)
    start = base + end - (RANGE_WINDOW - 1)
    for i in range(RANGE_WINDOW):
        trace[lay.lanes + 2 * lane, start + i] = value >> (RANGE_WINDOW - 1 - i)
        trace[lay.lanes + 2 * lane + 1, start + i] = (value >> (RANGE_WINDOW - 1 - i)) & 1


def _elements(lay: BatchAirLayout, leaf: Position | OrderLeaf) -> list[int]:
    if isinstance(leaf, OrderLeaf):
        out = [int(x) for x in compute_order_elements(leaf)]
    else:
        out = [int(x) for x in compute_position_elements(leaf)]
    return out + [0] * (lay.n_regs - len(out))


def _order_range_values(
    lay: BatchAirLayout, old_e: list[int], new_e: list[int]
) -> tuple[int, int, int, list[int]]:
    """Return the fill increase, the slack below the amount, the hash quotient by the key and
    the order step's range values (the order of ``compute_order_range_values``)."""
    fh_, fl_ = ORDER_FILLED
    filled_old = old_e[fh_] * 2**32 + old_e[fl_]
    filled_new = new_e[fh_] * 2**32 + new_e[fl_]
    amount = new_e[ORDER_AMOUNT[0]] * 2**32 + new_e[ORDER_AMOUNT[1]]
    fill, slack = filled_new - filled_old, amount - filled_new
    hi_bound = 2**32 - 2 ** (ORDER_BOUND_BITS - 32)
    fill_hi, fill_lo = fill >> 32, fill & 0xFFFFFFFF
    slack_hi, slack_lo = slack >> 32, slack & 0xFFFFFFFF
    quotient = new_e[0] >> lay.orders_depth
    q_hi, q_lo = quotient >> 32, quotient & 0xFFFFFFFF
    q_hi_bits, q_lo_bits = compute_quotient_bits(lay.orders_depth)
    values = [
        new_e[fh_],
        new_e[fl_],
        new_e[fh_] + hi_bound,
        fill_lo,
        fill_hi,
        fill_hi + 2**32 - 2**DIFF_BOUND_BITS,
        slack_lo,
        slack_hi,
        slack_hi + hi_bound,
        new_e[ORDER_AMOUNT[0]],
        new_e[ORDER_AMOUNT[1]],
        new_e[ORDER_AMOUNT[0]] + hi_bound,
        new_e[ORDER_COLLATERAL[0]],
        new_e[ORDER_COLLATERAL[1]],
        new_e[ORDER_FEE[0]],
        new_e[ORDER_FEE[1]],
        new_e[ORDER_EXPIRY],
        q_hi,
        q_hi + 2**32 - 2**q_hi_bits,
        q_lo,
        q_lo + 2**32 - 2**q_lo_bits,
    ]
    return fill, slack, quotient, values


def _hash_all(
    trace: np.ndarray,
    lay: BatchAirLayout,
    steps: Sequence[StepWitness],
    all_old: list[list[int]],
    all_new: list[list[int]],
    fast: bool,
) -> list[tuple[list[int], list[int]]]:
    roots: list[tuple[list[int], list[int]]] = [([], [])] * len(steps)
    for kind, sched in enumerate(_schedules(lay)):
        idx = [i for i, s in enumerate(steps) if int(s.is_order) == kind]
        if not idx:
            continue
        if fast:
            bases = np.array(idx, dtype=np.int64) * lay.step_rows
            keys = np.array([steps[i].position_id for i in idx], dtype=np.uint64)
            sibs = np.array(
                [[[int(x) for x in d] for d in steps[i].siblings] for i in idx], dtype=np.uint64
            ).reshape(len(idx), sched.depth, 4)
            olds = np.array([all_old[i] for i in idx], dtype=np.uint64)
            news = np.array([all_new[i] for i in idx], dtype=np.uint64)
            ra = _hash_paths_batch(trace, lay, sched, lay.hasher_a, bases, olds, keys, sibs)
            rb = _hash_paths_batch(trace, lay, sched, lay.hasher_b, bases, news, keys, sibs)
            for n, i in enumerate(idx):
                roots[i] = ([int(x) for x in ra[n]], [int(x) for x in rb[n]])
        else:
            n_hashed = lay.n_elems if kind == 0 else ORDER_ELEMS
            for i in idx:
                st, base = steps[i], lay.step_rows * i
                old_e, new_e = all_old[i][:n_hashed], all_new[i][:n_hashed]
                ra_ = _hash_path(
                    trace, lay, sched, lay.hasher_a, base, old_e, st.position_id, st.siblings
                )
                rb_ = _hash_path(
                    trace, lay, sched, lay.hasher_b, base, new_e, st.position_id, st.siblings
                )
                roots[i] = (ra_, rb_)
    return roots


def build_batch_trace(
    lay: BatchAirLayout,
    steps: Sequence[StepWitness],
    prev_positions_root: Digest,
    prev_orders_root: Digest,
    *,
    fast: bool = True,
    strict: bool = True,
) -> BatchTraceResult:
    """Return the trace of ``steps`` starting from the two previous roots.

    ``fast`` hashes all steps at once with vectorized RPO rounds; the readable reference
    (``fast=False``) runs one scalar round per row. Both give the same trace. ``strict``
    refuses values the range checks would reject (UNPROVABLE_BATCH); tests turn it off to
    lay out false statements.
    """
    n_rows = lay.step_rows * len(steps)
    trace = np.zeros((lay.width, n_rows), dtype=np.uint64)
    empty = get_empty_elements(lay) + [0] * (lay.n_regs - lay.n_elems)
    roots = {False: [int(x) for x in prev_positions_root], True: [int(x) for x in prev_orders_root]}
    acc = [0] * lay.n_tracked
    all_old = [_elements(lay, s.old) for s in steps]
    all_new = [_elements(lay, s.new) for s in steps]
    hashed = _hash_all(trace, lay, steps, all_old, all_new, fast)
    for index, step in enumerate(steps):
        base = lay.step_rows * index
        rows = slice(base, base + lay.step_rows)
        old_e, new_e = all_old[index], all_new[index]
        old_root, new_root = hashed[index]
        if old_root != roots[step.is_order]:
            raise RollupError(Reason.UNPROVABLE_BATCH, f"step {index}: path does not open the root")
        merge_rows = lay.order_merge_rows() if step.is_order else lay.merge_rows()
        for h, row in enumerate(merge_rows):
            trace[lay.bit, base + row] = (step.position_id >> h) & 1
        untouched = roots[not step.is_order]
        pos_old, pos_new = (untouched, untouched) if step.is_order else (old_root, new_root)
        ord_old, ord_new = (old_root, new_root) if step.is_order else (untouched, untouched)
        for i in range(4):
            trace[lay.carry + i, rows] = pos_old[i]
            trace[lay.newroot + i, rows] = pos_new[i]
            trace[lay.carry_o + i, rows] = ord_old[i]
            trace[lay.newroot_o + i, rows] = ord_new[i]
        trace[lay.is_order, rows] = int(step.is_order)
        for t in range(lay.n_tracked):
            hi, lo = lay.tracked_limbs(t)
            diff = (new_e[hi] - old_e[hi]) * 2**32 + (new_e[lo] - old_e[lo])
            moved = 0 if step.is_order else diff
            trace[lay.acc + t, rows] = acc[t] % P
            trace[lay.acc_after + t, rows] = (acc[t] + moved) % P
            acc[t] += moved
            if step.is_order:
                continue
            v2 = new_e[hi] - old_e[hi] + (1 << DIFF_BOUND_BITS)
            values = (new_e[hi], new_e[lo], v2, v2 + 2**32 - 2 ** (DIFF_BOUND_BITS + 1))
            for m, v in enumerate(values):
                _fill_lane(trace, lay, base, VALUES_PER_TRACKED * t + m, v, strict)
        if step.is_order:
            fill, slack, quotient, order_values = _order_range_values(lay, old_e, new_e)
            trace[lay.quot_hi, rows] = quotient >> 32
            trace[lay.quot_lo, rows] = quotient & 0xFFFFFFFF
            key_idx = 0
            for h, row in enumerate(merge_rows):
                key_idx += ((step.position_id >> h) & 1) << h
                trace[lay.key_idx, base + row + 1 : base + lay.step_rows] = key_idx
            trace[lay.fill_hi, rows] = (fill >> 32) % P
            trace[lay.fill_lo, rows] = fill & 0xFFFFFFFF
            trace[lay.slack_hi, rows] = (slack >> 32) % P
            trace[lay.slack_lo, rows] = slack & 0xFFFFFFFF
            for k, v in enumerate(order_values):
                _fill_lane(trace, lay, base, k, v, strict)
        for j in range(lay.n_assets):
            if step.is_order:
                break
            f_hi, f_lo = lay.funding_limbs(j)
            k = lay.funding_range_base + 2 * j
            _fill_lane(trace, lay, base, k, new_e[f_hi], strict)
            _fill_lane(trace, lay, base, k + 1, new_e[f_lo], strict)
            bal_hi, bal_lo = lay.tracked_limbs(1 + j)
            balance = ((new_e[bal_hi] - HALF) * 2**32 + new_e[bal_lo]) % P
            index = ((new_e[f_hi] - HALF) * 2**32 + new_e[f_lo]) % P
            w = index * pow(balance, P - 2, P) % P if balance else 0
            trace[lay.fund_w + j, rows] = w
        empty_here = [0] * lay.n_regs if step.is_order else empty
        trace[lay.empty_a, rows] = int(old_e == empty_here)
        trace[lay.empty_b, rows] = int(new_e == empty_here)
        for e in range(lay.n_regs):
            trace[lay.reg_a + e, rows] = old_e[e]
            trace[lay.reg_b + e, rows] = new_e[e]
        roots[step.is_order] = new_root

    def digest(r: list[int]) -> Digest:
        return (Felt(r[0]), Felt(r[1]), Felt(r[2]), Felt(r[3]))

    return BatchTraceResult(
        trace=trace,
        positions_root=digest(roots[False]),
        orders_root=digest(roots[True]),
        totals=tuple(acc),
    )
