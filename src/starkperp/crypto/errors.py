"""Reasons a hash or signature operation refuses its input (shared by the crypto modules)."""

from __future__ import annotations

import enum

from starkperp.errors import StarkPerpError


class CryptoErrorReason(enum.Enum):
    """Why a crypto operation rejected its input (numbered, never reused; append only)."""

    BAD_DTYPE = 1
    BAD_SHAPE = 2
    NOT_CANONICAL = 3
    BAD_LENGTH = 4
    OUT_OF_RANGE = 5
    INVALID_PRIVATE_KEY = 6
    MALFORMED_SIGNATURE = 7
    UNKNOWN_NETWORK = 8
    BAD_ETH_SIGNATURE = 9


class CryptoError(StarkPerpError):
    """An expected failure of a hash or signature operation."""

    def __init__(self, reason: CryptoErrorReason, message: str = "") -> None:
        super().__init__(reason, message)
