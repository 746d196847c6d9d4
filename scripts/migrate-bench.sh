#!/usr/bin/env bash
# Applies 500 trivial sqlx migrations to an empty database with the real binaries, side by side: `deckhand migrate`
# and `sqlx migrate run` (sqlx-cli), each on a fresh database, alternating, RUNS times each. Prints every run and
# the medians. Needs a PostgreSQL to create databases in, and sqlx-cli on PATH.
#
#   cargo build --release
#   cargo install sqlx-cli --no-default-features --features postgres,rustls
#   scripts/migrate-bench.sh postgres://postgres@127.0.0.1:5432/postgres
set -euo pipefail
admin=${1:?usage: scripts/migrate-bench.sh POSTGRES_ADMIN_URL}
bin=${DECKHAND_BIN:-target/release/deckhand}
runs=${RUNS:-7}
n=${MIGRATIONS:-500}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/migrations" "$work/data"
for i in $(seq 1 "$n"); do
  printf 'CREATE TABLE t%d (id int);\n' "$i" > "$work/migrations/$(printf '%05d' "$i")_t$i.sql"
done
cat > "$work/plan.toml" <<PLAN
[project]
name = "bench"
environment = "bench"

[database]
url = "\${BENCH_DB}"
migrations = "migrations"
format = "sqlx"
PLAN

base=${admin%/*}
now() { date +%s.%N; }
fresh() { psql "$admin" -qAtc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: > "$work/deckhand.txt"
: > "$work/sqlx.txt"
for r in $(seq 1 "$runs"); do
  fresh bench_deckhand
  t0=$(now)
  BENCH_DB=$base/bench_deckhand DECKHAND_DATA_DIR=$work/data "$bin" migrate "$work/plan.toml" \
    --no-backup bench --no-dry-run bench 2>/dev/null
  t1=$(now)
  fresh bench_sqlx
  t2=$(now)
  sqlx migrate run --source "$work/migrations" --database-url "$base/bench_sqlx" >/dev/null
  t3=$(now)
  d=$(awk "BEGIN{printf \"%.3f\", $t1-$t0}")
  s=$(awk "BEGIN{printf \"%.3f\", $t3-$t2}")
  echo "$d" >> "$work/deckhand.txt"
  echo "$s" >> "$work/sqlx.txt"
  echo "run $r: deckhand migrate ${d} s, sqlx migrate run ${s} s"
done
md=$(median < "$work/deckhand.txt")
ms=$(median < "$work/sqlx.txt")
echo "median over $runs runs of $n migrations: deckhand migrate ${md} s (min $(sort -n "$work/deckhand.txt" | head -1), max $(sort -n "$work/deckhand.txt" | tail -1)); sqlx migrate run ${ms} s (min $(sort -n "$work/sqlx.txt" | head -1), max $(sort -n "$work/sqlx.txt" | tail -1)); ratio $(awk "BEGIN{printf \"%.2f\", $md/$ms}")"
