"""Trace generation for the batch AIR, beside its constraints.

:func:`compute_batch_steps` replays a batch's position and order updates on the previous
trees and records, for each, the old and new leaf and the shared Merkle path: the witness.
The number of steps is padded to a power of two with no-op updates (a leaf rewritten
unchanged). :func:`build_batch_trace` lays the steps out as in
:mod:`starkperp.rollup.air.layout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from starkperp.crypto import rpo
from starkperp.field.goldilocks import Felt, P, vadd, vpow
from starkperp.rollup.air.constraints import (
    DIFF_BOUND_BITS,
    FUNDING_MIX,
    HALF,
    ORDER_BOUND_BITS,
    compute_quotient_bits,
    compute_trade_range_values,
    get_empty_elements,
)
from starkperp.rollup.air.fairness import (
    FEE_SPLITS,
    PRICE_SPLITS,
    FairnessOperands,
    compute_chain_witness,
    compute_fee_coefficients,
    compute_price_coefficients,
    compute_split_witness,
    get_fairness_columns,
)
from starkperp.rollup.air.layout import (
    CYCLE,
    N_ROLES,
    ORDER_AMOUNT,
    ORDER_COLLATERAL,
    ORDER_ELEMS,
    ORDER_EXPIRY,
    ORDER_FEE,
    ORDER_FILLED,
    ORDER_LEAF_CYCLES,
    ORDER_SIDE,
    RANGE_WINDOW,
    ROLE_FEE_A,
    ROLE_FEE_B,
    ROLE_ORDER_A,
    ROLE_ORDER_B,
    ROLE_PARTY_A,
    ROLE_PARTY_B,
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
from starkperp.rollup.transactions import Transaction
from starkperp.rollup.transactions.common import TxEffect
from starkperp.rollup.transactions.trade import Trade

__all__ = [
    "BatchTraceResult",
    "StepWitness",
    "TradeTerms",
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
class TradeTerms:
    """What a trade's registers hold: the fill, both fees, A's side, the traded slot."""

    synthetic: int
    collateral: int
    fee_a: int
    fee_b: int
    a_buys: bool
    slot: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StepWitness:
    """One Merkle update: a position (or, if ``is_order``, an order leaf) and its path.

    ``tx_start`` marks the first step of a transaction; a trade's steps carry its ``trade``
    terms and their ``role`` (``ROLE_*`` of the layout, -1 outside a trade). ``funding`` is
    the collateral change funding made in this update (``funded − before``).
    """

    position_id: int
    old: Position | OrderLeaf
    new: Position | OrderLeaf
    siblings: tuple[Digest, ...]
    is_order: bool = False
    tx_start: bool = True
    role: int = -1
    trade: TradeTerms | None = None
    funding: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchTraceResult:
    """A laid-out trace, both final roots and the summed changes (collateral, balances)."""

    trace: np.ndarray
    positions_root: Digest
    orders_root: Digest
    totals: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Update:
    is_order: bool
    key: int
    old: Position | OrderLeaf
    new: Position | OrderLeaf
    tx_start: bool = True
    role: int = -1
    trade: TradeTerms | None = None
    funding: int = 0


def _trade_updates(
    state: RollupState,
    tx: Trade,
    effect: TxEffect,
    positions: dict[int, Position],
    orders: dict[int, OrderLeaf],
) -> list[_Update]:
    """Return a trade's six updates in role order; a fee of 0 gets a no-op fee-position step.

    ``apply_trade`` records A's fee step (if any), A's position, B's fee step (if any), B's
    position, then A's and B's order leaves.
    """
    config = state.config
    fee_id = config.fee_position_id
    a, b = tx.party_a_order, tx.party_b_order
    terms = TradeTerms(
        synthetic=tx.actual_synthetic,
        collateral=tx.actual_collateral,
        fee_a=tx.actual_a_fee,
        fee_b=tx.actual_b_fee,
        a_buys=a.is_buying_synthetic,
        slot=config.get_asset_slot(a.asset_id_synthetic),
    )
    pending = list(effect.position_steps)
    out: list[_Update] = []
    for order, fee in ((a, tx.actual_a_fee), (b, tx.actual_b_fee)):
        for pid, present in ((fee_id, fee != 0), (order.position_id, True)):
            if present:
                if not pending or pending[0].position_id != pid:
                    raise RollupError(Reason.UNPROVABLE_BATCH, "trade steps out of role order")
                step = pending.pop(0)
                old = positions.get(pid, state.get_position(pid))
                assert old == step.before, "effects must replay on the previous state"
                funding = step.funded.collateral - step.before.collateral
                out.append(
                    _Update(is_order=False, key=pid, old=old, new=step.after, funding=funding)
                )
                positions[pid] = step.after
            else:
                current = positions.get(pid, state.get_position(pid))
                out.append(_Update(is_order=False, key=pid, old=current, new=current))
    if pending or len(effect.order_steps) != 2:
        raise RollupError(Reason.UNPROVABLE_BATCH, "trade steps out of role order")
    for o in effect.order_steps:
        old_o = orders.get(o.key, state.get_order(o.key))
        assert old_o == o.before, "effects must replay on the previous state"
        out.append(_Update(is_order=True, key=o.key, old=old_o, new=o.after))
        orders[o.key] = o.after
    return [replace(u, tx_start=role == 0, role=role, trade=terms) for role, u in enumerate(out)]


def compute_batch_steps(
    prev_state: RollupState,
    effects: Sequence[TxEffect],
    *,
    squash: bool = False,
    transactions: Sequence[Transaction] | None = None,
) -> list[StepWitness]:
    """Return the Merkle-update witnesses of a batch, padded to a power of two with no-ops.

    Without ``squash``: one update per touched position or order leaf per transaction, in
    execution order (a transaction's position steps, then its order steps). Given the
    ``transactions``, each trade's steps are marked with its terms and roles (a fee of 0 gets
    a no-op step on the fee position) so the AIR checks its arithmetic; without them every
    transaction is proven as plain leaf updates. With ``squash``: one update per distinct
    position, then per distinct order leaf (batch-start leaf to batch-end leaf), in key
    order, the DA payload's order; no transaction is marked.
    """
    state = prev_state.copy()
    state.commit()
    ptree, otree = state.position_tree, state.order_tree
    assert ptree is not None and otree is not None
    positions: dict[int, Position] = {}
    orders: dict[int, OrderLeaf] = {}
    funding: dict[int, int] = {}
    updates: list[_Update] = []
    for index, effect in enumerate(effects):
        tx = transactions[index] if transactions is not None else None
        for step in effect.position_steps:
            paid = step.funded.collateral - step.before.collateral
            funding[step.position_id] = funding.get(step.position_id, 0) + paid
        if isinstance(tx, Trade) and not squash:
            updates += _trade_updates(state, tx, effect, positions, orders)
            continue
        first = len(updates)
        for step in effect.position_steps:
            old = positions.get(step.position_id, state.get_position(step.position_id))
            assert old == step.before, "effects must replay on the previous state"
            paid = step.funded.collateral - step.before.collateral
            updates.append(
                _Update(is_order=False, key=step.position_id, old=old, new=step.after, funding=paid)
            )
            positions[step.position_id] = step.after
        for o in effect.order_steps:
            old_o = orders.get(o.key, state.get_order(o.key))
            assert old_o == o.before, "effects must replay on the previous state"
            updates.append(_Update(is_order=True, key=o.key, old=old_o, new=o.after))
            orders[o.key] = o.after
        for i in range(first + 1, len(updates)):
            updates[i] = replace(updates[i], tx_start=False)
    if squash:
        updates = [
            _Update(
                is_order=False,
                key=i,
                old=state.get_position(i),
                new=positions[i],
                funding=funding.get(i, 0),
            )
            for i in sorted(positions)
        ]
        updates += [
            _Update(is_order=True, key=k, old=state.get_order(k), new=orders[k])
            for k in sorted(orders)
        ]
    steps: list[StepWitness] = []
    for u in updates:
        tree = otree if u.is_order else ptree
        proof = tree.get_proof(u.key)
        steps.append(
            StepWitness(
                position_id=u.key,
                old=u.old,
                new=u.new,
                siblings=proof.siblings,
                is_order=u.is_order,
                tx_start=u.tx_start,
                role=u.role,
                trade=u.trade,
                funding=u.funding,
            )
        )
        if isinstance(u.new, OrderLeaf):
            tree.set_leaf(u.key, compute_order_leaf(u.new))
        else:
            tree.set_leaf(u.key, compute_position_leaf(u.new))
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


def _fill_transaction(
    trace: np.ndarray, lay: BatchAirLayout, step: StepWitness, rows: slice
) -> None:
    """Lay out the transaction framing and, in a trade, its registers."""
    trace[lay.tx_start, rows] = int(step.tx_start)
    terms = step.trade
    if terms is None:
        return
    trace[lay.is_trade, rows] = 1
    trace[lay.tx_open, rows] = int(step.role != ROLE_ORDER_B)
    if 0 <= step.role < N_ROLES:
        trace[lay.role + step.role, rows] = 1
    trace[lay.t_syn, rows] = terms.synthetic % P
    for col, value in (
        (lay.t_coll, terms.collateral),
        (lay.t_fee_a, terms.fee_a),
        (lay.t_fee_b, terms.fee_b),
    ):
        trace[col, rows] = (value >> 32) % P
        trace[col + 1, rows] = value & 0xFFFFFFFF
    trace[lay.t_side_a, rows] = int(terms.a_buys)
    trace[lay.t_slot + terms.slot, rows] = 1


def _fill_funding(
    trace: np.ndarray,
    lay: BatchAirLayout,
    step: StepWitness,
    rows: slice,
    old_e: list[int],
    new_e: list[int],
    fund_acc: int,
    strict: bool,
) -> int:
    """Lay out a position step's funding component and its witness; return the new sum."""
    trace[lay.fund_coll, rows] = step.funding % P
    trace[lay.fund_acc, rows] = fund_acc % P
    fund_acc += step.funding
    trace[lay.fund_acc_after, rows] = fund_acc % P
    terms = step.trade
    if terms is None or step.role not in (ROLE_FEE_A, ROLE_PARTY_A, ROLE_FEE_B, ROLE_PARTY_B):
        return fund_acc
    t_hi, t_lo = lay.tracked_limbs(1 + terms.slot)
    new_traded = ((new_e[t_hi] - HALF) * 2**32 + new_e[t_lo]) % P
    trace[lay.fund_closed_w, rows] = pow(new_traded, P - 2, P) if new_traded else 0
    if not step.funding:
        return fund_acc
    moved = 0
    for j in range(lay.n_assets):
        b_hi, b_lo = lay.tracked_limbs(1 + j)
        f_hi, f_lo = lay.funding_limbs(j)
        held = (old_e[b_hi] - HALF) * 2**32 + old_e[b_lo]
        moved += held * ((new_e[f_hi] - old_e[f_hi]) * 2**32 + new_e[f_lo] - old_e[f_lo])
    if not new_traded:
        moved += FUNDING_MIX * ((old_e[t_hi] - HALF) * 2**32 + old_e[t_lo])
    if moved % P:
        trace[lay.fund_v, rows] = step.funding * pow(moved, P - 2, P) % P
    elif strict:
        raise RollupError(Reason.UNPROVABLE_BATCH, "funding without a moved funding index")
    return fund_acc


def _trade_order_values(
    lay: BatchAirLayout,
    step: StepWitness,
    new_e: list[int],
    fill: int,
    strict: bool,
) -> tuple[list[int], list[tuple[int, int]]]:
    """Return a trade order step's extra range values and its fairness witnesses (column,
    value), written after the step's registers (they share columns).

    Outside a trade the witnesses are 0 and the values those of zero operands.
    """
    terms = step.trade
    in_trade = terms is not None and step.role in (ROLE_ORDER_A, ROLE_ORDER_B)
    coll = terms.collateral if terms is not None else 0
    fee = 0
    if terms is not None and in_trade:
        fee = terms.fee_a if step.role == ROLE_ORDER_A else terms.fee_b
    ops = FairnessOperands(
        S1=new_e[ORDER_AMOUNT[0]],
        S0=new_e[ORDER_AMOUNT[1]],
        C1=new_e[ORDER_COLLATERAL[0]],
        C0=new_e[ORDER_COLLATERAL[1]],
        F1=new_e[ORDER_FEE[0]],
        F0=new_e[ORDER_FEE[1]],
        s1=fill >> 32,
        s0=fill & 0xFFFFFFFF,
        c1=coll >> 32,
        c0=coll & 0xFFFFFFFF,
        f1=fee >> 32,
        f0=fee & 0xFFFFFFFF,
        sigma=2 * new_e[ORDER_SIDE] - 1,
    )
    n_price = get_fairness_columns(len(PRICE_SPLITS))
    n_fee = get_fairness_columns(len(FEE_SPLITS))
    price, fee_w = [0] * n_price, [0] * n_fee
    if in_trade:
        n = len(PRICE_SPLITS)
        split = compute_split_witness(ops, PRICE_SPLITS)
        price = split + compute_chain_witness(compute_price_coefficients(ops, split[:n], split[n:]))
        n = len(FEE_SPLITS)
        split = compute_split_witness(ops, FEE_SPLITS)
        fee_w = split + compute_chain_witness(compute_fee_coefficients(ops, split[:n], split[n:]))
    del strict
    writes = list(zip(lay.fair_price + lay.fair_fee, price + fee_w, strict=True))
    return [v for _, v in compute_trade_range_values(ops, price, fee_w)], writes


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
    fund_acc = 0
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
        key_idx = 0
        for h, row in enumerate(merge_rows):
            trace[lay.bit, base + row] = (step.position_id >> h) & 1
            key_idx += ((step.position_id >> h) & 1) << h
            trace[lay.key_idx, base + row + 1 : base + lay.step_rows] = key_idx
        _fill_transaction(trace, lay, step, rows)
        fair_writes: list[tuple[int, int]] = []
        if not step.is_order:
            fund_acc = _fill_funding(trace, lay, step, rows, old_e, new_e, fund_acc, strict)
        else:
            trace[lay.fund_acc, rows] = fund_acc % P
            trace[lay.fund_acc_after, rows] = fund_acc % P
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
            trace[lay.fill_hi, rows] = (fill >> 32) % P
            trace[lay.fill_lo, rows] = fill & 0xFFFFFFFF
            trace[lay.slack_hi, rows] = (slack >> 32) % P
            trace[lay.slack_lo, rows] = slack & 0xFFFFFFFF
            trade_values, fair_writes = _trade_order_values(lay, step, new_e, fill, strict)
            order_values += trade_values
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
        for col, value in fair_writes:
            trace[col, rows] = value % P
        roots[step.is_order] = new_root

    def digest(r: list[int]) -> Digest:
        return (Felt(r[0]), Felt(r[1]), Felt(r[2]), Felt(r[3]))

    return BatchTraceResult(
        trace=trace,
        positions_root=digest(roots[False]),
        orders_root=digest(roots[True]),
        totals=tuple(acc),
    )
