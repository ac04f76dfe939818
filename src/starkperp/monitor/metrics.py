"""Prometheus metrics of a running node, in a registry of its own (no process globals).

What an operator watches: orders accepted and rejected (by reason), fills, cancels, book depth,
HTTP request latency, log commit latency and group size, and — once the rollup and L1 stages
are wired in — batch age and size, proving time, L1 gas and pending forced requests.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["NodeMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class NodeMetrics:
    """The node's metric families, registered in ``self.registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.orders_accepted = Counter(
            "starkperp_orders_accepted", "Orders acknowledged after their log commit", registry=r
        )
        self.orders_rejected = Counter(
            "starkperp_orders_rejected", "Rejected requests by reason code", ["reason"], registry=r
        )
        self.fills = Counter("starkperp_fills", "Fills settled", registry=r)
        self.cancels = Counter("starkperp_cancels", "Orders canceled on request", registry=r)
        self.book_depth = Gauge(
            "starkperp_book_levels", "Price levels on a book side", ["market", "side"], registry=r
        )
        self.log_seq = Gauge("starkperp_log_seq", "Last committed log sequence number", registry=r)
        self.log_commit_seconds = Histogram(
            "starkperp_log_commit_seconds",
            "Durable commit time of one log group",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.log_group_size = Histogram(
            "starkperp_log_group_size",
            "Commands per durable log commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )
        self.http_seconds = Histogram(
            "starkperp_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_age_seconds = Gauge(
            "starkperp_batch_age_seconds", "Age of the open rollup batch", registry=r
        )
        self.batch_size = Gauge(
            "starkperp_batch_size", "Transactions in the open rollup batch", registry=r
        )
        self.proving_seconds = Histogram(
            "starkperp_proving_seconds",
            "STARK proving time per batch",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.l1_gas = Counter("starkperp_l1_gas", "Gas spent on L1 transactions", registry=r)
        self.forced_pending = Gauge(
            "starkperp_forced_requests_pending", "Forced requests not yet served", registry=r
        )
        self.freeze_seconds_left = Gauge(
            "starkperp_seconds_before_freeze",
            "Time left before the oldest forced request can freeze the exchange",
            registry=r,
        )

    def render(self) -> bytes:
        """Return the registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
