"""The official dydx-v3-python client, unmodified, against a node on a loopback port.

dydx-v3-python 2.1.0 pins Ethereum libraries that conflict with ours, so it lives in a venv of
its own under ``.cache/dydxvenv`` (created on first run, then reused) and runs as a separate
process (``dydx_driver.py``) against a node subprocess this test starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.node.nodeproc import NodeProcess

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / "dydxvenv"
DRIVER = Path(__file__).with_name("dydx_driver.py")


def _has_dydx3(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", "import dydx3"], capture_output=True)
    return probe.returncode == 0


def _ensure_venv() -> Path:
    candidates = [Path(os.environ.get("STARKPERP_DYDX_VENV", str(VENV))), VENV]
    candidates.append(Path("/tmp/dydxvenv"))  # the signing engineer's vector-generation venv
    for venv in candidates:
        if _has_dydx3(venv / "bin" / "python"):
            return venv / "bin" / "python"
    python = VENV / "bin" / "python"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    (VENV.parent / ".gitignore").write_text("*\n")
    try:
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "-q"]
        subprocess.run([*pip, "dydx-v3-python==2.1.0"], check=True, timeout=900)
        subprocess.run([*pip, "--no-deps", "parsimonious==0.9.0"], check=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"cannot install dydx-v3-python: {exc}")
    return python


@pytest.mark.slow
def test_official_dydx_client_onboards_trades_cancels_reads(tmp_path: Path) -> None:
    python = _ensure_venv()
    node = NodeProcess(tmp_path / "node.sqlite", extra=["--network-id", "11155111"])
    node.start()
    try:
        run = subprocess.run(
            [str(python), str(DRIVER), node.url], capture_output=True, text=True, timeout=600
        )
    finally:
        node.stop()
    assert run.returncode == 0, run.stderr[-3000:] + node.log_path.read_text()[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=1)[:4000], file=sys.stderr)
    assert out["onboarded_api_key_matches"]
    assert out["markets"] == ["BTC-USD", "ETH-USD"]
    assert out["quote_balance"] == "10000"
    assert out["ask"]["status"] == "OPEN" and out["ask"]["clientId"] == "maker-1"
    assert out["orderbook"]["asks"] == [{"price": "50100", "size": "0.01"}]
    assert out["bid"]["status"] == "FILLED"
    assert out["maker_order_by_id"]["remainingSize"] == "0.006"
    assert out["maker_order_by_client_id"]["id"] == out["ask"]["id"]
    assert [o["id"] for o in out["active"]] == [out["ask"]["id"]]
    assert out["taker_fills"][0]["size"] == "0.004" and out["taker_fills"][0]["price"] == "50100"
    assert out["maker_fills"][0]["liquidity"] == "MAKER"
    assert out["taker_positions"][0]["size"] == "0.004"
    assert out["trades"][0]["price"] == "50100"
    assert out["cancel"]["status"] == "CANCELED"
    assert len(out["cancel_all"]) == 2
    assert {o["status"] for o in out["orders"]} == {"CANCELED"}
    assert out["withdrawal"]["debitAmount"] == "10"
    assert out["transfers"][0]["type"] == "WITHDRAWAL"
    assert out["funding"] == []
    assert out["bad_signature"]["status"] == 400
