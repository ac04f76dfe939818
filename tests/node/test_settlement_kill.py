"""SIGKILL a settling node (``starkperp node --settle``) and restart it over the same files.

The embedded chain comes back from its journal with the same contracts and state, and the
settled batch is recognised as settled (sending it again would revert with "wrong batch id"
and halt settlement).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.node.nodeproc import NodeProcess

pytestmark = pytest.mark.slow


def _settlement(node: NodeProcess) -> dict[str, Any]:
    status = httpx.get(f"{node.url}/v3/status", timeout=10).json()
    return dict(status["settlement"])


def _wait(node: NodeProcess, predicate: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = _settlement(node)
        assert not status["halted"], status["halted"]
        if predicate(status):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.5)


def test_sigkill_and_restart_keeps_l1_and_never_resubmits(tmp_path: Path) -> None:
    db = tmp_path / "node.sqlite"
    extra = ["--settle", "--batch-age", "1"]
    node = NodeProcess(db, extra=extra)
    node.start(timeout=120)
    try:
        # batch 0 holds the genesis oracle prices; it closes after 1 s and settles
        first = _wait(node, lambda s: s["batches"].get("SETTLED") == 1, timeout=600)
        assert first["l1BatchId"] == 1
        perpetual, l1_hash = first["perpetual"], first["l1StateHash"]
    finally:
        node.kill()

    again = NodeProcess(db, extra=extra)
    again.start(timeout=120)
    try:
        status = _wait(again, lambda s: s["ready"], timeout=300)
        assert status["perpetual"] == perpetual  # the same contracts, replayed
        assert status["l1BatchId"] == 1 and status["l1StateHash"] == l1_hash
        assert status["batches"] == {"SETTLED": 1}
        assert status["lastBatch"]["new_state_hash"] == l1_hash
    finally:
        again.stop()
    assert (tmp_path / "node.sqlite.l1.sqlite").exists()
