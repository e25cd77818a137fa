#!/usr/bin/env bash
# The server's insert ceiling, for comparison with bench/ledger.py on the same PostgreSQL:
# pgbench with a one-row INSERT script and a 100-row INSERT script into a scratch table shaped
# like a stock move (ids, two numerics, a reason, a unique key, a timestamp).
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/br_ledger_bench bench/pg_limit.sh [seconds] [clients]
#
# Prints transactions/s and rows/s for each script. The scratch table is dropped afterwards.
set -euo pipefail
URL="${DATABASE_URL:?set DATABASE_URL to a PostgreSQL database}"
SECONDS_PER_RUN="${1:-20}"
CLIENTS="${2:-1}"
WORK="$(mktemp -d)"
trap 'psql "$URL" -qc "DROP TABLE IF EXISTS bench_pg_limit" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

psql "$URL" -q <<'SQL'
DROP TABLE IF EXISTS bench_pg_limit;
CREATE TABLE bench_pg_limit (
    id bigserial PRIMARY KEY,
    item_id bigint NOT NULL,
    location_id bigint NOT NULL,
    quantity numeric(18, 6) NOT NULL,
    value numeric(18, 4) NOT NULL,
    reason varchar(20) NOT NULL,
    idempotency_key varchar(200) NOT NULL,
    key_line integer NOT NULL,
    occurred_at timestamptz NOT NULL,
    UNIQUE (idempotency_key, key_line)
);
CREATE INDEX bench_pg_limit_item ON bench_pg_limit (item_id, location_id, occurred_at);
SQL

cat > "$WORK/one.sql" <<'SQL'
\set item random(1, 200)
\set location random(1, 8)
INSERT INTO bench_pg_limit (item_id, location_id, quantity, value, reason, idempotency_key, key_line, occurred_at)
VALUES (:item, :location, 1.5, 3.75, 'consumption', md5(random()::text || :client_id), 0, now());
SQL

cat > "$WORK/hundred.sql" <<'SQL'
INSERT INTO bench_pg_limit (item_id, location_id, quantity, value, reason, idempotency_key, key_line, occurred_at)
SELECT 1 + (g * 7) % 200, 1 + g % 8, 1.5, 3.75, 'consumption', md5(random()::text || g || :client_id), 0, now()
FROM generate_series(1, 100) AS g;
SQL

run() {
    local name="$1" rows="$2"
    local output tps
    output="$(pgbench "$URL" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_RUN" -f "$WORK/$name.sql" 2>&1)"
    tps="$(echo "$output" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
    printf '%-8s clients=%s  %10.1f tx/s  %12.0f rows/s\n' "$name" "$CLIENTS" "$tps" \
        "$(echo "$tps * $rows" | bc -l)"
}

run one 1
run hundred 100
