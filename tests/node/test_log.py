"""The durable transaction log: append, read back, read models, both back-ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from starkperp.node.errors import NodeError
from starkperp.node.log import LogEntry, LogStore, RowWrite, SqliteLogStore, open_log_store
from tests.node.pg import fresh_pg_url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    if request.param == "sqlite":
        s: LogStore = SqliteLogStore(str(tmp_path / "log.sqlite"))
    else:
        s = open_log_store(fresh_pg_url())
    yield s
    s.close()


def _entry(i: int) -> LogEntry:
    return LogEntry(kind="deposit", timestamp_ms=1000 + i, payload={"i": i, "amount": str(2**70)})


def test_commit_assigns_increasing_seqs(store: LogStore) -> None:
    assert store.last_seq() == 0
    first = store.commit([_entry(0), _entry(1)], [])
    second = store.commit([_entry(2)], [])
    assert first == [1, 2] and second == [3]
    assert store.last_seq() == 3
    records = list(store.read_from(2))
    assert [r.seq for r in records] == [2, 3]
    assert records[1].payload == {"i": 2, "amount": str(2**70)}
    assert records[1].timestamp_ms == 1002 and records[1].kind == "deposit"


def test_read_models_upsert_and_query(store: LogStore) -> None:
    writes = [
        RowWrite(
            table="orders",
            id=f"o{i}",
            account_id="a" if i % 2 else "b",
            market="BTC-USD",
            key2=f"c{i}",
            status="OPEN",
            created_at_ms=i,
            data={"id": f"o{i}", "n": i},
        )
        for i in range(5)
    ]
    store.commit([_entry(0)], writes)
    assert store.get_row("orders", "o3") == {"id": "o3", "n": 3}
    rows = store.query_rows("orders", account_id="a")
    assert [r["n"] for r in rows] == [3, 1]
    store.commit(
        [],
        [RowWrite(table="orders", id="o3", account_id="a", status="FILLED", data={"id": "o3"})],
    )
    assert store.query_rows("orders", account_id="a", statuses=["OPEN"]) == [{"id": "o1", "n": 1}]
    assert store.query_rows("orders", key2="c4") == [{"id": "o4", "n": 4}]
    assert len(store.query_rows("orders", limit=2)) == 2


def test_meta_roundtrip(store: LogStore) -> None:
    assert store.get_meta("last_batch") is None
    store.set_meta("last_batch", "7")
    store.set_meta("last_batch", "8")
    assert store.get_meta("last_batch") == "8"


def test_invalid_read_model_table(store: LogStore) -> None:
    with pytest.raises(NodeError):
        store.query_rows("users; DROP TABLE log")
    with pytest.raises(NodeError):
        store.commit([_entry(0)], [RowWrite(table="nope", id="x")])
    assert store.last_seq() == 0


def test_sqlite_is_wal_and_full_sync(tmp_path: Path) -> None:
    s = SqliteLogStore(str(tmp_path / "x.sqlite"))
    assert s._writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s._writer.execute("PRAGMA synchronous").fetchone()[0] == 2
    s.commit([_entry(0)], [])
    s.close()
    again = SqliteLogStore(str(tmp_path / "x.sqlite"))
    assert again.last_seq() == 1
    again.close()
