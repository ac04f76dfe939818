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

Verifying a STARK signature costs milliseconds, so it does not happen on the sequencer's
thread: :class:`SignaturePool` checks order signatures in worker processes (batched per
event-loop turn) *before* the order is sequenced, and the engine is then told
``signature_verified=True``. When the pool is not running the engine verifies inline.

A settling node also refuses an order whose **rollup order key** is taken
(:meth:`Sequencer.use_order_keys`): AIR v4 stores an order's leaf at its rollup message hash
mod ``2^orders_depth``, and two different orders on one leaf would halt settlement
(``ORDER_ID_COLLISION``). :func:`compute_order_key` derives the key from the limit order the
bridge builds (:func:`starkperp.node.bridge.compute_limit_order`); its Pedersen chain costs
about as much as a signature check, so the pool's workers compute it with the check and the
engine takes it from :meth:`SignaturePool.take_order_key` (inline only when the pool did not
see the order). The key is recorded in the order's ``OrderAccepted`` event, so recovery
rebuilds the reservations without hashing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from starkperp.exchange.config import ExchangeConfig
from starkperp.exchange.engine import Exchange
from starkperp.exchange.events import Event
from starkperp.exchange.markets import MarketConfig
from starkperp.exchange.model import Order, OrderSignature, OrderType, Side, TimeInForce
from starkperp.node.codec import encode_event
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.log import LogEntry, LogStore, RowWrite
from starkperp.processes import exit_when_orphaned

__all__ = [
    "Committed",
    "OrderKeyRule",
    "Sequencer",
    "SignatureJob",
    "SignaturePool",
    "compute_order_key",
    "get_order_key_rule",
    "pack_signature_jobs",
    "verify_order_signatures",
    "verify_packed_order_signatures",
    "verify_packed_orders_with_keys",
]

if TYPE_CHECKING:
    from starkperp.rollup.config import RollupConfig

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

    def use_order_keys(self, rule: OrderKeyRule | None, pool: SignaturePool | None = None) -> None:
        """Refuse orders whose rollup order key another order holds (None: stop refusing).

        Installs the engine's key function: the key the signature ``pool`` computed with
        the signature check if it did, else :func:`compute_order_key` inline. A node that
        settles calls this after recovery; one that does not, never.
        """
        if pool is not None:
            pool.order_key_rule = rule
        if rule is None:
            self.exchange.order_key = None
            return
        exchange = self.exchange

        def order_key(order: Order, public_key: int | None) -> int | None:
            if pool is not None:
                key = pool.take_order_key(order)
                if key is not None:
                    return key
            market = exchange.markets.get(order.market)
            return None if market is None else compute_order_key(rule, order, market)

        exchange.order_key = order_key

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


# ---- rollup order keys ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderKeyRule:
    """What a node needs to derive an order's rollup order-tree key (picklable).

    ``asset_ids`` maps each bridged market to its rollup synthetic asset id (the markets
    whose asset the rollup lists with the same resolution, as the bridge matches them).
    """

    orders_depth: int
    asset_ids: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        if not 1 <= self.orders_depth <= 251:
            raise ValueError("orders_depth must be within 1..251")


def get_order_key_rule(
    exchange_config: ExchangeConfig, rollup_config: RollupConfig
) -> OrderKeyRule:
    """Return the key rule of a node that settles ``exchange_config`` under ``rollup_config``."""
    by_name = {a.name: a for a in rollup_config.assets}
    pairs = []
    for market in exchange_config.markets:
        asset = by_name.get(market.asset)
        if asset is not None and asset.resolution == market.resolution:
            pairs.append((str(market.market), int(asset.asset_id)))
    return OrderKeyRule(orders_depth=rollup_config.orders_depth, asset_ids=tuple(pairs))


_PREFIXES: dict[tuple[int, int], int] = {}


def compute_order_key(rule: OrderKeyRule, order: Order, market: MarketConfig) -> int | None:
    """Return the order's rollup order-tree key, or None if its market is not bridged.

    The key is the rollup message hash of the limit order the bridge derives from the
    exchange order (:func:`~starkperp.node.bridge.compute_limit_order`,
    :func:`~starkperp.rollup.transactions.limit_order.compute_order_hash`) mod
    ``2^orders_depth``. The hash chain's first three links (kind, position, asset) repeat
    per account and market and are cached; ``tests/node/test_sequencer_fastpaths.py``
    checks the result against the rollup's own functions. The public key is not hashed.
    """
    from fast_stark_crypto import pedersen_hash

    from starkperp.node.bridge import compute_limit_order
    from starkperp.rollup.messages import MessageKind
    from starkperp.rollup.quantities import AssetId, PublicKey

    asset_id = next((a for m, a in rule.asset_ids if m == order.market), None)
    if asset_id is None:
        return None
    limit = compute_limit_order(order, market, asset_id=AssetId(asset_id), public_key=PublicKey(0))
    prefix = _PREFIXES.get((limit.position_id, asset_id))
    if prefix is None:
        h = pedersen_hash(pedersen_hash(0, int(MessageKind.LIMIT_ORDER)), limit.position_id)
        prefix = pedersen_hash(h, asset_id)
        if len(_PREFIXES) >= 4096:
            _PREFIXES.clear()
        _PREFIXES[(limit.position_id, asset_id)] = prefix
    h = prefix
    for x in (
        limit.amount_synthetic,
        limit.amount_collateral,
        limit.amount_fee,
        int(limit.is_buying_synthetic),
        limit.nonce,
        limit.expiration_hours,
    ):
        h = pedersen_hash(h, x)
    return int(pedersen_hash(h, 9)) % (1 << rule.orders_depth)


# ---- signature verification pool ---------------------------------------------------------

SignatureJob = tuple[Order, MarketConfig, int, int]
"""One order signature to check: the order, its market, the STARK public key, the network."""


def verify_order_signatures(jobs: Sequence[SignatureJob]) -> list[bool]:
    """Verify a batch of order signatures; ``False`` for any that fails or is malformed.

    Module-level so that a ``spawn``/``forkserver`` pool worker can import and run it.
    """
    from starkperp.exchange.signing import verify_order

    results: list[bool] = []
    for order, config, public_key, network_id in jobs:
        try:
            ok = verify_order(order, config, public_key, network_id=network_id)
        except Exception:  # a hostile signature must never crash a worker
            ok = False
        results.append(ok is True)
    return results


_MAX_REMEMBERED_KEYS = 4096

PackedJobs = tuple[tuple[MarketConfig, ...], list[tuple[Any, ...]]]
"""Signature jobs as they travel to a worker: each market config once, each order flat."""


def pack_signature_jobs(jobs: Sequence[SignatureJob]) -> PackedJobs:
    """Flatten jobs for the trip to a worker process.

    Pickling an ``Order`` and a ``MarketConfig`` dataclass per job cost the node more CPU
    (~0.1 ms) than the rest of the trip; a plain tuple per order and each distinct market
    config once per chunk cost a few microseconds. An order that does not have the usual
    shape travels as it is.
    """
    index_of: dict[int, int] = {}
    configs: list[MarketConfig] = []
    packed: list[tuple[Any, ...]] = []
    for order, config, public_key, network_id in jobs:
        index = index_of.get(id(config))
        if index is None:
            index = index_of[id(config)] = len(configs)
            configs.append(config)
        packed.append((index, public_key, network_id, _order_to_wire(order)))
    return tuple(configs), packed


def _order_to_wire(order: Order) -> tuple[Any, ...] | Order:
    sig = order.signature
    if (
        type(order) is not Order
        or type(order.side) is not Side
        or type(order.order_type) is not OrderType
        or type(order.time_in_force) is not TimeInForce
        or (sig is not None and type(sig) is not OrderSignature)
    ):
        return order
    return (
        order.account_id,
        order.market,
        order.side.value,
        order.size,
        order.price,
        order.client_id,
        order.expiration,
        order.limit_fee,
        order.order_type.value,
        order.time_in_force.value,
        order.trigger_price,
        order.post_only,
        order.reduce_only,
        None if sig is None else sig.r,
        None if sig is None else sig.s,
        order.public_key,
    )


def _order_from_wire(wire: tuple[Any, ...] | Order) -> Order:
    if isinstance(wire, Order):
        return wire
    (account_id, market, side, size, price, client_id, expiration, limit_fee) = wire[:8]
    (order_type, tif, trigger, post_only, reduce_only, r, s, public_key) = wire[8:]
    return Order(
        account_id=account_id,
        market=market,
        side=Side(side),
        size=size,
        price=price,
        client_id=client_id,
        expiration=expiration,
        limit_fee=limit_fee,
        order_type=OrderType(order_type),
        time_in_force=TimeInForce(tif),
        trigger_price=trigger,
        post_only=post_only,
        reduce_only=reduce_only,
        signature=None if r is None else OrderSignature(r=r, s=s),
        public_key=public_key,
    )


def verify_packed_order_signatures(packed: PackedJobs) -> bytes:
    """Worker task: :func:`verify_order_signatures` of packed jobs (one byte per job, 1 = ok)."""
    configs, wires = packed
    verdicts = bytearray(len(wires))
    for i, (index, public_key, network_id, wire) in enumerate(wires):
        try:
            job = (_order_from_wire(wire), configs[index], public_key, network_id)
        except Exception:  # a malformed job is refused, never a crashed worker
            continue
        verdicts[i] = verify_order_signatures([job])[0]
    return bytes(verdicts)


def verify_packed_orders_with_keys(
    packed: PackedJobs, rule: OrderKeyRule
) -> tuple[bytes, list[int | None]]:
    """Worker task: the verdicts, and the rollup order key of each order that verified."""
    verdicts = verify_packed_order_signatures(packed)
    configs, wires = packed
    keys: list[int | None] = []
    for ok, (index, _, _, wire) in zip(verdicts, wires):
        key = None
        if ok:
            try:
                key = compute_order_key(rule, _order_from_wire(wire), configs[index])
            except Exception:  # the engine computes (or refuses) it itself
                key = None
        keys.append(key)
    return verdicts, keys


def _warm_worker() -> bool:
    """Import the verifier in a fresh worker so the first real batch pays no start-up."""
    import starkperp.exchange.signing  # noqa: F401

    return True


class SignaturePool:
    """Verifies order signatures in worker processes, off the event-loop thread.

    Requests that arrive in the same event-loop turn are batched: they are split into at
    most one chunk per worker (each at most ``max_batch`` orders) and each chunk is one pool
    task. :meth:`start` returns at once and warms the workers in the background; the pool
    counts as running only once every worker is warm. When the pool is not running (not
    started, still warming, stopped, or broken), :meth:`verify` runs the check inline on the
    calling thread, so callers get the same answer either way.
    """

    def __init__(
        self, *, workers: int = 2, max_batch: int = 64, start_method: str = "spawn"
    ) -> None:
        if workers <= 0 or max_batch <= 0:
            raise ValueError("workers and max_batch must be positive")
        self.workers = workers
        self.max_batch = max_batch
        self.start_method = start_method
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._warming: list[concurrent.futures.Future[bool]] = []
        self._queue: list[tuple[SignatureJob, asyncio.Future[bool]]] = []
        self._scheduled = False
        self._tail: asyncio.Task[None] | None = None  # the chunk delivered last
        self._in_flight = 0  # chunks sent to the workers and not answered yet
        self.order_key_rule: OrderKeyRule | None = None
        """When set, the workers also compute each verified order's rollup order key."""
        self._order_keys: dict[Order, int] = {}  # verified order -> key, until taken

    def take_order_key(self, order: Order) -> int | None:
        """Return (and forget) the rollup order key a worker computed for ``order``."""
        try:
            return self._order_keys.pop(order, None)
        except TypeError:  # an unhashable field: nothing was stored for it
            return None

    def _remember_order_keys(self, jobs: list[SignatureJob], keys: list[int | None]) -> None:
        memo = self._order_keys
        for job, key in zip(jobs, keys):
            if key is None:
                continue
            try:
                memo[job[0]] = key
            except TypeError:
                continue
        while len(memo) > _MAX_REMEMBERED_KEYS:  # keys of orders refused before use
            del memo[next(iter(memo))]

    @property
    def is_started(self) -> bool:
        """Tell whether :meth:`start` was called (and :meth:`stop` not since)."""
        return self._executor is not None

    @property
    def is_running(self) -> bool:
        """Tell whether checks go to the worker processes (else they run inline)."""
        if self._executor is None:
            return False
        if self._warming:
            if not all(f.done() for f in self._warming):
                return False
            if any(f.cancelled() or f.exception() is not None for f in self._warming):
                self.stop()
                return False
            self._warming = []
        return True

    def start(self) -> None:
        """Create the pool and start warming its workers (returns without waiting)."""
        if self._executor is None:
            context = multiprocessing.get_context(self.start_method)
            if isinstance(context, multiprocessing.context.ForkServerContext):
                context.set_forkserver_preload(["starkperp.exchange.signing"])
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=exit_when_orphaned,
            )
            self._warming = [self._executor.submit(_warm_worker) for _ in range(self.workers)]

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Block until the workers are warm (or ``timeout`` seconds); return ``is_running``."""
        concurrent.futures.wait(self._warming, timeout=timeout)
        return self.is_running

    def stop(self) -> None:
        """Shut the pool down; later checks run inline."""
        executor, self._executor = self._executor, None
        self._warming = []
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    async def verify(self, job: SignatureJob) -> bool:
        """Return whether the job's signature verifies (in the pool when it runs)."""
        if not self.is_running:
            return verify_order_signatures([job])[0]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._queue.append((job, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        return await future

    def _dispatch(self) -> None:
        """Send what waits to the idle workers, split evenly; busy workers get nothing.

        At most one chunk per worker is in flight. Requests that arrive meanwhile wait and
        leave together when a chunk finishes, so under load the chunks grow (fewer, larger
        trips to the workers cost the event loop less per order) and when idle a lone
        order leaves at once.
        """
        self._scheduled = False
        idle = self.workers - self._in_flight
        if not self._queue or idle <= 0:
            return
        per_chunk = min(self.max_batch, -(-len(self._queue) // idle))
        loop = asyncio.get_running_loop()
        while self._queue and self._in_flight < self.workers:
            chunk, self._queue = self._queue[:per_chunk], self._queue[per_chunk:]
            self._in_flight += 1
            self._tail = loop.create_task(self._run_chunk(chunk, self._tail))

    async def _run_chunk(
        self,
        chunk: list[tuple[SignatureJob, asyncio.Future[bool]]],
        previous: asyncio.Task[None] | None,
    ) -> None:
        """Verify one chunk, then deliver its answers after the previous chunk's.

        Answers are released in arrival order (futures resolve, and their awaiting callers
        wake, first-come first-served), so the pool never reorders orders that reach the
        sequencer: the sequence is the one the orders arrived in, as without the pool.
        """
        jobs = [job for job, _ in chunk]
        executor = self._executor
        try:
            results = await self._verify_chunk(jobs, executor)
        finally:
            self._in_flight -= 1
            if self._queue and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._dispatch)
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        for (_, future), ok in zip(chunk, results):
            if not future.done():
                future.set_result(ok)

    async def _verify_chunk(
        self,
        jobs: list[SignatureJob],
        executor: concurrent.futures.ProcessPoolExecutor | None,
    ) -> list[bool]:
        try:
            if executor is None:
                raise concurrent.futures.BrokenExecutor("the pool stopped")
            loop = asyncio.get_running_loop()
            packed = pack_signature_jobs(jobs)
            rule = self.order_key_rule
            if rule is None:
                verdicts = await loop.run_in_executor(
                    executor, verify_packed_order_signatures, packed
                )
            else:
                verdicts, keys = await loop.run_in_executor(
                    executor, verify_packed_orders_with_keys, packed, rule
                )
                self._remember_order_keys(jobs, keys)
            results = [bool(v) for v in verdicts]
        except Exception:  # pool broken or shut down: never lose an order, check inline
            if isinstance(self._executor, concurrent.futures.ProcessPoolExecutor) and (
                executor is self._executor
            ):
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            results = verify_order_signatures(jobs)
        return results
