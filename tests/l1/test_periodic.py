"""Periodic columns in barycentric form: the Python twin and the contracts against Horner.

The verifier evaluates a periodic column from the values that differ from its most common
one (a selector costs one term, not its whole period); both the Python twin and the
generated group contracts must equal Horner on the column's coefficients.
"""

from __future__ import annotations

import random

import boa

from starkperp.field.goldilocks import P
from starkperp.l1.verifier_gen import (
    compute_sparse_periodic_table,
    evaluate_sparse_periodic,
    render_verifier,
)
from starkperp.rollup.air import get_batch_air
from starkperp.rollup.config import get_preset as get_rollup_preset
from starkperp.stark import expr as ex
from starkperp.stark.air import (
    Air,
    PeriodicColumn,
    TransitionConstraint,
    compute_periodic_coefficients,
    evaluate_periodic_at,
)
from starkperp.stark.options import PRESETS


def _columns(rng: random.Random) -> list[tuple[int, ...]]:
    selector = tuple(1 if i == 5 else 0 for i in range(64))
    dense = tuple(rng.randrange(P) for _ in range(8))
    constant = (7, 7, 7, 7)
    mixed = tuple(3 if i % 16 else rng.randrange(P) for i in range(256))
    return [selector, dense, constant, mixed, (9,), (0, 1)]


def _horner(columns: list[tuple[int, ...]], z: tuple[int, int], n: int) -> list[tuple[int, int]]:
    out = []
    for values in columns:
        coefficients = compute_periodic_coefficients(PeriodicColumn(name="c", values=values))
        v = evaluate_periodic_at(coefficients, z, n)
        out.append((int(v[0]), int(v[1])))
    return out


def test_sparse_form_equals_horner() -> None:
    rng = random.Random(3)
    columns = _columns(rng)
    table = compute_sparse_periodic_table(columns)
    assert len(table.entries) == 1 + 7 + 0 + 16 + 0 + 1
    for log_n in (8, 10, 14):
        z = (rng.randrange(P), rng.randrange(1, P))
        assert evaluate_sparse_periodic(table, z, 1 << log_n) == _horner(columns, z, 1 << log_n)


def test_batch_air_periodic_columns_are_sparse() -> None:
    air = get_batch_air(get_rollup_preset("minimal", verify_signatures=False))
    columns = [tuple(int(v) for v in c.values) for c in air.periodic_columns]
    table = compute_sparse_periodic_table(columns)
    assert len(table.entries) < sum(len(c) for c in columns) // 10
    z = (12345, 678)
    assert evaluate_sparse_periodic(table, z, 1 << 16) == _horner(columns, z, 1 << 16)


def test_periodic_group_contracts_equal_horner() -> None:
    rng = random.Random(5)
    columns = _columns(rng)
    air = Air(  # type: ignore[call-arg]
        name="periodic",
        trace_width=1,
        transitions=(
            TransitionConstraint(
                name="t",
                expr=ex.main_next(0) - ex.main(0) * sum_periodic(len(columns)),
            ),
        ),
        boundaries=(),
        periodic_columns=tuple(
            PeriodicColumn(name=f"p{i}", values=v) for i, v in enumerate(columns)
        ),
    )
    sources = render_verifier(
        air, PRESETS["minimal"], contract_name="PeriodicTest", max_periodic_entries=10
    )
    groups = sorted(n for n in sources if "Periodic" in n[len("PeriodicTest") :])
    assert len(groups) > 1
    env = boa.Env()
    z = (rng.randrange(P), rng.randrange(1, P))
    n = 1 << 12
    got: list[tuple[int, int]] = []
    for name in sorted(groups, key=lambda g: int(g.removeprefix("PeriodicTestPeriodic"))):
        contract = boa.loads_partial(sources[name], name=name).deploy(env=env)
        values = contract.evaluate(z[0], z[1], n)
        got += [(values[2 * i], values[2 * i + 1]) for i in range(len(values) // 2)]
    assert got == _horner(columns, z, n)


def sum_periodic(count: int) -> ex.Expr:
    total: ex.Expr = ex.periodic(0)
    for i in range(1, count):
        total = total + ex.periodic(i)
    return total
