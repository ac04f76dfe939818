"""Every reason the STARK package refuses something, in one enum, and its error types.

An AIR that is malformed, options out of range, a trace that violates a constraint, and a
proof that does not verify all raise a subclass of :class:`StarkError` whose ``reason`` is a
member of :class:`StarkReason`. The verifier raises only :class:`VerificationError`.
"""

from __future__ import annotations

import enum

from starkperp.errors import StarkPerpError

__all__ = [
    "InvalidAirError",
    "InvalidOptionsError",
    "InvalidTraceError",
    "ProvingError",
    "StarkError",
    "StarkReason",
    "VerificationError",
]


class StarkReason(enum.Enum):
    """Why the STARK package refused an input; numbered so codes stay stable."""

    # definitions and inputs
    INVALID_AIR = 1
    INVALID_OPTIONS = 2
    INVALID_TRACE_SHAPE = 3
    INVALID_PUBLIC_INPUTS = 4
    CONSTRAINT_VIOLATED = 5
    TRACE_TOO_SHORT = 6
    DEGREE_TOO_HIGH = 7
    # proof format
    MALFORMED = 20
    BAD_VERSION = 21
    SHAPE_MISMATCH = 22
    NON_CANONICAL_FIELD_ELEMENT = 23
    # cryptographic checks
    TRACE_ROOT = 30
    AUX_ROOT = 31
    COMPOSITION_ROOT = 32
    MERKLE_PROOF = 33
    OOD_MISMATCH = 34
    POW = 35
    FRI_LAYER_ROOT = 36
    FRI_FOLDING = 37
    FRI_REMAINDER = 38
    DEEP_MISMATCH = 39
    QUERY_SAMPLING = 40


class StarkError(StarkPerpError):
    """Root of every error the STARK package raises on purpose."""


class InvalidAirError(StarkError):
    """The AIR definition is inconsistent (bad index, width, degree, periodic length ...)."""


class InvalidOptionsError(StarkError):
    """Proof options are out of range."""


class InvalidTraceError(StarkError):
    """The trace has the wrong shape or violates a constraint (``constraint`` and ``row``)."""

    def __init__(
        self,
        reason: enum.Enum,
        message: str = "",
        *,
        constraint: str | None = None,
        row: int | None = None,
    ) -> None:
        self.constraint = constraint
        self.row = row
        super().__init__(reason, message)


class ProvingError(StarkError):
    """The prover cannot build a proof for these inputs."""


class VerificationError(StarkError):
    """The proof does not verify; ``reason`` says which check failed."""
