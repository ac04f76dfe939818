"""The constraint expression language every AIR is written in.

An expression is an immutable tree of small nodes: a main-trace column at the current or the
next row, an auxiliary (extension-field) column at the current or next row, a periodic column,
a public-input value, a random challenge, a constant, and the operations ``+ - *``, negation
and integer powers. Python operators build the tree, so a constraint reads like algebra::

    from starkperp.stark.expr import main, main_next, periodic

    a, b = main(0), main(1)
    step = main_next(0) - b                    # a' = b
    grow = main_next(1) - (a + b)              # b' = a + b
    gated = periodic(0) * (main_next(1) - b)   # enforced only where the periodic column is 1

The tree stays inspectable: :func:`walk` visits every distinct node once (children first),
:func:`expr_to_json` / :func:`expr_from_json` serialise it, and :func:`compute_degree` gives
the degree in the trace polynomials that the prover and the verifier both rely on. The same
tree is evaluated by the row-by-row debug checker, the vectorized prover and the scalar
verifier (see :mod:`starkperp.stark.air`), and later by a generator of Vyper code.

Degrees: a main or auxiliary column counts 1, a periodic column counts 1 (its polynomial has
degree below the trace length, like a column), constants, public inputs and challenges count 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from starkperp.field.goldilocks import P
from starkperp.stark.errors import InvalidAirError, StarkReason

__all__ = [
    "Add",
    "AuxCol",
    "Challenge",
    "Const",
    "Expr",
    "MainCol",
    "Mul",
    "Neg",
    "Periodic",
    "Pow",
    "PublicInput",
    "Sub",
    "aux",
    "aux_next",
    "challenge",
    "compute_degree",
    "const",
    "expr_from_json",
    "expr_to_json",
    "is_extension",
    "main",
    "main_next",
    "periodic",
    "public",
    "share_subexpressions",
    "walk",
]


class Expr:
    """Base of every expression node; Python operators build larger trees."""

    __slots__ = ()

    def __add__(self, other: Expr | int) -> Expr:
        return Add(left=self, right=_lift(other))

    def __radd__(self, other: Expr | int) -> Expr:
        return Add(left=_lift(other), right=self)

    def __sub__(self, other: Expr | int) -> Expr:
        return Sub(left=self, right=_lift(other))

    def __rsub__(self, other: Expr | int) -> Expr:
        return Sub(left=_lift(other), right=self)

    def __mul__(self, other: Expr | int) -> Expr:
        return Mul(left=self, right=_lift(other))

    def __rmul__(self, other: Expr | int) -> Expr:
        return Mul(left=_lift(other), right=self)

    def __neg__(self) -> Expr:
        return Neg(operand=self)

    def __pow__(self, exponent: int) -> Expr:
        if not isinstance(exponent, int) or isinstance(exponent, bool) or exponent < 0:
            raise InvalidAirError(StarkReason.INVALID_AIR, f"bad exponent {exponent!r}")
        return Pow(base=self, exponent=exponent)


@dataclass(frozen=True, slots=True, kw_only=True)
class Const(Expr):
    """A base-field constant in [0, p)."""

    value: int

    def __post_init__(self) -> None:
        if not isinstance(self.value, int) or not 0 <= self.value < P:
            raise InvalidAirError(StarkReason.INVALID_AIR, f"constant {self.value!r} not in [0, p)")


@dataclass(frozen=True, slots=True, kw_only=True)
class MainCol(Expr):
    """Main-trace column ``index`` at the current row (offset 0) or the next row (offset 1)."""

    index: int
    offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AuxCol(Expr):
    """Auxiliary (extension-field) column ``index`` at the current or the next row."""

    index: int
    offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Periodic(Expr):
    """The value of periodic column ``index`` at the current row."""

    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicInput(Expr):
    """Public input number ``index`` (a base-field element)."""

    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Challenge(Expr):
    """Random challenge number ``index`` (extension field, drawn after the main commitment)."""

    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Add(Expr):
    """``left + right``."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Sub(Expr):
    """``left - right``."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Mul(Expr):
    """``left * right``."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Neg(Expr):
    """``-operand``."""

    operand: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Pow(Expr):
    """``base ** exponent`` for a non-negative integer exponent."""

    base: Expr
    exponent: int


def _lift(value: Expr | int) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Const(value=value % P)
    raise InvalidAirError(StarkReason.INVALID_AIR, f"cannot use {value!r} in an expression")


def const(value: int) -> Const:
    """Return the constant ``value mod p`` (negative integers wrap around)."""
    return Const(value=value % P)


def main(index: int) -> MainCol:
    """Return main column ``index`` at the current row."""
    return MainCol(index=index, offset=0)


def main_next(index: int) -> MainCol:
    """Return main column ``index`` at the next row."""
    return MainCol(index=index, offset=1)


def aux(index: int) -> AuxCol:
    """Return auxiliary column ``index`` at the current row."""
    return AuxCol(index=index, offset=0)


def aux_next(index: int) -> AuxCol:
    """Return auxiliary column ``index`` at the next row."""
    return AuxCol(index=index, offset=1)


def periodic(index: int) -> Periodic:
    """Return periodic column ``index``."""
    return Periodic(index=index)


def public(index: int) -> PublicInput:
    """Return public input ``index``."""
    return PublicInput(index=index)


def challenge(index: int) -> Challenge:
    """Return random challenge ``index``."""
    return Challenge(index=index)


def get_children(expr: Expr) -> tuple[Expr, ...]:
    """Return the direct sub-expressions of ``expr``."""
    if isinstance(expr, Add | Sub | Mul):
        return (expr.left, expr.right)
    if isinstance(expr, Neg):
        return (expr.operand,)
    if isinstance(expr, Pow):
        return (expr.base,)
    return ()


def walk(expr: Expr, seen: set[int] | None = None) -> Iterator[Expr]:
    """Yield every distinct node (by identity) of ``expr`` once, children before parents.

    Nodes whose ids are already in ``seen`` are skipped with their subtrees; ``seen`` is
    updated, so one set shared across calls walks a forest without repeats.
    """
    if seen is None:
        seen = set()
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            yield node
            continue
        stack.append((node, True))
        for child in reversed(get_children(node)):
            if id(child) not in seen:
                stack.append((child, False))


def share_subexpressions(exprs: Sequence[Expr]) -> list[Expr]:
    """Return ``exprs`` with structurally equal sub-expressions made one shared node.

    AIR builders write the same product (say ``selector * column``) once per constraint, each
    time as a new node; code generators share work by node identity. After this pass two
    nodes are the same object exactly when they are equal trees, so a generator computes
    each distinct value once. The values of the expressions do not change.
    """
    canonical: dict[int, Expr] = {}
    table: dict[tuple[Any, ...], Expr] = {}
    seen: set[int] = set()
    for root in exprs:
        for node in walk(root, seen):
            children = tuple(canonical[id(child)] for child in get_children(node))
            if isinstance(node, Add | Sub | Mul | Neg):
                key: tuple[Any, ...] = (type(node), *(id(child) for child in children))
            elif isinstance(node, Pow):
                key = (Pow, id(children[0]), node.exponent)
            elif isinstance(node, Const):
                key = (Const, node.value)
            elif isinstance(node, MainCol | AuxCol):
                key = (type(node), node.index, node.offset)
            elif isinstance(node, Periodic | PublicInput | Challenge):
                key = (type(node), node.index)
            else:
                raise InvalidAirError(StarkReason.INVALID_AIR, f"unknown node {node!r}")
            shared = table.get(key)
            if shared is None:
                if isinstance(node, Add | Sub | Mul):
                    shared = type(node)(left=children[0], right=children[1])
                elif isinstance(node, Neg):
                    shared = Neg(operand=children[0])
                elif isinstance(node, Pow):
                    shared = Pow(base=children[0], exponent=node.exponent)
                else:
                    shared = node
                table[key] = shared
            canonical[id(node)] = shared
    return [canonical[id(root)] for root in exprs]


def compute_degree(expr: Expr) -> int:
    """Return the degree of ``expr`` in the trace (and periodic) column polynomials."""
    degrees: dict[int, int] = {}
    for node in walk(expr):
        if isinstance(node, MainCol | AuxCol | Periodic):
            degree = 1
        elif isinstance(node, Const | PublicInput | Challenge):
            degree = 0
        elif isinstance(node, Add | Sub):
            degree = max(degrees[id(node.left)], degrees[id(node.right)])
        elif isinstance(node, Mul):
            degree = degrees[id(node.left)] + degrees[id(node.right)]
        elif isinstance(node, Neg):
            degree = degrees[id(node.operand)]
        elif isinstance(node, Pow):
            degree = degrees[id(node.base)] * node.exponent
        else:
            raise InvalidAirError(StarkReason.INVALID_AIR, f"unknown node {node!r}")
        degrees[id(node)] = degree
    return degrees[id(expr)]


def is_extension(expr: Expr) -> bool:
    """Return whether ``expr`` takes values in the extension field (uses aux or challenges)."""
    return any(isinstance(node, AuxCol | Challenge) for node in walk(expr))


_LEAVES: dict[str, type[Expr]] = {
    "main": MainCol,
    "aux": AuxCol,
    "periodic": Periodic,
    "public": PublicInput,
    "challenge": Challenge,
}
_BINARY: dict[str, type[Expr]] = {"add": Add, "sub": Sub, "mul": Mul}


def expr_to_json(expr: Expr) -> Any:
    """Serialise ``expr`` to nested JSON lists, e.g. ``["add", ["main", 0, 1], ["const", 5]]``."""
    if isinstance(expr, Const):
        return ["const", expr.value]
    if isinstance(expr, MainCol | AuxCol):
        return ["main" if isinstance(expr, MainCol) else "aux", expr.index, expr.offset]
    if isinstance(expr, Periodic | PublicInput | Challenge):
        tag = {Periodic: "periodic", PublicInput: "public", Challenge: "challenge"}[type(expr)]
        return [tag, expr.index]
    if isinstance(expr, Add | Sub | Mul):
        tag = {Add: "add", Sub: "sub", Mul: "mul"}[type(expr)]
        return [tag, expr_to_json(expr.left), expr_to_json(expr.right)]
    if isinstance(expr, Neg):
        return ["neg", expr_to_json(expr.operand)]
    if isinstance(expr, Pow):
        return ["pow", expr_to_json(expr.base), expr.exponent]
    raise InvalidAirError(StarkReason.INVALID_AIR, f"unknown node {expr!r}")


def expr_from_json(data: Any) -> Expr:
    """Rebuild an expression serialised by :func:`expr_to_json`."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise InvalidAirError(StarkReason.INVALID_AIR, f"bad expression json {data!r}")
    tag, args = data[0], data[1:]
    try:
        if tag == "const":
            (value,) = args
            return Const(value=int(value))
        if tag in ("main", "aux"):
            index, offset = args
            return _LEAVES[tag](index=int(index), offset=int(offset))  # type: ignore[call-arg]
        if tag in _LEAVES:
            (index,) = args
            return _LEAVES[tag](index=int(index))  # type: ignore[call-arg]
        if tag in _BINARY:
            left, right = args
            return _BINARY[tag](  # type: ignore[call-arg]
                left=expr_from_json(left), right=expr_from_json(right)
            )
        if tag == "neg":
            (operand,) = args
            return Neg(operand=expr_from_json(operand))
        if tag == "pow":
            base, exponent = args
            return Pow(base=expr_from_json(base), exponent=int(exponent))
    except (ValueError, TypeError) as exc:
        raise InvalidAirError(StarkReason.INVALID_AIR, f"bad expression json {data!r}") from exc
    raise InvalidAirError(StarkReason.INVALID_AIR, f"unknown expression tag {tag!r}")
