"""Watching L1: the ``LogDeposit`` events of ``StarkPerpetual``, read after a cursor.

A user deposits on L1 (approves the ERC-20, calls ``StarkPerpetual.deposit``); the contract
holds the amount as the position's *pending deposit* and emits ``LogDeposit(depositor,
starkKey, positionId, amount)``. The node reads those events in order, after a cursor it
persists with each credit (see :mod:`starkperp.node.settlement`), credits the position on L2
exactly once, and the next batch carries the matching rollup ``Deposit`` that settles the
pending amount on L1.

The embedded chain (titanoboa's py-evm) keeps no receipts and answers no ``eth_getLogs``, so
:class:`EmbeddedLogIndex` records the logs of every successful state-changing call on the
chain as it runs, numbered 1, 2, ... in execution order: that number is the cursor. It must be
attached before the deposits it should see happen (the node attaches it when it deploys or
loads the contracts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starkperp.l1.client import L1Client
from starkperp.rollup.hashing import compute_keccak256

__all__ = ["LOG_DEPOSIT_TOPIC", "DepositWatcher", "EmbeddedLogIndex", "L1Deposit", "RawLog"]

LOG_DEPOSIT_TOPIC = int.from_bytes(
    compute_keccak256(b"LogDeposit(address,uint256,uint256,uint256)"), "big"
)
"""topic0 of ``LogDeposit(indexed address depositor, indexed uint256 starkKey, positionId,
amount)``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RawLog:
    """One EVM log: its index on the chain (the cursor), emitter, topics and data."""

    index: int
    address: str
    topics: tuple[int, ...]
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class L1Deposit:
    """A ``LogDeposit`` event: who paid, to which STARK key and position, how much."""

    cursor: int
    depositor: str
    stark_key: int
    position_id: int
    amount: int


class EmbeddedLogIndex:
    """Record the logs of every successful state-changing call on an embedded chain."""

    def __init__(self, client: L1Client) -> None:
        if not client.is_embedded:
            raise ValueError("EmbeddedLogIndex needs the embedded py-evm chain")
        self._lock = threading.Lock()
        self.logs: list[RawLog] = []
        env = client.env
        original: Callable[..., Any] = env.execute_code

        def execute_code(*args: Any, **kwargs: Any) -> Any:
            computation = original(*args, **kwargs)
            if kwargs.get("is_modifying", True) and not kwargs.get("simulate", False):
                self._record(computation)
            return computation

        env.execute_code = execute_code  # type: ignore[method-assign]

    def _record(self, computation: Any) -> None:
        if computation.is_error:
            return
        with self._lock:
            for _, address, topics, data in computation.get_raw_log_entries():
                self.logs.append(
                    RawLog(
                        index=len(self.logs) + 1,
                        address="0x" + bytes(address).hex(),
                        topics=tuple(int(t) for t in topics),
                        data=bytes(data),
                    )
                )

    def get_logs_after(self, cursor: int, *, address: str, topic0: int) -> list[RawLog]:
        """Return the logs of ``address`` with ``topic0`` whose index is above ``cursor``."""
        with self._lock:
            tail = self.logs[max(cursor, 0) :]
        wanted = address.lower()
        return [log for log in tail if log.address == wanted and log.topics[:1] == (topic0,)]


class DepositWatcher:
    """Read ``LogDeposit`` events of the deployed ``StarkPerpetual`` after a cursor."""

    def __init__(self, client: L1Client, index: EmbeddedLogIndex) -> None:
        self.client = client
        self.index = index

    def get_deposits_after(self, cursor: int) -> list[L1Deposit]:
        """Return the deposits emitted after ``cursor``, in chain order."""
        address = str(self.client.system.perpetual.address)
        out = []
        for log in self.index.get_logs_after(cursor, address=address, topic0=LOG_DEPOSIT_TOPIC):
            if len(log.topics) != 3 or len(log.data) != 64:
                continue
            out.append(
                L1Deposit(
                    cursor=log.index,
                    depositor="0x" + log.topics[1].to_bytes(32, "big")[12:].hex(),
                    stark_key=log.topics[2],
                    position_id=int.from_bytes(log.data[:32], "big"),
                    amount=int.from_bytes(log.data[32:], "big"),
                )
            )
        return out
