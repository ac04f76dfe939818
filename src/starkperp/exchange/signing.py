"""What a dYdX v3 trader signs: the StarkEx order, withdrawal and transfer messages.

A signed dYdX v3 order is a StarkEx ``LIMIT_ORDER_WITH_FEES``. From the human order (market,
side, size, price, limit fee, client id, expiration) the client derives integer *quantums*
and packs them, with the asset ids, into four Pedersen hashes; the trader's STARK key signs
the result (:mod:`starkperp.crypto.stark_curve`). This module rebuilds exactly that hash so
the exchange can verify a signature made by ``dydx-v3-python`` (vectors in
``tests/vectors/dydx``), and signs the same way for our own clients.

Order message (``docs/signatures.md`` has the bit layout)::

    assets = H(H(asset_id_sell, asset_id_buy), asset_id_fee)
    part_1 = amount_sell | amount_buy | fee | nonce                 (64, 64, 64, 32 bits)
    part_2 = 3 | position_id | position_id | position_id | expiration_hours | 0^17
    hash   = H(H(assets, part_1), part_2)

* buying the synthetic: sell collateral, buy synthetic; selling: the reverse. The fee is
  always in collateral.
* synthetic quantums = size x resolution, exactly (else rejected); collateral quantums =
  size x price x 10^6, rounded **up** for a buy and **down** for a sell; the limit fee is
  truncated to six decimals and fee quantums = fee x collateral quantums rounded up.
* nonce = sha256(client_id) mod 2^32; expiration hours = ceil(seconds / 3600) + 168 (dYdX
  adds a one-week buffer to orders, not to withdrawals or transfers).

``decimal.Decimal`` appears only in the converters from the human strings of the API edge,
with the 28-digit contexts dydx3 uses; the path from the exchange's integer
:class:`~starkperp.exchange.model.Order` (:func:`verify_order`) is integer-only.
"""

from __future__ import annotations

import decimal
import functools
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import NewType, TypedDict, Unpack

from eth_hash.auto import keccak
from fast_stark_crypto import rs_compute_pedersen_hash

from starkperp.crypto.stark_curve import (
    FieldElement,
    Signature,
    StarkPrivateKey,
    StarkPublicKey,
    pedersen_hash,
    sign,
    verify,
)
from starkperp.exchange.errors import ExchangeError, Reason
from starkperp.exchange.markets import MarketConfig, is_price_on_tick
from starkperp.exchange.model import Order, OrderSignature, Side

__all__ = [
    "COLLATERAL_ASSET_ID_BY_NETWORK",
    "COLLATERAL_RESOLUTION",
    "NETWORK_ID_GOERLI",
    "NETWORK_ID_MAINNET",
    "NETWORK_ID_ROPSTEN",
    "NETWORK_ID_SEPOLIA",
    "ORDER_SIGNATURE_EXPIRATION_BUFFER_HOURS",
    "SYNTHETIC_ASSETS",
    "AssetId",
    "HumanConditionalTransferFields",
    "HumanOrderFields",
    "HumanTransferFields",
    "HumanWithdrawalFields",
    "StarkwareConditionalTransfer",
    "StarkwareOrder",
    "StarkwareTransfer",
    "StarkwareWithdrawal",
    "SyntheticAsset",
    "compute_conditional_transfer_hash",
    "compute_exchange_order_hash",
    "compute_expiration_epoch_hours",
    "compute_fact_condition",
    "compute_order_hash",
    "compute_starkware_conditional_transfer_hash",
    "compute_starkware_order",
    "compute_starkware_order_hash",
    "compute_starkware_transfer_hash",
    "compute_starkware_withdrawal_hash",
    "compute_transfer_erc20_fact",
    "compute_transfer_hash",
    "compute_withdrawal_hash",
    "get_collateral_asset_id",
    "get_synthetic_asset",
    "nonce_from_client_id",
    "sign_conditional_transfer",
    "sign_exchange_order",
    "sign_order",
    "sign_transfer",
    "sign_withdrawal",
    "verify_conditional_transfer",
    "verify_order",
    "verify_order_fields",
    "verify_transfer",
    "verify_withdrawal",
]

AssetId = NewType("AssetId", int)
"""A StarkEx asset id (collateral: 250 bits; synthetic: 120 bits of ASCII, e.g. ``BTC-10``)."""

NETWORK_ID_MAINNET = 1
NETWORK_ID_ROPSTEN = 3
NETWORK_ID_GOERLI = 5
NETWORK_ID_SEPOLIA = 11155111

COLLATERAL_ASSET_ID_BY_NETWORK: dict[int, AssetId] = {
    NETWORK_ID_MAINNET: AssetId(0x02893294412A4C8F915F75892B395EBBF6859EC246EC365C3B1F56F47C3A0A5D),
    NETWORK_ID_ROPSTEN: AssetId(0x02C04D8B650F44092278A7CB1E1028C82025DFF622DB96C934B611B84CC8DE5A),
    NETWORK_ID_GOERLI: AssetId(0x03BDA2B4764039F2DF44A00A9CF1D1569A83F95406A983CE4BEB95791C376008),
    NETWORK_ID_SEPOLIA: AssetId(0x01E70C509C4C6BFAFE8B73D2FC1819444B2C0B435D4B82C0F24ADDFF9565CE25),
}
COLLATERAL_RESOLUTION = 10**6
ONE_HOUR_IN_SECONDS = 3600
ORDER_SIGNATURE_EXPIRATION_BUFFER_HOURS = 24 * 7

ORDER_PREFIX = 3
TRANSFER_PREFIX = 4
CONDITIONAL_TRANSFER_PREFIX = 5
WITHDRAWAL_PREFIX = 6
ORDER_PADDING_BITS = 17
TRANSFER_PADDING_BITS = 81
CONDITIONAL_TRANSFER_PADDING_BITS = 81
WITHDRAWAL_PADDING_BITS = 49
AMOUNT_BITS = 64
NONCE_BITS = 32
POSITION_ID_BITS = 64
EXPIRATION_BITS = 32
SYNTHETIC_ASSET_ID_BITS = 128
ASSET_ID_BITS = 250
PUBLIC_KEY_BITS = 251
CONDITION_BITS = 251
_MASK_250 = (1 << 250) - 1
_U64 = 1 << 64
_U32 = 1 << 32


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticAsset:
    """A dYdX v3 synthetic asset: its StarkEx id and quantums per whole coin."""

    asset: str
    asset_id: AssetId
    resolution: int


def _synthetic(asset: str, resolution_exponent: int) -> SyntheticAsset:
    # dYdX v3 ids are the ASCII of "<ASSET>-<exponent>" left-aligned in 15 bytes.
    text = f"{asset}-{resolution_exponent}".encode()
    return SyntheticAsset(
        asset=asset,
        asset_id=AssetId(int.from_bytes(text.ljust(15, b"\0"), "big")),
        resolution=10**resolution_exponent,
    )


SYNTHETIC_ASSETS: dict[str, SyntheticAsset] = {
    f"{asset}-USD": _synthetic(asset, exponent)
    for asset, exponent in (
        ("BTC", 10), ("ETH", 9), ("LINK", 7), ("AAVE", 8), ("UNI", 7), ("SUSHI", 7),
        ("SOL", 7), ("YFI", 10), ("1INCH", 7), ("AVAX", 7), ("SNX", 7), ("CRV", 6),
        ("UMA", 7), ("DOT", 7), ("DOGE", 5), ("MATIC", 6), ("MKR", 9), ("FIL", 7),
        ("ADA", 6), ("ATOM", 7), ("COMP", 8), ("BCH", 8), ("LTC", 8), ("EOS", 6),
        ("ALGO", 6), ("ZRX", 6), ("XMR", 8), ("ZEC", 8), ("ENJ", 6), ("ETC", 7),
        ("XLM", 5), ("TRX", 4), ("XTZ", 6), ("ICP", 7), ("RUNE", 6), ("LUNA", 6),
        ("NEAR", 6), ("CELO", 6),
    )
}  # fmt: skip
"""dYdX v3 markets (as ``dydx-v3-python`` 2.1.0 lists them) to their synthetic asset."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StarkwareOrder:
    """The integer StarkEx form of a dYdX v3 order (``LIMIT_ORDER_WITH_FEES``)."""

    asset_id_synthetic: AssetId
    asset_id_collateral: AssetId
    asset_id_fee: AssetId
    quantums_amount_synthetic: int
    quantums_amount_collateral: int
    quantums_amount_fee: int
    is_buying_synthetic: bool
    position_id: int
    nonce: int
    expiration_epoch_hours: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StarkwareWithdrawal:
    """The StarkEx form of a withdrawal of collateral from a position."""

    asset_id_collateral: AssetId
    position_id: int
    quantums_amount: int
    nonce: int
    expiration_epoch_hours: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StarkwareTransfer:
    """The StarkEx form of a collateral transfer between positions (no fee)."""

    asset_id_collateral: AssetId
    sender_position_id: int
    receiver_position_id: int
    receiver_public_key: int
    quantums_amount: int
    nonce: int
    expiration_epoch_hours: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StarkwareConditionalTransfer:
    """A transfer valid only once ``condition`` (a fact in an L1 registry) holds."""

    asset_id_collateral: AssetId
    sender_position_id: int
    receiver_position_id: int
    receiver_public_key: int
    condition: int
    quantums_amount: int
    nonce: int
    expiration_epoch_hours: int


class HumanOrderFields(TypedDict):
    """The human fields of a dYdX v3 order, as the API edge and ``dydx3`` name them."""

    network_id: int
    market: str
    side: Side | str
    position_id: int
    human_size: str | Decimal
    human_price: str | Decimal
    human_limit_fee: str | Decimal
    client_id: str
    expiration_epoch_seconds: int | Decimal


class HumanWithdrawalFields(TypedDict):
    """The human fields of a dYdX v3 withdrawal."""

    network_id: int
    position_id: int
    human_amount: str | Decimal
    client_id: str
    expiration_epoch_seconds: int | Decimal


class HumanTransferFields(TypedDict):
    """The human fields of a dYdX v3 transfer."""

    network_id: int
    sender_position_id: int
    receiver_position_id: int
    receiver_public_key: int
    human_amount: str | Decimal
    client_id: str
    expiration_epoch_seconds: int | Decimal


class HumanConditionalTransferFields(HumanTransferFields):
    """A transfer that settles only once the L1 fact (an ERC-20 transfer) is registered."""

    fact_registry_address: str
    fact: bytes


# --- Lookups and human-value conversion (the API edge). ---


def get_collateral_asset_id(network_id: int) -> AssetId:
    """Return the USDC asset id dYdX v3 used on ``network_id`` (1, 3, 5, 11155111)."""
    try:
        return COLLATERAL_ASSET_ID_BY_NETWORK[network_id]
    except (KeyError, TypeError):
        raise ExchangeError(Reason.INVALID_ORDER, f"unknown network id {network_id!r}") from None


def get_synthetic_asset(market: str) -> SyntheticAsset:
    """Return the synthetic asset of a dYdX v3 market such as ``"BTC-USD"``."""
    try:
        return SYNTHETIC_ASSETS[market]
    except (KeyError, TypeError):
        raise ExchangeError(Reason.UNKNOWN_MARKET, f"unknown market {market!r}") from None


def nonce_from_client_id(client_id: str) -> int:
    """Return dYdX's nonce for a client id: sha256 of its UTF-8 bytes, mod 2^32."""
    if not isinstance(client_id, str):
        raise ExchangeError(Reason.INVALID_ORDER, "client id must be a string")
    digest = hashlib.sha256(client_id.encode()).digest()
    return int.from_bytes(digest, "big") % (1 << NONCE_BITS)


def compute_expiration_epoch_hours(
    expiration_epoch_seconds: int | Decimal, *, buffer_hours: int = 0
) -> int:
    """Return ``ceil(seconds / 3600) + buffer_hours`` (orders use a 168-hour buffer).

    ``Decimal`` seconds serve ISO timestamps with milliseconds, as dydx3 reads them.
    """
    seconds = expiration_epoch_seconds
    if isinstance(seconds, bool) or not isinstance(seconds, (int, Decimal)):
        raise ExchangeError(Reason.INVALID_ORDER, "expiration must be integer epoch seconds")
    if isinstance(seconds, Decimal) and not seconds.is_finite():
        raise ExchangeError(Reason.INVALID_ORDER, "expiration must be finite")
    if seconds < 0:
        raise ExchangeError(Reason.INVALID_ORDER, "expiration must not be negative")
    if isinstance(seconds, int):
        hours = -(-seconds // ONE_HOUR_IN_SECONDS)
    else:
        hours = math.ceil(seconds / ONE_HOUR_IN_SECONDS)
    return hours + buffer_hours


_CTX_EXACT = decimal.Context(
    traps=[decimal.Inexact, decimal.DivisionByZero, decimal.InvalidOperation, decimal.Overflow]
)
_CTX_DOWN = decimal.Context(rounding=decimal.ROUND_DOWN, traps=[decimal.InvalidOperation])
_CTX_UP = decimal.Context(rounding=decimal.ROUND_UP, traps=[decimal.InvalidOperation])
_FEE_QUANTUM = Decimal("0.000001")


def _parse_human(text: str | Decimal | int, what: str) -> Decimal:
    if isinstance(text, (float, bool)) or not isinstance(text, (str, Decimal, int)):
        raise ExchangeError(Reason.INVALID_AMOUNT, f"{what} must be a decimal string")
    try:
        value = Decimal(text)
    except (decimal.InvalidOperation, ValueError) as exc:
        raise ExchangeError(Reason.INVALID_AMOUNT, f"{what} is not a number: {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise ExchangeError(Reason.INVALID_AMOUNT, f"{what} must be finite and >= 0")
    return value


def _to_quantums(amount: Decimal, resolution: int, ctx: decimal.Context, what: str) -> int:
    """Scale ``amount`` by ``resolution`` and round with ``ctx`` (dydx3's quantum helper)."""
    try:
        quantums = (ctx.create_decimal(amount) * ctx.create_decimal(resolution)).to_integral_exact(
            context=ctx
        )
    except decimal.Inexact:
        raise ExchangeError(
            Reason.SIZE_NOT_STEP_MULTIPLE, f"{what} {amount} is not a whole number of quantums"
        ) from None
    except (decimal.InvalidOperation, decimal.Overflow) as exc:
        raise ExchangeError(Reason.OVERFLOW, f"{what} {amount} is out of range") from exc
    return int(quantums)


def _side_is_buy(side: Side | str) -> bool:
    if isinstance(side, Side):
        return side is Side.BUY
    if side in ("BUY", "SELL"):
        return side == "BUY"
    raise ExchangeError(Reason.INVALID_ORDER, f"side must be BUY or SELL, not {side!r}")


def compute_starkware_order(
    *,
    network_id: int,
    market: str,
    side: Side | str,
    position_id: int,
    human_size: str | Decimal,
    human_price: str | Decimal,
    human_limit_fee: str | Decimal,
    client_id: str,
    expiration_epoch_seconds: int | Decimal,
) -> StarkwareOrder:
    """Convert a human dYdX v3 order to its integer StarkEx form exactly as dydx3 does."""
    synthetic = get_synthetic_asset(market)
    collateral_id = get_collateral_asset_id(network_id)
    is_buy = _side_is_buy(side)
    size = _parse_human(human_size, "size")
    price = _parse_human(human_price, "price")
    limit_fee = _parse_human(human_limit_fee, "limit fee")
    quantums_synthetic = _to_quantums(size, synthetic.resolution, _CTX_EXACT, "size")
    # Multiply at full precision, then round once towards the side that favours the system.
    ctx = _CTX_UP if is_buy else _CTX_DOWN
    human_cost = ctx.multiply(size, price)
    quantums_collateral = _to_quantums(human_cost, COLLATERAL_RESOLUTION, ctx, "cost")
    fee_rate = _CTX_DOWN.quantize(limit_fee, _FEE_QUANTUM)
    quantums_fee = int(
        _CTX_UP.multiply(fee_rate, quantums_collateral).to_integral_value(context=_CTX_UP)
    )
    return StarkwareOrder(
        asset_id_synthetic=synthetic.asset_id,
        asset_id_collateral=collateral_id,
        asset_id_fee=collateral_id,
        quantums_amount_synthetic=quantums_synthetic,
        quantums_amount_collateral=quantums_collateral,
        quantums_amount_fee=quantums_fee,
        is_buying_synthetic=is_buy,
        position_id=_require_int(position_id, "position id"),
        nonce=nonce_from_client_id(client_id),
        expiration_epoch_hours=compute_expiration_epoch_hours(
            expiration_epoch_seconds, buffer_hours=ORDER_SIGNATURE_EXPIRATION_BUFFER_HOURS
        ),
    )


# --- Packing and hashing (integers only). ---


def _require_int(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExchangeError(Reason.INVALID_ORDER, f"{what} must be an integer")
    return value


def _require_bits(value: int, bits: int, what: str) -> int:
    _require_int(value, what)
    if not 0 <= value < (1 << bits):
        raise ExchangeError(Reason.OVERFLOW, f"{what} does not fit in {bits} bits")
    return value


def _pack(*fields: tuple[int, int, str]) -> int:
    """Concatenate ``(value, bits, name)`` fields, most significant first."""
    packed = 0
    for value, bits, what in fields:
        packed = (packed << bits) | _require_bits(value, bits, what)
    return packed


@functools.lru_cache(maxsize=1024)
def _order_assets_hash(asset_id_sell: int, asset_id_buy: int, asset_id_fee: int) -> int:
    # Depends only on (market, side, network): cached, it saves half the Pedersen hashes.
    return pedersen_hash(pedersen_hash(asset_id_sell, asset_id_buy), asset_id_fee)


def compute_starkware_order_hash(order: StarkwareOrder) -> FieldElement:
    """Return the Pedersen hash a dYdX v3 trader signs for ``order`` (ranges checked)."""
    if order.is_buying_synthetic:
        asset_id_sell, asset_id_buy = order.asset_id_collateral, order.asset_id_synthetic
        amount_sell = order.quantums_amount_collateral
        amount_buy = order.quantums_amount_synthetic
    else:
        asset_id_sell, asset_id_buy = order.asset_id_synthetic, order.asset_id_collateral
        amount_sell = order.quantums_amount_synthetic
        amount_buy = order.quantums_amount_collateral
    _require_bits(order.asset_id_synthetic, SYNTHETIC_ASSET_ID_BITS, "synthetic asset id")
    _require_bits(order.asset_id_collateral, ASSET_ID_BITS, "collateral asset id")
    _require_bits(order.asset_id_fee, ASSET_ID_BITS, "fee asset id")
    part_1 = _pack(
        (amount_sell, AMOUNT_BITS, "amount sell"),
        (amount_buy, AMOUNT_BITS, "amount buy"),
        (order.quantums_amount_fee, AMOUNT_BITS, "fee"),
        (order.nonce, NONCE_BITS, "nonce"),
    )
    part_2 = (
        _pack(
            (ORDER_PREFIX, 3, "prefix"),
            (order.position_id, POSITION_ID_BITS, "position id"),
            (order.position_id, POSITION_ID_BITS, "position id"),
            (order.position_id, POSITION_ID_BITS, "position id"),
            (order.expiration_epoch_hours, EXPIRATION_BITS, "expiration hours"),
        )
        << ORDER_PADDING_BITS
    )
    assets_hash = _order_assets_hash(asset_id_sell, asset_id_buy, order.asset_id_fee)
    return pedersen_hash(pedersen_hash(assets_hash, part_1), part_2)


def compute_order_hash(**fields: Unpack[HumanOrderFields]) -> FieldElement:
    """Return the hash dydx3's ``SignableOrder`` signs for these human order fields."""
    return compute_starkware_order_hash(compute_starkware_order(**fields))


def sign_order(*, private_key: StarkPrivateKey, **fields: Unpack[HumanOrderFields]) -> Signature:
    """Sign a human dYdX v3 order as ``dydx-v3-python`` does (same bytes)."""
    return sign(compute_order_hash(**fields), private_key)


def verify_order_fields(
    *, signature: Signature, public_key: StarkPublicKey, **fields: Unpack[HumanOrderFields]
) -> bool:
    """Tell whether ``signature`` signs these human order fields; malformed fields give False."""
    return _verify_hash_of(lambda: compute_order_hash(**fields), signature, public_key)


def _verify_hash_of(
    compute_hash: Callable[[], FieldElement], signature: Signature, public_key: StarkPublicKey
) -> bool:
    """Verify ``signature`` over ``compute_hash()``; a message that cannot be hashed gives False."""
    try:
        msg_hash = compute_hash()
    except ExchangeError:
        return False
    return verify(msg_hash, signature, public_key)


# --- The exchange's own Order (integers: quanta, 32.32 price, ppm fee, seconds). ---


def _starkware_order_of(order: Order, market: MarketConfig, network_id: int) -> StarkwareOrder:
    """Rebuild the signed StarkEx order from the exchange's integer ``Order``.

    The human price is a whole number of ticks (micro-USDC per coin ``price_e6``), so the
    collateral amount is ``size * price_e6 / resolution`` exactly, rounded up for a buy and
    down for a sell, and the fee ``ceil(limit_fee_ppm * collateral / 10^6)``: the same
    integers as dydx3's decimal pipeline, without decimals.
    """
    if order.market != market.market:
        raise ExchangeError(Reason.UNKNOWN_MARKET, "order and market config disagree")
    if order.side is not Side.BUY and order.side is not Side.SELL:
        raise ExchangeError(Reason.INVALID_ORDER, "side must be BUY or SELL")
    for value, what in (
        (order.size, "size"),
        (order.price, "price"),
        (order.limit_fee, "limit fee"),
        (order.account_id, "account id"),
        (order.expiration, "expiration"),
    ):
        _require_int(value, what)
    if not is_price_on_tick(market, order.price):
        raise ExchangeError(Reason.PRICE_OFF_TICK, "a signed price is a whole number of ticks")
    ticks = (order.price * market.resolution * 2 + (market.tick_size << 32)) // (
        market.tick_size << 33
    )
    price_e6 = ticks * market.tick_size
    notional = order.size * price_e6
    is_buy = order.side is Side.BUY
    collateral = -(-notional // market.resolution) if is_buy else notional // market.resolution
    if order.limit_fee < 0 or order.size < 0:
        raise ExchangeError(Reason.INVALID_AMOUNT, "size and limit fee must not be negative")
    fee = -(-(order.limit_fee * collateral) // COLLATERAL_RESOLUTION)
    collateral_id = get_collateral_asset_id(network_id)
    return StarkwareOrder(
        asset_id_synthetic=AssetId(market.asset_id),
        asset_id_collateral=collateral_id,
        asset_id_fee=collateral_id,
        quantums_amount_synthetic=order.size,
        quantums_amount_collateral=collateral,
        quantums_amount_fee=fee,
        is_buying_synthetic=is_buy,
        position_id=order.account_id,
        nonce=nonce_from_client_id(order.client_id),
        expiration_epoch_hours=compute_expiration_epoch_hours(
            order.expiration, buffer_hours=ORDER_SIGNATURE_EXPIRATION_BUFFER_HOURS
        ),
    )


def _compute_exchange_order_hash_fast(
    order: Order, market: MarketConfig, network_id: int
) -> int | None:
    """Return the same hash as the reference path, or ``None`` to let the reference decide.

    The ingress hot path: no intermediate dataclass, one bounds check, the native Pedersen
    hash called directly. Anything unusual (wrong types, off tick, out of range, unknown
    network) returns ``None`` and the readable path raises the precise error. Tested equal
    to :func:`_starkware_order_of` + :func:`compute_starkware_order_hash`.
    """
    collateral_id = COLLATERAL_ASSET_ID_BY_NETWORK.get(network_id)
    size, price, fee_ppm = order.size, order.price, order.limit_fee
    position, expiration, client_id = order.account_id, order.expiration, order.client_id
    if (
        collateral_id is None
        or order.market != market.market
        or type(size) is not int
        or type(price) is not int
        or type(fee_ppm) is not int
        or type(position) is not int
        or type(expiration) is not int
        or type(client_id) is not str
        or not 0 <= market.asset_id < (1 << SYNTHETIC_ASSET_ID_BITS)
    ):
        return None
    tick, resolution = market.tick_size, market.resolution
    ticks = (price * resolution * 2 + (tick << 32)) // (tick << 33)
    price_e6 = ticks * tick
    if ticks <= 0 or (2 * (price_e6 << 32) + resolution) // (2 * resolution) != price:
        return None
    notional = size * price_e6
    side = order.side
    if side is Side.BUY:
        collateral = -(-notional // resolution)
    elif side is Side.SELL:
        collateral = notional // resolution
    else:
        return None
    fee = -(-(fee_ppm * collateral) // COLLATERAL_RESOLUTION)
    hours = -(-expiration // ONE_HOUR_IN_SECONDS) + ORDER_SIGNATURE_EXPIRATION_BUFFER_HOURS
    if not (
        0 <= size < _U64
        and 0 <= collateral < _U64
        and 0 <= fee_ppm
        and 0 <= fee < _U64
        and 0 <= position < _U64
        and 0 <= expiration
        and hours < _U32
    ):
        return None
    nonce = int.from_bytes(hashlib.sha256(client_id.encode()).digest()[-4:], "big")
    if side is Side.BUY:
        assets = _order_assets_hash(collateral_id, market.asset_id, collateral_id)
        part_1 = (((collateral << 64 | size) << 64 | fee) << 32) | nonce
    else:
        assets = _order_assets_hash(market.asset_id, collateral_id, collateral_id)
        part_1 = (((size << 64 | collateral) << 64 | fee) << 32) | nonce
    part_2 = (
        ((((ORDER_PREFIX << 64 | position) << 64 | position) << 64 | position) << 32) | hours
    ) << ORDER_PADDING_BITS
    inner = rs_compute_pedersen_hash(hex(assets), hex(part_1))
    return int(rs_compute_pedersen_hash(hex(int(inner)), hex(part_2)))


def compute_exchange_order_hash(
    order: Order, market_config: MarketConfig, *, network_id: int = NETWORK_ID_MAINNET
) -> FieldElement:
    """Return the dYdX v3 hash of the exchange's ``Order`` (what its owner signed)."""
    fast = _compute_exchange_order_hash_fast(order, market_config, network_id)
    if fast is not None:
        return FieldElement(fast)
    return compute_starkware_order_hash(_starkware_order_of(order, market_config, network_id))


def sign_exchange_order(
    order: Order,
    market_config: MarketConfig,
    private_key: StarkPrivateKey,
    *,
    network_id: int = NETWORK_ID_MAINNET,
) -> OrderSignature:
    """Sign the exchange's ``Order`` as a dYdX v3 client would have signed it."""
    signature = sign(
        compute_exchange_order_hash(order, market_config, network_id=network_id), private_key
    )
    return OrderSignature(r=signature.r, s=signature.s)


def verify_order(
    order: Order,
    market_config: MarketConfig,
    public_key: int,
    *,
    network_id: int = NETWORK_ID_MAINNET,
) -> bool:
    """Tell whether ``order.signature`` is ``public_key``'s dYdX v3 signature of ``order``.

    Never raises: a missing signature, an order that cannot have been signed (off tick,
    out of range) or any malformed value gives ``False``.
    """
    if order.signature is None:
        return False
    signature = Signature(r=FieldElement(order.signature.r), s=FieldElement(order.signature.s))
    return _verify_hash_of(
        lambda: compute_exchange_order_hash(order, market_config, network_id=network_id),
        signature,
        StarkPublicKey(public_key),
    )


# --- Withdrawals, transfers and conditional transfers (collateral only, no fee). ---


def compute_starkware_withdrawal_hash(withdrawal: StarkwareWithdrawal) -> FieldElement:
    """Return the hash signed for a withdrawal: ``H(collateral_id, packed)``."""
    packed = (
        _pack(
            (WITHDRAWAL_PREFIX, 3, "prefix"),
            (withdrawal.position_id, POSITION_ID_BITS, "position id"),
            (withdrawal.nonce, NONCE_BITS, "nonce"),
            (withdrawal.quantums_amount, AMOUNT_BITS, "amount"),
            (withdrawal.expiration_epoch_hours, EXPIRATION_BITS, "expiration hours"),
        )
        << WITHDRAWAL_PADDING_BITS
    )
    _require_bits(withdrawal.asset_id_collateral, ASSET_ID_BITS, "collateral asset id")
    return pedersen_hash(withdrawal.asset_id_collateral, packed)


def _collateral_quantums(human_amount: str | Decimal) -> int:
    amount = _parse_human(human_amount, "amount")
    return _to_quantums(amount, COLLATERAL_RESOLUTION, _CTX_EXACT, "amount")


def compute_withdrawal_hash(**fields: Unpack[HumanWithdrawalFields]) -> FieldElement:
    """Return the hash dydx3's ``SignableWithdrawal`` signs (no expiration buffer)."""
    return compute_starkware_withdrawal_hash(
        StarkwareWithdrawal(
            asset_id_collateral=get_collateral_asset_id(fields["network_id"]),
            position_id=_require_int(fields["position_id"], "position id"),
            quantums_amount=_collateral_quantums(fields["human_amount"]),
            nonce=nonce_from_client_id(fields["client_id"]),
            expiration_epoch_hours=compute_expiration_epoch_hours(
                fields["expiration_epoch_seconds"]
            ),
        )
    )


def sign_withdrawal(
    *, private_key: StarkPrivateKey, **fields: Unpack[HumanWithdrawalFields]
) -> Signature:
    """Sign a withdrawal as dydx3 does."""
    return sign(compute_withdrawal_hash(**fields), private_key)


def verify_withdrawal(
    *, signature: Signature, public_key: StarkPublicKey, **fields: Unpack[HumanWithdrawalFields]
) -> bool:
    """Tell whether ``signature`` signs this withdrawal; malformed fields give False."""
    return _verify_hash_of(lambda: compute_withdrawal_hash(**fields), signature, public_key)


def _transfer_parts(
    prefix: int,
    padding: int,
    sender: int,
    receiver: int,
    nonce: int,
    amount: int,
    expiration_hours: int,
) -> tuple[int, int]:
    positions = _pack(
        (sender, POSITION_ID_BITS, "sender position id"),
        (receiver, POSITION_ID_BITS, "receiver position id"),
        (sender, POSITION_ID_BITS, "sender position id"),
        (nonce, NONCE_BITS, "nonce"),
    )
    amounts = (
        _pack(
            (prefix, 3, "prefix"),
            (amount, AMOUNT_BITS, "amount"),
            (0, AMOUNT_BITS, "max fee"),
            (expiration_hours, EXPIRATION_BITS, "expiration hours"),
        )
        << padding
    )
    return positions, amounts


def compute_starkware_transfer_hash(transfer: StarkwareTransfer) -> FieldElement:
    """Return the hash signed for a transfer (the fee asset id and max fee are 0)."""
    _require_bits(transfer.asset_id_collateral, ASSET_ID_BITS, "collateral asset id")
    _require_bits(transfer.receiver_public_key, PUBLIC_KEY_BITS, "receiver public key")
    positions, amounts = _transfer_parts(
        TRANSFER_PREFIX,
        TRANSFER_PADDING_BITS,
        transfer.sender_position_id,
        transfer.receiver_position_id,
        transfer.nonce,
        transfer.quantums_amount,
        transfer.expiration_epoch_hours,
    )
    assets = pedersen_hash(transfer.asset_id_collateral, 0)
    part_1 = pedersen_hash(assets, transfer.receiver_public_key)
    return pedersen_hash(pedersen_hash(part_1, positions), amounts)


def compute_transfer_hash(**fields: Unpack[HumanTransferFields]) -> FieldElement:
    """Return the hash dydx3's ``SignableTransfer`` signs."""
    return compute_starkware_transfer_hash(
        StarkwareTransfer(
            asset_id_collateral=get_collateral_asset_id(fields["network_id"]),
            sender_position_id=_require_int(fields["sender_position_id"], "sender position id"),
            receiver_position_id=_require_int(
                fields["receiver_position_id"], "receiver position id"
            ),
            receiver_public_key=_require_int(fields["receiver_public_key"], "receiver public key"),
            quantums_amount=_collateral_quantums(fields["human_amount"]),
            nonce=nonce_from_client_id(fields["client_id"]),
            expiration_epoch_hours=compute_expiration_epoch_hours(
                fields["expiration_epoch_seconds"]
            ),
        )
    )


def sign_transfer(
    *, private_key: StarkPrivateKey, **fields: Unpack[HumanTransferFields]
) -> Signature:
    """Sign a transfer as dydx3 does."""
    return sign(compute_transfer_hash(**fields), private_key)


def verify_transfer(
    *, signature: Signature, public_key: StarkPublicKey, **fields: Unpack[HumanTransferFields]
) -> bool:
    """Tell whether ``signature`` signs this transfer; malformed fields give False."""
    return _verify_hash_of(lambda: compute_transfer_hash(**fields), signature, public_key)


def _address_bytes(address: str) -> bytes:
    body = address[2:] if address[:2] in ("0x", "0X") else address
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise ExchangeError(Reason.INVALID_ORDER, f"not an address: {address!r}") from None
    if len(raw) != 20:
        raise ExchangeError(Reason.INVALID_ORDER, f"not a 20-byte address: {address!r}")
    return raw


def compute_transfer_erc20_fact(
    *,
    recipient: str,
    token_decimals: int,
    human_amount: str | Decimal,
    token_address: str,
    salt: int,
) -> bytes:
    """Return the fast-withdrawal fact ``keccak(recipient, amount, token, salt)`` (packed).

    dydx3 converts the amount through a float; here it is exact (and must be a whole
    number of token units), which agrees for every amount a float represents exactly.
    """
    amount = _parse_human(human_amount, "amount")
    units = _to_quantums(amount, 10**token_decimals, _CTX_EXACT, "amount")
    _require_bits(units, 256, "amount")
    _require_bits(salt, 256, "salt")
    return bytes(
        keccak(
            _address_bytes(recipient)
            + units.to_bytes(32, "big")
            + _address_bytes(token_address)
            + salt.to_bytes(32, "big")
        )
    )


def compute_fact_condition(fact_registry_address: str, fact: bytes) -> int:
    """Return the signed condition: ``keccak(registry || fact)`` masked to 250 bits."""
    if not isinstance(fact, bytes) or len(fact) != 32:
        raise ExchangeError(Reason.INVALID_ORDER, "fact must be 32 bytes")
    digest = keccak(_address_bytes(fact_registry_address) + fact)
    return int.from_bytes(digest, "big") & _MASK_250


def compute_starkware_conditional_transfer_hash(
    transfer: StarkwareConditionalTransfer,
) -> FieldElement:
    """Return the hash signed for a conditional transfer."""
    _require_bits(transfer.asset_id_collateral, ASSET_ID_BITS, "collateral asset id")
    _require_bits(transfer.receiver_public_key, PUBLIC_KEY_BITS, "receiver public key")
    _require_bits(transfer.condition, CONDITION_BITS, "condition")
    positions, amounts = _transfer_parts(
        CONDITIONAL_TRANSFER_PREFIX,
        CONDITIONAL_TRANSFER_PADDING_BITS,
        transfer.sender_position_id,
        transfer.receiver_position_id,
        transfer.nonce,
        transfer.quantums_amount,
        transfer.expiration_epoch_hours,
    )
    assets = pedersen_hash(transfer.asset_id_collateral, 0)
    part_1 = pedersen_hash(pedersen_hash(assets, transfer.receiver_public_key), transfer.condition)
    return pedersen_hash(pedersen_hash(part_1, positions), amounts)


def compute_conditional_transfer_hash(
    **fields: Unpack[HumanConditionalTransferFields],
) -> FieldElement:
    """Return the hash dydx3's ``SignableConditionalTransfer`` signs."""
    return compute_starkware_conditional_transfer_hash(
        StarkwareConditionalTransfer(
            asset_id_collateral=get_collateral_asset_id(fields["network_id"]),
            sender_position_id=_require_int(fields["sender_position_id"], "sender position id"),
            receiver_position_id=_require_int(
                fields["receiver_position_id"], "receiver position id"
            ),
            receiver_public_key=_require_int(fields["receiver_public_key"], "receiver public key"),
            condition=compute_fact_condition(fields["fact_registry_address"], fields["fact"]),
            quantums_amount=_collateral_quantums(fields["human_amount"]),
            nonce=nonce_from_client_id(fields["client_id"]),
            expiration_epoch_hours=compute_expiration_epoch_hours(
                fields["expiration_epoch_seconds"]
            ),
        )
    )


def sign_conditional_transfer(
    *, private_key: StarkPrivateKey, **fields: Unpack[HumanConditionalTransferFields]
) -> Signature:
    """Sign a conditional transfer as dydx3 does."""
    return sign(compute_conditional_transfer_hash(**fields), private_key)


def verify_conditional_transfer(
    *,
    signature: Signature,
    public_key: StarkPublicKey,
    **fields: Unpack[HumanConditionalTransferFields],
) -> bool:
    """Tell whether ``signature`` signs this conditional transfer; malformed fields give False."""
    return _verify_hash_of(
        lambda: compute_conditional_transfer_hash(**fields), signature, public_key
    )
