"""StarkPerpetual on the embedded EVM: users, deposits, forced requests, freeze, config."""

from __future__ import annotations

import pytest

from starkperp.l1.client import L1Client, sign_digest
from starkperp.l1.config import DAY
from starkperp.l1.errors import L1Error, L1Reason
from starkperp.rollup.transactions.forced_trade import ForcedTrade
from starkperp.rollup.transactions.forced_withdrawal import ForcedWithdrawal
from tests.l1.conftest import Actors

ALICE_KEY = 0x5A11CE
BOB_KEY = 0xB0B


def _register(client: L1Client, a: Actors) -> None:
    client.register_user(
        eth_key=a.alice, stark_key=ALICE_KEY, operator_key=a.operator_key, sender=a.alice
    )
    client.register_user(
        eth_key=a.bob, stark_key=BOB_KEY, operator_key=a.operator_key, sender=a.bob
    )


def _fund(client: L1Client, a: Actors, who: str, amount: int) -> None:
    client.mint(who, amount, sender=a.deployer)


def test_token_has_six_decimals(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    assert client.system.token.decimals() == 6
    _fund(client, a, a.alice, 5_000_000)
    assert client.get_token_balance(a.alice) == 5_000_000


def test_invalid_mint_by_non_minter(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    with pytest.raises(L1Error, match="only minter"):
        client.mint(a.alice, 1, sender=a.alice)


def test_register_user_with_operator_signature(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    assert client.system.perpetual.ethKeyOf(ALICE_KEY) == a.alice


def test_invalid_register_without_operator_signature(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    digest = client.get_registration_digest(a.alice, ALICE_KEY)
    forged = sign_digest(a.alice_key, digest)
    with pytest.raises(L1Error, match="not signed by operator") as info:
        client.transact(
            lambda: client.system.perpetual.registerUser(a.alice, ALICE_KEY, forged, sender=a.alice)
        )
    assert info.value.reason is L1Reason.CONTRACT_REVERTED


def test_invalid_register_twice(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    with pytest.raises(L1Error, match="stark key registered"):
        client.register_user(
            eth_key=a.bob, stark_key=ALICE_KEY, operator_key=a.operator_key, sender=a.bob
        )


def test_deposit_moves_tokens_to_pending(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    _fund(client, a, a.alice, 1_000_000)
    client.deposit(stark_key=ALICE_KEY, position_id=7, amount=400_000, sender=a.alice)
    client.deposit(stark_key=ALICE_KEY, position_id=7, amount=100_000, sender=a.alice)
    assert client.get_pending_deposit(ALICE_KEY, 7) == 500_000
    assert client.get_token_balance(a.alice) == 500_000
    assert client.get_token_balance(client.system.perpetual.address) == 500_000


def test_invalid_deposit_to_unregistered_key(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _fund(client, a, a.alice, 1_000)
    with pytest.raises(L1Error, match="not registered"):
        client.deposit(stark_key=ALICE_KEY, position_id=1, amount=10, sender=a.alice)
    assert client.get_token_balance(a.alice) == 1_000


def test_invalid_deposit_without_allowance(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    _fund(client, a, a.alice, 1_000)
    with pytest.raises(L1Error, match="allowance too low"):
        client.transact(lambda: client.system.perpetual.deposit(ALICE_KEY, 1, 10, sender=a.alice))


def test_deposit_cancel_and_reclaim_after_delay(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    _fund(client, a, a.alice, 1_000)
    client.deposit(stark_key=ALICE_KEY, position_id=3, amount=600, sender=a.alice)
    client.deposit_cancel(stark_key=ALICE_KEY, position_id=3, sender=a.alice)
    with pytest.raises(L1Error, match="cancel delay not passed"):
        client.deposit_reclaim(stark_key=ALICE_KEY, position_id=3, sender=a.alice)
    client.advance_time(DAY + 1)
    client.deposit_reclaim(stark_key=ALICE_KEY, position_id=3, sender=a.alice)
    assert client.get_token_balance(a.alice) == 1_000
    assert client.get_pending_deposit(ALICE_KEY, 3) == 0


def test_invalid_reclaim_without_cancel(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    _fund(client, a, a.alice, 1_000)
    client.deposit(stark_key=ALICE_KEY, position_id=3, amount=600, sender=a.alice)
    client.advance_time(10 * DAY)
    with pytest.raises(L1Error, match="no cancellation requested"):
        client.deposit_reclaim(stark_key=ALICE_KEY, position_id=3, sender=a.alice)


def test_invalid_cancel_by_stranger(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    with pytest.raises(L1Error, match="not the key owner"):
        client.deposit_cancel(stark_key=ALICE_KEY, position_id=3, sender=a.stranger)


def test_invalid_withdraw_nothing_pending(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    with pytest.raises(L1Error, match="nothing to withdraw"):
        client.withdraw(sender=a.alice)


def test_forced_withdrawal_freezes_after_grace_period(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    request = client.forced_withdrawal_request(request=_fw(5, 123), sender=a.alice)
    assert client.get_request_time(request) == client.get_timestamp()
    with pytest.raises(L1Error, match="grace period not over"):
        client.freeze(request_id=request, sender=a.stranger)
    client.advance_time(DAY + 1)
    client.freeze(request_id=request, sender=a.stranger)
    assert client.is_frozen()
    _fund(client, a, a.alice, 10)
    with pytest.raises(L1Error, match="frozen"):
        client.deposit(stark_key=ALICE_KEY, position_id=5, amount=10, sender=a.alice)


def test_invalid_freeze_without_request(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    client.advance_time(30 * DAY)
    with pytest.raises(L1Error, match="no such request"):
        client.freeze(request_id=b"\x01" * 32, sender=a.stranger)


def test_invalid_forced_withdrawal_by_stranger(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    with pytest.raises(L1Error, match="not the key owner"):
        client.forced_withdrawal_request(request=_fw(5, 1), sender=a.stranger)


def test_invalid_forced_withdrawal_duplicate(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    client.forced_withdrawal_request(request=_fw(5, 1), sender=a.alice)
    with pytest.raises(L1Error, match="already pending"):
        client.forced_withdrawal_request(request=_fw(5, 1), sender=a.alice)


def _fw(position_id: int, amount: int) -> ForcedWithdrawal:
    return ForcedWithdrawal(
        position_id=position_id,  # type: ignore[arg-type]
        public_key=ALICE_KEY,  # type: ignore[arg-type]
        amount=amount,  # type: ignore[arg-type]
        recipient=0,
    )


def _trade(nonce: int = 1) -> ForcedTrade:
    return ForcedTrade(
        position_a=5,  # type: ignore[arg-type]
        public_key_a=ALICE_KEY,  # type: ignore[arg-type]
        position_b=6,  # type: ignore[arg-type]
        public_key_b=BOB_KEY,  # type: ignore[arg-type]
        synthetic_asset_id=int.from_bytes(b"ETH-USD", "big"),  # type: ignore[arg-type]
        amount_collateral=2_000_000,  # type: ignore[arg-type]
        amount_synthetic=1_000_000_000,  # type: ignore[arg-type]
        is_party_a_buying_synthetic=True,
        nonce=nonce,
        expiration_hours=500_000,
    )


def test_request_ids_match_the_rollup(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    trade = _trade()
    assert client.get_forced_trade_id(trade) == trade.compute_request_id()
    request = client.forced_withdrawal_request(request=_fw(5, 77), sender=a.alice)
    expected = ForcedWithdrawal(
        position_id=5,  # type: ignore[arg-type]
        public_key=ALICE_KEY,  # type: ignore[arg-type]
        amount=77,  # type: ignore[arg-type]
        recipient=int(a.alice, 16),
    ).compute_request_id()
    assert request == expected
    assert client.get_request_time(expected) > 0


def test_forced_trade_signed_by_counterparty(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    trade = _trade()
    signature = sign_digest(a.bob_key, client.get_forced_trade_id(trade))
    request = client.forced_trade_request(request=trade, signature_b=signature, sender=a.alice)
    assert client.get_request_time(request) > 0
    client.advance_time(DAY + 1)
    client.freeze(request_id=request, sender=a.stranger)
    assert client.is_frozen()


def test_invalid_forced_trade_not_signed_by_counterparty(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    _register(client, a)
    trade = _trade()
    signature = sign_digest(a.alice_key, client.get_forced_trade_id(trade))
    with pytest.raises(L1Error, match="not signed by counterparty"):
        client.forced_trade_request(request=trade, signature_b=signature, sender=a.alice)
    other = sign_digest(a.bob_key, client.get_forced_trade_id(_trade(nonce=2)))
    with pytest.raises(L1Error, match="not signed by counterparty"):
        client.forced_trade_request(request=trade, signature_b=other, sender=a.alice)


def test_config_takes_effect_only_after_delay(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    key, value = b"\x01".rjust(32, b"\x00"), b"\xab" * 32
    client.propose_config(key=key, value=value, sender=a.deployer)
    with pytest.raises(L1Error, match="config delay not passed"):
        client.apply_config(key=key, sender=a.stranger)
    assert client.get_config(key) == b"\x00" * 32
    client.advance_time(DAY)
    client.apply_config(key=key, sender=a.stranger)
    assert client.get_config(key) == value


def test_invalid_config_proposal_by_non_governor(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    with pytest.raises(L1Error, match="only governor"):
        client.propose_config(key=b"\x01" * 32, value=b"\x02" * 32, sender=a.operator)


def test_invalid_set_operator_by_stranger(system: tuple[L1Client, Actors]) -> None:
    client, a = system
    with pytest.raises(L1Error, match="only governor"):
        client.transact(lambda: client.system.perpetual.setOperator(a.stranger, sender=a.stranger))
