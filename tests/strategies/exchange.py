"""Hypothesis strategies for the exchange: random but valid-looking operation sequences.

An operation is a small tuple interpreted by ``tests/exchange/test_properties.py``; many of
them are meant to be refused (too large, reduce-only without a position, post-only that
would cross ...), which exercises the "a rejection changes nothing" rule as well.
"""

from __future__ import annotations

from hypothesis import strategies as st

from starkperp.exchange import OrderType, Side, TimeInForce

N_ACCOUNTS = 5

accounts = st.integers(min_value=0, max_value=N_ACCOUNTS - 1)
markets = st.sampled_from(["BTC-USD", "ETH-USD"])

place = st.tuples(
    st.just("place"),
    accounts,
    markets,
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=40),  # size in minimum-order units
    st.integers(min_value=-30, max_value=30),  # price offset in ticks x 50 from the index
    st.sampled_from(
        [
            (OrderType.LIMIT, TimeInForce.GTT),
            (OrderType.LIMIT, TimeInForce.GTT),
            (OrderType.LIMIT, TimeInForce.IOC),
            (OrderType.LIMIT, TimeInForce.FOK),
            (OrderType.MARKET, TimeInForce.IOC),
            (OrderType.STOP_LIMIT, TimeInForce.GTT),
            (OrderType.TAKE_PROFIT_MARKET, TimeInForce.IOC),
        ]
    ),
    st.sampled_from([False, False, False, False, True]),  # post only
    st.sampled_from([False, False, False, False, True]),  # reduce only
    st.integers(min_value=30, max_value=7_200),  # expires in seconds
)
cancel = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=200))
cancel_all = st.tuples(st.just("cancel_all"), accounts)
deposit = st.tuples(st.just("deposit"), accounts, st.integers(min_value=1, max_value=50_000))
withdraw = st.tuples(st.just("withdraw"), accounts, st.integers(min_value=1, max_value=50_000))
transfer = st.tuples(
    st.just("transfer"), accounts, accounts, st.integers(min_value=1, max_value=20_000)
)
price_move = st.tuples(st.just("price"), markets, st.integers(min_value=-150, max_value=150))
time_step = st.tuples(st.just("time"), st.integers(min_value=1, max_value=1_800))
liquidate = st.tuples(st.just("liquidate"))

operation = st.one_of(
    place, place, place, place, place, place, place, place, cancel, cancel, cancel_all,
    deposit, withdraw, transfer, price_move, price_move, time_step, liquidate,
)  # fmt: skip
operations = st.lists(operation, min_size=10, max_size=60)


def generate_operations(seed: int, count: int) -> list[tuple]:
    """Draw ``count`` operations from a seeded RNG (denser trading than shrink-biased lists)."""
    import random

    rng = random.Random(seed)
    kinds = [
        (OrderType.LIMIT, TimeInForce.GTT),
        (OrderType.LIMIT, TimeInForce.GTT),
        (OrderType.LIMIT, TimeInForce.IOC),
        (OrderType.LIMIT, TimeInForce.FOK),
        (OrderType.MARKET, TimeInForce.IOC),
        (OrderType.STOP_LIMIT, TimeInForce.GTT),
        (OrderType.TAKE_PROFIT_MARKET, TimeInForce.IOC),
    ]
    out: list[tuple] = []
    for _ in range(count):
        r = rng.random()
        if r < 0.6:
            out.append(
                (
                    "place",
                    rng.randrange(N_ACCOUNTS),
                    rng.choice(["BTC-USD", "ETH-USD"]),
                    rng.choice([Side.BUY, Side.SELL]),
                    rng.randint(1, 4_000),
                    rng.randint(-30, 30),
                    rng.choice(kinds),
                    rng.random() < 0.15,
                    rng.random() < 0.15,
                    rng.randint(30, 7_200),
                )
            )
        elif r < 0.7:
            out.append(("cancel", rng.randrange(200)))
        elif r < 0.72:
            out.append(("cancel_all", rng.randrange(N_ACCOUNTS)))
        elif r < 0.76:
            out.append(("deposit", rng.randrange(N_ACCOUNTS), rng.randint(1, 50_000)))
        elif r < 0.8:
            out.append(("withdraw", rng.randrange(N_ACCOUNTS), rng.randint(1, 50_000)))
        elif r < 0.83:
            out.append(
                (
                    "transfer",
                    rng.randrange(N_ACCOUNTS),
                    rng.randrange(N_ACCOUNTS),
                    rng.randint(1, 20_000),
                )
            )
        elif r < 0.93:
            out.append(("price", rng.choice(["BTC-USD", "ETH-USD"]), rng.randint(-150, 150)))
        elif r < 0.97:
            out.append(("time", rng.randint(1, 1_800)))
        else:
            out.append(("liquidate",))
    return out


seeded_operations = st.builds(
    generate_operations,
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=10, max_value=120),
)


def generate_differential_operations(seed: int, count: int) -> list[tuple]:
    """Draw operations for the fast-path-versus-reference test: dense trading near the
    index (prices on a coarse grid so they often meet exactly, sizes mostly affordable),
    plus re-sent client ids, cancel-replace, market status changes and hostile values."""
    import random

    rng = random.Random(seed)
    kinds = [
        (OrderType.LIMIT, TimeInForce.GTT),
        (OrderType.LIMIT, TimeInForce.GTT),
        (OrderType.LIMIT, TimeInForce.GTT),
        (OrderType.LIMIT, TimeInForce.IOC),
        (OrderType.LIMIT, TimeInForce.FOK),
        (OrderType.MARKET, TimeInForce.IOC),
        (OrderType.MARKET, TimeInForce.GTT),
        (OrderType.STOP_LIMIT, TimeInForce.GTT),
        (OrderType.TAKE_PROFIT_MARKET, TimeInForce.IOC),
    ]
    out: list[tuple] = []
    for _ in range(count):
        r = rng.random()
        if r < 0.55:
            out.append(
                (
                    "place",
                    rng.randrange(N_ACCOUNTS),
                    rng.choice(["BTC-USD", "ETH-USD"]),
                    rng.choice([Side.BUY, Side.SELL]),
                    rng.choice([rng.randint(1, 60), rng.randint(1, 400), rng.randint(1, 4_000)]),
                    rng.randint(-4, 4),
                    rng.choice(kinds),
                    rng.random() < 0.1,
                    rng.random() < 0.1,
                    rng.randint(30, 7_200),
                )
            )
        elif r < 0.67:
            out.append(("cancel", rng.randrange(200)))
        elif r < 0.69:
            out.append(("cancel_all", rng.randrange(N_ACCOUNTS)))
        elif r < 0.72:
            out.append(("deposit", rng.randrange(N_ACCOUNTS), rng.randint(1, 50_000)))
        elif r < 0.74:
            out.append(("withdraw", rng.randrange(N_ACCOUNTS), rng.randint(1, 50_000)))
        elif r < 0.8:
            out.append(("price", rng.choice(["BTC-USD", "ETH-USD"]), rng.randint(-150, 150)))
        elif r < 0.83:
            # now and then several hours at once (funding catches up hour by hour)
            step = rng.randint(1, 1_800) if rng.random() < 0.8 else rng.randint(3_600, 14_400)
            out.append(("time", step))
        elif r < 0.85:
            out.append(("liquidate",))
        elif r < 0.9:
            out.append(("resend", rng.randrange(200)))
        elif r < 0.94:
            out.append(("replace", rng.randrange(200), rng.randint(-3, 3)))
        elif r < 0.97:
            market = rng.choice(["BTC-USD", "ETH-USD"])
            out.append(("status", market, rng.choice(["ONLINE", "CLOSE_ONLY", "HALTED"])))
            out.append(("status", market, "ONLINE"))
        else:
            out.append(("hostile", rng.randrange(8)))
    return out


differential_operations = st.builds(
    generate_differential_operations,
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=10, max_value=150),
)


RESERVE_ACCOUNTS = 2


def reserve_operations(*, post_only: bool) -> st.SearchStrategy[list[tuple]]:
    """Operations for the open-order margin properties, at fixed oracle prices.

    ``("place", who, market, side, units, offset, post_only)`` rests a GTT limit order
    ``offset`` steps (50 USD for BTC, 3 USD for ETH) from the index; with ``post_only`` every
    placement is post-only (nothing fills), otherwise most may cross and fill.
    """
    who = st.integers(min_value=0, max_value=RESERVE_ACCOUNTS - 1)
    resting = st.tuples(
        st.just("place"),
        who,
        markets,
        st.sampled_from([Side.BUY, Side.SELL]),
        st.sampled_from([1, 100, 300, 500, 700]),  # size in minimum-order units
        st.integers(min_value=-10, max_value=10),
        st.just(True) if post_only else st.sampled_from([False, False, True]),
    )
    op = st.one_of(
        resting,
        resting,
        resting,
        resting,
        resting,
        resting,
        st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=100)),
        st.tuples(st.just("deposit"), who, st.integers(min_value=1, max_value=3_000)),
        st.tuples(st.just("withdraw"), who, st.integers(min_value=1, max_value=10_000)),
        st.tuples(st.just("transfer"), who, who, st.integers(min_value=1, max_value=10_000)),
    )
    return st.lists(op, min_size=5, max_size=50)
