"""Write dYdX v3 signing test vectors computed by the real ``dydx-v3-python`` signer.

Runs ONLY in a virtual environment of its own (dydx-v3-python pins web3 5 / eth-account 0.5,
which conflict with the project's dependencies)::

    python3 -m venv /tmp/dydxvenv
    /tmp/dydxvenv/bin/pip install dydx-v3-python==2.1.0
    /tmp/dydxvenv/bin/pip install --no-deps parsimonious==0.9.0
    /tmp/dydxvenv/bin/python tools/gen_dydx_vectors.py [output-dir]

It writes JSON files into ``tests/vectors/dydx/`` (or ``output-dir``). Every hash, signature,
key and credential in them is what dydx3 itself computed; the project's tests recompute them
with ``starkperp`` and compare. Inputs are fixed, so a rerun reproduces the files exactly
(except the ``generated_at`` stamp).
"""

from __future__ import annotations

import datetime
import json
import pathlib
import platform
import sys
from importlib import metadata

from dydx3 import Client
from dydx3.constants import (
    COLLATERAL_ASSET_ID_BY_NETWORK_ID,
    FACT_REGISTRY_CONTRACT,
    NETWORK_ID_MAINNET,
    NETWORK_ID_SEPOLIA,
    OFF_CHAIN_KEY_DERIVATION_ACTION,
    OFF_CHAIN_ONBOARDING_ACTION,
    SYNTHETIC_ASSET_ID_MAP,
    SYNTHETIC_ASSET_MAP,
    TOKEN_CONTRACTS,
)
from dydx3.eth_signing import SignEthPrivateAction, SignOnboardingAction, SignWithKey
from dydx3.starkex.conditional_transfer import SignableConditionalTransfer
from dydx3.starkex.helpers import (
    get_transfer_erc20_fact,
    nonce_from_client_id,
    private_key_from_bytes,
    private_key_to_public_key_pair_hex,
)
from dydx3.starkex.order import SignableOrder
from dydx3.starkex.starkex_resources.proxy import get_hash, sign, verify
from dydx3.starkex.transfer import SignableTransfer
from dydx3.starkex.withdrawal import SignableWithdrawal

NETWORKS = (NETWORK_ID_MAINNET, NETWORK_ID_SEPOLIA)
HOUR = 3600
BASE_TIME = 1_700_000_000  # 2023-11-14T22:13:20Z


def stark_key(label: str) -> tuple[str, str, str]:
    """Return a fixed STARK key pair (private hex, public x hex, public y hex)."""
    private_hex = private_key_from_bytes(f"starkperp-vector-{label}".encode())
    public_x, public_y = private_key_to_public_key_pair_hex(private_hex)
    return private_hex, public_x, public_y


def signature_json(signature_hex: str) -> dict[str, str]:
    return {"r": "0x" + signature_hex[:64], "s": "0x" + signature_hex[64:], "hex": signature_hex}


ORDER_CASES = [
    # market, side, size, price, limit_fee, client_id, expiration_seconds, position_id
    ("BTC-USD", "BUY", "0.0123", "45678.9", "0.0005", "1", BASE_TIME, 1),
    ("BTC-USD", "SELL", "0.0123", "45678.9", "0.0005", "1", BASE_TIME, 1),
    ("BTC-USD", "BUY", "1.5", "20000", "0.002", "order-42", BASE_TIME + 1, 12345),
    ("BTC-USD", "SELL", "170", "69999.5", "0.0015", "x" * 40, BASE_TIME + HOUR - 1, 2**40 + 7),
    ("ETH-USD", "BUY", "0.001", "1234.56", "0.00012345678", "client-ü-✓", BASE_TIME, 77),
    ("ETH-USD", "SELL", "10.123", "3333.3", "0", "", BASE_TIME + 7 * HOUR, 77),
    ("ETH-USD", "BUY", "2820", "4000.1", "0.1", "99999999999999999999", BASE_TIME, 2**63 - 1),
    ("SOL-USD", "BUY", "1.3", "123.4567891", "0.0005", "sol-up", BASE_TIME, 5),
    ("SOL-USD", "SELL", "1.3", "123.4567891", "0.0005", "sol-down", BASE_TIME, 5),
    ("LINK-USD", "BUY", "0.1", "7.001", "0.002", "link", BASE_TIME + 123, 9),
    ("LINK-USD", "SELL", "14000", "19.999", "0.000001", "link2", BASE_TIME + 3601, 9),
    ("DOGE-USD", "BUY", "10", "0.0615", "0.0005", "doge", BASE_TIME, 11),
    ("DOGE-USD", "SELL", "2250000", "0.12345", "0.002", "doge2", BASE_TIME, 11),
    ("AAVE-USD", "BUY", "0.01", "99.99", "0.0005", "aave", BASE_TIME, 13),
    ("MATIC-USD", "SELL", "1", "1.3333", "0.0025", "matic", BASE_TIME, 13),
    ("TRX-USD", "BUY", "100", "0.07777", "0.0005", "trx", BASE_TIME, 13),
    ("YFI-USD", "SELL", "0.0001", "25000.5", "0.0005", "yfi", BASE_TIME, 13),
    ("1INCH-USD", "BUY", "1", "1.1", "0.0005", "oneinch", BASE_TIME, 13),
    # ISO expirations with milliseconds reach dydx3 as float seconds (iso_to_epoch_seconds).
    ("BTC-USD", "BUY", "0.5", "30000", "0.0005", "iso-ms", 1_700_002_800.5, 21),
    ("ETH-USD", "SELL", "0.5", "2000.5", "0.0005", "iso-ms2", 1_700_006_399.999, 21),
]


def gen_orders() -> list[dict[str, object]]:
    out = []
    for index, case in enumerate(ORDER_CASES):
        market, side, size, price, fee, client_id, expiration, position = case
        for network_id in NETWORKS:
            private_hex, public_x, _ = stark_key(f"order-{index % 4}")
            order = SignableOrder(
                network_id=network_id,
                market=market,
                side=side,
                position_id=position,
                human_size=size,
                human_price=price,
                limit_fee=fee,
                client_id=client_id,
                expiration_epoch_seconds=expiration,
            )
            signature = order.sign(private_hex)
            assert order.verify_signature(signature, public_x)
            message = order.to_starkware()
            out.append(
                {
                    "network_id": network_id,
                    "market": market,
                    "side": side,
                    "position_id": position,
                    "human_size": size,
                    "human_price": price,
                    "human_limit_fee": fee,
                    "client_id": client_id,
                    "expiration_epoch_seconds": expiration,
                    "starkware": {
                        "asset_id_synthetic": hex(message.asset_id_synthetic),
                        "asset_id_collateral": hex(message.asset_id_collateral),
                        "quantums_amount_synthetic": message.quantums_amount_synthetic,
                        "quantums_amount_collateral": message.quantums_amount_collateral,
                        "quantums_amount_fee": message.quantums_amount_fee,
                        "nonce": message.nonce,
                        "expiration_epoch_hours": message.expiration_epoch_hours,
                    },
                    "private_key": private_hex,
                    "public_key": public_x,
                    "hash": hex(order.hash),
                    "signature": signature_json(signature),
                }
            )
    return out


def gen_withdrawals() -> list[dict[str, object]]:
    cases = [
        (1, "1", "w-1", BASE_TIME),
        (12345, "1000.5", "w-2", BASE_TIME + 1),
        (2**63 - 1, "0.000001", "w-ü", BASE_TIME + HOUR),
        (42, "123456789.123456", "", BASE_TIME + 10 * HOUR - 5),
        (43, "5", "w-iso-ms", 1_700_002_800.25),
    ]
    out = []
    for index, (position, amount, client_id, expiration) in enumerate(cases):
        for network_id in NETWORKS:
            private_hex, public_x, _ = stark_key(f"withdrawal-{index}")
            withdrawal = SignableWithdrawal(
                network_id=network_id,
                position_id=position,
                human_amount=amount,
                client_id=client_id,
                expiration_epoch_seconds=expiration,
            )
            signature = withdrawal.sign(private_hex)
            assert withdrawal.verify_signature(signature, public_x)
            message = withdrawal.to_starkware()
            out.append(
                {
                    "network_id": network_id,
                    "position_id": position,
                    "human_amount": amount,
                    "client_id": client_id,
                    "expiration_epoch_seconds": expiration,
                    "starkware": {
                        "quantums_amount": message.quantums_amount,
                        "nonce": message.nonce,
                        "expiration_epoch_hours": message.expiration_epoch_hours,
                    },
                    "private_key": private_hex,
                    "public_key": public_x,
                    "hash": hex(withdrawal.hash),
                    "signature": signature_json(signature),
                }
            )
    return out


def gen_transfers() -> list[dict[str, object]]:
    cases = [
        (1, 2, "10", "t-1", BASE_TIME),
        (12345, 67890, "0.000001", "t-2", BASE_TIME + 1),
        (2**63 - 1, 3, "99999.999999", "t-ü", BASE_TIME + 5 * HOUR),
    ]
    out = []
    for index, (sender, receiver, amount, client_id, expiration) in enumerate(cases):
        for network_id in NETWORKS:
            private_hex, public_x, _ = stark_key(f"transfer-{index}")
            _, receiver_key, _ = stark_key(f"receiver-{index}")
            transfer = SignableTransfer(
                sender_position_id=sender,
                receiver_position_id=receiver,
                receiver_public_key=receiver_key,
                human_amount=amount,
                client_id=client_id,
                expiration_epoch_seconds=expiration,
                network_id=network_id,
            )
            signature = transfer.sign(private_hex)
            assert transfer.verify_signature(signature, public_x)
            message = transfer.to_starkware()
            out.append(
                {
                    "network_id": network_id,
                    "sender_position_id": sender,
                    "receiver_position_id": receiver,
                    "receiver_public_key": receiver_key,
                    "human_amount": amount,
                    "client_id": client_id,
                    "expiration_epoch_seconds": expiration,
                    "starkware": {
                        "quantums_amount": message.quantums_amount,
                        "nonce": message.nounce,
                        "expiration_epoch_hours": message.expiration_epoch_hours,
                    },
                    "private_key": private_hex,
                    "public_key": public_x,
                    "hash": hex(transfer.hash),
                    "signature": signature_json(signature),
                }
            )
    return out


def gen_conditional_transfers() -> list[dict[str, object]]:
    cases = [
        (1, 2, "10", "ct-1", BASE_TIME, "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB", "100", 7),
        (
            555,
            666,
            "0.5",
            "ct-2",
            BASE_TIME + 99,
            "0x1212121212121212121212121212121212121212",
            "0.5",
            2**200,
        ),
    ]
    out = []
    for index, case in enumerate(cases):
        sender, receiver, amount, client_id, expiration, recipient, fact_amount, salt = case
        for network_id in NETWORKS:
            private_hex, public_x, _ = stark_key(f"conditional-{index}")
            _, receiver_key, _ = stark_key(f"creceiver-{index}")
            token = TOKEN_CONTRACTS["USDC"][network_id]
            fact = get_transfer_erc20_fact(recipient, 6, fact_amount, token, salt)
            registry = FACT_REGISTRY_CONTRACT[network_id]
            transfer = SignableConditionalTransfer(
                network_id=network_id,
                sender_position_id=sender,
                receiver_position_id=receiver,
                receiver_public_key=receiver_key,
                fact_registry_address=registry,
                fact=fact,
                human_amount=amount,
                client_id=client_id,
                expiration_epoch_seconds=expiration,
            )
            signature = transfer.sign(private_hex)
            assert transfer.verify_signature(signature, public_x)
            message = transfer.to_starkware()
            out.append(
                {
                    "network_id": network_id,
                    "sender_position_id": sender,
                    "receiver_position_id": receiver,
                    "receiver_public_key": receiver_key,
                    "fact_registry_address": registry,
                    "fact_inputs": {
                        "recipient": recipient,
                        "token_decimals": 6,
                        "human_amount": fact_amount,
                        "token_address": token,
                        "salt": salt,
                    },
                    "fact": "0x" + fact.hex(),
                    "human_amount": amount,
                    "client_id": client_id,
                    "expiration_epoch_seconds": expiration,
                    "starkware": {
                        "condition": hex(message.condition),
                        "quantums_amount": message.quantums_amount,
                        "nonce": message.nonce,
                        "expiration_epoch_hours": message.expiration_epoch_hours,
                    },
                    "private_key": private_hex,
                    "public_key": public_x,
                    "hash": hex(transfer.hash),
                    "signature": signature_json(signature),
                }
            )
    return out


def find_leading_zero_key() -> str:
    """Find an Ethereum key whose STARK-key derivation signature starts with a zero byte.

    dydx3 hashes the typed signature as a *number*, so leading zero bytes vanish; this key
    pins that edge case down.
    """
    for i in range(1, 100_000):
        key = "0x" + (i.to_bytes(4, "big") * 8).hex()
        client = Client(
            host="http://localhost:1", network_id=NETWORK_ID_MAINNET, eth_private_key=key
        )
        sig = client.onboarding.signer.sign(
            client.default_address, action=OFF_CHAIN_KEY_DERIVATION_ACTION
        )
        if sig[2:4] == "00":
            return key
    raise RuntimeError("no key with a leading zero byte found")


def gen_onboarding() -> list[dict[str, object]]:
    keys = [
        "0x" + "11" * 32,
        "0x" + "22" * 32,
        "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
    ]
    keys.append(find_leading_zero_key())
    out = []
    for eth_key in keys:
        for network_id in NETWORKS:
            client = Client(
                host="http://localhost:1", network_id=network_id, eth_private_key=eth_key
            )
            address = client.default_address
            onboarding = SignOnboardingAction(SignWithKey(eth_key), network_id)
            onboarding_sig = onboarding.sign(address, action=OFF_CHAIN_ONBOARDING_ACTION)
            key_sig = onboarding.sign(address, action=OFF_CHAIN_KEY_DERIVATION_ACTION)
            assert onboarding.verify(onboarding_sig, address, action=OFF_CHAIN_ONBOARDING_ACTION)
            stark = client.onboarding.derive_stark_key()
            credentials = client.onboarding.recover_default_api_key_credentials()
            private_action = SignEthPrivateAction(SignWithKey(eth_key), network_id)
            action = {
                "method": "POST",
                "request_path": "/v3/api-keys",
                "body": "{}",
                "timestamp": "2023-11-14T22:13:20.000Z",
            }
            action_sig = private_action.sign(address, **action)
            assert private_action.verify(action_sig, address, **action)
            out.append(
                {
                    "eth_private_key": eth_key,
                    "network_id": network_id,
                    "address": address,
                    "onboarding_action": OFF_CHAIN_ONBOARDING_ACTION,
                    "onboarding_hash": "0x"
                    + bytes(onboarding.get_hash(action=OFF_CHAIN_ONBOARDING_ACTION)).hex(),
                    "onboarding_signature": onboarding_sig,
                    "key_derivation_action": OFF_CHAIN_KEY_DERIVATION_ACTION,
                    "key_derivation_signature": key_sig,
                    "stark_private_key": stark["private_key"],
                    "stark_public_key": stark["public_key"],
                    "stark_public_key_y_coordinate": stark["public_key_y_coordinate"],
                    "api_key": credentials["key"],
                    "api_secret": credentials["secret"],
                    "api_passphrase": credentials["passphrase"],
                    "eth_private_action": action,
                    "eth_private_action_hash": "0x"
                    + bytes(private_action.get_hash(**action)).hex(),
                    "eth_private_action_signature": action_sig,
                }
            )
    return out


def gen_raw_signatures() -> list[dict[str, str]]:
    out = []
    hashes = [1, 2**250 + 12345, 2**251 - 1, 0xABC, 2**247 + 99, 2**248 + 3, 2**249 + 5]
    for index, msg_hash in enumerate(hashes):
        private_hex, public_x, public_y = stark_key(f"raw-{index}")
        r, s = sign(msg_hash, int(private_hex, 16))
        assert verify(msg_hash, r, s, int(public_x, 16))
        out.append(
            {
                "private_key": private_hex,
                "public_key": public_x,
                "public_key_y": public_y,
                "msg_hash": hex(msg_hash),
                "r": hex(r),
                "s": hex(s),
            }
        )
    return out


def gen_pedersen() -> list[dict[str, str]]:
    pairs = [
        (0, 0),
        (1, 2),
        (2**250, 2**251 - 1),
        (
            0x3D937C035C878245CAF64531A5756109C53068DA139362728FEB561405371CB,
            0x208A0A10250E382E1E4BBE2880906C2791BF6275695E02FBBC6AEFF9CD8B31A,
        ),
    ]
    return [{"a": hex(a), "b": hex(b), "hash": hex(get_hash(a, b))} for a, b in pairs]


def gen_nonces() -> list[dict[str, object]]:
    ids = ["", "1", "123456789", "client-ü-✓", "x" * 200, "0x1234"]
    return [{"client_id": c, "nonce": nonce_from_client_id(c)} for c in ids]


def gen_constants() -> dict[str, object]:
    return {
        "collateral_asset_id_by_network": {
            str(k): hex(v) for k, v in COLLATERAL_ASSET_ID_BY_NETWORK_ID.items()
        },
        "synthetic_asset_id_by_market": {
            m: hex(SYNTHETIC_ASSET_ID_MAP[a]) for m, a in SYNTHETIC_ASSET_MAP.items()
        },
    }


def main() -> None:
    root = pathlib.Path(__file__).resolve().parent.parent
    out_dir = (
        pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "vectors" / "dydx"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    provenance = {
        "generator": "tools/gen_dydx_vectors.py",
        "dydx_v3_python": metadata.version("dydx-v3-python"),
        "web3": metadata.version("web3"),
        "eth_account": metadata.version("eth-account"),
        "python": platform.python_version(),
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    files = {
        "orders.json": gen_orders,
        "withdrawals.json": gen_withdrawals,
        "transfers.json": gen_transfers,
        "conditional_transfers.json": gen_conditional_transfers,
        "onboarding.json": gen_onboarding,
        "stark_signatures.json": gen_raw_signatures,
        "pedersen.json": gen_pedersen,
        "nonces.json": gen_nonces,
        "constants.json": gen_constants,
    }
    for name, make in files.items():
        payload = {"provenance": provenance, "vectors": make()}
        (out_dir / name).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {out_dir / name}")


if __name__ == "__main__":
    main()
