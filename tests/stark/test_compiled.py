"""The generated constraint kernel agrees with the reference evaluator, point by point and
through whole proofs (identical proof bytes)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from starkperp.field.goldilocks import P
from starkperp.stark import _kernels as k
from starkperp.stark.compiled import compile_constraints, generate_source, partition_constraints
from starkperp.stark.evaluator import Domain, evaluate_exprs, to_ext_vector
from starkperp.stark.expr import aux, aux_next, challenge, main, main_next, periodic, public
from starkperp.stark.prover import _prove
from tests.stark.proofs import get_case

SIZE = 64
STEP = 4


@pytest.mark.parametrize("budget", [5, 10_000])
def test_mixed_expressions_match_reference(budget: int) -> None:
    exprs = [
        main_next(0) - main(1) * main(2) + 5,
        (main(0) + public(1)) ** 5 - periodic(0) * main(1),
        aux_next(0) * (challenge(0) - main(1)) - aux(0) * (challenge(1) - main(0)),
        -(aux(0) ** 3) + challenge(0) * public(0) * periodic(1),
        periodic(0) * (1 - periodic(0)),
    ]
    rng = np.random.default_rng(11)
    main_lde = rng.integers(0, P, size=(3, SIZE), dtype=np.uint64)
    aux_lde = rng.integers(0, P, size=(2, SIZE), dtype=np.uint64)
    cycles = [
        rng.integers(0, P, size=8, dtype=np.uint64),
        rng.integers(0, P, size=16, dtype=np.uint64),
    ]
    public_inputs = [int(v) for v in rng.integers(0, P, size=2, dtype=np.uint64)]
    challenges = [(int(v), int(w)) for v, w in rng.integers(0, P, size=(2, 2), dtype=np.uint64)]
    alphas = [
        (int(v), int(w)) for v, w in rng.integers(0, P, size=(len(exprs), 2), dtype=np.uint64)
    ]

    compiled = compile_constraints(exprs, budget).evaluate(
        main=main_lde,
        aux=aux_lde,
        periodic=cycles,
        public_inputs=public_inputs,
        challenges=challenges,
        alphas=alphas,
        step=STEP,
    )
    domain = Domain(
        main=main_lde,
        aux=aux_lde.reshape(1, 2, SIZE),
        periodic=np.stack([np.tile(c, SIZE // len(c)) for c in cycles]),
        public_inputs=public_inputs,
        challenges=challenges,
        step=STEP,
    )
    expected = np.zeros((2, SIZE), dtype=np.uint64)
    for alpha, value in zip(alphas, evaluate_exprs(exprs, domain), strict=True):
        k.emul_add_vs(
            expected, to_ext_vector(value, SIZE), np.uint64(alpha[0]), np.uint64(alpha[1])
        )
    assert np.array_equal(compiled, expected)


def test_cold_kernels_compile_in_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a fresh cache and constraints no other test compiles: every kernel starts cold
    monkeypatch.setenv("STARKPERP_KERNEL_CACHE", str(tmp_path))
    salt = int.from_bytes(os.urandom(7), "big")
    exprs = [main_next(0) - main(1) * main(2) + salt, (main(0) + salt) ** 3 - main(1)]
    constraints = compile_constraints(exprs, budget=5)
    assert len(constraints._kernels) == 2
    rng = np.random.default_rng(5)
    main_lde = rng.integers(0, P, size=(3, SIZE), dtype=np.uint64)
    alphas = [(1, 0), (0, 1)]
    out = constraints.evaluate(
        main=main_lde,
        aux=None,
        periodic=[],
        public_inputs=[],
        challenges=[],
        alphas=alphas,
        step=STEP,
    )
    # the worker processes compiled both kernels into the cache this process then loaded
    assert all(sum(kernel.stats.cache_hits.values()) == 1 for kernel in constraints._kernels)
    nxt = np.roll(main_lde, -STEP, axis=1).astype(object)
    cur = main_lde.astype(object)
    first = [(a - b * c + salt) % P for a, b, c in zip(nxt[0], cur[1], cur[2], strict=True)]
    second = [((a + salt) ** 3 - b) % P for a, b in zip(cur[0], cur[1], strict=True)]
    assert out[0].tolist() == first and out[1].tolist() == second


def test_source_is_deterministic() -> None:
    exprs = [main_next(0) - main(0) ** 2]
    assert generate_source(exprs) == generate_source([main_next(0) - main(0) ** 2])
    assert "nogil=True" in generate_source(exprs)


def test_partition_respects_budget() -> None:
    exprs = [main_next(0) - main(0) ** 2, main(1) * main(2), main(0) + 1]
    assert partition_constraints(exprs, 10_000) == [[0, 1, 2]]
    assert partition_constraints(exprs, 1) == [[0], [1], [2]]


@pytest.mark.parametrize("name", ["fibonacci", "permutation", "rpo_chain"])
def test_compiled_backend_gives_identical_proofs(name: str) -> None:
    case = get_case(name)
    proof = _prove(
        case.air,
        case.trace,
        case.public_inputs,
        case.options,
        check_constraints=True,
        constraint_backend="compiled",
    )
    assert proof == case.proof


def test_threaded_slices_match_reference() -> None:
    size = 1 << 14
    exprs = [main_next(0) * main(1) - main(0) ** 3 + periodic(0), main(1) - public(0)]
    rng = np.random.default_rng(5)
    main_lde = rng.integers(0, P, size=(2, size), dtype=np.uint64)
    cycle = rng.integers(0, P, size=32, dtype=np.uint64)
    alphas = [(3, 4), (5, 6)]
    compiled = compile_constraints(exprs).evaluate(
        main=main_lde,
        aux=None,
        periodic=[cycle],
        public_inputs=[7],
        challenges=[],
        alphas=alphas,
        step=8,
    )
    domain = Domain(
        main=main_lde,
        aux=None,
        periodic=np.tile(cycle, size // 32).reshape(1, size),
        public_inputs=[7],
        challenges=[],
        step=8,
    )
    expected = np.zeros((2, size), dtype=np.uint64)
    for alpha, value in zip(alphas, evaluate_exprs(exprs, domain), strict=True):
        k.emul_add_vs(
            expected, to_ext_vector(value, size), np.uint64(alpha[0]), np.uint64(alpha[1])
        )
    assert np.array_equal(compiled, expected)


def test_lazy_sums_match_reference() -> None:
    size = 64
    terms = [main(i % 3) * (i + 1) for i in range(12)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    shared = main(0) * 3
    exprs = [
        total + periodic(0) - main_next(1),
        shared + shared + main(1) * 2,  # a product used twice is not inlined
        (main(0) + main(1)) * (main(2) + 5 + main(0) * 7),
        main(0) * (P - 1) + main(1) * 2 + main(2),  # large coefficient: no lazy sum
        aux(0) + main(0) * 3 + main(1) * 4 + main(2),  # extension sum: no lazy sum
    ]
    rng = np.random.default_rng(3)
    main_lde = rng.integers(0, P, size=(3, size), dtype=np.uint64)
    main_lde[:, :4] = P - 1  # extreme values
    aux_lde = rng.integers(0, P, size=(2, size), dtype=np.uint64)
    cycle = rng.integers(0, P, size=8, dtype=np.uint64)
    alphas = [(1, 0)] * len(exprs)
    source = generate_source(exprs)
    assert "lazy_reduce" in source
    compiled = compile_constraints(exprs).evaluate(
        main=main_lde,
        aux=aux_lde,
        periodic=[cycle],
        public_inputs=[],
        challenges=[],
        alphas=alphas,
        step=1,
    )
    domain = Domain(
        main=main_lde,
        aux=aux_lde.reshape(1, 2, size),
        periodic=np.tile(cycle, size // 8).reshape(1, size),
        public_inputs=[],
        challenges=[],
        step=1,
    )
    expected = np.zeros((2, size), dtype=np.uint64)
    for alpha, value in zip(alphas, evaluate_exprs(exprs, domain), strict=True):
        k.emul_add_vs(
            expected, to_ext_vector(value, size), np.uint64(alpha[0]), np.uint64(alpha[1])
        )
    assert np.array_equal(compiled, expected)
