"""The STARK prover: trace in, proof bytes out.

:func:`prove` runs these stages (the verifier replays the same transcript schedule):

0. check the inputs; absorb the context (AIR digest, trace length, options, public inputs);
1. extend the main trace onto the LDE coset and commit its rows; absorb the root;
2. draw the auxiliary challenges, build the auxiliary segment, extend and commit it;
3. draw one composition coefficient per constraint; evaluate every constraint over the LDE,
   divide by its zerofier and sum into the composition polynomial H (degree < D * n);
   split H into D columns h_k of degree < n (H = sum_k x^(k n) h_k), extend and commit them;
4. draw the out-of-domain point z; send every trace column at z and z * g and every h_k at z;
5. draw the DEEP coefficients and build the DEEP composition polynomial
   sum_i a_i (T_i(x) - T_i(z)) / (x - z) + b_i (T_i(x) - T_i(z g)) / (x - z g)
   + sum_k c_k (h_k(x) - h_k(z)) / (x - z), of degree < n;
6. FRI commit phase on it (layers, then the remainder);
7. grind the proof-of-work nonce and absorb it;
8. draw the distinct query positions;
9. open every commitment at the query positions and serialise.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np

from starkperp.field import ext2
from starkperp.field.goldilocks import (
    P,
    get_root_of_unity,
    pow_,
    vadd,
    vbatch_inv,
    vmul,
    vpowers,
    vscale,
    vsub,
)
from starkperp.field.ntt import coset_intt, lde_from_coeffs
from starkperp.stark import _kernels as k
from starkperp.stark.air import (
    Air,
    Frame,
    Segment,
    evaluate_expr,
    get_composition_width,
    resolve_row,
    validate_main_trace,
    validate_public_inputs,
)
from starkperp.stark.compiled import compile_constraints
from starkperp.stark.errors import ProvingError, StarkReason
from starkperp.stark.evaluator import Domain, evaluate_exprs, find_first_violation_vectorized
from starkperp.stark.fri import commit_fri, open_fri
from starkperp.stark.merkle import build_merkle_tree, get_batch_opening, hash_columns
from starkperp.stark.options import ProofOptions
from starkperp.stark.proof import Proof
from starkperp.stark.protocol import (
    Coefficients,
    absorb_context,
    draw_composition_coefficients,
    draw_deep_coefficients,
    get_parameter_problem,
)
from starkperp.stark.trace import (
    DOMAIN_OFFSET,
    SegmentLde,
    aux_to_columns,
    build_aux_trace,
    compute_periodic_cycles,
    compute_periodic_lde,
    compute_segment_lde,
)
from starkperp.stark.transcript import Transcript, encode_ext, find_pow_nonce

__all__ = ["COMPILED_MIN_DOMAIN", "prove"]

COMPILED_MIN_DOMAIN = 1 << 17
"""LDE size from which transition constraints run in one generated kernel."""

ExtFelt = tuple[int, int]


def prove(
    air: Air,
    main_trace: np.ndarray,
    public_inputs: Sequence[int],
    options: ProofOptions,
    *,
    timings: dict[str, float] | None = None,
) -> bytes:
    """Prove that ``main_trace`` satisfies ``air`` for ``public_inputs``; return proof bytes.

    Raises :class:`InvalidTraceError` for a malformed trace and :class:`ProvingError` naming
    the first violated constraint when the trace does not satisfy the AIR. If ``timings`` is
    given, the seconds spent in each stage are written into it.
    """
    return _prove(air, main_trace, public_inputs, options, check_constraints=True, timings=timings)


class _Clock:
    """Records the wall time of each stage into an optional dict."""

    __slots__ = ("_last", "_timings")

    def __init__(self, timings: dict[str, float] | None) -> None:
        self._timings = timings
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self._timings is not None:
            self._timings[stage] = self._timings.get(stage, 0.0) + now - self._last
        self._last = now


def _prove(
    air: Air,
    main_trace: np.ndarray,
    public_inputs: Sequence[int],
    options: ProofOptions,
    *,
    check_constraints: bool,
    timings: dict[str, float] | None = None,
    constraint_backend: str = "auto",
) -> bytes:
    clock = _Clock(timings)
    # Stage 0: inputs and context.
    n = validate_main_trace(air, main_trace)
    log_n = n.bit_length() - 1
    public = validate_public_inputs(air, public_inputs)
    problem = get_parameter_problem(air, log_n, options)
    if problem is not None:
        raise ProvingError(StarkReason.TRACE_TOO_SHORT, problem)
    blowup = options.blowup
    size = n * blowup
    transcript = Transcript()
    absorb_context(transcript, air, log_n, public, options)

    clock.lap("0 context")

    # Stage 1: main trace.
    main_lde = compute_segment_lde(main_trace, blowup)
    main_tree = build_merkle_tree(hash_columns(main_lde.evaluations))
    transcript.absorb(main_tree.root)

    clock.lap("1 main commitment")

    # Stage 2: auxiliary segment.
    challenges: tuple[ExtFelt, ...] = ()
    aux_lde: SegmentLde | None = None
    aux_tree = None
    aux_trace = None
    if air.aux_width:
        challenges = tuple(transcript.draw_ext() for _ in range(air.n_aux_challenges))
        aux_trace = build_aux_trace(air, main_trace, challenges)
        aux_lde = compute_segment_lde(aux_to_columns(aux_trace), blowup)
        aux_tree = build_merkle_tree(hash_columns(aux_lde.evaluations))
        transcript.absorb(aux_tree.root)

    clock.lap("2 aux commitment")

    # Stage 3: composition polynomial.
    alphas = draw_composition_coefficients(transcript, air)
    composition = _compute_composition(
        air, main_lde, aux_lde, public, challenges, alphas, n, blowup, constraint_backend
    )
    clock.lap("3a constraint evaluation")
    width = get_composition_width(air)
    coefficients = coset_intt(composition, DOMAIN_OFFSET)
    if check_constraints and np.any(coefficients[:, width * n :]):
        violation = find_first_violation_vectorized(
            air, main_trace, public, aux_trace=aux_trace, challenges=challenges
        )
        where = "" if violation is None else f": {violation.constraint!r} at row {violation.row}"
        raise ProvingError(StarkReason.CONSTRAINT_VIOLATED, f"trace violates the AIR{where}")
    composition_coefficients = np.empty((2 * width, n), dtype=np.uint64)
    for column in range(width):
        composition_coefficients[2 * column : 2 * column + 2] = coefficients[
            :, column * n : (column + 1) * n
        ]
    composition_lde = lde_from_coeffs(composition_coefficients, blowup, DOMAIN_OFFSET)
    composition_tree = build_merkle_tree(hash_columns(composition_lde))
    transcript.absorb(composition_tree.root)

    clock.lap("3b composition commitment")

    # Stage 4: out-of-domain frame.
    z = transcript.draw_ext_outside()
    zg = ext2.emul(z, (get_root_of_unity(log_n), 0))
    ood_main_current = _evaluate_base_rows(main_lde.coefficients, z)
    ood_main_next = _evaluate_base_rows(main_lde.coefficients, zg)
    ood_aux_current: list[ExtFelt] = []
    ood_aux_next: list[ExtFelt] = []
    if aux_lde is not None:
        ood_aux_current = _evaluate_ext_rows(aux_lde.coefficients, z)
        ood_aux_next = _evaluate_ext_rows(aux_lde.coefficients, zg)
    ood_composition = _evaluate_ext_rows(composition_coefficients, z)
    transcript.absorb(
        encode_ext(ood_main_current)
        + encode_ext(ood_main_next)
        + encode_ext(ood_aux_current)
        + encode_ext(ood_aux_next)
        + encode_ext(ood_composition)
    )

    clock.lap("4 out-of-domain frame")

    # Stage 5: DEEP composition polynomial.
    deep_coefficients = draw_deep_coefficients(transcript, air)
    xs = vscale(vpowers(get_root_of_unity(size.bit_length() - 1), size), DOMAIN_OFFSET)
    deep = _compute_deep(
        air,
        main_lde.evaluations,
        aux_lde.evaluations if aux_lde is not None else None,
        composition_lde,
        deep_coefficients,
        (ood_main_current, ood_main_next, ood_aux_current, ood_aux_next, ood_composition),
        xs,
        (z, zg),
    )

    clock.lap("5 DEEP composition")

    # Stage 6: FRI commit phase.
    fri_state = commit_fri(deep, DOMAIN_OFFSET, n, options, transcript)
    clock.lap("6 FRI commitment")

    # Stage 7: proof of work.
    nonce = find_pow_nonce(transcript.state, options.grinding_bits)
    transcript.absorb(nonce.to_bytes(8, "big"))
    clock.lap("7 proof of work")

    # Stage 8: queries.
    positions = sorted(transcript.draw_distinct_indices(options.n_queries, size))

    # Stage 9: openings.
    main_rows = tuple(tuple(int(v) for v in main_lde.evaluations[:, p]) for p in positions)
    aux_rows: tuple[tuple[int, ...], ...] = ()
    aux_nodes: tuple[bytes, ...] = ()
    if aux_lde is not None and aux_tree is not None:
        aux_rows = tuple(tuple(int(v) for v in aux_lde.evaluations[:, p]) for p in positions)
        aux_nodes = tuple(get_batch_opening(aux_tree, positions))
    proof = Proof(
        log_trace_length=log_n,
        main_width=air.trace_width,
        aux_width=air.aux_width,
        composition_width=width,
        n_queries=options.n_queries,
        folding_factor=options.folding_factor,
        main_root=main_tree.root,
        aux_root=aux_tree.root if aux_tree is not None else b"",
        composition_root=composition_tree.root,
        ood_main_current=tuple(ood_main_current),
        ood_main_next=tuple(ood_main_next),
        ood_aux_current=tuple(ood_aux_current),
        ood_aux_next=tuple(ood_aux_next),
        ood_composition=tuple(ood_composition),
        fri_roots=tuple(tree.root for tree in fri_state.trees),
        fri_remainder=fri_state.remainder,
        pow_nonce=nonce,
        main_rows=main_rows,
        main_nodes=tuple(get_batch_opening(main_tree, positions)),
        aux_rows=aux_rows,
        aux_nodes=aux_nodes,
        composition_rows=tuple(tuple(int(v) for v in composition_lde[:, p]) for p in positions),
        composition_nodes=tuple(get_batch_opening(composition_tree, positions)),
        fri_openings=open_fri(fri_state, positions, options),
    )
    proof_bytes = proof.to_bytes()
    clock.lap("9 openings")
    return proof_bytes


def _compute_deep(
    air: Air,
    main: np.ndarray,
    aux: np.ndarray | None,
    composition: np.ndarray,
    coefficients: Coefficients,
    ood: tuple[Sequence[ExtFelt], ...],
    xs: np.ndarray,
    points: tuple[ExtFelt, ExtFelt],
) -> np.ndarray:
    """Return the DEEP composition polynomial over the LDE domain as a (2, N) array."""
    main_current, main_next, aux_current, aux_next, at_z = ood
    width = air.trace_width

    def table(rows: Sequence[Sequence[int]], n_columns: int) -> np.ndarray:
        return np.array(rows, dtype=np.uint64).reshape(len(rows), n_columns)

    main_coefficients = table(
        [(*coefficients.trace_z[i], *coefficients.trace_zg[i]) for i in range(width)], 4
    )
    aux_coefficients = table(
        [
            (*coefficients.trace_z[width + i], *coefficients.trace_zg[width + i])
            for i in range(air.aux_width)
        ],
        4,
    )
    composition_coefficients = table(list(coefficients.composition), 2)
    constant_z: ExtFelt = (0, 0)
    constant_zg: ExtFelt = (0, 0)
    for a, b, value_z, value_zg in zip(
        coefficients.trace_z,
        coefficients.trace_zg,
        [*main_current, *aux_current],
        [*main_next, *aux_next],
        strict=True,
    ):
        constant_z = ext2.eadd(constant_z, ext2.emul(a, value_z))
        constant_zg = ext2.eadd(constant_zg, ext2.emul(b, value_zg))
    for c, value in zip(coefficients.composition, at_z, strict=True):
        constant_z = ext2.eadd(constant_z, ext2.emul(c, value))
    size = xs.shape[0]
    norm_inverses = np.empty((2, size), dtype=np.uint64)
    for row, point in enumerate(points):
        norms = np.empty(size, dtype=np.uint64)
        k.linear_norms(xs, np.uint64(point[0]), np.uint64(point[1]), norms)
        norm_inverses[row] = vbatch_inv(norms)
    out = np.empty((2, size), dtype=np.uint64)
    k.deep_combine(
        np.ascontiguousarray(main),
        np.ascontiguousarray(aux) if aux is not None else np.zeros((0, size), dtype=np.uint64),
        np.ascontiguousarray(composition),
        main_coefficients,
        aux_coefficients,
        composition_coefficients,
        np.array([constant_z, constant_zg], dtype=np.uint64),
        xs,
        np.array(points, dtype=np.uint64),
        norm_inverses,
        out,
    )
    return out


def _compute_composition(
    air: Air,
    main_lde: SegmentLde,
    aux_lde: SegmentLde | None,
    public: tuple[int, ...],
    challenges: tuple[ExtFelt, ...],
    alphas: tuple[ExtFelt, ...],
    n: int,
    blowup: int,
    backend: str,
) -> np.ndarray:
    """Return H = sum alpha_j C_j / Z_j over the LDE domain as a (2, N) array.

    ``backend`` picks the transition evaluator: ``"reference"`` (one vector pass per node),
    ``"compiled"`` (one generated kernel) or ``"auto"`` (compiled for domains of at least
    ``COMPILED_MIN_DOMAIN`` points; the environment variable STARKPERP_CONSTRAINT_BACKEND
    overrides the automatic choice).
    """
    size = n * blowup
    log_n = n.bit_length() - 1
    g = get_root_of_unity(log_n)
    xs = vscale(vpowers(get_root_of_unity(size.bit_length() - 1), size), DOMAIN_OFFSET)
    aux_evaluations = None
    if aux_lde is not None:
        aux_evaluations = aux_lde.evaluations.reshape(air.aux_width, 2, size)
    # Transitions: sum alpha_j C_j, times (x - g^(n-1)) / (x^n - 1).
    exprs = [c.expr for c in air.transitions]
    if backend == "auto":
        backend = os.environ.get("STARKPERP_CONSTRAINT_BACKEND", "auto")
    if backend == "auto":
        backend = "compiled" if size >= COMPILED_MIN_DOMAIN else "reference"
    if not exprs:
        total = np.zeros((2, size), dtype=np.uint64)
    elif backend == "compiled":
        total = compile_constraints(exprs).evaluate(
            main=main_lde.evaluations,
            aux=aux_lde.evaluations if aux_lde is not None else None,
            periodic=compute_periodic_cycles(air, n, blowup),
            public_inputs=public,
            challenges=challenges,
            alphas=alphas[: len(exprs)],
            step=blowup,
        )
    else:
        domain = Domain(
            main=main_lde.evaluations,
            aux=aux_evaluations,
            periodic=compute_periodic_lde(air, n, blowup),
            public_inputs=public,
            challenges=challenges,
            step=blowup,
        )
        total = np.zeros((2, size), dtype=np.uint64)
        values = evaluate_exprs(exprs, domain)
        for alpha, value in zip(alphas, values, strict=False):
            _accumulate(total, value, alpha, size)
    # x^n on the coset takes blowup distinct values 7^n * w_blowup^i, repeating.
    x_to_n = vscale(
        vpowers(get_root_of_unity(blowup.bit_length() - 1), blowup), pow_(DOMAIN_OFFSET, n)
    )
    inverse_vanishing = np.tile(vbatch_inv(vsub(x_to_n, np.ones(blowup, dtype=np.uint64))), n)
    factor = vmul(vsub(xs, np.full(size, pow_(g, n - 1), dtype=np.uint64)), inverse_vanishing)
    # Boundaries: alpha_b (T_b(x) - v_b) / (x - g^row), grouped by row.
    empty = Frame(
        main_current=(),
        main_next=(),
        aux_current=(),
        aux_next=(),
        periodic=(),
        public_inputs=public,
        challenges=challenges,
    )
    rows: list[int] = []
    groups: list[tuple[int, int, int]] = []
    boundary_alphas: list[ExtFelt] = []
    constants: list[ExtFelt] = []
    offset = len(air.transitions)
    for index, boundary in enumerate(air.boundaries):
        row = resolve_row(boundary.row, n)
        if row not in rows:
            rows.append(row)
            constants.append((0, 0))
        group = rows.index(row)
        alpha = alphas[offset + index]
        value = evaluate_expr(boundary.value, empty)
        constants[group] = ext2.eadd(constants[group], ext2.emul(alpha, value))
        segment = 0 if boundary.segment is Segment.MAIN else 1
        groups.append((group, segment, boundary.column))
        boundary_alphas.append(alpha)
    points = np.repeat(
        np.array([pow_(g, row) for row in rows], dtype=np.uint64).reshape(-1, 1), size, axis=1
    )
    inverses = vbatch_inv(vsub(np.broadcast_to(xs, points.shape), points))
    out = np.empty((2, size), dtype=np.uint64)
    k.combine_composition(
        total,
        factor,
        main_lde.evaluations,
        aux_lde.evaluations if aux_lde is not None else np.zeros((0, size), dtype=np.uint64),
        np.array(groups, dtype=np.int64).reshape(-1, 3),
        np.array(boundary_alphas, dtype=np.uint64).reshape(-1, 2),
        np.array(constants, dtype=np.uint64).reshape(-1, 2),
        inverses.reshape(-1, size),
        out,
    )
    return out


def _accumulate(total: np.ndarray, value: object, alpha: ExtFelt, size: int) -> None:
    a0, a1 = np.uint64(alpha[0]), np.uint64(alpha[1])
    if isinstance(value, np.ndarray) and value.ndim == 1:
        k.emul_add_bs(total, value, a0, a1)
    elif isinstance(value, np.ndarray):
        k.emul_add_vs(total, np.ascontiguousarray(value), a0, a1)
    else:
        scalar = value if isinstance(value, tuple) else (int(value), 0)  # type: ignore[call-overload]
        total[:] = vadd(total, _broadcast(ext2.emul(scalar, alpha), size))


def _broadcast(value: ExtFelt, size: int) -> np.ndarray:
    out = np.empty((2, size), dtype=np.uint64)
    out[0] = value[0]
    out[1] = value[1]
    return out


def _evaluate_base_rows(coefficients: np.ndarray, point: ExtFelt) -> list[ExtFelt]:
    powers = np.ascontiguousarray(ext2.vepowers(point, coefficients.shape[1]).T)
    out = np.empty((coefficients.shape[0], 2), dtype=np.uint64)
    k.evaluate_rows_at(np.ascontiguousarray(coefficients), powers, out)
    return [(int(a), int(b)) for a, b in out]


def _evaluate_ext_rows(coefficients: np.ndarray, point: ExtFelt) -> list[ExtFelt]:
    """Evaluate polynomials with extension coefficients stored as (c0 row, c1 row) pairs."""
    parts = _evaluate_base_rows(coefficients, point)
    values = []
    for i in range(0, len(parts), 2):
        # P = P0 + X * P1 with X^2 = 7: X * (a0 + a1 X) = 7 a1 + a0 X
        p0, p1 = parts[i], parts[i + 1]
        values.append(ext2.eadd(p0, ((7 * p1[1]) % P, p1[0])))
    return values
