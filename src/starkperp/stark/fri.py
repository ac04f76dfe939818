"""FRI: proving that committed evaluations come from a polynomial of low degree.

Layer 0 holds the evaluations of a polynomial of degree < d on the coset
``offset * <w_m>`` (m = d * blowup). With folding factor f, the evaluations at the f points
``x * w_f^k`` (positions ``j + k * m/f``, k = 0..f-1) share a leaf of the layer's Merkle tree,
leaf j being ``[c0, c1]`` of each of the f values in order of k. After the layer root is
absorbed the verifier's challenge ``beta`` is drawn and the layer is folded: writing
``P(x) = sum_t x^t P_t(x^f)``, the next layer holds ``sum_t beta^t P_t(y)`` at ``y = x^f`` on
the coset ``offset^f * <w_{m/f}>``, whose position j is the image of leaf j. Folding stops
when the degree bound is at most ``fri_max_remainder_degree + 1``; the last folded polynomial
is sent as coefficients (the remainder) and absorbed.

In the query phase the verifier opens, in every layer, the leaves holding the current
positions, checks them against the layer root, checks the value at each position (layer 0
against the DEEP composition, later layers against the previous fold), folds each leaf and
finally compares the folded values with the remainder polynomial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from starkperp.field import ext2
from starkperp.field.goldilocks import get_root_of_unity, inv, mul, pow_, vbatch_inv, vpowers
from starkperp.field.goldilocks import vscale as base_vscale
from starkperp.field.ntt import coset_intt
from starkperp.stark import _kernels as k
from starkperp.stark.errors import StarkReason, VerificationError
from starkperp.stark.merkle import (
    MerkleTree,
    build_merkle_tree,
    compute_batch_root,
    get_batch_opening,
    hash_rows,
)
from starkperp.stark.options import ProofOptions
from starkperp.stark.transcript import Transcript, encode_ext

__all__ = [
    "FriLayerOpening",
    "FriProverState",
    "commit_fri",
    "compute_fold",
    "draw_fri_betas",
    "evaluate_remainder",
    "get_fri_shape",
    "open_fri",
    "verify_fri",
]

ExtFelt = tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class FriLayerOpening:
    """The opened leaves of one layer (each ``folding_factor`` extension values) and nodes."""

    leaves: tuple[tuple[ExtFelt, ...], ...]
    nodes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FriProverState:
    """What the prover keeps after the commit phase."""

    layer_values: tuple[np.ndarray, ...]
    trees: tuple[MerkleTree, ...]
    remainder: tuple[ExtFelt, ...]


def get_fri_shape(degree_bound: int, options: ProofOptions) -> tuple[int, int]:
    """Return (number of folded layers, remainder length) for polynomials of degree < d."""
    n_layers = 0
    d = degree_bound
    while d > options.fri_max_remainder_degree + 1:
        d = max(d // options.folding_factor, 1)
        n_layers += 1
    return n_layers, d


def _leaf_rows(values: np.ndarray, factor: int) -> np.ndarray:
    m = values.shape[1]
    # leaf j holds positions j + k * m/f for k = 0..f-1, each as (c0, c1)
    return np.ascontiguousarray(values.reshape(2, factor, m // factor).transpose(2, 1, 0)).reshape(
        m // factor, 2 * factor
    )


def _fold_layer(values: np.ndarray, offset: int, factor: int, beta: ExtFelt) -> np.ndarray:
    m = values.shape[1]
    m_out = m // factor
    log_m = m.bit_length() - 1
    xs = base_vscale(vpowers(get_root_of_unity(log_m), m_out), offset)
    x_inv = vbatch_inv(xs)
    root_inv = vpowers(inv(get_root_of_unity(factor.bit_length() - 1)), factor)
    out = np.empty((2, m_out), dtype=np.uint64)
    k.fri_fold(
        values,
        factor,
        x_inv,
        root_inv,
        np.uint64(beta[0]),
        np.uint64(beta[1]),
        np.uint64(inv(factor)),
        out,
    )
    return out


def commit_fri(
    values: np.ndarray,
    offset: int,
    degree_bound: int,
    options: ProofOptions,
    transcript: Transcript,
) -> FriProverState:
    """Run the commit phase on (2, m) evaluations on ``offset * <w_m>`` of degree < bound."""
    factor = options.folding_factor
    n_layers, remainder_len = get_fri_shape(degree_bound, options)
    layer_values: list[np.ndarray] = []
    trees: list[MerkleTree] = []
    current = np.ascontiguousarray(values)
    for _ in range(n_layers):
        tree = build_merkle_tree(hash_rows(_leaf_rows(current, factor)))
        transcript.absorb(tree.root)
        beta = transcript.draw_ext()
        layer_values.append(current)
        trees.append(tree)
        current = _fold_layer(current, offset, factor, beta)
        offset = pow_(offset, factor)
    coefficients = coset_intt(np.ascontiguousarray(current), offset)
    remainder = tuple(
        (int(coefficients[0, i]), int(coefficients[1, i])) for i in range(remainder_len)
    )
    transcript.absorb(encode_ext(remainder))
    return FriProverState(layer_values=tuple(layer_values), trees=tuple(trees), remainder=remainder)


def open_fri(
    state: FriProverState, positions: Sequence[int], options: ProofOptions
) -> tuple[FriLayerOpening, ...]:
    """Open every layer at the images of the sorted, distinct layer-0 ``positions``."""
    factor = options.folding_factor
    openings = []
    current = list(positions)
    for values, tree in zip(state.layer_values, state.trees, strict=True):
        m_leaves = values.shape[1] // factor
        leaf_indices = sorted({p % m_leaves for p in current})
        leaves = tuple(
            tuple(
                (int(values[0, j + kk * m_leaves]), int(values[1, j + kk * m_leaves]))
                for kk in range(factor)
            )
            for j in leaf_indices
        )
        nodes = tuple(get_batch_opening(tree, leaf_indices))
        openings.append(FriLayerOpening(leaves=leaves, nodes=nodes))
        current = leaf_indices
    return tuple(openings)


@lru_cache(maxsize=8)
def _fold_constants(factor: int) -> tuple[int, int]:
    return get_root_of_unity(factor.bit_length() - 1), inv(factor)


def compute_fold(values: Sequence[ExtFelt], x: int, beta: ExtFelt) -> ExtFelt:
    """Fold the f values at ``x * w_f^k`` with ``beta`` (scalar reference of the fold).

    The fold is Q(beta) for the polynomial Q of degree < f through the f points
    ``(x_k, values[k])``, ``x_k = x w^k``. Summing the geometric series of the fold formula
    gives ``((beta / x)^f - 1) / f * sum_k values[k] * x_k / (beta - x_k)``, evaluated with a
    single batched inversion. If beta is one of the points the fold is that point's value.
    """
    factor = len(values)
    root, f_inv = _fold_constants(factor)
    points: list[int] = []
    denominators: list[ExtFelt] = []
    point = x
    for kk in range(factor):
        denominator = ext2.esub(beta, (point, 0))
        if denominator == (0, 0):
            return values[kk]
        points.append(point)
        denominators.append(denominator)
        point = mul(point, root)
    denominators.append((x, 0))
    # Montgomery batch inversion of the f denominators and of x
    prefix: list[ExtFelt] = []
    running: ExtFelt = (1, 0)
    for denominator in denominators:
        prefix.append(running)
        running = ext2.emul(running, denominator)
    running = ext2.einv(running)
    inverses: list[ExtFelt] = [(0, 0)] * len(denominators)
    for kk in range(len(denominators) - 1, -1, -1):
        inverses[kk] = ext2.emul(running, prefix[kk])
        running = ext2.emul(running, denominators[kk])
    total: ExtFelt = (0, 0)
    for kk in range(factor):
        weight = ext2.emul(values[kk], inverses[kk])
        total = ext2.eadd(total, (mul(weight[0], points[kk]), mul(weight[1], points[kk])))
    x_inv = inverses[factor][0]
    ratio = (mul(beta[0], x_inv), mul(beta[1], x_inv))
    scale = ext2.esub(ext2.epow(ratio, factor), (1, 0))
    return ext2.emul(total, (mul(scale[0], f_inv), mul(scale[1], f_inv)))


def evaluate_remainder(coefficients: Sequence[ExtFelt], x: int) -> ExtFelt:
    """Evaluate the remainder polynomial at a base-field point (Horner)."""
    acc: ExtFelt = (0, 0)
    for c in reversed(coefficients):
        acc = ext2.eadd((mul(acc[0], x), mul(acc[1], x)), c)
    return acc


def draw_fri_betas(
    roots: Sequence[bytes], remainder: Sequence[ExtFelt], transcript: Transcript
) -> list[ExtFelt]:
    """Replay the commit phase on the verifier side; return the folding challenges."""
    betas = []
    for root in roots:
        transcript.absorb(root)
        betas.append(transcript.draw_ext())
    transcript.absorb(encode_ext(remainder))
    return betas


def verify_fri(
    *,
    roots: Sequence[bytes],
    betas: Sequence[ExtFelt],
    remainder: Sequence[ExtFelt],
    openings: Sequence[FriLayerOpening],
    positions: Sequence[int],
    values: Sequence[ExtFelt],
    domain_size: int,
    offset: int,
    options: ProofOptions,
) -> None:
    """Check the query phase; ``values`` are the layer-0 values at sorted ``positions``."""
    factor = options.folding_factor
    current = dict(zip(positions, values, strict=True))
    m = domain_size
    for layer, (root, beta, opening) in enumerate(zip(roots, betas, openings, strict=True)):
        m_leaves = m // factor
        leaf_indices = sorted({p % m_leaves for p in current})
        if len(opening.leaves) != len(leaf_indices):
            raise VerificationError(StarkReason.SHAPE_MISMATCH, f"FRI layer {layer} leaf count")
        leaves = dict(zip(leaf_indices, opening.leaves, strict=True))
        for position, value in current.items():
            if leaves[position % m_leaves][position // m_leaves] != value:
                raise VerificationError(
                    StarkReason.FRI_FOLDING if layer else StarkReason.DEEP_MISMATCH,
                    f"FRI layer {layer}: value at position {position} does not match",
                )
        flat = np.array(
            [[c for value in leaf for c in value] for leaf in opening.leaves], dtype=np.uint64
        )
        hashes = [bytes(h) for h in hash_rows(flat)]
        depth = m_leaves.bit_length() - 1
        if compute_batch_root(leaf_indices, hashes, opening.nodes, depth) != root:
            raise VerificationError(StarkReason.FRI_LAYER_ROOT, f"FRI layer {layer} root")
        generator = get_root_of_unity(m.bit_length() - 1)
        current = {
            j: compute_fold(leaves[j], mul(offset, pow_(generator, j)), beta) for j in leaf_indices
        }
        offset = pow_(offset, factor)
        m = m_leaves
    generator = get_root_of_unity(m.bit_length() - 1)
    for position, value in current.items():
        x = mul(offset, pow_(generator, position))
        if evaluate_remainder(remainder, x) != value:
            raise VerificationError(StarkReason.FRI_REMAINDER, f"remainder at {position}")
