"""The STARK verifier: accept a proof or say precisely why not.

:func:`verify` parses the bytes (shape and bounds first, see :mod:`starkperp.stark.proof`),
checks the shape against the AIR and the options, replays the transcript exactly as the
prover ran it, and then checks, in order:

1. the proof-of-work nonce (``POW``);
2. the out-of-domain identity: the constraints evaluated at z from the sent frame, divided by
   their zerofiers and combined with the composition coefficients, equal
   ``sum_k z^(k n) h_k(z)`` (``OOD_MISMATCH``);
3. the opened rows of the main, auxiliary and composition commitments against their roots
   (``TRACE_ROOT``, ``AUX_ROOT``, ``COMPOSITION_ROOT``);
4. the DEEP composition at every query position against FRI layer 0 (``DEEP_MISMATCH``),
   then FRI: layer roots (``FRI_LAYER_ROOT``), folding (``FRI_FOLDING``) and the remainder
   (``FRI_REMAINDER``).

It never imports the prover. Any failure raises :class:`VerificationError`; no other
exception escapes, whatever the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from starkperp.field import ext2
from starkperp.field.goldilocks import P, get_root_of_unity, mul, pow_
from starkperp.stark.air import (
    Air,
    Frame,
    Segment,
    evaluate_expr,
    evaluate_exprs_at,
    evaluate_periodic_at,
    get_composition_width,
    resolve_row,
)
from starkperp.stark.errors import StarkError, StarkReason, VerificationError
from starkperp.stark.fri import draw_fri_betas, get_fri_shape, verify_fri
from starkperp.stark.merkle import compute_batch_root, hash_rows
from starkperp.stark.options import ProofOptions
from starkperp.stark.proof import Proof
from starkperp.stark.protocol import (
    Coefficients,
    absorb_context,
    draw_composition_coefficients,
    draw_deep_coefficients,
    get_parameter_problem,
)
from starkperp.stark.trace import DOMAIN_OFFSET
from starkperp.stark.transcript import Transcript, encode_ext, is_valid_pow

__all__ = ["verify"]

ExtFelt = tuple[int, int]


def verify(
    air: Air, public_inputs: Sequence[int], proof_bytes: bytes, options: ProofOptions
) -> None:
    """Return if ``proof_bytes`` proves ``air`` for ``public_inputs``; else raise.

    Raises :class:`VerificationError` with a reason from :class:`StarkReason` and nothing else.
    """
    try:
        _verify(air, public_inputs, proof_bytes, options)
    except VerificationError:
        raise
    except StarkError as exc:
        raise VerificationError(exc.reason, exc.message) from exc
    except Exception as exc:  # defence in depth: hostile bytes must never crash the caller
        raise VerificationError(StarkReason.MALFORMED, f"unexpected {type(exc).__name__}") from exc


def _check_shape(air: Air, proof: Proof, options: ProofOptions) -> None:
    def mismatch(what: str) -> VerificationError:
        return VerificationError(StarkReason.SHAPE_MISMATCH, what)

    if proof.main_width != air.trace_width or proof.aux_width != air.aux_width:
        raise mismatch("trace widths differ from the AIR")
    if proof.composition_width != get_composition_width(air):
        raise mismatch("composition width differs from the AIR")
    if proof.n_queries != options.n_queries or proof.folding_factor != options.folding_factor:
        raise mismatch("query count or folding factor differ from the options")
    problem = get_parameter_problem(air, proof.log_trace_length, options)
    if problem is not None:
        raise mismatch(problem)
    n_layers, remainder_len = get_fri_shape(1 << proof.log_trace_length, options)
    if len(proof.fri_roots) != n_layers or len(proof.fri_remainder) != remainder_len:
        raise mismatch("FRI layer count or remainder length")


def _verify(
    air: Air, public_inputs: Sequence[int], proof_bytes: bytes, options: ProofOptions
) -> None:
    # Stage 0: parse, shape, context.
    proof = Proof.from_bytes(proof_bytes)
    public = tuple(public_inputs)
    if len(public) != air.n_public_inputs or any(
        not isinstance(v, int) or not 0 <= v < P for v in public
    ):
        raise VerificationError(StarkReason.SHAPE_MISMATCH, "public inputs")
    _check_shape(air, proof, options)
    log_n = proof.log_trace_length
    n = 1 << log_n
    size = n * options.blowup
    transcript = Transcript()
    absorb_context(transcript, air, log_n, public, options)

    # Stages 1-3: commitments and the challenges drawn after each.
    transcript.absorb(proof.main_root)
    challenges: tuple[ExtFelt, ...] = ()
    if air.aux_width:
        challenges = tuple(transcript.draw_ext() for _ in range(air.n_aux_challenges))
        transcript.absorb(proof.aux_root)
    alphas = draw_composition_coefficients(transcript, air)
    transcript.absorb(proof.composition_root)

    # Stage 4: out-of-domain frame.
    z = transcript.draw_ext_outside()
    g = get_root_of_unity(log_n)
    zg = ext2.emul(z, (g, 0))
    transcript.absorb(
        encode_ext(proof.ood_main_current)
        + encode_ext(proof.ood_main_next)
        + encode_ext(proof.ood_aux_current)
        + encode_ext(proof.ood_aux_next)
        + encode_ext(proof.ood_composition)
    )
    deep_coefficients = draw_deep_coefficients(transcript, air)

    # Stage 5-6: FRI commitments.
    betas = draw_fri_betas(proof.fri_roots, proof.fri_remainder, transcript)

    # Stage 7: proof of work.
    if not is_valid_pow(transcript.state, proof.pow_nonce, options.grinding_bits):
        raise VerificationError(StarkReason.POW, "proof-of-work nonce does not solve the puzzle")
    transcript.absorb(proof.pow_nonce.to_bytes(8, "big"))

    # Stage 8: queries.
    positions = sorted(transcript.draw_distinct_indices(options.n_queries, size))

    # Check A: the out-of-domain identity.
    _check_ood(air, proof, public, challenges, alphas, z, n, g)

    # Check B: trace and composition openings.
    depth = size.bit_length() - 1
    segments = [(proof.main_rows, proof.main_nodes, proof.main_root, StarkReason.TRACE_ROOT)]
    if air.aux_width:
        segments.append((proof.aux_rows, proof.aux_nodes, proof.aux_root, StarkReason.AUX_ROOT))
    segments.append(
        (
            proof.composition_rows,
            proof.composition_nodes,
            proof.composition_root,
            StarkReason.COMPOSITION_ROOT,
        )
    )
    for rows, nodes, root, reason in segments:
        hashes = [bytes(h) for h in hash_rows(np.array(rows, dtype=np.uint64))]
        try:
            computed = compute_batch_root(positions, hashes, nodes, depth)
        except VerificationError as exc:
            raise VerificationError(reason, exc.message) from exc
        if computed != root:
            raise VerificationError(reason, "opened rows do not match the commitment")

    # Check C: DEEP composition at the queries, then FRI.
    generator = get_root_of_unity(depth)
    deep_values = [
        _compute_deep_value(
            air,
            proof,
            index,
            mul(DOMAIN_OFFSET, pow_(generator, position)),
            z,
            zg,
            deep_coefficients,
        )
        for index, position in enumerate(positions)
    ]
    verify_fri(
        roots=proof.fri_roots,
        betas=betas,
        remainder=proof.fri_remainder,
        openings=proof.fri_openings,
        positions=positions,
        values=deep_values,
        domain_size=size,
        offset=DOMAIN_OFFSET,
        options=options,
    )


def _check_ood(
    air: Air,
    proof: Proof,
    public: tuple[int, ...],
    challenges: tuple[ExtFelt, ...],
    alphas: tuple[ExtFelt, ...],
    z: ExtFelt,
    n: int,
    g: int,
) -> None:
    periodic = [
        evaluate_periodic_at(coefficients, z, n) for coefficients in air.periodic_coefficients
    ]
    frame = Frame(
        main_current=proof.ood_main_current,
        main_next=proof.ood_main_next,
        aux_current=proof.ood_aux_current,
        aux_next=proof.ood_aux_next,
        periodic=periodic,
        public_inputs=public,
        challenges=challenges,
    )
    transition_sum: ExtFelt = (0, 0)
    values = evaluate_exprs_at([c.expr for c in air.transitions], frame, air.transition_program)
    for alpha, value in zip(alphas, values, strict=False):
        transition_sum = ext2.eadd(transition_sum, ext2.emul(alpha, value))
    z_to_n = ext2.epow(z, n)
    vanishing = ext2.esub(z_to_n, (1, 0))
    exemption = ext2.esub(z, (pow_(g, n - 1), 0))
    total = ext2.emul(transition_sum, ext2.emul(exemption, ext2.einv(vanishing)))
    offset = len(air.transitions)
    for index, boundary in enumerate(air.boundaries):
        value = evaluate_expr(boundary.value, frame)
        current = (
            proof.ood_main_current if boundary.segment is Segment.MAIN else proof.ood_aux_current
        )
        numerator = ext2.esub(current[boundary.column], value)
        denominator = ext2.esub(z, (pow_(g, resolve_row(boundary.row, n)), 0))
        total = ext2.eadd(
            total, ext2.emul(alphas[offset + index], ext2.emul(numerator, ext2.einv(denominator)))
        )
    claimed: ExtFelt = (0, 0)
    power: ExtFelt = (1, 0)
    for value in proof.ood_composition:
        claimed = ext2.eadd(claimed, ext2.emul(power, value))
        power = ext2.emul(power, z_to_n)
    if claimed != total:
        raise VerificationError(StarkReason.OOD_MISMATCH, "constraints do not match H(z)")


def _compute_deep_value(
    air: Air,
    proof: Proof,
    index: int,
    x: int,
    z: ExtFelt,
    zg: ExtFelt,
    coefficients: Coefficients,
) -> ExtFelt:

    main_row = proof.main_rows[index]
    trace_values: list[ExtFelt] = [(v, 0) for v in main_row]
    trace_z = list(proof.ood_main_current)
    trace_zg = list(proof.ood_main_next)
    if air.aux_width:
        aux_row = proof.aux_rows[index]
        trace_values += [(aux_row[2 * i], aux_row[2 * i + 1]) for i in range(air.aux_width)]
        trace_z += list(proof.ood_aux_current)
        trace_zg += list(proof.ood_aux_next)
    sum_z: ExtFelt = (0, 0)
    sum_zg: ExtFelt = (0, 0)
    for value, at_z, at_zg, a, b in zip(
        trace_values, trace_z, trace_zg, coefficients.trace_z, coefficients.trace_zg, strict=True
    ):
        sum_z = ext2.eadd(sum_z, ext2.emul(a, ext2.esub(value, at_z)))
        sum_zg = ext2.eadd(sum_zg, ext2.emul(b, ext2.esub(value, at_zg)))
    composition_row = proof.composition_rows[index]
    for i, (at_z, c) in enumerate(
        zip(proof.ood_composition, coefficients.composition, strict=True)
    ):
        value = (composition_row[2 * i], composition_row[2 * i + 1])
        sum_z = ext2.eadd(sum_z, ext2.emul(c, ext2.esub(value, at_z)))
    x_ext = (x, 0)
    return ext2.eadd(
        ext2.emul(sum_z, ext2.einv(ext2.esub(x_ext, z))),
        ext2.emul(sum_zg, ext2.einv(ext2.esub(x_ext, zg))),
    )
