"""The demo session: simulated traders and market makers on a live exchange.

``run_demo`` drives a real :class:`~starkperp.exchange.Exchange` with a seeded random
number generator and a simulated clock (two minutes per step, so hourly funding shows up):
three oracle signers publish signed prices (quorum two), market makers quote both sides of
BTC-USD and ETH-USD, takers trade, a few traders run high leverage, and partway through the
index crashes by 30 %. The console shows fills, funding payments, liquidations and
deleveraging as they happen, then checks that collateral was conserved and that replaying
the event log reproduces the final state.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import fast_stark_crypto
from rich.console import Console
from rich.table import Table

from starkperp.exchange import (
    Exchange,
    ExchangeError,
    MarketId,
    Order,
    OrderType,
    PriceTick,
    Side,
    TimeInForce,
    Timestamp,
    replay,
    sign_price,
)
from starkperp.exchange.config import ExchangeConfig
from starkperp.exchange.engine import ManualClock
from starkperp.exchange.events import Deleveraged, FundingApplied, Liquidated
from starkperp.exchange.markets import (
    COLLATERAL_RESOLUTION,
    DEFAULT_MARKETS,
    MarketConfig,
    compute_human_price,
    compute_price_from_e6,
    human_from_quantity,
)

__all__ = ["run_demo"]

STEP_SECONDS = 120
START_TIME = 1_700_000_000
USDC = COLLATERAL_RESOLUTION
ORACLE_KEYS = (0x51A7E0, 0x51A7E1, 0x51A7E2)


def _usd(amount: int) -> str:
    return f"{amount / USDC:,.2f}"


def _tick_price(config: MarketConfig, e6: int) -> int:
    return max(config.tick_size, e6 - e6 % config.tick_size)


class _Session:
    def __init__(self, seed: int, console: Console) -> None:
        self.rng = random.Random(seed)
        self.console = console
        self.clock = ManualClock(START_TIME)
        signers = tuple(fast_stark_crypto.get_public_key(k) for k in ORACLE_KEYS)
        self.config = ExchangeConfig(
            markets=DEFAULT_MARKETS[:2], oracle_signers=signers, oracle_quorum=2
        )
        self.ex = Exchange(self.config, clock=self.clock, require_signatures=False)
        self.markets = [m.market for m in self.config.markets]
        self.index = {MarketId("BTC-USD"): 50_000 * USDC, MarketId("ETH-USD"): 3_000 * USDC}
        self.counter = 0
        self.stats: Counter[str] = Counter()
        self.deposits = 0
        self.publish_prices()
        self.ex.deposit(self.ex.insurance_fund_id, 25_000 * USDC)
        self.deposits += 25_000 * USDC
        self.makers = [self.open_account(500_000) for _ in range(3)]
        self.takers = [self.open_account(self.rng.randint(20_000, 80_000)) for _ in range(8)]
        self.degens = [self.open_account(self.rng.randint(4_000, 8_000)) for _ in range(6)]

    def open_account(self, usd: int) -> int:
        account = self.ex.create_account()
        self.ex.deposit(account, usd * USDC)
        self.deposits += usd * USDC
        return account

    def publish_prices(self) -> None:
        now = self.clock.now
        for market in self.markets:
            config = self.ex.get_market(market)
            price = compute_price_from_e6(config, _tick_price(config, self.index[market]))
            signed = []
            for key in self.rng.sample(ORACLE_KEYS, 2):
                jitter = self.rng.randint(-2, 2) * (
                    config.tick_size * (1 << 32) // config.resolution
                )
                signed.append(sign_price(key, config.asset_id, price + jitter, now))  # type: ignore[arg-type]
            self.ex.apply_oracle_tick(PriceTick(asset_id=config.asset_id, prices=tuple(signed)))

    def order(self, account: int, market: MarketId, side: Side, size: int, e6: int, **kw) -> None:  # type: ignore[no-untyped-def]
        config = self.ex.get_market(market)
        self.counter += 1
        size -= size % config.step_size
        if size < config.min_order_size:
            return
        order = Order(
            account_id=account,  # type: ignore[arg-type]
            market=market,
            side=side,
            size=size,  # type: ignore[arg-type]
            price=compute_price_from_e6(config, _tick_price(config, e6)),
            client_id=f"demo-{self.counter}",
            expiration=Timestamp(self.clock.now + 3_600),
            **kw,
        )
        try:
            ack = self.ex.place_order(order)
        except ExchangeError as exc:
            self.stats[f"rejected {exc.reason.name}"] += 1
            return
        for fill in ack.fills:
            self.stats["fills"] += 1
            self.stats["volume"] += fill.buyer_collateral
            if self.stats["fills"] <= 12 or self.rng.random() < 0.02:
                self.console.print(
                    f"  [green]fill[/] {market[:3]} {fill.taker_side.value.lower()} "
                    f"{human_from_quantity(config, fill.quantity)} @ "
                    f"{compute_human_price(config, fill.price)} "
                    f"#{fill.taker_account_id}<-#{fill.maker_account_id} "
                    f"fees {_usd(fill.maker_fee + fill.taker_fee)}"
                )

    def quote(self) -> None:
        for maker in self.makers:
            self.ex.cancel_all(maker)
        for maker in self.makers:
            for market in self.markets:
                config = self.ex.get_market(market)
                mid = self.index[market]
                unit = config.min_order_size
                for level in range(1, 6):
                    spread = mid * (2 * level + self.rng.randint(0, 2)) // 10_000
                    size = unit * self.rng.randint(100, 600)
                    self.order(maker, market, Side.BUY, size, mid - spread, post_only=True,
                               limit_fee=500)  # fmt: skip
                    self.order(maker, market, Side.SELL, size, mid + spread, post_only=True,
                               limit_fee=500)  # fmt: skip

    def trade(self) -> None:
        for taker in self.rng.sample(self.takers, 3):
            market = self.rng.choice(self.markets)
            config = self.ex.get_market(market)
            side = self.rng.choice((Side.BUY, Side.SELL))
            worst = self.index[market] * (10_100 if side is Side.BUY else 9_900) // 10_000
            size = config.min_order_size * self.rng.randint(10, 200)
            self.order(taker, market, side, size, worst, order_type=OrderType.MARKET,
                       time_in_force=TimeInForce.IOC)  # fmt: skip

    def lever_up(self, step: int) -> None:
        if step < len(self.degens):
            degen = self.degens[step]
            market = MarketId("BTC-USD")
            config = self.ex.get_market(market)
            equity = self.ex.get_account(degen).equity
            notional = equity * 14  # about 14x leverage
            size = notional * config.resolution // self.index[market]
            worst = self.index[market] * 10_100 // 10_000
            self.order(degen, market, Side.BUY, size, worst, order_type=OrderType.MARKET,
                       time_in_force=TimeInForce.IOC)  # fmt: skip

    def move_prices(self, step: int, crash_at: int) -> None:
        for market in self.markets:
            drift = self.rng.randint(-25, 25)
            if crash_at <= step < crash_at + 6:
                drift = -560  # six steps of about -5.6 %: a 30 % crash
            self.index[market] = self.index[market] * (10_000 + drift) // 10_000

    def report_events(self, start: int) -> None:
        for event in self.ex.events[start:]:
            if isinstance(event, FundingApplied):
                paid = sum(
                    abs(p.funding_paid)
                    for p in (self.ex.get_position(a, event.market) for a in self.takers)
                )
                self.console.print(
                    f"  [cyan]funding[/] {event.market} {event.rate_ppb / 1e7:+.4f} %/h; "
                    f"takers paid {_usd(paid)} USDC in all"
                )
            elif isinstance(event, Liquidated):
                self.stats["liquidations"] += 1
                self.console.print(
                    f"  [red]liquidated[/] #{event.account_id}: {len(event.closes)} position(s) "
                    f"to the fund, penalty {_usd(event.penalty)}, "
                    f"fund paid {_usd(event.insurance_payment)}"
                )
            elif isinstance(event, Deleveraged):
                self.stats["deleverages"] += 1
                config = self.ex.get_market(event.market)
                who = (
                    "the insurance fund"
                    if event.deleveraged_account_id == self.ex.insurance_fund_id
                    else f"#{event.deleveraged_account_id}"
                )
                self.console.print(
                    f"  [magenta]deleveraged[/] {who} vs #{event.deleverager_account_id}: "
                    f"{human_from_quantity(config, abs(event.quantity))} {event.market[:3]} "
                    f"for {_usd(abs(event.collateral))}"
                )


def run_demo(
    seconds: float = 20.0, seed: int = 7, *, pace: bool = True, console: Console | None = None
) -> None:
    """Run a simulated exchange session spread over about ``seconds`` of wall time.

    The session is deterministic for a given ``seed`` (as long as it is not cut short by
    the deadline); ``pace=False`` runs it as fast as possible.
    """
    console = console or Console()
    session = _Session(seed, console)
    ex = session.ex
    console.rule(f"[bold]starkperp demo[/] - seed {seed}, {seconds:g} s")
    console.print(
        f"{len(session.makers)} market makers, {len(session.takers)} takers, "
        f"{len(session.degens)} traders at ~14x; insurance fund 25,000 USDC; "
        "prices signed by 2 of 3 oracle keys"
    )
    steps = 150
    crash_at = 70
    began = time.monotonic()
    deadline = began + seconds
    for step in range(steps):
        now = time.monotonic()
        if now > deadline:
            console.print(f"[yellow]time is up after {step} steps[/]")
            break
        if pace:
            time.sleep(max(0.0, began + seconds * step / steps - now))
        start = len(ex.events)
        session.clock.advance(STEP_SECONDS)
        if step == crash_at:
            console.rule("[bold red]the index crashes 30 %[/]")
        session.move_prices(step, crash_at)
        session.publish_prices()
        ex.advance_time()
        ex.process_liquidations()
        session.quote()
        session.lever_up(step)
        session.trade()
        if step % 30 == 29:
            hours = (session.clock.now - START_TIME) / 3_600
            btc = ex.get_oracle_price("BTC-USD")
            assert btc is not None
            human = float(compute_human_price(ex.get_market("BTC-USD"), btc))
            console.print(
                f"[bold]t+{hours:.1f} h[/] BTC {human:,.0f}, {session.stats['fills']} fills, "
                f"volume {_usd(session.stats['volume'])} USDC"
            )
        session.report_events(start)
    _summary(console, session)


def _summary(console: Console, session: _Session) -> None:
    ex = session.ex
    table = Table(title="accounts at the end")
    for column in ("account", "role", "collateral", "equity", "free collateral", "BTC", "ETH"):
        table.add_column(column, justify="right")
    roles: dict[int, str] = {ex.insurance_fund_id: "insurance fund", ex.fee_account_id: "fees"}
    roles |= {a: "market maker" for a in session.makers}
    roles |= {a: "taker" for a in session.takers}
    roles |= {a: "14x long" for a in session.degens}
    for account_id, role in sorted(roles.items()):
        view = ex.get_account(account_id)
        btc = ex.get_position(account_id, "BTC-USD").balance
        eth = ex.get_position(account_id, "ETH-USD").balance
        table.add_row(
            f"#{account_id}",
            role,
            _usd(view.collateral),
            _usd(view.equity),
            _usd(view.free_collateral),
            str(human_from_quantity(ex.get_market("BTC-USD"), btc)),
            str(human_from_quantity(ex.get_market("ETH-USD"), eth)),
        )
    console.print(table)
    total = ex.compute_total_collateral()
    conserved = total == session.deposits
    console.print(
        f"fills {session.stats['fills']}, liquidations {session.stats['liquidations']}, "
        f"deleverages {session.stats['deleverages']}, events {len(ex.events)}"
    )
    console.print(
        f"collateral: deposited {_usd(session.deposits)}, held {_usd(total)} -> "
        + ("[green]conserved[/]" if conserved else "[red]NOT conserved[/]")
    )
    again = replay(ex.events, session.config, require_signatures=False)
    same = again.compute_state_digest() == ex.compute_state_digest()
    console.print(
        "replay of the event log: "
        + ("[green]identical state digest[/]" if same else "[red]digest differs[/]")
    )
    rejected = {k[9:]: v for k, v in session.stats.items() if k.startswith("rejected")}
    if rejected:
        console.print(f"refused requests by reason: {rejected}")
