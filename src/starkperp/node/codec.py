"""The JSON form of exchange events as they are written to the durable log.

A generic, lossless codec for the exchange's frozen dataclasses: a dataclass becomes an object
with a ``"type"`` tag and its fields; enums are written by value; integers of any size are
written as decimal strings (JSON numbers lose precision past 2^53 in many readers); tuples
become lists. Decoding reads the dataclass's type hints, so the codec follows the event
definitions without a hand-written schema.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from starkperp.exchange import events as ex_events
from starkperp.exchange import model as ex_model

__all__ = ["decode_event", "decode_value", "encode_event", "encode_value"]


def _registry() -> dict[str, type]:
    found: dict[str, type] = {}
    for module in (ex_events, ex_model):
        for name in dir(module):
            obj = getattr(module, name)
            if isinstance(obj, type) and dataclasses.is_dataclass(obj):
                found[obj.__name__] = obj
    return found


_TYPES = _registry()


def encode_value(value: Any) -> Any:
    """Turn an event, dataclass, enum, int or tuple into JSON-able data."""
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        encoder = _encoder_for(type(value))
    return encoder(value)


def _encode_reference(value: Any) -> Any:
    """The readable definition of the encoding; :func:`encode_value` is its per-type cache."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int):
        return str(value)
    names = _field_names(type(value))
    if names is not None:
        out: dict[str, Any] = {"type": type(value).__name__}
        for name in names:
            out[name] = encode_value(getattr(value, name))
        return out
    if isinstance(value, tuple | list):
        return [encode_value(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__}")


def _identity(value: Any) -> Any:
    return value


def _encoder_for(cls: type) -> Callable[[Any], Any]:
    """Return (and remember) the encoder of one concrete type, as :func:`_encode_reference`.

    Events are encoded on the sequencer's hot path; dispatching on the exact type once per
    class, with the dataclass field names bound in a closure, skips the ``isinstance``
    chain for every field of every event.
    """
    encoder: Callable[[Any], Any]
    if cls is type(None) or issubclass(cls, str) or issubclass(cls, bool):
        encoder = _identity
    elif issubclass(cls, enum.Enum):
        encoder = _enum_value
    elif issubclass(cls, int):
        encoder = str
    elif (names := _field_names(cls)) is not None:
        encoder = _dataclass_encoder(cls.__name__, names)
    elif issubclass(cls, tuple | list):
        encoder = _encode_sequence
    else:
        return _encode_reference  # raises TypeError, as the reference does
    if len(_ENCODERS) < 1024:
        _ENCODERS[cls] = encoder
    return encoder


def _enum_value(value: Any) -> Any:
    return value.value


def _encode_sequence(value: Any) -> list[Any]:
    return [encode_value(v) for v in value]


def _dataclass_encoder(type_name: str, names: tuple[str, ...]) -> Callable[[Any], Any]:
    def encode(value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": type_name}
        for name in names:
            field_value = getattr(value, name)
            encoder = _ENCODERS.get(type(field_value))
            if encoder is None:
                encoder = _encoder_for(type(field_value))
            out[name] = encoder(field_value)
        return out

    return encode


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    type(None): _identity,
    str: _identity,
    bool: _identity,
    int: str,
}


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    names = _FIELD_NAMES.get(cls, ())
    if names == ():
        names = (
            tuple(f.name for f in dataclasses.fields(cls))
            if dataclasses.is_dataclass(cls)
            else None
        )
        _FIELD_NAMES[cls] = names
    return names


def encode_event(event: Any) -> dict[str, Any]:
    """Encode one exchange event."""
    encoded = encode_value(event)
    assert isinstance(encoded, dict)
    return encoded


@cache
def _hints(cls: type) -> dict[str, Any]:
    module = __import__(cls.__module__, fromlist=["_"])
    return typing.get_type_hints(cls, globalns=vars(module))


def _base_type(tp: Any) -> Any:
    while hasattr(tp, "__supertype__"):
        tp = tp.__supertype__
    return tp


def decode_value(data: Any, tp: Any) -> Any:
    """Decode ``data`` as the (possibly generic or NewType) type ``tp``."""
    tp = _base_type(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None:
            return None
        non_none = [a for a in args if a is not type(None)]
        if isinstance(data, dict) and "type" in data:
            return decode_value(data, _TYPES[data["type"]])
        return decode_value(data, non_none[0])
    if origin is tuple:
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        return tuple(decode_value(v, inner) for v in data)
    if tp is Any:
        if isinstance(data, dict) and "type" in data:
            return decode_value(data, _TYPES[data["type"]])
        return data
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp is bool:
        return bool(data)
    if tp is int:
        return int(data)
    if tp is str:
        return str(data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        kwargs = {
            f.name: decode_value(data[f.name], hints[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data
        }
        return tp(**kwargs)
    raise TypeError(f"cannot decode into {tp!r}")


def decode_event(data: dict[str, Any]) -> Any:
    """Decode one exchange event written by :func:`encode_event`."""
    cls = _TYPES.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    return decode_value(data, cls)
