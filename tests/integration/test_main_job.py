"""The main job end to end: every batch SETTLED on the embedded L1, the withdrawal paid."""

from __future__ import annotations

import pytest
from rich.console import Console

from starkperp.node.pipeline import BatchStatus
from starkperp.sim.main_job import run_main_job

pytestmark = pytest.mark.slow

GAS_CAP = 2**24


def test_main_job_settles_every_batch_and_pays_the_withdrawal() -> None:
    console = Console(record=True, width=200)
    report = run_main_job(n_batches=1, seed=7, console=console)
    assert report.proof_preset == "minimal"
    assert len(report.batches) == 1
    for figures in report.batches:
        assert figures.outcome.status is BatchStatus.SETTLED
        assert figures.outcome.reason == ""
        assert figures.l1_state_hash == figures.outcome.new_state_hash
        assert figures.n_trades > 0
        assert 0 < figures.gas_used < GAS_CAP
    assert report.l1_batch_id == len(report.batches)
    assert report.is_all_settled
    assert report.withdrawal_paid == report.withdrawal_amount
    text = console.export_text()
    assert "SETTLED" in text and "conjectured security" in text
