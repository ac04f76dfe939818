"""A generic STARK: constraint DSL, trace, commitments, transcript, FRI, prover, verifier.

The public surface most callers need::

    from starkperp.stark import Air, TransitionConstraint, BoundaryConstraint, PRESETS
    from starkperp.stark import prove, verify
    from starkperp.stark.expr import main, main_next, periodic, public, const

``prove`` and ``verify`` are loaded on first use, so importing the package (or
``starkperp.stark.verifier``) never loads the prover.
"""

from typing import Any

from starkperp.stark.air import (
    FIRST_ROW,
    LAST_ROW,
    Air,
    BoundaryConstraint,
    PeriodicColumn,
    Segment,
    TransitionConstraint,
    find_first_violation,
    validate_trace,
)
from starkperp.stark.errors import StarkReason, VerificationError
from starkperp.stark.options import DEFAULT, MINIMAL, PRESETS, ProofOptions
from starkperp.stark.proof import PROOF_VERSION, Proof

__all__ = [
    "DEFAULT",
    "FIRST_ROW",
    "LAST_ROW",
    "MINIMAL",
    "PRESETS",
    "PROOF_VERSION",
    "Air",
    "BoundaryConstraint",
    "PeriodicColumn",
    "Proof",
    "ProofOptions",
    "Segment",
    "StarkReason",
    "TransitionConstraint",
    "VerificationError",
    "find_first_violation",
    "prove",
    "validate_trace",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name == "prove":
        from starkperp.stark.prover import prove

        return prove
    if name == "verify":
        from starkperp.stark.verifier import verify

        return verify
    raise AttributeError(name)
