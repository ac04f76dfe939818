"""The main job: a node on the embedded defaults, traded through its API, settling on L1.

:func:`run_main_job` starts a complete node in this process (:class:`LocalNode`: the API on a
free local port, the sequencer and its durable SQLite log, and the settlement service, which
deploys the collateral ERC-20, ``StarkPerpetual`` and the generated batch verifier on
titanoboa's embedded py-evm). Then, in numbered stages:

1. Simulated market makers and traders onboard **through the HTTP API** with the SDK
   (:mod:`starkperp.client`: Ethereum key -> STARK key and API credentials, as dYdX v3).
2. Each registers its STARK key on L1 (the operator attests it), approves the ERC-20 and
   deposits on L1; the node's watcher reads the ``LogDeposit`` events and credits them.
3. Market makers quote BTC-USD around the oracle price and traders cross them, every order
   STARK-signed by the SDK and sent to ``POST /v3/orders``.
4. The node closes batches by size or age, proves each in a spawned worker, verifies it and
   submits it to ``updateState``; the job prints each batch as L1 settles it (transactions,
   trades, proving time, gas per trade, new state hash). SETTLED is printed only for batches
   whose new state hash L1 stored.
5. A trader requests a withdrawal through the API (STARK-signed); once the batch holding it
   is settled, the trader calls ``withdraw`` on L1 and the job prints the token balance
   change, checked exactly against the amount, to the quantum.

The job proves at the ``default`` proof preset (100 conjectured bits): each proof is
verified on L1 in registered steps (Merkle statements, then the rest, each under 2^24 gas)
before ``updateState`` settles on the registered fact, and the gas printed per batch is the
sum of those transactions. ``proof_preset="minimal"`` (17 bits, tests and demos) verifies
inside ``updateState`` itself.
"""

from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass
from decimal import Decimal

from rich.console import Console

from starkperp.client.http import Identity, StarkPerpClient
from starkperp.exchange.markets import MarketConfig, price_from_human, quantity_from_human
from starkperp.exchange.model import AccountId, MarketId, Order, Side, Timestamp
from starkperp.node.bridge import compute_limit_order
from starkperp.node.config import SettlementConfig
from starkperp.node.settlement import BatchRecord, BatchState, SettlementService
from starkperp.rollup.quantities import PublicKey
from starkperp.rollup.transactions.limit_order import compute_order_hash
from starkperp.sim.local_node import LocalNode

__all__ = ["MainJobReport", "run_main_job"]

USDC = 10**6
BTC = MarketId("BTC-USD")
TRADER_DEPOSIT = 100_000 * USDC
MAKER_DEPOSIT = 1_000_000 * USDC
WITHDRAWN = 1_234_567_891
LIMIT_FEE = "0.005"
N_TRADERS = 4
N_MAKERS = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class MainJobReport:
    """What the main job did: the node's batches and the withdrawal paid on L1."""

    proof_preset: str
    security_bits: int
    batches: tuple[BatchRecord, ...]
    n_orders: int
    n_trades: int
    withdrawal_amount: int
    withdrawal_paid: int
    l1_batch_id: int
    halted: str

    @property
    def is_all_settled(self) -> bool:
        """Return whether there were batches and every one is SETTLED on L1."""
        return bool(self.batches) and all(b.state is BatchState.SETTLED for b in self.batches)


@dataclass
class _Participant:
    client: StarkPerpClient
    identity: Identity
    deposit: int


class _Session:
    """The simulated participants and the bookkeeping the job prints."""

    def __init__(self, local: LocalNode, out: Console, rng: random.Random) -> None:
        self.gas_label = (
            "L1 gas (verification steps + updateState)"
            if local.settlement.config.verify_in_steps
            else "updateState gas"
        )
        self.local = local
        self.out = out
        self.rng = rng
        self.settlement: SettlementService = local.settlement
        self.market: MarketConfig = local.node.markets[BTC]
        rollup = self.settlement.rollup_config
        self.asset_id = next(a.asset_id for a in rollup.assets if a.name == self.market.asset)
        self.orders_depth = rollup.orders_depth
        self.used_keys: set[int] = set()
        self.n_orders = 0
        self.n_filled_takers = 0
        self.printed = 0
        self.people: list[_Participant] = []

    # ---- stage 1 and 2 --------------------------------------------------------------

    def onboard(self, n_traders: int, n_makers: int) -> None:
        for i in range(n_traders + n_makers):
            identity = Identity.from_eth_key("0x" + self.rng.randbytes(32).hex())
            client = StarkPerpClient(self.local.url, identity=identity)
            client.onboard()
            assert client.identity is not None
            deposit = TRADER_DEPOSIT if i < n_traders else MAKER_DEPOSIT
            self.people.append(_Participant(client, client.identity, deposit))
        self.out.print(
            f"onboarded {n_traders} traders and {n_makers} market makers through the API "
            f"(positions {', '.join(str(p.identity.position_id) for p in self.people)})"
        )

    def deposit_on_l1(self) -> None:
        settlement = self.settlement
        l1 = self.local.l1
        for p in self.people:
            ident = p.identity
            eth = ident.eth_address
            signature = p.client.get_registration()  # GET /v3/registration
            with self.local.l1_lock:
                l1.env.set_balance(eth, 10**21)
                register = l1.system.perpetual.registerUser
                l1.transact(
                    functools.partial(register, eth, ident.stark_public_key, signature, sender=eth)
                )
                assert settlement.deployer is not None
                l1.mint(eth, p.deposit, sender=settlement.deployer)
                l1.deposit(
                    stark_key=ident.stark_public_key,
                    position_id=ident.position_id,
                    amount=p.deposit,
                    sender=eth,
                )
        total = sum(p.deposit for p in self.people)
        self.out.print(
            f"L1: registered {len(self.people)} STARK keys, approved and deposited "
            f"{total / USDC:,.0f} USDC into StarkPerpetual (pending until a batch settles)"
        )
        deadline = time.monotonic() + 60
        while settlement.n_deposits_credited < len(self.people):
            if time.monotonic() > deadline or settlement.halted:
                raise RuntimeError(f"deposits not credited: {settlement.halted}")
            time.sleep(0.1)
        for p in self.people:
            account = p.client.get_account()
            assert Decimal(account["quoteBalance"]) * USDC == p.deposit, account
        self.out.print(
            f"node watcher credited {len(self.people)} L1 deposits "
            f"(cursor {settlement.deposit_cursor}); balances visible through the API"
        )

    # ---- stage 3 --------------------------------------------------------------------

    def _client_id(self, p: _Participant, side: Side, size: str, price: str, exp: int) -> str:
        """Pick a client id whose rollup order key is free in the small (depth 8) tree."""
        while True:
            client_id = f"mj-{self.rng.getrandbits(48):012x}"
            order = Order(
                account_id=AccountId(p.identity.position_id),
                market=BTC,
                side=side,
                size=quantity_from_human(self.market, size),
                price=price_from_human(self.market, price),
                client_id=client_id,
                expiration=Timestamp(exp),
                limit_fee=int(Decimal(LIMIT_FEE) * USDC),  # type: ignore[arg-type]
            )
            limit = compute_limit_order(
                order,
                self.market,
                asset_id=self.asset_id,
                public_key=PublicKey(p.identity.stark_public_key),
            )
            key = compute_order_hash(limit) % 2**self.orders_depth
            if key not in self.used_keys:
                self.used_keys.add(key)
                return client_id

    def place(self, p: _Participant, side: Side, size: str, price: str) -> dict[str, object]:
        exp = int(time.time()) + 7 * 86_400
        client_id = self._client_id(p, side, size, price, exp)
        self.n_orders += 1
        return p.client.place_order(
            market=BTC,
            side=side.value,
            size=size,
            price=price,
            client_id=client_id,
            expiration_s=exp,
            limit_fee=LIMIT_FEE,
        )

    def trade(self, n_rounds: int, n_traders: int) -> None:
        traders = self.people[:n_traders]
        makers = self.people[n_traders:]
        for _ in range(n_rounds):
            mid = 50_000 + self.rng.randint(-20, 20)
            for i, maker in enumerate(makers):
                maker.client.private("DELETE", "/v3/orders", params={"market": BTC})
                self.place(maker, Side.BUY, "0.05", str(mid - 5 - i))
                self.place(maker, Side.SELL, "0.05", str(mid + 5 + i))
            trader = traders[self.rng.randrange(len(traders))]
            side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
            price = mid + 20 if side is Side.BUY else mid - 20
            size = self.rng.choice(("0.01", "0.02", "0.03"))
            order = self.place(trader, side, size, str(price))
            if order.get("status") == "FILLED":
                self.n_filled_takers += 1
            self.print_settled()
        self.out.print(
            f"trading: {n_rounds} rounds, {self.n_orders} STARK-signed orders through the API, "
            f"{self.n_filled_takers} taker orders fully filled"
        )

    # ---- stage 4 --------------------------------------------------------------------

    def print_settled(self) -> None:
        """Print every batch that reached SETTLED or REJECTED since the last call."""
        batches = self.settlement.batches
        while self.printed < len(batches):
            b = batches[self.printed]
            if b.state not in (BatchState.SETTLED, BatchState.REJECTED):
                return
            self.printed += 1
            per_trade = f" ({b.gas_used // b.n_trades:,} gas/trade)" if b.n_trades else ""
            colour = "green" if b.state is BatchState.SETTLED else "red"
            self.out.print(
                f"batch {b.batch_number}: {b.n_tx} txs ({b.n_trades} trades, {b.n_deposits} "
                f"deposits, {b.n_withdrawals} withdrawals), prove {b.prove_seconds:.1f} s in "
                f"a worker, verify {b.verify_seconds:.2f} s, proof {b.proof_bytes:,} B, "
                f"{self.gas_label} {b.gas_used:,}{per_trade}, new state hash "
                f"{b.new_state_hash[:18]}… [{colour}]{b.state.value}[/{colour}]"
                + (f" ({b.reason})" if b.reason else "")
            )

    def wait_for(self, predicate: object, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.out.status(what):
            while not predicate():  # type: ignore[operator]
                self.print_settled()
                if self.settlement.halted:
                    raise RuntimeError(f"settlement halted: {self.settlement.halted}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"timed out: {what}")
                time.sleep(0.1)
        self.print_settled()

    # ---- stage 5 --------------------------------------------------------------------

    def withdraw(self) -> int:
        settlement = self.settlement
        p = self.people[0]
        amount = str(Decimal(WITHDRAWN) / USDC)
        p.client.withdraw(
            amount, f"mj-withdraw-{self.rng.getrandbits(32)}", int(time.time()) + 86_400
        )
        self.out.print(f"withdrawal of {amount} USDC requested through the API (STARK-signed)")
        self.settlement.flush()

        def settled() -> bool:
            return any(
                b.n_withdrawals and b.state is BatchState.SETTLED for b in settlement.batches
            )

        self.wait_for(settled, "waiting for the batch holding the withdrawal to settle", 900)
        eth = p.identity.eth_address
        l1 = self.local.l1
        with self.local.l1_lock:
            before = l1.get_token_balance(eth)
            pending = l1.get_pending_withdrawal(eth)
            l1.withdraw(sender=eth)
            paid = l1.get_token_balance(eth) - before
        exact = "exact to the quantum" if paid == WITHDRAWN else "MISMATCH"
        self.out.print(
            f"L1 withdraw(): pending {pending / USDC:,.6f} USDC; token balance of {eth} "
            f"{before / USDC:,.6f} -> {(before + paid) / USDC:,.6f} "
            f"(+{paid / USDC:,.6f}, {exact})"
        )
        return paid


def run_main_job(
    *,
    n_rounds: int = 12,
    seed: int = 7,
    max_transactions: int = 24,
    max_age_seconds: float = 20.0,
    proof_preset: str = "default",
    console: Console | None = None,
) -> MainJobReport:
    """Run the main job end to end (see the module docstring); return its report."""
    out = console or Console()
    rng = random.Random(seed)
    config = SettlementConfig(
        max_transactions=max_transactions,
        max_age_seconds=max_age_seconds,
        proof_preset=proof_preset,
        verify_in_steps=proof_preset != "minimal",
    )
    local = LocalNode(config)
    settlement = local.settlement
    out.print(
        f"[bold]proof preset:[/bold] {config.proof_preset} ({settlement.options}); "
        f"conjectured security {settlement.security_bits} bits"
        + (
            " — a demonstration preset, not production security (--proof-preset default: "
            "100 bits, verified on L1 in steps)"
            if proof_preset == "minimal"
            else "; each proof is verified on L1 in registered steps before updateState"
        )
    )
    started = time.perf_counter()
    with local:
        out.print(
            f"node serving the dYdX v3 API at {local.url} (SQLite WAL log {local.config.db_url}); "
            f"batches close at {max_transactions} txs or {max_age_seconds:g} s"
        )
        session = _Session(local, out, rng)
        session.onboard(N_TRADERS, N_MAKERS)
        session.wait_for(
            lambda: settlement.ready.is_set(),
            "deploying L1 on the embedded py-evm (ERC-20, StarkPerpetual, batch verifier)...",
            600,
        )
        out.print(
            f"L1 ready after {time.perf_counter() - started:.1f} s: StarkPerpetual at "
            f"{local.l1.system.perpetual.address}, operator {settlement.operator}"
        )
        session.deposit_on_l1()
        session.trade(n_rounds, N_TRADERS)
        paid = session.withdraw()
        settlement.flush()
        session.wait_for(
            lambda: _all_done(settlement),
            "settling the last batch...",
            900,
        )
        with local.l1_lock:
            l1_batch_id = local.l1.get_batch_id()
            l1_hash = local.l1.get_state_hash()
    report = MainJobReport(
        proof_preset=config.proof_preset,
        security_bits=settlement.security_bits,
        batches=tuple(settlement.batches),
        n_orders=session.n_orders,
        n_trades=sum(b.n_trades for b in settlement.batches),
        withdrawal_amount=WITHDRAWN,
        withdrawal_paid=paid,
        l1_batch_id=l1_batch_id,
        halted=settlement.halted,
    )
    last = report.batches[-1].new_state_hash if report.batches else ""
    stored = "= L1's stored state hash" if last == "0x" + l1_hash.hex() else "!= L1's hash"
    verdict = "all batches SETTLED" if report.is_all_settled else "NOT all batches settled"
    out.print(
        f"[bold]{verdict}; L1 batch id {l1_batch_id}; last new state hash {last[:18]}… "
        f"{stored}; {time.perf_counter() - started:.0f} s[/bold]"
    )
    return report


def _all_done(settlement: SettlementService) -> bool:
    status = settlement.get_status()
    return status["openBatchTxs"] == 0 and all(
        b.state is BatchState.SETTLED for b in settlement.batches
    )
