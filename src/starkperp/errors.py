"""The single root of every error starkperp raises on purpose.

Each package has its own ``errors.py`` whose errors derive from :class:`StarkPerpError`
and carry a reason code from that package's enum, so a caller can always tell *why*.
"""

from __future__ import annotations

import enum


class StarkPerpError(Exception):
    """Root of all expected failures; ``reason`` is a member of a package's reason enum."""

    def __init__(self, reason: enum.Enum, message: str = "") -> None:
        self.reason = reason
        self.message = message or reason.name.lower().replace("_", " ")
        super().__init__(f"{reason.name}: {self.message}")
