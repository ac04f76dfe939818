#!/usr/bin/env bash
# Install (from Debian's packages) and start a throwaway PostgreSQL server on loopback for the
# node's PostgreSQL log tests, then print the DSN. Use it as:
#   eval "$(bash tools/ci_postgres.sh)"   # exports STARKPERP_TEST_PG_DSN
set -euo pipefail
PGPORT="${PGPORT:-55432}"
PGDATA="${PGDATA_DIR:-/tmp/starkperp-pg}"
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
PGBIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")"
if ! id postgres >/dev/null 2>&1; then
    useradd --system --home /var/lib/postgresql --shell /bin/bash postgres >&2
fi
if [ ! -f "$PGDATA/PG_VERSION" ]; then
    rm -rf "$PGDATA"
    mkdir -p "$PGDATA"
    chown postgres "$PGDATA"
    su postgres -c "$PGBIN/initdb -D $PGDATA -A trust -U postgres" >&2
fi
if ! su postgres -c "$PGBIN/pg_ctl -D $PGDATA status" >/dev/null 2>&1; then
    su postgres -c "$PGBIN/pg_ctl -D $PGDATA -l $PGDATA/server.log -w \
        -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1' start" >&2
fi
su postgres -c "$PGBIN/psql -h 127.0.0.1 -p $PGPORT -U postgres -tAc \
    \"SELECT 1 FROM pg_database WHERE datname='starkperp_test'\"" | grep -q 1 \
    || su postgres -c "$PGBIN/createdb -h 127.0.0.1 -p $PGPORT -U postgres starkperp_test" >&2
echo "export STARKPERP_TEST_PG_DSN=postgresql://postgres@127.0.0.1:$PGPORT/starkperp_test"
