"""Validium: committee members sign only what they stored and rebuilt; k-of-n on L1."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from starkperp.l1.client import L1Client, get_deployer
from starkperp.l1.committee_member import CommitteeMember, compute_availability_claim
from starkperp.l1.errors import L1Error, L1Reason
from starkperp.rollup.batch import execute_batch
from starkperp.rollup.config import get_preset as get_rollup_preset
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions.deposit import Deposit

PERPETUAL = "0x" + "ab" * 20


def _genesis() -> RollupState:
    config = get_rollup_preset("minimal", verify_signatures=False)
    return RollupState.genesis(config, prices=(10**6, 10**5))


def _deposit(pid: int, amount: int) -> Deposit:
    return Deposit(position_id=10 + pid, public_key=0xABC + pid, amount=amount)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def committee() -> tuple[object, list]:
    members = sorted((Account.create() for _ in range(3)), key=lambda m: int(m.address, 16))
    client = L1Client.embedded()
    contract = get_deployer("Committee").deploy([m.address for m in members], 2, env=client.env)
    return contract, members


def test_members_sign_after_rebuilding(tmp_path: Path, committee: tuple[object, list]) -> None:
    contract, accounts = committee
    genesis = _genesis()
    members = [
        CommitteeMember(private_key=bytes(m.key), genesis=genesis, storage_dir=tmp_path / str(i))
        for i, m in enumerate(accounts)
    ]
    state = genesis
    for batch in range(2):
        result = execute_batch(state, [_deposit(batch + 1, 10**6)], batch)
        pi, payload = result.public_input, result.da_payload.encode()
        signatures = [
            m.sign_batch(perpetual=PERPETUAL, public_input=pi.encode(), payload=payload)
            for m in members
        ]
        claim = compute_availability_claim(
            perpetual=PERPETUAL,
            batch_id=batch,
            new_state_hash=pi.new_state_hash,
            da_hash=pi.da_hash,
        )
        assert bytes(contract.claimHash(PERPETUAL, batch, pi.new_state_hash, pi.da_hash)) == claim  # type: ignore[attr-defined]
        assert contract.verifyAvailability(claim, signatures[:2])  # type: ignore[attr-defined]
        state = result.state
    for i, m in enumerate(members):
        assert m.state.get_shared_state() == state.get_shared_state()
        assert len(list((tmp_path / str(i)).iterdir())) == 2


def test_invalid_member_refuses_tampered_payload() -> None:
    key = bytes(Account.create().key)
    genesis = _genesis()
    member = CommitteeMember(private_key=key, genesis=genesis)
    result = execute_batch(genesis, [_deposit(1, 10**6)], 0)
    other = execute_batch(genesis, [_deposit(1, 10**6 + 1)], 0)
    with pytest.raises(L1Error) as info:
        member.sign_batch(
            perpetual=PERPETUAL,
            public_input=result.public_input.encode(),
            payload=other.da_payload.encode(),
        )
    assert info.value.reason is L1Reason.DA_PAYLOAD_MISMATCH
    assert member.next_batch == 0


def test_invalid_member_refuses_batch_that_skips_ahead() -> None:
    key = bytes(Account.create().key)
    genesis = _genesis()
    member = CommitteeMember(private_key=key, genesis=genesis)
    first = execute_batch(genesis, [_deposit(1, 10**6)], 0)
    second = execute_batch(first.state, [_deposit(2, 10**6)], 1)
    with pytest.raises(L1Error) as info:
        member.sign_batch(
            perpetual=PERPETUAL,
            public_input=second.public_input.encode(),
            payload=second.da_payload.encode(),
        )
    assert info.value.reason is L1Reason.UNKNOWN_BATCH


def test_invalid_committee_threshold() -> None:
    client = L1Client.embedded()
    members = [Account.create().address for _ in range(2)]
    with pytest.raises(L1Error, match="bad threshold"):
        client.transact(lambda: get_deployer("Committee").deploy(members, 3, env=client.env))
    with pytest.raises(L1Error, match="duplicate member"):
        client.transact(
            lambda: get_deployer("Committee").deploy([members[0]] * 2, 1, env=client.env)
        )
