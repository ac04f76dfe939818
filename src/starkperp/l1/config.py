"""Settings of the L1 deployment: delays, tree depth, asset count, data-availability mode.

Presets as the consensus-specs do it: ``minimal`` (short delays, small trees, for tests) and
``default`` (DESIGN section 8: a 14-day forced-request grace period, depth-32 trees).
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.l1.errors import L1Error, L1Reason

__all__ = ["DAY", "PRESETS", "L1Config", "get_preset"]

DAY = 86_400
MAX_TREE_DEPTH = 64
MAX_ASSETS = 16
MAX_COMMITTEE = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class L1Config:
    """Constructor settings of ``StarkPerpetual`` (and ``Committee`` in validium mode)."""

    tree_depth: int = 32
    n_assets: int = 2
    grace_period: int = 14 * DAY
    deposit_cancel_delay: int = 2 * DAY
    config_delay: int = 7 * DAY
    validium: bool = False
    committee_threshold: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.tree_depth <= MAX_TREE_DEPTH:
            raise L1Error(L1Reason.BAD_CONFIG, f"tree_depth {self.tree_depth}")
        if not 0 <= self.n_assets <= MAX_ASSETS:
            raise L1Error(L1Reason.BAD_CONFIG, f"n_assets {self.n_assets}")
        for name in ("grace_period", "deposit_cancel_delay", "config_delay"):
            if getattr(self, name) < 0:
                raise L1Error(L1Reason.BAD_CONFIG, f"{name} negative")
        if self.validium and not 0 < self.committee_threshold <= MAX_COMMITTEE:
            raise L1Error(L1Reason.BAD_CONFIG, f"committee_threshold {self.committee_threshold}")


PRESETS: dict[str, L1Config] = {
    "minimal": L1Config(
        tree_depth=8, n_assets=2, grace_period=DAY, deposit_cancel_delay=DAY, config_delay=DAY
    ),
    "default": L1Config(),
}


def get_preset(name: str) -> L1Config:
    """Return the named preset (``minimal`` or ``default``)."""
    if name not in PRESETS:
        raise L1Error(L1Reason.BAD_CONFIG, f"unknown preset {name!r}")
    return PRESETS[name]
