"""Exchange-wide settings: markets, fee tiers, funding, oracle signers, system accounts.

One frozen :class:`ExchangeConfig` with range checks, and two presets: :func:`minimal`
(tests: one signer, no staleness surprises) and :func:`default` (dYdX v3 defaults).
Rates that are not fee rates are parts per billion (ppb) so an hourly 0.00125 % fits an
integer.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.exchange.markets import (
    COLLATERAL_RESOLUTION,
    DEFAULT_MARKETS,
    Collateral,
    MarketConfig,
    MarketId,
)
from starkperp.exchange.model import AccountId, FeeRate

__all__ = [
    "DEFAULT_FEE_TIERS",
    "FEE_ACCOUNT_ID",
    "INSURANCE_FUND_ACCOUNT_ID",
    "ExchangeConfig",
    "FeeTier",
    "default",
    "minimal",
]

INSURANCE_FUND_ACCOUNT_ID = AccountId(1)
FEE_ACCOUNT_ID = AccountId(2)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeTier:
    """Fee rates (ppm of notional) for accounts whose 30-day volume reaches ``min_volume``."""

    min_volume: Collateral
    maker_fee: FeeRate
    taker_fee: FeeRate


def _tier(volume_usd: int, maker: int, taker: int) -> FeeTier:
    return FeeTier(
        min_volume=Collateral(volume_usd * COLLATERAL_RESOLUTION),
        maker_fee=FeeRate(maker),
        taker_fee=FeeRate(taker),
    )


DEFAULT_FEE_TIERS: tuple[FeeTier, ...] = (
    _tier(0, 500, 2_000),
    _tier(1_000_000, 400, 1_500),
    _tier(5_000_000, 200, 1_000),
    _tier(10_000_000, 100, 800),
    _tier(50_000_000, 0, 700),
    _tier(200_000_000, 0, 500),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeConfig:
    """All exchange settings; validated on construction."""

    markets: tuple[MarketConfig, ...] = DEFAULT_MARKETS
    fee_tiers: tuple[FeeTier, ...] = DEFAULT_FEE_TIERS
    insurance_fund_account_id: AccountId = INSURANCE_FUND_ACCOUNT_ID
    fee_account_id: AccountId = FEE_ACCOUNT_ID
    first_trader_account_id: AccountId = AccountId(100)
    funding_interval: int = 3_600
    premium_sample_interval: int = 60
    interest_rate_ppb_per_interval: int = 12_500
    """dYdX-style interest component per funding interval (0.01 % per 8 h = 0.00125 %/h)."""
    max_funding_rate_ppb_per_8h: int = 40_000_000
    """Funding is capped at 4 % per 8 hours."""
    oracle_signers: tuple[int, ...] = ()
    oracle_quorum: int = 1
    oracle_max_age: int = 120
    """A signed price older than this many seconds at acceptance is stale."""
    oracle_price_min: int = 1
    oracle_price_max: int = 1 << 62
    fee_volume_window_days: int = 30
    network_id: int = 1
    trade_history: int = 10_000
    """How many fills per market the exchange keeps for ``get_trades``."""
    account_fill_history: int = 100
    """How many recent fills per account ``get_fills`` returns (the node serves an account's
    fills from its own tables; a per-account window of the market's size would hold up to
    that many fills for every active account)."""
    book_delta_history: int = 10_000
    """How many book changes per market ``get_book_deltas`` can return. The WebSocket feed
    only needs the changes between two commits it publishes (a client that falls further
    behind gets a fresh snapshot), so a small window keeps memory flat."""
    order_history: int = 10_000
    """How many finished (filled or canceled) orders ``Exchange.orders`` keeps; open and
    untriggered orders are always kept, and so are orders that finished at the current
    time. The oldest finished ones are forgotten first (the node serves order history
    from its own tables). A forgotten order's client id stays taken until its signed
    expiry has passed (``starkperp.exchange.retention``), then it is forgotten too."""

    def __post_init__(self) -> None:
        if not self.markets:
            raise ValueError("at least one market")
        names = [m.market for m in self.markets]
        if len(set(names)) != len(names):
            raise ValueError("duplicate market")
        if not self.fee_tiers or self.fee_tiers[0].min_volume != 0:
            raise ValueError("the first fee tier must start at volume 0")
        volumes = [t.min_volume for t in self.fee_tiers]
        if volumes != sorted(volumes):
            raise ValueError("fee tiers must be sorted by volume")
        for tier in self.fee_tiers:
            if not 0 <= tier.maker_fee <= tier.taker_fee < 10**6:
                raise ValueError("need 0 <= maker fee <= taker fee < 100 %")
        if (
            min(
                self.order_history,
                self.trade_history,
                self.book_delta_history,
                self.account_fill_history,
            )
            <= 0
        ):
            raise ValueError("history sizes must be positive")
        if self.funding_interval <= 0 or self.premium_sample_interval <= 0:
            raise ValueError("intervals must be positive")
        if self.oracle_signers and not 1 <= self.oracle_quorum <= len(self.oracle_signers):
            raise ValueError("quorum must be between 1 and the number of signers")
        if len(set(self.oracle_signers)) != len(self.oracle_signers):
            raise ValueError("duplicate oracle signer")
        system = {self.insurance_fund_account_id, self.fee_account_id}
        if len(system) != 2 or self.first_trader_account_id <= max(system):
            raise ValueError("system account ids must be distinct and below trader ids")

    def get_market(self, market: MarketId) -> MarketConfig | None:
        """Return a market's configuration, or None."""
        for m in self.markets:
            if m.market == market:
                return m
        return None


def default(*, oracle_signers: tuple[int, ...] = (), oracle_quorum: int = 1) -> ExchangeConfig:
    """Return the dYdX v3 defaults (all five markets)."""
    return ExchangeConfig(oracle_signers=oracle_signers, oracle_quorum=oracle_quorum)


def minimal(*, oracle_signers: tuple[int, ...] = (), oracle_quorum: int = 1) -> ExchangeConfig:
    """Return a small configuration for tests: BTC-USD and ETH-USD only."""
    return ExchangeConfig(
        markets=DEFAULT_MARKETS[:2],
        oracle_signers=oracle_signers,
        oracle_quorum=oracle_quorum,
        trade_history=1_000,
        book_delta_history=10_000,
    )
