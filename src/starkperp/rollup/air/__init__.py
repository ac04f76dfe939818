"""The batch AIR: constraints beside trace generation, and the prove/verify entry points."""

from starkperp.rollup.air.constraints import build_batch_air
from starkperp.rollup.air.layout import BatchAirLayout, compute_layout
from starkperp.rollup.air.prover import (
    BatchTrace,
    build_batch_witness_trace,
    get_batch_air,
    prove_batch,
    verify_batch,
)
from starkperp.rollup.air.trace import (
    BatchTraceResult,
    StepWitness,
    TradeTerms,
    build_batch_trace,
    compute_batch_steps,
)

__all__ = [
    "BatchAirLayout",
    "BatchTrace",
    "BatchTraceResult",
    "StepWitness",
    "TradeTerms",
    "build_batch_air",
    "build_batch_trace",
    "build_batch_witness_trace",
    "compute_batch_steps",
    "compute_layout",
    "get_batch_air",
    "prove_batch",
    "verify_batch",
]
