"""OraclePricesTick: new oracle prices, each backed by a quorum of configured signers.

For every asset in the tick: at least ``oracle_quorum`` distinct configured signers signed an
external price (18 decimals) with a timestamp no older than ``max_price_age``; the new
internal price (32.32 fixed point) lies between the smallest and the largest signed price
converted with ``round(P · res_coll · 2^32 / (res_synth · 10^18))``. The tick advances the
system time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from starkperp.rollup.config import COLLATERAL_RESOLUTION, SyntheticAsset
from starkperp.rollup.errors import Reason, TransactionRejected
from starkperp.rollup.messages import (
    MessageKind,
    Signature,
    compute_message_hash,
    validate_signature,
)
from starkperp.rollup.quantities import FXP_32_ONE, AssetId, Price, PublicKey, Timestamp
from starkperp.rollup.transactions.common import SignedMessage, StateView, TxEffect

__all__ = [
    "AssetOraclePrice",
    "OraclePricesTick",
    "SignedOraclePrice",
    "apply_oracle_prices_tick",
    "compute_internal_price",
    "compute_oracle_price_hash",
]

_EXTERNAL_DECIMALS = 10**18


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedOraclePrice:
    """One signer's price of one asset (18 decimals) at a time."""

    signer_public_key: PublicKey
    external_price: int
    timestamp: Timestamp
    signature: Signature = Signature()


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetOraclePrice:
    """The new internal price of an asset and the signed prices backing it."""

    asset_id: AssetId
    price: Price
    signed_prices: tuple[SignedOraclePrice, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OraclePricesTick:
    """New prices for some assets, effective at ``timestamp``."""

    timestamp: Timestamp
    prices: tuple[AssetOraclePrice, ...]


def compute_internal_price(asset: SyntheticAsset, external_price: int) -> Price:
    """Return an 18-decimal external price in 32.32 collateral quanta per synthetic quantum."""
    num = external_price * COLLATERAL_RESOLUTION * FXP_32_ONE
    den = asset.resolution * _EXTERNAL_DECIMALS
    return Price((2 * num + den) // (2 * den))


def compute_oracle_price_hash(asset: SyntheticAsset, signed: SignedOraclePrice) -> int:
    """Return the hash an oracle signs for one price."""
    return compute_message_hash(
        MessageKind.ORACLE_PRICE, (asset.oracle_name, signed.external_price, signed.timestamp)
    )


def apply_oracle_prices_tick(view: StateView, tx: OraclePricesTick) -> TxEffect:
    """Return the effect of an oracle prices tick."""
    config = view.config
    g = view.global_state
    if not 0 <= tx.timestamp < 2**64:
        raise TransactionRejected(Reason.TIMESTAMP_OUT_OF_RANGE)
    if tx.timestamp < g.system_time:
        raise TransactionRejected(Reason.TIME_WENT_BACKWARDS)
    seen = [p.asset_id for p in tx.prices]
    if len(set(seen)) != len(seen):
        raise TransactionRejected(Reason.ORACLE_ASSETS_MISMATCH, "duplicate asset")
    prices = list(g.prices)
    signers = set(config.oracle_signers)
    messages: list[SignedMessage] = []
    for entry in tx.prices:
        slot = config.get_asset_slot(entry.asset_id)
        asset = config.assets[slot]
        if not 0 < entry.price < 2**64:
            raise TransactionRejected(Reason.PRICE_OUT_OF_RANGE)
        used: set[int] = set()
        internal: list[int] = []
        for signed in entry.signed_prices:
            if signed.signer_public_key not in signers:
                raise TransactionRejected(Reason.ORACLE_UNKNOWN_SIGNER)
            if signed.signer_public_key in used:
                raise TransactionRejected(Reason.ORACLE_DUPLICATE_SIGNER)
            used.add(signed.signer_public_key)
            if not tx.timestamp - config.max_price_age <= signed.timestamp <= tx.timestamp:
                raise TransactionRejected(Reason.ORACLE_STALE_PRICE)
            if not 0 < signed.external_price < 2**120:
                raise TransactionRejected(Reason.PRICE_OUT_OF_RANGE, "external price")
            message_hash = compute_oracle_price_hash(asset, signed)
            if config.verify_signatures:
                validate_signature(signed.signer_public_key, message_hash, signed.signature)
            messages.append(
                SignedMessage(
                    message_hash=message_hash,
                    public_key=signed.signer_public_key,
                    signature=signed.signature,
                )
            )
            internal.append(compute_internal_price(asset, signed.external_price))
        if len(used) < config.oracle_quorum:
            raise TransactionRejected(Reason.ORACLE_QUORUM_NOT_REACHED, f"asset {entry.asset_id}")
        if not min(internal) <= entry.price <= max(internal):
            raise TransactionRejected(Reason.ORACLE_PRICE_OUT_OF_SIGNED_RANGE)
        prices[slot] = entry.price
    view.signed_messages.extend(messages)
    new_global = replace(g, prices=tuple(prices), system_time=tx.timestamp)
    return view.to_effect(new_global_state=new_global)
