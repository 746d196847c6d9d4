#!/usr/bin/env bash
# Measures deckhand's backup and verification of a real database against plain pg_dump.
#
#   createdb bench && pgbench -i -s 70 bench          # ~1 GB
#   cargo build --release
#   scripts/backup-bench.sh postgres://postgres@127.0.0.1:5432/bench
#
# Prints the database size, `deckhand backup` (dump + sha256 + full-read verification + table comparison) and
# `deckhand verify` wall times, the archive size, and a plain `pg_dump -Fc` of the same database for comparison.
set -euo pipefail
url=${1:?usage: scripts/backup-bench.sh POSTGRES_URL}
bin=${DECKHAND_BIN:-target/release/deckhand}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/migrations" "$work/data"
cat > "$work/plan.toml" <<PLAN
[project]
name = "bench"
environment = "bench"

[database]
url = "\${BENCH_DB}"
migrations = "migrations"
format = "plain"

[backup]
dir = "backups"
PLAN

now() { date +%s.%N; }
size=$(psql "$url" -Atc "select pg_size_pretty(pg_database_size(current_database()))")
echo "database size: $size"

t0=$(now)
BENCH_DB=$url DECKHAND_DATA_DIR=$work/data "$bin" backup "$work/plan.toml"
t1=$(now)
archive=$(ls "$work"/backups/*.dump)
echo "deckhand backup (dump, sha256, verify, compare): $(awk "BEGIN{printf \"%.1f\", $t1-$t0}") s, archive $(du -h "$archive" | cut -f1)"

t0=$(now)
BENCH_DB=$url "$bin" verify "$archive" --plan "$work/plan.toml"
t1=$(now)
echo "deckhand verify: $(awk "BEGIN{printf \"%.1f\", $t1-$t0}") s"

t0=$(now)
pg_dump -Fc -f "$work/plain.dump" "$url"
t1=$(now)
echo "plain pg_dump -Fc: $(awk "BEGIN{printf \"%.1f\", $t1-$t0}") s"
