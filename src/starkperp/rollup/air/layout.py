"""Where every value of the batch AIR lives: the column map and the row schedule.

The trace is a sequence of **steps**, one per position update (one per touched position per
transaction, in execution order), each ``S = 8 · C`` rows long, ``C`` a power of two. A step
is a schedule of 8-row RPO cycles (rows 0..6 of a cycle hold the state before rounds 0..6, row
7 the permutation output), run by two hashers side by side: hasher A over the old leaf and
its path, hasher B over the new leaf and the same path.

* cycles ``0 .. L-1`` absorb the leaf elements (``L = ceil(n_elems / 8)``, Miden's
  ``hash_elements``: capacity[0] = n_elems mod 8, overwrite absorption, zero padding);
* cycles ``L .. L+d-1`` merge up the tree, one level each, the sibling shared by A and B;
* the remaining cycles (at least one) are idle, so no check falls on a trace's last row.

An **order step** (``is_order = 1``) updates the orders tree instead: two leaf cycles over the
14 order-leaf elements (leaf encoding v2: hash, filled, signed limits), then ``orders_depth``
merge cycles. Step registers (step type, old and new leaf elements, emptiness flags, both
trees' roots, the accumulators, the fill increase and the fill's slack below the signed
amount, the quotient of the message hash by the order key, the funding witnesses) are
constant within a step; ``key_idx`` accumulates a step's leaf index from its path bits.
Range-check lanes decompose values bit by bit in 32-row windows; which values a step checks
depends on its type.

AIR v5 adds per-transaction registers. ``tx_start`` opens a transaction; ``is_trade`` marks
a trade, whose steps take the six roles ``ROLE_*`` in order (``role`` is one-hot and shifts
by one per step, ``tx_open`` says the trade has steps left) and whose registers (the fill's
synthetic and collateral, both fees, A's side, the traded slot) are constant over its
steps. ``fund_coll`` is a position step's funding component (``fund_v`` its witness,
``fund_closed_w`` the inverse of the traded slot's new balance, ``fund_acc`` its running
sum). ``fair_price`` / ``fair_fee`` hold the limb witnesses of the
fairness inequalities (:mod:`starkperp.rollup.air.fairness`) on a trade's order steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.air.fairness import (
    CHAIN_LEN,
    FEE_SPLITS,
    PRICE_SPLITS,
    get_fairness_columns,
)
from starkperp.rollup.config import RollupConfig
from starkperp.rollup.errors import Reason, RollupError

__all__ = [
    "ORDER_AMOUNT",
    "ORDER_COLLATERAL",
    "ORDER_ELEMS",
    "ORDER_EXPIRY",
    "ORDER_FEE",
    "ORDER_FILLED",
    "ORDER_LIMITS",
    "ORDER_SIDE",
    "MAX_ORDERS_DEPTH",
    "N_ROLES",
    "ROLE_FEE_A",
    "ROLE_FEE_B",
    "ROLE_ORDER_A",
    "ROLE_ORDER_B",
    "ROLE_PARTY_A",
    "ROLE_PARTY_B",
    "ORDER_LEAF_CYCLES",
    "FUNDING_RANGE_VALUES",
    "ORDER_RANGE_VALUES",
    "RANGE_WINDOW",
    "VALUES_PER_TRACKED",
    "BatchAirLayout",
    "compute_layout",
    "compute_n_position_range_values",
    "compute_n_range_values",
]

RANGE_WINDOW = 32
VALUES_PER_TRACKED = 4
V4_ORDER_RANGE_VALUES = 21
# A trade's order step also range-checks the fill's collateral and this order's fee (limbs,
# high limb < 2^15: 6 values) and the fairness witnesses (fairness.py): three slots per split
# product, seven per carry chain.
TRADE_OPERAND_RANGE_VALUES = 6
ORDER_RANGE_VALUES = (
    V4_ORDER_RANGE_VALUES
    + TRADE_OPERAND_RANGE_VALUES
    + 3 * (len(PRICE_SPLITS) + len(FEE_SPLITS))
    + 2 * (2 * CHAIN_LEN + 1)
)
N_ROLES = 6
FUNDING_RANGE_VALUES = 2
ORDER_ELEMS = 14
ORDER_LEAF_CYCLES = 2
ORDER_FILLED = (4, 5)
ORDER_AMOUNT = (6, 7)
ORDER_COLLATERAL = (8, 9)
ORDER_FEE = (10, 11)
ORDER_SIDE = 12
ORDER_EXPIRY = 13
ORDER_LIMITS = tuple(range(6, ORDER_ELEMS))
MAX_ORDERS_DEPTH = 62
# A trade's six steps, in the per-update witness order (compute_batch_steps): position steps
# first (fee position for A's fee, A, fee position for B's fee, B), then A's and B's orders.
ROLE_FEE_A, ROLE_PARTY_A, ROLE_FEE_B, ROLE_PARTY_B, ROLE_ORDER_A, ROLE_ORDER_B = range(6)
CYCLE = 8
STATE_WIDTH = 12


def _next_pow2(x: int) -> int:
    return 1 << (x - 1).bit_length()


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchAirLayout:
    """Column indices and schedule of the batch AIR for one configuration."""

    n_assets: int
    depth: int
    orders_depth: int
    fee_position_id: int
    n_elems: int
    n_regs: int
    n_leaf_cycles: int
    n_cycles: int
    step_rows: int
    n_lanes: int
    windows_per_lane: int
    hasher_a: int
    hasher_b: int
    bit: int
    carry: int
    newroot: int
    is_order: int
    carry_o: int
    newroot_o: int
    fill_hi: int
    fill_lo: int
    slack_hi: int
    slack_lo: int
    key_idx: int
    quot_hi: int
    quot_lo: int
    fund_w: int
    acc: int
    acc_after: int
    tx_start: int
    is_trade: int
    tx_open: int
    role: int
    t_syn: int
    t_coll: int
    t_fee_a: int
    t_fee_b: int
    t_side_a: int
    t_slot: int
    fund_coll: int
    fund_v: int
    fund_closed_w: int
    fund_acc: int
    fund_acc_after: int
    fair_price: tuple[int, ...]
    fair_fee: tuple[int, ...]
    n_tracked: int
    empty_a: int
    empty_b: int
    reg_a: int
    reg_b: int
    lanes: int
    width: int

    @property
    def leaf_len_mod(self) -> int:
        """Return n_elems mod 8, the capacity seed of ``hash_elements``."""
        return self.n_elems % 8

    def tracked_limbs(self, t: int) -> tuple[int, int]:
        """Return the (hi, lo) element indices of tracked value ``t``.

        Tracked value 0 is the collateral, value ``1 + j`` the balance of asset slot ``j``:
        each is range-checked and summed over the batch.
        """
        return (4, 5) if t == 0 else (2 + 4 * t, 3 + 4 * t)

    @property
    def root_row(self) -> int:
        """Return the row (within a step) of the last merge output: both roots."""
        return CYCLE * (self.n_leaf_cycles + self.depth) - 1

    def merge_rows(self) -> list[int]:
        """Return the rows whose transition absorbs into merge cycle h, for h = 0..d-1."""
        return [CYCLE * (self.n_leaf_cycles + h) - 1 for h in range(self.depth)]

    @property
    def n_range_values(self) -> int:
        """Return how many 32-bit range-check slots each step has (the larger of the two
        step types' needs)."""
        return compute_n_range_values(self.n_assets)

    @property
    def n_position_range_values(self) -> int:
        """Return how many 32-bit values a position step range-checks."""
        return compute_n_position_range_values(self.n_assets)

    def funding_limbs(self, j: int) -> tuple[int, int]:
        """Return the (hi, lo) element indices of asset slot ``j``'s cached funding index."""
        return 8 + 4 * j, 9 + 4 * j

    @property
    def funding_range_base(self) -> int:
        """Return the index of the first funding-index range value of a position step."""
        return VALUES_PER_TRACKED * self.n_tracked

    def order_merge_rows(self) -> list[int]:
        """Return the merge-absorption rows of an order step (one leaf cycle)."""
        return [CYCLE * (ORDER_LEAF_CYCLES + h) - 1 for h in range(self.orders_depth)]

    @property
    def order_root_row(self) -> int:
        """Return the row (within an order step) of the last merge output."""
        return CYCLE * (ORDER_LEAF_CYCLES + self.orders_depth) - 1

    def range_slot(self, k: int) -> tuple[int, int]:
        """Return (lane, end row within the step) of range-checked value ``k``."""
        lane, window = divmod(k, self.windows_per_lane)
        return lane, RANGE_WINDOW * window + RANGE_WINDOW - 1


def compute_n_position_range_values(n_assets: int) -> int:
    """Return how many 32-bit values a position step range-checks for ``n_assets`` slots.

    Per tracked value (collateral, each balance) four; two per slot for the new leaf's cached
    funding index limbs.
    """
    n_tracked = 1 + n_assets
    return VALUES_PER_TRACKED * n_tracked + FUNDING_RANGE_VALUES * n_assets


def compute_n_range_values(n_assets: int) -> int:
    """Return how many range-check slots a step has: position and order steps share them."""
    return max(compute_n_position_range_values(n_assets), ORDER_RANGE_VALUES)


def compute_layout(config: RollupConfig) -> BatchAirLayout:
    """Return the layout for ``config`` (positions tree, its asset count and depth)."""
    if config.orders_depth > MAX_ORDERS_DEPTH:
        raise RollupError(
            Reason.INVALID_CONFIG,
            f"the batch AIR binds order keys to the hash's low 63-bit limb: orders_depth "
            f"<= {MAX_ORDERS_DEPTH}",
        )
    n_elems = 6 + 4 * config.n_assets
    n_regs = max(n_elems, ORDER_ELEMS)
    n_leaf = -(-n_elems // 8)
    depth = config.positions_depth
    n_cycles = _next_pow2(max(n_leaf + depth, ORDER_LEAF_CYCLES + config.orders_depth) + 1)
    step_rows = CYCLE * n_cycles
    windows = step_rows // RANGE_WINDOW - 1  # the window ending on the step's last row is unused
    n_tracked = 1 + config.n_assets
    n_lanes = -(-compute_n_range_values(config.n_assets) // windows)
    col = 0

    def take(n: int) -> int:
        nonlocal col
        start = col
        col += n
        return start

    hasher_a = take(STATE_WIDTH)
    hasher_b = take(STATE_WIDTH)
    bit = take(1)
    carry = take(4)
    newroot = take(4)
    is_order = take(1)
    carry_o = take(4)
    newroot_o = take(4)
    fill_hi = take(1)
    fill_lo = take(1)
    slack_hi = take(1)
    slack_lo = take(1)
    key_idx = take(1)
    quot_hi = take(1)
    quot_lo = take(1)
    fund_w = take(config.n_assets)
    acc = take(n_tracked)
    acc_after = take(n_tracked)
    # AIR v5: transaction framing and a trade's registers (constant over a transaction).
    tx_start = take(1)  # 1 on the first step of a transaction
    is_trade = take(1)  # the transaction is a trade (its steps follow the six roles)
    tx_open = take(1)  # is_trade - role[5]: a trade not yet at its last role
    role = take(N_ROLES)  # one-hot: the step's role in its trade (shifts by one per step)
    t_syn = take(1)  # the fill's actual synthetic amount
    t_coll = take(2)  # the fill's actual collateral amount (hi, lo)
    t_fee_a = take(2)  # party A's actual fee (hi, lo)
    t_fee_b = take(2)  # party B's actual fee (hi, lo)
    t_side_a = take(1)  # 1 if party A buys the synthetic
    t_slot = take(config.n_assets)  # one-hot: the traded asset's slot
    # Funding component of a position step's collateral change, its witness, its sum.
    fund_coll = take(1)
    fund_v = take(1)
    fund_closed_w = take(1)  # inverse of the traded slot's new balance (0 if it is 0)
    fund_acc = take(1)
    fund_acc_after = take(1)
    empty_a = take(1)
    empty_b = take(1)
    reg_a = take(n_regs)
    reg_b = take(n_regs)
    lanes = take(2 * n_lanes)
    # Fairness witnesses of a trade's order step (fairness.py): h.., l.., r0..2, k0..2. They
    # live first in columns an order step leaves free (the new-leaf registers past the 14
    # order elements, the funding witnesses and components of position steps: no constraint
    # reads them on an order step but reg.constant), then in columns of their own.
    spare = [reg_b + e for e in range(ORDER_ELEMS, n_regs)]
    spare += [fund_w + j for j in range(config.n_assets)]
    spare += [fund_coll, fund_v, fund_closed_w]
    n_price = get_fairness_columns(len(PRICE_SPLITS))
    n_fair = n_price + get_fairness_columns(len(FEE_SPLITS))
    fair = spare[:n_fair] + [take(1) for _ in range(n_fair - len(spare[:n_fair]))]
    fair_price, fair_fee = tuple(fair[:n_price]), tuple(fair[n_price:])
    return BatchAirLayout(
        n_assets=config.n_assets,
        depth=depth,
        orders_depth=config.orders_depth,
        fee_position_id=config.fee_position_id,
        n_elems=n_elems,
        n_regs=n_regs,
        n_leaf_cycles=n_leaf,
        n_cycles=n_cycles,
        step_rows=step_rows,
        n_lanes=n_lanes,
        windows_per_lane=windows,
        hasher_a=hasher_a,
        hasher_b=hasher_b,
        bit=bit,
        carry=carry,
        newroot=newroot,
        is_order=is_order,
        carry_o=carry_o,
        newroot_o=newroot_o,
        fill_hi=fill_hi,
        fill_lo=fill_lo,
        slack_hi=slack_hi,
        slack_lo=slack_lo,
        key_idx=key_idx,
        quot_hi=quot_hi,
        quot_lo=quot_lo,
        fund_w=fund_w,
        acc=acc,
        acc_after=acc_after,
        tx_start=tx_start,
        is_trade=is_trade,
        tx_open=tx_open,
        role=role,
        t_syn=t_syn,
        t_coll=t_coll,
        t_fee_a=t_fee_a,
        t_fee_b=t_fee_b,
        t_side_a=t_side_a,
        t_slot=t_slot,
        fund_coll=fund_coll,
        fund_v=fund_v,
        fund_closed_w=fund_closed_w,
        fund_acc=fund_acc,
        fund_acc_after=fund_acc_after,
        fair_price=fair_price,
        fair_fee=fair_fee,
        n_tracked=n_tracked,
        empty_a=empty_a,
        empty_b=empty_b,
        reg_a=reg_a,
        reg_b=reg_b,
        lanes=lanes,
        width=col,
    )
