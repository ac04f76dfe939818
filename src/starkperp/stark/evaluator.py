"""Vectorized evaluation of constraint expressions over a whole domain (the prover's back-end).

The scalar back-end in :mod:`starkperp.stark.air` walks an expression once per point; this one
walks it once per domain and applies each node to whole numpy arrays with compiled loops.
Values are kept in the cheapest representation that holds them: a base scalar (``int``), an
extension scalar (``tuple``), a base vector ``(n,)`` or an extension vector ``(2, n)``. Nodes
shared between constraints (by identity) are evaluated once per call.

The same machinery, run over the trace itself instead of its extension, gives
:func:`find_first_violation_vectorized`: the debug checker's answer for traces too long to
check row by row in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from starkperp.field import ext2
from starkperp.field.goldilocks import P, vadd, vmul, vneg, vscale, vsub
from starkperp.stark import _kernels as k
from starkperp.stark.air import (
    Air,
    Frame,
    Segment,
    Violation,
    check_aux_shape,
    evaluate_expr,
    resolve_row,
    validate_main_trace,
    validate_public_inputs,
)
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
    walk,
)

__all__ = [
    "Domain",
    "Value",
    "evaluate_exprs",
    "find_first_violation_vectorized",
    "to_ext_vector",
]

Value = int | tuple[int, int] | np.ndarray
"""A base scalar, an extension scalar, a base vector (n,) or an extension vector (2, n)."""


@dataclass(slots=True, kw_only=True)
class Domain:
    """The columns an expression can read, all evaluated on the same n points.

    ``main`` is ``(width, n)``; ``aux`` is ``(aux_width, 2, n)``; ``periodic`` is
    ``(n_periodic, n)``. The next-row value of a column is the column rotated by ``step``.
    """

    main: np.ndarray
    aux: np.ndarray | None
    periodic: np.ndarray | None
    public_inputs: Sequence[int]
    challenges: Sequence[tuple[int, int]]
    step: int
    _rolled: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Return the number of points."""
        return int(self.main.shape[1])

    def column(self, node: MainCol | AuxCol) -> np.ndarray:
        """Return the column a leaf reads, rotated for the next row when asked."""
        is_main = isinstance(node, MainCol)
        base = self.main[node.index] if is_main else self.aux[node.index]  # type: ignore[index]
        if node.offset == 0:
            return base
        key = ("m" if is_main else "a", node.index)
        if key not in self._rolled:
            self._rolled[key] = np.ascontiguousarray(np.roll(base, -self.step, axis=-1))
        return self._rolled[key]


def _is_vector(value: Value) -> bool:
    return isinstance(value, np.ndarray)


def _is_ext(value: Value) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 2
    return isinstance(value, tuple)


def to_ext_vector(value: Value, size: int) -> np.ndarray:
    """Return ``value`` as a (2, size) extension vector."""
    if isinstance(value, np.ndarray):
        if value.ndim == 2:
            return value
        out = np.zeros((2, size), dtype=np.uint64)
        out[0] = value
        return out
    pair = value if isinstance(value, tuple) else (value, 0)
    out = np.empty((2, size), dtype=np.uint64)
    out[0] = pair[0]
    out[1] = pair[1]
    return out


def _scalar_ext(value: int | tuple[int, int]) -> tuple[int, int]:
    return value if isinstance(value, tuple) else (value, 0)


def _add(a: Value, b: Value, size: int) -> Value:
    if not _is_vector(a) and not _is_vector(b):
        if isinstance(a, int) and isinstance(b, int):
            return (a + b) % P
        return ext2.eadd(_scalar_ext(a), _scalar_ext(b))  # type: ignore[arg-type]
    if _is_ext(a) or _is_ext(b):
        return vadd(to_ext_vector(a, size), to_ext_vector(b, size))
    av = a if _is_vector(a) else np.full(size, a, dtype=np.uint64)
    bv = b if _is_vector(b) else np.full(size, b, dtype=np.uint64)
    return vadd(av, bv)  # type: ignore[arg-type]


def _neg(a: Value) -> Value:
    if isinstance(a, np.ndarray):
        return vneg(a)
    if isinstance(a, tuple):
        return ext2.eneg(a)
    return (-a) % P


def _sub(a: Value, b: Value, size: int) -> Value:
    if _is_vector(a) and _is_vector(b) and _is_ext(a) == _is_ext(b):
        return vsub(a, b)  # type: ignore[arg-type]
    return _add(a, _neg(b), size)


def _mul(a: Value, b: Value, size: int) -> Value:
    if not _is_vector(a) and not _is_vector(b):
        if isinstance(a, int) and isinstance(b, int):
            return (a * b) % P
        return ext2.emul(_scalar_ext(a), _scalar_ext(b))  # type: ignore[arg-type]
    if not _is_vector(a):
        a, b = b, a
    assert isinstance(a, np.ndarray)
    if isinstance(b, int):
        return vscale(a, b)
    if isinstance(b, tuple):
        out = np.empty((2, size), dtype=np.uint64)
        if a.ndim == 2:
            k.emul_vs(a, np.uint64(b[0]), np.uint64(b[1]), out)
        else:
            k.emul_bs(a, np.uint64(b[0]), np.uint64(b[1]), out)
        return out
    if a.ndim == 1 and b.ndim == 1:
        return vmul(a, b)
    if a.ndim == 1:
        a, b = b, a
    out = np.empty((2, size), dtype=np.uint64)
    if b.ndim == 1:
        k.emul_vb(a, b, out)
    else:
        k.emul_vv(a, b, out)
    return out


def _pow(a: Value, exponent: int, size: int) -> Value:
    if exponent == 0:
        return 1
    result: Value | None = None
    base = a
    while exponent:
        if exponent & 1:
            result = base if result is None else _mul(result, base, size)
        exponent >>= 1
        if exponent:
            base = _mul(base, base, size)
    assert result is not None
    return result


def evaluate_exprs(exprs: Sequence[Expr], domain: Domain) -> list[Value]:
    """Evaluate every expression over ``domain``; return one value per expression."""
    size = domain.size
    values: dict[int, Value] = {}
    seen: set[int] = set()
    for expr in exprs:
        for node in walk(expr, seen):
            value: Value
            if isinstance(node, Const):
                value = node.value
            elif isinstance(node, MainCol | AuxCol):
                value = domain.column(node)
            elif isinstance(node, Periodic):
                assert domain.periodic is not None
                value = domain.periodic[node.index]
            elif isinstance(node, PublicInput):
                value = domain.public_inputs[node.index]
            elif isinstance(node, Challenge):
                value = domain.challenges[node.index]
            elif isinstance(node, Add):
                value = _add(values[id(node.left)], values[id(node.right)], size)
            elif isinstance(node, Sub):
                value = _sub(values[id(node.left)], values[id(node.right)], size)
            elif isinstance(node, Mul):
                value = _mul(values[id(node.left)], values[id(node.right)], size)
            elif isinstance(node, Neg):
                value = _neg(values[id(node.operand)])
            elif isinstance(node, Pow):
                value = _pow(values[id(node.base)], node.exponent, size)
            else:
                raise InvalidAirError(StarkReason.INVALID_AIR, f"unknown node {node!r}")
            values[id(node)] = value
    return [values[id(e)] for e in exprs]


def find_first_violation_vectorized(
    air: Air,
    main_trace: np.ndarray,
    public_inputs: Sequence[int],
    *,
    aux_trace: np.ndarray | None = None,
    challenges: Sequence[tuple[int, int]] = (),
) -> Violation | None:
    """Return the same answer as :func:`starkperp.stark.air.find_first_violation`, faster.

    Boundary constraints are checked first, then every transition constraint is evaluated
    over the whole trace at once; among violated rows the smallest wins, and within a row the
    first constraint in declaration order (as the row-by-row checker reports).
    """
    n_rows = validate_main_trace(air, main_trace)
    public = validate_public_inputs(air, public_inputs)
    aux_columns = None
    if air.aux_width:
        if aux_trace is None or len(challenges) != air.n_aux_challenges:
            raise InvalidTraceError(
                StarkReason.INVALID_TRACE_SHAPE, "aux trace and its challenges are required"
            )
        check_aux_shape(air, aux_trace, n_rows)
        aux_columns = np.ascontiguousarray(aux_trace.transpose(0, 2, 1))
    empty = Frame(
        main_current=(),
        main_next=(),
        aux_current=(),
        aux_next=(),
        periodic=(),
        public_inputs=public,
        challenges=tuple(challenges),
    )
    for boundary in air.boundaries:
        row = resolve_row(boundary.row, n_rows)
        expected = evaluate_expr(boundary.value, empty)
        if boundary.segment is Segment.MAIN:
            actual = (int(main_trace[boundary.column, row]), 0)
        else:
            assert aux_trace is not None
            cell = aux_trace[boundary.column, row]
            actual = (int(cell[0]), int(cell[1]))
        if actual != expected:
            return Violation(constraint=boundary.name, row=row, value=ext2.esub(actual, expected))
    periodic = None
    if air.periodic_columns:
        periodic = np.stack(
            [
                np.tile(np.array(c.values, dtype=np.uint64), n_rows // len(c.values))
                for c in air.periodic_columns
            ]
        )
    domain = Domain(
        main=main_trace,
        aux=aux_columns,
        periodic=periodic,
        public_inputs=public,
        challenges=tuple(challenges),
        step=1,
    )
    best: Violation | None = None
    values = evaluate_exprs([c.expr for c in air.transitions], domain)
    for constraint, value in zip(air.transitions, values, strict=True):
        vector = to_ext_vector(value, n_rows)[:, : n_rows - 1]
        bad = np.nonzero(vector[0] | vector[1])[0]
        if bad.size and (best is None or int(bad[0]) < best.row):
            row = int(bad[0])
            best = Violation(
                constraint=constraint.name,
                row=row,
                value=(int(vector[0, row]), int(vector[1, row])),
            )
    return best
