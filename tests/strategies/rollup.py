"""Builders and Hypothesis strategies for rollup states and transactions."""

from __future__ import annotations

from dataclasses import dataclass

import fast_stark_crypto
from hypothesis import strategies as st

from starkperp.rollup.batch import execute_batch
from starkperp.rollup.config import RollupConfig, get_preset
from starkperp.rollup.messages import sign_message
from starkperp.rollup.position import apply_funding
from starkperp.rollup.quantities import (
    AssetId,
    Collateral,
    PositionId,
    PublicKey,
    Quantity,
)
from starkperp.rollup.state import OrderLeaf, RollupState
from starkperp.rollup.transactions import (
    Deposit,
    InsuranceTakeover,
    LimitOrder,
    TakeoverClose,
    Trade,
    Transaction,
    Transfer,
    Withdrawal,
)
from starkperp.rollup.transactions.insurance_takeover import compute_takeover_collateral
from starkperp.rollup.transactions.limit_order import compute_order_hash
from starkperp.rollup.transactions.transfer import compute_transfer_hash
from starkperp.rollup.transactions.withdrawal import compute_withdrawal_hash

BTC_PRICE = 30_000 * 10**6 * 2**32 // 10**10  # $30,000 in 32.32 quanta per BTC quantum
ETH_PRICE = 2_000 * 10**6 * 2**32 // 10**9


@dataclass(frozen=True, slots=True, kw_only=True)
class Trader:
    """A test account: key pair and position."""

    private_key: int
    public_key: PublicKey
    position_id: PositionId


def make_trader(i: int) -> Trader:
    """Return trader ``i`` (positions 2.. so fee and insurance positions stay free)."""
    priv = 0x1234567 + 7919 * i
    return Trader(
        private_key=priv,
        public_key=PublicKey(fast_stark_crypto.get_public_key(priv)),
        position_id=PositionId(2 + i),
    )


def make_config(*, verify_signatures: bool = True, depth: int | None = None) -> RollupConfig:
    """Return the minimal preset (BTC, ETH), optionally with another tree depth."""
    cfg = get_preset("minimal", verify_signatures=verify_signatures)
    if depth is not None:
        from dataclasses import replace

        cfg = replace(cfg, positions_depth=depth, orders_depth=depth)
    return cfg


def make_world(
    config: RollupConfig, n_traders: int, collateral: int = 1_000_000 * 10**6
) -> tuple[RollupState, list[Trader]]:
    """Return a state where ``n_traders`` traders deposited ``collateral`` each."""
    state = RollupState.genesis(config, prices=(BTC_PRICE, ETH_PRICE)[: config.n_assets])
    traders = [make_trader(i) for i in range(n_traders)]
    deposits = [
        Deposit(position_id=t.position_id, public_key=t.public_key, amount=Collateral(collateral))
        for t in traders
    ]
    result = execute_batch(state, deposits, batch_number=0)
    return result.state, traders


def make_order(
    trader: Trader,
    *,
    asset_id: int,
    is_buying: bool,
    amount_synthetic: int,
    amount_collateral: int,
    amount_fee: int,
    nonce: int,
    expiration_hours: int = 10**6,
) -> LimitOrder:
    """Return a signed limit order."""
    order = LimitOrder(
        position_id=trader.position_id,
        public_key=trader.public_key,
        asset_id_synthetic=AssetId(asset_id),
        amount_synthetic=Quantity(amount_synthetic),
        amount_collateral=Collateral(amount_collateral),
        amount_fee=Collateral(amount_fee),
        is_buying_synthetic=is_buying,
        nonce=nonce,
        expiration_hours=expiration_hours,
    )
    sig = sign_message(trader.private_key, compute_order_hash(order))
    return LimitOrder(**{**_fields(order), "signature": sig})


def _fields(obj: object) -> dict[str, object]:
    return {name: getattr(obj, name) for name in obj.__slots__}  # type: ignore[attr-defined]


def make_trade(
    buyer: Trader,
    seller: Trader,
    *,
    asset_id: int,
    amount_synthetic: int,
    amount_collateral: int,
    nonce: int,
    fee_ratio_bps: int = 20,
) -> Trade:
    """Return a full fill between a buy order and a sell order at the same price."""
    fee = amount_collateral * fee_ratio_bps // 10_000
    buy = make_order(
        buyer,
        asset_id=asset_id,
        is_buying=True,
        amount_synthetic=amount_synthetic,
        amount_collateral=amount_collateral,
        amount_fee=fee,
        nonce=nonce,
    )
    sell = make_order(
        seller,
        asset_id=asset_id,
        is_buying=False,
        amount_synthetic=amount_synthetic,
        amount_collateral=amount_collateral,
        amount_fee=fee,
        nonce=nonce,
    )
    return Trade(
        party_a_order=buy,
        party_b_order=sell,
        actual_a_fee=Collateral(fee),
        actual_b_fee=Collateral(fee),
        actual_collateral=Collateral(amount_collateral),
        actual_synthetic=Quantity(amount_synthetic),
    )


def make_transfer(sender: Trader, receiver: Trader, amount: int, nonce: int) -> Transfer:
    """Return a signed transfer."""
    tx = Transfer(
        sender_position_id=sender.position_id,
        sender_public_key=sender.public_key,
        receiver_position_id=receiver.position_id,
        receiver_public_key=receiver.public_key,
        amount=Collateral(amount),
        nonce=nonce,
        expiration_hours=10**6,
    )
    sig = sign_message(sender.private_key, compute_transfer_hash(tx))
    return Transfer(**{**_fields(tx), "signature": sig})


def make_withdrawal(trader: Trader, amount: int, nonce: int, recipient: int = 0xBEEF) -> Withdrawal:
    """Return a signed withdrawal."""
    tx = Withdrawal(
        position_id=trader.position_id,
        public_key=trader.public_key,
        amount=Collateral(amount),
        recipient=recipient,
        nonce=nonce,
        expiration_hours=10**6,
    )
    sig = sign_message(trader.private_key, compute_withdrawal_hash(tx))
    return Withdrawal(**{**_fields(tx), "signature": sig})


@st.composite
def transaction_lists(
    draw: st.DrawFn, traders: list[Trader], config: RollupConfig
) -> list[Transaction]:
    """Draw a mix of deposits, trades, transfers and withdrawals (some may be rejected)."""
    n = draw(st.integers(min_value=1, max_value=12))
    txs: list[Transaction] = []
    for k in range(n):
        kind = draw(st.sampled_from(["deposit", "trade", "trade", "transfer", "withdrawal"]))
        a, b = draw(st.permutations(traders))[:2]
        nonce = draw(st.integers(min_value=0, max_value=2**32 - 1))
        if kind == "deposit":
            amount = draw(st.integers(min_value=1, max_value=10**12))
            txs.append(
                Deposit(
                    position_id=a.position_id, public_key=a.public_key, amount=Collateral(amount)
                )
            )
        elif kind == "trade":
            asset = draw(st.sampled_from(config.asset_ids))
            synth = draw(st.integers(min_value=1, max_value=10**9))
            price = BTC_PRICE if asset == config.asset_ids[0] else ETH_PRICE
            coll = synth * price * draw(st.integers(min_value=90, max_value=110)) // (100 * 2**32)
            txs.append(
                make_trade(
                    a,
                    b,
                    asset_id=asset,
                    amount_synthetic=synth,
                    amount_collateral=max(coll, 1),
                    nonce=nonce,
                )
            )
        elif kind == "transfer":
            amount = draw(st.integers(min_value=1, max_value=10**12))
            txs.append(make_transfer(a, b, amount, nonce))
        else:
            amount = draw(st.integers(min_value=1, max_value=10**12))
            txs.append(make_withdrawal(a, amount, nonce + k))
    return txs


@st.composite
def order_leaves(draw: st.DrawFn) -> OrderLeaf:
    """Draw a used order leaf v2: a message hash, its signed limits, a fill within them."""
    amount = draw(st.integers(min_value=1, max_value=2**62 - 1))
    return OrderLeaf(
        message_hash=draw(st.integers(min_value=1, max_value=2**251)),
        filled=draw(st.integers(min_value=0, max_value=amount)),
        amount=amount,
        amount_collateral=draw(st.integers(min_value=0, max_value=2**64 - 1)),
        amount_fee=draw(st.integers(min_value=0, max_value=2**64 - 1)),
        is_buying=draw(st.booleans()),
        expiration_hours=draw(st.integers(min_value=0, max_value=2**32 - 1)),
    )


def make_takeover(
    state: RollupState,
    position_id: int,
    *,
    penalty: int = 0,
    insurance_payment: int = 0,
) -> InsuranceTakeover:
    """Return the takeover of every balance of ``position_id`` at the state's oracle prices."""
    config = state.config
    funded = apply_funding(state.get_position(position_id), state.global_state)
    closes = tuple(
        TakeoverClose(
            asset_id=asset.asset_id,
            balance=Quantity(slot.balance),
            collateral=compute_takeover_collateral(slot.balance, price),
        )
        for asset, slot, price in zip(
            config.assets, funded.assets, state.global_state.prices, strict=True
        )
        if slot.balance
    )
    return InsuranceTakeover(
        liquidated_position_id=PositionId(position_id),
        closes=closes,
        penalty=Collateral(penalty),
        insurance_payment=Collateral(insurance_payment),
    )
