"""The expression language: building, degrees, walking, serialisation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from starkperp.field.goldilocks import P
from starkperp.stark.errors import InvalidAirError, StarkReason
from starkperp.stark.expr import (
    Add,
    Const,
    MainCol,
    Mul,
    Pow,
    challenge,
    compute_degree,
    const,
    expr_from_json,
    expr_to_json,
    is_extension,
    main,
    main_next,
    periodic,
    public,
    share_subexpressions,
    walk,
)
from tests.strategies.stark import exprs


def test_operators_build_trees() -> None:
    e = 3 * main(0) + main_next(1) ** 2 - 1
    assert isinstance(e.left, Add)  # type: ignore[attr-defined]
    assert e.right == Const(value=1)  # type: ignore[attr-defined]
    assert (-main(0)).operand == MainCol(index=0, offset=0)  # type: ignore[attr-defined]
    assert const(-1).value == P - 1


def test_degree_counts_columns_and_periodic() -> None:
    assert compute_degree(main(0) * main(1)) == 2
    assert compute_degree(periodic(0) * main(0) ** 3) == 4
    assert compute_degree(public(0) * challenge(0) + 5) == 0
    assert compute_degree((main(0) + 1) ** 7) == 7


def test_walk_visits_shared_nodes_once() -> None:
    shared = main(0) * main(1)
    tree = shared + shared
    nodes = list(walk(tree))
    assert nodes[-1] is tree
    assert sum(1 for n in nodes if n is shared) == 1


def test_is_extension() -> None:
    assert not is_extension(main(0) + public(0))
    assert is_extension(main(0) * challenge(0))


@given(exprs())
@settings(max_examples=50, deadline=None)
def test_json_round_trip(expr: object) -> None:
    assert expr_from_json(expr_to_json(expr)) == expr  # type: ignore[arg-type]


def test_invalid_exponent() -> None:
    with pytest.raises(InvalidAirError) as info:
        _ = main(0) ** -1
    assert info.value.reason is StarkReason.INVALID_AIR


def test_invalid_constant() -> None:
    with pytest.raises(InvalidAirError):
        Const(value=P)


def test_invalid_operand() -> None:
    with pytest.raises(InvalidAirError):
        _ = main(0) + 1.5  # type: ignore[operator]


@pytest.mark.parametrize("data", [[], ["nope", 1], ["main", 0], ["pow", ["const", 1], "x"], 5])
def test_invalid_json(data: object) -> None:
    with pytest.raises(InvalidAirError):
        expr_from_json(data)


def test_json_shape() -> None:
    assert expr_to_json(main_next(2) * 3) == ["mul", ["main", 2, 1], ["const", 3]]
    assert isinstance(expr_from_json(["pow", ["main", 0, 0], 3]), Pow)
    assert isinstance(expr_from_json(["mul", ["const", 1], ["const", 2]]), Mul)


@given(exprs(), exprs())
@settings(max_examples=50, deadline=None)
def test_share_subexpressions_keeps_trees_and_shares_equal_nodes(a: object, b: object) -> None:
    twice = [a, b, a * b, b * a]
    shared = share_subexpressions(twice)  # type: ignore[arg-type]
    assert shared == twice  # structurally the same trees
    nodes = [node for root in shared for node in walk(root, set())]
    by_value: dict[object, int] = {}
    for node in nodes:
        # equal sub-trees are one object after the pass
        assert by_value.setdefault(node, id(node)) == id(node)  # type: ignore[call-overload]


def test_share_subexpressions_merges_rebuilt_products() -> None:
    first = periodic(0) * main(3)
    second = periodic(0) * main(3)
    assert first is not second
    left, right = share_subexpressions([first + main(1), second - main(2)])
    assert left.left is right.left  # type: ignore[attr-defined]
