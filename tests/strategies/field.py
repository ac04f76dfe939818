"""Hypothesis strategies for Goldilocks elements, extension elements, arrays and polynomials."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from starkperp.field.goldilocks import P

# Edge values near the places where the 32-bit split and the reductions can go wrong.
EDGE_VALUES = [0, 1, 2, P - 1, P - 2, 2**32 - 1, 2**32, 2**32 + 1, 2**63, P - 2**32, 2**64 - 2**33]

felts = st.one_of(st.sampled_from(EDGE_VALUES), st.integers(min_value=0, max_value=P - 1))
nonzero_felts = felts.filter(lambda x: x != 0)
ext2s = st.tuples(felts, felts)
nonzero_ext2s = ext2s.filter(lambda e: e != (0, 0))


def felt_lists(min_size: int = 0, max_size: int = 64) -> st.SearchStrategy[list[int]]:
    """Lists of canonical field elements."""
    return st.lists(felts, min_size=min_size, max_size=max_size)


def felt_arrays(min_size: int = 0, max_size: int = 64) -> st.SearchStrategy[np.ndarray]:
    """1-D uint64 arrays of canonical field elements."""
    return felt_lists(min_size, max_size).map(lambda xs: np.array(xs, dtype=np.uint64))


def pow2_felt_lists(max_log_n: int = 6) -> st.SearchStrategy[list[int]]:
    """Lists of canonical field elements whose length is a power of two up to 2^max_log_n."""
    return st.integers(min_value=0, max_value=max_log_n).flatmap(
        lambda k: st.lists(felts, min_size=1 << k, max_size=1 << k)
    )
