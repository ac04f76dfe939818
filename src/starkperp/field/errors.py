"""Reasons a field, NTT or polynomial operation refuses its input."""

from __future__ import annotations

import enum

from starkperp.errors import StarkPerpError


class FieldErrorReason(enum.Enum):
    """Why a field-level operation rejected its input (numbered, never reused)."""

    DIVISION_BY_ZERO = 1
    NOT_CANONICAL = 2
    BAD_SHAPE = 3
    BAD_SIZE = 4
    BAD_DTYPE = 5
    TWO_ADICITY_EXCEEDED = 6
    NOT_INVERTIBLE_SHIFT = 7
    DUPLICATE_POINTS = 8


class FieldError(StarkPerpError):
    """An expected failure of a field, NTT or polynomial operation."""

    def __init__(self, reason: FieldErrorReason, message: str = "") -> None:
        super().__init__(reason, message)
