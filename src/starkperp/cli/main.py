"""The ``starkperp`` console entry point."""

from __future__ import annotations

import typer

app = typer.Typer(help="starkperp: a STARK-proven perpetual exchange.", no_args_is_help=True)


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
