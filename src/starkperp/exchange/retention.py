"""What the exchange remembers of finished orders, and until when.

A placed order's client id makes placement idempotent and guards a signed order against
replay, so it must stay *taken* while a replay of the signed order could still pass the
expiry check. The signature covers the expiration in whole hours
(``ceil(seconds / 3600) + 168``, :mod:`starkperp.exchange.signing`), so a replay may carry
any expiration in the same hour: the latest one is ``3600 * ceil(expiration / 3600)``
(:func:`compute_forget_time`). Once the clock has reached that second, every replay of the
order is refused as ``EXPIRED`` (the engine refuses ``expiration <= now``) and every other
expiration breaks the signature, so the client id can be forgotten.

The engine keeps a bounded window of finished order records (``order_history``); when a
record leaves it, its client id leaves the account's ``client_orders`` map and, if its forget
time is still ahead, lives on only as a 64-bit fingerprint
(:func:`compute_client_id_fingerprint`) in an :class:`ExpiringIntSet`, swept in hour buckets
as the clock passes them. :class:`CompactIntSet` holds such integers in one flat array
(8 bytes a slot, at most half full) rather than as Python objects (~70 bytes each), and is
also the node's set of rollup order keys that were ever filled.

Everything here is deterministic in what it contains (a function of the values added and
the times given); only the slot layout of a :class:`CompactIntSet` depends on a random
per-instance multiplier (so that nobody can grind values that share a probe chain), and no
answer depends on the layout.
"""

from __future__ import annotations

import hashlib
import heapq
import secrets
from array import array
from collections.abc import Iterable, Iterator

import numpy as np

__all__ = [
    "CompactIntSet",
    "ExpiringIntSet",
    "compute_client_id_fingerprint",
    "compute_forget_time",
]

_EMPTY = 0
_DELETED = 1
_OFFSET = 2  # stored slot value = value + 2, so 0 and 1 mark empty and deleted slots
_MAX_VALUE = (1 << 64) - _OFFSET
_M64 = (1 << 64) - 1
_MIN_BITS = 4
_HOUR = 3_600


def compute_forget_time(expiration: int) -> int:
    """Return the first second at which every replay of an order is refused as expired.

    A signature covers ``ceil(expiration / 3600)`` hours, so a replay can carry any
    expiration up to the end of that hour; the engine refuses ``expiration <= now``.
    """
    return -(-expiration // _HOUR) * _HOUR


def compute_client_id_fingerprint(account_id: int, client_id: str) -> int:
    """Return a 64-bit fingerprint of an account's client id (blake2b, deterministic).

    Two different client ids of one account share a fingerprint with probability 2^-64;
    such a pair would only make the second one refused as a duplicate.
    """
    data = f"{account_id}:{client_id}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") % _MAX_VALUE


class CompactIntSet:
    """A set of integers in ``[0, 2^64 - 2)`` in one flat array (open addressing).

    Linear probing with deleted-slot markers; the table doubles (or is rebuilt in place
    when markers pile up) once live values and markers fill half of it. Rebuilds are
    vectorised (numpy), so they cost milliseconds even for a million values.
    """

    __slots__ = ("_slots", "_bits", "_mask", "_multiplier", "_len", "_used")

    def __init__(self, values: Iterable[int] = ()) -> None:
        self._multiplier = secrets.randbits(64) | 1
        self._len = 0
        self._used = 0
        self._resize(_MIN_BITS)
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __iter__(self) -> Iterator[int]:
        for stored in self._slots:
            if stored > _DELETED:
                yield stored - _OFFSET

    def __contains__(self, value: object) -> bool:
        return self._find(value) >= 0

    def _find(self, value: object) -> int:
        """Return the slot holding ``value``, or -1 (the probe ``__contains__`` and
        :meth:`discard` share)."""
        if type(value) is not int or not 0 <= value < _MAX_VALUE:
            return -1
        stored = value + _OFFSET
        slots = self._slots
        mask = self._mask
        i = ((stored * self._multiplier) & _M64) >> (64 - self._bits)
        while True:
            found = slots[i]
            if found == stored:
                return int(i)
            if found == _EMPTY:
                return -1
            i = (i + 1) & mask

    def add(self, value: int) -> None:
        """Add a value (no effect if present)."""
        if type(value) is not int or not 0 <= value < _MAX_VALUE:
            raise ValueError("a CompactIntSet holds integers in [0, 2^64 - 2)")
        stored = value + _OFFSET
        slots = self._slots
        mask = self._mask
        i = ((stored * self._multiplier) & _M64) >> (64 - self._bits)
        free = -1
        while True:
            found = slots[i]
            if found == stored:
                return
            if found == _EMPTY:
                break
            if found == _DELETED and free < 0:
                free = i
            i = (i + 1) & mask
        if free >= 0:
            slots[free] = stored  # reuses a marker: the used count stays
        else:
            slots[i] = stored
            self._used += 1
        self._len += 1
        if 2 * self._used > len(slots):
            bits = self._bits + 1 if 4 * self._len > len(slots) else self._bits
            self._resize(bits)

    def discard(self, value: int) -> None:
        """Remove a value if present."""
        i = self._find(value)
        if i < 0:
            return
        self._slots[i] = _DELETED
        self._len -= 1
        if self._len == 0:
            self._resize(_MIN_BITS)

    def get_nbytes(self) -> int:
        """Return the size of the slot array in bytes."""
        return len(self._slots) * 8

    def _resize(self, bits: int) -> None:
        """Rebuild the table with ``2^bits`` slots holding the live values (vectorised)."""
        old = getattr(self, "_slots", None)
        live = np.zeros(0, dtype=np.uint64)
        if old is not None and self._len:
            arr = np.frombuffer(old, dtype=np.uint64)
            live = arr[arr > _DELETED]
        size = 1 << bits
        table = np.zeros(size, dtype=np.uint64)
        if live.size:
            mask = np.uint64(size - 1)
            pos = (live * np.uint64(self._multiplier)) >> np.uint64(64 - bits)
            pending = live
            while pending.size:
                free = np.nonzero(table[pos] == 0)[0]
                _, first = np.unique(pos[free], return_index=True)
                chosen = free[first]
                table[pos[chosen]] = pending[chosen]
                keep = np.ones(pending.size, dtype=bool)
                keep[chosen] = False
                pending = pending[keep]
                pos = (pos[keep] + np.uint64(1)) & mask
        slots = array("Q")
        slots.frombytes(table.tobytes())
        self._slots = slots
        self._bits = bits
        self._mask = size - 1
        self._used = int(live.size)


class ExpiringIntSet:
    """A :class:`CompactIntSet` whose values leave at a given time (hour buckets).

    :meth:`add` files a value under the time it may be forgotten; :meth:`expire` removes,
    at most ``budget`` values per call, the values whose time has come, oldest bucket
    first, so one call never costs more than ``budget`` removals.
    """

    __slots__ = ("_set", "_buckets", "_heap", "_sweep", "_sweep_at", "_sweep_index")

    def __init__(self) -> None:
        self._set = CompactIntSet()
        self._buckets: dict[int, array[int]] = {}
        self._heap: list[int] = []
        self._sweep: array[int] | None = None  # the bucket being removed, partly done
        self._sweep_at = 0
        self._sweep_index = 0

    def __len__(self) -> int:
        return len(self._set)

    def __bool__(self) -> bool:
        return len(self._set) > 0

    def __contains__(self, value: object) -> bool:
        return value in self._set

    @property
    def next_expiry(self) -> int | None:
        """Return the earliest time at which a value is due to leave (None: none is)."""
        if self._sweep is not None:
            return self._sweep_at
        return self._heap[0] if self._heap else None

    def add(self, value: int, until: int) -> None:
        """Keep ``value`` until the clock reaches ``until`` (no effect if present)."""
        if value in self._set:
            return
        self._set.add(value)
        bucket = self._buckets.get(until)
        if bucket is None:
            bucket = self._buckets[until] = array("Q")
            heapq.heappush(self._heap, until)
        bucket.append(value)

    def expire(self, now: int, budget: int = 256) -> int:
        """Remove up to ``budget`` values due at or before ``now``; return how many."""
        removed = 0
        while removed < budget:
            if self._sweep is None:
                if not self._heap or self._heap[0] > now:
                    break
                self._sweep_at = heapq.heappop(self._heap)
                self._sweep = self._buckets.pop(self._sweep_at)
                self._sweep_index = 0
            bucket = self._sweep
            start = self._sweep_index
            stop = min(len(bucket), start + budget - removed)
            for value in bucket[start:stop]:
                self._set.discard(value)
            removed += stop - start
            if stop == len(bucket):
                self._sweep = None
            else:
                self._sweep_index = stop
        return removed

    def get_entries(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """Return ``(time, sorted values)`` per pending bucket, by time (for digests)."""
        out = [
            (t, tuple(sorted(v for v in bucket if v in self._set)))
            for t, bucket in self._buckets.items()
        ]
        if self._sweep is not None:
            rest = self._sweep[self._sweep_index :]
            out.append((self._sweep_at, tuple(sorted(v for v in rest if v in self._set))))
        return tuple(sorted(out))

    def get_nbytes(self) -> int:
        """Return the bytes held in flat arrays (the set and the buckets)."""
        buckets = sum(len(b) for b in self._buckets.values()) * 8
        return self._set.get_nbytes() + buckets
