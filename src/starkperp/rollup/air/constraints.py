"""The batch AIR's constraints, written once in the constraint language.

Groups (see ``docs/proof-statement.md`` for what each proves):

* ``step.*``     — the step type (position or order update) is binary;
* ``rpo.*``      — every hasher row but a cycle's last follows one RPO round (degree 8);
* ``leaf.*``     — the leaf cycles absorb exactly the step's register elements, Miden's
  ``hash_elements`` padding and capacity seed included;
* ``merge.*``    — each merge cycle takes the previous digest as left or right child by a
  binary path bit, with one sibling shared by the old (A) and new (B) paths;
* ``root.*``     — per tree (positions, orders): A's root equals the carried current root,
  B's root becomes the next one, the untouched tree keeps its root; the first carried roots
  are the public previous roots, the last new roots the public new roots;
* ``reg.*``      — step registers stay constant within a step;
* ``key.*``      — the owner key (an order's message hash) changes only from or to the empty
  leaf;
* ``fill.*``     — an order leaf's filled amount never decreases and never passes the signed
  amount the leaf stores (a range-checked slack);
* ``order.*``    — an order leaf's signed limits are written when the leaf is created and
  never change afterwards; its side is binary; an order leaf is never emptied; it sits at
  key = message hash mod 2^orders_depth;
* ``fund.*``     — the new leaf's cached funding indices are canonical signed 64-bit values
  (limbs range-checked under ``range.*``) and 0 on every zero balance (leaf encoding v1);
  (v5) a trade step's funding component is 0 unless a held slot's cached index moves or the
  held traded slot closes, and all components sum to the public funding change;
* ``key.index``  — ``key_idx`` accumulates every step's leaf index from its path bits;
* ``tx.*``       — (v5) transaction framing: ``tx_start`` opens a transaction (the first step
  does); a trade's steps take the roles FEE_A, PARTY_A, FEE_B, PARTY_B, ORDER_A, ORDER_B
  in order, exactly six, and its kind and registers stay constant over them;
* ``trade.*``    — (v5) each trade step moves what the trade's registers say: the fee
  position (by its index) gains each fee, each party's traded slot moves by ±synthetic by
  its side and its collateral by ∓collateral − fee (plus its funding component), no other
  slot moves, each order's fill increase is the synthetic and its side is the party's;
* ``fair.*``     — (v5) on a trade's order steps, the price rule (buyer / seller, one quantum
  of slack) and the fee rule against the order leaf's signed limits, as exact 32-bit-limb
  carry chains (``fairness.py``; their witnesses are range-checked as ``range.order[...]``);
* ``range.*``    — bit-serial 32-bit range checks. Position steps (``range.value``): the new
  collateral and synthetic balance limbs and each change's high limb (|change| < 2^47 per
  step, so sums never wrap), and the new cached funding index limbs. Order steps
  (``range.order``): the new filled amount (< 2^62), the fill increase (< 2^47), the slack
  below the signed amount (< 2^62), every limb of the signed limits (amount < 2^62), the
  quotient of the message hash's low limb by the order key;
* ``conserve.*`` — the running sum of collateral changes equals the public
  deposits − withdrawals + funding change, and each synthetic asset's sum of balance changes
  is zero (every long has its short).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import TypeVar

from starkperp.crypto import rpo
from starkperp.rollup.air.fairness import (
    CHAIN_LEN,
    FEE_SPLITS,
    PRICE_SPLITS,
    FairnessOperands,
    compute_fee_coefficients,
    compute_price_coefficients,
    get_chain_equations,
    get_chain_range_values,
    get_fairness_columns,
    get_split_range_values,
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
    ORDER_LIMITS,
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
from starkperp.stark.air import (
    LAST_ROW,
    Air,
    BoundaryConstraint,
    PeriodicColumn,
    TransitionConstraint,
)
from starkperp.stark.expr import Expr, const, main, main_next, periodic, public

__all__ = [
    "AIR_VERSION",
    "FUNDING_MIX",
    "PI_DEPOSITS",
    "PI_FUNDING",
    "PI_NEW_ORDERS",
    "PI_NEW_ROOT",
    "PI_PREV_ORDERS",
    "PI_PREV_ROOT",
    "PI_WITHDRAWALS",
    "N_PUBLIC_INPUTS",
    "build_batch_air",
    "compute_order_range_values",
    "compute_range_values",
    "compute_trade_range_values",
    "get_empty_elements",
    "get_fairness_operands",
    "get_trade_order_range_exprs",
    "get_trade_registers",
]

AIR_VERSION = "starkperp_batch_v5"
# Weight of a closed traded slot beside the cached-index changes in ``fund.only_when_funded``
# (any constant is sound; a large odd one makes an honest cancellation implausible).
FUNDING_MIX = 0x9E3779B97F4A7C15 % (2**64 - 2**32 + 1)
T = TypeVar("T", Expr, int)

PI_PREV_ROOT = 8
PI_NEW_ROOT = 12
PI_PREV_ORDERS = 16
PI_NEW_ORDERS = 20
PI_DEPOSITS = 24
PI_WITHDRAWALS = 26
PI_FUNDING = 28
N_PUBLIC_INPUTS = 29
HALF = 2**31
DIFF_BOUND_BITS = 15
ORDER_BOUND_BITS = 62


def get_empty_elements(layout: BatchAirLayout) -> list[int]:
    """Return the leaf elements of the empty position (key 0, all values 0 offset)."""
    out = [0, 0, 0, 0, HALF, 0]
    for _ in range(layout.n_assets):
        out += [HALF, 0, HALF, 0]
    return out


def compute_range_values(b_hi: Expr, b_lo: Expr, a_hi: Expr) -> list[Expr]:
    """Return the four values each step range-checks to 32 bits."""
    v2 = b_hi - a_hi + (1 << DIFF_BOUND_BITS)
    return [b_hi, b_lo, v2, v2 + (2**32 - 2 ** (DIFF_BOUND_BITS + 1))]


def compute_quotient_bits(orders_depth: int) -> tuple[int, int]:
    """Return the bit bounds (hi, lo) of the quotient ``q`` in ``limb0 = key + 2^d · q``.

    The low message-hash limb has 63 bits, so ``q < 2^(63 - d)``: ``q_hi < 2^hi``,
    ``q_lo < 2^lo``.
    """
    bits = 63 - orders_depth
    return max(0, bits - 32), min(32, bits)


def compute_order_range_values(
    reg_b: Sequence[Expr],
    fill: tuple[Expr, Expr],
    slack: tuple[Expr, Expr],
    quotient: tuple[Expr, Expr],
    orders_depth: int,
) -> list[tuple[str, Expr]]:
    """Return the named 32-bit values an order step range-checks.

    ``reg_b`` are the new leaf's elements, ``fill``, ``slack`` and ``quotient`` the (hi, lo)
    limbs of the fill increase, of ``amount - filled`` and of the message hash's low limb
    divided by ``2^orders_depth``. The filled amount, the slack and the amount are below 2^62
    (high limb below 2^30), so ``amount - filled`` is an exact integer and a negative one
    cannot pass as a slack; the increase is below 2^47; the quotient below ``2^(63 - d)``.
    """
    hi_bound = 2**32 - 2 ** (ORDER_BOUND_BITS - 32)
    q_hi_bits, q_lo_bits = compute_quotient_bits(orders_depth)
    f_hi, f_lo = reg_b[ORDER_FILLED[0]], reg_b[ORDER_FILLED[1]]
    a_hi, a_lo = reg_b[ORDER_AMOUNT[0]], reg_b[ORDER_AMOUNT[1]]
    return [
        ("filled.hi", f_hi),
        ("filled.lo", f_lo),
        ("filled.hi_bound", f_hi + hi_bound),
        ("fill.lo", fill[1]),
        ("fill.hi", fill[0]),
        ("fill.hi_bound", fill[0] + (2**32 - 2**DIFF_BOUND_BITS)),
        ("slack.lo", slack[1]),
        ("slack.hi", slack[0]),
        ("slack.hi_bound", slack[0] + hi_bound),
        ("amount.hi", a_hi),
        ("amount.lo", a_lo),
        ("amount.hi_bound", a_hi + hi_bound),
        ("collateral.hi", reg_b[ORDER_COLLATERAL[0]]),
        ("collateral.lo", reg_b[ORDER_COLLATERAL[1]]),
        ("fee.hi", reg_b[ORDER_FEE[0]]),
        ("fee.lo", reg_b[ORDER_FEE[1]]),
        ("expiry", reg_b[ORDER_EXPIRY]),
        ("quotient.hi", quotient[0]),
        ("quotient.hi_bound", quotient[0] + (2**32 - 2**q_hi_bits)),
        ("quotient.lo", quotient[1]),
        ("quotient.lo_bound", quotient[1] + (2**32 - 2**q_lo_bits)),
    ]


class _Periodics:
    def __init__(self) -> None:
        self.columns: list[PeriodicColumn] = []

    def add(self, name: str, values: list[int]) -> Expr:
        self.columns.append(PeriodicColumn(name=name, values=tuple(values)))
        return periodic(len(self.columns) - 1)


def _ones_at(rows: list[int], length: int) -> list[int]:
    values = [0] * length
    for r in rows:
        values[r] = 1
    return values


def _round_exprs(current: list[Expr], ark1: list[Expr], ark2: list[Expr]) -> list[Expr]:
    def mds(state: list[Expr]) -> list[Expr]:
        out = []
        for row in rpo.MDS:
            acc: Expr = state[0] * row[0]
            for coefficient, value in zip(row[1:], state[1:], strict=True):
                acc = acc + value * coefficient
            out.append(acc)
        return out

    middle = [(x + c) ** 7 for x, c in zip(mds(current), ark1, strict=True)]
    return [x + c for x, c in zip(mds(middle), ark2, strict=True)]


@cache
def build_batch_air(layout: BatchAirLayout) -> Air:
    """Return the batch AIR for ``layout`` (cached: building it walks many expressions)."""
    lay = layout
    s = lay.step_rows
    per = _Periodics()
    is_round = per.add("is_round", [1] * rpo.NUM_ROUNDS + [0])
    ark1 = [per.add(f"ark1[{i}]", [rpo.ARK1[r][i] for r in range(7)] + [0]) for i in range(12)]
    ark2 = [per.add(f"ark2[{i}]", [rpo.ARK2[r][i] for r in range(7)] + [0]) for i in range(12)]
    n_leaf_rows = max(lay.n_leaf_cycles, ORDER_LEAF_CYCLES)
    leaf_row = [per.add(f"leaf_row[{j}]", _ones_at([CYCLE * j], s)) for j in range(n_leaf_rows)]
    leaf_cont = per.add(
        "leaf_cont", _ones_at([CYCLE * j + 7 for j in range(lay.n_leaf_cycles - 1)], s)
    )
    order_leaf_cont = per.add(
        "order_leaf_cont", _ones_at([CYCLE * j + 7 for j in range(ORDER_LEAF_CYCLES - 1)], s)
    )
    merge_row_p = per.add("merge_row", _ones_at(lay.merge_rows(), s))
    root_row_p = per.add("root_row", _ones_at([lay.root_row], s))
    merge_row_o = per.add("order_merge_row", _ones_at(lay.order_merge_rows(), s))
    root_row_o = per.add("order_root_row", _ones_at([lay.order_root_row], s))
    step_last = per.add("step_last", _ones_at([s - 1], s))
    weights = [0] * s
    for h, row in enumerate(lay.order_merge_rows()):
        weights[row] = 2**h
    weight_o = per.add("order_key_weight", weights)
    weights_p = [0] * s
    for h, row in enumerate(lay.merge_rows()):
        weights_p[row] = 2**h
    weight_p = per.add("position_key_weight", weights_p)
    win_start = per.add("win_start", _ones_at([0], RANGE_WINDOW))
    win_end = per.add("win_end", _ones_at([RANGE_WINDOW - 1], RANGE_WINDOW))
    range_sel = []
    for k in range(lay.n_range_values):
        _, row = lay.range_slot(k)
        range_sel.append(per.add(f"range_sel[{k}]", _ones_at([row], s)))

    t: list[TransitionConstraint] = []

    def add(name: str, expr: Expr) -> None:
        t.append(TransitionConstraint(name=name, expr=expr))

    order = main(lay.is_order)
    pos = 1 - order
    merge_row = merge_row_p * pos + merge_row_o * order
    root_row = root_row_p * pos + root_row_o * order
    add("step.is_order_binary", order * (order - 1))
    hashers = (("A", lay.hasher_a, lay.reg_a), ("B", lay.hasher_b, lay.reg_b))
    # rpo.*
    for tag, h, _ in hashers:
        cur: list[Expr] = [main(h + i) for i in range(12)]
        after = _round_exprs(cur, ark1, ark2)
        for i in range(12):
            add(f"rpo.{tag}[{i}]", is_round * (main_next(h + i) ** 7 - after[i]))
    # leaf.*
    seed = pos * lay.leaf_len_mod + order * (ORDER_ELEMS % 8)
    for tag, h, reg in hashers:
        add(f"leaf.{tag}.seed", leaf_row[0] * (main(h) - seed))
        for c in range(1, 4):
            add(f"leaf.{tag}.capacity[{c}]", leaf_row[0] * main(h + c))
        for j in range(lay.n_leaf_cycles):
            for i in range(8):
                e = 8 * j + i
                target: Expr = main(reg + e) if e < lay.n_elems else const(0)
                add(f"leaf.{tag}.absorb[{e}]", leaf_row[j] * pos * (main(h + 4 + i) - target))
        for j in range(ORDER_LEAF_CYCLES):
            for i in range(8):
                e = 8 * j + i
                target = main(reg + e) if e < ORDER_ELEMS else const(0)
                add(
                    f"leaf.{tag}.order_absorb[{e}]",
                    leaf_row[j] * order * (main(h + 4 + i) - target),
                )
        cont = leaf_cont * pos + order_leaf_cont * order
        for c in range(4):
            add(f"leaf.{tag}.carry_capacity[{c}]", cont * (main_next(h + c) - main(h + c)))
    # merge.*
    bit = main(lay.bit)
    add("merge.bit_binary", bit * (bit - 1))
    for tag, h, _ in hashers:
        for c in range(4):
            add(f"merge.{tag}.capacity[{c}]", merge_row * main_next(h + c))
        for i in range(4):
            placed = (1 - bit) * (main_next(h + 4 + i) - main(h + 4 + i)) + bit * (
                main_next(h + 8 + i) - main(h + 4 + i)
            )
            add(f"merge.{tag}.child[{i}]", merge_row * placed)
    ha, hb = lay.hasher_a, lay.hasher_b
    for i in range(4):
        same = (1 - bit) * (main_next(ha + 8 + i) - main_next(hb + 8 + i)) + bit * (
            main_next(ha + 4 + i) - main_next(hb + 4 + i)
        )
        add(f"merge.sibling[{i}]", merge_row * same)
    # root.*: the step's tree moves from its carried root; the other tree stays put.
    for i in range(4):
        cp, np_, co, no = lay.carry + i, lay.newroot + i, lay.carry_o + i, lay.newroot_o + i
        old_root = pos * main(cp) + order * main(co)
        new_root = pos * main(np_) + order * main(no)
        add(f"root.old[{i}]", root_row * (main(ha + 4 + i) - old_root))
        add(f"root.new[{i}]", root_row * (main(hb + 4 + i) - new_root))
        add(f"root.untouched_orders[{i}]", pos * (main(no) - main(co)))
        add(f"root.untouched_positions[{i}]", order * (main(np_) - main(cp)))
        add(f"root.chain[{i}]", step_last * (main_next(cp) - main(np_)))
        add(f"root.chain_orders[{i}]", step_last * (main_next(co) - main(no)))
    # reg.*
    keep = 1 - step_last
    registers = [lay.carry + i for i in range(4)] + [lay.newroot + i for i in range(4)]
    registers += [lay.carry_o + i for i in range(4)] + [lay.newroot_o + i for i in range(4)]
    registers += [lay.is_order, lay.fill_hi, lay.fill_lo, lay.slack_hi, lay.slack_lo]
    registers += [lay.quot_hi, lay.quot_lo]
    registers += [lay.fund_w + j for j in range(lay.n_assets)]
    registers += [lay.acc + i for i in range(lay.n_tracked)]
    registers += [lay.acc_after + i for i in range(lay.n_tracked)]
    registers += [lay.empty_a, lay.empty_b]
    registers += [lay.tx_start, lay.is_trade, lay.tx_open]
    registers += [lay.role + k for k in range(N_ROLES)]
    registers += get_trade_registers(lay)
    registers += [lay.fund_coll, lay.fund_v, lay.fund_closed_w, lay.fund_acc, lay.fund_acc_after]
    registers += [lay.reg_a + e for e in range(lay.n_regs)]
    registers += [lay.reg_b + e for e in range(lay.n_regs)]
    registers += [c for c in lay.fair_price + lay.fair_fee if c not in set(registers)]
    for col in registers:
        add(f"reg.constant[{col}]", keep * (main_next(col) - main(col)))
    # key.*: the owner key (an order's message hash) changes only from or to the empty leaf.
    empty = get_empty_elements(lay)
    za, zb = main(lay.empty_a), main(lay.empty_b)
    add("key.empty_a_binary", za * (za - 1))
    add("key.empty_b_binary", zb * (zb - 1))
    empty += [0] * (lay.n_regs - lay.n_elems)
    for e in range(lay.n_regs):
        add(f"key.empty_a[{e}]", za * (main(lay.reg_a + e) - pos * empty[e]))
        add(f"key.empty_b[{e}]", zb * (main(lay.reg_b + e) - pos * empty[e]))
    for i in range(4):
        change = main(lay.reg_b + i) - main(lay.reg_a + i)
        add(f"key.owner[{i}]", (1 - za) * (1 - zb) * change)
    # range.*
    for lane in range(lay.n_lanes):
        acc, lbit = main(lay.lanes + 2 * lane), main(lay.lanes + 2 * lane + 1)
        add(f"range.lane{lane}.bit", lbit * (lbit - 1))
        add(f"range.lane{lane}.start", win_start * (acc - lbit))
        add(
            f"range.lane{lane}.shift",
            (1 - win_end)
            * (main_next(lay.lanes + 2 * lane) - 2 * acc - main_next(lay.lanes + 2 * lane + 1)),
        )

    def check(k: int, name: str, value: Expr) -> None:
        lane, _ = lay.range_slot(k)
        add(f"range.value[{name}]", range_sel[k] * pos * (main(lay.lanes + 2 * lane) - value))

    for tv in range(lay.n_tracked):
        hi, lo = lay.tracked_limbs(tv)
        a_hi, a_lo = main(lay.reg_a + hi), main(lay.reg_a + lo)
        b_hi, b_lo = main(lay.reg_b + hi), main(lay.reg_b + lo)
        for m, value in enumerate(compute_range_values(b_hi, b_lo, a_hi)):
            check(VALUES_PER_TRACKED * tv + m, f"{tv}.{m}", value)
        # conserve.*: order steps move no collateral and no synthetic.
        diff = (b_hi - a_hi) * 2**32 + (b_lo - a_lo)
        acc_col, after_col = lay.acc + tv, lay.acc_after + tv
        add(f"conserve.step[{tv}]", main(after_col) - main(acc_col) - pos * diff)
        add(f"conserve.chain[{tv}]", step_last * (main_next(acc_col) - main(after_col)))
    # fill.*: an order's filled amount only grows: increase = fill_hi * 2^32 + fill_lo with
    # both limbs 32-bit and fill_hi < 2^15, so a decrease (≡ p - x) cannot pass; and it never
    # passes the signed amount: amount - filled = slack_hi * 2^32 + slack_lo with all three
    # below 2^62 (range.order), so the difference is an exact non-negative integer.
    a_hi, a_lo = main(lay.reg_a + ORDER_FILLED[0]), main(lay.reg_a + ORDER_FILLED[1])
    b_hi, b_lo = main(lay.reg_b + ORDER_FILLED[0]), main(lay.reg_b + ORDER_FILLED[1])
    fh, fl = main(lay.fill_hi), main(lay.fill_lo)
    sh, sl = main(lay.slack_hi), main(lay.slack_lo)
    increase = (b_hi - a_hi) * 2**32 + (b_lo - a_lo)
    add("fill.increase", order * (increase - fh * 2**32 - fl))
    amount = main(lay.reg_b + ORDER_AMOUNT[0]) * 2**32 + main(lay.reg_b + ORDER_AMOUNT[1])
    filled = b_hi * 2**32 + b_lo
    add("fill.within_amount", order * (amount - filled - sh * 2**32 - sl))
    reg_b = [main(lay.reg_b + e) for e in range(lay.n_regs)]
    qh, ql = main(lay.quot_hi), main(lay.quot_lo)
    order_values = compute_order_range_values(reg_b, (fh, fl), (sh, sl), (qh, ql), lay.orders_depth)
    order_values += get_trade_order_range_exprs(lay)
    for k, (name, value) in enumerate(order_values):
        lane, _ = lay.range_slot(k)
        add(f"range.order[{name}]", range_sel[k] * order * (main(lay.lanes + 2 * lane) - value))
    # order.*: the signed limits are fixed when the leaf is created (the old leaf is empty)
    # and constant afterwards; the side is 0 or 1; an order leaf never returns to empty.
    for e in ORDER_LIMITS:
        change = main(lay.reg_b + e) - main(lay.reg_a + e)
        add(f"order.limit_constant[{e}]", order * (1 - za) * change)
    # order.key: an order leaf sits at key = message hash mod 2^orders_depth, so one message
    # has one leaf (its fill cannot restart in a second leaf). key_idx accumulates the path
    # bits of the order's merge rows (weight 2^h at level h) and restarts at every step; on
    # the step's last row the hash's low limb (63 bits) = key_idx + 2^d · q, q < 2^(63-d).
    idx = main(lay.key_idx)
    grown = idx + (weight_o * order + weight_p * pos) * bit
    add("key.index", main_next(lay.key_idx) - (1 - step_last) * grown)
    limb0 = main(lay.reg_b)
    quotient = qh * 2**32 + ql
    add("order.key", step_last * order * (limb0 - idx - quotient * 2**lay.orders_depth))
    side = main(lay.reg_b + ORDER_SIDE)
    add("order.side_binary", order * side * (side - 1))
    add("order.not_emptied", order * (1 - za) * zb)

    # fund.*: every new position leaf stores canonical cached funding indices, and index 0
    # on a zero balance. Both limbs of the balance and of the index are 32-bit (range.*), so
    # balance and index are exact integers of magnitude < 2^63 < p: zero in the field is zero.
    # balance == 0 => index == 0 is ``index = balance · w`` for a witness w (index / balance).
    for j in range(lay.n_assets):
        f_hi, f_lo = lay.funding_limbs(j)
        fb_hi, fb_lo = main(lay.reg_b + f_hi), main(lay.reg_b + f_lo)
        check(lay.funding_range_base + 2 * j, f"fund{j}.hi", fb_hi)
        check(lay.funding_range_base + 2 * j + 1, f"fund{j}.lo", fb_lo)
        bal_hi, bal_lo = lay.tracked_limbs(1 + j)
        balance = (main(lay.reg_b + bal_hi) - HALF) * 2**32 + main(lay.reg_b + bal_lo)
        index = (fb_hi - HALF) * 2**32 + fb_lo
        add(f"fund.zero_balance[{j}]", pos * (index - balance * main(lay.fund_w + j)))

    _add_trade_constraints(lay, add, step_last)

    net = (
        public(PI_DEPOSITS) * 2**32
        + public(PI_DEPOSITS + 1)
        - public(PI_WITHDRAWALS) * 2**32
        - public(PI_WITHDRAWALS + 1)
        + public(PI_FUNDING)
    )
    boundaries = [
        BoundaryConstraint(
            name=f"root.prev[{i}]", column=lay.carry + i, value=public(PI_PREV_ROOT + i)
        )
        for i in range(4)
    ]
    boundaries += [
        BoundaryConstraint(
            name=f"root.final[{i}]",
            column=lay.newroot + i,
            row=LAST_ROW,
            value=public(PI_NEW_ROOT + i),
        )
        for i in range(4)
    ]
    boundaries += [
        BoundaryConstraint(
            name=f"root.orders_prev[{i}]", column=lay.carry_o + i, value=public(PI_PREV_ORDERS + i)
        )
        for i in range(4)
    ]
    boundaries += [
        BoundaryConstraint(
            name=f"root.orders_final[{i}]",
            column=lay.newroot_o + i,
            row=LAST_ROW,
            value=public(PI_NEW_ORDERS + i),
        )
        for i in range(4)
    ]
    boundaries.append(
        BoundaryConstraint(name="key.index_start", column=lay.key_idx, value=const(0))
    )
    for tv in range(lay.n_tracked):
        boundaries.append(
            BoundaryConstraint(name=f"conserve.start[{tv}]", column=lay.acc + tv, value=const(0))
        )
    boundaries.append(
        BoundaryConstraint(name="conserve.total", column=lay.acc_after, row=LAST_ROW, value=net)
    )
    boundaries += [
        BoundaryConstraint(name="tx.first_start", column=lay.tx_start, value=const(1)),
        BoundaryConstraint(name="tx.last_closed", column=lay.tx_open, row=LAST_ROW, value=const(0)),
        BoundaryConstraint(name="fund.start", column=lay.fund_acc, value=const(0)),
        BoundaryConstraint(
            name="fund.total", column=lay.fund_acc_after, row=LAST_ROW, value=public(PI_FUNDING)
        ),
    ]
    boundaries += [
        BoundaryConstraint(
            name=f"conserve.synthetic[{j}]",
            column=lay.acc_after + 1 + j,
            row=LAST_ROW,
            value=const(0),
        )
        for j in range(lay.n_assets)
    ]
    return Air(
        name=(
            f"{AIR_VERSION}_k{lay.n_assets}_d{lay.depth}_o{lay.orders_depth}_f{lay.fee_position_id}"
        ),
        trace_width=lay.width,
        n_public_inputs=N_PUBLIC_INPUTS,
        transitions=tuple(t),
        boundaries=tuple(boundaries),
        periodic_columns=tuple(per.columns),
    )


def get_trade_registers(lay: BatchAirLayout) -> list[int]:
    """Return the columns of a trade's registers (constant over its transaction)."""
    cols = [lay.t_syn, lay.t_coll, lay.t_coll + 1, lay.t_fee_a, lay.t_fee_a + 1]
    cols += [lay.t_fee_b, lay.t_fee_b + 1, lay.t_side_a]
    return cols + [lay.t_slot + j for j in range(lay.n_assets)]


def _limbs(col: int) -> Expr:
    return main(col) * 2**32 + main(col + 1)


def get_fairness_operands(lay: BatchAirLayout) -> FairnessOperands[Expr]:
    """Return the fairness operands of an order step as expressions.

    The limits come from the new order leaf, the fill's synthetic from the fill increase's
    limbs, its collateral from the trade's registers, and the fee is party A's on role
    ORDER_A and party B's on role ORDER_B (0 elsewhere).
    """
    reg = lay.reg_b
    role_a, role_b = main(lay.role + ROLE_ORDER_A), main(lay.role + ROLE_ORDER_B)
    return FairnessOperands(
        S1=main(reg + ORDER_AMOUNT[0]),
        S0=main(reg + ORDER_AMOUNT[1]),
        C1=main(reg + ORDER_COLLATERAL[0]),
        C0=main(reg + ORDER_COLLATERAL[1]),
        F1=main(reg + ORDER_FEE[0]),
        F0=main(reg + ORDER_FEE[1]),
        s1=main(lay.fill_hi),
        s0=main(lay.fill_lo),
        c1=main(lay.t_coll),
        c0=main(lay.t_coll + 1),
        f1=role_a * main(lay.t_fee_a) + role_b * main(lay.t_fee_b),
        f0=role_a * main(lay.t_fee_a + 1) + role_b * main(lay.t_fee_b + 1),
        sigma=2 * main(reg + ORDER_SIDE) - 1,
    )


def _fairness_witness_exprs(
    cols: tuple[int, ...], n_splits: int
) -> tuple[list[Expr], list[Expr], list[Expr], list[Expr]]:
    w: list[Expr] = [main(c) for c in cols]
    h, lo = w[:n_splits], w[n_splits : 2 * n_splits]
    r, k = w[2 * n_splits : 2 * n_splits + CHAIN_LEN], w[2 * n_splits + CHAIN_LEN :]
    return h, lo, r, k


def compute_trade_range_values(
    o: FairnessOperands[T],
    price: Sequence[T],
    fee: Sequence[T],
) -> list[tuple[str, T]]:
    """Return the named 32-bit values a trade's order step range-checks besides v4's.

    ``price`` and ``fee`` are the fairness witnesses (h.., l.., r0..2, k0..2) of the two
    inequalities. The fill's collateral and the fee have limbs with a high limb below 2^15.
    """
    bound = 2**32 - 2**DIFF_BOUND_BITS
    out: list[tuple[str, T]] = [
        ("trade.c.lo", o.c0),
        ("trade.c.hi", o.c1),
        ("trade.c.hi_bound", o.c1 + bound),
        ("trade.f.lo", o.f0),
        ("trade.f.hi", o.f1),
        ("trade.f.hi_bound", o.f1 + bound),
    ]
    for tag, w, n in (("price", price, len(PRICE_SPLITS)), ("fee", fee, len(FEE_SPLITS))):
        h, lo = list(w[:n]), list(w[n : 2 * n])
        r, k = list(w[2 * n : 2 * n + CHAIN_LEN]), list(w[2 * n + CHAIN_LEN :])
        named = get_split_range_values(h, lo) + get_chain_range_values(r, k)
        out += [(f"fair.{tag}.{name}", v) for name, v in named]
    return out


def get_trade_order_range_exprs(lay: BatchAirLayout) -> list[tuple[str, Expr]]:
    """Return :func:`compute_trade_range_values` over the order step's columns."""
    n_price = get_fairness_columns(len(PRICE_SPLITS))
    n_fee = get_fairness_columns(len(FEE_SPLITS))
    price = [main(c) for c in lay.fair_price]
    fee = [main(c) for c in lay.fair_fee]
    assert len(price) == n_price and len(fee) == n_fee
    return compute_trade_range_values(get_fairness_operands(lay), price, fee)


def _add_trade_constraints(
    lay: BatchAirLayout,
    add: Callable[[str, Expr], None],
    step_last: Expr,
) -> None:
    """Add AIR v5's groups: ``tx.*`` (framing, roles), ``trade.*`` (each step of a trade tied
    to the trade's registers), ``fair.*`` (the fill against the orders' signed limits) and
    ``fund.*`` (the funding component of a position step's collateral change)."""
    order = main(lay.is_order)
    pos = 1 - order
    start, trade, tx_open = main(lay.tx_start), main(lay.is_trade), main(lay.tx_open)
    start_next = main_next(lay.tx_start)
    role = [main(lay.role + k) for k in range(N_ROLES)]
    # Within a transaction: at a step boundary whose next step does not open a transaction.
    inside = step_last * (1 - start_next)
    # tx.*: binary flags; a trade's roles start at FEE_A and advance one per step; a trade
    # closes exactly after its last role; the kind and the trade registers stay constant.
    add("tx.start_binary", start * (start - 1))
    add("tx.trade_binary", trade * (trade - 1))
    for k in range(N_ROLES):
        add(f"tx.role_binary[{k}]", role[k] * (role[k] - 1))
        add(f"tx.role_start[{k}]", start * (role[k] - (trade if k == 0 else 0)))
        previous: Expr | int = role[k - 1] if k else 0
        add(f"tx.role_shift[{k}]", inside * (main_next(lay.role + k) - previous))
    add("tx.open", tx_open - trade + role[N_ROLES - 1])
    add("tx.role_overflow", inside * role[N_ROLES - 1])
    add("tx.trade_closed", step_last * start_next * tx_open)
    add("tx.kind_constant", inside * (main_next(lay.is_trade) - trade))
    for col in get_trade_registers(lay):
        add(f"trade.constant[{col}]", inside * (main_next(col) - main(col)))
    # trade.* registers: side and slot selector well-formed.
    side_a = main(lay.t_side_a)
    add("trade.side_binary", side_a * (side_a - 1))
    slots = [main(lay.t_slot + j) for j in range(lay.n_assets)]
    for j, sel in enumerate(slots):
        add(f"trade.slot_binary[{j}]", sel * (sel - 1))
    add("trade.slot_one", trade * (sum(slots[1:], slots[0]) - 1))
    position_roles = role[ROLE_FEE_A] + role[ROLE_PARTY_A] + role[ROLE_FEE_B] + role[ROLE_PARTY_B]
    order_roles = role[ROLE_ORDER_A] + role[ROLE_ORDER_B]
    add("trade.role_position_step", position_roles * order)
    add("trade.role_order_step", order_roles * pos)

    def delta(reg_hi: int, reg_lo: int) -> Expr:
        return (main(lay.reg_b + reg_hi) - main(lay.reg_a + reg_hi)) * 2**32 + (
            main(lay.reg_b + reg_lo) - main(lay.reg_a + reg_lo)
        )

    d_coll = delta(*lay.tracked_limbs(0)) - main(lay.fund_coll)
    d_bal = [delta(*lay.tracked_limbs(1 + j)) for j in range(lay.n_assets)]
    syn = main(lay.t_syn)
    coll, fee_a, fee_b = _limbs(lay.t_coll), _limbs(lay.t_fee_a), _limbs(lay.t_fee_b)
    sigma_a = 2 * side_a - 1
    # Fee steps: the fee position (key_idx at the step's end) gains exactly the fee.
    for tag, k, fee in (("fee_a", ROLE_FEE_A, fee_a), ("fee_b", ROLE_FEE_B, fee_b)):
        add(f"trade.{tag}.collateral", role[k] * (d_coll - fee))
        for j in range(lay.n_assets):
            add(f"trade.{tag}.synthetic[{j}]", role[k] * d_bal[j])
        add(
            f"trade.{tag}.position",
            step_last * role[k] * (main(lay.key_idx) - lay.fee_position_id),
        )
    # Party steps: the traded slot moves by ±synthetic by the side, no other slot moves; the
    # collateral moves by ∓collateral − fee (plus the step's funding component).
    for tag, k, sign, fee in (
        ("party_a", ROLE_PARTY_A, 1, fee_a),
        ("party_b", ROLE_PARTY_B, -1, fee_b),
    ):
        for j in range(lay.n_assets):
            add(
                f"trade.{tag}.synthetic[{j}]",
                role[k] * (d_bal[j] - sign * slots[j] * sigma_a * syn),
            )
        add(f"trade.{tag}.collateral", role[k] * (d_coll + sign * sigma_a * coll + fee))
    # Order steps: the fill increase is the trade's synthetic; the sides are A's and not A's.
    fill = main(lay.fill_hi) * 2**32 + main(lay.fill_lo)
    side = main(lay.reg_b + ORDER_SIDE)
    add("trade.order_a.fill", role[ROLE_ORDER_A] * (fill - syn))
    add("trade.order_b.fill", role[ROLE_ORDER_B] * (fill - syn))
    add("trade.order_a.side", role[ROLE_ORDER_A] * (side - side_a))
    add("trade.order_b.side", role[ROLE_ORDER_B] * (side - 1 + side_a))
    # fair.*: price and fee rules against the order leaf's limits (range slots: range.order).
    ops = get_fairness_operands(lay)
    for tag, cols, splits, coefficients in (
        ("price", lay.fair_price, PRICE_SPLITS, compute_price_coefficients),
        ("fee", lay.fair_fee, FEE_SPLITS, compute_fee_coefficients),
    ):
        h, lo, r, k_ = _fairness_witness_exprs(cols, len(splits))
        products = [getattr(ops, a) * getattr(ops, b) for a, b in splits]
        for i, product in enumerate(products):
            add(f"fair.{tag}.split[{i}]", order_roles * (product - h[i] * 2**32 - lo[i]))
        chain = get_chain_equations(coefficients(ops, h, lo), r, k_)
        for i, equation in enumerate(chain):
            add(f"fair.{tag}.chain[{i}]", order_roles * equation)
    # fund.*: the funding component of a trade's position step is 0 unless a held slot's
    # cached index (or balance) moves; all components sum to the public funding change.
    # A slot funds with the global index, which the trace does not hold; its cached index
    # then moves to it, except when the slot closes (a zero balance caches 0): so the
    # component may be non-zero only if a held slot's cached index moves or the traded slot,
    # held before, closes. ``closed`` is 1 exactly when the traded slot's new balance is 0.
    moved: Expr = const(0)
    held_traded: Expr = const(0)
    new_traded: Expr = const(0)
    for j in range(lay.n_assets):
        bal_hi, bal_lo = lay.tracked_limbs(1 + j)
        held = (main(lay.reg_a + bal_hi) - HALF) * 2**32 + main(lay.reg_a + bal_lo)
        after = (main(lay.reg_b + bal_hi) - HALF) * 2**32 + main(lay.reg_b + bal_lo)
        moved = moved + held * delta(*lay.funding_limbs(j))
        held_traded = held_traded + slots[j] * held
        new_traded = new_traded + slots[j] * after
    closed = 1 - new_traded * main(lay.fund_closed_w)
    add("fund.closed_flag", position_roles * new_traded * closed)
    moved = moved + FUNDING_MIX * closed * held_traded
    add(
        "fund.only_when_funded",
        position_roles * (main(lay.fund_coll) - main(lay.fund_v) * moved),
    )
    add("fund.step", main(lay.fund_acc_after) - main(lay.fund_acc) - pos * main(lay.fund_coll))
    add("fund.chain", step_last * (main_next(lay.fund_acc) - main(lay.fund_acc_after)))
