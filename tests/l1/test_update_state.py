"""updateState rejections that happen before (or instead of) proof verification.

No StarkVerifier is deployed yet, so no batch is ever accepted here: every test is a
rejection, and the last one shows that a well-formed batch with available data still
reverts for want of a verified proof.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account

from starkperp.l1.client import L1Client, encode_rollup_data, encode_validium_data, sign_digest
from starkperp.l1.config import DAY, L1Config
from starkperp.l1.errors import L1Error
from starkperp.rollup.batch import BatchResult, execute_batch
from starkperp.rollup.config import get_preset as get_rollup_preset
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions.deposit import Deposit
from starkperp.rollup.transactions.forced_withdrawal import ForcedWithdrawal
from tests.l1.conftest import Actors, deploy

KEY = 0x5A11CE
CONFIG = L1Config(tree_depth=8, n_assets=2, grace_period=DAY, deposit_cancel_delay=DAY)


def _batch(batch_number: int = 0) -> tuple[RollupState, BatchResult]:
    rollup_config = get_rollup_preset("minimal", verify_signatures=False)
    genesis = RollupState.genesis(rollup_config, prices=(10**6, 10**5))
    tx = Deposit(position_id=4, public_key=KEY, amount=2_500_000)  # type: ignore[arg-type]
    return genesis, execute_batch(genesis, [tx], batch_number)


def _deployed(validium: bool = False) -> tuple[L1Client, Actors, BatchResult, list]:
    genesis, result = _batch()
    members = [Account.create() for _ in range(3)]
    config = replace(CONFIG, validium=validium, committee_threshold=2 if validium else 0)
    client, a = deploy(
        config,
        initial_state_hash=genesis.get_shared_state().compute_hash(),
        members=tuple(m.address for m in members),
    )
    client.register_user(
        eth_key=a.alice, stark_key=KEY, operator_key=a.operator_key, sender=a.alice
    )
    client.mint(a.alice, 2_500_000, sender=a.deployer)
    client.deposit(stark_key=KEY, position_id=4, amount=2_500_000, sender=a.alice)
    return client, a, result, members


def _submit(client: L1Client, a: Actors, result: BatchResult, sender: str | None = None) -> None:
    client.update_state(
        proof=b"",
        public_input=result.public_input.encode(),
        data=encode_rollup_data(result.da_payload),
        sender=sender or a.operator,
    )


def test_invalid_update_by_non_operator() -> None:
    client, a, result, _ = _deployed()
    with pytest.raises(L1Error, match="only operator"):
        _submit(client, a, result, sender=a.alice)


def test_invalid_update_wrong_batch_id() -> None:
    client, a, _, _ = _deployed()
    _, later = _batch(batch_number=1)
    with pytest.raises(L1Error, match="wrong batch id"):
        _submit(client, a, later)


def test_invalid_update_wrong_previous_state() -> None:
    _, result = _batch()
    client, a = deploy(CONFIG, initial_state_hash=b"\x22" * 32)
    with pytest.raises(L1Error, match="wrong previous state"):
        _submit(client, a, result)


def test_invalid_update_public_input_inconsistent_with_shared_state() -> None:
    client, a, result, _ = _deployed()
    encoded = bytearray(result.public_input.encode())
    ss_len = 32 * (6 + 3 * 2)
    encoded[160 + ss_len + 40] ^= 1  # a byte of the new positions root
    with pytest.raises(L1Error, match="new state mismatch"):
        client.update_state(
            proof=b"",
            public_input=bytes(encoded),
            data=encode_rollup_data(result.da_payload),
            sender=a.operator,
        )


def test_invalid_update_data_not_matching_public_input() -> None:
    client, a, result, _ = _deployed()
    data = bytearray(encode_rollup_data(result.da_payload))
    data[20] ^= 1
    with pytest.raises(L1Error, match="DA payload mismatch"):
        client.update_state(
            proof=b"",
            public_input=result.public_input.encode(),
            data=bytes(data),
            sender=a.operator,
        )


def test_invalid_update_without_verified_proof() -> None:
    client, a, result, _ = _deployed()
    with pytest.raises(L1Error):
        _submit(client, a, result)
    assert client.get_batch_id() == 0
    assert client.get_pending_deposit(KEY, 4) == 2_500_000


def test_invalid_update_when_frozen() -> None:
    client, a, result, _ = _deployed()
    request = client.forced_withdrawal_request(
        request=ForcedWithdrawal(position_id=4, public_key=KEY, amount=1, recipient=0),  # type: ignore[arg-type]
        sender=a.alice,
    )
    client.advance_time(DAY + 1)
    client.freeze(request_id=request, sender=a.stranger)
    with pytest.raises(L1Error, match="frozen"):
        _submit(client, a, result)


def _claim_signatures(client: L1Client, result: BatchResult, members: list) -> list:
    claim = client.get_availability_claim(
        batch_id=0,
        new_state_hash=result.public_input.new_state_hash,
        da_hash=result.public_input.da_hash,
    )
    return [(m.address, sign_digest(bytes(m.key), claim)) for m in members]


def test_invalid_validium_without_quorum() -> None:
    client, a, result, members = _deployed(validium=True)
    signatures = _claim_signatures(client, result, members)
    with pytest.raises(L1Error, match="not enough signatures"):
        client.update_state(
            proof=b"",
            public_input=result.public_input.encode(),
            data=encode_validium_data(signatures[:1]),
            sender=a.operator,
        )
    twice = encode_validium_data(signatures[:1]) * 2
    with pytest.raises(L1Error, match="not strictly increasing"):
        client.update_state(
            proof=b"", public_input=result.public_input.encode(), data=twice, sender=a.operator
        )
    outsider = Account.create()
    claim_sig = _claim_signatures(client, result, [outsider])
    with pytest.raises(L1Error, match="not a member"):
        client.update_state(
            proof=b"",
            public_input=result.public_input.encode(),
            data=encode_validium_data(signatures[:1] + claim_sig),
            sender=a.operator,
        )


def test_validium_quorum_passes_availability_then_needs_a_proof() -> None:
    client, a, result, members = _deployed(validium=True)
    signatures = _claim_signatures(client, result, members)
    committee = client.system.committee
    claim = client.get_availability_claim(
        batch_id=0,
        new_state_hash=result.public_input.new_state_hash,
        da_hash=result.public_input.da_hash,
    )
    ordered = [sig for _, sig in sorted(signatures[:2], key=lambda s: int(s[0], 16))]
    assert committee.verifyAvailability(claim, ordered)
    with pytest.raises(L1Error):
        client.update_state(
            proof=b"",
            public_input=result.public_input.encode(),
            data=encode_validium_data(signatures[:2]),
            sender=a.operator,
        )


def test_proof_inputs_match_the_rollup() -> None:
    client, a, result, _ = _deployed()
    pi = result.public_input
    expected = [int(x) for x in pi.to_field_elements()]
    assert list(client.system.perpetual.proofInputs(pi.encode())) == expected


def test_proof_inputs_with_withdrawals_and_negative_funding() -> None:
    from dataclasses import replace as dc_replace

    from starkperp.rollup.transactions.withdrawal import Withdrawal

    genesis, first = _batch()
    tx = Withdrawal(
        position_id=4,  # type: ignore[arg-type]
        public_key=KEY,  # type: ignore[arg-type]
        amount=1_000_001,  # type: ignore[arg-type]
        recipient=0xBEEF,
        nonce=1,
        expiration_hours=10**6,
    )
    pi = execute_batch(first.state, [tx], 1).public_input
    pi = dc_replace(pi, funding_collateral_change=-12345)
    client, _ = deploy(CONFIG)
    expected = [int(x) for x in pi.to_field_elements()]
    assert list(client.system.perpetual.proofInputs(pi.encode())) == expected
