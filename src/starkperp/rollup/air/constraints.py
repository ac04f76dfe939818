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
* ``fill.*``     — an order leaf's filled amount never decreases;
* ``fund.*``     — the new leaf's cached funding indices are canonical signed 64-bit values
  (limbs range-checked under ``range.*``) and 0 on every zero balance (leaf encoding v1);
* ``range.*``    — bit-serial 32-bit range checks of the new collateral and synthetic balance
  limbs and of each change's high limb (|change| < 2^47 per step, so sums never wrap), and
  of the new cached funding index limbs;
* ``conserve.*`` — the running sum of collateral changes equals the public
  deposits − withdrawals + funding change, and each synthetic asset's sum of balance changes
  is zero (every long has its short).
"""

from __future__ import annotations

from functools import cache

from starkperp.crypto import rpo
from starkperp.rollup.air.layout import (
    CYCLE,
    ORDER_ELEMS,
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
    leaf_row = [
        per.add(f"leaf_row[{j}]", _ones_at([CYCLE * j], s)) for j in range(lay.n_leaf_cycles)
    ]
    leaf_cont = per.add(
        "leaf_cont", _ones_at([CYCLE * j + 7 for j in range(lay.n_leaf_cycles - 1)], s)
    )
    merge_row_p = per.add("merge_row", _ones_at(lay.merge_rows(), s))
    root_row_p = per.add("root_row", _ones_at([lay.root_row], s))
    merge_row_o = per.add("order_merge_row", _ones_at(lay.order_merge_rows(), s))
    root_row_o = per.add("order_root_row", _ones_at([lay.order_root_row], s))
    step_last = per.add("step_last", _ones_at([s - 1], s))
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
    seed = pos * lay.leaf_len_mod + order * ORDER_ELEMS
    for tag, h, reg in hashers:
        add(f"leaf.{tag}.seed", leaf_row[0] * (main(h) - seed))
        for c in range(1, 4):
            add(f"leaf.{tag}.capacity[{c}]", leaf_row[0] * main(h + c))
        for j in range(lay.n_leaf_cycles):
            for i in range(8):
                e = 8 * j + i
                target: Expr = main(reg + e) if e < lay.n_elems else const(0)
                add(f"leaf.{tag}.absorb[{e}]", leaf_row[j] * pos * (main(h + 4 + i) - target))
        for i in range(8):
            target = main(reg + i) if i < ORDER_ELEMS else const(0)
            add(f"leaf.{tag}.order_absorb[{i}]", leaf_row[0] * order * (main(h + 4 + i) - target))
        for c in range(4):
            add(
                f"leaf.{tag}.carry_capacity[{c}]",
                leaf_cont * pos * (main_next(h + c) - main(h + c)),
            )
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
    registers += [lay.is_order, lay.fill_hi, lay.fill_lo]
    registers += [lay.fund_w + j for j in range(lay.n_assets)]
    registers += [lay.acc + i for i in range(lay.n_tracked)]
    registers += [lay.acc_after + i for i in range(lay.n_tracked)]
    registers += [lay.empty_a, lay.empty_b]
    registers += [lay.reg_a + e for e in range(lay.n_elems)]
    registers += [lay.reg_b + e for e in range(lay.n_elems)]
    for col in registers:
        add(f"reg.constant[{col}]", keep * (main_next(col) - main(col)))
    # key.*: the owner key (an order's message hash) changes only from or to the empty leaf.
    empty = get_empty_elements(lay)
    za, zb = main(lay.empty_a), main(lay.empty_b)
    add("key.empty_a_binary", za * (za - 1))
    add("key.empty_b_binary", zb * (zb - 1))
    for e in range(lay.n_elems):
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
        add(f"range.value[{name}]", range_sel[k] * (main(lay.lanes + 2 * lane) - value))

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
    # both limbs 32-bit and fill_hi < 2^15, so a decrease (≡ p - x) cannot pass.
    a_hi, a_lo = main(lay.reg_a + 4), main(lay.reg_a + 5)
    b_hi, b_lo = main(lay.reg_b + 4), main(lay.reg_b + 5)
    fh, fl = main(lay.fill_hi), main(lay.fill_lo)
    increase = (b_hi - a_hi) * 2**32 + (b_lo - a_lo)
    add("fill.increase", order * (increase - fh * 2**32 - fl))
    base = VALUES_PER_TRACKED * lay.n_tracked
    check(base, "fill.lo", fl)
    check(base + 1, "fill.hi", fh)
    check(base + 2, "fill.hi_bound", fh + (2**32 - 2**DIFF_BOUND_BITS))

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
        name=f"starkperp_batch_v3_k{lay.n_assets}_d{lay.depth}_o{lay.orders_depth}",
        trace_width=lay.width,
        n_public_inputs=N_PUBLIC_INPUTS,
        transitions=tuple(t),
        boundaries=tuple(boundaries),
        periodic_columns=tuple(per.columns),
    )
