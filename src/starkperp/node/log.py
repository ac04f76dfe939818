"""The durable transaction log and the read models beside it.

The log is an append-only table of sequenced commands: every command the sequencer accepted
(onboarding, orders, cancels, deposits, withdrawals, transfers, oracle and funding ticks) with a
strictly increasing sequence number, the node time it was sequenced at, and a JSON payload.
Replaying the log through a fresh engine reproduces the node's state, so the log is the source
of truth; a request is acknowledged only after the transaction holding its record committed.

The read models (orders, fills, positions, transfers, funding payments, accounts, API keys) are
derived tables written in the *same* transaction as the log records that produced them, so they
are never ahead of or behind the log.

The ``batches`` table records the rollup batches the node closed and what became of them
(closed, proven, submitted, settled or rejected; see :mod:`starkperp.node.settlement`): one
JSON document per batch number, each change its own durable transaction, like the log.

Two implementations share one interface, :class:`LogStore`: SQLite in WAL mode with
``synchronous=FULL`` (the embedded default) and PostgreSQL through psycopg 3 (when outgrown).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starkperp.node.errors import NodeError, NodeReason

__all__ = [
    "READ_MODELS",
    "LogEntry",
    "LogRecord",
    "LogStore",
    "PostgresLogStore",
    "RowWrite",
    "SqliteLogStore",
    "open_log_store",
]

READ_MODELS = ("accounts", "api_keys", "orders", "fills", "positions", "transfers", "funding")


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """A command about to be appended: its kind, node time in ms and JSON-able payload."""

    kind: str
    timestamp_ms: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class LogRecord:
    """A committed command with its sequence number."""

    seq: int
    kind: str
    timestamp_ms: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class RowWrite:
    """An upsert into one read model table; ``data`` is the row's JSON document."""

    table: str
    id: str
    account_id: str = ""
    market: str = ""
    key2: str = ""
    status: str = ""
    created_at_ms: int = 0
    data: dict[str, Any] = field(default_factory=dict)


class LogStore(Protocol):
    """What the sequencer and the API need from storage."""

    def commit(self, entries: Sequence[LogEntry], writes: Sequence[RowWrite]) -> list[int]:
        """Append entries and apply writes in one durable transaction; return the new seqs."""
        ...

    def read_from(self, seq: int) -> Iterator[LogRecord]:
        """Yield committed records with sequence number >= seq, in order."""
        ...

    def last_seq(self) -> int:
        """Return the highest committed sequence number, 0 when empty."""
        ...

    def get_row(self, table: str, row_id: str) -> dict[str, Any] | None:
        """Return one read model row's document, or None."""
        ...

    def query_rows(
        self,
        table: str,
        *,
        account_id: str | None = None,
        market: str | None = None,
        key2: str | None = None,
        statuses: Sequence[str] | None = None,
        created_before_ms: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Return documents of a read model, newest first, filtered by the given columns."""
        ...

    def get_meta(self, key: str) -> str | None:
        """Return a node metadata value (e.g. the last batch submitted to L1)."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Durably set a node metadata value."""
        ...

    def save_batch(self, batch_number: int, data: dict[str, Any]) -> None:
        """Durably insert or replace the record of one rollup batch."""
        ...

    def load_batches(self) -> list[dict[str, Any]]:
        """Return every batch record, in batch-number order."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _check_table(table: str) -> None:
    if table not in READ_MODELS:
        raise NodeError(NodeReason.MALFORMED_REQUEST, f"unknown read model {table!r}")


class _SqlStore:
    """SQL shared by both back-ends; subclasses supply connections and the placeholder."""

    placeholder = "?"
    autoincrement = "INTEGER PRIMARY KEY"

    def _schema(self) -> list[str]:
        ddl = [
            f"CREATE TABLE IF NOT EXISTS log (seq {self.autoincrement}, kind TEXT NOT NULL, "
            "ts_ms BIGINT NOT NULL, payload TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS batches (batch_number BIGINT PRIMARY KEY, "
            "data TEXT NOT NULL)",
        ]
        for table in READ_MODELS:
            ddl.append(
                f"CREATE TABLE IF NOT EXISTS rm_{table} (id TEXT PRIMARY KEY, "
                "account_id TEXT NOT NULL, market TEXT NOT NULL, key2 TEXT NOT NULL, "
                "status TEXT NOT NULL, created_at_ms BIGINT NOT NULL, data TEXT NOT NULL)"
            )
            ddl.append(
                f"CREATE INDEX IF NOT EXISTS rm_{table}_acct ON rm_{table} "
                "(account_id, created_at_ms)"
            )
            ddl.append(f"CREATE INDEX IF NOT EXISTS rm_{table}_key2 ON rm_{table} (key2)")
            ddl.append(
                f"CREATE INDEX IF NOT EXISTS rm_{table}_mkt ON rm_{table} (market, created_at_ms)"
            )
        return ddl

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def _upsert_sql(self, table: str) -> str:
        return self._sql(
            f"INSERT INTO rm_{table} (id, account_id, market, key2, status, created_at_ms, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "account_id = excluded.account_id, market = excluded.market, key2 = excluded.key2, "
            "status = excluded.status, data = excluded.data"
        )

    def _query_sql(
        self,
        table: str,
        account_id: str | None,
        market: str | None,
        key2: str | None,
        statuses: Sequence[str] | None,
        created_before_ms: int | None,
        limit: int,
    ) -> tuple[str, list[Any]]:
        _check_table(table)
        clauses: list[str] = []
        params: list[Any] = []
        if account_id is not None:
            clauses.append("account_id = ?")
            params.append(account_id)
        if market is not None:
            clauses.append("market = ?")
            params.append(market)
        if key2 is not None:
            clauses.append("key2 = ?")
            params.append(key2)
        if statuses:
            clauses.append("status IN (" + ", ".join("?" for _ in statuses) + ")")
            params.extend(statuses)
        if created_before_ms is not None:
            clauses.append("created_at_ms <= ?")
            params.append(created_before_ms)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"SELECT data FROM rm_{table}{where} ORDER BY created_at_ms DESC, id DESC LIMIT ?"
        params.append(max(0, min(limit, 10_000)))
        return self._sql(sql), params

    @staticmethod
    def _write_params(write: RowWrite) -> tuple[Any, ...]:
        return (
            write.id,
            write.account_id,
            write.market,
            write.key2,
            write.status,
            write.created_at_ms,
            json.dumps(write.data, separators=(",", ":"), sort_keys=True),
        )

    # Reads are the same on both back-ends; subclasses supply ``_reader`` and ``_rlock``.
    _reader: Any
    _rlock: threading.Lock

    def last_seq(self) -> int:
        """Return the highest committed sequence number, 0 when empty."""
        with self._rlock:
            row = self._reader.execute("SELECT COALESCE(MAX(seq), 0) FROM log").fetchone()
        return int(row[0])

    def get_row(self, table: str, row_id: str) -> dict[str, Any] | None:
        """Return one read model row's document, or None."""
        _check_table(table)
        with self._rlock:
            row = self._reader.execute(
                self._sql(f"SELECT data FROM rm_{table} WHERE id = ?"), (row_id,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def query_rows(
        self,
        table: str,
        *,
        account_id: str | None = None,
        market: str | None = None,
        key2: str | None = None,
        statuses: Sequence[str] | None = None,
        created_before_ms: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Return documents of a read model, newest first, filtered by the given columns."""
        sql, params = self._query_sql(
            table, account_id, market, key2, statuses, created_before_ms, limit
        )
        with self._rlock:
            rows = self._reader.execute(sql, params).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def get_meta(self, key: str) -> str | None:
        """Return a node metadata value."""
        with self._rlock:
            row = self._reader.execute(
                self._sql("SELECT value FROM meta WHERE key = ?"), (key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def load_batches(self) -> list[dict[str, Any]]:
        """Return every batch record, in batch-number order."""
        with self._rlock:
            rows = self._reader.execute("SELECT data FROM batches ORDER BY batch_number").fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def _batch_params(self, batch_number: int, data: dict[str, Any]) -> tuple[int, str]:
        if batch_number < 0:
            raise NodeError(NodeReason.MALFORMED_REQUEST, "negative batch number")
        return batch_number, json.dumps(data, separators=(",", ":"), sort_keys=True)

    _batch_upsert = (
        "INSERT INTO batches (batch_number, data) VALUES (?, ?) "
        "ON CONFLICT (batch_number) DO UPDATE SET data = excluded.data"
    )


class SqliteLogStore(_SqlStore):
    """The log in one SQLite file, WAL mode, ``synchronous=FULL``: a commit survives SIGKILL
    and power loss once ``commit`` returned."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._writer = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA synchronous=FULL")
        self._writer.execute("PRAGMA foreign_keys=OFF")
        for stmt in self._schema():
            self._writer.execute(stmt)
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._reader.execute("PRAGMA query_only=ON")

    def commit(self, entries: Sequence[LogEntry], writes: Sequence[RowWrite]) -> list[int]:
        """Append entries and apply writes in one durable transaction; return the new seqs."""
        with self._wlock:
            cur = self._writer.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                seqs: list[int] = []
                for entry in entries:
                    cur.execute(
                        "INSERT INTO log (kind, ts_ms, payload) VALUES (?, ?, ?)",
                        (
                            entry.kind,
                            entry.timestamp_ms,
                            json.dumps(entry.payload, separators=(",", ":"), sort_keys=True),
                        ),
                    )
                    assert cur.lastrowid is not None
                    seqs.append(int(cur.lastrowid))
                for write in writes:
                    _check_table(write.table)
                    cur.execute(self._upsert_sql(write.table), self._write_params(write))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            return seqs

    def read_from(self, seq: int) -> Iterator[LogRecord]:
        """Yield committed records with sequence number >= seq, in order."""
        conn = sqlite3.connect(self.path)
        try:
            cursor = conn.execute(
                "SELECT seq, kind, ts_ms, payload FROM log WHERE seq >= ? ORDER BY seq", (seq,)
            )
            for row in cursor:
                yield LogRecord(
                    seq=int(row[0]),
                    kind=str(row[1]),
                    timestamp_ms=int(row[2]),
                    payload=json.loads(row[3]),
                )
        finally:
            conn.close()

    def set_meta(self, key: str, value: str) -> None:
        """Durably set a node metadata value."""
        with self._wlock:
            self._writer.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def save_batch(self, batch_number: int, data: dict[str, Any]) -> None:
        """Durably insert or replace the record of one rollup batch."""
        params = self._batch_params(batch_number, data)
        with self._wlock:
            self._writer.execute(self._batch_upsert, params)

    def close(self) -> None:
        """Release connections."""
        with self._wlock, self._rlock:
            self._reader.close()
            self._writer.close()


class PostgresLogStore(_SqlStore):
    """The log in PostgreSQL through psycopg 3; commits are durable at the server's
    ``synchronous_commit`` (on by default)."""

    placeholder = "%s"
    autoincrement = "BIGSERIAL PRIMARY KEY"

    def __init__(self, dsn: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self.dsn = dsn
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._writer = psycopg.connect(dsn)
        with self._writer.transaction():
            for stmt in self._schema():
                self._writer.execute(stmt)
        self._reader = psycopg.connect(dsn, autocommit=True)

    def commit(self, entries: Sequence[LogEntry], writes: Sequence[RowWrite]) -> list[int]:
        """Append entries and apply writes in one durable transaction; return the new seqs."""
        with self._wlock, self._writer.transaction(), self._writer.cursor() as cur:
            seqs: list[int] = []
            for entry in entries:
                cur.execute(
                    "INSERT INTO log (kind, ts_ms, payload) VALUES (%s, %s, %s) RETURNING seq",
                    (
                        entry.kind,
                        entry.timestamp_ms,
                        json.dumps(entry.payload, separators=(",", ":"), sort_keys=True),
                    ),
                )
                row = cur.fetchone()
                assert row is not None
                seqs.append(int(row[0]))
            for write in writes:
                _check_table(write.table)
                cur.execute(self._upsert_sql(write.table), self._write_params(write))
        return seqs

    def read_from(self, seq: int) -> Iterator[LogRecord]:
        """Yield committed records with sequence number >= seq, in order."""
        with self._psycopg.connect(self.dsn) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT seq, kind, ts_ms, payload FROM log WHERE seq >= %s ORDER BY seq", (seq,)
            )
            for row in cur:
                yield LogRecord(
                    seq=int(row[0]),
                    kind=str(row[1]),
                    timestamp_ms=int(row[2]),
                    payload=json.loads(row[3]),
                )

    def set_meta(self, key: str, value: str) -> None:
        """Durably set a node metadata value."""
        with self._wlock, self._writer.transaction():
            self._writer.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def save_batch(self, batch_number: int, data: dict[str, Any]) -> None:
        """Durably insert or replace the record of one rollup batch."""
        params = self._batch_params(batch_number, data)
        with self._wlock, self._writer.transaction():
            self._writer.execute(self._sql(self._batch_upsert), params)

    def close(self) -> None:
        """Release connections."""
        with self._wlock, self._rlock:
            self._reader.close()
            self._writer.close()


def open_log_store(url: str) -> LogStore:
    """Open a store from a URL: ``postgresql://...`` for PostgreSQL, else a SQLite path."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresLogStore(url)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    return SqliteLogStore(url)
