"""Request bodies of the REST API, as dYdX v3 clients send them (strict types, bounded sizes).

Numbers that are money travel as decimal strings (``"0.01"``), exactly as dYdX v3; every
string is length-bounded so an oversized value is refused before it is parsed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

__all__ = [
    "OnboardingBody",
    "OraclePriceBody",
    "OracleTickBody",
    "OrderBody",
    "TestnetTokensBody",
    "WithdrawalBody",
]

Decimal40 = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=40, pattern=r"^[0-9.eE+-]+$")
]
Hex = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=132, pattern=r"^(0x)?[0-9a-fA-F]+$"),
]
Iso = Annotated[str, StringConstraints(strict=True, min_length=10, max_length=40)]
ClientId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
MarketName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=20)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class OnboardingBody(_Body):
    """``POST /v3/onboarding``: the STARK key the user derived (x and y coordinates)."""

    starkKey: Hex
    starkKeyYCoordinate: Hex
    referredByAffiliateLink: str | None = None
    country: str | None = None


class OrderBody(_Body):
    """``POST /v3/orders``: a signed order in dYdX v3 form."""

    market: MarketName
    side: Literal["BUY", "SELL"]
    type: Literal[
        "LIMIT", "MARKET", "STOP_LIMIT", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"
    ]
    size: Decimal40
    price: Decimal40
    limitFee: Decimal40
    expiration: Iso
    postOnly: StrictBool
    clientId: ClientId
    signature: Hex
    timeInForce: Literal["GTT", "FOK", "IOC"] = "GTT"
    reduceOnly: StrictBool = False
    triggerPrice: Decimal40 | None = None
    trailingPercent: Decimal40 | None = None
    cancelId: Annotated[str, StringConstraints(strict=True, max_length=20)] | None = None


class WithdrawalBody(_Body):
    """``POST /v3/withdrawals``: a signed withdrawal of USDC to L1."""

    amount: Decimal40
    asset: Literal["USDC"]
    expiration: Iso
    clientId: ClientId
    signature: Hex


Digits = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=25, pattern=r"^[0-9]+$")
]


class OraclePriceBody(_Body):
    """One signer's price: protocol price (32.32), epoch seconds, STARK signature (r || s)."""

    signer: Hex
    price: Digits
    timestamp: Digits
    signature: Hex


class OracleTickBody(_Body):
    """``POST /v3/oracle/prices``: signed prices of one market from the configured signers."""

    market: MarketName
    prices: Annotated[list[OraclePriceBody], Field(min_length=1, max_length=32)]


class TestnetTokensBody(_Body):
    """``POST /v3/testnet/tokens``: credit test collateral (dYdX's testnet faucet)."""

    amount: Decimal40 | None = None
