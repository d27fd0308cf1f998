#!/usr/bin/env bash
# The cost of keeping history on writes: sysbench oltp_write_only through `strata up` (the
# read-write node alone, --ro 0 --proxy=false) with each history window of WINDOWS, in turn,
# ROUNDS times (a new cluster each run: prepare, then the run), and a table of tps and p95
# beside the first window's (the baseline: 0s keeps no history; the Page Stores compact up
# to the oldest snapshot, as before history existed).
#
#   bash bench/history.sh
#   WINDOWS="0s 1h" ROUNDS=2 TIME=120 bash bench/history.sh
#
# Environment: WINDOWS ("0s 1h"), ROUNDS (2), TABLES (4), TABLE_SIZE (50000), THREADS (16),
# TIME (120 s), KEEP (0). See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WINDOWS=${WINDOWS:-0s 1h}
ROUNDS=${ROUNDS:-2}
TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-50000}
THREADS=${THREADS:-16}
TIME=${TIME:-120}
KEEP=${KEEP:-0}

NAME=history.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh
CLIENT=$(find_bin mariadb mysql) || die "mysql client not found (apt-get install -y mariadb-client)"
command -v sysbench >/dev/null || die "sysbench not found (apt-get install -y sysbench)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-history.XXXXXX")
STRATA_PID=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$STRATA_PID" strata
	if [[ $KEEP == 1 ]]; then echo "raw outputs kept in $WORK" >&2; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
log "go build -o $WORK/strata ./cmd/strata"
go build -o "$WORK/strata" ./cmd/strata

# run window round: one cluster, prepare, the run; prints "window tps p95 disk_mb".
run() {
	local window=$1 round=$2 dir="$WORK/data-$1-$2" port out
	port=$(free_port)
	"$WORK/strata" up --data "$dir" --port "$port" --ro 0 --proxy=false --history "$window" >"$WORK/strata.log" 2>&1 &
	STRATA_PID=$!
	wait_sql strata "$STRATA_PID" "$port"
	sql "$port" 'CREATE DATABASE sbtest'
	local common=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=root --mysql-password=
		--mysql-db=sbtest --tables="$TABLES" --table-size="$TABLE_SIZE")
	sysbench oltp_write_only "${common[@]}" prepare >"$WORK/prepare-$window-$round.txt" 2>&1 || die "prepare failed"
	out="$WORK/run-$window-$round.txt"
	sysbench oltp_write_only "${common[@]}" --threads="$THREADS" --time="$TIME" --report-interval=0 run >"$out" 2>&1 || die "run failed: $(tail -5 "$out")"
	local tps p95 disk
	tps=$(awk '/transactions:/ { v = $0; sub(/.*\(/, "", v); sub(/ per sec.*/, "", v); print v }' "$out")
	p95=$(awk '/95th percentile:/ { print $3 }' "$out")
	disk=$(du -sm "$dir"/pagestore-* | awk '{ s += $1 } END { print s }')
	stop_pid "$STRATA_PID" strata
	STRATA_PID=""
	[[ $KEEP == 1 ]] || rm -rf "$dir"
	printf '%s\t%s\t%s\t%s\n' "$window" "$tps" "$p95" "$disk"
}

RESULTS=()
for ((r = 1; r <= ROUNDS; r++)); do
	for w in $WINDOWS; do
		RESULTS+=("$(run "$w" "$r")")
		log "${RESULTS[-1]}"
	done
done

echo
echo "sysbench oltp_write_only, $TABLES x $TABLE_SIZE rows, $THREADS threads, ${TIME}s, strata up --ro 0 --proxy=false at $REV, $(date -u +%Y-%m-%d), nproc=$(nproc)"
printf 'history window\ttps\tp95 ms\tPage Stores MB\n'
printf '%s\n' "${RESULTS[@]}"
