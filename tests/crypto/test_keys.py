"""dYdX v3 onboarding: our EIP-712 signatures, STARK keys and API credentials equal dydx3's."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from eth_hash.auto import keccak

from starkperp.crypto.errors import CryptoError, CryptoErrorReason
from starkperp.crypto.keys import (
    NETWORK_ID_MAINNET,
    NETWORK_ID_SEPOLIA,
    OFF_CHAIN_KEY_DERIVATION_ACTION,
    OFF_CHAIN_ONBOARDING_ACTION,
    compute_eth_private_action_hash,
    compute_onboarding_hash,
    derive_api_key_credentials_from_signature,
    derive_stark_key,
    derive_stark_key_pair_from_signature,
    get_eth_address,
    recover_default_api_key_credentials,
    recover_eth_private_action_signer,
    recover_onboarding_signer,
    recover_typed_signature_signer,
    sign_eth_private_action,
    sign_onboarding_action,
)
from starkperp.crypto.stark_curve import private_to_public

VECTORS = json.loads(
    (
        pathlib.Path(__file__).resolve().parent.parent / "vectors" / "dydx" / "onboarding.json"
    ).read_text()
)["vectors"]


def _id(vector: dict[str, Any]) -> str:
    return f"{vector['eth_private_key'][:10]}-{vector['network_id']}"


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_onboarding_signatures_match_dydx3(vector: dict[str, Any]) -> None:
    key, network_id = vector["eth_private_key"], vector["network_id"]
    assert get_eth_address(key) == vector["address"]
    digest = compute_onboarding_hash(network_id=network_id, action=OFF_CHAIN_ONBOARDING_ACTION)
    assert "0x" + digest.hex() == vector["onboarding_hash"]
    assert (
        sign_onboarding_action(eth_private_key=key, network_id=network_id)
        == (vector["onboarding_signature"])
    )
    assert (
        sign_onboarding_action(
            eth_private_key=key, network_id=network_id, action=OFF_CHAIN_KEY_DERIVATION_ACTION
        )
        == vector["key_derivation_signature"]
    )


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_stark_key_derivation_matches_dydx3(vector: dict[str, Any]) -> None:
    pair = derive_stark_key(
        eth_private_key=vector["eth_private_key"], network_id=vector["network_id"]
    )
    assert pair.private_key == int(vector["stark_private_key"], 16)
    assert pair.public_key == int(vector["stark_public_key"], 16)
    assert pair.public_key_y == int(vector["stark_public_key_y_coordinate"], 16)
    assert private_to_public(pair.private_key) == pair.public_key
    assert derive_stark_key_pair_from_signature(vector["key_derivation_signature"]) == pair


def test_vectors_cover_a_signature_with_a_leading_zero_byte() -> None:
    """dydx3 hashes the signature as a number; a leading zero byte must be dropped."""
    assert any(v["key_derivation_signature"].startswith("0x00") for v in VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_api_key_credentials_match_dydx3(vector: dict[str, Any]) -> None:
    credentials = recover_default_api_key_credentials(
        eth_private_key=vector["eth_private_key"], network_id=vector["network_id"]
    )
    assert credentials.key == vector["api_key"]
    assert credentials.secret == vector["api_secret"]
    assert credentials.passphrase == vector["api_passphrase"]
    assert derive_api_key_credentials_from_signature(vector["onboarding_signature"]) == credentials


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_eth_private_action_matches_dydx3(vector: dict[str, Any]) -> None:
    action = vector["eth_private_action"]
    network_id = vector["network_id"]
    digest = compute_eth_private_action_hash(network_id=network_id, **action)
    assert "0x" + digest.hex() == vector["eth_private_action_hash"]
    signature = sign_eth_private_action(
        eth_private_key=vector["eth_private_key"], network_id=network_id, **action
    )
    assert signature == vector["eth_private_action_signature"]
    assert (
        recover_eth_private_action_signer(
            typed_signature=signature, network_id=network_id, **action
        )
        == vector["address"]
    )


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_recover_onboarding_signer_returns_the_address(vector: dict[str, Any]) -> None:
    assert (
        recover_onboarding_signer(
            typed_signature=vector["onboarding_signature"], network_id=vector["network_id"]
        )
        == vector["address"]
    )


def test_invalid_tampered_onboarding_twins_recover_someone_else() -> None:
    vector = VECTORS[0]
    signature, address = vector["onboarding_signature"], vector["address"]
    other_network = NETWORK_ID_SEPOLIA if vector["network_id"] == NETWORK_ID_MAINNET else 1
    assert recover_onboarding_signer(typed_signature=signature, network_id=other_network) != address
    assert (
        recover_onboarding_signer(
            typed_signature=signature,
            network_id=vector["network_id"],
            action=OFF_CHAIN_KEY_DERIVATION_ACTION,
        )
        != address
    )
    flipped = signature[:10] + ("0" if signature[10] != "0" else "1") + signature[11:]
    try:
        recovered = recover_onboarding_signer(
            typed_signature=flipped, network_id=vector["network_id"]
        )
    except CryptoError:
        return
    assert recovered != address
    action = dict(vector["eth_private_action"], body='{"x":1}')
    assert (
        recover_eth_private_action_signer(
            typed_signature=vector["eth_private_action_signature"],
            network_id=vector["network_id"],
            **action,
        )
        != address
    )


def test_prepended_signature_types_recover() -> None:
    """Type bytes 1 and 2 mean the digest was wrapped in an eth_sign prefix first."""
    from eth_account import Account

    key = VECTORS[0]["eth_private_key"]
    digest = bytes(32)
    for type_byte, prefix in (
        (1, b"\x19Ethereum Signed Message:\n32"),
        (2, b"\x19Ethereum Signed Message:\n\x20"),
    ):
        signed = Account.unsafe_sign_hash(keccak(prefix + digest), key)
        typed = "0x" + signed.signature.hex().removeprefix("0x") + f"{type_byte:02x}"
        assert recover_typed_signature_signer(message_hash=digest, typed_signature=typed) == (
            get_eth_address(key)
        )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0x",
        "0x" + "00" * 65,
        "0x" + "00" * 67,
        "0x" + "zz" * 66,
        "0x" + "11" * 64 + "1b" + "07",  # unknown type byte
        "0x" + "11" * 64 + "05" + "00",  # v not 27/28
        "0x" + "00" * 64 + "1b" + "00",  # r = s = 0
        "0x" + "ff" * 64 + "1c" + "00",  # r, s above the curve order
    ],
)
def test_invalid_typed_signature_is_rejected(bad: str) -> None:
    with pytest.raises(CryptoError) as info:
        recover_onboarding_signer(typed_signature=bad, network_id=NETWORK_ID_MAINNET)
    assert info.value.reason is CryptoErrorReason.BAD_ETH_SIGNATURE


@pytest.mark.parametrize("bad", [0, -1, True, "1"])
def test_invalid_network_id_is_rejected(bad: Any) -> None:
    with pytest.raises(CryptoError) as info:
        compute_onboarding_hash(network_id=bad, action=OFF_CHAIN_ONBOARDING_ACTION)
    assert info.value.reason is CryptoErrorReason.UNKNOWN_NETWORK


def test_invalid_non_string_signature_is_rejected() -> None:
    with pytest.raises(CryptoError):
        derive_stark_key_pair_from_signature(12345)  # type: ignore[arg-type]
