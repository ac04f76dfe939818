"""``retention``: the compact integer sets behind the client-id and order-key memory.

Both are compared with a plain Python model under random operations.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.exchange.retention import (
    CompactIntSet,
    ExpiringIntSet,
    compute_client_id_fingerprint,
)

_VALUES = st.one_of(
    st.integers(0, 40), st.integers(0, 2**64 - 3), st.sampled_from([0, 1, 2, 2**64 - 3])
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _VALUES), max_size=400))
def test_compact_int_set_behaves_like_a_set(ops: list[tuple[bool, int]]) -> None:
    model: set[int] = set()
    compact = CompactIntSet()
    for is_add, value in ops:
        if is_add:
            compact.add(value)
            model.add(value)
        else:
            compact.discard(value)
            model.discard(value)
        assert (value in compact) == (value in model)
        assert len(compact) == len(model)
    assert sorted(compact) == sorted(model)
    assert all(v in compact for v in model)


def test_compact_int_set_grows_and_shrinks() -> None:
    compact = CompactIntSet(range(0, 200_000, 7))
    assert len(compact) == len(range(0, 200_000, 7))
    assert 7 * 1000 in compact and 7 * 1000 + 1 not in compact
    assert compact.get_nbytes() <= 8 * 4 * len(compact)  # 8 bytes a slot, >= 1/4 full
    for v in range(0, 200_000, 7):
        compact.discard(v)
    assert not compact and compact.get_nbytes() == 8 * 16
    assert -1 not in compact and 2**64 not in compact and "x" not in compact


def test_invalid_compact_int_set_values() -> None:
    compact = CompactIntSet()
    for bad in (-1, 2**64 - 2, 2**64):
        try:
            compact.add(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 10), st.integers(1, 5)), max_size=200))
def test_expiring_int_set_forgets_at_the_given_time(ops: list[tuple[int, int, int]]) -> None:
    """Values leave once the clock reaches their time, at most ``budget`` per call."""
    model: dict[int, int] = {}
    expiring = ExpiringIntSet()
    now = 0
    for value, until, budget in ops:
        if value not in model:
            model[value] = now + until
        expiring.add(value, now + until)
        now += 1
        removed = expiring.expire(now, budget)
        assert removed <= budget
        for _ in range(len(model)):  # drain what is due
            expiring.expire(now, budget)
        model = {v: t for v, t in model.items() if t > now}
        assert len(expiring) == len(model)
        assert all(v in expiring for v in model)
        due = expiring.next_expiry
        assert due is None or due > now
        entries = expiring.get_entries()
        assert sorted(v for _, vs in entries for v in vs) == sorted(model)


def test_client_id_fingerprints_are_stable() -> None:
    assert compute_client_id_fingerprint(100, "a") == compute_client_id_fingerprint(100, "a")
    assert compute_client_id_fingerprint(100, "a") != compute_client_id_fingerprint(101, "a")
    assert 0 <= compute_client_id_fingerprint(7, "x" * 64) < 2**64 - 2
