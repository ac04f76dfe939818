"""Request authentication exactly as dYdX v3 does it.

A private request carries four headers: ``DYDX-API-KEY`` (the key id), ``DYDX-PASSPHRASE``,
``DYDX-TIMESTAMP`` (ISO 8601) and ``DYDX-SIGNATURE``: the url-safe base64 of
HMAC-SHA256, keyed with the url-safe-base64-decoded API secret, over
``timestamp + METHOD + request_path + body`` where ``request_path`` includes the query string
and ``body`` is the compact JSON re-serialisation of the parsed request body (empty when the
body is absent or an empty object) — what dydx3's ``Private.sign`` computes on the client side.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from starkperp.api.ratelimit import RateDecision, RateLimiter
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.recovery import AccountRecord, ApiCredentials
from starkperp.node.views import format_iso_ms, parse_iso_ms

if TYPE_CHECKING:
    from starkperp.node.service import Node

__all__ = [
    "ApiCredentials",
    "compute_request_signature",
    "compute_signed_body",
    "format_iso_ms",
    "parse_iso_ms",
    "validate_private_request",
    "validate_request_signature",
]


def compute_signed_body(body: Any) -> str:
    """Return the body part of the signed message: compact JSON, or '' for none / ``{}``."""
    if not body:
        return ""
    return json.dumps(body, separators=(",", ":"))


def compute_request_signature(
    *, secret: str, iso_timestamp: str, method: str, request_path: str, body: Any
) -> str:
    """Return ``DYDX-SIGNATURE`` for a request, as dydx3's ``Private.sign``."""
    message = iso_timestamp + method.upper() + request_path + compute_signed_body(body)
    digest = hmac.digest(_hmac_key(secret), message.encode("utf-8"), "sha256")
    return base64.urlsafe_b64encode(digest).decode()


@lru_cache(maxsize=4096)
def _hmac_key(secret: str) -> bytes:
    # Decoded once per API secret: every private request of a trader uses the same key.
    return base64.urlsafe_b64decode(secret.encode("utf-8"))


def validate_request_signature(
    *,
    credentials: ApiCredentials,
    passphrase: str,
    signature: str,
    iso_timestamp: str,
    method: str,
    request_path: str,
    body: Any,
    now_ms: int,
    max_skew_ms: int,
) -> None:
    """Raise :class:`NodeError` unless the headers authenticate this exact request."""
    if not hmac.compare_digest(passphrase.encode(), credentials.passphrase.encode()):
        raise NodeError(NodeReason.BAD_PASSPHRASE, "passphrase does not match", status=401)
    ts_ms = parse_iso_ms(iso_timestamp)
    if abs(now_ms - ts_ms) > max_skew_ms:
        raise NodeError(NodeReason.STALE_TIMESTAMP, "DYDX-TIMESTAMP too far from now", status=401)
    try:
        expected = compute_request_signature(
            secret=credentials.secret,
            iso_timestamp=iso_timestamp,
            method=method,
            request_path=request_path,
            body=body,
        )
    except (binascii.Error, ValueError) as exc:
        raise NodeError(NodeReason.BAD_HMAC, "unusable API secret", status=401) from exc
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise NodeError(NodeReason.BAD_HMAC, "DYDX-SIGNATURE does not match", status=401)


def validate_private_request(
    node: Node,
    limiter: RateLimiter,
    *,
    header: Callable[[str], str | None],
    method: str,
    request_path: str,
    raw_body: bytes,
    parsed_body: dict[str, Any] | None = None,
) -> tuple[AccountRecord, Any, RateDecision]:
    """Authenticate a private request; return its account, parsed body and rate decision.

    ``header`` looks up a lower-case header name; ``request_path`` includes the query
    string; ``parsed_body`` is the JSON object ``raw_body`` holds, if the caller parsed it. The
    checks run in a fixed order (headers present, API key known, body is JSON, passphrase,
    timestamp, HMAC) so that both ways into the API refuse alike. The caller reports the
    account's rate decision in the answer's headers and refuses when it is not allowed.
    """
    key = header("dydx-api-key")
    signature = header("dydx-signature")
    timestamp = header("dydx-timestamp")
    passphrase = header("dydx-passphrase")
    if not key or not signature or not timestamp or not passphrase:
        raise NodeError(NodeReason.MISSING_AUTH_HEADERS, "missing DYDX-* headers", status=401)
    creds, record = node.get_credentials(key)
    body: Any = parsed_body
    if parsed_body is None:
        if raw_body.strip():
            try:
                body = json.loads(raw_body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise NodeError(NodeReason.MALFORMED_REQUEST, "body is not JSON") from exc
    validate_request_signature(
        credentials=creds,
        passphrase=passphrase,
        signature=signature,
        iso_timestamp=timestamp,
        method=method,
        request_path=request_path,
        body=body,
        now_ms=node.clock_ms(),
        max_skew_ms=node.config.max_timestamp_skew_ms,
    )
    return record, body, limiter.check(f"acct:{record.account_id}")
