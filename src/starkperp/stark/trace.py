"""Execution traces and their low-degree extensions.

The **main trace** is a ``(width, n)`` uint64 array of canonical Goldilocks elements, one
row per step, n a power of two (at least 8). The **auxiliary segment** is ``(aux_width, n, 2)``
(extension elements) and is built by the AIR's ``aux_builder`` from the main trace and the
challenges drawn after the main trace is committed.

The **low-degree extension** of a segment interpolates each column over the trace domain
``<g>`` (g = w_n) and evaluates it on the coset ``7 * <w_N>``, N = n * blowup, in natural
order: LDE position i is the point ``7 * w_N^i`` and its next-row point ``x * g`` is position
``i + blowup`` (mod N). An extension column is extended as its two coordinate columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from starkperp.field.goldilocks import GENERATOR, pow_
from starkperp.field.ntt import intt, lde, lde_from_coeffs
from starkperp.stark.air import Air, check_aux_shape
from starkperp.stark.errors import InvalidTraceError, StarkReason

__all__ = [
    "DOMAIN_OFFSET",
    "SegmentLde",
    "aux_to_columns",
    "build_aux_trace",
    "compute_periodic_cycles",
    "compute_periodic_lde",
    "compute_segment_lde",
]

DOMAIN_OFFSET = GENERATOR

ExtFelt = tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentLde:
    """A segment's column coefficients ``(c, n)`` and its evaluations ``(c, N)``."""

    coefficients: np.ndarray
    evaluations: np.ndarray


def build_aux_trace(air: Air, main: np.ndarray, challenges: Sequence[ExtFelt]) -> np.ndarray:
    """Call the AIR's aux builder and check the shape of what it returns."""
    if air.aux_builder is None:
        raise InvalidTraceError(StarkReason.INVALID_TRACE_SHAPE, "the AIR has no aux builder")
    aux_trace = air.aux_builder(main, tuple(challenges))
    check_aux_shape(air, aux_trace, main.shape[1])
    return aux_trace


def aux_to_columns(aux_trace: np.ndarray) -> np.ndarray:
    """Return ``(aux_width, n, 2)`` as ``(2 * aux_width, n)``: c0 and c1 of each column."""
    width, n, _ = aux_trace.shape
    return np.ascontiguousarray(aux_trace.transpose(0, 2, 1)).reshape(2 * width, n)


def compute_segment_lde(columns: np.ndarray, blowup: int) -> SegmentLde:
    """Interpolate ``(c, n)`` columns and evaluate them on ``7 * <w_{n*blowup}>``."""
    coefficients = intt(np.ascontiguousarray(columns))
    evaluations = lde_from_coeffs(coefficients, blowup, DOMAIN_OFFSET)
    return SegmentLde(coefficients=coefficients, evaluations=evaluations)


def compute_periodic_cycles(air: Air, n_rows: int, blowup: int) -> list[np.ndarray]:
    """Return one period of every periodic column on the LDE domain (length k * blowup).

    A column with cycle k is q(x^(n/k)); on the LDE domain x^(n/k) runs over the coset
    ``7^(n/k) * <w_{k*blowup}>``, so its evaluations repeat every k * blowup positions.
    """
    cycles = []
    for column in air.periodic_columns:
        cycle = len(column.values)
        values = np.array(column.values, dtype=np.uint64)
        cycles.append(lde(values, blowup, pow_(DOMAIN_OFFSET, n_rows // cycle)))
    return cycles


def compute_periodic_lde(air: Air, n_rows: int, blowup: int) -> np.ndarray | None:
    """Return every periodic column evaluated on the LDE domain, ``(n_periodic, N)``."""
    if not air.periodic_columns:
        return None
    size = n_rows * blowup
    cycles = compute_periodic_cycles(air, n_rows, blowup)
    return np.stack([np.tile(c, size // c.shape[0]) for c in cycles])
