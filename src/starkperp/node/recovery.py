"""Rebuilding a node's state from its durable log.

The log holds, per committed command, the exchange events it produced and any node-level data
(onboarded accounts with their API keys, used withdrawal client ids). Applying the events in
sequence order to a fresh :class:`~starkperp.exchange.engine.Exchange` reproduces the engine's
state bit for bit (compare :meth:`Exchange.compute_state_digest`); the node data rebuilds the
registry. Read models need no rebuild: they were committed in the same transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starkperp.exchange.config import ExchangeConfig
from starkperp.exchange.engine import Exchange
from starkperp.node.codec import decode_event
from starkperp.node.errors import NodeError, NodeReason
from starkperp.node.log import LogRecord, LogStore

__all__ = [
    "AccountRecord",
    "ApiCredentials",
    "Registry",
    "apply_record",
    "get_account_node_data",
    "replay_log",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiCredentials:
    """An API key as dYdX issues it: key id, url-safe base64 secret and passphrase."""

    key: str
    secret: str
    passphrase: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRecord:
    """An onboarded user: Ethereum address, STARK key, position id and API credentials."""

    account_id: int
    uuid: str
    eth_address: str
    stark_key: int
    stark_key_y: int
    created_ms: int
    api_key: str
    api_secret: str
    api_passphrase: str


@dataclass(slots=True)
class Registry:
    """Node-level state beside the engine: who is onboarded, which withdrawals were used."""

    by_account: dict[int, AccountRecord] = field(default_factory=dict)
    by_address: dict[str, AccountRecord] = field(default_factory=dict)
    by_api_key: dict[str, AccountRecord] = field(default_factory=dict)
    used_withdrawal_ids: set[tuple[int, str]] = field(default_factory=set)

    def add_account(self, record: AccountRecord) -> None:
        """Register an onboarded account under all its keys."""
        self.by_account[record.account_id] = record
        self.by_address[record.eth_address.lower()] = record
        self.by_api_key[record.api_key] = record

    def apply_node_data(self, data: dict[str, Any]) -> None:
        """Apply the node-level part of one log record."""
        account = data.get("account")
        if account is not None:
            self.add_account(
                AccountRecord(
                    account_id=int(account["account_id"]),
                    uuid=str(account["uuid"]),
                    eth_address=str(account["eth_address"]),
                    stark_key=int(account["stark_key"]),
                    stark_key_y=int(account["stark_key_y"]),
                    created_ms=int(account["created_ms"]),
                    api_key=str(account["api_key"]),
                    api_secret=str(account["api_secret"]),
                    api_passphrase=str(account["api_passphrase"]),
                )
            )
        withdrawal = data.get("withdrawal_id")
        if withdrawal is not None:
            self.used_withdrawal_ids.add((int(withdrawal[0]), str(withdrawal[1])))


def get_account_node_data(record: AccountRecord) -> dict[str, Any]:
    """Return the JSON form of an account record for the log."""
    return {
        "account_id": str(record.account_id),
        "uuid": record.uuid,
        "eth_address": record.eth_address,
        "stark_key": str(record.stark_key),
        "stark_key_y": str(record.stark_key_y),
        "created_ms": str(record.created_ms),
        "api_key": record.api_key,
        "api_secret": record.api_secret,
        "api_passphrase": record.api_passphrase,
    }


def apply_record(exchange: Exchange, registry: Registry, record: LogRecord) -> None:
    """Apply one committed log record to an exchange and a registry."""
    try:
        events = [decode_event(e) for e in record.payload.get("events", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise NodeError(NodeReason.LOG_CORRUPT, f"record {record.seq}: {exc}") from exc
    for event in events:
        exchange.apply_event(event)
    node = record.payload.get("node")
    if node:
        registry.apply_node_data(node)


def replay_log(
    store: LogStore,
    config: ExchangeConfig,
    *,
    require_signatures: bool = True,
    clock: Callable[[], int] | None = None,
) -> tuple[Exchange, Registry, int]:
    """Replay the whole log into a fresh exchange; return it, the registry and the last seq."""
    exchange = Exchange(config, clock=clock, require_signatures=require_signatures)
    registry = Registry()
    last = 0
    for record in store.read_from(1):
        if record.seq != last + 1:
            raise NodeError(NodeReason.LOG_CORRUPT, f"gap in log: {last} -> {record.seq}")
        apply_record(exchange, registry, record)
        last = record.seq
    exchange.take_events()
    return exchange, registry, last
