"""The JSON-RPC deposit watcher's block-range cursor, against a scripted chain (no node)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from starkperp.cli.main import app
from starkperp.node.config import SettlementConfig
from starkperp.node.l1_watch import (
    LOG_DEPOSIT_TOPIC,
    DepositWatcher,
    JsonRpcLogIndex,
    compute_log_cursor,
)

PERPETUAL = "0x" + "ab" * 20


class ScriptedChain:
    """What the index asks of an ``L1Client``: the head, and ``eth_getLogs`` per range."""

    is_embedded = False

    def __init__(self) -> None:
        self.head = 0
        self.logs: list[dict[str, Any]] = []
        self.ranges: list[tuple[int, int]] = []
        self.system = type("System", (), {"perpetual": type("P", (), {"address": PERPETUAL})})

    def deposit(self, block: int, log_index: int, amount: int) -> None:
        topics = [LOG_DEPOSIT_TOPIC, 0xD0, 0x5A11CE]
        self.logs.append(
            {
                "address": PERPETUAL,
                "blockNumber": hex(block),
                "logIndex": hex(log_index),
                "topics": ["0x" + t.to_bytes(32, "big").hex() for t in topics],
                "data": "0x" + (7).to_bytes(32, "big").hex() + amount.to_bytes(32, "big").hex(),
            }
        )

    def get_block_number(self) -> int:
        return self.head

    def get_logs(
        self, *, address: str, topic0: int, from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        assert address == PERPETUAL and topic0 == LOG_DEPOSIT_TOPIC
        self.ranges.append((from_block, to_block))
        return [log for log in self.logs if from_block <= int(log["blockNumber"], 16) <= to_block]


def _index(chain: ScriptedChain, **kwargs: Any) -> JsonRpcLogIndex:
    return JsonRpcLogIndex(chain, **kwargs)  # type: ignore[arg-type]


def _watch(chain: ScriptedChain, index: JsonRpcLogIndex, cursor: int) -> list[int]:
    watcher = DepositWatcher(chain, index)  # type: ignore[arg-type]
    return [d.amount for d in watcher.get_deposits_after(cursor)]


def test_ranges_are_bounded_and_confirmed() -> None:
    chain = ScriptedChain()
    chain.head = 100
    chain.deposit(10, 0, 1)
    chain.deposit(10, 3, 2)
    chain.deposit(95, 1, 3)
    index = _index(chain, confirmations=6, chunk_blocks=25, max_chunks=3, start_block=5)
    assert _watch(chain, index, 0) == [1, 2]
    assert chain.ranges == [(5, 29), (30, 54), (55, 79)]  # three chunks per poll at most
    index.mark_scanned()
    chain.ranges.clear()
    assert _watch(chain, index, compute_log_cursor(10, 3)) == []
    assert chain.ranges == [(80, 94)]  # block 95 is not 6 deep yet
    index.mark_scanned()
    chain.head = 101
    assert _watch(chain, index, compute_log_cursor(10, 3)) == [3]
    assert index.mark_scanned() == 95


def test_unhandled_logs_are_returned_again() -> None:
    chain = ScriptedChain()
    chain.head = 50
    chain.deposit(20, 0, 1)
    chain.deposit(30, 0, 2)
    index = _index(chain, start_block=0)
    assert _watch(chain, index, 0) == [1, 2]
    # the first was credited, the second not (node busy): no mark_scanned, cursor at the first
    assert _watch(chain, index, compute_log_cursor(20, 0)) == [2]
    assert index.mark_scanned() == 50
    assert _watch(chain, index, compute_log_cursor(30, 0)) == []


def test_restart_resumes_after_the_scanned_block() -> None:
    chain = ScriptedChain()
    chain.head = 5000
    chain.deposit(4000, 0, 1)
    index = _index(chain, chunk_blocks=1000, start_block=0, scanned_block=3999)
    assert _watch(chain, index, 0) == [1]
    assert chain.ranges == [(4000, 4999), (5000, 5000)]


def test_cursor_orders_logs_by_chain_position() -> None:
    assert 0 < compute_log_cursor(0, 0) < compute_log_cursor(0, 1) < compute_log_cursor(1, 0)


def test_invalid_watcher_settings() -> None:
    chain = ScriptedChain()
    with pytest.raises(ValueError):
        _index(chain, chunk_blocks=0)
    with pytest.raises(ValueError):
        _index(chain, confirmations=-1)
    with pytest.raises(ValueError):
        SettlementConfig(l1_confirmations=-1)
    with pytest.raises(ValueError):
        SettlementConfig(l1_log_chunk_blocks=0)


def test_invalid_cli_json_rpc_settlement_without_key(tmp_path: Any) -> None:
    db = str(tmp_path / "node.sqlite")
    base = ["node", "--db", db, "--preset", "minimal", "--settle", "--l1-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, base, env={"STARKPERP_L1_KEY": ""})
    assert result.exit_code == 2 and "--l1-key" in result.output
    result = CliRunner().invoke(app, [*base, "--l1-key", "0xnothex"])
    assert result.exit_code == 2 and "bad L1 private key" in result.output
