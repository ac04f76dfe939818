"""The settlement service's L1 side: the durable embedded chain and the deposit watcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from starkperp.l1.client import L1Client
from starkperp.l1.config import DAY, L1Config
from starkperp.node.l1_chain import DurableChain
from starkperp.node.l1_watch import DepositWatcher, EmbeddedLogIndex
from starkperp.node.settlement import BatchRecord, BatchState

STARK_KEY = 0xABC
POSITION = 7
AMOUNT = 5_000_000


def _deploy(client: L1Client) -> tuple[str, str]:
    operator = Account.create()
    deployer = client.new_account()
    client.deploy(
        config=L1Config(tree_depth=8, n_assets=2, grace_period=DAY, deposit_cancel_delay=DAY),
        initial_state_hash=b"\x11" * 32,
        operator=operator.address,
        deployer=deployer,
    )
    user = client.new_account()
    client.register_user(
        eth_key=user, stark_key=STARK_KEY, operator_key=bytes(operator.key), sender=user
    )
    client.mint(user, 3 * AMOUNT, sender=deployer)
    return user, deployer


@pytest.mark.slow
def test_watcher_reads_deposits_after_its_cursor() -> None:
    client = L1Client.embedded()
    index = EmbeddedLogIndex(client)
    user, _ = _deploy(client)
    watcher = DepositWatcher(client, index)
    assert watcher.get_deposits_after(0) == []
    client.deposit(stark_key=STARK_KEY, position_id=POSITION, amount=AMOUNT, sender=user)
    client.deposit(stark_key=STARK_KEY, position_id=POSITION + 1, amount=2 * AMOUNT, sender=user)
    first, second = watcher.get_deposits_after(0)
    assert (first.stark_key, first.position_id, first.amount) == (STARK_KEY, POSITION, AMOUNT)
    assert first.depositor == user.lower()
    assert (second.position_id, second.amount) == (POSITION + 1, 2 * AMOUNT)
    assert first.cursor < second.cursor
    assert watcher.get_deposits_after(first.cursor) == [second]
    assert watcher.get_deposits_after(second.cursor) == []


@pytest.mark.slow
def test_invalid_reverted_deposit_is_not_seen() -> None:
    client = L1Client.embedded()
    index = EmbeddedLogIndex(client)
    user, _ = _deploy(client)
    with pytest.raises(Exception):  # noqa: B017 (more than the allowance: the token reverts)
        client.deposit(stark_key=STARK_KEY, position_id=POSITION, amount=10 * AMOUNT, sender=user)
    assert DepositWatcher(client, index).get_deposits_after(0) == []


@pytest.mark.slow
def test_durable_chain_replays_to_the_same_state(tmp_path: Path) -> None:
    path = str(tmp_path / "chain.sqlite")
    chain = DurableChain(path)
    client = L1Client(chain.env)
    index = EmbeddedLogIndex(client)
    user, _ = _deploy(client)
    chain.save_deployment(client.system)
    client.deposit(stark_key=STARK_KEY, position_id=POSITION, amount=AMOUNT, sender=user)
    client.advance_time(3600)
    (deposit,) = DepositWatcher(client, index).get_deposits_after(0)
    balance = client.get_token_balance(user)
    timestamp = client.get_timestamp()
    chain.close()

    again = DurableChain(path)  # a new process would start exactly like this
    restored = L1Client(again.env)
    restored_index = EmbeddedLogIndex(restored)
    assert again.replay() == again.n_journaled > 0
    assert again.load_deployment(restored)
    assert restored.get_pending_deposit(STARK_KEY, POSITION) == AMOUNT
    assert restored.get_token_balance(user) == balance
    assert restored.get_state_hash() == b"\x11" * 32
    assert restored.get_timestamp() == timestamp
    assert DepositWatcher(restored, restored_index).get_deposits_after(0) == [deposit]
    restored.deposit(stark_key=STARK_KEY, position_id=POSITION, amount=AMOUNT, sender=user)
    assert restored.get_pending_deposit(STARK_KEY, POSITION) == 2 * AMOUNT  # chain goes on
    again.close()


def test_batch_record_round_trips_through_json() -> None:
    record = BatchRecord(
        batch_number=3,
        first_tx=40,
        n_tx=12,
        state=BatchState.SUBMITTING,
        n_trades=5,
        calldata_hash="0x" + "ab" * 32,
        prove_seconds=1.25,
    )
    assert BatchRecord.from_json(record.to_json()) == record
