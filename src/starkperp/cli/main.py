"""The ``starkperp`` console entry point."""

from __future__ import annotations

import json
import time
from typing import Any

import typer

app = typer.Typer(help="starkperp: a STARK-proven perpetual exchange.", no_args_is_help=True)
order_app = typer.Typer(help="Place and cancel orders on a node.", no_args_is_help=True)
app.add_typer(order_app, name="order")

_URL = typer.Option("http://127.0.0.1:8080", "--url", envvar="STARKPERP_URL", help="Node URL.")
_KEY = typer.Option(
    ..., "--eth-key", envvar="STARKPERP_ETH_KEY", help="Ethereum private key (hex) of the trader."
)


@app.command()
def version() -> None:
    """Print the version."""
    from starkperp import __version__

    typer.echo(__version__)


@app.command()
def demo(seconds: float = 20.0, seed: int = 7) -> None:
    """Run the main job: an exchange session with simulated traders."""
    from starkperp.cli.demo import run_demo

    run_demo(seconds=seconds, seed=seed)


@app.command("main")
def main_job(
    rounds: int = typer.Option(12, help="Trading rounds (makers quote, one trader crosses)."),
    seed: int = typer.Option(7, help="Seed of the simulated participants."),
    batch_size: int = typer.Option(24, help="A batch closes at this many rollup txs..."),
    batch_age: float = typer.Option(20.0, help="...or when its oldest tx is this old (s)."),
    proof_preset: str = typer.Option(
        "default",
        help="'default' (100 bits, verified on L1 in steps) or 'minimal' (17 bits, tests).",
    ),
) -> None:
    """Run the main job: a node on the embedded defaults, traded through its API, settling
    every batch on the embedded L1, ending with a withdrawal paid on L1."""
    from starkperp.sim.main_job import run_main_job

    report = run_main_job(
        n_rounds=rounds,
        seed=seed,
        max_transactions=batch_size,
        max_age_seconds=batch_age,
        proof_preset=proof_preset,
    )
    if not report.is_all_settled or report.withdrawal_paid != report.withdrawal_amount:
        raise typer.Exit(code=1)


@app.command()
def node(
    db: str = typer.Option("starkperp-node.sqlite", help="SQLite path or postgresql:// DSN."),
    host: str = typer.Option("127.0.0.1", help="Listen address."),
    port: int = typer.Option(8080, help="Listen port."),
    network_id: int = typer.Option(1, help="Network id the signatures are bound to."),
    preset: str = typer.Option("default", help="Markets: 'default' (all) or 'minimal'."),
    tick_ms: int = typer.Option(1000, help="Clock tick period (expiries, funding)."),
    rate_limit: int = typer.Option(100_000, help="Requests per 10 s per IP and per account."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
    oracle_signer: list[str] = typer.Option(
        [], help="STARK public key (hex) allowed to sign oracle prices (repeatable)."
    ),
    oracle_quorum: int = typer.Option(1, help="Distinct signers an oracle tick needs."),
    settle: bool = typer.Option(
        False,
        help="Batch, prove and settle on L1 (needs --preset minimal): an embedded L1 (deployed "
        "at first start, journaled and replayed on restart), or the JSON-RPC chain of --l1-url.",
    ),
    proof_preset: str = typer.Option(
        "default", help="With --settle: 'default' (100 bits, verified in steps) or 'minimal'."
    ),
    batch_size: int = typer.Option(32, help="With --settle: close a batch at this many txs."),
    batch_age: float = typer.Option(15.0, help="With --settle: or when this old (seconds)."),
    l1_journal: str = typer.Option(
        "", help="With --settle: the embedded chain's journal (default: <db>.l1.sqlite)."
    ),
    l1_url: str = typer.Option(
        "",
        envvar="STARKPERP_L1_URL",
        help="With --settle: settle on this JSON-RPC chain instead of the embedded one "
        "(contracts deployed at first start and recorded in the node database).",
    ),
    l1_key: str = typer.Option(
        "",
        envvar="STARKPERP_L1_KEY",
        help="With --l1-url: the operator's private key (hex): sends updateState, signs "
        "registrations. Prefer the environment variable to the flag.",
    ),
    l1_deployer_key: str = typer.Option(
        "",
        envvar="STARKPERP_L1_DEPLOYER_KEY",
        help="With --l1-url: the key that deploys the contracts and mints the local token "
        "(default: --l1-key).",
    ),
    l1_confirmations: int = typer.Option(
        0, help="With --l1-url: credit an L1 deposit once it is this many blocks deep."
    ),
) -> None:
    """Start a node: API server, sequencer, durable log, clock ticks (and settlement)."""
    import uvicorn

    from starkperp.api.app import create_app
    from starkperp.node import config as node_config
    from starkperp.node.service import Node

    base = node_config.minimal(db) if preset == "minimal" else node_config.default(db)
    from dataclasses import replace

    exchange = base.exchange
    if oracle_signer:
        exchange = replace(
            exchange,
            oracle_signers=tuple(int(k, 16) for k in oracle_signer),
            oracle_quorum=oracle_quorum,
        )
    config = replace(
        base,
        exchange=exchange,
        network_id=network_id,
        tick_period_ms=tick_ms,
        ip_rate_limit=rate_limit,
        account_rate_limit=rate_limit,
    )
    settlement = None
    if settle:
        # deposits come from L1 only: the dev faucet would credit funds L1 never received
        config = replace(config, enable_testnet_tokens=False)
        from starkperp.node.config import SettlementConfig
        from starkperp.node.settlement import SettlementService

        if preset != "minimal":
            typer.echo("--settle needs --preset minimal (the rollup's markets)", err=True)
            raise typer.Exit(code=2)
        settlement_config = SettlementConfig(
            max_transactions=batch_size,
            max_age_seconds=batch_age,
            proof_preset=proof_preset,
            verify_in_steps=proof_preset != "minimal",
            l1_confirmations=l1_confirmations,
        )
        if l1_url:
            settlement = _json_rpc_settlement(
                settlement_config, l1_url, l1_key, l1_deployer_key or l1_key
            )
        else:
            if not l1_journal and db.startswith(("postgresql://", "postgres://")):
                typer.echo("--settle with PostgreSQL needs --l1-journal PATH", err=True)
                raise typer.Exit(code=2)
            settlement = SettlementService(
                settlement_config,
                chain_path=l1_journal or f"{db.removeprefix('sqlite:///')}.l1.sqlite",
            )
    the_node = Node(config, settlement=settlement)
    the_node.open()
    typer.echo(
        json.dumps(
            {
                "event": "node_starting",
                "db": db,
                "recovered_records": the_node.recovered_records,
                "url": f"http://{host}:{port}",
            }
        ),
        err=True,
    )
    uvicorn.run(
        create_app(the_node),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
    )


def _json_rpc_settlement(config: Any, url: str, operator_key: str, deployer_key: str) -> Any:
    from eth_account import Account

    from starkperp.l1.client import L1Client
    from starkperp.node.settlement import SettlementService

    if not operator_key:
        typer.echo("--l1-url needs --l1-key (or STARKPERP_L1_KEY)", err=True)
        raise typer.Exit(code=2)
    try:
        operator = Account.from_key(operator_key)
        deployer = Account.from_key(deployer_key)
    except (ValueError, TypeError) as exc:
        typer.echo(f"bad L1 private key: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    keys = [bytes(deployer.key), bytes(operator.key)]  # the operator is the default sender
    return SettlementService(
        config,
        l1=L1Client.connect(url, keys),
        operator_key=bytes(operator.key),
        deployer=str(deployer.address),
    )


@app.command()
def status(url: str = _URL) -> None:
    """Show a node's status (log position, accounts, state digest)."""
    import httpx

    typer.echo(json.dumps(httpx.get(f"{url}/v3/status", timeout=10).json(), indent=2))


def _client(url: str, eth_key: str, network_id: int) -> Any:
    from starkperp.client.http import ApiError, Identity, StarkPerpClient

    client = StarkPerpClient(url, identity=Identity.from_eth_key(eth_key, network_id=network_id))
    try:
        account = client.get_account()
    except ApiError:
        client.onboard()
        account = client.get_account()
    assert client.identity is not None
    client.identity = client.identity.with_position(int(account["positionId"]))
    return client


@order_app.command("place")
def order_place(
    market: str = typer.Option(..., help="e.g. BTC-USD"),
    side: str = typer.Option(..., help="BUY or SELL"),
    size: str = typer.Option(..., help="Size in coins, e.g. 0.01"),
    price: str = typer.Option(..., help="Limit price in USD"),
    client_id: str = typer.Option("", help="Client id (default: random)"),
    ttl: int = typer.Option(7 * 86400, help="Seconds until the order expires"),
    url: str = _URL,
    eth_key: str = _KEY,
    network_id: int = 1,
) -> None:
    """Sign and place a limit order (onboards the key on first use)."""
    import secrets

    client = _client(url, eth_key, network_id)
    out = client.place_order(
        market=market,
        side=side.upper(),
        size=size,
        price=price,
        client_id=client_id or secrets.token_hex(8),
        expiration_s=int(time.time()) + ttl,
    )
    typer.echo(json.dumps(out, indent=2))


@order_app.command("cancel")
def order_cancel(order_id: str, url: str = _URL, eth_key: str = _KEY, network_id: int = 1) -> None:
    """Cancel an order by id."""
    typer.echo(json.dumps(_client(url, eth_key, network_id).cancel_order(order_id), indent=2))


@app.command()
def deposit(amount: str, url: str = _URL, eth_key: str = _KEY, network_id: int = 1) -> None:
    """DEV/TEST FAUCET: credit unbacked collateral (a node without --settle only; a settling
    node credits deposits made on L1, read by its watcher)."""
    typer.echo(json.dumps(_client(url, eth_key, network_id).deposit_testnet(amount), indent=2))


@app.command()
def withdraw(
    amount: str,
    client_id: str = typer.Option("", help="Client id (default: random)"),
    url: str = _URL,
    eth_key: str = _KEY,
    network_id: int = 1,
) -> None:
    """Sign and submit a withdrawal of USDC."""
    import secrets

    client = _client(url, eth_key, network_id)
    out = client.withdraw(amount, client_id or secrets.token_hex(8), int(time.time()) + 86400)
    typer.echo(json.dumps(out, indent=2))


@app.command("escape-proof")
def escape_proof(
    position_id: int = typer.Option(..., help="Position (account) id to escape."),
    calldata: list[str] = typer.Option(
        [], help="Files with the hex calldata of each accepted updateState, in order."
    ),
    preset: str = typer.Option("default", help="Rollup preset of the deployment."),
    genesis_prices: str = typer.Option(
        "", help="Comma-separated genesis oracle prices (32.32), as the deployment started."
    ),
) -> None:
    """Rebuild the frozen L2 state from L1 calldata alone and print the escape arguments."""
    from pathlib import Path

    from starkperp.errors import StarkPerpError
    from starkperp.l1.escape import (
        compute_escape_amount,
        get_escape_proof,
        rebuild_state_from_calldata,
    )
    from starkperp.rollup.config import get_preset
    from starkperp.rollup.state import RollupState

    try:
        datas = [bytes.fromhex(Path(p).read_text().strip().removeprefix("0x")) for p in calldata]
        prices = [int(p) for p in genesis_prices.split(",") if p.strip()] or None
        genesis = RollupState.genesis(get_preset(preset, verify_signatures=False), prices)
        state = rebuild_state_from_calldata(genesis, datas)
        proof = get_escape_proof(state, position_id)
        amount = compute_escape_amount(state.get_position(position_id), state.global_state)
    except (StarkPerpError, OSError, ValueError) as exc:
        typer.echo(json.dumps({"error": str(exc)}), err=True)
        raise typer.Exit(code=2) from exc
    args = proof.as_args()
    typer.echo(
        json.dumps(
            {
                "positionId": args[0],
                "starkKey": hex(args[1]),
                "collateral": str(args[2]),
                "balances": [str(b) for b in args[3]],
                "cachedFundingIndices": [str(i) for i in args[4]],
                "siblings": [[str(x) for x in s] for s in args[5]],
                "escapeAmount": str(amount),
            },
            indent=2,
        )
    )
