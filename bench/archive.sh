#!/usr/bin/env bash
# The archive: its cost to writes, how fast it takes the log, and a rebuild from it. sysbench
# oltp_write_only through `strata up` (the read-write node alone, --ro 0 --proxy=false), in turn
# without an archive (the baseline) and with one in a local directory (--archive), ROUNDS
# times, a new cluster each run. With the archive, after the run: how long until it holds the
# whole durable log (the catch-up), its size, and `strata up --rebuild-from` into a new data
# directory, timed until it serves MySQL, with the tables' row counts checked against the
# original's.
#
#   bash bench/archive.sh
#   ROUNDS=2 TIME=120 bash bench/archive.sh
#
# Environment: ROUNDS (2), TABLES (4), TABLE_SIZE (50000), THREADS (16), TIME (120 s), BASE_MB
# (1024: MiB of log between two bases, --archive-base-mb; smaller makes the rebuild start from a
# base), KEEP (0).
# See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${ROUNDS:-2}
TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-50000}
THREADS=${THREADS:-16}
TIME=${TIME:-120}
BASE_MB=${BASE_MB:-1024}
KEEP=${KEEP:-0}

NAME=archive.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh
CLIENT=$(find_bin mariadb mysql) || die "mysql client not found (apt-get install -y mariadb-client)"
command -v sysbench >/dev/null || die "sysbench not found (apt-get install -y sysbench)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-archive.XXXXXX")
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

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
counts() { # port: the row count of every table
	local q="" i
	for ((i = 1; i <= TABLES; i++)); do q+="SELECT COUNT(*) FROM sbtest.sbtest$i;"; done
	"$CLIENT" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$1" -u root -N -e "$q" | tr '\n' ' '
}
# archived dir: "archived durable" of the writer, from ctl status.
archived() {
	"$WORK/strata" ctl status --json --data "$1" | python3 -c '
import json, sys
for n in json.load(sys.stdin)["nodes"]:
    if n["role"] == "rw":
        print(n.get("archived", 0), n.get("durable", 0))
        break'
}

# run mode round: prints "mode tps p95 archive_mb catchup_s rebuild_s rebuild_s_per_gb".
run() {
	local mode=$1 round=$2 dir="$WORK/data-$1-$2" arch="$WORK/archive-$2" port out extra=()
	[[ $mode == archive ]] && extra=(--archive "$arch" --archive-base-mb "$BASE_MB")
	[[ $mode == none ]] && extra=(--archive none)
	port=$(free_port)
	"$WORK/strata" up --data "$dir" --port "$port" --ro 0 --proxy=false "${extra[@]}" >"$WORK/strata-$mode-$round.log" 2>&1 &
	STRATA_PID=$!
	wait_sql strata "$STRATA_PID" "$port"
	sql "$port" 'CREATE DATABASE sbtest'
	local common=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=root --mysql-password=
		--mysql-db=sbtest --tables="$TABLES" --table-size="$TABLE_SIZE")
	sysbench oltp_write_only "${common[@]}" prepare >"$WORK/prepare-$mode-$round.txt" 2>&1 || die "prepare failed"
	out="$WORK/run-$mode-$round.txt"
	sysbench oltp_write_only "${common[@]}" --threads="$THREADS" --time="$TIME" --report-interval=0 run >"$out" 2>&1 || die "run failed: $(tail -5 "$out")"
	local tps p95 mb=- catchup=- rebuild=- pergb=- t0 t1 a d want got
	tps=$(awk '/transactions:/ { v = $0; sub(/.*\(/, "", v); sub(/ per sec.*/, "", v); print v }' "$out")
	p95=$(awk '/95th percentile:/ { print $3 }' "$out")
	if [[ $mode == archive ]]; then
		t0=$(now)
		for ((i = 0; i < 600; i++)); do
			read -r a d < <(archived "$dir") || true
			[[ -n ${a:-} && -n ${d:-} && $a -ge $d && $a -gt 0 ]] && break
			sleep 0.2
		done
		t1=$(now)
		catchup=$(secs "$t0" "$t1")
		mb=$(du -sm "$arch" | cut -f1)
		want=$(counts "$port")
	fi
	stop_pid "$STRATA_PID" strata
	STRATA_PID=""
	if [[ $mode == archive ]]; then
		local rdir="$WORK/rebuilt-$round"
		port=$(free_port)
		t0=$(now)
		"$WORK/strata" up --data "$rdir" --port "$port" --ro 0 --proxy=false --rebuild-from "$arch" >"$WORK/rebuild-$round.log" 2>&1 &
		STRATA_PID=$!
		wait_sql strata "$STRATA_PID" "$port"
		t1=$(now)
		got=$(counts "$port")
		[[ $got == "$want" ]] || die "the rebuilt tables hold $got rows, the original $want"
		rebuild=$(secs "$t0" "$t1")
		pergb=$(awk -v s="$rebuild" -v m="$mb" 'BEGIN { printf "%.1f", s / (m / 1024) }')
		stop_pid "$STRATA_PID" strata
		STRATA_PID=""
		[[ $KEEP == 1 ]] || rm -rf "$rdir" "$arch"
	fi
	[[ $KEEP == 1 ]] || rm -rf "$dir"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$tps" "$p95" "$mb" "$catchup" "$rebuild" "$pergb"
}

RESULTS=()
for ((r = 1; r <= ROUNDS; r++)); do
	for m in none archive; do
		RESULTS+=("$(run "$m" "$r")")
		log "${RESULTS[-1]}"
	done
done

echo
echo "sysbench oltp_write_only, $TABLES x $TABLE_SIZE rows, $THREADS threads, ${TIME}s, strata up --ro 0 --proxy=false at $REV, $(date -u +%Y-%m-%d), nproc=$(nproc)"
printf 'archive (bases every %s MiB of log)\ttps\tp95 ms\tarchive MB\tcatch-up s\trebuild s\trebuild s/GB\n' "$BASE_MB"
printf '%s\n' "${RESULTS[@]}"
