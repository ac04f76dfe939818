"""Signed oracle prices: a quorum of distinct configured signers, the median, staleness.

Each signer signs ``pedersen(pedersen(asset_id, price), timestamp)`` with STARK-curve ECDSA
(``fast_stark_crypto``), ``price`` being the 32.32 protocol price. A :class:`PriceTick`
for one market is accepted when at least ``quorum`` *distinct* configured signers signed
it, every signature verifies, and every timestamp lies within ``max_age`` seconds of now
(and not in the future). The accepted price is the median of the signed prices (the lower
median for an even count, so it is always one of the signed values).

The mark price is the median of the index price and the book's best bid and ask (the index
alone when a side is empty), which keeps it inside the spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import fast_stark_crypto

from starkperp.exchange.errors import ExchangeError, Reason
from starkperp.exchange.markets import Price

__all__ = [
    "PriceTick",
    "SignedPrice",
    "compute_mark_price",
    "compute_median",
    "compute_price_message",
    "sign_price",
    "validate_price_tick",
]

_FIELD_PRIME = 2**251 + 17 * 2**192 + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedPrice:
    """One signer's price for one asset at one time."""

    signer: int
    """The signer's STARK public key (x coordinate)."""
    price: Price
    timestamp: int
    r: int
    s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceTick:
    """The signed prices for one synthetic asset offered in one update."""

    asset_id: int
    prices: tuple[SignedPrice, ...]


def compute_price_message(asset_id: int, price: int, timestamp: int) -> int:
    """Return the hash a signer signs: ``pedersen(pedersen(asset_id, price), timestamp)``."""
    return fast_stark_crypto.pedersen_hash(
        fast_stark_crypto.pedersen_hash(asset_id, price), timestamp
    )


def sign_price(private_key: int, asset_id: int, price: Price, timestamp: int) -> SignedPrice:
    """Sign a price (operators and tests; the exchange itself never holds oracle keys)."""
    r, s = fast_stark_crypto.sign(private_key, compute_price_message(asset_id, price, timestamp))
    return SignedPrice(
        signer=fast_stark_crypto.get_public_key(private_key),
        price=price,
        timestamp=timestamp,
        r=r,
        s=s,
    )


def compute_median(values: list[int]) -> int:
    """Return the lower median of a non-empty list."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def _verify(signed: SignedPrice, asset_id: int) -> bool:
    if not (0 < signed.r < _FIELD_PRIME and 0 < signed.s < _FIELD_PRIME):
        return False
    if not 0 <= signed.price < 2**64 or not 0 <= signed.timestamp < 2**64:
        return False
    try:
        message = compute_price_message(asset_id, signed.price, signed.timestamp)
        return fast_stark_crypto.verify(signed.signer, message, signed.r, signed.s)
    except Exception:  # hostile input must never crash the exchange
        return False


def validate_price_tick(
    tick: PriceTick,
    *,
    signers: tuple[int, ...],
    quorum: int,
    now: int,
    max_age: int,
    price_min: int = 1,
    price_max: int = 1 << 62,
) -> Price:
    """Check a tick and return its median price, or raise with the reason it is refused."""
    if not _is_well_formed(tick):
        raise ExchangeError(Reason.BAD_ORACLE_SIGNATURE, "malformed price tick")
    allowed = set(signers)
    seen: set[int] = set()
    for signed in tick.prices:
        if signed.signer not in allowed:
            raise ExchangeError(Reason.UNKNOWN_ORACLE_SIGNER, f"signer {signed.signer:#x}")
        if signed.signer in seen:
            raise ExchangeError(Reason.ORACLE_QUORUM, "the same signer appears twice")
        seen.add(signed.signer)
        if signed.timestamp > now or now - signed.timestamp > max_age:
            raise ExchangeError(Reason.STALE_ORACLE, f"signed at {signed.timestamp}, now {now}")
        if not price_min <= signed.price <= price_max:
            raise ExchangeError(Reason.ORACLE_PRICE_OUT_OF_RANGE, f"price {signed.price}")
    if len(seen) < quorum:
        raise ExchangeError(Reason.ORACLE_QUORUM, f"{len(seen)} distinct signers < {quorum}")
    for signed in tick.prices:
        if not _verify(signed, tick.asset_id):
            raise ExchangeError(Reason.BAD_ORACLE_SIGNATURE, f"signer {signed.signer:#x}")
    return Price(compute_median([p.price for p in tick.prices]))


def _is_well_formed(tick: PriceTick) -> bool:
    if type(tick) is not PriceTick or type(tick.asset_id) is not int:
        return False
    if type(tick.prices) is not tuple:
        return False
    return all(
        type(p) is SignedPrice
        and type(p.signer) is int
        and type(p.price) is int
        and type(p.timestamp) is int
        and type(p.r) is int
        and type(p.s) is int
        for p in tick.prices
    )


def compute_mark_price(index: int, best_bid: int | None, best_ask: int | None) -> Price:
    """Return median(index, best bid, best ask); the index when a side is empty."""
    if best_bid is None or best_ask is None:
        return Price(index)
    return Price(sorted((index, best_bid, best_ask))[1])
