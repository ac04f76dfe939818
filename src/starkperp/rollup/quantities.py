"""The integer quantities of the rollup, each with its own name (DESIGN section 3).

No floats: collateral in quanta of 10^-6 USDC, synthetic amounts in quanta of the asset's
resolution, prices and funding indices in 32.32 fixed point (collateral quanta per synthetic
quantum times 2^32), risk factors and funding rates in 0.32 fixed point, times in seconds
(order expirations in hours, as StarkEx).
"""

from __future__ import annotations

from typing import NewType

__all__ = [
    "AMOUNT_UPPER_BOUND",
    "BALANCE_LOWER_BOUND",
    "BALANCE_UPPER_BOUND",
    "FXP_32_ONE",
    "NONCE_UPPER_BOUND",
    "ORDER_AMOUNT_UPPER_BOUND",
    "PUBLIC_KEY_UPPER_BOUND",
    "AssetId",
    "Collateral",
    "FundingIndex",
    "OrderKey",
    "PositionId",
    "Price",
    "PublicKey",
    "Quantity",
    "RiskFactor",
    "Timestamp",
    "is_amount",
    "is_balance",
]

PositionId = NewType("PositionId", int)
AssetId = NewType("AssetId", int)
OrderKey = NewType("OrderKey", int)
PublicKey = NewType("PublicKey", int)
Collateral = NewType("Collateral", int)
Quantity = NewType("Quantity", int)
Price = NewType("Price", int)
FundingIndex = NewType("FundingIndex", int)
RiskFactor = NewType("RiskFactor", int)
Timestamp = NewType("Timestamp", int)

FXP_32_ONE = 2**32
BALANCE_UPPER_BOUND = 2**63
BALANCE_LOWER_BOUND = -(2**63)
AMOUNT_UPPER_BOUND = 2**64
NONCE_UPPER_BOUND = 2**32
ORDER_AMOUNT_UPPER_BOUND = 2**62
"""A signed message's amount (the cap an order leaf stores) is below this: the batch AIR
proves ``filled <= amount`` with 62-bit range checks (``docs/leaf-encoding.md``)."""
PUBLIC_KEY_UPPER_BOUND = 2**252


def is_balance(x: int) -> bool:
    """Return whether ``x`` is a valid signed balance, in (-2^63, 2^63)."""
    return BALANCE_LOWER_BOUND < x < BALANCE_UPPER_BOUND


def is_amount(x: int) -> bool:
    """Return whether ``x`` is a valid unsigned amount, in [0, 2^64)."""
    return 0 <= x < AMOUNT_UPPER_BOUND
