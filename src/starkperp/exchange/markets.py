"""Markets and the units of money: what one quantum of each asset is worth, and prices.

Units (DESIGN.md section 3):

* collateral (USDC) is counted in quanta of 10^-6 USDC (:data:`COLLATERAL_RESOLUTION`);
* a synthetic asset is counted in quanta of ``1 / resolution`` of a coin (BTC 10^-10 ...);
* a :data:`Price` is 32.32 fixed point, collateral quanta per synthetic quantum;
* a :data:`RiskFactor` is 0.32 fixed point (``fraction * 2^32``, rounded up).

Market parameters are those dYdX v3 published in February 2022 (tick and step sizes,
minimum order sizes, initial/maintenance margin fractions and the incremental initial
margin fraction above a baseline position size). ``tick_size`` is kept as *micro-USDC per
whole coin* (the human price times 10^6) because every dYdX tick is an integer there, while
a tick in 32.32 collateral-per-quantum units generally is not. ``Decimal`` appears only in
the conversion helpers for the API edge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NewType

from starkperp.exchange.errors import ExchangeError, Reason

__all__ = [
    "COLLATERAL_ASSET_ID",
    "COLLATERAL_ASSET_ID_BY_NETWORK",
    "COLLATERAL_RESOLUTION",
    "DEFAULT_MARKETS",
    "FIXED_POINT_ONE",
    "Collateral",
    "FundingIndex",
    "MarketConfig",
    "MarketId",
    "MarketStatus",
    "Price",
    "Quantity",
    "RiskFactor",
    "compute_human_price",
    "compute_price_from_e6",
    "compute_price_from_oracle",
    "compute_risk_factor_from_ppm",
    "get_default_markets",
    "is_price_on_tick",
    "price_from_human",
    "quantity_from_human",
    "collateral_from_human",
    "human_from_collateral",
    "human_from_quantity",
]

MarketId = NewType("MarketId", str)
Price = NewType("Price", int)
"""32.32 fixed point: collateral quanta per synthetic quantum, times 2^32."""
Quantity = NewType("Quantity", int)
"""Synthetic quanta (signed where it is a position balance)."""
Collateral = NewType("Collateral", int)
"""Collateral quanta, 10^-6 USDC (signed)."""
RiskFactor = NewType("RiskFactor", int)
"""0.32 fixed point fraction."""
FundingIndex = NewType("FundingIndex", int)
"""32.32 fixed point: cumulative collateral quanta paid per synthetic quantum held long."""

FIXED_POINT_ONE = 1 << 32
COLLATERAL_RESOLUTION = 10**6
COLLATERAL_ASSET_ID_BY_NETWORK = {
    1: 0x02893294412A4C8F915F75892B395EBBF6859EC246EC365C3B1F56F47C3A0A5D,
    3: 0x02C04D8B650F44092278A7CB1E1028C82025DFF622DB96C934B611B84CC8DE5A,
}
COLLATERAL_ASSET_ID = COLLATERAL_ASSET_ID_BY_NETWORK[1]


class MarketStatus(enum.Enum):
    """Whether a market takes new risk (ONLINE), only reductions (CLOSE_ONLY) or nothing."""

    ONLINE = "ONLINE"
    CLOSE_ONLY = "CLOSE_ONLY"
    HALTED = "HALTED"


def compute_risk_factor_from_ppm(ppm: int) -> RiskFactor:
    """Convert parts-per-million to 0.32 fixed point, rounding up (favours the system)."""
    return RiskFactor(-((-ppm * FIXED_POINT_ONE) // 10**6))


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketConfig:
    """One perpetual market; sizes in synthetic quanta, ``tick_size`` in micro-USDC/coin."""

    market: MarketId
    asset: str
    asset_id: int
    resolution: int
    tick_size: int
    step_size: Quantity
    min_order_size: Quantity
    initial_margin_fraction: RiskFactor
    maintenance_margin_fraction: RiskFactor
    incremental_initial_margin_fraction: RiskFactor
    baseline_position_size: Quantity
    incremental_position_size: Quantity
    max_position_size: Quantity
    liquidation_penalty: RiskFactor = compute_risk_factor_from_ppm(10_000)
    impact_notional: Collateral = Collateral(5_000 * COLLATERAL_RESOLUTION)
    status: MarketStatus = MarketStatus.ONLINE

    def __post_init__(self) -> None:
        if self.resolution <= 0 or self.tick_size <= 0 or self.step_size <= 0:
            raise ValueError(f"{self.market}: resolution, tick and step must be positive")
        if self.min_order_size % self.step_size:
            raise ValueError(f"{self.market}: min order size must be a step multiple")
        if not 0 < self.maintenance_margin_fraction <= self.initial_margin_fraction:
            raise ValueError(f"{self.market}: need 0 < maintenance <= initial margin")
        if self.initial_margin_fraction > FIXED_POINT_ONE:
            raise ValueError(f"{self.market}: initial margin fraction above 1")
        if self.incremental_position_size <= 0 or self.baseline_position_size < 0:
            raise ValueError(f"{self.market}: bad incremental/baseline position size")

    def compute_initial_margin_fraction(self, size: int) -> RiskFactor:
        """Return the IMF for an absolute position ``size`` (dYdX incremental IMF, capped 1)."""
        size = abs(size)
        excess = size - self.baseline_position_size
        imf: int = self.initial_margin_fraction
        if excess > 0:
            steps = -((-excess) // self.incremental_position_size)
            imf = imf + steps * self.incremental_initial_margin_fraction
        return RiskFactor(min(imf, FIXED_POINT_ONE))


def _market(
    name: str,
    asset: str,
    asset_id: int,
    resolution: int,
    tick_e6: int,
    step: str,
    min_size: str,
    imf_ppm: int,
    mmf_ppm: int,
    incr_imf_ppm: int,
    baseline: str,
    incremental: str,
    max_size: str,
) -> MarketConfig:
    def q(human: str) -> Quantity:
        return Quantity(int(Decimal(human) * resolution))

    return MarketConfig(
        market=MarketId(name),
        asset=asset,
        asset_id=asset_id,
        resolution=resolution,
        tick_size=tick_e6,
        step_size=q(step),
        min_order_size=q(min_size),
        initial_margin_fraction=compute_risk_factor_from_ppm(imf_ppm),
        maintenance_margin_fraction=compute_risk_factor_from_ppm(mmf_ppm),
        incremental_initial_margin_fraction=compute_risk_factor_from_ppm(incr_imf_ppm),
        baseline_position_size=q(baseline),
        incremental_position_size=q(incremental),
        max_position_size=q(max_size),
    )


DEFAULT_MARKETS: tuple[MarketConfig, ...] = (
    _market(
        "BTC-USD", "BTC", 0x4254432D3130000000000000000000, 10**10, 1_000_000,
        "0.0001", "0.001", 50_000, 30_000, 10_000, "9", "1.5", "170",
    ),
    _market(
        "ETH-USD", "ETH", 0x4554482D3900000000000000000000, 10**9, 100_000,
        "0.001", "0.01", 50_000, 30_000, 10_000, "140", "28", "2820",
    ),
    _market(
        "SOL-USD", "SOL", 0x534F4C2D3700000000000000000000, 10**7, 1_000,
        "0.1", "1", 100_000, 50_000, 20_000, "8500", "5000", "80000",
    ),
    _market(
        "LINK-USD", "LINK", 0x4C494E4B2D37000000000000000000, 10**7, 1_000,
        "0.1", "1", 100_000, 50_000, 20_000, "14000", "7000", "140000",
    ),
    _market(
        "DOGE-USD", "DOGE", 0x444F47452D35000000000000000000, 10**5, 100,
        "10", "100", 100_000, 50_000, 20_000, "2250000", "1400000", "22500000",
    ),
)  # fmt: skip


def get_default_markets() -> dict[MarketId, MarketConfig]:
    """Return the dYdX v3 (February 2022) markets keyed by market id."""
    return {m.market: m for m in DEFAULT_MARKETS}


def _div_round_half_up(num: int, den: int) -> int:
    return (2 * num + den) // (2 * den)


def compute_price_from_e6(market: MarketConfig, price_e6: int) -> Price:
    """Convert micro-USDC per whole coin to the 32.32 protocol price (rounded half up)."""
    return Price(_div_round_half_up(price_e6 * FIXED_POINT_ONE, market.resolution))


def compute_price_from_oracle(market: MarketConfig, price_e18: int) -> Price:
    """Convert an 18-decimal oracle price: ``round(P * res_coll * 2^32 / (res_synth * 1e18))``."""
    return Price(
        _div_round_half_up(
            price_e18 * COLLATERAL_RESOLUTION * FIXED_POINT_ONE, market.resolution * 10**18
        )
    )


def _ticks_of(market: MarketConfig, price: int) -> int:
    return _div_round_half_up(price * market.resolution, FIXED_POINT_ONE * market.tick_size)


def is_price_on_tick(market: MarketConfig, price: int) -> bool:
    """Tell whether ``price`` is exactly the protocol image of a whole number of ticks."""
    ticks = _ticks_of(market, price)
    return ticks > 0 and compute_price_from_e6(market, ticks * market.tick_size) == price


def compute_human_price(market: MarketConfig, price: int) -> Decimal:
    """Return the human USD price of a protocol price (exact when the price is on tick)."""
    if is_price_on_tick(market, price):
        return Decimal(_ticks_of(market, price) * market.tick_size) / COLLATERAL_RESOLUTION
    return (Decimal(price) * market.resolution / FIXED_POINT_ONE).scaleb(-6)


def _parse(text: str | int | Decimal) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ExchangeError(Reason.INVALID_AMOUNT, f"not a decimal number: {text!r}") from exc
    if not value.is_finite():
        raise ExchangeError(Reason.INVALID_AMOUNT, f"not a finite number: {text!r}")
    return value


def price_from_human(market: MarketConfig, text: str | int | Decimal) -> Price:
    """Parse a human USD price; it must be a positive whole number of ticks."""
    value = _parse(text) * COLLATERAL_RESOLUTION
    if value <= 0 or value != value.to_integral_value() or int(value) % market.tick_size:
        raise ExchangeError(Reason.PRICE_OFF_TICK, f"{text} is not a multiple of the tick")
    return compute_price_from_e6(market, int(value))


def quantity_from_human(market: MarketConfig, text: str | int | Decimal) -> Quantity:
    """Parse a human size in coins into synthetic quanta (must be exact)."""
    value = _parse(text) * market.resolution
    if value != value.to_integral_value():
        raise ExchangeError(Reason.SIZE_NOT_STEP_MULTIPLE, f"{text} is finer than one quantum")
    return Quantity(int(value))


def human_from_quantity(market: MarketConfig, quantity: int) -> Decimal:
    """Return a synthetic amount in coins."""
    return Decimal(quantity) / market.resolution


def collateral_from_human(text: str | int | Decimal) -> Collateral:
    """Parse a human USDC amount into collateral quanta (must be exact to 10^-6)."""
    value = _parse(text) * COLLATERAL_RESOLUTION
    if value != value.to_integral_value():
        raise ExchangeError(Reason.INVALID_AMOUNT, f"{text} is finer than 10^-6 USDC")
    return Collateral(int(value))


def human_from_collateral(amount: int) -> Decimal:
    """Return a collateral amount in USDC."""
    return Decimal(amount).scaleb(-6)
