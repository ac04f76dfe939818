"""Hypothesis strategies for the API: hostile JSON values, bodies and header mutations."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["hostile_values", "mutated_body", "order_fields", "raw_bodies"]

order_fields = (
    "market", "side", "type", "timeInForce", "size", "price", "limitFee", "expiration",
    "postOnly", "reduceOnly", "clientId", "signature", "triggerPrice", "cancelId",
)  # fmt: skip

hostile_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "9" * 39, "1e30", "-1", "0", "0.0000000001", "NaN", "Infinity", "-0", "1e-30",
            "XYZ-USD", "BTC-USD", "SELL", "MARKET", "FOK", "0x" + "f" * 130, "", "a" * 5000,
            "2001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z",
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip


@st.composite
def mutated_body(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with one to three fields dropped, replaced or added."""
    body = dict(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        field = draw(st.sampled_from(order_fields))
        if draw(st.booleans()) and field in body:
            del body[field]
        else:
            body[field] = draw(hostile_values)
    return body


raw_bodies: st.SearchStrategy[bytes] = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from([b"{", b"[]", b"null", b"1", b'"x"', b'{"market": }', b"{}" * 1000]),
)
