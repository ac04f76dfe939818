"""An Algebraic Intermediate Representation: columns, constraints, periodic columns.

An :class:`Air` declares the width of the main trace, the width of an optional auxiliary
segment (extension-field columns built from random challenges drawn after the main trace is
committed, for running-product permutation and memory arguments), transition constraints that
relate a row to the next, boundary constraints that pin a cell to a value computed from the
public inputs, and periodic columns (cycles of power-of-two length).

Example, a Fibonacci AIR proving that ``b`` at the last row is the claimed public input::

    from starkperp.stark.air import Air, BoundaryConstraint, TransitionConstraint, LAST_ROW
    from starkperp.stark.expr import const, main, main_next, public

    a, b = main(0), main(1)
    fib = Air(
        name="fibonacci",
        trace_width=2,
        n_public_inputs=1,
        transitions=(
            TransitionConstraint(name="a' = b", expr=main_next(0) - b),
            TransitionConstraint(name="b' = a + b", expr=main_next(1) - (a + b)),
        ),
        boundaries=(
            BoundaryConstraint(name="a0 = 1", column=0, row=0, value=const(1)),
            BoundaryConstraint(name="b0 = 1", column=1, row=0, value=const(1)),
            BoundaryConstraint(name="result", column=1, row=LAST_ROW, value=public(0)),
        ),
    )

Transition constraints must vanish on every row but the last (the "next" row of the last row
would wrap around). To enforce a constraint only on some rows, multiply it by a selector: a
periodic column (``periodic(i) * (...)``) or a main column that the AIR constrains to be
binary. Boundary constraints on the auxiliary segment (``segment=Segment.AUX``) may use
challenges in their value.

This module also holds the two scalar back-ends of the constraint language: the row-by-row
debug checker (:func:`find_first_violation`, :func:`validate_trace`) and the evaluator of one
out-of-domain frame used by the verifier (:func:`evaluate_expr`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from starkperp.field import ext2
from starkperp.field.goldilocks import P
from starkperp.field.ntt import intt
from starkperp.stark.errors import InvalidAirError, InvalidTraceError, StarkReason
from starkperp.stark.expr import (
    Add,
    AuxCol,
    Challenge,
    Const,
    Expr,
    MainCol,
    Mul,
    Neg,
    Periodic,
    Pow,
    PublicInput,
    Sub,
    compute_degree,
    expr_to_json,
    walk,
)

__all__ = [
    "FIRST_ROW",
    "LAST_ROW",
    "Air",
    "AuxBuilder",
    "BoundaryConstraint",
    "Frame",
    "PeriodicColumn",
    "Segment",
    "TransitionConstraint",
    "Violation",
    "air_to_json",
    "check_aux_shape",
    "compute_periodic_coefficients",
    "evaluate_expr",
    "evaluate_exprs_at",
    "evaluate_periodic_at",
    "find_first_violation",
    "get_composition_width",
    "get_max_degree",
    "get_program",
    "get_transition_degrees",
    "resolve_row",
    "validate_main_trace",
    "validate_public_inputs",
    "validate_trace",
]

FIRST_ROW = 0
LAST_ROW = -1

ExtFelt = tuple[int, int]
AuxBuilder = Callable[[np.ndarray, tuple[ExtFelt, ...]], np.ndarray]
"""Build the auxiliary segment ``(aux_width, n, 2)`` from the main trace and challenges."""


class Segment(enum.Enum):
    """Which trace segment a boundary constraint pins."""

    MAIN = 0
    AUX = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionConstraint:
    """``expr`` must vanish on every row but the last."""

    name: str
    expr: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundaryConstraint:
    """Cell (``column``, ``row``) of ``segment`` must equal ``value``.

    ``row`` may be negative to count from the end (``LAST_ROW`` is ``-1``). ``value`` uses only
    constants, public inputs and (for the auxiliary segment) challenges.
    """

    name: str
    column: int
    value: Expr
    row: int = FIRST_ROW
    segment: Segment = Segment.MAIN


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodicColumn:
    """A column repeating ``values`` (length a power of two) down the trace."""

    name: str
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Air:
    """A complete AIR; validated on construction (raises :class:`InvalidAirError`)."""

    name: str
    trace_width: int
    transitions: tuple[TransitionConstraint, ...]
    boundaries: tuple[BoundaryConstraint, ...]
    n_public_inputs: int = 0
    periodic_columns: tuple[PeriodicColumn, ...] = ()
    aux_width: int = 0
    n_aux_challenges: int = 0
    aux_builder: AuxBuilder | None = field(default=None, compare=False, repr=False)
    transition_degrees: tuple[int, ...] = field(init=False, compare=False, repr=False)
    digest_cache: list[bytes] = field(init=False, compare=False, repr=False)
    transition_program: tuple[Expr, ...] = field(init=False, compare=False, repr=False)
    periodic_coefficients: tuple[tuple[int, ...], ...] = field(
        init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        degrees = tuple(compute_degree(c.expr) for c in self.transitions)
        object.__setattr__(self, "transition_degrees", degrees)
        object.__setattr__(self, "digest_cache", [])
        program = tuple(get_program([c.expr for c in self.transitions]))
        object.__setattr__(self, "transition_program", program)
        _validate_air(self)
        coefficients = tuple(compute_periodic_coefficients(c) for c in self.periodic_columns)
        object.__setattr__(self, "periodic_coefficients", coefficients)


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """Everything a constraint can read at one point, as extension-field elements."""

    main_current: Sequence[ExtFelt]
    main_next: Sequence[ExtFelt]
    aux_current: Sequence[ExtFelt]
    aux_next: Sequence[ExtFelt]
    periodic: Sequence[ExtFelt]
    public_inputs: Sequence[int]
    challenges: Sequence[ExtFelt]


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """The first constraint the debug checker found violated, and where."""

    constraint: str
    row: int
    value: ExtFelt


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _fail(message: str) -> InvalidAirError:
    return InvalidAirError(StarkReason.INVALID_AIR, message)


def _check_references(air: Air, expr: Expr, where: str, *, columns_allowed: bool) -> None:
    for node in walk(expr):
        if isinstance(node, MainCol | AuxCol):
            if not columns_allowed:
                raise _fail(f"{where}: boundary values may not read trace columns")
            width = air.trace_width if isinstance(node, MainCol) else air.aux_width
            if not 0 <= node.index < width:
                raise _fail(f"{where}: column {node.index} out of range (width {width})")
            if node.offset not in (0, 1):
                raise _fail(f"{where}: row offset must be 0 or 1, got {node.offset}")
        elif isinstance(node, Periodic):
            if not columns_allowed:
                raise _fail(f"{where}: boundary values may not read periodic columns")
            if not 0 <= node.index < len(air.periodic_columns):
                raise _fail(f"{where}: periodic column {node.index} out of range")
        elif isinstance(node, PublicInput):
            if not 0 <= node.index < air.n_public_inputs:
                raise _fail(f"{where}: public input {node.index} out of range")
        elif isinstance(node, Challenge):
            if not 0 <= node.index < air.n_aux_challenges:
                raise _fail(f"{where}: challenge {node.index} out of range")


def _validate_air(air: Air) -> None:
    if not air.name:
        raise _fail("an AIR needs a name")
    if air.trace_width < 1:
        raise _fail("trace width must be at least 1")
    if air.aux_width < 0 or air.n_aux_challenges < 0 or air.n_public_inputs < 0:
        raise _fail("widths and counts must be non-negative")
    if air.aux_width > 0 and air.aux_builder is None:
        raise _fail("an auxiliary segment needs an aux_builder")
    if air.aux_width == 0 and air.n_aux_challenges > 0:
        raise _fail("challenges are only drawn for an auxiliary segment")
    if not air.transitions and not air.boundaries:
        raise _fail("an AIR needs at least one constraint")
    names = [c.name for c in air.transitions] + [b.name for b in air.boundaries]
    if len(set(names)) != len(names):
        raise _fail("constraint names must be unique")
    for column in air.periodic_columns:
        if not _is_power_of_two(len(column.values)):
            raise _fail(f"periodic column {column.name!r}: length must be a power of two")
        if any(not isinstance(v, int) or not 0 <= v < P for v in column.values):
            raise _fail(f"periodic column {column.name!r}: values must lie in [0, p)")
    for constraint in air.transitions:
        _check_references(air, constraint.expr, constraint.name, columns_allowed=True)
    for constraint, degree in zip(air.transitions, air.transition_degrees, strict=True):
        if degree < 1:
            raise _fail(f"{constraint.name}: a transition constraint must read the trace")
    for boundary in air.boundaries:
        _check_references(air, boundary.value, boundary.name, columns_allowed=False)
        width = air.trace_width if boundary.segment is Segment.MAIN else air.aux_width
        if not 0 <= boundary.column < width:
            raise _fail(f"{boundary.name}: column {boundary.column} out of range")
        if boundary.segment is Segment.MAIN and any(
            isinstance(n, Challenge) for n in walk(boundary.value)
        ):
            raise _fail(f"{boundary.name}: main-segment boundaries may not use challenges")


def get_transition_degrees(air: Air) -> tuple[int, ...]:
    """Return the degree of every transition constraint, in declaration order."""
    return air.transition_degrees


def get_max_degree(air: Air) -> int:
    """Return the largest transition-constraint degree (at least 1)."""
    return max((1, *get_transition_degrees(air)))


def get_composition_width(air: Air) -> int:
    """Return how many columns of degree < n the composition polynomial is split into."""
    return max(1, get_max_degree(air) - 1)


def resolve_row(row: int, n_rows: int) -> int:
    """Return the non-negative row index of ``row`` (negative counts from the end)."""
    resolved = row + n_rows if row < 0 else row
    if not 0 <= resolved < n_rows:
        raise InvalidTraceError(
            StarkReason.TRACE_TOO_SHORT, f"row {row} does not exist in {n_rows} rows"
        )
    return resolved


def validate_public_inputs(air: Air, public_inputs: Sequence[int]) -> tuple[int, ...]:
    """Return ``public_inputs`` as a tuple after checking count and range."""
    values = tuple(public_inputs)
    if len(values) != air.n_public_inputs:
        raise InvalidTraceError(
            StarkReason.INVALID_PUBLIC_INPUTS,
            f"expected {air.n_public_inputs} public inputs, got {len(values)}",
        )
    if any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < P for v in values):
        raise InvalidTraceError(
            StarkReason.INVALID_PUBLIC_INPUTS, "public inputs must be in [0, p)"
        )
    return values


def compute_periodic_coefficients(column: PeriodicColumn) -> tuple[int, ...]:
    """Return the coefficients of q with q(w^i) = values[i], w a root of unity of order k."""
    if len(column.values) == 1:
        return (column.values[0],)
    coefficients = intt(np.array(column.values, dtype=np.uint64))
    return tuple(int(c) for c in coefficients)


def evaluate_periodic_at(coefficients: Sequence[int], x: ExtFelt, n_rows: int) -> ExtFelt:
    """Evaluate the periodic column with these coefficients at ``x`` for a trace of n rows.

    The column's polynomial is q(x^(n/k)) with k = len(coefficients).
    """
    k = len(coefficients)
    point = ext2.epow(x, n_rows // k)
    acc: ExtFelt = (0, 0)
    for coefficient in reversed(coefficients):
        acc = ext2.eadd(ext2.emul(acc, point), (coefficient, 0))
    return acc


def evaluate_expr(expr: Expr, frame: Frame) -> ExtFelt:
    """Evaluate ``expr`` at one frame in the extension field (scalar reference back-end)."""
    return evaluate_exprs_at([expr], frame)[0]


def get_program(exprs: Sequence[Expr]) -> list[Expr]:
    """Return every distinct node of ``exprs`` once, children before parents."""
    seen: set[int] = set()
    program: list[Expr] = []
    for expr in exprs:
        program.extend(walk(expr, seen))
    return program


def evaluate_exprs_at(
    exprs: Sequence[Expr], frame: Frame, program: Sequence[Expr] | None = None
) -> list[ExtFelt]:
    """Evaluate several expressions at one frame, sharing common sub-expressions.

    ``program`` (from :func:`get_program`) may be passed to skip the tree walk.
    """
    values: dict[int, ExtFelt] = {}
    for node in program if program is not None else get_program(exprs):
        value: ExtFelt
        if isinstance(node, Const):
            value = (node.value, 0)
        elif isinstance(node, MainCol):
            value = (frame.main_next if node.offset else frame.main_current)[node.index]
        elif isinstance(node, AuxCol):
            value = (frame.aux_next if node.offset else frame.aux_current)[node.index]
        elif isinstance(node, Periodic):
            value = frame.periodic[node.index]
        elif isinstance(node, PublicInput):
            value = (frame.public_inputs[node.index], 0)
        elif isinstance(node, Challenge):
            value = frame.challenges[node.index]
        elif isinstance(node, Add):
            value = ext2.eadd(values[id(node.left)], values[id(node.right)])
        elif isinstance(node, Sub):
            value = ext2.esub(values[id(node.left)], values[id(node.right)])
        elif isinstance(node, Mul):
            value = ext2.emul(values[id(node.left)], values[id(node.right)])
        elif isinstance(node, Neg):
            value = ext2.eneg(values[id(node.operand)])
        elif isinstance(node, Pow):
            value = ext2.epow(values[id(node.base)], node.exponent)
        else:
            raise InvalidAirError(StarkReason.INVALID_AIR, f"unknown node {node!r}")
        values[id(node)] = value
    return [values[id(expr)] for expr in exprs]


def validate_main_trace(air: Air, main: np.ndarray) -> int:
    """Return the trace length after checking the main trace's dtype, shape and range."""
    if not isinstance(main, np.ndarray) or main.dtype != np.uint64 or main.ndim != 2:
        raise InvalidTraceError(StarkReason.INVALID_TRACE_SHAPE, "main trace: 2-D uint64 array")
    width, n_rows = main.shape
    if width != air.trace_width:
        raise InvalidTraceError(
            StarkReason.INVALID_TRACE_SHAPE,
            f"main trace has {width} columns, AIR {air.trace_width}",
        )
    if not _is_power_of_two(n_rows) or n_rows < 8:
        raise InvalidTraceError(
            StarkReason.INVALID_TRACE_SHAPE, f"trace length {n_rows}: a power of two >= 8"
        )
    if np.any(main >= np.uint64(P)):
        raise InvalidTraceError(StarkReason.INVALID_TRACE_SHAPE, "trace values must lie in [0, p)")
    return int(n_rows)


def check_aux_shape(air: Air, aux_trace: np.ndarray, n_rows: int) -> None:
    """Raise unless ``aux_trace`` is a canonical ``(aux_width, n, 2)`` uint64 array."""
    expected = (air.aux_width, n_rows, 2)
    if (
        not isinstance(aux_trace, np.ndarray)
        or aux_trace.dtype != np.uint64
        or aux_trace.shape != expected
    ):
        raise InvalidTraceError(
            StarkReason.INVALID_TRACE_SHAPE, f"aux trace must be uint64 of shape {expected}"
        )
    if np.any(aux_trace >= np.uint64(P)):
        raise InvalidTraceError(StarkReason.INVALID_TRACE_SHAPE, "aux values must lie in [0, p)")


def find_first_violation(
    air: Air,
    main: np.ndarray,
    public_inputs: Sequence[int],
    *,
    aux_trace: np.ndarray | None = None,
    challenges: Sequence[ExtFelt] = (),
) -> Violation | None:
    """Check the trace row by row; return the first violated constraint, or None.

    Boundary constraints are checked first (in declaration order), then transition
    constraints row by row. If the AIR has an auxiliary segment, ``aux_trace`` and the
    ``challenges`` it was built from must be given.
    """
    n_rows = validate_main_trace(air, main)
    pub = validate_public_inputs(air, public_inputs)
    if air.aux_width:
        if aux_trace is None or len(challenges) != air.n_aux_challenges:
            raise InvalidTraceError(
                StarkReason.INVALID_TRACE_SHAPE, "aux trace and its challenges are required"
            )
        check_aux_shape(air, aux_trace, n_rows)
        aux_rows = [[(int(c[i, 0]), int(c[i, 1])) for c in aux_trace] for i in range(n_rows)]
    else:
        aux_rows = [[] for _ in range(n_rows)]
    main_rows = [[(int(v), 0) for v in main[:, i]] for i in range(n_rows)]
    chal = tuple(challenges)
    empty = Frame(
        main_current=(),
        main_next=(),
        aux_current=(),
        aux_next=(),
        periodic=(),
        public_inputs=pub,
        challenges=chal,
    )
    for boundary in air.boundaries:
        row = resolve_row(boundary.row, n_rows)
        expected = evaluate_expr(boundary.value, empty)
        rows = main_rows if boundary.segment is Segment.MAIN else aux_rows
        actual = rows[row][boundary.column]
        if actual != expected:
            return Violation(constraint=boundary.name, row=row, value=ext2.esub(actual, expected))
    exprs = [c.expr for c in air.transitions]
    program = air.transition_program
    for row in range(n_rows - 1):
        frame = Frame(
            main_current=main_rows[row],
            main_next=main_rows[row + 1],
            aux_current=aux_rows[row],
            aux_next=aux_rows[row + 1],
            periodic=[(c.values[row % len(c.values)], 0) for c in air.periodic_columns],
            public_inputs=pub,
            challenges=chal,
        )
        values = evaluate_exprs_at(exprs, frame, program)
        for constraint, value in zip(air.transitions, values, strict=True):
            if value != (0, 0):
                return Violation(constraint=constraint.name, row=row, value=value)
    return None


def validate_trace(
    air: Air,
    main: np.ndarray,
    public_inputs: Sequence[int],
    *,
    aux_trace: np.ndarray | None = None,
    challenges: Sequence[ExtFelt] = (),
) -> None:
    """Raise :class:`InvalidTraceError` naming the first violated constraint and its row."""
    violation = find_first_violation(
        air, main, public_inputs, aux_trace=aux_trace, challenges=challenges
    )
    if violation is not None:
        raise InvalidTraceError(
            StarkReason.CONSTRAINT_VIOLATED,
            f"constraint {violation.constraint!r} violated at row {violation.row}",
            constraint=violation.constraint,
            row=violation.row,
        )


def air_to_json(air: Air) -> dict[str, object]:
    """Return the AIR as plain JSON data (for code generators and fixtures)."""
    return {
        "name": air.name,
        "trace_width": air.trace_width,
        "aux_width": air.aux_width,
        "n_aux_challenges": air.n_aux_challenges,
        "n_public_inputs": air.n_public_inputs,
        "periodic_columns": [
            {"name": c.name, "values": list(c.values)} for c in air.periodic_columns
        ],
        "transitions": [
            {"name": c.name, "degree": degree, "expr": expr_to_json(c.expr)}
            for c, degree in zip(air.transitions, air.transition_degrees, strict=True)
        ],
        "boundaries": [
            {
                "name": b.name,
                "segment": b.segment.name.lower(),
                "column": b.column,
                "row": b.row,
                "value": expr_to_json(b.value),
            }
            for b in air.boundaries
        ],
    }
