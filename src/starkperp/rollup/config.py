"""The rollup's settings: synthetic assets, tree depths, funding and oracle bounds.

One frozen :class:`RollupConfig` checks its ranges when built. Two presets, as the
consensus-specs do it: ``minimal`` (two assets, depth-8 trees, for tests) and ``default``
(the five dYdX v3 markets of DESIGN section 8, depth-32 trees). The order of ``assets`` is the
order of the per-asset slots in a position leaf (see ``docs/leaf-encoding.md``), so changing
the asset list changes the leaf encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.rollup.errors import Reason, RollupError
from starkperp.rollup.quantities import (
    FXP_32_ONE,
    PUBLIC_KEY_UPPER_BOUND,
    AssetId,
    PositionId,
    PublicKey,
    RiskFactor,
)

__all__ = [
    "COLLATERAL_RESOLUTION",
    "RollupConfig",
    "SyntheticAsset",
    "get_preset",
]

COLLATERAL_RESOLUTION = 10**6
MAX_TREE_DEPTH = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticAsset:
    """A synthetic asset: its id, ticker, resolution and risk factor (0.32 fixed point)."""

    asset_id: AssetId
    name: str
    resolution: int
    risk_factor: RiskFactor
    oracle_name: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RollupConfig:
    """Settings of one rollup instance; construction validates every range."""

    assets: tuple[SyntheticAsset, ...]
    positions_depth: int = 32
    orders_depth: int = 32
    fee_position_id: PositionId = PositionId(0)
    insurance_position_id: PositionId = PositionId(1)
    fee_position_key: PublicKey = PublicKey(0)
    insurance_position_key: PublicKey = PublicKey(0)
    max_funding_rate: int = FXP_32_ONE * 4 // (100 * 8 * 3600)
    oracle_signers: tuple[PublicKey, ...] = ()
    oracle_quorum: int = 1
    max_price_age: int = 3600
    verify_signatures: bool = True

    def __post_init__(self) -> None:
        if not self.assets:
            raise RollupError(Reason.INVALID_CONFIG, "at least one synthetic asset")
        ids = [a.asset_id for a in self.assets]
        if len(set(ids)) != len(ids) or any(not 0 < i < 2**64 for i in ids):
            raise RollupError(Reason.INVALID_CONFIG, "asset ids must be distinct, in (0, 2^64)")
        for a in self.assets:
            if not 0 <= a.risk_factor <= FXP_32_ONE or a.resolution <= 0:
                raise RollupError(Reason.INVALID_CONFIG, f"bad asset {a.name}")
        for depth in (self.positions_depth, self.orders_depth):
            if not 2 <= depth <= MAX_TREE_DEPTH:
                raise RollupError(Reason.INVALID_CONFIG, "tree depth must lie in [2, 64]")
        n_positions = 2**self.positions_depth
        for pid in (self.fee_position_id, self.insurance_position_id):
            if not 0 <= pid < n_positions:
                raise RollupError(Reason.INVALID_CONFIG, "special position outside the tree")
        if self.fee_position_id == self.insurance_position_id:
            raise RollupError(Reason.INVALID_CONFIG, "fee and insurance positions must differ")
        if not 0 <= self.max_funding_rate < FXP_32_ONE:
            raise RollupError(Reason.INVALID_CONFIG, "max funding rate is 0.32 fixed point")
        if any(not 0 < k < PUBLIC_KEY_UPPER_BOUND for k in self.oracle_signers):
            raise RollupError(Reason.INVALID_CONFIG, "oracle signer keys out of range")
        if len(set(self.oracle_signers)) != len(self.oracle_signers):
            raise RollupError(Reason.INVALID_CONFIG, "duplicate oracle signer")
        if self.oracle_quorum < 1 or self.max_price_age < 0:
            raise RollupError(Reason.INVALID_CONFIG, "oracle quorum >= 1, price age >= 0")

    def get_special_position_key(self, position_id: int) -> PublicKey | None:
        """Return the configured owner key of the fee or insurance position, else None."""
        if position_id == self.fee_position_id:
            return self.fee_position_key
        if position_id == self.insurance_position_id:
            return self.insurance_position_key
        return None

    @property
    def n_assets(self) -> int:
        """Return the number of synthetic assets (slots in a position leaf)."""
        return len(self.assets)

    @property
    def asset_ids(self) -> tuple[AssetId, ...]:
        """Return the asset ids in slot order."""
        return tuple(a.asset_id for a in self.assets)

    def get_asset_slot(self, asset_id: int) -> int:
        """Return the slot of ``asset_id`` in a position, or raise UNKNOWN_ASSET."""
        for i, a in enumerate(self.assets):
            if a.asset_id == asset_id:
                return i
        raise RollupError(Reason.UNKNOWN_ASSET, f"asset {asset_id} is not configured")


def _risk_factor(percent: int) -> RiskFactor:
    # rounded up, as the exchange rounds its margin fractions (markets.compute_risk_factor_from_ppm):
    # rounded down, a position at the exact boundary would be liquidatable on the exchange and
    # healthy in the rollup, and the batch carrying its liquidation would be refused
    return RiskFactor(-((-FXP_32_ONE * percent) // 100))


def _ascii_id(name: str) -> int:
    return int.from_bytes(name.encode(), "big")


_DYDX_MARKETS = (
    ("BTC", 10**10, 3),
    ("ETH", 10**9, 3),
    ("SOL", 10**7, 5),
    ("LINK", 10**7, 5),
    ("DOGE", 10**5, 5),
)


def get_preset(
    name: str,
    *,
    oracle_signers: tuple[PublicKey, ...] = (),
    oracle_quorum: int = 1,
    verify_signatures: bool = True,
) -> RollupConfig:
    """Return the ``minimal`` or ``default`` configuration (maintenance margins as risk)."""
    markets: tuple[tuple[str, int, int], ...]
    if name == "minimal":
        markets, depth = _DYDX_MARKETS[:2], 8
    elif name == "default":
        markets, depth = _DYDX_MARKETS, 32
    else:
        raise RollupError(Reason.INVALID_CONFIG, f"unknown preset {name!r}")
    assets = tuple(
        SyntheticAsset(
            asset_id=AssetId(_ascii_id(ticker + "-USD")),
            name=ticker,
            resolution=resolution,
            risk_factor=_risk_factor(margin),
            oracle_name=_ascii_id(ticker + "USD"),
        )
        for ticker, resolution, margin in markets
    )
    return RollupConfig(
        assets=assets,
        positions_depth=depth,
        orders_depth=depth,
        oracle_signers=oracle_signers,
        oracle_quorum=oracle_quorum,
        verify_signatures=verify_signatures,
    )
