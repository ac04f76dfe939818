"""A typed Python client for a starkperp node's REST API (sync and async, over httpx).

It speaks the dYdX v3 dialect the node serves: onboarding with an Ethereum key (which also
derives the STARK key and the default API credentials exactly as dYdX does), HMAC-signed
private requests, and STARK-signed orders and withdrawals. Errors come back as
:class:`ApiError` carrying the HTTP status and the node's reason code.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from starkperp.api.auth import compute_request_signature
from starkperp.crypto.keys import (
    derive_api_key_credentials_from_signature,
    derive_stark_key,
    get_eth_address,
    sign_onboarding_action,
)
from starkperp.crypto.stark_curve import StarkPrivateKey
from starkperp.errors import StarkPerpError
from starkperp.exchange.signing import sign_order, sign_withdrawal
from starkperp.node.errors import NodeReason
from starkperp.node.recovery import ApiCredentials
from starkperp.node.views import format_iso_ms

__all__ = ["ApiError", "AsyncStarkPerpClient", "Identity", "StarkPerpClient", "build_order_body"]


class ApiError(StarkPerpError):
    """A 4xx/5xx answer; ``status`` is the HTTP status, ``code`` the node's reason code."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(NodeReason.MALFORMED_REQUEST, message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A trader's keys: Ethereum key, derived STARK key, API credentials, position id."""

    eth_private_key: str
    eth_address: str
    stark_private_key: int
    stark_public_key: int
    stark_public_key_y: int
    credentials: ApiCredentials
    position_id: int = 0

    @classmethod
    def from_eth_key(cls, eth_private_key: str, *, network_id: int = 1) -> Identity:
        """Derive everything from an Ethereum private key, as dYdX v3 does."""
        pair = derive_stark_key(eth_private_key=eth_private_key, network_id=network_id)
        signature = sign_onboarding_action(eth_private_key=eth_private_key, network_id=network_id)
        derived = derive_api_key_credentials_from_signature(signature)
        return cls(
            eth_private_key=eth_private_key,
            eth_address=get_eth_address(eth_private_key),
            stark_private_key=int(pair.private_key),
            stark_public_key=int(pair.public_key),
            stark_public_key_y=int(pair.public_key_y),
            credentials=ApiCredentials(
                key=derived.key, secret=derived.secret, passphrase=derived.passphrase
            ),
        )

    @classmethod
    def random(cls, *, network_id: int = 1) -> Identity:
        """Return a fresh identity from a random Ethereum key."""
        return cls.from_eth_key("0x" + secrets.token_hex(32), network_id=network_id)

    def with_position(self, position_id: int) -> Identity:
        """Return a copy that knows its position id."""
        return Identity(
            eth_private_key=self.eth_private_key,
            eth_address=self.eth_address,
            stark_private_key=self.stark_private_key,
            stark_public_key=self.stark_public_key,
            stark_public_key_y=self.stark_public_key_y,
            credentials=self.credentials,
            position_id=position_id,
        )


def build_order_body(
    identity: Identity,
    *,
    market: str,
    side: str,
    size: str,
    price: str,
    client_id: str,
    expiration_s: int,
    network_id: int = 1,
    limit_fee: str = "0.002",
    order_type: str = "LIMIT",
    time_in_force: str = "GTT",
    post_only: bool = False,
    reduce_only: bool = False,
    trigger_price: str | None = None,
) -> dict[str, Any]:
    """Build and STARK-sign a ``POST /v3/orders`` body (pure; usable to pre-sign orders)."""
    signature = sign_order(
        position_id=identity.position_id,
        market=market,
        side=side,
        human_size=size,
        human_price=price,
        human_limit_fee=limit_fee,
        client_id=client_id,
        expiration_epoch_seconds=expiration_s,
        network_id=network_id,
        private_key=StarkPrivateKey(identity.stark_private_key),
    )
    body: dict[str, Any] = {
        "market": market,
        "side": side,
        "type": order_type,
        "timeInForce": time_in_force,
        "size": size,
        "price": price,
        "limitFee": limit_fee,
        "expiration": format_iso_ms(expiration_s * 1000),
        "postOnly": post_only,
        "reduceOnly": reduce_only,
        "clientId": client_id,
        "signature": signature.to_hex(),
    }
    if trigger_price is not None:
        body["triggerPrice"] = trigger_price
    return body


class _Base:
    def __init__(
        self, identity: Identity | None, network_id: int, clock_ms: Any | None = None
    ) -> None:
        import time

        self.identity = identity
        self.network_id = network_id
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)

    def _private_headers(self, method: str, path: str, body: Any) -> dict[str, str]:
        assert self.identity is not None, "private calls need an identity"
        creds = self.identity.credentials
        ts = format_iso_ms(self._clock_ms())
        sig = compute_request_signature(
            secret=creds.secret, iso_timestamp=ts, method=method, request_path=path, body=body
        )
        return {
            "DYDX-SIGNATURE": sig,
            "DYDX-API-KEY": creds.key,
            "DYDX-TIMESTAMP": ts,
            "DYDX-PASSPHRASE": creds.passphrase,
        }

    def _onboarding_request(self) -> tuple[dict[str, str], dict[str, Any]]:
        assert self.identity is not None
        ident = self.identity
        signature = sign_onboarding_action(
            eth_private_key=ident.eth_private_key, network_id=self.network_id
        )
        headers = {"DYDX-SIGNATURE": signature, "DYDX-ETHEREUM-ADDRESS": ident.eth_address}
        body = {
            "starkKey": hex(ident.stark_public_key),
            "starkKeyYCoordinate": hex(ident.stark_public_key_y),
        }
        return headers, body

    @staticmethod
    def _query(path: str, params: dict[str, Any] | None) -> str:
        if not params:
            return path
        parts = [f"{k}={v}" for k, v in params.items() if v is not None]
        return path + ("?" + "&".join(parts) if parts else "")

    @staticmethod
    def _result(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                err = response.json()["errors"][0]
                raise ApiError(response.status_code, int(err.get("code", 0)), str(err["msg"]))
            except (ValueError, KeyError, IndexError, TypeError):
                raise ApiError(response.status_code, 0, response.text) from None
        return response.json()

    def _sign_withdrawal(self, amount: str, client_id: str, expiration_s: int) -> dict[str, Any]:
        assert self.identity is not None
        sig = sign_withdrawal(
            network_id=self.network_id,
            position_id=self.identity.position_id,
            human_amount=amount,
            client_id=client_id,
            expiration_epoch_seconds=expiration_s,
            private_key=StarkPrivateKey(self.identity.stark_private_key),
        )
        return {
            "amount": amount,
            "asset": "USDC",
            "expiration": format_iso_ms(expiration_s * 1000),
            "clientId": client_id,
            "signature": sig.to_hex(),
        }


class StarkPerpClient(_Base):
    """Synchronous client."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        identity: Identity | None = None,
        network_id: int = 1,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(identity, network_id)
        self.http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def public(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a public route."""
        return self._result(self.http.get(self._query(path, params)))

    def private(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """Call a private route with dYdX HMAC headers."""
        full = self._query(path, params)
        headers = self._private_headers(method, full, body)
        content = json.dumps(body) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        return self._result(self.http.request(method, full, headers=headers, content=content))

    def onboard(self) -> dict[str, Any]:
        """Create the user's account; remember its position id."""
        headers, body = self._onboarding_request()
        out = self._result(self.http.post("/v3/onboarding", json=body, headers=headers))
        assert self.identity is not None
        self.identity = self.identity.with_position(int(out["account"]["positionId"]))
        return dict(out)

    def place_order(self, **kwargs: Any) -> dict[str, Any]:
        """Sign and place an order (see :func:`build_order_body` for the arguments)."""
        assert self.identity is not None
        body = build_order_body(self.identity, network_id=self.network_id, **kwargs)
        return dict(self.private("POST", "/v3/orders", body=body)["order"])

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        """Cancel an order."""
        return dict(self.private("DELETE", f"/v3/orders/{order_id}")["cancelOrder"])

    def deposit_testnet(self, amount: str | None = None) -> dict[str, Any]:
        """Credit test collateral."""
        body = {"amount": amount} if amount is not None else {}
        return dict(self.private("POST", "/v3/testnet/tokens", body=body)["transfer"])

    def withdraw(self, amount: str, client_id: str, expiration_s: int) -> dict[str, Any]:
        """Sign and submit a withdrawal."""
        body = self._sign_withdrawal(amount, client_id, expiration_s)
        return dict(self.private("POST", "/v3/withdrawals", body=body)["withdrawal"])

    def get_account(self) -> dict[str, Any]:
        """Return the caller's account."""
        return dict(self.private("GET", "/v3/accounts")["accounts"][0])

    def get_registration(self) -> bytes:
        """Return the operator's signature registering the caller's STARK key on L1."""
        return bytes.fromhex(self.private("GET", "/v3/registration")["signature"][2:])


class AsyncStarkPerpClient(_Base):
    """Asynchronous client."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        identity: Identity | None = None,
        network_id: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        limits: httpx.Limits | None = None,
    ) -> None:
        super().__init__(identity, network_id)
        self.http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            limits=limits or httpx.Limits(max_connections=100),
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def public(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a public route."""
        return self._result(await self.http.get(self._query(path, params)))

    async def private(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """Call a private route with dYdX HMAC headers."""
        full = self._query(path, params)
        headers = self._private_headers(method, full, body)
        content = json.dumps(body) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        response = await self.http.request(method, full, headers=headers, content=content)
        return self._result(response)

    async def onboard(self) -> dict[str, Any]:
        """Create the user's account; remember its position id."""
        headers, body = self._onboarding_request()
        out = self._result(await self.http.post("/v3/onboarding", json=body, headers=headers))
        assert self.identity is not None
        self.identity = self.identity.with_position(int(out["account"]["positionId"]))
        return dict(out)

    async def place_order(self, **kwargs: Any) -> dict[str, Any]:
        """Sign and place an order (see :func:`build_order_body` for the arguments)."""
        assert self.identity is not None
        body = build_order_body(self.identity, network_id=self.network_id, **kwargs)
        return dict((await self.private("POST", "/v3/orders", body=body))["order"])

    async def post_order_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """Place a pre-signed order body."""
        return dict((await self.private("POST", "/v3/orders", body=body))["order"])

    async def cancel_order(self, order_id: str) -> dict[str, Any]:
        """Cancel an order."""
        return dict((await self.private("DELETE", f"/v3/orders/{order_id}"))["cancelOrder"])

    async def deposit_testnet(self, amount: str | None = None) -> dict[str, Any]:
        """Credit test collateral."""
        body = {"amount": amount} if amount is not None else {}
        return dict((await self.private("POST", "/v3/testnet/tokens", body=body))["transfer"])

    async def withdraw(self, amount: str, client_id: str, expiration_s: int) -> dict[str, Any]:
        """Sign and submit a withdrawal."""
        body = self._sign_withdrawal(amount, client_id, expiration_s)
        return dict((await self.private("POST", "/v3/withdrawals", body=body))["withdrawal"])

    async def get_account(self) -> dict[str, Any]:
        """Return the caller's account."""
        return dict((await self.private("GET", "/v3/accounts"))["accounts"][0])

    async def get_registration(self) -> bytes:
        """Return the operator's signature registering the caller's STARK key on L1."""
        return bytes.fromhex((await self.private("GET", "/v3/registration"))["signature"][2:])
