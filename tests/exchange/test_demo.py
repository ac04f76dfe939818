"""The demo session runs, crashes the market, and ends conserved and replayable."""

from __future__ import annotations

import io

from rich.console import Console

from starkperp.cli.demo import run_demo


def test_demo_session_shows_liquidations_and_checks_itself() -> None:
    out = io.StringIO()
    run_demo(seconds=120, seed=3, pace=False, console=Console(file=out, width=140))
    text = out.getvalue()
    assert "fill" in text and "funding" in text
    assert "liquidated" in text and "crashes 30 %" in text
    assert "conserved" in text and "NOT conserved" not in text
    assert "identical state digest" in text
