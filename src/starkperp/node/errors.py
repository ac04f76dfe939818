"""Why the node or its API refused a request: one reason enum for the service layer.

Exchange rejections keep the exchange's own reason codes; these codes cover what happens
before a command reaches the engine (authentication, request shape, rate limits, storage).
Codes are numbered from 1000 so they never collide with the exchange's ``Reason`` values.
"""

from __future__ import annotations

import enum

from starkperp.errors import StarkPerpError

__all__ = ["NodeError", "NodeReason"]


class NodeReason(enum.IntEnum):
    """Numbered reasons for refusals at the node / API layer."""

    MALFORMED_REQUEST = 1000
    MISSING_FIELD = 1001
    WRONG_TYPE = 1002
    NUMBER_OUT_OF_RANGE = 1003
    UNKNOWN_MARKET = 1004
    NOT_FOUND = 1005
    MISSING_AUTH_HEADERS = 1010
    UNKNOWN_API_KEY = 1011
    BAD_PASSPHRASE = 1012
    BAD_HMAC = 1013
    STALE_TIMESTAMP = 1014
    BAD_ETH_SIGNATURE = 1015
    ACCOUNT_EXISTS = 1016
    UNKNOWN_ACCOUNT = 1017
    BAD_STARK_SIGNATURE = 1018
    REPLAYED_NONCE = 1019
    EXPIRED = 1020
    RATE_LIMITED = 1030
    NOT_READY = 1040
    LOG_CORRUPT = 1050
    SHUTTING_DOWN = 1051
    NOT_SETTLING = 1060


class NodeError(StarkPerpError):
    """A refusal at the node or API layer; ``reason`` is a :class:`NodeReason`."""

    reason: NodeReason

    def __init__(self, reason: NodeReason, message: str = "", *, status: int = 400) -> None:
        super().__init__(reason, message)
        self.status = status
