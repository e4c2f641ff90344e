#!/bin/sh
# First start on an empty volume: initialise the cluster with the user,
# password and database from BEACON_PG_USER / BEACON_PG_PASSWORD /
# BEACON_PG_DB (the password goes through a file, never argv). Then run
# postgres in the foreground, listening on every interface of the container
# with password (scram-sha-256) authentication for network clients.
set -eu
user="${BEACON_PG_USER:-beacon}"
db="${BEACON_PG_DB:-beacon}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${BEACON_PG_PASSWORD:-}" ]; then
    echo "beacon-postgres: set BEACON_PG_PASSWORD for the first start" >&2
    exit 1
  fi
  pwfile="$(mktemp)"
  printf '%s\n' "$BEACON_PG_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "host all all ::/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  # --single must come first; the last argument is the database to work in
  # (the one initdb made). Single-user mode exits 0 even when a command
  # fails, so its output is checked too. A first start that fails half-way
  # empties the data directory, so the next start initialises again.
  out="$(mktemp)"
  if ! postgres --single -D "$PGDATA" postgres >"$out" 2>&1 <<SQL || grep -q 'ERROR' "$out"
CREATE DATABASE "$db";
SQL
  then
    cat "$out" >&2
    echo "beacon-postgres: could not create database $db; starting afresh next time" >&2
    find "$PGDATA" -mindepth 1 -delete
    exit 1
  fi
  rm -f "$out"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
