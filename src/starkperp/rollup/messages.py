"""Signed messages: what a trader or oracle signs, its hash, and the signature check.

A message is a kind tag followed by integer fields; its hash is a Pedersen hash chain over
``(kind, fields..., length)`` on the STARK curve (StarkEx's convention of hashing a packed
message). Signatures are STARK-curve ECDSA ``(r, s)`` checked with ``fast_stark_crypto``.
The batch proof does not prove these signatures (see ``docs/proof-statement.md``); the
executor checks them when ``RollupConfig.verify_signatures`` is set, and the DA payload
carries them so anyone can audit.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import fast_stark_crypto

from starkperp.rollup.errors import Reason, TransactionRejected

__all__ = [
    "MessageKind",
    "Signature",
    "compute_message_hash",
    "is_valid_signature",
    "sign_message",
    "validate_signature",
]

_FIELD_PRIME = 2**251 + 17 * 2**192 + 1
_CURVE_BETA = 0x6F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89


def _is_curve_x(x: int) -> bool:
    # The native verifier panics on a key that is not the x-coordinate of a curve point.
    rhs = (x * x * x + x + _CURVE_BETA) % _FIELD_PRIME
    return rhs == 0 or pow(rhs, (_FIELD_PRIME - 1) // 2, _FIELD_PRIME) == 1


class MessageKind(enum.IntEnum):
    """Domain-separation tag of each signed message."""

    LIMIT_ORDER = 1
    TRANSFER = 2
    CONDITIONAL_TRANSFER = 3
    WITHDRAWAL = 4
    ORACLE_PRICE = 5
    FORCED_TRADE = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """A STARK-curve ECDSA signature."""

    r: int = 0
    s: int = 0


def compute_message_hash(kind: MessageKind, fields: Sequence[int]) -> int:
    """Return the Pedersen hash chain of ``(kind, *fields, len)``."""
    h = 0
    for x in (int(kind), *fields):
        h = fast_stark_crypto.pedersen_hash(h, x % _FIELD_PRIME)
    return fast_stark_crypto.pedersen_hash(h, len(fields) + 1)


def sign_message(private_key: int, message_hash: int) -> Signature:
    """Return the signature of ``message_hash`` (for tests, tools and simulations)."""
    r, s = fast_stark_crypto.sign(private_key, message_hash)
    return Signature(r=r, s=s)


def is_valid_signature(public_key: int, message_hash: int, signature: Signature) -> bool:
    """Return whether ``signature`` signs ``message_hash`` under ``public_key``."""
    if not (0 < signature.r < 2**251 and 0 < signature.s < 2**251):
        return False
    if not (0 < public_key < _FIELD_PRIME and _is_curve_x(public_key)):
        return False
    try:
        return bool(fast_stark_crypto.verify(public_key, message_hash, signature.r, signature.s))
    except BaseException as exc:  # the native verifier panics (BaseException) on odd inputs
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return False


def validate_signature(public_key: int, message_hash: int, signature: Signature) -> None:
    """Raise INVALID_SIGNATURE unless the signature is valid."""
    if not is_valid_signature(public_key, message_hash, signature):
        raise TransactionRejected(Reason.INVALID_SIGNATURE)
