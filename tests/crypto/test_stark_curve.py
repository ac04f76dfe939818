"""STARK-curve ECDSA and Pedersen: equal to dydx-v3-python's signer, and safe on hostile input."""

from __future__ import annotations

import json
import pathlib

import fast_stark_crypto
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starkperp.crypto.errors import CryptoError, CryptoErrorReason
from starkperp.crypto.stark_curve import (
    EC_ORDER,
    FIELD_PRIME,
    MAX_ECDSA_VALUE,
    FieldElement,
    Signature,
    StarkPrivateKey,
    StarkPublicKey,
    compute_public_key_point,
    is_valid_public_key,
    pedersen_hash,
    private_to_public,
    sign,
    verify,
)

VECTORS = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "dydx"


def _load(name: str) -> list[dict[str, str]]:
    return json.loads((VECTORS / name).read_text())["vectors"]  # type: ignore[no-any-return]


SIGNATURE_VECTORS = _load("stark_signatures.json")
PEDERSEN_VECTORS = _load("pedersen.json")

private_keys = st.integers(min_value=1, max_value=EC_ORDER - 1).map(StarkPrivateKey)
message_hashes = st.integers(min_value=1, max_value=MAX_ECDSA_VALUE - 1)


def _sig(r: int, s: int) -> Signature:
    return Signature(r=FieldElement(r), s=FieldElement(s))


@pytest.mark.parametrize("vector", PEDERSEN_VECTORS, ids=lambda v: v["a"][:10])
def test_pedersen_hash_matches_dydx3(vector: dict[str, str]) -> None:
    assert pedersen_hash(int(vector["a"], 16), int(vector["b"], 16)) == int(vector["hash"], 16)


@pytest.mark.parametrize("vector", SIGNATURE_VECTORS, ids=lambda v: v["msg_hash"][:12])
def test_sign_matches_dydx3_rfc6979(vector: dict[str, str]) -> None:
    private_key = StarkPrivateKey(int(vector["private_key"], 16))
    msg_hash = int(vector["msg_hash"], 16)
    signature = sign(msg_hash, private_key)
    assert signature == _sig(int(vector["r"], 16), int(vector["s"], 16))
    public_key = private_to_public(private_key)
    assert public_key == int(vector["public_key"], 16)
    assert verify(msg_hash, signature, public_key)


@pytest.mark.parametrize("vector", SIGNATURE_VECTORS[:3], ids=lambda v: v["msg_hash"][:12])
def test_compute_public_key_point_matches_dydx3(vector: dict[str, str]) -> None:
    x, y = compute_public_key_point(StarkPrivateKey(int(vector["private_key"], 16)))
    assert (x, y) == (int(vector["public_key"], 16), int(vector["public_key_y"], 16))
    assert (
        y * y - (x**3 + x + 0x06F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89)
    ) % (FIELD_PRIME) == 0


@pytest.mark.parametrize("vector", SIGNATURE_VECTORS, ids=lambda v: v["msg_hash"][:12])
def test_invalid_tampered_signature_twins_fail(vector: dict[str, str]) -> None:
    msg_hash = int(vector["msg_hash"], 16)
    r, s = int(vector["r"], 16), int(vector["s"], 16)
    public_key = StarkPublicKey(int(vector["public_key"], 16))
    other_key = private_to_public(StarkPrivateKey(int(vector["private_key"], 16) + 1))
    assert verify(msg_hash, _sig(r, s), public_key)
    assert not verify(msg_hash ^ 1 if msg_hash > 1 else 2, _sig(r, s), public_key)
    assert not verify(msg_hash, _sig(r ^ 1, s), public_key)
    assert not verify(msg_hash, _sig(r, s ^ 1), public_key)
    assert not verify(msg_hash, _sig(r, s), other_key)


def test_signature_malleability_is_accepted_as_in_starkex() -> None:
    """A STARK key is an x coordinate: both (r, s) and (r, n - s) verify, as in dydx3."""
    private_key = StarkPrivateKey(0x1234567)
    msg_hash = 0xDEADBEEF
    signature = sign(msg_hash, private_key)
    twin = _sig(signature.r, EC_ORDER - signature.s)
    assert verify(msg_hash, twin, private_to_public(private_key))


def _hostile_cases() -> list[tuple[str, object, object, object]]:
    vector = SIGNATURE_VECTORS[1]
    h, r, s = int(vector["msg_hash"], 16), int(vector["r"], 16), int(vector["s"], 16)
    key = int(vector["public_key"], 16)
    w_too_big = pow(MAX_ECDSA_VALUE + 5, -1, EC_ORDER)
    off_curve = next(x for x in range(2, 100) if not is_valid_public_key(x))
    return [
        ("r zero", h, _sig(0, s), key),
        ("r 2^251", h, _sig(MAX_ECDSA_VALUE, s), key),
        ("r huge", h, _sig(2**300, s), key),
        ("r negative", h, _sig(-r, s), key),
        ("s zero", h, _sig(r, 0), key),
        ("s order", h, _sig(r, EC_ORDER), key),
        ("s huge", h, _sig(r, 2**256), key),
        ("w above 2^251", h, _sig(r, w_too_big), key),
        ("key zero", h, _sig(r, s), 0),
        ("key off curve", h, _sig(r, s), off_curve),
        ("key prime", h, _sig(r, s), FIELD_PRIME),
        ("key huge", h, _sig(r, s), 2**256),
        ("key negative", h, _sig(r, s), -key),
        ("hash zero", 0, _sig(r, s), key),
        ("hash 2^251", MAX_ECDSA_VALUE, _sig(r, s), key),
        ("hash negative", -h, _sig(r, s), key),
        ("hash str", str(h), _sig(r, s), key),
        ("hash float", float(h), _sig(r, s), key),
        ("hash bool", True, _sig(r, s), key),
        ("key str", h, _sig(r, s), hex(key)),
        ("signature None", h, None, key),
        ("signature tuple", h, (r, s), key),
        ("r str", h, Signature(r=str(r), s=s), key),  # type: ignore[arg-type]
        ("s float", h, Signature(r=r, s=float(s)), key),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("case", _hostile_cases(), ids=lambda c: c[0])
def test_invalid_hostile_input_verifies_false_without_panic(
    case: tuple[str, object, object, object], capfd: pytest.CaptureFixture[str]
) -> None:
    _, msg_hash, signature, key = case
    assert verify(msg_hash, signature, key) is False  # type: ignore[arg-type]
    assert "panicked" not in capfd.readouterr().err


@pytest.mark.parametrize("bad", [0, EC_ORDER, EC_ORDER + 1, -1, 2**256])
def test_invalid_private_key_is_rejected(bad: int) -> None:
    with pytest.raises(CryptoError) as info:
        sign(1, StarkPrivateKey(bad))
    assert info.value.reason is CryptoErrorReason.INVALID_PRIVATE_KEY
    with pytest.raises(CryptoError):
        private_to_public(StarkPrivateKey(bad))
    with pytest.raises(CryptoError):
        compute_public_key_point(StarkPrivateKey(bad))


@pytest.mark.parametrize("bad", [-1, MAX_ECDSA_VALUE, FIELD_PRIME, 2**256])
def test_invalid_message_hash_cannot_be_signed(bad: int) -> None:
    with pytest.raises(CryptoError) as info:
        sign(bad, StarkPrivateKey(7))
    assert info.value.reason is CryptoErrorReason.OUT_OF_RANGE


@pytest.mark.parametrize("bad", [-1, FIELD_PRIME, 2**256])
def test_invalid_pedersen_input_is_rejected(bad: int) -> None:
    with pytest.raises(CryptoError) as info:
        pedersen_hash(bad, 0)
    assert info.value.reason is CryptoErrorReason.OUT_OF_RANGE
    with pytest.raises(CryptoError):
        pedersen_hash(0, bad)


def test_signature_hex_round_trip() -> None:
    vector = SIGNATURE_VECTORS[0]
    signature = _sig(int(vector["r"], 16), int(vector["s"], 16))
    text = signature.to_hex()
    assert len(text) == 128
    assert Signature.from_hex(text) == signature
    assert Signature.from_hex("0x" + text) == signature


@pytest.mark.parametrize("bad", ["", "00" * 63, "zz" * 64, "00" * 65, "0x" + "0" * 127])
def test_invalid_signature_hex_is_rejected(bad: str) -> None:
    with pytest.raises(CryptoError) as info:
        Signature.from_hex(bad)
    assert info.value.reason is CryptoErrorReason.MALFORMED_SIGNATURE


@settings(max_examples=15, deadline=None)
@given(private_key=private_keys, msg_hash=message_hashes, flip=st.integers(0, 250))
def test_sign_then_verify_and_any_hash_bit_flip_fails(
    private_key: StarkPrivateKey, msg_hash: int, flip: int
) -> None:
    signature = sign(msg_hash, private_key)
    public_key = private_to_public(private_key)
    assert verify(msg_hash, signature, public_key)
    tampered = msg_hash ^ (1 << flip)
    if 0 < tampered < MAX_ECDSA_VALUE:
        assert not verify(tampered, signature, public_key)


@settings(max_examples=10, deadline=None)
@given(private_key=private_keys)
def test_reference_point_multiplication_agrees_with_native(private_key: StarkPrivateKey) -> None:
    x, _ = compute_public_key_point(private_key)
    assert x == fast_stark_crypto.get_public_key(private_key) == private_to_public(private_key)


@settings(max_examples=30, deadline=None)
@given(x=st.integers(min_value=-(2**260), max_value=2**260))
def test_is_valid_public_key_never_raises(x: int) -> None:
    assert is_valid_public_key(x) in (True, False)
