"""The data-availability payload: the state diff of a batch, enough to rebuild L2 from L1.

The payload has two parts:

* the **state part**: batch number, the new global state, and every position and order leaf
  the batch changed, in their final form (positions list only non-zero synthetic slots);
* the **audit part**: the signed messages the sequencer checked (hash, key, r, s), so anyone
  can audit signatures the proof does not cover.

Both are canonical big-endian byte strings (layout in ``docs/rollup.md``). The payload hash
bound in the public input is ``keccak256(keccak256(state) ‖ keccak256(audit))``, so L1 can
take the state part in calldata and only the audit part's hash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starkperp.rollup.errors import DataAvailabilityError, Reason
from starkperp.rollup.hashing import compute_keccak256
from starkperp.rollup.messages import Signature
from starkperp.rollup.quantities import (
    Collateral,
    FundingIndex,
    Price,
    PublicKey,
    Quantity,
    Timestamp,
)
from starkperp.rollup.state import (
    GlobalState,
    OrderLeaf,
    Position,
    PositionAsset,
    RollupState,
    SharedState,
)
from starkperp.rollup.transactions.common import SignedMessage

__all__ = [
    "DA_VERSION",
    "DataAvailabilityPayload",
    "decode_payload",
    "rebuild_state",
]

DA_VERSION = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class DataAvailabilityPayload:
    """The state diff of one batch plus the signatures for audit."""

    batch_number: int
    global_state: GlobalState
    positions: tuple[tuple[int, Position], ...]
    orders: tuple[tuple[int, OrderLeaf], ...]
    signed_messages: tuple[SignedMessage, ...] = ()

    def encode_state(self) -> bytes:
        """Return the canonical bytes of the state part."""
        g = self.global_state
        out = bytearray()
        out += DA_VERSION.to_bytes(1, "big")
        out += self.batch_number.to_bytes(8, "big")
        out += len(g.prices).to_bytes(1, "big")
        for price, idx in zip(g.prices, g.funding_indices, strict=True):
            out += price.to_bytes(8, "big") + idx.to_bytes(8, "big", signed=True)
        out += g.funding_timestamp.to_bytes(8, "big") + g.system_time.to_bytes(8, "big")
        out += len(self.positions).to_bytes(4, "big")
        for pid, pos in self.positions:
            slots = [
                (i, a) for i, a in enumerate(pos.assets) if a.balance or a.cached_funding_index
            ]
            out += pid.to_bytes(8, "big") + pos.public_key.to_bytes(32, "big")
            out += pos.collateral.to_bytes(8, "big", signed=True) + len(slots).to_bytes(1, "big")
            for i, a in slots:
                out += i.to_bytes(1, "big")
                out += a.balance.to_bytes(8, "big", signed=True)
                out += a.cached_funding_index.to_bytes(8, "big", signed=True)
        out += len(self.orders).to_bytes(4, "big")
        for key, order in self.orders:
            out += key.to_bytes(8, "big") + order.message_hash.to_bytes(32, "big")
            for value in (order.filled, order.amount, order.amount_collateral, order.amount_fee):
                out += value.to_bytes(8, "big")
            out += int(order.is_buying).to_bytes(1, "big")
            out += order.expiration_hours.to_bytes(4, "big")
        return bytes(out)

    def encode_audit(self) -> bytes:
        """Return the canonical bytes of the audit part."""
        out = bytearray(len(self.signed_messages).to_bytes(4, "big"))
        for m in self.signed_messages:
            for x in (m.message_hash, m.public_key, m.signature.r, m.signature.s):
                out += x.to_bytes(32, "big")
        return bytes(out)

    def encode(self) -> bytes:
        """Return both parts, the state part prefixed by its length."""
        state = self.encode_state()
        return len(state).to_bytes(4, "big") + state + self.encode_audit()

    def compute_hash(self) -> bytes:
        """Return the payload hash bound in the public input."""
        return compute_keccak256(
            compute_keccak256(self.encode_state()) + compute_keccak256(self.encode_audit())
        )


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, *, signed: bool = False) -> int:
        if self.pos + n > len(self.data):
            raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "truncated")
        v = int.from_bytes(self.data[self.pos : self.pos + n], "big", signed=signed)
        self.pos += n
        return v

    def done(self) -> bool:
        return self.pos == len(self.data)


def _decode_state(data: bytes, n_assets: int) -> tuple[int, GlobalState, list, list]:
    r = _Reader(data)
    if r.take(1) != DA_VERSION:
        raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "unknown version")
    batch_number = r.take(8)
    if r.take(1) != n_assets:
        raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "asset count")
    prices, indices = [], []
    for _ in range(n_assets):
        prices.append(Price(r.take(8)))
        indices.append(FundingIndex(r.take(8, signed=True)))
    g = GlobalState(
        funding_indices=tuple(indices),
        prices=tuple(prices),
        funding_timestamp=Timestamp(r.take(8)),
        system_time=Timestamp(r.take(8)),
    )
    positions = []
    last = -1
    for _ in range(r.take(4)):
        pid = r.take(8)
        if pid <= last:
            raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "positions not sorted")
        last = pid
        key, coll, n_slots = r.take(32), r.take(8, signed=True), r.take(1)
        assets = [PositionAsset()] * n_assets
        prev_slot = -1
        for _ in range(n_slots):
            slot = r.take(1)
            if not prev_slot < slot < n_assets:
                raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "bad slot")
            prev_slot = slot
            assets[slot] = PositionAsset(
                balance=Quantity(r.take(8, signed=True)),
                cached_funding_index=FundingIndex(r.take(8, signed=True)),
            )
        positions.append(
            (
                pid,
                Position(
                    public_key=PublicKey(key), collateral=Collateral(coll), assets=tuple(assets)
                ),
            )
        )
    orders = []
    last = -1
    for _ in range(r.take(4)):
        k = r.take(8)
        if k <= last:
            raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "orders not sorted")
        last = k
        message_hash, filled, amount = r.take(32), r.take(8), r.take(8)
        amount_collateral, amount_fee, side = r.take(8), r.take(8), r.take(1)
        if side > 1:
            raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "bad order side")
        order = OrderLeaf(
            message_hash=message_hash,
            filled=filled,
            amount=amount,
            amount_collateral=amount_collateral,
            amount_fee=amount_fee,
            is_buying=bool(side),
            expiration_hours=r.take(4),
        )
        orders.append((k, order))
    if not r.done():
        raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "trailing bytes")
    return batch_number, g, positions, orders


def _decode_audit(data: bytes) -> tuple[SignedMessage, ...]:
    r = _Reader(data)
    out = []
    for _ in range(r.take(4)):
        h, k, sr, ss = r.take(32), r.take(32), r.take(32), r.take(32)
        out.append(SignedMessage(message_hash=h, public_key=k, signature=Signature(r=sr, s=ss)))
    if not r.done():
        raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "trailing bytes")
    return tuple(out)


def decode_payload(data: bytes, n_assets: int) -> DataAvailabilityPayload:
    """Return the payload encoded by :meth:`DataAvailabilityPayload.encode`, or raise."""
    r = _Reader(data)
    n_state = r.take(4)
    if 4 + n_state > len(data):
        raise DataAvailabilityError(Reason.MALFORMED_PAYLOAD, "truncated state part")
    batch_number, g, positions, orders = _decode_state(data[4 : 4 + n_state], n_assets)
    messages = _decode_audit(data[4 + n_state :])
    return DataAvailabilityPayload(
        batch_number=batch_number,
        global_state=g,
        positions=tuple(positions),
        orders=tuple(orders),
        signed_messages=messages,
    )


def rebuild_state(
    prev_state: RollupState,
    payloads: Iterable[DataAvailabilityPayload],
    expected: Iterable[SharedState] | None = None,
) -> RollupState:
    """Return the state after applying ``payloads`` to a copy of ``prev_state``.

    When ``expected`` shared states are given (one per payload, e.g. from L1's public
    inputs), each rebuilt state must match, else PAYLOAD_ROOT_MISMATCH.
    """
    state = prev_state.copy()
    checks = list(expected) if expected is not None else None
    for i, payload in enumerate(payloads):
        for pid, pos in payload.positions:
            state.set_position(pid, pos)
        for key, order in payload.orders:
            state.set_order(key, order)
        state.global_state = payload.global_state
        if checks is not None:
            if i >= len(checks) or state.get_shared_state() != checks[i]:
                raise DataAvailabilityError(Reason.PAYLOAD_ROOT_MISMATCH, f"payload {i}")
    state.commit()
    return state
