#!/usr/bin/env bash
# Read-only node lag and start time, on `strata up` (a cluster of processes on loopback, one
# read-only node):
#   1. lag of the read-only node, end to end (bench/rolag: commit on the RW, wait for its LSN on
#      the RO), idle and while sysbench oltp_write_only runs against the RW, each beside its
#      baseline (the same two round trips for an LSN the RO already has);
#   2. `strata ctl add-ro` to serving, at the prepared size and again after growing the data.
#
#   bash bench/rolag.sh
#   TABLE_SIZE=20000 TIME=20 bash bench/rolag.sh
#
# Environment: TABLES (4), TABLE_SIZE (100000), TIME (30 s of load), THREADS (16), RATE (100
# probes per second), GROW_ROWS (0: after the first add-ro, insert this many more rows per
# table, then time add-ro again), KEEP (0). See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-100000}
TIME=${TIME:-30}
THREADS=${THREADS:-16}
RATE=${RATE:-100}
GROW_ROWS=${GROW_ROWS:-0}
KEEP=${KEEP:-0}

NAME=rolag.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh
CLIENT=$(find_bin mariadb mysql) || die "mysql client not found (apt-get install -y mariadb-client)"
command -v sysbench >/dev/null || die "sysbench not found (apt-get install -y sysbench)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-rolag.XXXXXX")
STRATA_PID=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$STRATA_PID" strata
	if [[ $KEEP == 1 ]]; then echo "raw outputs and data kept in $WORK" >&2; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
log "go build -o $WORK/strata ./cmd/strata; go build -o $WORK/rolag ./bench/rolag"
go build -o "$WORK/strata" ./cmd/strata
go build -o "$WORK/rolag" ./bench/rolag

PORT=$(free_port)
"$WORK/strata" up --data "$WORK/strata-data" --port "$PORT" --ro 1 >"$WORK/strata.log" 2>&1 &
STRATA_PID=$!
for ((i = 0; i < 1200; i++)); do
	grep -q '^strata: serving MySQL on' "$WORK/strata.log" && break
	kill -0 "$STRATA_PID" 2>/dev/null || die "strata exited while starting:
$(tail -n 20 "$WORK/strata.log")"
	sleep 0.1
done
RO=$(grep -m1 '^strata: serving MySQL on' "$WORK/strata.log" | grep -o 'ro-1 [0-9.:]*' | cut -d' ' -f2)
[[ -n $RO ]] || die "no read-only node in: $(grep -m1 '^strata: serving' "$WORK/strata.log")"
RW=127.0.0.1:$PORT
wait_sql strata "$STRATA_PID" "$PORT"
sql "$PORT" 'CREATE DATABASE sbtest'
log "strata: RW $RW, RO $RO"

sb() { # workload args...
	local wl=$1
	shift
	sysbench "$wl" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$PORT" --mysql-user=root \
		--mysql-password= --mysql-db=sbtest --tables="$TABLES" --table-size="$TABLE_SIZE" "$@"
}
log "sysbench prepare: $TABLES x $TABLE_SIZE rows"
sb oltp_write_only prepare >"$WORK/prepare.txt" 2>&1 || die "prepare failed: $(tail -n 5 "$WORK/prepare.txt")"

size() { du -sm "$WORK/strata-data/pagestore-1" | cut -f1; }
addro() { # label
	local t0 t1 out
	t0=$(date +%s.%N)
	out=$("$WORK/strata" ctl add-ro --data "$WORK/strata-data" 2>&1) || die "ctl add-ro: $out"
	t1=$(date +%s.%N)
	printf 'add-ro\t%s\t%s MB per page store\t%.2f s (%s)\n' "$1" "$(size)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
		"$(echo "$out" | grep -o 'after .*')"
}

RESULTS=()
log "probe, idle: ${RATE}/s for 15 s"
RESULTS+=("$("$WORK/rolag" -rw "$RW" -ro "$RO" -rate "$RATE" -duration 15s -label idle)")
log "probe during sysbench oltp_write_only, $THREADS threads, $TIME s"
sb oltp_write_only --threads="$THREADS" --time="$TIME" --report-interval=0 run >"$WORK/load.txt" 2>&1 &
SB=$!
sleep 3
RESULTS+=("$("$WORK/rolag" -rw "$RW" -ro "$RO" -rate "$RATE" -duration "$((TIME - 5))s" -label "write_only-$THREADS")")
wait "$SB" || die "sysbench run failed: $(tail -n 5 "$WORK/load.txt")"
TPS=$(awk '/^ *transactions:/ { v = $0; sub(/.*\(/, "", v); sub(/ per sec.*/, "", v); print v }' "$WORK/load.txt")
RESULTS+=("$(addro "prepared")")
if [[ $GROW_ROWS -gt 0 ]]; then
	log "growing each table by $GROW_ROWS rows"
	for ((t = 1; t <= TABLES; t++)); do
		sql "$PORT" "INSERT INTO sbtest.sbtest$t (k, c, pad) SELECT k, c, pad FROM sbtest.sbtest$t LIMIT $GROW_ROWS" >/dev/null
	done
	RESULTS+=("$(addro "grown")")
fi

echo
echo "strata up (1 RW, 1 RO) at $REV, $(date -u +%Y-%m-%d), nproc=$(nproc); $TABLES x $TABLE_SIZE rows; load: sysbench oltp_write_only $THREADS threads, $TPS tps"
printf '%s\n' "${RESULTS[@]}"
if grep -qE '^panic:|fatal error:' "$WORK"/strata-data/logs/*.log 2>/dev/null; then
	echo "a node log contains a panic"
	exit 1
fi
