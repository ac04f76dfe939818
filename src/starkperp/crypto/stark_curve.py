"""STARK-curve ECDSA and the Pedersen hash, as StarkEx and dYdX v3 sign orders with them.

The STARK curve is ``y^2 = x^3 + x + BETA`` over the prime field of
``FIELD_PRIME = 2^251 + 17 * 2^192 + 1``; its generator has prime order ``EC_ORDER``.
A public key ("STARK key") is the x coordinate of ``private_key * G``; a signature is a
pair ``(r, s)`` over a message hash below ``2^251`` (StarkWare's variant of ECDSA: no
reduction of ``r`` mod the order, and ``w = s^-1`` must also lie below ``2^251``).

The cryptography itself is done by the maintained native library ``fast_stark_crypto``
(StarkWare's ``starknet-crypto`` in Rust). Its signatures use the deterministic nonce of
RFC 6979 with the same message padding as StarkWare's Python signer, so they are bit for bit
the ones ``dydx-v3-python`` produces (checked against vectors in ``tests/vectors/dydx``).
This module adds what a service facing hostile input needs around it: named types, range
checks, and a :func:`verify` that answers ``False`` instead of raising (the native library
panics on out-of-range values).

A small pure-Python curve (:func:`compute_public_key_point`) supplies the y coordinate of a
public key, which dYdX onboarding sends beside the x coordinate.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NewType

import fast_stark_crypto
from fast_stark_crypto import rs_compute_pedersen_hash, rs_sign_message, rs_verify_signature

from starkperp.crypto.errors import CryptoError, CryptoErrorReason

__all__ = [
    "ALPHA",
    "BETA",
    "EC_ORDER",
    "FIELD_PRIME",
    "GENERATOR",
    "MAX_ECDSA_VALUE",
    "FieldElement",
    "Signature",
    "StarkPrivateKey",
    "StarkPublicKey",
    "compute_public_key_point",
    "is_valid_public_key",
    "pedersen_hash",
    "private_to_public",
    "sign",
    "verify",
]

FieldElement = NewType("FieldElement", int)
"""An element of the STARK field, ``0 <= x < FIELD_PRIME``."""
StarkPrivateKey = NewType("StarkPrivateKey", int)
"""A STARK private key, ``1 <= k < EC_ORDER``."""
StarkPublicKey = NewType("StarkPublicKey", int)
"""A STARK public key: the x coordinate of ``private_key * G``."""

FIELD_PRIME = 2**251 + 17 * 2**192 + 1
EC_ORDER = 0x0800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F
ALPHA = 1
BETA = 0x06F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89
GENERATOR = (
    0x01EF15C18599971B7BECED415A40F0C7DEACFD9B0D1819E03D723D8BC943CFCA,
    0x005668060AA49730B7BE4801DF46EC62DE53ECD11ABE43A32873000C36E8DC1F,
)
MAX_ECDSA_VALUE = 2**251
"""Message hashes, ``r`` and ``w = s^-1`` must lie below this bound."""

_EULER_EXPONENT = (FIELD_PRIME - 1) // 2
_PUBLIC_KEY_CACHE_SIZE = 1 << 16


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """A STARK-curve ECDSA signature ``(r, s)``."""

    r: FieldElement
    s: FieldElement

    def to_hex(self) -> str:
        """Serialize as dYdX does: 64 hex digits of ``r`` then 64 of ``s``, no prefix."""
        if not (0 <= self.r < 2**256 and 0 <= self.s < 2**256):
            raise CryptoError(CryptoErrorReason.MALFORMED_SIGNATURE, "r or s does not fit 32 bytes")
        return f"{self.r:064x}{self.s:064x}"

    @classmethod
    def from_hex(cls, text: str) -> Signature:
        """Parse dYdX's 128-hex-digit form (an optional ``0x`` prefix is accepted)."""
        body = text[2:] if text[:2] in ("0x", "0X") else text
        if len(body) != 128 or not all(c in "0123456789abcdefABCDEF" for c in body):
            raise CryptoError(
                CryptoErrorReason.MALFORMED_SIGNATURE, "expected 128 hex digits (r then s)"
            )
        return cls(r=FieldElement(int(body[:64], 16)), s=FieldElement(int(body[64:], 16)))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_field_element(value: int, what: str) -> None:
    if not _is_int(value) or not 0 <= value < FIELD_PRIME:
        raise CryptoError(CryptoErrorReason.OUT_OF_RANGE, f"{what} is not a STARK field element")


def _require_private_key(private_key: int) -> None:
    if not _is_int(private_key) or not 1 <= private_key < EC_ORDER:
        raise CryptoError(
            CryptoErrorReason.INVALID_PRIVATE_KEY, "private key must be in [1, EC_ORDER)"
        )


def pedersen_hash(left: int, right: int) -> FieldElement:
    """Return StarkWare's Pedersen hash of two field elements."""
    _require_field_element(left, "left input")
    _require_field_element(right, "right input")
    return FieldElement(int(rs_compute_pedersen_hash(hex(left), hex(right))))


def private_to_public(private_key: StarkPrivateKey) -> StarkPublicKey:
    """Return the STARK public key (x coordinate) of ``private_key``."""
    _require_private_key(private_key)
    return StarkPublicKey(fast_stark_crypto.get_public_key(private_key))


def sign(msg_hash: int, private_key: StarkPrivateKey) -> Signature:
    """Sign ``msg_hash`` deterministically (RFC 6979 nonce, as dYdX v3 and StarkEx)."""
    if not _is_int(msg_hash) or not 0 <= msg_hash < MAX_ECDSA_VALUE:
        raise CryptoError(CryptoErrorReason.OUT_OF_RANGE, "message hash must be below 2^251")
    _require_private_key(private_key)
    r, s = rs_sign_message(hex(private_key), hex(msg_hash))
    return Signature(r=FieldElement(int(r)), s=FieldElement(int(s)))


@functools.lru_cache(maxsize=_PUBLIC_KEY_CACHE_SIZE)
def _is_curve_x(x: int) -> bool:
    rhs = (x * x * x + ALPHA * x + BETA) % FIELD_PRIME
    return rhs == 0 or pow(rhs, _EULER_EXPONENT, FIELD_PRIME) == 1


def is_valid_public_key(public_key: int) -> bool:
    """Tell whether ``public_key`` is the x coordinate of a point on the STARK curve."""
    return _is_int(public_key) and 0 < public_key < FIELD_PRIME and _is_curve_x(public_key)


def verify(msg_hash: int, signature: Signature, public_key: StarkPublicKey) -> bool:
    """Tell whether ``signature`` signs ``msg_hash`` under ``public_key``; never raises.

    Every value is range-checked before it reaches the native library, so hostile input
    (zero or oversized ``r``/``s``, a key off the curve, a hash of 2^251 or more, non-ints)
    gives ``False``. As in StarkEx, the key is an x coordinate and both points with that x
    are accepted, so ``(r, EC_ORDER - s)`` verifies whenever ``(r, s)`` does.
    """
    r = getattr(signature, "r", None)
    s = getattr(signature, "s", None)
    if not (_is_int(msg_hash) and _is_int(r) and _is_int(s)):
        return False
    assert isinstance(r, int) and isinstance(s, int)
    if not (0 < msg_hash < MAX_ECDSA_VALUE and 0 < r < MAX_ECDSA_VALUE and 0 < s < EC_ORDER):
        return False
    if pow(s, -1, EC_ORDER) >= MAX_ECDSA_VALUE:
        return False
    if not is_valid_public_key(public_key):
        return False
    try:
        return bool(rs_verify_signature(hex(public_key), hex(msg_hash), hex(r), hex(s)))
    except ValueError:
        return False
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        return False


# --- A plain affine/Jacobian curve, used only to recover a key's y coordinate. ---


def _jacobian_double(p: tuple[int, int, int]) -> tuple[int, int, int]:
    x, y, z = p
    if y == 0 or z == 0:
        return (1, 1, 0)
    q = FIELD_PRIME
    yy = y * y % q
    s = 4 * x * yy % q
    zz = z * z % q
    m = (3 * x * x + ALPHA * zz * zz) % q
    nx = (m * m - 2 * s) % q
    ny = (m * (s - nx) - 8 * yy * yy) % q
    nz = 2 * y * z % q
    return (nx, ny, nz)


def _jacobian_add(p: tuple[int, int, int], a: tuple[int, int]) -> tuple[int, int, int]:
    """Add the affine point ``a`` to the Jacobian point ``p``."""
    x1, y1, z1 = p
    if z1 == 0:
        return (a[0], a[1], 1)
    q = FIELD_PRIME
    z1z1 = z1 * z1 % q
    u2 = a[0] * z1z1 % q
    s2 = a[1] * z1 * z1z1 % q
    h = (u2 - x1) % q
    r = (s2 - y1) % q
    if h == 0:
        return _jacobian_double(p) if r == 0 else (1, 1, 0)
    hh = h * h % q
    hhh = h * hh % q
    v = x1 * hh % q
    nx = (r * r - hhh - 2 * v) % q
    ny = (r * (v - nx) - y1 * hhh) % q
    nz = z1 * h % q
    return (nx, ny, nz)


def compute_public_key_point(private_key: StarkPrivateKey) -> tuple[FieldElement, FieldElement]:
    """Return the full point ``private_key * G`` as ``(x, y)`` (pure Python, ~ms)."""
    _require_private_key(private_key)
    acc = (1, 1, 0)
    for bit in bin(private_key)[2:]:
        acc = _jacobian_double(acc)
        if bit == "1":
            acc = _jacobian_add(acc, GENERATOR)
    x, y, z = acc
    assert z != 0, "k*G is never the point at infinity for 0 < k < EC_ORDER"
    z_inv = pow(z, -1, FIELD_PRIME)
    z_inv2 = z_inv * z_inv % FIELD_PRIME
    return (
        FieldElement(x * z_inv2 % FIELD_PRIME),
        FieldElement(y * z_inv2 * z_inv % FIELD_PRIME),
    )
