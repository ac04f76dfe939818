"""The sequencer: one command at a time through the engine, acknowledged after the log commit.

A command is a callable that runs one exchange request (the engine checks signature, nonce /
client-id replay and margin, and decides). If the engine refuses it, nothing was emitted and
nothing is logged. Otherwise the events it produced, with any node-level data and the read
model rows derived from them, join the *pending group*. A single flusher commits whole groups
to the :class:`~starkperp.node.log.LogStore` in a worker thread (group commit: while one group
is being made durable, the next accumulates), and only then are the callers' awaits released —
an order is acknowledged only after its record is durable. Groups commit in order, so a crash
loses at most a suffix of unacknowledged commands, which is exactly what the in-memory state
had beyond the log. If a commit fails the node's memory is ahead of its log: the sequencer
stops taking commands (the operator restarts, and recovery replays the log).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starkperp.exchange.engine import Exchange
from starkperp.exchange.events import Event
from starkperp.node.codec import encode_event
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.log import LogEntry, LogStore, RowWrite

__all__ = ["Committed", "Sequencer"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Committed:
    """A command after its commit: sequence number, events, rows, and book sequence numbers."""

    seq: int
    kind: str
    events: tuple[Event, ...]
    writes: tuple[RowWrite, ...]
    book_seqs: dict[str, int]


@dataclass(slots=True)
class _Pending:
    entry: LogEntry
    writes: list[RowWrite]
    events: tuple[Event, ...]
    book_seqs: dict[str, int]
    future: asyncio.Future[int] | None


Projector = Callable[[Sequence[Event], dict[str, Any] | None], list[RowWrite]]
Listener = Callable[[Sequence[Committed]], None]


class Sequencer:
    """Serialises commands through the engine and group-commits them to the log."""

    def __init__(
        self,
        *,
        exchange: Exchange,
        store: LogStore,
        projector: Projector,
        clock_ms: Callable[[], int],
        on_commit: Callable[[float, int], None] | None = None,
    ) -> None:
        self.exchange = exchange
        self.store = store
        self.projector = projector
        self.clock_ms = clock_ms
        self.on_commit = on_commit
        self.listeners: list[Listener] = []
        self.failed: BaseException | None = None
        self.last_seq = store.last_seq()
        self._pending: list[_Pending] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the flusher on the running event loop."""
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._flush_loop())

    async def stop(self) -> None:
        """Commit what is pending, then stop the flusher."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None

    # ---- commands --------------------------------------------------------------------

    def run_sync(
        self, kind: str, command: Callable[[], T], node_data: dict[str, Any] | None = None
    ) -> T:
        """Run and commit a command synchronously (startup only, no flusher running)."""
        assert self._task is None, "run_sync is for startup, before start()"
        result, pending = self._execute(kind, command, node_data, None)
        if pending is not None:
            seqs = self.store.commit([pending.entry], pending.writes)
            self.last_seq = seqs[-1]
        return result

    async def submit(
        self, kind: str, command: Callable[[], T], node_data: dict[str, Any] | None = None
    ) -> T:
        """Run a command now and return its result once its log record is durable."""
        if self.failed is not None:
            raise NodeError(NodeReason.NOT_READY, "the log failed; restart the node", status=503)
        if self._closing or self._task is None:
            raise NodeError(NodeReason.SHUTTING_DOWN, "the node is not running", status=503)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        result, pending = self._execute(kind, command, node_data, future)
        if pending is None:
            return result
        self._pending.append(pending)
        assert self._wakeup is not None
        self._wakeup.set()
        await future
        return result

    def _execute(
        self,
        kind: str,
        command: Callable[[], T],
        node_data: dict[str, Any] | None,
        future: asyncio.Future[int] | None,
    ) -> tuple[T, _Pending | None]:
        stale = self.exchange.take_events()
        assert not stale, "events emitted outside the sequencer"
        try:
            result = command()
        except BaseException:
            leaked = self.exchange.take_events()
            assert not leaked, "a refused request emitted events"
            raise
        events = tuple(self.exchange.take_events())
        if not events and not node_data:
            return result, None
        payload: dict[str, Any] = {"events": [encode_event(e) for e in events]}
        if node_data:
            payload["node"] = node_data
        entry = LogEntry(kind=kind, timestamp_ms=self.clock_ms(), payload=payload)
        try:
            writes = self.projector(events, node_data)
        except Exception as exc:
            # The engine already applied the events; memory is now ahead of the log.
            self.failed = exc
            raise NodeError(
                NodeReason.NOT_READY, "read-model projection failed", status=503
            ) from exc

        book_seqs = {str(m): b.seq for m, b in self.exchange.books.items()}
        pending = _Pending(
            entry=entry,
            writes=writes,
            events=events,
            book_seqs=book_seqs,
            future=future,
        )
        return result, pending

    # ---- group commit ----------------------------------------------------------------

    async def _flush_loop(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                group, self._pending = self._pending, []
                await self._commit_group(group)
            if self._closing and not self._pending:
                return

    async def _commit_group(self, group: list[_Pending]) -> None:
        entries = [p.entry for p in group]
        writes = [w for p in group for w in p.writes]
        started = time.perf_counter()
        try:
            seqs = await asyncio.to_thread(self.store.commit, entries, writes)
        except BaseException as exc:
            self.failed = exc
            for p in group + self._pending:
                if p.future is not None and not p.future.done():
                    p.future.set_exception(
                        NodeError(NodeReason.NOT_READY, "log commit failed", status=503)
                    )
            self._pending = []
            return
        if self.on_commit is not None:
            self.on_commit(time.perf_counter() - started, len(group))
        self.last_seq = seqs[-1]
        committed = [
            Committed(
                seq=seq,
                kind=p.entry.kind,
                events=p.events,
                writes=tuple(p.writes),
                book_seqs=p.book_seqs,
            )
            for seq, p in zip(seqs, group)
        ]
        for p, seq in zip(group, seqs):
            if p.future is not None and not p.future.done():
                p.future.set_result(seq)
        for listener in self.listeners:
            listener(committed)
