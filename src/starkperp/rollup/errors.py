"""Why the rollup refuses a transaction, a batch or a payload: one numbered list of reasons.

As in StarkWare's stark-perpetual, every rejection a transaction can meet is a member of one
enum, :class:`Reason`, with a stable number. A rejected transaction changes nothing: the
``apply_*`` functions compute effects without mutating the state, and raise
:class:`RollupError` (or a subclass) carrying the reason before any effect is committed.
"""

from __future__ import annotations

import enum

from starkperp.errors import StarkPerpError

__all__ = ["DataAvailabilityError", "Reason", "RollupError", "TransactionRejected"]


class Reason(enum.IntEnum):
    """Every reason the rollup rejects something, numbered once and never renumbered."""

    # Ranges and shapes (1-19).
    AMOUNT_OUT_OF_RANGE = 1
    BALANCE_OUT_OF_RANGE = 2
    NONCE_OUT_OF_RANGE = 3
    POSITION_ID_OUT_OF_RANGE = 4
    UNKNOWN_ASSET = 5
    FUNDING_INDEX_OUT_OF_RANGE = 6
    PRICE_OUT_OF_RANGE = 7
    TIMESTAMP_OUT_OF_RANGE = 8
    PUBLIC_KEY_OUT_OF_RANGE = 9
    SAME_POSITION_ID = 10
    FEE_POSITION_PARTICIPATION = 11
    INVALID_CONFIG = 12
    RECIPIENT_OUT_OF_RANGE = 13
    DUPLICATE_ASSET = 14
    # Ownership and signatures (20-29).
    INVALID_PUBLIC_KEY = 20
    INVALID_SIGNATURE = 21
    EMPTY_POSITION_KEY = 22
    # Orders and fulfillment (30-49).
    ORDER_EXPIRED = 30
    ORDER_OVERFILLED = 31
    ORDER_ID_COLLISION = 32
    INVALID_FULFILLMENT_ASSETS_RATIO = 33
    INVALID_FULFILLMENT_FEE_RATIO = 34
    ORDERS_NOT_MATCHING = 35
    ZERO_FILL = 36
    # Position validity (50-69).
    ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS = 50
    ILLEGAL_POSITION_TRANSITION_REDUCING_TOTAL_VALUE_RISK_RATIO = 51
    ILLEGAL_POSITION_TRANSITION_NO_RISK_REDUCED_VALUE = 52
    UNLIQUIDATABLE_POSITION = 53
    UNDELEVERAGABLE_POSITION = 54
    UNFAIR_DELEVERAGE = 55
    INSURANCE_FUND_CAN_ABSORB = 56
    TAKEOVER_NOT_AT_ORACLE_PRICE = 57
    LIQUIDATION_PENALTY_TOO_LARGE = 58
    INSURANCE_FUND_INSOLVENT = 59
    INSURANCE_OVERPAYMENT = 60
    INSURANCE_POSITION_PARTICIPATION = 61
    # Ticks (70-89).
    TIME_WENT_BACKWARDS = 70
    FUNDING_TICK_TOO_LARGE = 71
    FUNDING_TICK_ASSETS_MISMATCH = 72
    ORACLE_PRICE_OUT_OF_SIGNED_RANGE = 73
    ORACLE_QUORUM_NOT_REACHED = 74
    ORACLE_UNKNOWN_SIGNER = 75
    ORACLE_DUPLICATE_SIGNER = 76
    ORACLE_STALE_PRICE = 77
    ORACLE_ASSETS_MISMATCH = 78
    # Forced actions (90-99).
    FORCED_ACTION_WRONGLY_MARKED_INVALID = 90
    # Batches and data availability (100-119).
    UNKNOWN_TRANSACTION = 100
    MALFORMED_PAYLOAD = 101
    PAYLOAD_ROOT_MISMATCH = 102
    PAYLOAD_BATCH_MISMATCH = 103
    INVALID_MERKLE_PROOF = 104
    MALFORMED_PUBLIC_INPUT = 105
    UNPROVABLE_BATCH = 106
    INVALID_BATCH_PROOF = 107


class RollupError(StarkPerpError):
    """Root of the rollup's expected failures; ``reason`` is a :class:`Reason`."""

    def __init__(self, reason: Reason, message: str = "") -> None:
        super().__init__(reason, message)
        self.reason: Reason = reason


class TransactionRejected(RollupError):
    """A transaction broke a rule of DESIGN section 5; the state is unchanged."""


class DataAvailabilityError(RollupError):
    """A data-availability payload or public input could not be decoded or does not fit."""
