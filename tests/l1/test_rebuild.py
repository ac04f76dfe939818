"""Rebuilding the L2 state from updateState calldata alone (rollup mode), then escaping."""

from __future__ import annotations

import pytest

from starkperp.l1.client import L1Client, encode_rollup_data, get_deployer
from starkperp.l1.config import DAY, L1Config
from starkperp.l1.errors import L1Error, L1Reason
from starkperp.l1.escape import (
    compute_escape_total,
    decode_update_state_calldata,
    get_escape_proof,
    rebuild_state_from_calldata,
)
from starkperp.rollup.batch import BatchResult, execute_batch
from starkperp.rollup.config import get_preset as get_rollup_preset
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions.deposit import Deposit
from starkperp.rollup.transactions.forced_withdrawal import ForcedWithdrawal
from tests.l1.conftest import deploy

KEYS = (0xA11CE, 0xB0B, 0xCA401)


def _batches() -> tuple[RollupState, list[BatchResult]]:
    config = get_rollup_preset("minimal", verify_signatures=False)
    genesis = RollupState.genesis(config, prices=(10**6, 10**5))
    state, results = genesis, []
    for b in range(3):
        txs = [
            Deposit(position_id=10 + i, public_key=key, amount=(b + 1) * 1_000_003 + i)  # type: ignore[arg-type]
            for i, key in enumerate(KEYS)
            if (b + i) % 3 != 2
        ]
        result = execute_batch(state, txs, b)
        results.append(result)
        state = result.state
    return genesis, results


def _calldata(results: list[BatchResult]) -> list[bytes]:
    client = L1Client.embedded()
    perpetual = get_deployer("StarkPerpetual").deploy(
        *(["0x" + "00" * 20] * 4),
        "0x" + "00" * 20,
        b"\x00" * 32,
        8,
        2,
        DAY,
        DAY,
        DAY,
        env=client.env,
    )
    return [
        bytes(
            perpetual.updateState.prepare_calldata(
                b"", r.public_input.encode(), encode_rollup_data(r.da_payload)
            )
        )
        for r in results
    ]


def test_rebuilt_state_equals_operator_state_and_escapes() -> None:
    genesis, results = _batches()
    calldata = _calldata(results)
    call = decode_update_state_calldata(calldata[0])
    assert call.public_input == results[0].public_input.encode()
    rebuilt = rebuild_state_from_calldata(genesis, calldata)
    operator = results[-1].state
    assert rebuilt.get_shared_state() == operator.get_shared_state()
    assert rebuilt.positions == operator.positions

    shared = rebuilt.get_shared_state()
    client, a = deploy(L1Config(tree_depth=8, n_assets=2, grace_period=DAY), shared.compute_hash())
    owners = (a.alice, a.bob, a.stranger)
    for key, owner in zip(KEYS, owners, strict=True):
        client.register_user(
            eth_key=owner, stark_key=key, operator_key=a.operator_key, sender=owner
        )
    total = compute_escape_total(rebuilt)
    client.mint(client.system.perpetual.address, total, sender=a.deployer)
    request = client.forced_withdrawal_request(
        request=ForcedWithdrawal(position_id=10, public_key=KEYS[0], amount=1, recipient=0),  # type: ignore[arg-type]
        sender=a.alice,
    )
    client.advance_time(DAY + 1)
    client.freeze(request_id=request, sender=a.stranger)
    client.set_escape_state(shared_state=shared.encode(), sender=a.stranger)
    for pid in sorted(rebuilt.positions):
        client.escape(proof=get_escape_proof(rebuilt, pid), sender=a.stranger)
    for owner in owners:
        client.withdraw(sender=owner)
    assert sum(client.get_token_balance(o) for o in owners) == total
    assert client.get_token_balance(client.system.perpetual.address) == 0


def test_invalid_rebuild_from_tampered_calldata() -> None:
    genesis, results = _batches()
    calldata = _calldata(results)
    tampered = bytearray(calldata[1])
    tampered[-40] ^= 1  # inside the data argument
    with pytest.raises(L1Error) as info:
        rebuild_state_from_calldata(genesis, [calldata[0], bytes(tampered)])
    assert info.value.reason is L1Reason.DA_PAYLOAD_MISMATCH


def test_invalid_rebuild_with_a_missing_batch() -> None:
    genesis, results = _batches()
    calldata = _calldata(results)
    with pytest.raises(L1Error) as info:
        rebuild_state_from_calldata(genesis, [calldata[0], calldata[2]])
    assert info.value.reason is L1Reason.STATE_HASH_MISMATCH
