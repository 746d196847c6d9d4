#!/usr/bin/env bash
# Measures the live-logs pipeline in process (benches/logs.rs): ingest rate with a regex filter from a pipe on the
# multi-thread runtime `deckhand run` uses,
# line-to-drawn latency, resident memory with 1,000,000 lines, frame time at 200x50 with a filter, and bytes
# written to the terminal during a flood and while idle. Prints one line per measurement. The real binary, measured
# from outside beside cat | grep -c: scripts/logs-e2e-bench.py.
#
#   scripts/logs-bench.sh            # uses CARGO_TARGET_DIR if set
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench logs "$@"
