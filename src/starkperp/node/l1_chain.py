"""A durable embedded L1: titanoboa's py-evm chain, journaled to SQLite and replayed on start.

The embedded chain is a Python object in the node's process; by itself it dies with the
process. :class:`DurableChain` makes it outlive restarts the way a real chain does: every
state-changing operation on its :class:`boa.Env` (contract deployments, successful
state-changing calls, balance settings, time travel) is appended, once it has executed, to a
``journal`` table in SQLite (WAL, ``synchronous=FULL``), with the block timestamp and number it
ran at. On start, :meth:`DurableChain.replay` re-executes the journal in order on a fresh
chain, which reproduces every account, contract and storage slot exactly (execution is
deterministic); contract handles are then re-attached at their recorded addresses
(:meth:`DurableChain.load_deployment`).

An operation that executed but was not yet journaled when the process was killed is, after
the restart, an operation the chain never saw: exactly like a transaction that was sent but
not mined. The journal is the chain.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import boa

from starkperp.l1.client import L1Client, L1Deployment, get_deployment_record

__all__ = ["DurableChain"]


def _hex(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value)


def _bytes(text: str | None) -> bytes:
    return b"" if not text else bytes.fromhex(text.removeprefix("0x"))


class DurableChain:
    """An embedded chain whose state-changing operations are journaled and replayed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.env = boa.Env()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, op TEXT NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._replaying = False
        self.n_replayed = 0
        self._hook()

    # ------------------------------------------------------------ journaling

    def _hook(self) -> None:
        env = self.env
        deploy: Callable[..., Any] = env.deploy
        execute_code: Callable[..., Any] = env.execute_code
        set_balance: Callable[..., Any] = env.set_balance
        time_travel: Callable[..., Any] = env.time_travel

        def journaled_deploy(*args: Any, **kwargs: Any) -> Any:
            assert not args, "titanoboa deploys with keywords"
            sender = env._get_sender(kwargs.get("sender"))
            address, computation = deploy(**kwargs)
            self._append(
                {
                    "kind": "deploy",
                    "sender": str(sender),
                    "gas": kwargs.get("gas"),
                    "value": int(kwargs.get("value", 0)),
                    "bytecode": _hex(kwargs.get("bytecode", b"")),
                    "override_address": _hex(kwargs.get("override_address")),
                }
            )
            return address, computation

        def journaled_execute_code(*args: Any, **kwargs: Any) -> Any:
            assert not args, "titanoboa calls execute_code with keywords"
            sender = env._get_sender(kwargs.get("sender"))
            computation = execute_code(**kwargs)
            modifying = kwargs.get("is_modifying", True) and not kwargs.get("simulate", False)
            if modifying and not computation.is_error:
                if kwargs.get("override_bytecode") is not None:
                    raise ValueError("a durable chain cannot journal overridden bytecode")
                self._append(
                    {
                        "kind": "call",
                        "to": str(kwargs.get("to_address")),
                        "sender": str(sender),
                        "gas": kwargs.get("gas"),
                        "value": int(kwargs.get("value", 0)),
                        "data": _hex(kwargs.get("data", b"")),
                    }
                )
            return computation

        def journaled_set_balance(addr: Any, value: int) -> None:
            set_balance(addr, value)
            self._append({"kind": "balance", "address": str(addr), "value": str(value)})

        def journaled_time_travel(*args: Any, **kwargs: Any) -> None:
            time_travel(*args, **kwargs)
            self._append({"kind": "time"})

        env.deploy = journaled_deploy  # type: ignore[method-assign]
        env.execute_code = journaled_execute_code  # type: ignore[method-assign]
        env.set_balance = journaled_set_balance  # type: ignore[method-assign]
        env.time_travel = journaled_time_travel  # type: ignore[method-assign]

    def _append(self, op: dict[str, Any]) -> None:
        if self._replaying:
            return
        op["timestamp"] = int(self.env.evm.patch.timestamp)
        op["block"] = int(self.env.evm.patch.block_number)
        with self._lock:
            self._db.execute("INSERT INTO journal (op) VALUES (?)", (json.dumps(op),))

    @property
    def n_journaled(self) -> int:
        """Return the number of operations in the journal."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])

    # ------------------------------------------------------------ replay

    def replay(self) -> int:
        """Re-execute the journal on this (fresh) chain; return the operations replayed."""
        with self._lock:
            rows = self._db.execute("SELECT op FROM journal ORDER BY seq").fetchall()
        env = self.env
        self._replaying = True
        try:
            for (text,) in rows:
                op = json.loads(text)
                env.evm.patch.timestamp = int(op["timestamp"])
                env.evm.patch.block_number = int(op["block"])
                kind = op["kind"]
                if kind == "deploy":
                    env.deploy(
                        sender=op["sender"],
                        gas=op["gas"],
                        value=op["value"],
                        bytecode=_bytes(op["bytecode"]),
                        override_address=op["override_address"],
                    )
                elif kind == "call":
                    env.execute_code(
                        to_address=op["to"],
                        sender=op["sender"],
                        gas=op["gas"],
                        value=op["value"],
                        data=_bytes(op["data"]),
                    )
                elif kind == "balance":
                    env.set_balance(op["address"], int(op["value"]))
        finally:
            self._replaying = False
        self.n_replayed = len(rows)
        return len(rows)

    # ------------------------------------------------------------ deployment record

    def get_meta(self, key: str) -> str | None:
        """Return a value stored beside the journal (deployment, operator), or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Durably store a value beside the journal."""
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def save_deployment(self, deployment: L1Deployment) -> None:
        """Record the addresses and configuration of a deployment on this chain."""
        if deployment.committee is not None:
            raise ValueError("a durable chain records rollup-mode deployments only")
        self.set_meta("deployment", json.dumps(get_deployment_record(deployment)))

    def load_deployment(self, client: L1Client) -> bool:
        """Attach ``client`` to the recorded deployment (after :meth:`replay`); False if none."""
        text = self.get_meta("deployment")
        if text is None:
            return False
        client.attach(json.loads(text))
        return True

    def close(self) -> None:
        """Close the journal."""
        with self._lock:
            self._db.close()
