"""dYdX v3 onboarding: Ethereum-signed actions, STARK key derivation and API credentials.

A dYdX v3 user never has to store a STARK key: the key pair and the default API credentials
are derived from Ethereum signatures over fixed EIP-712 messages, exactly as the
``dydx-v3-python`` client and the dYdX web front end derive them.

* The EIP-712 domain is ``{name: "dYdX", version: "1.0", chainId: network_id}`` and the
  primary type is called ``dYdX``. An *onboarding action* has one field ``action`` (on
  mainnet also ``onlySignOn = "https://trade.dydx.exchange"``); an *Ethereum private
  action* (creating or deleting API keys; ``SignApiKeyAction`` in older dydx3 releases)
  has ``method``, ``requestPath``, ``body`` and ``timestamp``, all strings.
* A *typed signature* is ``0x || r || s || v || t``: the 65-byte Ethereum signature
  (``v`` in {27, 28}) followed by one type byte; ``t = 0`` means the EIP-712 digest was signed
  as is, ``1``/``2`` that it was first wrapped in ``"\\x19Ethereum Signed Message:\\n32"``.
* STARK private key = ``keccak256(signature of "dYdX STARK Key") >> 5`` where the signature
  is read as one big integer (so leading zero bytes do not count, as in dydx3).
* API credentials come from the signature of ``"dYdX Onboarding"``: ``keccak256(r)`` gives
  the secret (first 30 bytes, base64url), ``keccak256(s)`` the key (first 16 bytes as a UUID)
  and the passphrase (next 15 bytes, base64url).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, NewType, TypedDict, Unpack

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak
from eth_keys import keys as eth_keys

from starkperp.crypto.errors import CryptoError, CryptoErrorReason
from starkperp.crypto.stark_curve import (
    FieldElement,
    StarkPrivateKey,
    StarkPublicKey,
    compute_public_key_point,
)

__all__ = [
    "EthPrivateActionFields",
    "NETWORK_ID_GOERLI",
    "NETWORK_ID_MAINNET",
    "NETWORK_ID_ROPSTEN",
    "NETWORK_ID_SEPOLIA",
    "OFF_CHAIN_KEY_DERIVATION_ACTION",
    "OFF_CHAIN_ONBOARDING_ACTION",
    "ONLY_SIGN_ON_DOMAIN_MAINNET",
    "ApiKeyCredentials",
    "NetworkId",
    "StarkKeyPair",
    "compute_eth_private_action_hash",
    "compute_onboarding_hash",
    "compute_typed_data_hash",
    "derive_api_key_credentials_from_signature",
    "derive_stark_key",
    "derive_stark_key_pair_from_signature",
    "get_eth_address",
    "get_eth_private_action_typed_data",
    "get_onboarding_typed_data",
    "recover_default_api_key_credentials",
    "recover_eth_private_action_signer",
    "recover_onboarding_signer",
    "recover_typed_signature_signer",
    "sign_eth_private_action",
    "sign_onboarding_action",
    "sign_typed_data",
]

NetworkId = NewType("NetworkId", int)
"""An Ethereum chain id, the EIP-712 ``chainId`` dYdX signs over."""

NETWORK_ID_MAINNET = NetworkId(1)
NETWORK_ID_ROPSTEN = NetworkId(3)
NETWORK_ID_GOERLI = NetworkId(5)
NETWORK_ID_SEPOLIA = NetworkId(11155111)

OFF_CHAIN_ONBOARDING_ACTION = "dYdX Onboarding"
OFF_CHAIN_KEY_DERIVATION_ACTION = "dYdX STARK Key"
ONLY_SIGN_ON_DOMAIN_MAINNET = "https://trade.dydx.exchange"

_DOMAIN_NAME = "dYdX"
_DOMAIN_VERSION = "1.0"
_STRUCT_NAME = "dYdX"
_SIGNATURE_TYPE_NO_PREPEND = 0
_SIGNATURE_TYPE_DECIMAL = 1
_SIGNATURE_TYPE_HEXADECIMAL = 2
_PREPEND_DECIMAL = b"\x19Ethereum Signed Message:\n32"
_PREPEND_HEXADECIMAL = b"\x19Ethereum Signed Message:\n\x20"
_TYPED_SIGNATURE_HEX_DIGITS = 132


@dataclass(frozen=True, slots=True, kw_only=True)
class StarkKeyPair:
    """A STARK key pair with the public key's y coordinate (dYdX onboarding sends both)."""

    private_key: StarkPrivateKey
    public_key: StarkPublicKey
    public_key_y: FieldElement


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyCredentials:
    """dYdX v3 API credentials: key (UUID), base64url secret and passphrase."""

    key: str
    secret: str
    passphrase: str


def _eip712_domain(network_id: int) -> tuple[list[dict[str, str]], dict[str, Any]]:
    if not isinstance(network_id, int) or isinstance(network_id, bool) or network_id <= 0:
        raise CryptoError(CryptoErrorReason.UNKNOWN_NETWORK, f"bad network id {network_id!r}")
    fields = [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ]
    domain = {"name": _DOMAIN_NAME, "version": _DOMAIN_VERSION, "chainId": network_id}
    return fields, domain


def _typed_data(
    network_id: int, struct: list[dict[str, str]], message: dict[str, str]
) -> dict[str, Any]:
    domain_fields, domain = _eip712_domain(network_id)
    return {
        "types": {"EIP712Domain": domain_fields, _STRUCT_NAME: struct},
        "domain": domain,
        "primaryType": _STRUCT_NAME,
        "message": message,
    }


def get_onboarding_typed_data(*, network_id: int, action: str) -> dict[str, Any]:
    """Return the EIP-712 message of an onboarding action (mainnet adds ``onlySignOn``)."""
    struct = [{"type": "string", "name": "action"}]
    message = {"action": action}
    if network_id == NETWORK_ID_MAINNET:
        struct.append({"type": "string", "name": "onlySignOn"})
        message["onlySignOn"] = ONLY_SIGN_ON_DOMAIN_MAINNET
    return _typed_data(network_id, struct, message)


class EthPrivateActionFields(TypedDict):
    """What an API-key request signs: dydx3's ``EthPrivateAction`` fields."""

    network_id: int
    method: str
    request_path: str
    body: str
    timestamp: str


def get_eth_private_action_typed_data(**fields: Unpack[EthPrivateActionFields]) -> dict[str, Any]:
    """Return the EIP-712 message that authorizes an API-key request (create/delete keys)."""
    struct = [
        {"type": "string", "name": "method"},
        {"type": "string", "name": "requestPath"},
        {"type": "string", "name": "body"},
        {"type": "string", "name": "timestamp"},
    ]
    message = {
        "method": fields["method"],
        "requestPath": fields["request_path"],
        "body": fields["body"],
        "timestamp": fields["timestamp"],
    }
    return _typed_data(fields["network_id"], struct, message)


def compute_typed_data_hash(typed_data: dict[str, Any]) -> bytes:
    """Return the 32-byte EIP-712 digest ``keccak(0x1901 || domainHash || structHash)``."""
    signable = encode_typed_data(full_message=typed_data)
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


def compute_onboarding_hash(*, network_id: int, action: str) -> bytes:
    """Return the EIP-712 digest of an onboarding action."""
    return compute_typed_data_hash(get_onboarding_typed_data(network_id=network_id, action=action))


def compute_eth_private_action_hash(**fields: Unpack[EthPrivateActionFields]) -> bytes:
    """Return the EIP-712 digest of an Ethereum private (API-key) action."""
    return compute_typed_data_hash(get_eth_private_action_typed_data(**fields))


def get_eth_address(eth_private_key: bytes | str) -> str:
    """Return the checksummed Ethereum address of a private key."""
    return str(Account.from_key(eth_private_key).address)


def sign_typed_data(*, eth_private_key: bytes | str, typed_data: dict[str, Any]) -> str:
    """Sign an EIP-712 message and return dYdX's typed signature (type byte ``00``)."""
    signed = Account.sign_typed_data(eth_private_key, full_message=typed_data)
    raw = int(signed.r).to_bytes(32, "big") + int(signed.s).to_bytes(32, "big")
    return "0x" + raw.hex() + f"{int(signed.v):02x}" + f"{_SIGNATURE_TYPE_NO_PREPEND:02x}"


def sign_onboarding_action(
    *, eth_private_key: bytes | str, network_id: int, action: str = OFF_CHAIN_ONBOARDING_ACTION
) -> str:
    """Sign an onboarding action as ``dydx3``'s ``SignOnboardingAction`` does."""
    typed = get_onboarding_typed_data(network_id=network_id, action=action)
    return sign_typed_data(eth_private_key=eth_private_key, typed_data=typed)


def sign_eth_private_action(
    *, eth_private_key: bytes | str, **fields: Unpack[EthPrivateActionFields]
) -> str:
    """Sign an API-key request as ``dydx3``'s ``SignEthPrivateAction`` does."""
    typed = get_eth_private_action_typed_data(**fields)
    return sign_typed_data(eth_private_key=eth_private_key, typed_data=typed)


def _parse_typed_signature(typed_signature: str) -> bytes:
    if not isinstance(typed_signature, str):
        raise CryptoError(CryptoErrorReason.BAD_ETH_SIGNATURE, "signature must be a hex string")
    body = typed_signature[2:] if typed_signature[:2] in ("0x", "0X") else typed_signature
    if len(body) != _TYPED_SIGNATURE_HEX_DIGITS:
        raise CryptoError(CryptoErrorReason.BAD_ETH_SIGNATURE, "typed signature must be 66 bytes")
    try:
        return bytes.fromhex(body)
    except ValueError as exc:
        raise CryptoError(CryptoErrorReason.BAD_ETH_SIGNATURE, "signature is not hex") from exc


def recover_typed_signature_signer(*, message_hash: bytes, typed_signature: str) -> str:
    """Return the checksummed address that produced ``typed_signature`` over ``message_hash``."""
    raw = _parse_typed_signature(typed_signature)
    signature_type = raw[65]
    if signature_type == _SIGNATURE_TYPE_NO_PREPEND:
        digest = message_hash
    elif signature_type == _SIGNATURE_TYPE_DECIMAL:
        digest = keccak(_PREPEND_DECIMAL + message_hash)
    elif signature_type == _SIGNATURE_TYPE_HEXADECIMAL:
        digest = keccak(_PREPEND_HEXADECIMAL + message_hash)
    else:
        raise CryptoError(CryptoErrorReason.BAD_ETH_SIGNATURE, "unknown signature type byte")
    v = raw[64]
    v = v - 27 if v in (27, 28) else v
    if v not in (0, 1):
        raise CryptoError(CryptoErrorReason.BAD_ETH_SIGNATURE, "v must be 27 or 28")
    r = int.from_bytes(raw[:32], "big")
    s = int.from_bytes(raw[32:64], "big")
    try:
        signature = eth_keys.Signature(vrs=(v, r, s))
        public_key = signature.recover_public_key_from_msg_hash(digest)
    except Exception as exc:  # eth_keys raises several types for unrecoverable input
        raise CryptoError(
            CryptoErrorReason.BAD_ETH_SIGNATURE, "signature does not recover"
        ) from exc
    return str(public_key.to_checksum_address())


def recover_onboarding_signer(
    *, typed_signature: str, network_id: int, action: str = OFF_CHAIN_ONBOARDING_ACTION
) -> str:
    """Return the Ethereum address that signed an onboarding action (as the server checks)."""
    digest = compute_onboarding_hash(network_id=network_id, action=action)
    return recover_typed_signature_signer(message_hash=digest, typed_signature=typed_signature)


def recover_eth_private_action_signer(
    *, typed_signature: str, **fields: Unpack[EthPrivateActionFields]
) -> str:
    """Return the Ethereum address that signed an API-key request."""
    digest = compute_eth_private_action_hash(**fields)
    return recover_typed_signature_signer(message_hash=digest, typed_signature=typed_signature)


def derive_stark_key_pair_from_signature(typed_signature: str) -> StarkKeyPair:
    """Derive the STARK key pair from the typed signature of ``"dYdX STARK Key"``.

    dydx3 hashes ``solidityKeccak(['uint256'], [int(signature, 16)])``: the signature as a
    big-endian integer of at least 32 bytes, without leading zero bytes beyond that.
    """
    raw = _parse_typed_signature(typed_signature)
    value = int.from_bytes(raw, "big")
    encoded = value.to_bytes(max(32, (value.bit_length() + 7) // 8), "big")
    private_key = int.from_bytes(keccak(encoded), "big") >> 5
    if private_key == 0:
        raise CryptoError(CryptoErrorReason.INVALID_PRIVATE_KEY, "derived private key is zero")
    x, y = compute_public_key_point(StarkPrivateKey(private_key))
    return StarkKeyPair(
        private_key=StarkPrivateKey(private_key), public_key=StarkPublicKey(x), public_key_y=y
    )


def derive_stark_key(*, eth_private_key: bytes | str, network_id: int) -> StarkKeyPair:
    """Derive a user's STARK key pair from their Ethereum key, as dYdX v3 does."""
    signature = sign_onboarding_action(
        eth_private_key=eth_private_key,
        network_id=network_id,
        action=OFF_CHAIN_KEY_DERIVATION_ACTION,
    )
    return derive_stark_key_pair_from_signature(signature)


def _uuid_format(hex_digits: str) -> str:
    h = hex_digits
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def derive_api_key_credentials_from_signature(typed_signature: str) -> ApiKeyCredentials:
    """Derive the default API credentials from the typed signature of ``"dYdX Onboarding"``."""
    raw = _parse_typed_signature(typed_signature)
    hashed_r = keccak(raw[:32])
    hashed_s = keccak(raw[32:64])
    return ApiKeyCredentials(
        key=_uuid_format(hashed_s[:16].hex()),
        secret=base64.urlsafe_b64encode(hashed_r[:30]).decode(),
        passphrase=base64.urlsafe_b64encode(hashed_s[16:31]).decode(),
    )


def recover_default_api_key_credentials(
    *, eth_private_key: bytes | str, network_id: int
) -> ApiKeyCredentials:
    """Derive the default API credentials of an Ethereum key, as dYdX v3 does."""
    signature = sign_onboarding_action(
        eth_private_key=eth_private_key,
        network_id=network_id,
        action=OFF_CHAIN_ONBOARDING_ACTION,
    )
    return derive_api_key_credentials_from_signature(signature)
