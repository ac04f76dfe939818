"""Every reason the exchange refuses a request, in one numbered list.

An :class:`ExchangeError` always carries a :class:`Reason`; a rejected request changes
nothing. The numbers are stable: the API returns them as error codes, so new reasons are
appended, never renumbered.
"""

from __future__ import annotations

import enum

from starkperp.errors import StarkPerpError


class Reason(enum.IntEnum):
    """Why the exchange rejected a request (stable numeric codes)."""

    BAD_SIGNATURE = 1
    MISSING_SIGNATURE = 2
    EXPIRED = 3
    UNKNOWN_MARKET = 4
    MARKET_HALTED = 5
    MARKET_CLOSE_ONLY = 6
    SIZE_NOT_STEP_MULTIPLE = 7
    PRICE_OFF_TICK = 8
    BELOW_MIN_SIZE = 9
    INSUFFICIENT_MARGIN = 10
    POST_ONLY_WOULD_CROSS = 11
    REDUCE_ONLY_WOULD_INCREASE = 12
    FOK_NOT_FILLABLE = 13
    UNKNOWN_ORDER = 14
    DUPLICATE_CLIENT_ID = 15
    OVERFLOW = 16
    UNKNOWN_ACCOUNT = 17
    INSUFFICIENT_COLLATERAL = 18
    STALE_ORACLE = 19
    ORACLE_QUORUM = 20
    BAD_ORACLE_SIGNATURE = 21
    NOT_LIQUIDATABLE = 22
    DELEVERAGE_UNFAIR = 23
    INVALID_AMOUNT = 24
    INVALID_PRICE = 25
    INVALID_ORDER = 26
    FEE_LIMIT_TOO_LOW = 27
    NO_ORACLE_PRICE = 28
    ACCOUNT_EXISTS = 29
    ORDER_NOT_OPEN = 30
    WRONG_ACCOUNT = 31
    VALIDITY_RULE = 32
    NOT_DELEVERAGEABLE = 33
    UNKNOWN_ORACLE_SIGNER = 34
    ORACLE_PRICE_OUT_OF_RANGE = 35
    ABOVE_MAX_POSITION = 36
    TIME_WENT_BACKWARDS = 37
    SYSTEM_ACCOUNT = 38
    NO_LIQUIDITY = 39
    ORDER_KEY_TAKEN = 40
    """The order's settlement key (the rollup order-tree key of its message) is held by
    another order, open or ever filled: choose another client id."""


class ExchangeError(StarkPerpError):
    """A rejected exchange request; ``reason`` is a :class:`Reason`."""

    reason: Reason

    def __init__(self, reason: Reason, message: str = "") -> None:
        super().__init__(reason, message)
