"""How the API answers a refusal: dYdX v3's error body with our numeric reason code.

Every refusal is ``{"errors": [{"msg": ..., "code": <int>}]}`` with a 4xx status. This module
maps each kind of refusal (node errors, exchange errors, request-shape errors from pydantic)
to its status and code, once, for the framework's handlers and the hot path alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse

from starkperp.exchange.errors import ExchangeError, Reason
from starkperp.node.errors import NodeReason

__all__ = [
    "compute_json_bytes",
    "error_body",
    "error_response",
    "get_exchange_error_status",
    "get_validation_error",
]

_STATUS_BY_REASON = {Reason.UNKNOWN_ORDER: 404, Reason.UNKNOWN_ACCOUNT: 404}


def error_body(code: int, msg: str) -> dict[str, Any]:
    """Return dYdX v3's error document for one refusal."""
    return {"errors": [{"msg": msg, "code": code}]}


def error_response(
    status: int, code: int, msg: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Return the framework response for one refusal."""
    return JSONResponse(error_body(code, msg), status_code=status, headers=headers)


def get_exchange_error_status(exc: ExchangeError) -> int:
    """Return the HTTP status of an exchange refusal (404 for unknown orders/accounts)."""
    return _STATUS_BY_REASON.get(exc.reason, 400)


def get_validation_error(errors: Sequence[Any]) -> tuple[NodeReason, str]:
    """Return the reason and message for pydantic's request-shape errors."""
    kinds = {str(e.get("type", "")) for e in errors}
    if "json_invalid" in kinds:
        reason = NodeReason.MALFORMED_REQUEST
    elif "missing" in kinds:
        reason = NodeReason.MISSING_FIELD
    else:
        reason = NodeReason.WRONG_TYPE
    msg = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors[:5]
    )
    return reason, msg


def compute_json_bytes(document: Any) -> bytes:
    """Serialise a response document as the framework's ``JSONResponse`` does."""
    return json.dumps(
        document, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")
