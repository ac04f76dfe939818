"""The node: the engine, the durable log, the sequencer and the registry, wired together.

:class:`Node` is what the API calls. Commands (onboarding, orders, cancels, deposits,
withdrawals, ticks) go through the :class:`~starkperp.node.sequencer.Sequencer` and return
only after their log record is durable; reads come from the live engine (books, accounts,
positions) or from the read models committed beside the log (orders, fills, transfers,
funding payments). On :meth:`Node.open` the log is replayed (recovery); an empty log gets its
genesis (initial oracle prices).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starkperp.exchange.engine import Exchange
from starkperp.exchange.errors import ExchangeError
from starkperp.exchange.events import (
    Deleveraged,
    Deposited,
    Event,
    FundingApplied,
    Liquidated,
    OrderAccepted,
    OrderCanceled,
    OrderOpened,
    OrderTriggered,
    Transferred,
    Withdrawn,
)
from starkperp.exchange.markets import (
    COLLATERAL_RESOLUTION,
    MarketConfig,
    compute_price_from_e6,
    human_from_collateral,
)
from starkperp.exchange.model import Fill, Order, OrderId, OrderView
from starkperp.exchange.oracle import PriceTick
from starkperp.monitor.metrics import NodeMetrics
from starkperp.node.config import NodeConfig
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.log import LogStore, RowWrite, open_log_store
from starkperp.node.recovery import (
    AccountRecord,
    ApiCredentials,
    Registry,
    get_account_node_data,
    replay_log,
)
from starkperp.node.sequencer import Sequencer, SignaturePool, get_order_key_rule
from starkperp.node.views import format_iso_ms, get_fill_json, get_order_json

if TYPE_CHECKING:  # settlement (engineer D) imports this module
    from starkperp.node.settlement import SettlementService

__all__ = ["Node", "compute_account_uuid", "wall_clock_ms"]

_ACCOUNT_NAMESPACE = uuid.UUID("0f9da948-a6fb-4c45-9edc-4685c3f3317d")


def wall_clock_ms() -> int:
    """Return the wall clock in epoch milliseconds (the node's default clock)."""
    return time.time_ns() // 1_000_000


def compute_account_uuid(eth_address: str, account_number: int = 0) -> str:
    """Return dYdX v3's account id: uuid5 over the user id (uuid5 of the address) + number."""
    user_id = str(uuid.uuid5(_ACCOUNT_NAMESPACE, eth_address.lower()))
    return str(uuid.uuid5(_ACCOUNT_NAMESPACE, user_id + str(account_number)))


def _usd(amount: int) -> str:
    text = format(human_from_collateral(amount), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class Node:
    """A running starkperp node (engine + log + sequencer + registry)."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        clock_ms: Callable[[], int] = wall_clock_ms,
        metrics: NodeMetrics | None = None,
        store: LogStore | None = None,
        signature_workers: int = 2,
        settlement: SettlementService | None = None,
    ) -> None:
        """``signature_workers`` processes verify order signatures (0: verify inline);
        ``settlement`` batches, proves and settles the log on L1 while the node runs."""
        self.config = config
        self.exchange_config = replace(config.exchange, network_id=config.network_id)
        self.clock_ms = clock_ms
        self.metrics = metrics if metrics is not None else NodeMetrics()
        self._store = store
        self.exchange: Exchange | None = None
        self.registry = Registry()
        self.sequencer: Sequencer | None = None
        self.markets: dict[str, MarketConfig] = {m.market: m for m in config.exchange.markets}
        self.started_ms = clock_ms()
        self.recovered_records = 0
        self._ticker: asyncio.Task[None] | None = None
        self._transfer_sink: list[dict[str, Any]] | None = None
        self._running = False
        self.settlement = settlement  # settlement (engineer D)
        self.signature_pool: SignaturePool | None = (
            SignaturePool(workers=signature_workers) if signature_workers > 0 else None
        )

    # ---- lifecycle -------------------------------------------------------------------

    @property
    def store(self) -> LogStore:
        """Return the open log store."""
        assert self._store is not None, "node not opened"
        return self._store

    @property
    def engine(self) -> Exchange:
        """Return the live exchange."""
        assert self.exchange is not None, "node not opened"
        return self.exchange

    @property
    def seq(self) -> Sequencer:
        """Return the sequencer."""
        assert self.sequencer is not None, "node not opened"
        return self.sequencer

    def open(self) -> None:
        """Open the log, replay it (recovery) and write the genesis if it is empty."""
        if self._store is None:
            self._store = open_log_store(self.config.db_url)
        exchange, registry, last = replay_log(
            self._store,
            self.exchange_config,
            require_signatures=self.config.require_signatures,
            clock=lambda: self.clock_ms() // 1000,
        )
        self.exchange, self.registry, self.recovered_records = exchange, registry, last
        self.sequencer = Sequencer(
            exchange=exchange,
            store=self._store,
            projector=self._project,
            clock_ms=self.clock_ms,
            on_commit=self._observe_commit,
        )
        if self.settlement is not None:  # refuse orders whose rollup order key is taken
            self.sequencer.use_order_keys(
                get_order_key_rule(self.exchange_config, self.settlement.rollup_config),
                self.signature_pool,
            )
        if last == 0:
            self._write_genesis()
        self.metrics.log_seq.set(self.seq.last_seq)

    def _write_genesis(self) -> None:
        def genesis() -> None:
            for market, human in self.config.initial_prices:
                config = self.markets[market]
                e6 = Decimal(human) * COLLATERAL_RESOLUTION
                ticks = int(e6) // config.tick_size
                self.engine.set_oracle_price(
                    market, compute_price_from_e6(config, ticks * config.tick_size)
                )

        self.seq.run_sync("genesis", genesis)

    async def start(self, *, ticks: bool = True) -> None:
        """Start the sequencer's flusher and (optionally) the clock ticks."""
        if self.exchange is None:
            self.open()
        self.seq.start()
        self._running = True
        if ticks:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())
        if self.settlement is not None:  # settlement (engineer D)
            self.settlement.start(self)

    async def stop(self) -> None:
        """Stop ticks, commit what is pending and close the log (graceful shutdown)."""
        self._running = False
        if self.settlement is not None:  # settlement (engineer D): its thread credits via seq
            await asyncio.to_thread(self.settlement.stop)
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self.sequencer is not None:
            await self.sequencer.stop()
        if self.signature_pool is not None:
            await asyncio.to_thread(self.signature_pool.stop)
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def is_ready(self) -> bool:
        """Tell whether the node takes commands (log healthy, flusher running)."""
        return self._running and self.sequencer is not None and self.sequencer.failed is None

    async def _tick_loop(self) -> None:
        period = self.config.tick_period_ms / 1000
        while self._running:
            await asyncio.sleep(period)
            with contextlib.suppress(ExchangeError, NodeError):
                await self.tick()

    async def tick(self) -> None:
        """Run what the clock makes due: expiries, premium samples, funding, liquidations."""

        def run() -> None:
            self.engine.advance_time()
            self.engine.process_liquidations()

        await self.seq.submit("tick", run)

    def _observe_commit(self, seconds: float, group: int) -> None:
        self.metrics.log_commit_seconds.observe(seconds)
        self.metrics.log_group_size.observe(group)
        self.metrics.log_seq.set(self.seq.last_seq)

    # ---- registry --------------------------------------------------------------------

    def get_account_record(self, account_id: int) -> AccountRecord:
        """Return an onboarded account by position id."""
        record = self.registry.by_account.get(account_id)
        if record is None:
            raise NodeError(NodeReason.UNKNOWN_ACCOUNT, f"account {account_id}", status=404)
        return record

    def get_credentials(self, api_key: str) -> tuple[ApiCredentials, AccountRecord]:
        """Return the credentials and account of an API key."""
        record = self.registry.by_api_key.get(api_key)
        if record is None:
            raise NodeError(NodeReason.UNKNOWN_API_KEY, "unknown DYDX-API-KEY", status=401)
        creds = ApiCredentials(
            key=record.api_key, secret=record.api_secret, passphrase=record.api_passphrase
        )
        return creds, record

    def get_market_config(self, market: str) -> MarketConfig:
        """Return a market's live configuration, or raise UNKNOWN_MARKET."""
        if market not in self.markets:
            raise NodeError(NodeReason.UNKNOWN_MARKET, f"unknown market {market!r}", status=400)
        return self.engine.get_market(market)

    # ---- commands --------------------------------------------------------------------

    async def onboard(
        self,
        *,
        eth_address: str,
        stark_key: int,
        stark_key_y: int,
        credentials: ApiCredentials,
    ) -> AccountRecord:
        """Open the position of a new user and register its API credentials."""
        address = eth_address.lower()
        if address in self.registry.by_address:
            raise NodeError(NodeReason.ACCOUNT_EXISTS, "address already onboarded", status=409)
        if credentials.key in self.registry.by_api_key:
            raise NodeError(NodeReason.ACCOUNT_EXISTS, "API key already registered", status=409)
        now = self.clock_ms()
        holder: dict[str, Any] = {}

        def run() -> int:
            account_id = int(self.engine.create_account(public_key=stark_key))
            record = AccountRecord(
                account_id=account_id,
                uuid=compute_account_uuid(address),
                eth_address=address,
                stark_key=stark_key,
                stark_key_y=stark_key_y,
                created_ms=now,
                api_key=credentials.key,
                api_secret=credentials.secret,
                api_passphrase=credentials.passphrase,
            )
            holder["record"] = record
            holder["data"]["account"] = get_account_node_data(record)
            self.registry.add_account(record)
            return account_id

        node_data: dict[str, Any] = {}
        holder["data"] = node_data
        await self.seq.submit("onboard", run, node_data)
        record: AccountRecord = holder["record"]
        self._warm_signature_pool()  # signed orders follow onboarding
        return record

    async def place_order(self, order: Order, *, cancel_id: int | None = None) -> OrderView:
        """Place (or cancel-replace) an order; return its view after the log commit.

        The signature is verified in the signature pool first (off the event loop); the
        engine then skips its own curve check. If the pool is not running, or says the
        signature is bad, the engine verifies (and refuses) as usual.
        """
        verified = await self._verify_signature(order)
        if cancel_id is not None:
            ack = await self.seq.submit(
                "cancel_replace",
                lambda: self.engine.cancel_replace(cancel_id, order, signature_verified=verified),
            )
        else:
            ack = await self.seq.submit(
                "place_order",
                lambda: self.engine.place_order(order, signature_verified=verified),
            )
        self.metrics.orders_accepted.inc()
        if ack.fills:
            self.metrics.fills.inc(len(ack.fills))
        return self.engine.get_order(ack.order_id)

    def _warm_signature_pool(self) -> None:
        """Start the signature pool (workers warm in the background) if it is not started.

        Lazy, so that a node that never sees a signed order never spawns workers: it starts
        on the first onboarding or signed order while the node runs.
        """
        pool = self.signature_pool
        if pool is not None and self._running and not pool.is_started:
            pool.start()

    async def _verify_signature(self, order: Order) -> bool:
        """Check the order's signature in the pool with the key the engine would use.

        ``True`` only when the pool ran and the signature verifies; ``False`` leaves the
        check (and any refusal with its reason code) to the engine.
        """
        pool = self.signature_pool
        if pool is None or order.signature is None:
            return False
        self._warm_signature_pool()
        if not pool.is_running:  # not warm yet (or stopped): the engine verifies inline
            return False
        engine = self.engine
        account = engine.accounts.get(order.account_id)
        config = engine.markets.get(order.market)
        if account is None or config is None:
            return False
        key = order.public_key if order.public_key is not None else account.public_key
        if type(key) is not int or (account.public_key is not None and key != account.public_key):
            return False
        return await pool.verify((order, config, key, engine.config.network_id))

    async def cancel_order(self, account_id: int, order_id: int) -> OrderView:
        """Cancel one of the account's orders."""
        view = await self.seq.submit(
            "cancel_order", lambda: self.engine.cancel_order(order_id, account_id)
        )
        self.metrics.cancels.inc()
        return view

    async def cancel_all(self, account_id: int, market: str | None) -> list[OrderView]:
        """Cancel every open order of the account (in one market, or all)."""
        if market is not None:
            self.get_market_config(market)
        ids = await self.seq.submit(
            "cancel_all", lambda: self.engine.cancel_all(account_id, market)
        )
        self.metrics.cancels.inc(len(ids))
        return [self.engine.get_order(i) for i in ids]

    async def deposit(self, account_id: int, amount: int) -> dict[str, Any]:
        """Credit collateral (from L1, or the testnet faucet); return the transfer document."""
        self.get_account_record(account_id)
        sink: list[dict[str, Any]] = []

        def run() -> None:
            self.engine.deposit(account_id, amount)
            self._transfer_sink = sink

        await self.seq.submit("deposit", run)
        return sink[0]

    async def withdraw(self, account_id: int, amount: int, client_id: str) -> dict[str, Any]:
        """Debit collateral for L1 (signature checked by the caller); refuse a reused id."""
        self.get_account_record(account_id)
        key = (account_id, client_id)
        if key in self.registry.used_withdrawal_ids:
            raise NodeError(NodeReason.REPLAYED_NONCE, "withdrawal client id already used")

        sink: list[dict[str, Any]] = []

        def run() -> None:
            self.engine.withdraw(account_id, amount)
            self.registry.used_withdrawal_ids.add(key)
            self._transfer_sink = sink

        await self.seq.submit("withdraw", run, {"withdrawal_id": [str(account_id), client_id]})
        return sink[0]

    async def apply_oracle_tick(self, tick: PriceTick) -> int:
        """Accept a signed price tick (quorum of configured signers), then liquidate."""

        def run() -> int:
            price = int(self.engine.apply_oracle_tick(tick))
            self.engine.process_liquidations()
            return price

        return await self.seq.submit("oracle_tick", run)

    # ---- reads -----------------------------------------------------------------------

    def get_order_view(self, order_id: int, account_id: int | None = None) -> OrderView:
        """Return an order's live view (checking its owner when given)."""
        try:
            view = self.engine.get_order(order_id)
        except ExchangeError as exc:
            raise NodeError(NodeReason.NOT_FOUND, f"order {order_id}", status=404) from exc
        if account_id is not None and view.order.account_id != account_id:
            raise NodeError(NodeReason.NOT_FOUND, f"order {order_id}", status=404)
        return view

    def get_status(self) -> dict[str, Any]:
        """Return the node's status (log position, accounts, uptime)."""
        return {
            "ready": self.is_ready,
            "logSeq": self.seq.last_seq,
            "recoveredRecords": self.recovered_records,
            "accounts": len(self.registry.by_account),
            "stateDigest": self.engine.compute_state_digest().hex(),
            "uptimeMs": self.clock_ms() - self.started_ms,
            # settlement (engineer D)
            "settlement": self.settlement.get_status() if self.settlement is not None else None,
        }

    # ---- read-model projection -------------------------------------------------------

    def _project(self, events: Sequence[Event], node_data: dict[str, Any] | None) -> list[RowWrite]:
        writes: list[RowWrite] = []
        sink, self._transfer_sink = self._transfer_sink, None
        order_ids: dict[int, None] = {}
        now_ms = self.clock_ms()
        if node_data and "account" in node_data:
            acct = node_data["account"]
            writes.append(
                RowWrite(
                    table="accounts",
                    id=str(acct["account_id"]),
                    account_id=str(acct["account_id"]),
                    key2=str(acct["eth_address"]),
                    created_at_ms=int(acct["created_ms"]),
                    data={"uuid": acct["uuid"], "ethereumAddress": acct["eth_address"]},
                )
            )
        for event in events:
            if isinstance(event, OrderAccepted | OrderOpened | OrderCanceled | OrderTriggered):
                order_ids[int(event.order_id)] = None
            elif isinstance(event, Fill):
                order_ids[int(event.maker_order_id)] = None
                order_ids[int(event.taker_order_id)] = None
                market = self.markets[event.market]
                for acct_id in (event.maker_account_id, event.taker_account_id):
                    rec = self.registry.by_account.get(int(acct_id))
                    if rec is None:
                        continue
                    doc = get_fill_json(event, market, int(acct_id))
                    writes.append(
                        RowWrite(
                            table="fills",
                            id=doc["id"],
                            account_id=str(acct_id),
                            market=event.market,
                            key2=doc["orderId"],
                            created_at_ms=int(event.time) * 1000,
                            data=doc,
                        )
                    )
            elif isinstance(event, Deposited | Withdrawn | Transferred):
                rows = self._transfer_rows(event, now_ms)
                writes.extend(rows)
                if sink is not None:
                    sink.extend(r.data for r in rows)
            elif isinstance(event, FundingApplied):
                writes.extend(self._funding_rows(event))
            elif isinstance(event, Liquidated | Deleveraged):
                continue
        for oid in order_ids:
            view = self.engine.get_order(OrderId(oid))
            acct = int(view.order.account_id)
            rec = self.registry.by_account.get(acct)
            market = self.markets[view.order.market]
            doc = get_order_json(view, market, rec.uuid if rec else str(acct))
            writes.append(
                RowWrite(
                    table="orders",
                    id=str(oid),
                    account_id=str(acct),
                    market=view.order.market,
                    key2=f"{acct}:{view.order.client_id}",
                    status=view.status.value,
                    created_at_ms=int(view.created_at) * 1000,
                    data=doc,
                )
            )
        return writes

    def _transfer_rows(
        self, event: Deposited | Withdrawn | Transferred, now_ms: int
    ) -> list[RowWrite]:
        rows: list[tuple[int, str, int]] = []
        if isinstance(event, Deposited):
            rows.append((int(event.account_id), "DEPOSIT", int(event.amount)))
        elif isinstance(event, Withdrawn):
            rows.append((int(event.account_id), "WITHDRAWAL", int(event.amount)))
        else:
            rows.append((int(event.sender), "TRANSFER_OUT", int(event.amount)))
            rows.append((int(event.receiver), "TRANSFER_IN", int(event.amount)))
        out = []
        for account_id, kind, amount in rows:
            tid = str(uuid.uuid4())
            iso = _iso(int(event.time) * 1000)
            doc = {
                "id": tid,
                "type": kind,
                "debitAsset": "USDC",
                "creditAsset": "USDC",
                "debitAmount": _usd(amount) if kind in ("WITHDRAWAL", "TRANSFER_OUT") else "0",
                "creditAmount": _usd(amount) if kind in ("DEPOSIT", "TRANSFER_IN") else "0",
                "transactionHash": None,
                "status": "CONFIRMED",
                "createdAt": iso,
                "confirmedAt": iso,
                "clientId": None,
                "fromAddress": None,
                "toAddress": None,
            }
            out.append(
                RowWrite(
                    table="transfers",
                    id=tid,
                    account_id=str(account_id),
                    status=kind,
                    created_at_ms=max(now_ms, int(event.time) * 1000),
                    data=doc,
                )
            )
        return out

    def _funding_rows(self, event: FundingApplied) -> list[RowWrite]:
        history = self.engine.funding_history[event.market]
        previous = history[-2].index if len(history) >= 2 else 0
        delta = int(event.index) - int(previous)
        market = self.markets[event.market]
        out = []
        for account_id, account in self.engine.accounts.items():
            balance = account.balances.get(event.market, 0)
            if not balance or account_id not in self.registry.by_account:
                continue
            payment = -((balance * delta) >> 32)
            iso = _iso(int(event.time) * 1000)
            doc = {
                "market": event.market,
                "payment": _usd(payment),
                "rate": str(Decimal(event.rate_ppb).scaleb(-9)),
                "positionSize": str(Decimal(balance) / market.resolution),
                "price": str(Decimal(int(event.price) * market.resolution) / (1 << 32) / 10**6),
                "effectiveAt": iso,
            }
            out.append(
                RowWrite(
                    table="funding",
                    id=f"{event.market}:{int(event.time)}:{account_id}",
                    account_id=str(account_id),
                    market=event.market,
                    created_at_ms=int(event.time) * 1000,
                    data=doc,
                )
            )
        return out


def _iso(ms: int) -> str:
    return format_iso_ms(ms)
