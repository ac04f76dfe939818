"""A fresh PostgreSQL schema per test, so parallel test workers never share tables."""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

PG_DSN = os.environ.get("STARKPERP_TEST_PG_DSN")


def fresh_pg_url() -> str:
    """Create an empty schema and return a DSN whose search_path points at it."""
    if not PG_DSN:
        pytest.skip("STARKPERP_TEST_PG_DSN not set")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_DSN else "?"
    return f"{PG_DSN}{sep}options={quote(f'-csearch_path={schema}')}"
