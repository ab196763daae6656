#!/bin/sh
# The streaming replica: a base backup of the primary on first start (pg_basebackup -R writes the standby
# settings), then PostgreSQL as a hot standby. Runs as the postgres user.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h primary -U postgres -q; do sleep 1; done
  rm -rf "${PGDATA:?}"/*
  until PGPASSWORD="$POSTGRES_PASSWORD" pg_basebackup -h primary -U postgres -D "$PGDATA" -R -X stream -c fast; do
    echo "replica: waiting for the primary"; sleep 2
  done
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on
