"""The public input of a batch proof: everything L1 reads and the proof is bound to.

It carries both shared states in full (L1 checks ``keccak256`` of the previous one against
its stored hash, stores the new hash, and keeps the new prices and funding indices for
escapes), the batch number, the deposits and withdrawals to settle, the forced requests
served, the conditions of conditional transfers, and the DA payload hash.

``encode()`` is a sequence of 32-byte big-endian words (signed values two's complement) so
Vyper reads word ``i`` as ``convert(slice(data, 32 * i, 32), uint256)``; the layout is in
``docs/rollup.md``. ``to_field_elements()`` is what the STARK transcript absorbs and what the
batch AIR's boundary constraints read.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.field.goldilocks import Felt, P
from starkperp.rollup.errors import DataAvailabilityError, Reason
from starkperp.rollup.hashing import Digest, compute_keccak256
from starkperp.rollup.quantities import FundingIndex, Price, Timestamp
from starkperp.rollup.state import GlobalState, SharedState, encode_word
from starkperp.rollup.transactions.common import (
    DepositSettlement,
    ForcedActionServed,
    WithdrawalSettlement,
)

__all__ = ["PUBLIC_INPUT_VERSION", "PublicInput", "decode_public_input"]

PUBLIC_INPUT_VERSION = 1


def _word_bytes(b: bytes) -> bytes:
    assert len(b) == 32
    return b


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicInput:
    """The statement of one batch proof, as L1 sees it."""

    batch_number: int
    prev_shared_state: SharedState
    new_shared_state: SharedState
    deposits: tuple[DepositSettlement, ...]
    withdrawals: tuple[WithdrawalSettlement, ...]
    forced_actions: tuple[ForcedActionServed, ...]
    conditions: tuple[bytes, ...]
    da_hash: bytes
    funding_collateral_change: int = 0

    @property
    def prev_state_hash(self) -> bytes:
        """Return keccak256 of the previous shared state."""
        return self.prev_shared_state.compute_hash()

    @property
    def new_state_hash(self) -> bytes:
        """Return keccak256 of the new shared state."""
        return self.new_shared_state.compute_hash()

    @property
    def total_deposits(self) -> int:
        """Return the sum of deposited collateral."""
        return sum(d.amount for d in self.deposits)

    @property
    def total_withdrawals(self) -> int:
        """Return the sum of withdrawn collateral."""
        return sum(w.amount for w in self.withdrawals)

    def encode(self) -> bytes:
        """Return the fixed word layout of ``docs/rollup.md``."""
        words: list[bytes] = [
            encode_word(PUBLIC_INPUT_VERSION),
            encode_word(self.batch_number),
            _word_bytes(self.prev_state_hash),
            _word_bytes(self.new_state_hash),
            _word_bytes(self.da_hash),
        ]
        out = b"".join(words) + self.prev_shared_state.encode() + self.new_shared_state.encode()
        tail: list[bytes] = [encode_word(len(self.deposits))]
        for d in self.deposits:
            tail += [encode_word(d.position_id), encode_word(d.public_key), encode_word(d.amount)]
        tail.append(encode_word(len(self.withdrawals)))
        for w in self.withdrawals:
            tail += [
                encode_word(w.position_id),
                encode_word(w.public_key),
                encode_word(w.recipient),
                encode_word(w.amount),
            ]
        tail.append(encode_word(len(self.forced_actions)))
        for f in self.forced_actions:
            tail += [_word_bytes(f.request_id), encode_word(int(f.is_valid))]
        tail.append(encode_word(len(self.conditions)))
        tail += [_word_bytes(c) for c in self.conditions]
        tail.append(encode_word(self.funding_collateral_change))
        return out + b"".join(tail)

    def compute_hash(self) -> bytes:
        """Return keccak256 of :meth:`encode`."""
        return compute_keccak256(self.encode())

    def to_field_elements(self) -> list[Felt]:
        """Return the elements the proof binds, in this order.

        8 elements: the 32-bit limbs (big-endian) of ``keccak256(encode())``; then the
        previous and new positions roots and orders roots (4 elements each); then total
        deposits and total withdrawals as (hi, lo) 32-bit limbs; last the funding change
        (signed, reduced mod p).
        """
        h = self.compute_hash()
        out = [Felt(int.from_bytes(h[i : i + 4], "big")) for i in range(0, 32, 4)]
        for d in (
            self.prev_shared_state.positions_root,
            self.new_shared_state.positions_root,
            self.prev_shared_state.orders_root,
            self.new_shared_state.orders_root,
        ):
            out.extend(d)
        for total in (self.total_deposits, self.total_withdrawals):
            out += [Felt(total >> 32), Felt(total & 0xFFFFFFFF)]
        out.append(Felt(self.funding_collateral_change % P))
        return out


class _Words:
    __slots__ = ("data", "i")

    def __init__(self, data: bytes) -> None:
        if len(data) % 32:
            raise DataAvailabilityError(Reason.MALFORMED_PUBLIC_INPUT, "not whole words")
        self.data = data
        self.i = 0

    def raw(self) -> bytes:
        if 32 * (self.i + 1) > len(self.data):
            raise DataAvailabilityError(Reason.MALFORMED_PUBLIC_INPUT, "truncated")
        w = self.data[32 * self.i : 32 * (self.i + 1)]
        self.i += 1
        return w

    def uint(self, bound: int = 2**256) -> int:
        v = int.from_bytes(self.raw(), "big")
        if v >= bound:
            raise DataAvailabilityError(Reason.MALFORMED_PUBLIC_INPUT, "word out of range")
        return v

    def int64(self) -> int:
        v = int.from_bytes(self.raw(), "big", signed=True)
        if not -(2**63) < v < 2**63:
            raise DataAvailabilityError(Reason.MALFORMED_PUBLIC_INPUT, "word out of range")
        return v

    def digest(self) -> Digest:
        w = self.raw()
        limbs = [int.from_bytes(w[8 * j : 8 * j + 8], "big") for j in range(4)]
        return (Felt(limbs[0]), Felt(limbs[1]), Felt(limbs[2]), Felt(limbs[3]))


def _decode_shared(r: _Words) -> SharedState:
    if r.uint() != 1:
        raise DataAvailabilityError(Reason.MALFORMED_PUBLIC_INPUT, "shared state version")
    proot, oroot = r.digest(), r.digest()
    n = r.uint(256)
    ids, prices, indices = [], [], []
    for _ in range(n):
        ids.append(r.uint(2**64))
        prices.append(Price(r.uint(2**64)))
        indices.append(FundingIndex(r.int64()))
    g = GlobalState(
        funding_indices=tuple(indices),
        prices=tuple(prices),
        funding_timestamp=Timestamp(r.uint(2**64)),
        system_time=Timestamp(r.uint(2**64)),
    )
    return SharedState(
        positions_root=proot, orders_root=oroot, global_state=g, asset_ids=tuple(ids)
    )


def decode_public_input(data: bytes) -> PublicInput:
    """Return the public input encoded by :meth:`PublicInput.encode`, or raise."""
    r = _Words(data)
    if r.uint() != PUBLIC_INPUT_VERSION:
        raise DataAvailabilityError(Reason.MALFORMED_PUBLIC_INPUT, "version")
    batch_number = r.uint(2**64)
    prev_hash, new_hash, da_hash = r.raw(), r.raw(), r.raw()
    prev, new = _decode_shared(r), _decode_shared(r)
    deposits = tuple(
        DepositSettlement(position_id=r.uint(2**64), public_key=r.uint(), amount=r.uint(2**64))
        for _ in range(r.uint(2**32))
    )
    withdrawals = tuple(
        WithdrawalSettlement(
            position_id=r.uint(2**64),
            public_key=r.uint(),
            recipient=r.uint(2**160),
            amount=r.uint(2**64),
        )
        for _ in range(r.uint(2**32))
    )
    forced = tuple(
        ForcedActionServed(request_id=r.raw(), is_valid=bool(r.uint(2)))
        for _ in range(r.uint(2**32))
    )
    conditions = tuple(r.raw() for _ in range(r.uint(2**32)))
    funding = r.int64()
    if 32 * r.i != len(data):
        raise DataAvailabilityError(Reason.MALFORMED_PUBLIC_INPUT, "trailing words")
    pi = PublicInput(
        batch_number=batch_number,
        prev_shared_state=prev,
        new_shared_state=new,
        deposits=deposits,
        withdrawals=withdrawals,
        forced_actions=forced,
        conditions=conditions,
        da_hash=da_hash,
        funding_collateral_change=funding,
    )
    if pi.prev_state_hash != prev_hash or pi.new_state_hash != new_hash:
        raise DataAvailabilityError(Reason.MALFORMED_PUBLIC_INPUT, "state hash mismatch")
    return pi
