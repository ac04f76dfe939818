"""Pieces of the protocol that prover and verifier must compute identically.

The context absorbed first into the transcript, the checks of trace length against the
options, and the order in which random coefficients are drawn live here so neither side can
drift from the other. The verifier imports this module, never the prover.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from starkperp.crypto.keccak import keccak256
from starkperp.stark.air import Air, air_to_json, get_composition_width, get_max_degree
from starkperp.stark.options import ProofOptions
from starkperp.stark.transcript import Transcript, encode_felts

__all__ = [
    "Coefficients",
    "absorb_context",
    "compute_air_digest",
    "draw_composition_coefficients",
    "draw_deep_coefficients",
    "get_parameter_problem",
]

ExtFelt = tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Coefficients:
    """Random coefficients of the DEEP composition polynomial."""

    trace_z: tuple[ExtFelt, ...]
    trace_zg: tuple[ExtFelt, ...]
    composition: tuple[ExtFelt, ...]


def compute_air_digest(air: Air) -> bytes:
    """Return keccak256 of the AIR's canonical JSON (compact, sorted keys)."""
    if not air.digest_cache:
        text = json.dumps(air_to_json(air), sort_keys=True, separators=(",", ":"))
        air.digest_cache.append(keccak256(text.encode()))
    return air.digest_cache[0]


def get_parameter_problem(air: Air, log_n: int, options: ProofOptions) -> str | None:
    """Return why this trace length and these options cannot be used, or None."""
    if not 3 <= log_n <= 28:
        return f"trace length 2^{log_n} outside 2^3..2^28"
    if options.blowup < get_max_degree(air):
        return f"blowup {options.blowup} below the constraint degree {get_max_degree(air)}"
    if (1 << log_n) * options.blowup < 4 * options.n_queries:
        return "LDE domain smaller than 4 * n_queries"
    return None


def absorb_context(
    transcript: Transcript,
    air: Air,
    log_n: int,
    public_inputs: Sequence[int],
    options: ProofOptions,
) -> None:
    """Absorb air digest || u64 log_n || options || u64 n_public || public inputs."""
    transcript.absorb(
        compute_air_digest(air)
        + log_n.to_bytes(8, "big")
        + options.to_bytes()
        + len(public_inputs).to_bytes(8, "big")
        + encode_felts(public_inputs)
    )


def draw_composition_coefficients(transcript: Transcript, air: Air) -> tuple[ExtFelt, ...]:
    """Draw one coefficient per transition constraint, then one per boundary constraint."""
    return tuple(transcript.draw_ext() for _ in range(len(air.transitions) + len(air.boundaries)))


def draw_deep_coefficients(transcript: Transcript, air: Air) -> Coefficients:
    """Draw (for z, for z*g) per main then aux column, then one per composition column."""
    trace_z = []
    trace_zg = []
    for _ in range(air.trace_width + air.aux_width):
        trace_z.append(transcript.draw_ext())
        trace_zg.append(transcript.draw_ext())
    composition = tuple(transcript.draw_ext() for _ in range(get_composition_width(air)))
    return Coefficients(trace_z=tuple(trace_z), trace_zg=tuple(trace_zg), composition=composition)
