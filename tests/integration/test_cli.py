"""The console entry point: the commands a user and an operator type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starkperp.cli.main import app
from starkperp.l1.escape import get_escape_proof

runner = CliRunner()


def test_version_and_help() -> None:
    assert runner.invoke(app, ["version"]).exit_code == 0
    out = runner.invoke(app, ["--help"]).output
    for command in ("node", "status", "order", "deposit", "withdraw", "escape-proof", "demo"):
        assert command in out


@pytest.mark.slow
def test_escape_proof_from_calldata_alone(tmp_path: Path) -> None:
    from tests.l1.test_rebuild import _batches, _calldata

    _, results = _batches()
    files = []
    for i, data in enumerate(_calldata(results)):
        path = tmp_path / f"batch{i}.hex"
        path.write_text(data.hex())
        files += ["--calldata", str(path)]
    result = runner.invoke(
        app,
        ["escape-proof", "--position-id", "10", "--preset", "minimal",
         "--genesis-prices", f"{10**6},{10**5}", *files],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    expected = get_escape_proof(results[-1].state, 10)
    assert out["collateral"] == str(expected.collateral)
    assert out["siblings"] == [[str(x) for x in s] for s in expected.siblings]


def test_invalid_escape_proof_of_empty_position(tmp_path: Path) -> None:
    result = runner.invoke(app, ["escape-proof", "--position-id", "5", "--preset", "minimal"])
    assert result.exit_code == 2
