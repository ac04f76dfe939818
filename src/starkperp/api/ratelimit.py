"""Rate limits per account and per IP, reported with ``RateLimit-*`` headers as dYdX v3.

A fixed window per key: at most ``limit`` requests per ``window_ms``. Each answer carries
``RateLimit-Remaining``, ``RateLimit-Reset`` (epoch ms when the window resets, as dYdX) and
``RateLimit-Limit``. The clock is passed in so tests control it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateDecision", "RateLimiter"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RateDecision:
    """Whether a request may pass, and what the headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        """Return the ``RateLimit-*`` headers for this decision."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_ms),
        }

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """Return the ``RateLimit-*`` headers as ASGI header pairs (lower-case names)."""
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_ms).encode()),
        ]


class RateLimiter:
    """Fixed-window counters keyed by an arbitrary string (``ip:...``, ``acct:...``)."""

    def __init__(self, *, limit: int, window_ms: int, clock_ms: Callable[[], int]) -> None:
        if limit <= 0 or window_ms <= 0:
            raise ValueError("limit and window_ms must be positive")
        self.limit = limit
        self.window_ms = window_ms
        self._clock_ms = clock_ms
        self._windows: dict[str, tuple[int, int]] = {}

    def check(self, key: str) -> RateDecision:
        """Count one request for ``key`` and decide whether it may pass."""
        now = self._clock_ms()
        start = now - now % self.window_ms
        window_start, used = self._windows.get(key, (start, 0))
        if window_start != start:
            window_start, used = start, 0
            if len(self._windows) > 100_000:
                self._evict(start)
        reset = window_start + self.window_ms
        if used >= self.limit:
            self._windows[key] = (window_start, used)
            return RateDecision(allowed=False, limit=self.limit, remaining=0, reset_ms=reset)
        used += 1
        self._windows[key] = (window_start, used)
        return RateDecision(
            allowed=True, limit=self.limit, remaining=self.limit - used, reset_ms=reset
        )

    def _evict(self, current_start: int) -> None:
        stale = [k for k, (s, _) in self._windows.items() if s != current_start]
        for k in stale:
            del self._windows[k]
