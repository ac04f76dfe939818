"""The keccak Fiat-Shamir transcript and proof-of-work grinding."""

from __future__ import annotations

from starkperp.crypto.keccak import keccak256
from starkperp.field.goldilocks import P
from starkperp.stark.transcript import (
    PROTOCOL_TAG,
    Transcript,
    encode_ext,
    encode_felts,
    find_pow_nonce,
    is_valid_pow,
)


def test_schedule_matches_the_documented_encoding() -> None:
    transcript = Transcript()
    state = keccak256(PROTOCOL_TAG)
    assert transcript.state == state
    transcript.absorb(b"abc")
    state = keccak256(state + b"abc")
    assert transcript.state == state
    first = int.from_bytes(keccak256(state + (0).to_bytes(8, "big")), "big")
    second = int.from_bytes(keccak256(state + (1).to_bytes(8, "big")), "big")
    assert transcript.draw_ext() == (first % P, second % P)
    assert transcript.draw() == int.from_bytes(keccak256(state + (2).to_bytes(8, "big")), "big")


def test_determinism_and_separation() -> None:
    a, b = Transcript(), Transcript()
    a.absorb(b"x")
    b.absorb(b"x")
    assert a.draw_felt() == b.draw_felt()
    b.absorb(b"y")
    assert a.draw_felt() != b.draw_felt()


def test_distinct_indices() -> None:
    transcript = Transcript()
    indices = transcript.draw_distinct_indices(20, 80)
    assert len(set(indices)) == 20 and all(0 <= i < 80 for i in indices)


def test_encodings() -> None:
    assert encode_felts([1]) == b"\x00" * 7 + b"\x01"
    assert encode_ext([(1, 2)]) == encode_felts([1, 2])


def test_pow_nonce_is_smallest_solution() -> None:
    state = keccak256(b"seed")
    nonce = find_pow_nonce(state, 8)
    assert is_valid_pow(state, nonce, 8)
    assert not any(is_valid_pow(state, n, 8) for n in range(nonce))
    assert find_pow_nonce(state, 0) == 0 and is_valid_pow(state, 12345, 0)


def test_invalid_pow_nonces() -> None:
    state = keccak256(b"seed")
    nonce = find_pow_nonce(state, 10)
    assert not is_valid_pow(state, nonce, 30) or nonce == 0
    assert not is_valid_pow(state, -1, 4)
    assert not is_valid_pow(state, 2**64, 4)
