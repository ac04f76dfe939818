"""Settings of a running node, checked on construction, with ``minimal`` and ``default`` presets.

The node's own knobs (storage URL, network id, HMAC clock skew, rate limits, tick period, the
initial oracle prices used when the log holds none) sit beside the exchange's configuration.
:class:`SettlementConfig` holds the knobs of the settlement service (rollup and proof presets,
when a batch closes, prover processes, how deposits are read from a JSON-RPC L1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starkperp.exchange import config as exchange_config
from starkperp.exchange.config import ExchangeConfig

__all__ = ["NodeConfig", "SettlementConfig", "default", "minimal"]

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


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementConfig:
    """How the node settles: presets, batch closing by size or age, prover processes.

    At the ``minimal`` proof preset (17 conjectured bits, for tests and demos) one
    ``updateState`` verifies the proof; at ``default`` (100 bits) verification runs in steps
    (``verify_in_steps``). The ``minimal`` rollup preset (trees of depth 8, BTC-USD and
    ETH-USD) matches the node's ``minimal`` markets.
    """

    rollup_preset: str = "minimal"
    proof_preset: str = "minimal"
    max_transactions: int = 32
    max_age_seconds: float = 15.0
    prover_workers: int = 1
    poll_seconds: float = 0.2
    squash: bool = False
    """Prove one Merkle update per distinct leaf instead of one per touched leaf per
    transaction. Cheaper, but the squashed mode does not prove trade arithmetic (fills
    against the signed price and fee limits, ``docs/proof-statement.md``): off by default."""
    verify_in_steps: bool = False
    """Verify each proof on L1 in registered steps (Merkle statements, then the rest), each
    under 2^24 gas, before ``updateState`` settles on the registered fact: needed at the
    ``default`` proof preset, whose verification does not fit one transaction."""
    l1_confirmations: int = 0
    """JSON-RPC L1: a deposit is credited once its block is this many blocks below the head
    (0 on a dev chain such as anvil; a dozen or more on a public chain)."""
    l1_log_chunk_blocks: int = 1000
    """JSON-RPC L1: the widest block range of one ``eth_getLogs`` request."""
    l1_poll_seconds: float = 1.0
    """JSON-RPC L1: how often the deposit watcher asks the chain for new blocks."""

    def __post_init__(self) -> None:
        if self.rollup_preset not in ("minimal", "default"):
            raise ValueError(f"unknown rollup preset {self.rollup_preset!r}")
        if self.proof_preset not in ("minimal", "default"):
            raise ValueError(f"unknown proof preset {self.proof_preset!r}")
        if self.max_transactions < 1 or self.max_age_seconds < 0:
            raise ValueError("max_transactions >= 1 and max_age_seconds >= 0")
        if self.prover_workers < 1 or self.poll_seconds <= 0:
            raise ValueError("prover_workers >= 1 and poll_seconds > 0")
        if self.l1_confirmations < 0 or self.l1_log_chunk_blocks < 1 or self.l1_poll_seconds < 0:
            raise ValueError(
                "l1_confirmations >= 0, l1_log_chunk_blocks >= 1 and l1_poll_seconds >= 0"
            )


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
