"""A local anvil JSON-RPC chain for the node's settlement tests (skipped when not installed).

anvil comes from npm (``@foundry-rs/anvil-linux-amd64``; CI installs it, see ``.ci/run``).
Set ``STARKPERP_ANVIL`` to its binary, or put ``anvil`` on PATH.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

ANVIL = os.environ.get("STARKPERP_ANVIL") or shutil.which("anvil")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc(url: str, method: str, params: list[object]) -> object:
    """Call one JSON-RPC method; return its result."""
    reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    body = reply.json()
    assert "error" not in body, body
    return body["result"]


def funded_account(url: str) -> LocalAccount:
    """Return a fresh account with 10^22 wei on the anvil chain at ``url``."""
    account = Account.create()
    rpc(url, "anvil_setBalance", [account.address, hex(10**22)])
    return account


@contextmanager
def running_anvil() -> Iterator[str]:
    """Start anvil on a free loopback port; yield its URL; stop it."""
    assert ANVIL is not None
    port = _free_port()
    proc = subprocess.Popen(
        [ANVIL, "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                rpc(url, "eth_blockNumber", [])
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "anvil did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
