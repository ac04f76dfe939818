"""FundingTick: new global funding indices, bounded by the maximal funding rate.

Every configured asset gets a new index, listed in slot order. Each index may move by at most
``max_funding_rate · price · Δt`` (in fixed point: ``|Δidx|·2^32 ≤ rate·price·Δt``) where
``Δt`` is the time since the previous funding tick. The tick also advances the system time.
Positions are not touched: each pays or receives its funding when next used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.quantities import FXP_32_ONE, AssetId, FundingIndex, Timestamp, is_balance
from starkperp.rollup.transactions.common import StateView, TxEffect

__all__ = ["FundingIndexEntry", "FundingTick", "apply_funding_tick"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingIndexEntry:
    """The new funding index of one asset."""

    asset_id: AssetId
    funding_index: FundingIndex


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingTick:
    """New funding indices for every asset, effective at ``timestamp``."""

    timestamp: Timestamp
    indices: tuple[FundingIndexEntry, ...]


def apply_funding_tick(view: StateView, tx: FundingTick) -> TxEffect:
    """Return the effect of a funding tick."""
    config = view.config
    g = view.global_state
    if not 0 <= tx.timestamp < 2**64:
        raise TransactionRejected(Reason.TIMESTAMP_OUT_OF_RANGE)
    if tx.timestamp < g.system_time:
        raise TransactionRejected(Reason.TIME_WENT_BACKWARDS)
    if tuple(e.asset_id for e in tx.indices) != config.asset_ids:
        raise TransactionRejected(Reason.FUNDING_TICK_ASSETS_MISMATCH)
    dt = tx.timestamp - g.funding_timestamp
    new_indices = []
    for entry, old, price in zip(tx.indices, g.funding_indices, g.prices, strict=True):
        if not is_balance(entry.funding_index):
            raise TransactionRejected(Reason.FUNDING_INDEX_OUT_OF_RANGE)
        if abs(entry.funding_index - old) * FXP_32_ONE > config.max_funding_rate * price * dt:
            raise TransactionRejected(Reason.FUNDING_TICK_TOO_LARGE, f"asset {entry.asset_id}")
        new_indices.append(entry.funding_index)
    new_global = replace(
        g,
        funding_indices=tuple(new_indices),
        funding_timestamp=tx.timestamp,
        system_time=tx.timestamp,
    )
    return view.to_effect(new_global_state=new_global)
