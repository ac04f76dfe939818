"""Benchmark: L1 gas of settling a batch of trades (issue 4's gas figures).

The realistic mix of ``bench/batch_proof.py`` (a few market makers, many takers) is executed
by the rollup; its public input and data go to ``StarkPerpetual.updateState`` on the
embedded py-evm. Measured, per batch and per trade:

* calldata bytes and calldata gas (16 gas per non-zero byte, 4 per zero byte);
* execution gas of ``updateState`` for everything before the proof check (public-input
  parsing and consistency, the DA hash in rollup mode or the k-of-n committee signatures in
  validium mode): the call reverts there with "proof not verified" because no verifier of
  the batch AIR exists yet, and py-evm reports the gas used up to that point;
* the gas of verifying one STARK proof on chain with the generated verifier, for the
  Fibonacci example at the ``default`` preset (the batch AIR's verifier is not generated yet:
  its constraints do not fit the 24 KB contract limit per constraint).

The JSON value is gas per trade WITHOUT proof verification (calldata + execution measured);
it is printed beside the targets (426 rollup, 100 validium) and is not the full cost.

    python bench/l1_gas.py [--trades N] [--mode rollup|validium] [--runs R] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import boa  # noqa: E402
from eth_account import Account  # noqa: E402
from examples.fibonacci import FIBONACCI_AIR, build_fibonacci_trace  # noqa: E402

from batch_proof import build_batch  # noqa: E402
from starkperp.l1.client import (  # noqa: E402
    L1Client,
    encode_rollup_data,
    encode_validium_data,
    sign_digest,
)
from starkperp.l1.config import L1Config  # noqa: E402
from starkperp.l1.verifier_gen import deploy_verifier, render_verifier  # noqa: E402
from starkperp.stark.options import PRESETS  # noqa: E402
from starkperp.stark.prover import prove  # noqa: E402

TARGETS = {"rollup": 426, "validium": 100}
VERIFY_TARGET = 6_000_000


def calldata_gas(data: bytes) -> int:
    """Return the intrinsic calldata gas of ``data`` (EIP-2028)."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def measure_batch(trades: int, mode: str) -> dict:
    """Return calldata and pre-proof execution gas of one batch of ``trades`` trades."""
    prev, result = build_batch(trades, "default", None)
    client = L1Client.embedded()
    deployer = client.new_account()
    operator = client.new_account()
    members = sorted((Account.create() for _ in range(3)), key=lambda m: int(m.address, 16))
    config = L1Config(tree_depth=32, n_assets=5, validium=mode == "validium", committee_threshold=2)
    client.deploy(
        config=config,
        initial_state_hash=prev.get_shared_state().compute_hash(),
        operator=operator,
        deployer=deployer,
        committee_members=[m.address for m in members],
    )
    pi = result.public_input
    if mode == "rollup":
        data = encode_rollup_data(result.da_payload)
    else:
        claim = client.get_availability_claim(
            batch_id=0, new_state_hash=pi.new_state_hash, da_hash=pi.da_hash
        )
        data = encode_validium_data(
            [(m.address, sign_digest(bytes(m.key), claim)) for m in members[:2]]
        )
    perpetual = client.system.perpetual
    # batch_number of the trade batch is 1; the contract expects 0 for its first batch.
    encoded = bytearray(pi.encode())
    encoded[32:64] = (0).to_bytes(32, "big")
    calldata = bytes(perpetual.updateState.prepare_calldata(b"", bytes(encoded), data))
    start = time.perf_counter()
    reason = ""
    try:
        perpetual.updateState(b"", bytes(encoded), data, sender=operator)
    except boa.BoaError as exc:
        reason = str(getattr(exc.stack_trace[-1], "pretty_vm_reason", "reverted"))
    wall = time.perf_counter() - start
    execution = perpetual._computation.get_gas_used()
    return {
        "calldata_bytes": len(calldata),
        "calldata_gas": calldata_gas(calldata),
        "execution_gas": execution,
        "wall_s": wall,
        "stopped_at": reason,
    }


def measure_verification(preset: str) -> int:
    """Return the gas of verifying one Fibonacci proof on chain at ``preset``."""
    options = PRESETS[preset]
    sources = render_verifier(FIBONACCI_AIR, options, contract_name="FibonacciVerifier")
    contract = deploy_verifier(boa.Env(), FIBONACCI_AIR, sources, "FibonacciVerifier")
    trace, public = build_fibonacci_trace(1 << 6)
    proof = prove(FIBONACCI_AIR, trace, public, options)
    contract.verifyProof(proof, public)
    return int(contract._computation.get_gas_used())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=256)
    parser.add_argument("--mode", choices=("rollup", "validium"), default="rollup")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    trades = 16 if args.quick else args.trades
    runs = 1 if args.quick else args.runs
    samples = [measure_batch(trades, args.mode) for _ in range(runs)]
    per_trade = [(s["calldata_gas"] + s["execution_gas"]) / trades for s in samples]
    s = samples[0]
    print(f"mode {args.mode}, {trades} trades, {runs} run(s)")
    print(f"calldata: {s['calldata_bytes']} bytes ({s['calldata_bytes'] / trades:.1f} B/trade)")
    print(f"calldata gas: {s['calldata_gas']} ({s['calldata_gas'] / trades:.1f} gas/trade)")
    print(
        f"updateState execution before the proof check: {s['execution_gas']} gas "
        f"(stopped at: {s['stopped_at']!r}), wall {statistics.median(x['wall_s'] for x in samples):.3f} s"
    )
    preset = "minimal" if args.quick else "default"
    verify_gas = measure_verification(preset)
    print(
        f"on-chain verification of one Fibonacci proof ({preset} preset): {verify_gas} gas "
        f"(target <= {VERIFY_TARGET}); the batch AIR's verifier is not generated yet"
    )
    value = statistics.median(per_trade)
    print(
        f"gas per trade without proof verification: {value:.1f} "
        f"(target <= {TARGETS[args.mode]} including verification)"
    )
    print(
        json.dumps(
            {
                "name": f"l1_gas_per_trade_{args.mode}_without_proof_verification",
                "value": round(value, 1),
                "unit": "gas/trade",
                "target": TARGETS[args.mode],
                "higher_is_better": False,
            }
        )
    )


if __name__ == "__main__":
    main()
