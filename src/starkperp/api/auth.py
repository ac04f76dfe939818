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
import hashlib
import hmac
import json
from typing import Any

from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.recovery import ApiCredentials
from starkperp.node.views import format_iso_ms, parse_iso_ms

__all__ = [
    "ApiCredentials",
    "compute_request_signature",
    "compute_signed_body",
    "format_iso_ms",
    "parse_iso_ms",
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
    digest = hmac.new(
        base64.urlsafe_b64decode(secret.encode("utf-8")),
        msg=message.encode("utf-8"),
        digestmod=hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(digest).decode()


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
