"""What every transaction shares: a scratch view of the state, effects, and settlements.

A transaction never writes to :class:`~starkperp.rollup.state.RollupState`. It runs against a
:class:`StateView` (reads fall through to the state, writes stay in the view) and returns a
:class:`TxEffect`: the ordered position and order steps (the witness the batch AIR needs),
the new global state if it changed, and what L1 must settle. The batch executor commits an
effect only when the whole transaction succeeded, so a rejection changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from starkperp.rollup.config import RollupConfig
from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.messages import Signature
from starkperp.rollup.position import (
    PositionUpdate,
    apply_funding,
    compute_position_update,
    normalize_position,
    validate_transition,
)
from starkperp.rollup.quantities import (
    AMOUNT_UPPER_BOUND,
    NONCE_UPPER_BOUND,
    ORDER_AMOUNT_UPPER_BOUND,
    OrderKey,
    is_balance,
)
from starkperp.rollup.state import GlobalState, OrderLeaf, Position, StateReader

__all__ = [
    "DepositSettlement",
    "ForcedActionServed",
    "OrderUpdate",
    "SignedMessage",
    "StateView",
    "TxEffect",
    "WithdrawalSettlement",
    "update_order_fulfillment",
    "update_position",
    "update_position_assets",
    "validate_amount",
    "validate_expiration",
    "validate_nonce",
    "validate_positive_amount",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate:
    """One order-leaf change (fulfillment of a signed message)."""

    key: OrderKey
    before: OrderLeaf
    after: OrderLeaf


@dataclass(frozen=True, slots=True, kw_only=True)
class DepositSettlement:
    """A deposit L1 must take from its pending deposits."""

    position_id: int
    public_key: int
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawalSettlement:
    """A withdrawal L1 must credit to ``recipient`` (an Ethereum address)."""

    position_id: int
    public_key: int
    recipient: int
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ForcedActionServed:
    """A forced request from L1 that this batch served (``request_id`` is its keccak id)."""

    request_id: bytes
    is_valid: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedMessage:
    """A signature the sequencer checked, carried in the DA payload for audit."""

    message_hash: int
    public_key: int
    signature: Signature


@dataclass(frozen=True, slots=True, kw_only=True)
class TxEffect:
    """Everything one transaction changes, in order."""

    position_steps: tuple[PositionUpdate, ...] = ()
    order_steps: tuple[OrderUpdate, ...] = ()
    new_global_state: GlobalState | None = None
    deposits: tuple[DepositSettlement, ...] = ()
    withdrawals: tuple[WithdrawalSettlement, ...] = ()
    forced: tuple[ForcedActionServed, ...] = ()
    conditions: tuple[bytes, ...] = ()
    signed_messages: tuple[SignedMessage, ...] = ()


@dataclass(slots=True)
class StateView:
    """A write-buffer over a state: a transaction's scratch space (discarded on rejection)."""

    base: StateReader
    positions: dict[int, Position] = field(default_factory=dict)
    orders: dict[int, OrderLeaf] = field(default_factory=dict)
    position_steps: list[PositionUpdate] = field(default_factory=list)
    order_steps: list[OrderUpdate] = field(default_factory=list)
    signed_messages: list[SignedMessage] = field(default_factory=list)

    @property
    def config(self) -> RollupConfig:
        """Return the configuration."""
        return self.base.config

    @property
    def global_state(self) -> GlobalState:
        """Return the global state."""
        return self.base.global_state

    def get_position(self, position_id: int) -> Position:
        """Return the position, as modified so far by this transaction."""
        pos = self.positions.get(position_id)
        return pos if pos is not None else self.base.get_position(position_id)

    def get_order(self, key: int) -> OrderLeaf:
        """Return the order leaf, as modified so far by this transaction."""
        order = self.orders.get(key)
        return order if order is not None else self.base.get_order(key)

    def get_order_key(self, message_hash: int) -> OrderKey:
        """Return the order-tree key of a message hash."""
        return self.base.get_order_key(message_hash)

    def to_effect(self, **kwargs: object) -> TxEffect:
        """Return the effect recorded in this view, plus the given settlement fields."""
        return TxEffect(
            position_steps=tuple(self.position_steps),
            order_steps=tuple(self.order_steps),
            signed_messages=tuple(self.signed_messages),
            **kwargs,  # type: ignore[arg-type]
        )


def validate_amount(x: int, what: str = "amount") -> None:
    """Raise AMOUNT_OUT_OF_RANGE unless 0 <= x < 2^64."""
    if not 0 <= x < AMOUNT_UPPER_BOUND:
        raise TransactionRejected(Reason.AMOUNT_OUT_OF_RANGE, what)


def validate_positive_amount(x: int, what: str = "amount") -> None:
    """Raise AMOUNT_OUT_OF_RANGE unless 0 < x < 2^64."""
    if not 0 < x < AMOUNT_UPPER_BOUND:
        raise TransactionRejected(Reason.AMOUNT_OUT_OF_RANGE, what)


def validate_nonce(nonce: int) -> None:
    """Raise NONCE_OUT_OF_RANGE unless 0 <= nonce < 2^32."""
    if not 0 <= nonce < NONCE_UPPER_BOUND:
        raise TransactionRejected(Reason.NONCE_OUT_OF_RANGE)


def validate_expiration(view: StateView, expiration_hours: int) -> None:
    """Raise ORDER_EXPIRED if the message expired before the current system time."""
    if not 0 <= expiration_hours < 2**32:
        raise TransactionRejected(Reason.TIMESTAMP_OUT_OF_RANGE, "expiration")
    if expiration_hours * 3600 < view.global_state.system_time:
        raise TransactionRejected(Reason.ORDER_EXPIRED)


def update_order_fulfillment(
    view: StateView,
    message_hash: int,
    update_amount: int,
    full_amount: int,
    *,
    expiration_hours: int,
    amount_collateral: int = 0,
    amount_fee: int = 0,
    is_buying: bool = False,
) -> None:
    """Add ``update_amount`` to the message's filled amount; never past ``full_amount``.

    The leaf records the message's signed limits (order leaf v2) when it is created; a leaf
    that already holds another message, or the same hash with other limits, is refused.
    """
    if not 0 <= full_amount < ORDER_AMOUNT_UPPER_BOUND:
        raise TransactionRejected(Reason.AMOUNT_OUT_OF_RANGE, "signed amount above 2^62")
    key = view.get_order_key(message_hash)
    before = view.get_order(key)
    limits = OrderLeaf(
        message_hash=message_hash,
        amount=full_amount,
        amount_collateral=amount_collateral,
        amount_fee=amount_fee,
        is_buying=is_buying,
        expiration_hours=expiration_hours,
    )
    if before != OrderLeaf() and not before.has_same_limits(limits):
        raise TransactionRejected(Reason.ORDER_ID_COLLISION, f"order key {key}")
    filled = before.filled + update_amount
    if filled > full_amount:
        raise TransactionRejected(Reason.ORDER_OVERFILLED, f"{filled} > {full_amount}")
    after = replace(limits, filled=filled)
    view.orders[key] = after
    view.order_steps.append(OrderUpdate(key=key, before=before, after=after))


def update_position(
    view: StateView,
    position_id: int,
    *,
    public_key: int | None,
    collateral_delta: int,
    asset_id: int | None = None,
    synthetic_delta: int = 0,
    check_validity: bool = True,
) -> PositionUpdate:
    """Fund, change and validate one position inside the view; record the step."""
    update = compute_position_update(
        view,
        position_id,
        public_key=public_key,
        collateral_delta=collateral_delta,
        asset_id=asset_id,
        synthetic_delta=synthetic_delta,
        check_validity=check_validity,
    )
    view.positions[position_id] = update.after
    view.position_steps.append(update)
    return update


def update_position_assets(
    view: StateView,
    position_id: int,
    *,
    collateral_delta: int,
    synthetic_deltas: Sequence[tuple[int, int]],
    check_validity: bool = True,
) -> PositionUpdate:
    """Fund one position, change its collateral and several synthetic balances at once.

    The validity rule (when ``check_validity``) judges the whole change, never a partial
    one; ``synthetic_deltas`` are ``(asset_id, delta)`` pairs on distinct assets (the caller
    checks distinctness). The owner key is left as it is. One step is recorded.
    """
    config = view.config
    global_state = view.global_state
    before = view.get_position(position_id)
    funded = apply_funding(before, global_state)
    collateral = funded.collateral + collateral_delta
    if not is_balance(collateral):
        raise TransactionRejected(Reason.BALANCE_OUT_OF_RANGE, "collateral")
    after = funded.with_collateral(collateral)
    for asset_id, delta in synthetic_deltas:
        slot = config.get_asset_slot(asset_id)
        balance = after.assets[slot].balance + delta
        if not is_balance(balance):
            raise TransactionRejected(Reason.BALANCE_OUT_OF_RANGE, "synthetic balance")
        after = after.with_balance(slot, balance)
    if check_validity:
        validate_transition(after, funded, config, global_state)
    after = normalize_position(after, global_state)
    update = PositionUpdate(position_id=position_id, before=before, funded=funded, after=after)
    view.positions[position_id] = update.after
    view.position_steps.append(update)
    return update
