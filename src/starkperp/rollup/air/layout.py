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
constant within a step; ``key_idx`` accumulates an order step's leaf index from its path bits. Range-check lanes decompose values
bit by bit in 32-row windows; which values a step checks depends on its type.
"""

from __future__ import annotations

from dataclasses import dataclass

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
ORDER_RANGE_VALUES = 21
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
    empty_a = take(1)
    empty_b = take(1)
    reg_a = take(n_regs)
    reg_b = take(n_regs)
    lanes = take(2 * n_lanes)
    return BatchAirLayout(
        n_assets=config.n_assets,
        depth=depth,
        orders_depth=config.orders_depth,
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
        n_tracked=n_tracked,
        empty_a=empty_a,
        empty_b=empty_b,
        reg_a=reg_a,
        reg_b=reg_b,
        lanes=lanes,
        width=col,
    )
