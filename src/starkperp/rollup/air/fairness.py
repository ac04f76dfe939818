"""Fairness of a fill against an order's signed limits, as exact multi-limb integer arithmetic.

StarkEx's fairness rules (``limit_order.validate_fairness``) compare products of 64-bit
amounts, which exceed the Goldilocks field. On a trade's order step the batch AIR proves

* the price rule, ``D = σ·(C·s − S·c) + S − 1 ≥ 0`` with ``σ = +1`` for a buyer and ``−1``
  for a seller: buyer ``(c − 1)·S < C·s``, seller ``s·C < S·(c + 1)``, one quantum of slack
  (a buyer filled for ``c = 0`` passes, as in ``validate_fairness``);
* the fee rule, ``G = F·c − f·C ≥ 0``: ``f·C ≤ F·c``;

where ``S, C, F`` are the order leaf's signed amount, collateral amount and fee limit and
``s, c, f`` the fill's synthetic, collateral and this order's fee.

Every operand is written in 32-bit limbs, ``x = x1·X + x0`` with ``X = 2^32`` (the limbs are
range-checked elsewhere: ``S1 < 2^30``, ``s1, c1, f1 < 2^15``). A difference of products is a
polynomial in ``X`` with three coefficients ``e0, e1, e2``. A partial product of two full
32-bit limbs (below ``2^64 − 2^33 + 1``) is split into ``h·X + l`` (``h ≤ 2^32 − 2``, ``l <
2^32``, three range slots) so that no coefficient reaches ``2^63``; the others stay whole.
Then a carry chain

    e0      = r0 + k0·X
    e1 + k0 = r1 + k1·X
    e2 + k1 = r2 + k2·X

with ``r_i ∈ [0, 2^32)``, ``k0, k1 ∈ [−2^31, 2^31)`` and ``k2 ∈ [0, 2^31)`` holds over the
integers (every equation's terms are far below ``p`` in magnitude, so zero in the field is
zero), hence ``D = r0 + r1·X + r2·X^2 + k2·X^3 ≥ 0``.

The same functions build the constraint expressions (operands are :class:`Expr`) and the
trace witness (operands are ``int``): the arithmetic is written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from starkperp.stark.expr import Expr

__all__ = [
    "CHAIN_LEN",
    "FEE_SPLITS",
    "PRICE_SPLITS",
    "LIMB",
    "FairnessOperands",
    "compute_chain_witness",
    "compute_fee_coefficients",
    "compute_price_coefficients",
    "compute_split_witness",
    "get_chain_equations",
    "get_chain_range_values",
    "get_fairness_columns",
    "get_split_range_values",
]

LIMB = 2**32
HALF_LIMB = 2**31
CHAIN_LEN = 3
# The partial products split into h·X + l (names of FairnessOperands fields).
PRICE_SPLITS = (("C0", "s0"), ("C1", "s0"), ("S0", "c0"))
FEE_SPLITS = (("F0", "c0"), ("F1", "c0"), ("f0", "C0"), ("f0", "C1"))

T = TypeVar("T", Expr, int)


@dataclass(frozen=True, slots=True, kw_only=True)
class FairnessOperands(Generic[T]):
    """The 32-bit limbs (``x1`` high, ``x0`` low) of an order's limits and of its fill.

    ``sigma`` is +1 when the order buys the synthetic, −1 when it sells (``2·side − 1``).
    """

    S1: T
    S0: T
    C1: T
    C0: T
    F1: T
    F0: T
    s1: T
    s0: T
    c1: T
    c0: T
    f1: T
    f0: T
    sigma: T


def get_fairness_columns(n_splits: int) -> int:
    """Return how many witness columns one inequality uses: h and l per split, r and k."""
    return 2 * n_splits + 2 * CHAIN_LEN


def compute_price_coefficients(o: FairnessOperands[T], h: Sequence[T], lo: Sequence[T]) -> list[T]:
    """Return ``e0, e1, e2`` of ``σ·(C·s − S·c) + S − 1`` given the splits of PRICE_SPLITS."""
    e0 = o.sigma * (lo[0] - lo[2]) + o.S0 - 1
    e1 = o.sigma * (h[0] + lo[1] + o.C0 * o.s1 - h[2] - o.S1 * o.c0 - o.S0 * o.c1) + o.S1
    e2 = o.sigma * (h[1] + o.C1 * o.s1 - o.S1 * o.c1)
    return [e0, e1, e2]


def compute_fee_coefficients(o: FairnessOperands[T], h: Sequence[T], lo: Sequence[T]) -> list[T]:
    """Return ``e0, e1, e2`` of ``F·c − f·C`` given the splits of FEE_SPLITS."""
    e0 = lo[0] - lo[2]
    e1 = h[0] + lo[1] + o.F0 * o.c1 - h[2] - lo[3] - o.f1 * o.C0
    e2 = h[1] + o.F1 * o.c1 - h[3] - o.f1 * o.C1
    return [e0, e1, e2]


def get_split_products(o: FairnessOperands[T], splits: Sequence[tuple[str, str]]) -> list[T]:
    """Return the partial products ``a·b`` named by ``splits``."""
    return [getattr(o, a) * getattr(o, b) for a, b in splits]


def compute_split_witness(o: FairnessOperands[int], splits: Sequence[tuple[str, str]]) -> list[int]:
    """Return ``h`` then ``l`` of every split product (``a·b = h·X + l``)."""
    parts = [divmod(v, LIMB) for v in get_split_products(o, splits)]
    return [hv for hv, _ in parts] + [lv for _, lv in parts]


def compute_chain_witness(coefficients: Sequence[int]) -> list[int]:
    """Return ``r0, r1, r2, k0, k1, k2`` of the carry chain over ``coefficients``.

    The caller checks the ranges (a negative value is the statement the AIR rejects).
    """
    rs: list[int] = []
    ks: list[int] = []
    carry = 0
    for e in coefficients:
        carry, r = divmod(e + carry, LIMB)
        rs.append(r)
        ks.append(carry)
    return rs + ks


def get_chain_equations(
    coefficients: Sequence[Expr], r: Sequence[Expr], k: Sequence[Expr]
) -> list[Expr]:
    """Return the carry-chain expressions that must vanish."""
    out = []
    for i, e in enumerate(coefficients):
        carry_in = k[i - 1] if i else 0
        out.append(e + carry_in - r[i] - k[i] * LIMB)
    return out


def get_split_range_values(h: Sequence[T], lo: Sequence[T]) -> list[tuple[str, T]]:
    """Return the named 32-bit range values of the splits: ``h``, ``h + 1`` and ``l``."""
    out: list[tuple[str, T]] = []
    for i, (hv, lv) in enumerate(zip(h, lo, strict=True)):
        out += [(f"h{i}", hv), (f"h{i}_bound", hv + 1), (f"l{i}", lv)]
    return out


def get_chain_range_values(r: Sequence[T], k: Sequence[T]) -> list[tuple[str, T]]:
    """Return the named 32-bit range values of the chain: the r's, the signed low carries
    (offset by 2^31) and the top carry (in ``[0, 2^31)``: two slots)."""
    out: list[tuple[str, T]] = [(f"r{i}", rv) for i, rv in enumerate(r)]
    out += [(f"k{i}", kv + HALF_LIMB) for i, kv in enumerate(k[:-1])]
    out += [("top", k[-1]), ("top_bound", k[-1] + HALF_LIMB)]
    return out
