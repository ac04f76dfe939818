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

from collections.abc import Sequence
from functools import cache

from starkperp.crypto import rpo
from starkperp.rollup.air.layout import (
    CYCLE,
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
    "get_empty_elements",
]

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
    registers += [lay.reg_a + e for e in range(lay.n_regs)]
    registers += [lay.reg_b + e for e in range(lay.n_regs)]
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
    grown = idx + weight_o * order * bit
    add("order.key_index", main_next(lay.key_idx) - (1 - step_last) * grown)
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
        BoundaryConstraint(name="order.key_index_start", column=lay.key_idx, value=const(0))
    )
    for tv in range(lay.n_tracked):
        boundaries.append(
            BoundaryConstraint(name=f"conserve.start[{tv}]", column=lay.acc + tv, value=const(0))
        )
    boundaries.append(
        BoundaryConstraint(name="conserve.total", column=lay.acc_after, row=LAST_ROW, value=net)
    )
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
        name=f"starkperp_batch_v4_k{lay.n_assets}_d{lay.depth}_o{lay.orders_depth}",
        trace_width=lay.width,
        n_public_inputs=N_PUBLIC_INPUTS,
        transitions=tuple(t),
        boundaries=tuple(boundaries),
        periodic_columns=tuple(per.columns),
    )
