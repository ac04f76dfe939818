"""A 30 % crash goes through the node's settlement pipeline: bridged, batched, proven, verified.

The exchange session of ``tests/node/test_bridge.py`` (a funded insurance fund, longs in BTC
and ETH, a dip, a funding hour, the crash: penalty takeovers, bankrupt takeovers paid by the
fund, a payment without closes, deleveraging in both markets) is translated by the bridge,
cut into batches by the batcher, proven by a spawned prover worker at the ``minimal`` preset
and verified by the Python verifier. No L1 here: submitting on an embedded chain adds the
generated verifier's compilation and minutes of py-evm, not another rule.
"""

from __future__ import annotations

import pytest

from starkperp.node.pipeline import Batcher, BatcherConfig, BatchPipeline, BatchProver, BatchStatus
from starkperp.rollup.position import apply_funding
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import Deleverage, InsuranceTakeover
from starkperp.stark.options import PRESETS
from tests.exchange.helpers import BTC, ETH
from tests.node.test_bridge import _bridge, _crash_config, _crash_session

pytestmark = pytest.mark.slow


def test_crash_batches_are_proven_and_verified_with_exchange_balances() -> None:
    ex, accounts = _crash_session()
    config = _crash_config()
    txs = _bridge(config).translate(ex.events)
    assert {InsuranceTakeover, Deleverage} <= {type(tx) for tx in txs}
    batcher = Batcher(BatcherConfig(max_transactions=len(txs) // 2 + 1), lambda: 0.0)
    batches = batcher.add(txs)
    last = batcher.flush()
    batches += [last] if last is not None else []
    assert len(batches) == 2
    with BatchProver(PRESETS["minimal"], max_workers=1) as prover:
        pipeline = BatchPipeline(RollupState.genesis(config), prover)
        for batch in batches:
            pipeline.submit_batch(batch)
        outcomes = pipeline.collect()
    assert [o.batch_number for o in outcomes] == [0, 1]
    for outcome in outcomes:  # verified here; no L1 submitter in this test
        assert outcome.status is BatchStatus.PROVEN_NOT_SETTLED, outcome.reason
        assert outcome.reason == "no L1 submitter configured"
    state = pipeline.state
    fund = ex.insurance_fund_id
    for account in [*accounts, fund]:
        pid = config.insurance_position_id if account == fund else account
        position = apply_funding(state.get_position(pid), state.global_state)
        assert position.collateral == ex.get_account(account).collateral, account
        for slot, market in enumerate((BTC, ETH)):
            assert position.assets[slot].balance == ex.get_position(account, market).balance
