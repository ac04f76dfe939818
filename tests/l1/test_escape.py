"""The escape hatch: freeze after an unserved forced request, then every position escapes.

The frozen state is a real rollup state (RPO position tree, shared-state serialization) built
in Python; the contract re-encodes each leaf, hashes it with its on-chain RPO and checks the
Merkle path against the frozen position root.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from starkperp.l1.client import L1Client
from starkperp.l1.config import DAY, L1Config
from starkperp.l1.errors import L1Error
from starkperp.l1.escape import compute_escape_amount, compute_escape_total, get_escape_proof
from starkperp.rollup.config import get_preset as get_rollup_preset
from starkperp.rollup.quantities import FundingIndex, Price, Timestamp
from starkperp.rollup.state import GlobalState, Position, PositionAsset, RollupState
from starkperp.rollup.transactions.forced_withdrawal import ForcedWithdrawal
from tests.l1.conftest import Actors, deploy

FXP = 2**32
BTC_PRICE = 30_000 * 10**6 * FXP // 10**10  # 30,000 USDC per BTC in quanta per quantum
ETH_PRICE = 2_000 * 10**6 * FXP // 10**9


def _asset(balance: int, cached: int) -> PositionAsset:
    return PositionAsset(balance=balance, cached_funding_index=FundingIndex(cached))  # type: ignore[arg-type]


def build_state(keys: dict[str, int]) -> RollupState:
    """A small but realistic frozen state: longs, shorts, stale funding, a negative TV."""
    config = get_rollup_preset("minimal", verify_signatures=False)
    state = RollupState.genesis(config, prices=(BTC_PRICE, ETH_PRICE))
    state.global_state = GlobalState(
        funding_indices=(FundingIndex(3 * FXP // 7), FundingIndex(-5 * FXP // 11)),
        prices=(Price(BTC_PRICE), Price(ETH_PRICE)),
        funding_timestamp=Timestamp(1_700_000_000),
        system_time=Timestamp(1_700_000_100),
    )
    alice, bob, carol = keys["alice"], keys["bob"], keys["carol"]
    positions = {
        2: Position(
            public_key=alice,  # type: ignore[arg-type]
            collateral=-12_345_678_901,  # type: ignore[arg-type]
            assets=(_asset(10**10, 0), _asset(-3 * 10**9, -5 * FXP // 11)),
        ),
        3: Position(
            public_key=bob,  # type: ignore[arg-type]
            collateral=45_000_000_000,  # type: ignore[arg-type]
            assets=(_asset(-(10**10), 3 * FXP // 7), _asset(3 * 10**9, 17)),
        ),
        200: Position(
            public_key=carol,  # type: ignore[arg-type]
            collateral=777_777,  # type: ignore[arg-type]
            assets=(_asset(0, 0), _asset(0, 0)),
        ),
        201: Position(
            public_key=carol,  # type: ignore[arg-type]
            collateral=-50_000_000,  # type: ignore[arg-type]
            assets=(_asset(1, 0), _asset(0, 0)),
        ),
    }
    for pid, pos in positions.items():
        state.set_position(pid, pos)
    state.commit()
    return state


KEYS = {"alice": 0x0A11CE << 200, "bob": (1 << 251) + 0xB0B, "carol": 0xCA401}


@pytest.fixture
def frozen() -> tuple[L1Client, Actors, RollupState]:
    state = build_state(KEYS)
    shared = state.get_shared_state()
    config = L1Config(tree_depth=8, n_assets=2, grace_period=DAY, deposit_cancel_delay=DAY)
    client, a = deploy(config, initial_state_hash=shared.compute_hash())
    owners = {"alice": a.alice, "bob": a.bob, "carol": a.stranger}
    for name, key in KEYS.items():
        client.register_user(
            eth_key=owners[name], stark_key=key, operator_key=a.operator_key, sender=a.deployer
        )
    # The collateral locked on L1 by past (settled) deposits.
    client.mint(client.system.perpetual.address, 10**12, sender=a.deployer)
    request = client.forced_withdrawal_request(
        request=ForcedWithdrawal(
            position_id=2,  # type: ignore[arg-type]
            public_key=KEYS["alice"],  # type: ignore[arg-type]
            amount=1,  # type: ignore[arg-type]
            recipient=int(a.alice, 16),
        ),
        sender=a.alice,
    )
    client.advance_time(DAY + 1)
    client.freeze(request_id=request, sender=a.stranger)
    return client, a, state


def test_every_position_escapes_at_last_prices(
    frozen: tuple[L1Client, Actors, RollupState],
) -> None:
    client, a, state = frozen
    client.set_escape_state(shared_state=state.get_shared_state().encode(), sender=a.stranger)
    paid = 0
    for pid in sorted(state.positions):
        proof = get_escape_proof(state, pid)
        owner = str(client.system.perpetual.ethKeyOf(proof.stark_key))
        before = client.get_pending_withdrawal(owner)
        client.escape(proof=proof, sender=a.stranger)
        credited = client.get_pending_withdrawal(owner) - before
        assert credited == compute_escape_amount(state.get_position(pid), state.global_state)
        assert credited == client.system.perpetual.computeEscapeAmount(
            proof.collateral, list(proof.balances), list(proof.cached_funding_indices)
        )
        paid += credited
    assert paid == compute_escape_total(state)
    vault_before = client.get_token_balance(client.system.perpetual.address)
    for who in (a.alice, a.bob, a.stranger):
        client.withdraw(sender=who)
    received = (
        client.get_token_balance(a.alice)
        + client.get_token_balance(a.bob)
        + client.get_token_balance(a.stranger)
    )
    assert received == paid
    assert client.get_token_balance(client.system.perpetual.address) == vault_before - paid


def test_escape_amount_rounds_against_the_position() -> None:
    state = build_state(KEYS)
    g = state.global_state
    pos = Position(
        public_key=1,  # type: ignore[arg-type]
        collateral=0,  # type: ignore[arg-type]
        assets=(_asset(1, 0), _asset(-1, 0)),
    )
    exact = (BTC_PRICE - ETH_PRICE) / FXP - (3 * FXP // 7 - 5 * FXP // 11) / FXP
    assert compute_escape_amount(pos, g) <= exact


def test_invalid_escape_twice(frozen: tuple[L1Client, Actors, RollupState]) -> None:
    client, a, state = frozen
    client.set_escape_state(shared_state=state.get_shared_state().encode(), sender=a.stranger)
    proof = get_escape_proof(state, 3)
    client.escape(proof=proof, sender=a.stranger)
    with pytest.raises(L1Error, match="already escaped"):
        client.escape(proof=proof, sender=a.bob)


def test_invalid_escape_with_inflated_collateral(
    frozen: tuple[L1Client, Actors, RollupState],
) -> None:
    client, a, state = frozen
    client.set_escape_state(shared_state=state.get_shared_state().encode(), sender=a.stranger)
    proof = get_escape_proof(state, 3)
    with pytest.raises(L1Error, match="position not in the frozen state"):
        client.escape(proof=replace(proof, collateral=proof.collateral + 1), sender=a.bob)
    with pytest.raises(L1Error, match="position not in the frozen state"):
        client.escape(proof=replace(proof, position_id=4), sender=a.bob)


def test_invalid_escape_state_not_the_frozen_one(
    frozen: tuple[L1Client, Actors, RollupState],
) -> None:
    client, a, state = frozen
    other = state.copy()
    other.set_position(9, Position(public_key=5, collateral=1, assets=(_asset(0, 0),) * 2))  # type: ignore[arg-type]
    with pytest.raises(L1Error, match="not the frozen shared state"):
        client.set_escape_state(shared_state=other.get_shared_state().encode(), sender=a.stranger)
    with pytest.raises(L1Error, match="escape state not set"):
        client.escape(proof=get_escape_proof(state, 3), sender=a.bob)


def test_invalid_escape_before_freeze() -> None:
    state = build_state(KEYS)
    shared = state.get_shared_state()
    client, a = deploy(L1Config(tree_depth=8, n_assets=2), initial_state_hash=shared.compute_hash())
    with pytest.raises(L1Error, match="not frozen"):
        client.set_escape_state(shared_state=shared.encode(), sender=a.stranger)
    with pytest.raises(L1Error, match="not frozen"):
        client.escape(proof=get_escape_proof(state, 3), sender=a.stranger)
