#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for Keywarden's tests and local runs.
#
#   scripts/pg.sh start   # installs postgresql if missing, starts a cluster on a free
#                         # loopback port, prints its URL (postgres://...) on stdout
#   scripts/pg.sh stop    # stops it and removes its directory
#   scripts/pg.sh url     # prints the URL of the running cluster
#
# Non-interactive and idempotent: `start` on a running cluster prints the same URL.
# The cluster lives in $KEYWARDEN_PG_DIR (default /tmp/keywarden-pg), listens on
# 127.0.0.1 only, and its role `keywarden` may create databases (tests make one each).
set -euo pipefail

DIR="${KEYWARDEN_PG_DIR:-/tmp/keywarden-pg}"
PG_VERSION=15
BIN="/usr/lib/postgresql/${PG_VERSION}/bin"
RUN_AS=postgres

log() { echo "pg.sh: $*" >&2; }

install_postgres() {
    if [[ -x "$BIN/pg_ctl" ]]; then
        return
    fi
    log "installing postgresql ${PG_VERSION} (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || true
    apt-get install -y -qq --no-install-recommends postgresql >&2
    if [[ ! -x "$BIN/pg_ctl" ]]; then
        log "postgresql ${PG_VERSION} binaries not found under $BIN after install"
        exit 1
    fi
}

as_pg() {
    if [[ "$(id -u)" -eq 0 ]]; then
        runuser -u "$RUN_AS" -- "$@"
    else
        "$@"
    fi
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

is_running() {
    [[ -f "$DIR/data/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
    install_postgres
    if is_running && [[ -f "$DIR/url" ]]; then
        cat "$DIR/url"
        return
    fi
    if [[ -d "$DIR" ]]; then
        # A leftover from a cluster that is not running: start afresh.
        rm -rf "$DIR"
    fi
    mkdir -p "$DIR"
    local port=55432
    while ! port_free "$port"; do
        port=$((port + 1))
    done
    local password
    password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
    if [[ "$(id -u)" -eq 0 ]]; then
        chown "$RUN_AS:$RUN_AS" "$DIR"
    fi
    chmod 700 "$DIR"
    as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 || {
        cat "$DIR/initdb.log" >&2
        exit 1
    }
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$DIR'"
        echo "max_connections = 300"
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
    } | as_pg tee -a "$DIR/data/postgresql.conf" >/dev/null
    # Local socket: trust (the superuser, for setup); TCP: password only.
    printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' | as_pg tee "$DIR/data/pg_hba.conf" >/dev/null
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >&2
    for _ in $(seq 1 60); do
        if as_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
            break
        fi
        sleep 0.5
    done
    as_pg "$BIN/psql" -q -h "$DIR" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 >&2 <<SQL
CREATE ROLE keywarden LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE keywarden OWNER keywarden;
SQL
    local url="postgres://keywarden:${password}@127.0.0.1:${port}/keywarden"
    echo "$url" | as_pg tee "$DIR/url" >/dev/null
    log "PostgreSQL ${PG_VERSION} running on 127.0.0.1:${port} (data in $DIR)"
    echo "$url"
}

stop() {
    if [[ -d "$DIR/data" ]] && [[ -x "$BIN/pg_ctl" ]]; then
        as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 2>/dev/null || true
    fi
    rm -rf "$DIR"
    log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url)
        if is_running && [[ -f "$DIR/url" ]]; then cat "$DIR/url"; else log "not running"; exit 1; fi
        ;;
    *)
        echo "usage: $0 start|stop|url" >&2
        exit 2
        ;;
esac
