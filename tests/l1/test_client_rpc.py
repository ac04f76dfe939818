"""The same client over JSON-RPC, against a local anvil node when one is installed.

No Ethereum JSON-RPC node installs from PyPI here; anvil comes from npm
(``@foundry-rs/anvil-linux-amd64``). Set ``STARKPERP_ANVIL`` to its binary (or put ``anvil``
on PATH) to run this test; otherwise it is skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from eth_account import Account

from starkperp.l1.client import L1Client
from starkperp.l1.config import L1Config
from starkperp.rollup.transactions.forced_withdrawal import ForcedWithdrawal

ANVIL = os.environ.get("STARKPERP_ANVIL") or shutil.which("anvil")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def anvil_url() -> Iterator[str]:
    if not ANVIL:
        pytest.skip("no anvil binary (set STARKPERP_ANVIL)")
    port = _free_port()
    proc = subprocess.Popen(
        [ANVIL, "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_client_over_json_rpc(anvil_url: str) -> None:
    accounts = [Account.create() for _ in range(3)]
    client = L1Client.connect(anvil_url, [bytes(a.key) for a in accounts])
    assert not client.is_embedded
    for a in accounts:
        client.env._rpc.fetch("anvil_setBalance", [a.address, hex(10**21)])  # type: ignore[attr-defined]
    deployer, operator, alice = accounts
    client.deploy(
        config=L1Config(tree_depth=8, n_assets=2, grace_period=100),
        initial_state_hash=b"\x11" * 32,
        operator=operator.address,
        deployer=deployer.address,
    )
    key = 0x5A11CE
    client.register_user(
        eth_key=alice.address, stark_key=key, operator_key=bytes(operator.key), sender=alice.address
    )
    client.mint(alice.address, 1_000_000, sender=deployer.address)
    client.deposit(stark_key=key, position_id=7, amount=250_000, sender=alice.address)
    assert client.get_pending_deposit(key, 7) == 250_000
    assert client.get_token_balance(alice.address) == 750_000
    request = client.forced_withdrawal_request(
        request=ForcedWithdrawal(position_id=7, public_key=key, amount=1, recipient=0),  # type: ignore[arg-type]
        sender=alice.address,
    )
    assert client.get_request_time(request) > 0
    client.advance_time(101)
    client.freeze(request_id=request, sender=deployer.address)
    assert client.is_frozen()
