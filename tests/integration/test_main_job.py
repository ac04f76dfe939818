"""The main job end to end, small: traded through the API, every batch SETTLED, paid on L1."""

from __future__ import annotations

import pytest
from rich.console import Console

from starkperp.node.settlement import BatchState
from starkperp.sim.main_job import run_main_job

pytestmark = pytest.mark.slow

GAS_CAP = 2**24


@pytest.mark.parametrize("proof_preset", ["minimal", "default"])
def test_main_job_settles_every_batch_and_pays_the_withdrawal(proof_preset: str) -> None:
    console = Console(record=True, width=200)
    report = run_main_job(
        n_rounds=3, seed=7, max_transactions=64, proof_preset=proof_preset, console=console
    )
    assert report.halted == ""
    assert report.proof_preset == proof_preset
    assert report.batches
    for batch in report.batches:
        assert batch.state is BatchState.SETTLED
        assert batch.reason == ""
        if proof_preset == "minimal":  # one updateState verifies the proof
            assert 0 < batch.gas_used < GAS_CAP
        else:  # the sum of the verification steps (each < 2^24, tests/l1) and updateState
            assert batch.gas_used > 0
    assert sum(b.n_trades for b in report.batches) == report.n_trades > 0
    assert sum(b.n_deposits for b in report.batches) == 6  # every L1 deposit settled
    assert sum(b.n_withdrawals for b in report.batches) == 1
    assert report.l1_batch_id == len(report.batches)
    assert report.is_all_settled
    assert report.withdrawal_paid == report.withdrawal_amount  # exact, to the quantum
    text = console.export_text()
    assert "SETTLED" in text and "conjectured security" in text
    if proof_preset == "default":
        assert "conjectured security 100 bits" in text
    assert "= L1's stored state hash" in text
