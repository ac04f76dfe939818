"""Watching L1: the ``LogDeposit`` events of ``StarkPerpetual``, read after a cursor.

A user deposits on L1 (approves the ERC-20, calls ``StarkPerpetual.deposit``); the contract
holds the amount as the position's *pending deposit* and emits ``LogDeposit(depositor,
starkKey, positionId, amount)``. The node reads those events in order, after a cursor it
persists with each credit (see :mod:`starkperp.node.settlement`), credits the position on L2
exactly once, and the next batch carries the matching rollup ``Deposit`` that settles the
pending amount on L1.

Two indexes answer "the logs after this cursor" (:class:`LogIndex`):

* :class:`JsonRpcLogIndex`, for any JSON-RPC chain: ``eth_getLogs`` over block ranges of at
  most ``chunk_blocks`` blocks, up to the block ``confirmations`` below the head (a deposit is
  credited only once it is that deep). The cursor of a log is
  :func:`compute_log_cursor` ``(block, logIndex)``, increasing in chain order. Beside the
  cursor of the last credit, the index remembers the last block it has scanned completely
  (:meth:`JsonRpcLogIndex.mark_scanned`, which the node persists once every deposit up to
  it is credited), so a restart does not rescan a long quiet range.
* :class:`EmbeddedLogIndex`, for the embedded chain (titanoboa's py-evm keeps no receipts and
  answers no ``eth_getLogs``): it records the logs of every successful state-changing call on
  the chain as it runs, numbered 1, 2, ... in execution order; that number is the cursor. It
  must be attached before the deposits it should see happen (the node attaches it when it
  deploys or loads the contracts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starkperp.l1.client import L1Client
from starkperp.rollup.hashing import compute_keccak256

__all__ = [
    "LOG_DEPOSIT_TOPIC",
    "DepositWatcher",
    "EmbeddedLogIndex",
    "JsonRpcLogIndex",
    "L1Deposit",
    "LogIndex",
    "RawLog",
    "compute_log_cursor",
]

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


class LogIndex(Protocol):
    """Where the watcher reads logs: after a cursor, one contract's, one event's."""

    def get_logs_after(self, cursor: int, *, address: str, topic0: int) -> list[RawLog]:
        """Return the logs of ``address`` with ``topic0`` after ``cursor``, in chain order."""
        ...

    def mark_scanned(self) -> int:
        """Record that every log the last call returned was handled; return the scanned mark."""
        ...


def compute_log_cursor(block_number: int, log_index: int) -> int:
    """Return the cursor of the log at ``log_index`` in block ``block_number`` (never 0)."""
    return (block_number << 32) + log_index + 1


class JsonRpcLogIndex:
    """Read logs with ``eth_getLogs`` in bounded block ranges, ``confirmations`` deep."""

    def __init__(
        self,
        client: L1Client,
        *,
        confirmations: int = 0,
        chunk_blocks: int = 1000,
        max_chunks: int = 16,
        start_block: int = 0,
        scanned_block: int = -1,
    ) -> None:
        """``start_block``: the first block that can hold a log (the deployment's);
        ``scanned_block``: the last block already scanned and handled (persisted)."""
        if client.is_embedded:
            raise ValueError("JsonRpcLogIndex needs a JSON-RPC chain")
        if confirmations < 0 or chunk_blocks < 1 or max_chunks < 1:
            raise ValueError("confirmations >= 0, chunk_blocks >= 1, max_chunks >= 1")
        self.client = client
        self.confirmations = confirmations
        self.chunk_blocks = chunk_blocks
        self.max_chunks = max_chunks
        self.start_block = start_block
        self.scanned_block = scanned_block
        """Every log up to this block has been returned and handled."""
        self._returned_through = scanned_block
        self.n_requests = 0

    def get_logs_after(self, cursor: int, *, address: str, topic0: int) -> list[RawLog]:
        """Return the logs after ``cursor`` in the next (at most ``max_chunks``) ranges of
        confirmed blocks, in chain order."""
        safe_head = self.client.get_block_number() - self.confirmations
        first = max(self.start_block, cursor >> 32, self.scanned_block + 1)
        out: list[RawLog] = []
        block = first
        for _ in range(self.max_chunks):
            if block > safe_head:
                break
            last = min(safe_head, block + self.chunk_blocks - 1)
            self.n_requests += 1
            for entry in self.client.get_logs(
                address=address, topic0=topic0, from_block=block, to_block=last
            ):
                if entry.get("removed"):
                    continue
                index = compute_log_cursor(
                    int(entry["blockNumber"], 16), int(entry["logIndex"], 16)
                )
                if index > cursor:
                    out.append(
                        RawLog(
                            index=index,
                            address=str(entry["address"]).lower(),
                            topics=tuple(int(t, 16) for t in entry["topics"]),
                            data=bytes.fromhex(str(entry["data"]).removeprefix("0x")),
                        )
                    )
            block = last + 1
        self._returned_through = block - 1
        out.sort(key=lambda log: log.index)
        return out

    def mark_scanned(self) -> int:
        """Record that the logs of the last call are handled; return the last scanned block."""
        self.scanned_block = max(self.scanned_block, self._returned_through)
        return self.scanned_block


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

    def mark_scanned(self) -> int:
        """Return the number of logs recorded (the cursor alone says what was handled)."""
        with self._lock:
            return len(self.logs)

    def get_logs_after(self, cursor: int, *, address: str, topic0: int) -> list[RawLog]:
        """Return the logs of ``address`` with ``topic0`` whose index is above ``cursor``."""
        with self._lock:
            tail = self.logs[max(cursor, 0) :]
        wanted = address.lower()
        return [log for log in tail if log.address == wanted and log.topics[:1] == (topic0,)]


class DepositWatcher:
    """Read ``LogDeposit`` events of the deployed ``StarkPerpetual`` after a cursor."""

    def __init__(self, client: L1Client, index: LogIndex) -> None:
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
