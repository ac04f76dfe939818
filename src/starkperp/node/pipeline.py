"""The batch pipeline: rollup transactions to closed batches, proofs, and L1 settlement.

Four stages, each usable alone:

1. :class:`Batcher` collects transactions and closes a batch when it holds
   ``max_transactions`` or when its first transaction is ``max_age_seconds`` old (the clock
   is passed in).
2. :class:`BatchProver` proves executed batches in worker processes
   (``ProcessPoolExecutor`` with the ``spawn`` context, so a worker never inherits the
   node's threads or open files).
3. :class:`BatchPipeline` executes each closed batch against the current rollup state,
   hands it to the prover, and, in batch order, verifies every proof in this process with
   the Python verifier before anything goes to L1.
4. :class:`L1Submitter` calls ``updateState`` through :class:`~starkperp.l1.client.L1Client`
   and reports SETTLED only if L1 then stores the batch's new state hash. A revert (for
   example, no on-chain verifier for the batch AIR is deployed yet) is reported as
   PROVEN_NOT_SETTLED with the contract's reason; acceptance is never assumed.
"""

from __future__ import annotations

import enum
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from starkperp.errors import StarkPerpError
from starkperp.l1.client import ZERO_ADDRESS, L1Client, encode_rollup_data
from starkperp.l1.errors import L1Error
from starkperp.processes import create_spawn_pool
from starkperp.rollup.air import prove_batch, verify_batch
from starkperp.rollup.batch import BatchResult, execute_batch
from starkperp.rollup.errors import RollupError
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import Transaction
from starkperp.stark.air import Air
from starkperp.stark.options import ProofOptions

__all__ = [
    "BatchOutcome",
    "BatchPipeline",
    "BatchProver",
    "Batcher",
    "BatcherConfig",
    "BatchStatus",
    "L1Submitter",
    "PipelineError",
    "PipelineReason",
    "ProvedBatch",
    "StepVerification",
    "compute_proof",
]


class PipelineReason(enum.Enum):
    """Why the pipeline refused an input."""

    INVALID_CONFIG = 1
    EMPTY_BATCH = 2


class PipelineError(StarkPerpError):
    """Bad input to the pipeline; ``reason`` is a :class:`PipelineReason`."""

    def __init__(self, reason: PipelineReason, message: str = "") -> None:
        super().__init__(reason, message)


class BatchStatus(enum.Enum):
    """Where a batch ended up."""

    SETTLED = "SETTLED"
    """Proven, verified here, and accepted by L1 (its state hash is L1's)."""
    PROVEN_NOT_SETTLED = "PROVEN_NOT_SETTLED"
    """Proven and verified here; L1 did not accept it (``reason`` says why)."""
    PROOF_REJECTED = "PROOF_REJECTED"
    """The Python verifier rejected the proof; nothing was sent to L1."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatcherConfig:
    """When a batch closes: at ``max_transactions``, or ``max_age_seconds`` after it opened."""

    max_transactions: int = 64
    max_age_seconds: int = 60

    def __post_init__(self) -> None:
        if self.max_transactions < 1 or self.max_age_seconds < 0:
            raise PipelineError(
                PipelineReason.INVALID_CONFIG, "max_transactions >= 1, max_age_seconds >= 0"
            )


class Batcher:
    """Collect transactions; close batches by size or age."""

    def __init__(self, config: BatcherConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self._pending: list[Transaction] = []
        self._opened_at: float | None = None

    @property
    def n_pending(self) -> int:
        """Return the number of transactions in the open batch."""
        return len(self._pending)

    def add(self, transactions: Sequence[Transaction]) -> list[tuple[Transaction, ...]]:
        """Queue ``transactions``; return the batches that filled up, in order."""
        closed: list[tuple[Transaction, ...]] = []
        for tx in transactions:
            if not self._pending:
                self._opened_at = self.clock()
            self._pending.append(tx)
            if len(self._pending) >= self.config.max_transactions:
                closed.append(self._close())
        return closed

    def poll(self) -> tuple[Transaction, ...] | None:
        """Return the open batch if it is old enough to close, else None."""
        if self._pending and self._opened_at is not None:
            if self.clock() - self._opened_at >= self.config.max_age_seconds:
                return self._close()
        return None

    def flush(self) -> tuple[Transaction, ...] | None:
        """Close the open batch now (shutdown); None if it is empty."""
        return self._close() if self._pending else None

    def _close(self) -> tuple[Transaction, ...]:
        batch = tuple(self._pending)
        self._pending = []
        self._opened_at = None
        return batch


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvedBatch:
    """A proof and how long the worker took to make it."""

    proof: bytes
    prove_seconds: float


def compute_proof(result: BatchResult, options: ProofOptions, squash: bool) -> ProvedBatch:
    """Prove one executed batch (runs in a worker process)."""
    start = time.perf_counter()
    proof = prove_batch(result, options, squash=squash)
    return ProvedBatch(proof=proof, prove_seconds=time.perf_counter() - start)


def _warm_prove(example: BatchResult, options: ProofOptions, squash: bool) -> bool:
    # The prover evaluates constraints with the compiled kernels only on large domains, and a
    # small example would not call them: force them here so numba compiles them now.
    previous = os.environ.get(_BACKEND_VARIABLE)
    os.environ[_BACKEND_VARIABLE] = "compiled"
    try:
        compute_proof(example, options, squash)
    finally:
        if previous is None:
            del os.environ[_BACKEND_VARIABLE]
        else:
            os.environ[_BACKEND_VARIABLE] = previous
    return True


_BACKEND_VARIABLE = "STARKPERP_CONSTRAINT_BACKEND"


def _warm_worker() -> bool:
    import starkperp.rollup.air  # noqa: F401  (numba kernels load from their cache)

    return True


class BatchProver:
    """A pool of prover processes (spawned, never forked)."""

    def __init__(self, options: ProofOptions, *, max_workers: int = 1, squash: bool = True):
        if max_workers < 1:
            raise PipelineError(PipelineReason.INVALID_CONFIG, "max_workers >= 1")
        self.options = options
        self.squash = squash
        self._pool = create_spawn_pool(max_workers)

    def warm(self, example: BatchResult | None = None) -> Future[bool]:
        """Start a worker now and have it import the prover (seconds), before any batch.

        With ``example`` (e.g. an empty batch over the genesis state) the worker also proves
        it and throws the proof away: numba compiles the batch AIR's generated constraint
        kernels at their first call, which for a new AIR takes minutes once per machine
        (then they load from the on-disk cache), and this moves that cost before the first
        real batch instead of into it.
        """
        if example is None:
            return self._pool.submit(_warm_worker)
        return self._pool.submit(_warm_prove, example, self.options, self.squash)

    def submit(self, result: BatchResult) -> Future[ProvedBatch]:
        """Start proving ``result`` in a worker; return the future proof."""
        return self._pool.submit(compute_proof, result, self.options, self.squash)

    def close(self) -> None:
        """Cancel queued proofs, wait for running ones, and stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BatchProver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOutcome:
    """What happened to one batch, with its figures."""

    batch_number: int
    n_transactions: int
    status: BatchStatus
    reason: str
    new_state_hash: bytes
    proof_bytes: int
    prove_seconds: float
    verify_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StepVerification:
    """What split-step verification needs: the verifier's core and Merkle contracts (any
    object with ``core`` and ``merkle``), the batch AIR and the proof options."""

    contracts: Any
    air: Air
    options: ProofOptions


class L1Submitter:
    """Send verified batches to ``StarkPerpetual.updateState`` (rollup data mode)."""

    def __init__(
        self, client: L1Client, *, operator: str, steps: StepVerification | None = None
    ) -> None:
        """``steps``: verify each proof on chain in registered steps before ``updateState``
        (which then carries an empty proof), for proofs one transaction cannot verify."""
        self.client = client
        self.operator = operator
        self.steps = steps
        self.last_gas = 0
        """Gas of the last accepted batch: its verification steps and ``updateState``
        (execution gas on the embedded chain; on a JSON-RPC chain ``updateState`` counts
        as its receipt's ``gasUsed``, which includes the intrinsic and calldata gas)."""

    def submit(self, result: BatchResult, proof: bytes) -> tuple[BatchStatus, str]:
        """Submit one batch; return SETTLED, or PROVEN_NOT_SETTLED with L1's reason."""
        if self.client.system.config.validium:
            return BatchStatus.PROVEN_NOT_SETTLED, "validium committee signatures not wired"
        steps_gas = 0
        try:
            if self.steps is not None:
                done = self.client.verify_proof_in_steps(
                    verifier=self.steps.contracts,
                    air=self.steps.air,
                    options=self.steps.options,
                    proof=proof,
                    public_inputs=[int(x) for x in result.public_input.to_field_elements()],
                    sender=self.operator,
                )
                steps_gas = sum(step.execution_gas for step in done)
                proof = b""
            self.client.update_state(
                proof=proof,
                public_input=result.public_input.encode(),
                data=encode_rollup_data(result.da_payload),
                sender=self.operator,
            )
        except L1Error as exc:
            reason = f"{exc.reason.name}: {exc.message}"
            if self.client.system.verifier_address == ZERO_ADDRESS:
                reason += " (no StarkVerifier deployed: the verifier address is zero)"
            return BatchStatus.PROVEN_NOT_SETTLED, reason
        self.last_gas = self._measure_gas() + steps_gas
        stored = self.client.get_state_hash()
        if stored != result.new_shared_state.compute_hash():
            return BatchStatus.PROVEN_NOT_SETTLED, "L1 state hash differs after updateState"
        return BatchStatus.SETTLED, ""

    def _measure_gas(self) -> int:
        if not self.client.is_embedded:
            receipt = self.client.last_receipt
            return int(receipt["gasUsed"], 16) if receipt is not None else 0
        return int(self.client.system.perpetual.call_trace().gas_used)


class BatchPipeline:
    """Execute closed batches, prove them in workers, verify here, settle on L1 in order."""

    def __init__(
        self,
        state: RollupState,
        prover: BatchProver,
        *,
        submitter: L1Submitter | None = None,
        first_batch_number: int = 0,
    ) -> None:
        self.state = state
        self.prover = prover
        self.submitter = submitter
        self.next_batch_number = first_batch_number
        self._in_flight: deque[tuple[BatchResult, Future[ProvedBatch]]] = deque()

    @property
    def n_in_flight(self) -> int:
        """Return the number of batches executed and not yet collected."""
        return len(self._in_flight)

    def submit_batch(self, transactions: Sequence[Transaction]) -> BatchResult:
        """Execute a closed batch on the current state and start proving it.

        A rejected transaction raises ``BatchRejected`` and leaves the pipeline unchanged.
        """
        if not transactions:
            raise PipelineError(PipelineReason.EMPTY_BATCH)
        result = execute_batch(self.state, transactions, self.next_batch_number)
        self._in_flight.append((result, self.prover.submit(result)))
        self.state = result.state
        self.next_batch_number += 1
        return result

    def collect(self, *, wait: bool = True) -> list[BatchOutcome]:
        """Verify and settle finished proofs in batch order (all of them if ``wait``)."""
        outcomes: list[BatchOutcome] = []
        while self._in_flight:
            result, future = self._in_flight[0]
            if not wait and not future.done():
                break
            self._in_flight.popleft()
            outcomes.append(self.settle(result, future.result()))
        return outcomes

    def settle(self, result: BatchResult, proved: ProvedBatch) -> BatchOutcome:
        """Verify ``proved`` against ``result`` here; if sound, submit it to L1."""
        start = time.perf_counter()
        try:
            verify_batch(
                result.state.config, result.public_input, proved.proof, self.prover.options
            )
        except RollupError as exc:
            verified, reason = False, exc.message
        else:
            verified, reason = True, ""
        verify_seconds = time.perf_counter() - start
        if not verified:
            status = BatchStatus.PROOF_REJECTED
        elif self.submitter is None:
            status, reason = BatchStatus.PROVEN_NOT_SETTLED, "no L1 submitter configured"
        else:
            status, reason = self.submitter.submit(result, proved.proof)
        return BatchOutcome(
            batch_number=result.batch_number,
            n_transactions=len(result.transactions),
            status=status,
            reason=reason,
            new_state_hash=result.new_shared_state.compute_hash(),
            proof_bytes=len(proved.proof),
            prove_seconds=proved.prove_seconds,
            verify_seconds=verify_seconds,
        )
