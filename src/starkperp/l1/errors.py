"""Why an L1 operation failed: one reason enum for the contracts' Python side."""

from __future__ import annotations

import enum

from starkperp.errors import StarkPerpError

__all__ = ["L1Error", "L1Reason"]


class L1Reason(enum.Enum):
    """Numbered reasons an L1 action is refused before or after it reaches the chain."""

    CONTRACT_REVERTED = 1
    BAD_CONFIG = 2
    NOT_DEPLOYED = 3
    STATE_HASH_MISMATCH = 4
    DA_PAYLOAD_MISMATCH = 5
    POSITION_NOT_FOUND = 6
    NOT_FROZEN = 7
    BAD_SIGNATURE = 8
    UNKNOWN_BATCH = 9
    NO_RPC_ACCOUNT = 10


class L1Error(StarkPerpError):
    """An L1 action failed; ``reason`` is an :class:`L1Reason`."""

    def __init__(self, reason: L1Reason, message: str = "") -> None:
        super().__init__(reason, message)
