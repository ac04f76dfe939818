"""The batch pipeline: batcher, spawned prover, verification here, L1 submission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account

from starkperp.exchange.config import minimal
from starkperp.l1.client import L1Client
from starkperp.l1.config import DAY, L1Config
from starkperp.node.bridge import EventBridge
from starkperp.node.pipeline import (
    Batcher,
    BatcherConfig,
    BatchPipeline,
    BatchProver,
    BatchStatus,
    L1Submitter,
    PipelineError,
    PipelineReason,
    ProvedBatch,
)
from starkperp.rollup.batch import BatchResult, execute_batch
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import Deposit
from starkperp.stark.options import PRESETS
from tests.exchange import helpers
from tests.node.test_bridge import ORACLE_KEY, RECIPIENT, _rollup_config, _session

MINIMAL = PRESETS["minimal"]


@pytest.fixture(scope="module")
def prover() -> Iterator[BatchProver]:
    """One spawned worker for the module (a spawn re-imports numba: seconds)."""
    with BatchProver(MINIMAL, max_workers=1) as pool:
        yield pool


class _CountingSubmitter(L1Submitter):
    calls = 0

    def submit(self, result: BatchResult, proof: bytes) -> tuple[BatchStatus, str]:
        self.calls += 1
        return super().submit(result, proof)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _deposit(i: int) -> Deposit:
    return Deposit(position_id=10 + i, public_key=0x77 + i, amount=1_000)  # type: ignore[arg-type]


def test_batcher_closes_by_size() -> None:
    batcher = Batcher(BatcherConfig(max_transactions=3, max_age_seconds=100), _Clock())
    closed = batcher.add([_deposit(i) for i in range(7)])
    assert [len(b) for b in closed] == [3, 3]
    assert batcher.n_pending == 1
    assert batcher.flush() == (_deposit(6),)
    assert batcher.flush() is None


def test_batcher_closes_by_age() -> None:
    clock = _Clock()
    batcher = Batcher(BatcherConfig(max_transactions=10, max_age_seconds=5), clock)
    assert batcher.poll() is None
    clock.now = 100.0
    batcher.add([_deposit(0)])
    clock.now = 104.0
    batcher.add([_deposit(1)])
    assert batcher.poll() is None
    clock.now = 105.0
    assert batcher.poll() == (_deposit(0), _deposit(1))
    assert batcher.poll() is None


def test_invalid_batcher_config() -> None:
    with pytest.raises(PipelineError) as info:
        BatcherConfig(max_transactions=0)
    assert info.value.reason is PipelineReason.INVALID_CONFIG


def _l1(genesis: RollupState) -> tuple[L1Client, str]:
    client = L1Client.embedded()
    operator = Account.create().address
    client.deploy(
        config=L1Config(tree_depth=8, n_assets=2, grace_period=DAY, deposit_cancel_delay=DAY),
        initial_state_hash=genesis.get_shared_state().compute_hash(),
        operator=operator,
        deployer=client.new_account(),
    )
    return client, operator


def test_session_is_proven_verified_and_reported_not_settled(prover: BatchProver) -> None:
    """End to end: exchange events -> bridge -> batcher -> spawned prover -> verify -> L1.

    No on-chain verifier for the batch AIR is deployed, so L1 must refuse the batches and
    the pipeline must say so rather than claim settlement.
    """
    helpers._counter[0] = 0  # client ids (hence order keys in a depth-8 tree) as when run alone
    ex, _ = _session()
    bridge = EventBridge(
        minimal(), _rollup_config(), oracle_public_key=ORACLE_KEY, get_recipient=lambda a: RECIPIENT
    )
    txs = bridge.translate(ex.events)
    genesis = RollupState.genesis(_rollup_config())
    client, operator = _l1(genesis)
    batcher = Batcher(BatcherConfig(max_transactions=len(txs) // 2 + 1), _Clock())
    batches = batcher.add(txs)
    last = batcher.flush()
    batches += [last] if last is not None else []
    assert len(batches) == 2
    pipeline = BatchPipeline(genesis, prover, submitter=L1Submitter(client, operator=operator))
    for batch in batches:
        pipeline.submit_batch(batch)
    outcomes = pipeline.collect()
    assert [o.batch_number for o in outcomes] == [0, 1]
    assert sum(o.n_transactions for o in outcomes) == len(txs)
    for outcome in outcomes:
        assert outcome.status is BatchStatus.PROVEN_NOT_SETTLED
        assert outcome.reason.startswith("CONTRACT_REVERTED")
        assert "no StarkVerifier deployed" in outcome.reason
        assert outcome.proof_bytes > 0 and outcome.prove_seconds > 0
    assert client.get_state_hash() == genesis.get_shared_state().compute_hash()
    assert client.get_batch_id() == 0
    assert pipeline.n_in_flight == 0


def test_invalid_tampered_proof_is_rejected_before_l1(prover: BatchProver) -> None:
    genesis = RollupState.genesis(_rollup_config())
    client, operator = _l1(genesis)
    result = execute_batch(genesis, [_deposit(0)], 0)
    submitter = _CountingSubmitter(client, operator=operator)
    pipeline = BatchPipeline(genesis, prover, submitter=submitter)
    proof = prover.submit(result).result().proof
    good = pipeline.settle(result, ProvedBatch(proof=proof, prove_seconds=1.0))
    assert good.status is BatchStatus.PROVEN_NOT_SETTLED
    assert submitter.calls == 1
    flipped = bytearray(proof)
    flipped[len(flipped) // 2] ^= 1
    bad = pipeline.settle(result, ProvedBatch(proof=bytes(flipped), prove_seconds=1.0))
    assert bad.status is BatchStatus.PROOF_REJECTED
    assert submitter.calls == 1
    assert len(client.sent_batches) == 0


def test_invalid_empty_batch(prover: BatchProver) -> None:
    genesis = RollupState.genesis(_rollup_config())
    pipeline = BatchPipeline(genesis, prover)
    with pytest.raises(PipelineError) as info:
        pipeline.submit_batch([])
    assert info.value.reason is PipelineReason.EMPTY_BATCH
    assert pipeline.next_batch_number == 0
