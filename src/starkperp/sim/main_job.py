"""The main job: an exchange session proven batch by batch and settled on an embedded L1.

:func:`run_main_job` deploys the L1 contracts on titanoboa's py-evm (collateral ERC-20,
``StarkPerpetual`` and the generated verifier of the batch AIR), registers traders and
market makers and deposits their collateral on L1, runs a seeded exchange session on
BTC-USD (deposits, market makers quoting, traders crossing, one funding hour, a
withdrawal), bridges its events into rollup transactions, closes ``n_batches`` batches,
proves each in a spawned worker, verifies it here and submits it to ``updateState``. A batch
is reported SETTLED only if L1 then stores its new state hash. The withdrawal, settled by the
last batch, is then paid on L1 by ``withdraw`` and the token balance change is checked
exactly.

The on-chain batch verifier is only known to deploy (EIP-170) at the ``minimal`` proof
preset, which claims little security; the output says so with its conjectured bits.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boa
from eth_account import Account
from rich.console import Console

from starkperp.exchange import Exchange, MarketId, Order, Side, Timestamp
from starkperp.exchange.config import minimal as minimal_exchange
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.events import FundingApplied
from starkperp.exchange.markets import price_from_human, quantity_from_human
from starkperp.exchange.model import Fill
from starkperp.l1.client import L1Client
from starkperp.l1.config import DAY, L1Config
from starkperp.l1.verifier_gen import deploy_verifier, render_verifier
from starkperp.node.bridge import EventBridge, compute_limit_order
from starkperp.node.pipeline import (
    Batcher,
    BatcherConfig,
    BatchOutcome,
    BatchPipeline,
    BatchProver,
    BatchStatus,
    L1Submitter,
)
from starkperp.rollup.air import get_batch_air
from starkperp.rollup.config import RollupConfig, get_preset
from starkperp.rollup.quantities import PublicKey
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import Trade, Transaction, Withdrawal
from starkperp.rollup.transactions.limit_order import compute_order_hash
from starkperp.stark.options import PRESETS

__all__ = [
    "BatchFigures",
    "L1World",
    "MainJobReport",
    "MeteredL1Client",
    "deploy_l1",
    "run_main_job",
]

PROOF_PRESET = "minimal"
ORACLE_KEY = PublicKey(0x0A11CE)
START_TIME = 1_700_000_000
USDC = 10**6
BTC = MarketId("BTC-USD")
ETH = MarketId("ETH-USD")
TRADER_DEPOSIT = 100_000 * USDC
MAKER_DEPOSIT = 1_000_000 * USDC
WITHDRAWN = 1_234_567_891
N_TRADERS = 4
N_MAKERS = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchFigures:
    """One batch as the main job saw it, with its L1 gas."""

    outcome: BatchOutcome
    n_trades: int
    gas_used: int
    l1_state_hash: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class MainJobReport:
    """What the main job did: per-batch figures and the withdrawal paid on L1."""

    proof_preset: str
    security_bits: int
    batches: tuple[BatchFigures, ...]
    withdrawal_amount: int
    withdrawal_paid: int
    l1_batch_id: int

    @property
    def is_all_settled(self) -> bool:
        """Return whether every batch is SETTLED on L1."""
        return all(b.outcome.status is BatchStatus.SETTLED for b in self.batches)


@dataclass
class L1World:
    """The deployed L1: client, operator address and key, deployer."""

    client: MeteredL1Client
    operator: str
    operator_key: bytes
    deployer: str


class MeteredL1Client(L1Client):
    """An :class:`L1Client` that records the gas of every ``updateState`` it sends."""

    def __init__(self, env: boa.Env) -> None:
        super().__init__(env)
        self.update_gas: list[int] = []

    def update_state(self, *, proof: bytes, public_input: bytes, data: bytes, sender: str) -> None:
        """Send ``updateState`` (see :meth:`L1Client.update_state`) and record its gas."""
        super().update_state(proof=proof, public_input=public_input, data=data, sender=sender)
        self.update_gas.append(int(self.system.perpetual.call_trace().gas_used))


def deploy_l1(config: RollupConfig, genesis: RollupState, *, rng: random.Random) -> L1World:
    """Deploy token, ``StarkPerpetual`` and the batch-AIR verifier on a fresh py-evm chain."""
    client = MeteredL1Client(boa.Env())
    operator = Account.from_key(rng.randbytes(32))
    deployer = client.new_account()
    air = get_batch_air(config)
    sources = render_verifier(air, PRESETS[PROOF_PRESET], contract_name="BatchVerifier")
    verifier = deploy_verifier(client.env, air, sources, "BatchVerifier")
    client.deploy(
        config=L1Config(
            tree_depth=config.positions_depth,
            n_assets=config.n_assets,
            grace_period=DAY,
            deposit_cancel_delay=DAY,
        ),
        initial_state_hash=genesis.get_shared_state().compute_hash(),
        operator=operator.address,
        deployer=deployer,
        verifier=str(verifier.address),
    )
    return L1World(
        client=client,
        operator=operator.address,
        operator_key=bytes(operator.key),
        deployer=deployer,
    )


@dataclass
class _Participant:
    account_id: int
    stark_key: int
    eth: str
    deposit: int


class _OrderMaker:
    """Build unsigned BTC-USD orders whose rollup order keys never collide.

    The ``minimal`` rollup has an order tree of depth 8: an order's key is the low 8 bits of
    its message hash, so the session picks client ids whose keys are still free, as an
    operator of so small a tree would have to.
    """

    def __init__(self, ex: Exchange, config: RollupConfig, keys: dict[int, int]) -> None:
        self.ex = ex
        self.config = config
        self.keys = keys
        self.used: set[int] = set()
        self.n = 0

    def make(self, account: int, side: Side, size: str, price: str) -> Order:
        market = self.ex.get_market(BTC)
        while True:
            self.n += 1
            order = Order(
                account_id=account,  # type: ignore[arg-type]
                market=BTC,
                side=side,
                size=quantity_from_human(market, size),
                price=price_from_human(market, price),
                client_id=f"mj-{self.n}",
                expiration=Timestamp(self.ex.clock() + 86_400),
                limit_fee=5_000,  # type: ignore[arg-type]
            )
            limit = compute_limit_order(
                order,
                market,
                asset_id=self.config.asset_ids[0],
                public_key=PublicKey(self.keys[account]),
            )
            key = compute_order_hash(limit) % 2**self.config.orders_depth
            if key not in self.used:
                self.used.add(key)
                return order


def _run_session(
    ex: Exchange,
    orders: _OrderMaker,
    clock: ManualClock,
    traders: Sequence[int],
    makers: Sequence[int],
    rng: random.Random,
) -> None:
    """Market makers quote BTC-USD around 50,000; traders cross; one funding hour."""
    for round_ in range(6):
        if round_ == 3:
            clock.advance(3_600)
            ex.advance_time()  # the funding hour
            ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50050"))
            ex.set_oracle_price(ETH, price_from_human(ex.get_market(ETH), "3000"))
        mid = 50_000 + rng.randint(-20, 20)
        for i, maker in enumerate(makers):
            ex.place_order(orders.make(maker, Side.BUY, "0.05", str(mid - 5 - i)))
            ex.place_order(orders.make(maker, Side.SELL, "0.05", str(mid + 5 + i)))
        clock.advance(1)
        trader = traders[rng.randrange(len(traders))]
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        price = mid + 20 if side is Side.BUY else mid - 20
        size = rng.choice(("0.01", "0.02", "0.03"))
        ex.place_order(orders.make(trader, side, size, str(price)))
        clock.advance(1)


def run_main_job(
    *, n_batches: int = 2, seed: int = 7, console: Console | None = None
) -> MainJobReport:
    """Run the main job end to end (see the module docstring); return its report."""
    out = console or Console()
    rng = random.Random(seed)
    options = PRESETS[PROOF_PRESET]
    config = get_preset("minimal", oracle_signers=(ORACLE_KEY,), verify_signatures=False)
    genesis = RollupState.genesis(config)
    bits = options.conjectured_security_bits()
    out.print(
        f"[bold]proof preset:[/bold] {PROOF_PRESET} ({options}); conjectured security "
        f"{bits} bits — a demonstration, not production security (the batch verifier is "
        "only known to fit on L1 at this preset)"
    )
    with out.status("deploying L1 (collateral token, StarkPerpetual, batch verifier)..."):
        started = time.perf_counter()
        world = deploy_l1(config, genesis, rng=rng)
    client = world.client
    out.print(f"L1 deployed on the embedded py-evm in {time.perf_counter() - started:.1f} s")

    clock = ManualClock(START_TIME)
    ex = Exchange(minimal_exchange(), clock=clock, require_signatures=False)
    ex.set_oracle_price(BTC, price_from_human(ex.get_market(BTC), "50000"))
    ex.set_oracle_price(ETH, price_from_human(ex.get_market(ETH), "3000"))
    people: list[_Participant] = []
    for i in range(N_TRADERS + N_MAKERS):
        stark_key = rng.getrandbits(250) | 1
        account = ex.create_account(public_key=stark_key)
        eth = Account.from_key(rng.randbytes(32)).address
        amount = TRADER_DEPOSIT if i < N_TRADERS else MAKER_DEPOSIT
        people.append(
            _Participant(account_id=account, stark_key=stark_key, eth=eth, deposit=amount)
        )
        client.env.set_balance(eth, 10**21)
        client.register_user(
            eth_key=eth, stark_key=stark_key, operator_key=world.operator_key, sender=eth
        )
        client.mint(eth, amount, sender=world.deployer)
        client.deposit(stark_key=stark_key, position_id=account, amount=amount, sender=eth)
        ex.deposit(account, amount)
    out.print(
        f"registered {N_TRADERS} traders and {N_MAKERS} market makers on L1; deposited "
        f"{sum(p.deposit for p in people) / USDC:,.0f} USDC (pending until a batch settles)"
    )
    traders = [p.account_id for p in people[:N_TRADERS]]
    makers = [p.account_id for p in people[N_TRADERS:]]
    orders = _OrderMaker(ex, config, {p.account_id: p.stark_key for p in people})
    _run_session(ex, orders, clock, traders, makers, rng)
    withdrawer = people[0]
    ex.withdraw(withdrawer.account_id, WITHDRAWN)
    events = list(ex.events)
    n_fills = sum(1 for e in events if isinstance(e, Fill))
    n_funding = sum(1 for e in events if isinstance(e, FundingApplied))
    recipients = {p.account_id: int(p.eth, 16) for p in people}
    bridge = EventBridge(
        minimal_exchange(), config, oracle_public_key=ORACLE_KEY, get_recipient=recipients.get
    )
    txs = bridge.translate(events)
    out.print(
        f"exchange session: {len(events)} events, {n_fills} fills, {n_funding} funding "
        f"payments -> {len(txs)} rollup transactions"
    )
    per_batch = -(-len(txs) // n_batches)
    batcher = Batcher(BatcherConfig(max_transactions=per_batch), clock=lambda: 0.0)
    batches = batcher.add(txs)
    last = batcher.flush()
    batches += [last] if last is not None else []
    figures = _prove_and_settle(out, genesis, world, batches, options)
    before = client.get_token_balance(withdrawer.eth)
    pending = client.get_pending_withdrawal(withdrawer.eth)
    paid = 0
    if pending:
        client.withdraw(sender=withdrawer.eth)
        paid = client.get_token_balance(withdrawer.eth) - before
    out.print(
        f"withdrawal of {WITHDRAWN / USDC:,.6f} USDC: pending on L1 {pending / USDC:,.6f}, "
        f"L1 token balance of {withdrawer.eth} {before / USDC:,.6f} -> "
        f"{(before + paid) / USDC:,.6f} (+{paid / USDC:,.6f})"
    )
    report = MainJobReport(
        proof_preset=PROOF_PRESET,
        security_bits=bits,
        batches=tuple(figures),
        withdrawal_amount=WITHDRAWN,
        withdrawal_paid=paid,
        l1_batch_id=client.get_batch_id(),
    )
    verdict = "all batches SETTLED" if report.is_all_settled else "NOT all batches settled"
    out.print(f"[bold]{verdict}; L1 batch id {report.l1_batch_id}[/bold]")
    return report


def _prove_and_settle(
    out: Console,
    genesis: RollupState,
    world: L1World,
    batches: Sequence[Sequence[Transaction]],
    options: Any,
) -> list[BatchFigures]:
    submitter = L1Submitter(world.client, operator=world.operator)
    figures: list[BatchFigures] = []
    with BatchProver(options, max_workers=1) as prover:
        pipeline = BatchPipeline(genesis, prover, submitter=submitter)
        for batch in batches:
            n_trades = sum(1 for tx in batch if isinstance(tx, Trade))
            n_withdrawals = sum(1 for tx in batch if isinstance(tx, Withdrawal))
            with out.status(
                f"batch {pipeline.next_batch_number}: {len(batch)} txs ({n_trades} trades, "
                f"{n_withdrawals} withdrawals) proving in the worker process..."
            ):
                pipeline.submit_batch(batch)
                (outcome,) = pipeline.collect()
            l1_hash = world.client.get_state_hash()
            settled = outcome.status is BatchStatus.SETTLED
            gas = world.client.update_gas[-1] if settled else 0
            figures.append(
                BatchFigures(
                    outcome=outcome, n_trades=n_trades, gas_used=gas, l1_state_hash=l1_hash
                )
            )
            per_trade = f", {gas // n_trades:,} gas/trade" if n_trades and gas else ""
            colour = "green" if outcome.status is BatchStatus.SETTLED else "red"
            out.print(
                f"batch {outcome.batch_number}: {outcome.n_transactions} txs, {n_trades} trades, "
                f"prove {outcome.prove_seconds:.1f} s, verify {outcome.verify_seconds:.2f} s, "
                f"proof {outcome.proof_bytes:,} B, updateState gas {gas:,}{per_trade}, "
                f"new state hash 0x{outcome.new_state_hash.hex()[:16]}…, L1 hash "
                f"0x{l1_hash.hex()[:16]}… [{colour}]{outcome.status.value}[/{colour}]"
                + (f" ({outcome.reason})" if outcome.reason else "")
            )
    return figures
