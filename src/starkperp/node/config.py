"""Settings of a running node, checked on construction, with ``minimal`` and ``default`` presets.

The node's own knobs (storage URL, network id, HMAC clock skew, rate limits, tick period, the
initial oracle prices used when the log holds none) sit beside the exchange's configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starkperp.exchange import config as exchange_config
from starkperp.exchange.config import ExchangeConfig

__all__ = ["NodeConfig", "default", "minimal"]

_DEFAULT_PRICES = (
    ("BTC-USD", "50000"),
    ("ETH-USD", "4000"),
    ("SOL-USD", "150"),
    ("LINK-USD", "20"),
    ("DOGE-USD", "0.15"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """Everything a node needs besides its clock."""

    db_url: str = "starkperp-node.sqlite"
    exchange: ExchangeConfig = field(default_factory=exchange_config.default)
    network_id: int = 1
    require_signatures: bool = True
    max_timestamp_skew_ms: int = 60_000
    ip_rate_limit: int = 100_000
    account_rate_limit: int = 100_000
    rate_window_ms: int = 10_000
    tick_period_ms: int = 1_000
    initial_prices: tuple[tuple[str, str], ...] = _DEFAULT_PRICES
    testnet_token_amount: str = "10000"
    enable_testnet_tokens: bool = True

    def __post_init__(self) -> None:
        if self.max_timestamp_skew_ms <= 0:
            raise ValueError("max_timestamp_skew_ms must be positive")
        if min(self.ip_rate_limit, self.account_rate_limit, self.rate_window_ms) <= 0:
            raise ValueError("rate limits and window must be positive")
        if self.tick_period_ms <= 0:
            raise ValueError("tick_period_ms must be positive")
        known = {m.market for m in self.exchange.markets}
        for market, _ in self.initial_prices:
            if market not in known:
                raise ValueError(f"initial price for unknown market {market}")


def default(db_url: str = "starkperp-node.sqlite") -> NodeConfig:
    """Return the node defaults: every dYdX v3 market, signatures required."""
    return NodeConfig(db_url=db_url)


def minimal(db_url: str, **overrides: object) -> NodeConfig:
    """Return a small node for tests: BTC-USD and ETH-USD only."""
    prices = tuple(p for p in _DEFAULT_PRICES if p[0] in ("BTC-USD", "ETH-USD"))
    kwargs: dict[str, object] = {
        "db_url": db_url,
        "exchange": exchange_config.minimal(),
        "initial_prices": prices,
    }
    kwargs.update(overrides)
    return NodeConfig(**kwargs)  # type: ignore[arg-type]
