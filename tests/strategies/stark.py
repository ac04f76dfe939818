"""Hypothesis strategies for the STARK package: field elements, expressions, options, bytes."""

from __future__ import annotations

from hypothesis import strategies as st

from starkperp.field.goldilocks import P
from starkperp.stark.expr import (
    Expr,
    aux,
    aux_next,
    challenge,
    const,
    main,
    main_next,
    periodic,
    public,
)
from starkperp.stark.options import ProofOptions

__all__ = ["exprs", "felts", "ext_felts", "proof_options", "leaf_exprs"]

felts = st.integers(min_value=0, max_value=P - 1)
ext_felts = st.tuples(felts, felts)


def leaf_exprs(
    main_width: int = 3,
    aux_width: int = 1,
    n_periodic: int = 1,
    n_public: int = 2,
    n_challenges: int = 1,
) -> st.SearchStrategy[Expr]:
    """Return leaves reading columns, periodic columns, public inputs, challenges, constants."""
    options: list[st.SearchStrategy[Expr]] = [
        st.integers(0, main_width - 1).map(main),
        st.integers(0, main_width - 1).map(main_next),
        felts.map(const),
    ]
    if aux_width:
        options += [
            st.integers(0, aux_width - 1).map(aux),
            st.integers(0, aux_width - 1).map(aux_next),
        ]
    if n_periodic:
        options.append(st.integers(0, n_periodic - 1).map(periodic))
    if n_public:
        options.append(st.integers(0, n_public - 1).map(public))
    if n_challenges:
        options.append(st.integers(0, n_challenges - 1).map(challenge))
    return st.one_of(options)


def exprs(**widths: int) -> st.SearchStrategy[Expr]:
    """Return random expression trees (sums, differences, products, negations, small powers)."""
    return st.recursive(
        leaf_exprs(**widths),
        lambda children: st.one_of(
            st.tuples(children, children).map(lambda ab: ab[0] + ab[1]),
            st.tuples(children, children).map(lambda ab: ab[0] - ab[1]),
            st.tuples(children, children).map(lambda ab: ab[0] * ab[1]),
            children.map(lambda a: -a),
            st.tuples(children, st.integers(0, 3)).map(lambda ae: ae[0] ** ae[1]),
        ),
        max_leaves=12,
    )


proof_options = st.builds(
    ProofOptions,
    blowup=st.sampled_from([2, 4, 8, 16]),
    n_queries=st.integers(1, 64),
    grinding_bits=st.integers(0, 24),
    folding_factor=st.sampled_from([2, 4, 8]),
    fri_max_remainder_degree=st.sampled_from([0, 1, 3, 7, 15, 31]),
)
