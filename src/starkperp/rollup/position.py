"""Position arithmetic: funding, total value and risk, and the validity rule.

These are DESIGN section 5's rules for one position, as StarkEx's ``update_position``:

* **Funding** first: ``collateral·2^32 − Σ balance·(global_idx − cached_idx)``, divided by
  2^32 rounding down (against the position: funding never creates collateral), and every
  cached index set to the global one.
* **Status**: ``TV = collateral·2^32 + Σ balance·price`` (32 fractional bits) and
  ``TR = Σ rf·|balance·price|`` (64 fractional bits).
* **Validity** after every change: well-leveraged (``TR ≤ TV·2^32``), or else the change only
  shrinks synthetic balances without flipping sign, does not lower TV/TR, and when TR was 0
  does not lower TV.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from starkperp.rollup.config import RollupConfig
from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.quantities import FXP_32_ONE, Collateral, FundingIndex, PublicKey, is_balance
from starkperp.rollup.state import GlobalState, Position, PositionAsset, StateReader

__all__ = [
    "PositionStatus",
    "PositionUpdate",
    "apply_funding",
    "compute_funding_delta",
    "compute_position_update",
    "compute_status",
    "is_deleveragable",
    "is_liquidatable",
    "is_smaller_holdings",
    "is_well_leveraged",
    "normalize_position",
    "validate_transition",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionStatus:
    """Total value (x 2^32) and total risk (x 2^64) of a position at given prices."""

    tv: int
    tr: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionUpdate:
    """One position change: before funding, after funding, and after the transaction."""

    position_id: int
    before: Position
    funded: Position
    after: Position


def compute_funding_delta(position: Position, global_state: GlobalState) -> int:
    """Return the collateral change funding applies (rounded down, against the position)."""
    fxp = 0
    for a, idx in zip(position.assets, global_state.funding_indices, strict=True):
        fxp -= a.balance * (idx - a.cached_funding_index)
    return fxp // FXP_32_ONE


def apply_funding(position: Position, global_state: GlobalState) -> Position:
    """Return the position funded up to the global indices (cached indices reset)."""
    if position.is_empty():
        return position
    collateral = position.collateral + compute_funding_delta(position, global_state)
    if not is_balance(collateral):
        raise TransactionRejected(Reason.BALANCE_OUT_OF_RANGE, "collateral after funding")
    assets = tuple(
        PositionAsset(balance=a.balance, cached_funding_index=idx)
        for a, idx in zip(position.assets, global_state.funding_indices, strict=True)
    )
    return replace(position, collateral=Collateral(collateral), assets=assets)


def compute_status(
    position: Position, config: RollupConfig, global_state: GlobalState
) -> PositionStatus:
    """Return TV and TR of ``position`` at the global prices."""
    tv = position.collateral * FXP_32_ONE
    tr = 0
    for a, asset, price in zip(position.assets, config.assets, global_state.prices, strict=True):
        value = a.balance * price
        tv += value
        tr += asset.risk_factor * abs(value)
    return PositionStatus(tv=tv, tr=tr)


def is_well_leveraged(status: PositionStatus) -> bool:
    """Return whether TR ≤ TV (in common fixed point)."""
    return status.tr <= status.tv * FXP_32_ONE


def is_liquidatable(status: PositionStatus) -> bool:
    """Return whether TR > TV: the position may be liquidated."""
    return status.tr > status.tv * FXP_32_ONE


def is_deleveragable(status: PositionStatus) -> bool:
    """Return whether TV < 0: the position may be deleveraged."""
    return status.tv < 0


def is_smaller_holdings(updated: Position, initial: Position) -> bool:
    """Return whether every balance shrank towards zero without flipping sign."""
    for u, i in zip(updated.assets, initial.assets, strict=True):
        if u.balance == 0:
            continue
        if (u.balance > 0) != (i.balance > 0) or abs(u.balance) > abs(i.balance) or i.balance == 0:
            return False
    return True


def validate_transition(
    updated: Position, initial: Position, config: RollupConfig, global_state: GlobalState
) -> None:
    """Raise unless ``initial -> updated`` satisfies the validity rule."""
    new = compute_status(updated, config, global_state)
    if is_well_leveraged(new):
        return
    old = compute_status(initial, config, global_state)
    if not is_smaller_holdings(updated, initial):
        raise TransactionRejected(Reason.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS)
    if old.tv * new.tr > new.tv * old.tr:
        raise TransactionRejected(
            Reason.ILLEGAL_POSITION_TRANSITION_REDUCING_TOTAL_VALUE_RISK_RATIO
        )
    if old.tr == 0 and old.tv > new.tv:
        raise TransactionRejected(Reason.ILLEGAL_POSITION_TRANSITION_NO_RISK_REDUCED_VALUE)


def normalize_position(position: Position, global_state: GlobalState) -> Position:
    """Return the stored form: empty if it holds nothing, cached index 0 on zero balances.

    A zero balance pays no funding whatever its cached index, so the index is set to 0 there
    and to the global index elsewhere; the DA payload then omits zero slots entirely.
    """
    if position.holds_nothing():
        return Position.empty(len(position.assets))
    assets = tuple(
        PositionAsset(balance=a.balance, cached_funding_index=idx if a.balance else FundingIndex(0))
        for a, idx in zip(position.assets, global_state.funding_indices, strict=True)
    )
    return replace(position, assets=assets)


def compute_position_update(
    state: StateReader,
    position_id: int,
    *,
    public_key: int | None,
    collateral_delta: int,
    asset_id: int | None = None,
    synthetic_delta: int = 0,
    check_validity: bool = True,
) -> PositionUpdate:
    """Return the funded and updated position for one change, without storing it.

    ``public_key`` (when given) must own the position, or claims it if the position is
    empty; the fee and insurance positions can only be claimed by their configured keys. The validity rule is checked against the funded position unless
    ``check_validity`` is false (the caller then checks its own rule, as Liquidate does).
    """
    config = state.config
    before = state.get_position(position_id)
    if public_key is not None:
        if public_key == 0:
            raise TransactionRejected(Reason.EMPTY_POSITION_KEY)
        special = config.get_special_position_key(position_id)
        if special is not None and special != public_key:
            raise TransactionRejected(Reason.INVALID_PUBLIC_KEY, "fee or insurance position")
        if before.public_key == 0:
            before_keyed = replace(before, public_key=PublicKey(public_key))
        elif before.public_key != public_key:
            raise TransactionRejected(Reason.INVALID_PUBLIC_KEY, f"position {position_id}")
        else:
            before_keyed = before
    else:
        before_keyed = before
    funded = apply_funding(before_keyed, state.global_state)
    collateral = funded.collateral + collateral_delta
    if not is_balance(collateral):
        raise TransactionRejected(Reason.BALANCE_OUT_OF_RANGE, "collateral")
    after = funded.with_collateral(collateral)
    if asset_id is not None and synthetic_delta != 0:
        slot = config.get_asset_slot(asset_id)
        balance = funded.assets[slot].balance + synthetic_delta
        if not is_balance(balance):
            raise TransactionRejected(Reason.BALANCE_OUT_OF_RANGE, "synthetic balance")
        after = after.with_balance(slot, balance)
    if check_validity:
        validate_transition(after, funded, config, state.global_state)
    after = normalize_position(after, state.global_state)
    return PositionUpdate(position_id=position_id, before=before, funded=funded, after=after)
