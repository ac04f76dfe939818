"""Properties of batch execution: conservation, determinism, DA rebuild, clean rejection."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starkperp.rollup.batch import apply_effect, compute_collateral_flows, execute_batch
from starkperp.rollup.da import DataAvailabilityPayload, decode_payload, rebuild_state
from starkperp.rollup.errors import DataAvailabilityError, Reason, TransactionRejected
from starkperp.rollup.public_input import decode_public_input
from starkperp.rollup.state import OrderLeaf
from starkperp.rollup.transactions import StateView, Transaction, apply_transaction
from tests.strategies.rollup import make_config, make_world, order_leaves, transaction_lists

CFG = make_config()
STATE, TRADERS = make_world(CFG, 4, collateral=10**11)
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run_valid_prefix(txs: list[Transaction]):
    """Execute txs one by one, dropping rejected ones (each rejection must change nothing)."""
    work = STATE.copy()
    kept: list[Transaction] = []
    for tx in txs:
        snapshot = (dict(work.positions), dict(work.orders), work.global_state)
        try:
            effect = apply_transaction(StateView(base=work), tx)
        except TransactionRejected:
            assert (dict(work.positions), dict(work.orders), work.global_state) == snapshot
            continue
        apply_effect(work, effect)
        kept.append(tx)
    return kept, execute_batch(STATE, kept, batch_number=1)


@SETTINGS
@given(transaction_lists(TRADERS, CFG))
def test_collateral_is_conserved(txs: list[Transaction]) -> None:
    _, result = _run_valid_prefix(txs)
    tx_flow, funding_flow = compute_collateral_flows(result.effects)
    pi = result.public_input
    assert tx_flow == pi.total_deposits - pi.total_withdrawals
    assert funding_flow == pi.funding_collateral_change
    total_before = sum(p.collateral for p in result.prev_state.positions.values())
    total_after = sum(p.collateral for p in result.state.positions.values())
    assert total_after - total_before == tx_flow + funding_flow


@SETTINGS
@given(transaction_lists(TRADERS, CFG))
def test_determinism_and_rebuild_from_da(txs: list[Transaction]) -> None:
    kept, result = _run_valid_prefix(txs)
    again = execute_batch(STATE, kept, batch_number=1)
    assert again.public_input.encode() == result.public_input.encode()
    assert again.da_payload.encode() == result.da_payload.encode()
    payload = decode_payload(result.da_payload.encode(), CFG.n_assets)
    assert payload.compute_hash() == result.public_input.da_hash
    rebuilt = rebuild_state(STATE, [payload], [result.new_shared_state])
    assert rebuilt.get_shared_state() == result.new_shared_state
    assert decode_public_input(result.public_input.encode()) == result.public_input


def test_public_input_layout_words() -> None:
    result = execute_batch(STATE, [], batch_number=7)
    data = result.public_input.encode()
    assert len(data) % 32 == 0
    assert int.from_bytes(data[32:64], "big") == 7
    assert data[64:96] == result.prev_shared_state.compute_hash()
    assert data[96:128] == result.new_shared_state.compute_hash()
    assert data[128:160] == result.da_payload.compute_hash()
    elems = result.public_input.to_field_elements()
    assert len(elems) == 8 + 16 + 4 + 1
    assert all(0 <= e < 2**64 - 2**32 + 1 for e in elems)


@pytest.mark.parametrize("cut", [1, 10, 40])
def test_invalid_payload_truncated(cut: int) -> None:
    kept, result = _run_valid_prefix([])
    data = result.da_payload.encode()
    with pytest.raises(DataAvailabilityError) as exc:
        decode_payload(data[:-cut] if cut < len(data) else b"", CFG.n_assets)
    assert exc.value.reason is Reason.MALFORMED_PAYLOAD


def test_invalid_payload_trailing_and_wrong_root() -> None:
    from tests.strategies.rollup import make_transfer

    result = execute_batch(STATE, [make_transfer(TRADERS[0], TRADERS[1], 5, 1)], 1)
    data = result.da_payload.encode()
    with pytest.raises(DataAvailabilityError):
        decode_payload(data + b"\x00", CFG.n_assets)
    with pytest.raises(DataAvailabilityError) as exc:
        rebuild_state(STATE, [result.da_payload], [result.prev_shared_state])
    assert exc.value.reason is Reason.PAYLOAD_ROOT_MISMATCH


@given(st.binary(max_size=300))
@settings(max_examples=50, deadline=None)
def test_invalid_hostile_bytes_never_crash(data: bytes) -> None:
    try:
        decode_payload(data, CFG.n_assets)
    except DataAvailabilityError:
        pass
    try:
        decode_public_input(data)
    except DataAvailabilityError:
        pass


@given(st.lists(order_leaves(), min_size=1, max_size=4))
@settings(max_examples=25, deadline=None)
def test_order_leaves_v2_round_trip_through_da(leaves: list) -> None:
    payload = DataAvailabilityPayload(
        batch_number=3,
        global_state=STATE.global_state,
        positions=(),
        orders=tuple(enumerate(leaves)),
    )
    assert decode_payload(payload.encode(), CFG.n_assets) == payload
    rebuilt = rebuild_state(STATE, [payload])
    for key, leaf in enumerate(leaves):
        assert rebuilt.get_order(key) == leaf


def test_invalid_payload_order_side() -> None:
    leaf = OrderLeaf(message_hash=9, filled=1, amount=2, expiration_hours=5)
    payload = DataAvailabilityPayload(
        batch_number=3, global_state=STATE.global_state, positions=(), orders=((0, leaf),)
    )
    data = bytearray(payload.encode())
    side_at = len(data) - 4 - 4 - 1  # side byte, expiry, then the empty audit part's count
    assert data[side_at] == 0
    data[side_at] = 2
    with pytest.raises(DataAvailabilityError) as exc:
        decode_payload(bytes(data), CFG.n_assets)
    assert exc.value.reason is Reason.MALFORMED_PAYLOAD
