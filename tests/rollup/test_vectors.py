"""Versioned vectors of the L1-facing encodings: shared state, public input, DA payload.

The L1 engineer's contracts parse these bytes; a change to any encoding must be deliberate:
regenerate with ``STARKPERP_WRITE_VECTORS=1 pytest tests/rollup/test_vectors.py`` and bump the
version constants (``SHARED_STATE_VERSION``, ``PUBLIC_INPUT_VERSION``, ``DA_VERSION``).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from starkperp.rollup.batch import execute_batch
from starkperp.rollup.config import get_preset
from starkperp.rollup.quantities import AssetId, Collateral, PositionId, PublicKey, Quantity
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import (
    Deposit,
    ForcedWithdrawal,
    LimitOrder,
    Trade,
)

VECTOR = Path(__file__).parent / "vectors" / "batch_v1.json"


def _batch():
    cfg = replace(get_preset("minimal", verify_signatures=False), positions_depth=6, orders_depth=6)
    state = RollupState.genesis(cfg, prices=(12_884_901, 8_589_934_592))
    asset = AssetId(cfg.asset_ids[0])

    def order(pid: int, buy: bool) -> LimitOrder:
        return LimitOrder(
            position_id=PositionId(pid),
            public_key=PublicKey(100 + pid),
            asset_id_synthetic=asset,
            amount_synthetic=Quantity(10**8),
            amount_collateral=Collateral(300 * 10**6),
            amount_fee=Collateral(10**6),
            is_buying_synthetic=buy,
            nonce=pid,
            expiration_hours=500_000,
        )

    txs = [
        Deposit(position_id=PositionId(2), public_key=PublicKey(102), amount=Collateral(10**9)),
        Deposit(position_id=PositionId(3), public_key=PublicKey(103), amount=Collateral(10**9)),
        Trade(
            party_a_order=order(2, True),
            party_b_order=order(3, False),
            actual_a_fee=Collateral(10**6),
            actual_b_fee=Collateral(5 * 10**5),
            actual_collateral=Collateral(300 * 10**6),
            actual_synthetic=Quantity(10**8),
        ),
        ForcedWithdrawal(
            position_id=PositionId(3),
            public_key=PublicKey(103),
            amount=Collateral(7),
            recipient=0xAB,
        ),
    ]
    return execute_batch(state, txs, 42)


def test_l1_encodings_match_versioned_vector() -> None:
    r = _batch()
    got = {
        "prev_shared_state": r.prev_shared_state.encode().hex(),
        "prev_state_hash": r.prev_shared_state.compute_hash().hex(),
        "new_shared_state": r.new_shared_state.encode().hex(),
        "new_state_hash": r.new_shared_state.compute_hash().hex(),
        "public_input": r.public_input.encode().hex(),
        "public_input_hash": r.public_input.compute_hash().hex(),
        "public_input_field_elements": [int(x) for x in r.public_input.to_field_elements()],
        "da_payload": r.da_payload.encode().hex(),
        "da_state_part": r.da_payload.encode_state().hex(),
        "da_hash": r.da_payload.compute_hash().hex(),
        "forced_request_id": r.public_input.forced_actions[0].request_id.hex(),
    }
    if os.environ.get("STARKPERP_WRITE_VECTORS"):
        VECTOR.write_text(json.dumps(got, indent=1) + "\n")
    assert json.loads(VECTOR.read_text()) == got
