"""Benchmark: L1 gas of settling a proven batch of trades (issue 4's gas figures).

The realistic mix of ``bench/batch_proof.py`` (a few market makers, many takers) is executed
by the rollup at the ``minimal`` rollup configuration and proven with the batch AIR; the
generated verifier of that AIR is deployed on the embedded py-evm and passed to
``StarkPerpetual`` as its verifier, and the operator calls ``updateState(proof, publicInput,
data)``. Measured, per batch and per trade:

* gas of verifying the batch proof in one call (``verifier.verifyProof``, measured without
  the cap in a throw-away fork: it says whether one transaction can hold it), by phase
  (each verifier contract's own gas in the call tree, :func:`compute_gas_phases`);
* when it cannot (the ``default`` preset), the split verification actually used: one
  transaction per Merkle statement, then ``verifyProofSplit``, each with its gas, and
  ``updateState`` with an empty proof;
* gas of ``updateState`` (public-input checks, the DA hash in rollup mode or the committee's
  k-of-n signatures in validium mode, the proof when verified inside it, the state update),
  plus every transaction's intrinsic cost (21000 and calldata at EIP-2028 prices: 16 gas per
  non-zero byte, 4 per zero byte);
* calldata bytes, and the wall time of the ``updateState`` call on py-evm.

The JSON value is the total gas per trade of every transaction that settles the batch
(verification steps included), in the mode asked (rollup by default), beside its target
(426 rollup, 100 validium).

    python bench/l1_gas.py [--trades N] [--depth D] [--mode rollup|validium|both]
                           [--preset minimal|default] [--runs R] [--quick]

Trees deeper than 8 make proving slower; depth 8 collides order keys beyond about ten
trades.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eth_account import Account  # noqa: E402

from batch_proof import BTC_PRICE, compute_trade_mix  # noqa: E402
from starkperp.l1.client import (  # noqa: E402
    L1Client,
    encode_rollup_data,
    encode_validium_data,
    sign_digest,
)
from starkperp.l1.config import DAY, L1Config  # noqa: E402
from starkperp.l1.verifier_gen import (  # noqa: E402
    compute_max_proof_bytes,
    deploy_verifier_contracts,
    render_verifier,
)
from starkperp.rollup.air import (  # noqa: E402
    build_batch_witness_trace,
    get_batch_air,
    verify_batch,
)
from starkperp.rollup.batch import BatchResult, execute_batch  # noqa: E402
from starkperp.rollup.config import get_preset  # noqa: E402
from starkperp.rollup.quantities import Collateral, PositionId, PublicKey  # noqa: E402
from starkperp.rollup.state import RollupState  # noqa: E402
from starkperp.rollup.transactions import Deposit  # noqa: E402
from starkperp.stark.options import PRESETS  # noqa: E402
from starkperp.stark.prover import prove  # noqa: E402

TARGETS = {"rollup": 426, "validium": 100}
GAS_CAP = 2**24
BASE_TX_GAS = 21_000
CONFIG = "minimal"


def calldata_gas(data: bytes) -> int:
    """Return the intrinsic calldata gas of ``data`` (EIP-2028)."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def build_trades(trades: int, depth: int) -> tuple[RollupState, BatchResult]:
    """Return (previous state, batch 0 of ``trades`` trades): the mix of batch_proof.py.

    Both trees are ``depth`` deep (order keys are reduced to the orders tree, so the
    ``minimal`` preset's depth 8 collides after a dozen trades); three makers, one taker per
    trade, every trade pays fees.
    """
    base = get_preset(CONFIG, verify_signatures=False)
    config = replace(base, positions_depth=depth, orders_depth=depth)
    state = RollupState.genesis(config, prices=[BTC_PRICE] + [2**32] * (config.n_assets - 1))
    n_makers = 3
    deposits = [
        Deposit(
            position_id=PositionId(10 + i),
            public_key=PublicKey(1000 + i),
            amount=Collateral(10**12),
        )
        for i in range(n_makers + trades)
    ]
    state = execute_batch(state, deposits, 0).state
    asset = config.asset_ids[0]
    txs = compute_trade_mix(asset, trades, n_makers)
    # The contract expects batch id 0 first; the trades alone form that batch here.
    return state, execute_batch(state, txs, 0)


def prove_trades(
    trades: int, preset: str, depth: int
) -> tuple[RollupState, BatchResult, bytes, float, int]:
    """Return (previous state, the batch, its proof, proving seconds, trace rows)."""
    prev, result = build_trades(trades, depth)
    start = time.perf_counter()
    bt = build_batch_witness_trace(result)
    proof = prove(bt.air, bt.trace, bt.public_inputs, PRESETS[preset])
    prove_s = time.perf_counter() - start
    verify_batch(result.state.config, result.public_input, proof, PRESETS[preset])
    return prev, result, proof, prove_s, int(bt.trace.shape[1])


def build_verifier(config: Any, preset: str, log_n: int) -> tuple[dict[str, str], float]:
    """Return the rendered batch verifier sources and the rendering seconds."""
    start = time.perf_counter()
    air = get_batch_air(config)
    options = PRESETS[preset]
    sources = render_verifier(
        air,
        options,
        contract_name="BatchVerifier",
        max_proof_bytes=compute_max_proof_bytes(air, options, log_n),
    )
    return sources, time.perf_counter() - start


def compute_gas_phases(trace: Any, contracts: Any) -> dict[str, int]:
    """Return the execution gas of one verification call by phase (contract and function).

    Each frame of the call tree counts its own gas (its children's subtracted): the core's
    own work (proof parsing, transcript, query positions, FRI bookkeeping), the Merkle
    openings, the DEEP composition, FRI folding and remainder, the out-of-domain contract,
    its constraint chunks and periodic groups, and the MODEXP precompile.
    """
    names = {
        str(contracts.core.address): "core: parsing, transcript, FRI bookkeeping",
        str(contracts.merkle.address): "Merkle openings",
        str(contracts.deep.address): "DEEP composition",
        str(contracts.fri.address): "FRI folding and remainder",
        str(contracts.ood.address): "out-of-domain: boundaries, zerofiers, calls",
    }
    for chunk in contracts.chunks:
        names[str(chunk.address)] = "out-of-domain: transition constraint chunks"
    for group in contracts.periodic_groups:
        names[str(group.address)] = "out-of-domain: periodic columns"
    phases: dict[str, int] = {}

    def walk(frame: Any) -> None:
        own = int(frame.gas_used) - sum(int(child.gas_used) for child in frame.children)
        name = names.get(str(frame.address), "precompiles (MODEXP)")
        phases[name] = phases.get(name, 0) + own
        for child in frame.children:
            walk(child)

    walk(trace)
    return phases


def measure(
    prev: Any, result: Any, proof: bytes, sources: dict[str, str], mode: str, options: Any
) -> dict:
    """Deploy the system with the batch verifier, settle the batch, return its gas figures.

    The proof is verified inside ``updateState`` when that transaction fits 2^24 gas;
    otherwise in split steps (Merkle statements, then ``verifyProofSplit``) before an
    ``updateState`` with an empty proof.
    """
    config = result.state.config
    client = L1Client.embedded()
    start = time.perf_counter()
    air = get_batch_air(config)
    contracts = deploy_verifier_contracts(client.env, air, sources, "BatchVerifier")
    verifier = contracts.core
    deploy_s = time.perf_counter() - start
    deployer, operator = client.new_account(), client.new_account()
    members = sorted((Account.create() for _ in range(3)), key=lambda m: int(m.address, 16))
    client.deploy(
        config=L1Config(
            tree_depth=config.positions_depth,
            n_assets=config.n_assets,
            grace_period=DAY,
            deposit_cancel_delay=DAY,
            validium=mode == "validium",
            committee_threshold=2,
        ),
        initial_state_hash=prev.get_shared_state().compute_hash(),
        operator=operator,
        deployer=deployer,
        committee_members=[m.address for m in members],
        verifier=str(verifier.address),
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
    felts = [int(x) for x in pi.to_field_elements()]
    # Verification alone in one call (the verifier's own entry point, in a throw-away fork of
    # the chain, without the cap: it tells whether one transaction can hold it).
    with client.env.anchor():
        verifier.verifyProof(proof, felts, sender=operator, gas=2**28)
        verify_gas = int(verifier.call_trace().gas_used)
        phases = compute_gas_phases(verifier.call_trace(), contracts)
    single_calldata = bytes(verifier.verifyProof.prepare_calldata(proof, felts))
    single_total = BASE_TX_GAS + calldata_gas(single_calldata) + verify_gas
    perpetual = client.system.perpetual
    encoded = pi.encode()
    split = single_total + 600_000 > GAS_CAP or len(proof) > 65536
    steps: list[Any] = []
    submitted = proof
    verify_wall = 0.0
    if split:
        start = time.perf_counter()
        steps = client.verify_proof_in_steps(
            verifier=contracts,
            air=air,
            options=options,
            proof=proof,
            public_inputs=felts,
            sender=operator,
        )
        verify_wall = time.perf_counter() - start
        submitted = b""
    calldata = bytes(perpetual.updateState.prepare_calldata(submitted, encoded, data))
    start = time.perf_counter()
    client.transact(
        lambda: perpetual.updateState(submitted, encoded, data, sender=operator, gas=GAS_CAP)
    )
    wall = time.perf_counter() - start
    execution = int(perpetual.call_trace().gas_used)
    assert client.get_batch_id() == 1
    assert client.get_state_hash() == pi.new_state_hash
    update_total = BASE_TX_GAS + calldata_gas(calldata) + execution
    steps_total = sum(step.total_gas for step in steps)
    return {
        "deploy_s": deploy_s,
        "verify_gas": verify_gas,
        "single_total": single_total,
        "split": float(split),
        "n_steps": len(steps),
        "max_step_gas": max((step.total_gas for step in steps), default=0),
        "steps_total": steps_total,
        "steps_calldata": sum(step.calldata_bytes for step in steps),
        "execution_gas": execution,
        "calldata_bytes": len(calldata),
        "proof_bytes": len(proof),
        "data_bytes": len(data),
        "calldata_gas": calldata_gas(calldata),
        "update_total": update_total,
        "total_gas": update_total + steps_total,
        "wall_s": wall,
        "verify_wall_s": verify_wall,
        "step_lines": [f"{step.name}: {step.total_gas} gas" for step in steps],
        "phase_lines": [
            f"{name}: {gas} gas" for name, gas in sorted(phases.items(), key=lambda kv: -kv[1])
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=64)
    parser.add_argument("--mode", choices=("rollup", "validium", "both"), default="rollup")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="minimal")
    parser.add_argument("--depth", type=int, default=32, help="positions and orders trees")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="4 trades, depth 8, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.trades, args.depth, args.runs = 4, 8, 1
    trades = args.trades
    modes = ["rollup", "validium"] if args.mode == "both" else [args.mode]
    prev, result, proof, prove_s, rows = prove_trades(trades, args.preset, args.depth)
    config = result.state.config
    log_rows = rows.bit_length() - 1
    options = PRESETS[args.preset]
    security = options.conjectured_security_bits(log_rows)
    sources, render_s = build_verifier(config, args.preset, log_rows)
    n_chunks = sum(1 for n in sources if n.startswith("BatchVerifierChunk"))
    n_groups = sum(1 for n in sources if n.startswith("BatchVerifierPeriodic"))
    print(
        f"rollup config {CONFIG} ({config.n_assets} assets), trees of depth "
        f"{config.positions_depth}; proof preset {args.preset}: blowup {options.blowup}, "
        f"{options.n_queries} queries, {options.grinding_bits} grinding bits, folding "
        f"{options.folding_factor} -> {security} bits conjectured at 2^{log_rows} rows"
    )
    print(
        f"{trades} trades proven in {prove_s:.1f} s ({trades / prove_s:.2f} trades/s), proof "
        f"{len(proof)} bytes; verifier rendered in {render_s:.1f} s: {len(sources)} contracts "
        f"({n_chunks} constraint chunks, {n_groups} periodic groups)"
    )
    value = 0.0
    for mode in modes:
        samples = [measure(prev, result, proof, sources, mode, options) for _ in range(args.runs)]
        med = {
            k: statistics.median(s[k] for s in samples)
            for k in samples[0]
            if k not in ("step_lines", "phase_lines")
        }
        print(f"mode {mode}, {trades} trades, median of {args.runs} run(s):")
        print(f"  verifier deployed in {med['deploy_s']:.1f} s")
        print(
            f"  proof verification in one call (verifyProof): {med['verify_gas']:.0f} gas "
            f"execution, {med['single_total']:.0f} with 21000 + calldata "
            f"({'over' if med['single_total'] > GAS_CAP else 'under'} the 2^24 cap); by phase:"
        )
        for line in samples[0]["phase_lines"]:
            print(f"    {line}")
        if med["split"]:
            print(
                f"  verified in {med['n_steps']:.0f} transactions (split): "
                f"{med['steps_total']:.0f} gas in all, the largest {med['max_step_gas']:.0f} "
                f"(cap {GAS_CAP}), {med['steps_calldata']:.0f} calldata bytes, "
                f"wall {med['verify_wall_s']:.1f} s"
            )
            for line in samples[0]["step_lines"]:
                print(f"    {line}")
        print(
            f"  calldata: {med['calldata_bytes']:.0f} bytes (proof {med['proof_bytes']:.0f}, "
            f"data {med['data_bytes']:.0f}) = {med['calldata_bytes'] / trades:.1f} B/trade, "
            f"{med['calldata_gas']:.0f} gas"
        )
        print(
            f"  updateState execution{'' if med['split'] else ' incl. verification'}: "
            f"{med['execution_gas']:.0f} gas, {med['update_total']:.0f} with 21000 + calldata, "
            f"wall {med['wall_s']:.2f} s"
        )
        per_trade = med["total_gas"] / trades
        print(
            f"  total gas {med['total_gas']:.0f} (every transaction: 21000 + calldata + "
            f"execution) = {per_trade:.0f} gas/trade including proof verification "
            f"(target <= {TARGETS[mode]}); updateState alone "
            f"{(med['update_total'] if med['split'] else med['total_gas'] - med['verify_gas']) / trades:.0f}"
            " gas/trade"
        )
        if mode == modes[0]:
            value = per_trade
    print(
        json.dumps(
            {
                "name": f"l1_gas_per_trade_{modes[0]}_with_proof_verification",
                "value": round(value, 1),
                "unit": "gas/trade",
                "target": TARGETS[modes[0]],
                "higher_is_better": False,
            }
        )
    )


if __name__ == "__main__":
    main()
