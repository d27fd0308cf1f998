#!/usr/bin/env bash
# The proxy's overhead and where reads go: sysbench oltp_point_select and oltp_read_only
# (--skip_trx: autocommit reads, which the proxy may send to read-only nodes) against
# `strata up`, through the proxy with 2, 1 and 0 read-only nodes, each beside the same run
# straight to the read-write node, alternated. Prints tps, p95 and, for each proxy run, the
# share of SELECTs each node answered (from the nodes' strata_sql_statements_total).
#
#   bash bench/proxy.sh
#   TABLE_SIZE=20000 TIME=20 bash bench/proxy.sh
#
# Environment: TABLES (4), TABLE_SIZE (100000), TIME (30 s per run), THREADS (16),
# WORKLOADS ("oltp_point_select oltp_read_only"), KEEP (0). Needs sysbench, curl and the mysql
# client. See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-100000}
TIME=${TIME:-30}
THREADS=${THREADS:-16}
WORKLOADS=${WORKLOADS:-"oltp_point_select oltp_read_only"}
KEEP=${KEEP:-0}

NAME=proxy.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh
CLIENT=$(find_bin mariadb mysql) || die "mysql client not found (apt-get install -y mariadb-client)"
command -v sysbench >/dev/null || die "sysbench not found (apt-get install -y sysbench)"
command -v curl >/dev/null || die "curl not found"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-proxy.XXXXXX")
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
log "go build -o $WORK/strata ./cmd/strata"
go build -o "$WORK/strata" ./cmd/strata
PORT=$(free_port)
"$WORK/strata" up --data "$WORK/data" --port "$PORT" --ro 2 >"$WORK/strata.log" 2>&1 &
STRATA_PID=$!
for ((i = 0; i < 1200; i++)); do
	grep -q '^strata: serving MySQL on' "$WORK/strata.log" && break
	kill -0 "$STRATA_PID" 2>/dev/null || die "strata exited while starting: $(tail -n 20 "$WORK/strata.log")"
	sleep 0.1
done
wait_sql strata "$STRATA_PID" "$PORT"

# nodes: "role id addr metrics" for the compute nodes, from ctl status.
nodes() { "$WORK/strata" ctl status --data "$WORK/data" | awk '$1 == "rw" || ($1 == "ro" && $5 == "up") { print $1, $2, $3, $NF }'; }
RW_ADDR=$(nodes | awk '$1 == "rw" { print $3 }')
RW_PORT=${RW_ADDR##*:}
log "proxy on 127.0.0.1:$PORT, the read-write node on $RW_ADDR"
sql "$PORT" 'CREATE DATABASE sbtest'

sb() { # port workload args...
	local port=$1 wl=$2
	shift 2
	sysbench "$wl" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=root \
		--mysql-password= --mysql-db=sbtest --tables="$TABLES" --table-size="$TABLE_SIZE" "$@"
}
log "sysbench prepare: $TABLES x $TABLE_SIZE rows"
sb "$RW_PORT" oltp_read_only prepare >"$WORK/prepare.txt" 2>&1 || die "prepare failed: $(tail -n 5 "$WORK/prepare.txt")"
sleep 5 # let the read-only nodes and the page stores settle

selects() { # metrics address: the node's SELECT count
	curl -s "http://$1/metrics" | awk '$1 == "strata_sql_statements_total{kind=\"select\"}" { print $2 }'
}
parse() {
	awk '
	/^ *transactions:/    { v = $0; sub(/.*\(/, "", v); sub(/ per sec.*/, "", v); tps = v }
	/^ *95th percentile:/ { p95 = $3 }
	END { printf "%s\t%s", (tps == "" ? "-" : tps), (p95 == "" ? "-" : p95) }' "$1"
}
ROWS=()
run() { # label port workload
	local label=$1 port=$2 wl=$3 out="$WORK/run-$1-$3.txt" before=() after=() i share=""
	mapfile -t list < <(nodes)
	for i in "${!list[@]}"; do before[i]=$(selects "$(awk '{ print $4 }' <<<"${list[i]}")"); done
	log "$label: sysbench $wl --threads=$THREADS --time=$TIME --skip_trx=on"
	sb "$port" "$wl" --threads="$THREADS" --time="$TIME" --skip_trx=on --report-interval=0 run >"$out" 2>&1 ||
		die "$label $wl failed: $(tail -n 5 "$out")"
	local total=0 counts=()
	for i in "${!list[@]}"; do
		after[i]=$(selects "$(awk '{ print $4 }' <<<"${list[i]}")")
		counts[i]=$(awk -v a="${before[i]:-0}" -v b="${after[i]:-0}" 'BEGIN { printf "%d", b - a }')
		total=$((total + counts[i]))
	done
	for i in "${!list[@]}"; do
		share+="$(awk '{ print $2 }' <<<"${list[i]}") $(awk -v c="${counts[i]}" -v t="$total" 'BEGIN { printf "%.0f%%", t ? 100 * c / t : 0 }') "
	done
	ROWS+=("$(printf '%s\t%s\t%s\t%s' "$wl" "$label" "$(parse "$out")" "$share")")
}
for ros in 2 1 0; do
	if [[ $ros -lt 2 ]]; then
		"$WORK/strata" ctl remove-ro "ro-$((ros + 1))" --data "$WORK/data" >/dev/null
		sleep 7 # the proxy drops it once its lease lapses
	fi
	for wl in $WORKLOADS; do
		run "direct-rw(ro=$ros)" "$RW_PORT" "$wl"
		run "proxy(ro=$ros)" "$PORT" "$wl"
	done
done

echo
echo "strata up at $REV, $(date -u +%Y-%m-%d), nproc=$(nproc); $TABLES x $TABLE_SIZE rows; sysbench --threads=$THREADS --time=$TIME --skip_trx=on"
printf 'workload\trun\ttps\tp95 ms\tSELECTs answered by\n'
printf '%s\n' "${ROWS[@]}"
