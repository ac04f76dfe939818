"""Proof options: how much work the prover does and how much security that buys.

``ProofOptions`` fixes the blowup factor of the low-degree extension, the number of FRI
queries, the proof-of-work grinding bits, the FRI folding factor and the largest degree of
the FRI remainder polynomial that is sent in the clear. Its conjectured security follows
ethSTARK's formula (as winterfell computes it)::

    field_bits = 128 - log2(trace_length * blowup)       # quadratic extension of Goldilocks
    query_bits = n_queries * log2(blowup) + grinding_bits
    security   = min(field_bits, query_bits) - 1, capped at 128 (keccak256 collisions)

Two presets: ``minimal`` keeps tests fast and claims no security worth the name; ``default``
reaches at least 100 bits for traces up to 2^24 rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.stark.errors import InvalidOptionsError, StarkReason

__all__ = [
    "DEFAULT",
    "EXTENSION_FIELD_BITS",
    "HASH_COLLISION_BITS",
    "MINIMAL",
    "PRESETS",
    "ProofOptions",
    "compute_conjectured_security",
]

EXTENSION_FIELD_BITS = 128
HASH_COLLISION_BITS = 128
FOLDING_FACTORS = (2, 4, 8)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProofOptions:
    """Parameters shared by prover and verifier; range-checked on construction."""

    blowup: int
    n_queries: int
    grinding_bits: int
    folding_factor: int
    fri_max_remainder_degree: int

    def __post_init__(self) -> None:
        for name in (
            "blowup",
            "n_queries",
            "grinding_bits",
            "folding_factor",
            "fri_max_remainder_degree",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidOptionsError(StarkReason.INVALID_OPTIONS, f"{name} must be an int")
        if self.blowup not in (2, 4, 8, 16, 32, 64):
            raise InvalidOptionsError(StarkReason.INVALID_OPTIONS, "blowup: a power of two 2..64")
        if not 1 <= self.n_queries <= 128:
            raise InvalidOptionsError(StarkReason.INVALID_OPTIONS, "n_queries must be in 1..128")
        if not 0 <= self.grinding_bits <= 32:
            raise InvalidOptionsError(StarkReason.INVALID_OPTIONS, "grinding_bits must be 0..32")
        if self.folding_factor not in FOLDING_FACTORS:
            raise InvalidOptionsError(StarkReason.INVALID_OPTIONS, "folding_factor: 2, 4 or 8")
        remainder = self.fri_max_remainder_degree + 1
        if not 1 <= remainder <= 256 or remainder & (remainder - 1):
            raise InvalidOptionsError(
                StarkReason.INVALID_OPTIONS,
                "fri_max_remainder_degree + 1 must be a power of two in 1..256",
            )

    def conjectured_security_bits(self, log_trace_length: int = 20) -> int:
        """Return the conjectured security in bits for a trace of 2^log_trace_length rows."""
        return compute_conjectured_security(self, log_trace_length)

    def to_bytes(self) -> bytes:
        """Return the fixed-width encoding absorbed by the transcript (5 x 8 bytes, BE)."""
        return b"".join(
            v.to_bytes(8, "big")
            for v in (
                self.blowup,
                self.n_queries,
                self.grinding_bits,
                self.folding_factor,
                self.fri_max_remainder_degree,
            )
        )


def compute_conjectured_security(options: ProofOptions, log_trace_length: int) -> int:
    """Return ethSTARK's conjectured security of ``options`` for 2^log_trace_length rows."""
    log_blowup = options.blowup.bit_length() - 1
    field_bits = EXTENSION_FIELD_BITS - (log_trace_length + log_blowup)
    query_bits = options.n_queries * log_blowup + options.grinding_bits
    return max(0, min(min(field_bits, query_bits) - 1, HASH_COLLISION_BITS))


MINIMAL = ProofOptions(
    blowup=8, n_queries=6, grinding_bits=0, folding_factor=4, fri_max_remainder_degree=7
)
DEFAULT = ProofOptions(
    blowup=8, n_queries=29, grinding_bits=14, folding_factor=8, fri_max_remainder_degree=31
)
PRESETS: dict[str, ProofOptions] = {"minimal": MINIMAL, "default": DEFAULT}
