"""FRI: the compiled fold agrees with the scalar fold; low degree accepted, high rejected."""

from __future__ import annotations

import numpy as np
import pytest

from starkperp.field.goldilocks import P, get_root_of_unity, mul, pow_
from starkperp.field.ntt import coset_ntt
from starkperp.stark.errors import StarkReason, VerificationError
from starkperp.stark.fri import (
    _fold_layer,
    commit_fri,
    compute_fold,
    draw_fri_betas,
    get_fri_shape,
    open_fri,
    verify_fri,
)
from starkperp.stark.options import ProofOptions
from starkperp.stark.transcript import Transcript

OFFSET = 7


def _options(factor: int, remainder: int = 7) -> ProofOptions:
    return ProofOptions(
        blowup=4,
        n_queries=12,
        grinding_bits=0,
        folding_factor=factor,
        fri_max_remainder_degree=remainder,
    )


def _evaluations(degree: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coefficients = np.zeros((2, size), dtype=np.uint64)
    coefficients[:, :degree] = rng.integers(0, P, size=(2, degree), dtype=np.uint64)
    return coset_ntt(coefficients, OFFSET)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_compiled_fold_matches_reference(factor: int) -> None:
    size = 64
    values = _evaluations(16, size)
    beta = (123456789, 987654321)
    folded = _fold_layer(values, OFFSET, factor, beta)
    m_out = size // factor
    g = get_root_of_unity(6)
    for j in range(m_out):
        leaf = [
            (int(values[0, j + k * m_out]), int(values[1, j + k * m_out])) for k in range(factor)
        ]
        x = mul(OFFSET, pow_(g, j))
        assert compute_fold(leaf, x, beta) == (int(folded[0, j]), int(folded[1, j]))


def _run(values: np.ndarray, degree: int, options: ProofOptions) -> None:
    size = values.shape[1]
    prover_transcript = Transcript()
    state = commit_fri(values, OFFSET, degree, options, prover_transcript)
    positions = sorted(prover_transcript.draw_distinct_indices(options.n_queries, size))
    openings = open_fri(state, positions, options)
    verifier_transcript = Transcript()
    betas = draw_fri_betas([t.root for t in state.trees], state.remainder, verifier_transcript)
    assert verifier_transcript.state == prover_transcript.state
    verify_fri(
        roots=[t.root for t in state.trees],
        betas=betas,
        remainder=state.remainder,
        openings=openings,
        positions=positions,
        values=[(int(values[0, p]), int(values[1, p])) for p in positions],
        domain_size=size,
        offset=OFFSET,
        options=options,
    )


@pytest.mark.parametrize(("factor", "remainder"), [(2, 0), (4, 7), (8, 3), (8, 31)])
def test_low_degree_is_accepted(factor: int, remainder: int) -> None:
    options = _options(factor, remainder)
    _run(_evaluations(256, 1024), 256, options)
    assert get_fri_shape(256, options)[1] <= remainder + 1


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_invalid_high_degree_is_rejected(factor: int) -> None:
    with pytest.raises(VerificationError) as info:
        _run(_evaluations(257, 1024, seed=5), 256, _options(factor))
    assert info.value.reason in (StarkReason.FRI_REMAINDER, StarkReason.FRI_FOLDING)


def test_fri_shape() -> None:
    assert get_fri_shape(1024, _options(4, 7)) == (4, 4)
    assert get_fri_shape(8, _options(8, 7)) == (0, 8)
    assert get_fri_shape(2, _options(4, 0)) == (1, 1)


def test_fold_at_a_coset_point_is_that_value() -> None:
    values = [(i + 1, 2 * i + 3) for i in range(4)]
    x = 12345
    g = get_root_of_unity(2)
    assert compute_fold(values, x, (x, 0)) == values[0]
    assert compute_fold(values, x, (mul(x, g), 0)) == values[1]
