#!/usr/bin/env bash
# Runs go-tpc's TPC-C (pingcap/go-tpc, `go-tpc tpcc prepare|run|check`) against a local MariaDB
# (Debian's mariadb-server, InnoDB, innodb_flush_log_at_trx_commit=1) and against Strata, one
# server after the other with the same settings, and prints tpmC and per-transaction p50/p95
# side by side, then the time and outcome of `go-tpc tpcc check` on each.
# Everything (data directories, logs, raw go-tpc output) lives in one temporary directory.
#
#   bash bench/tpcc.sh                                   # 1 warehouse, 1 thread, 60 s
#   WAREHOUSES=4 THREADS="1 8" TIME=120 bash bench/tpcc.sh
#   STRATA_MODES=single bash bench/tpcc.sh               # skip `strata up` (the cluster)
#
# Environment: WAREHOUSES (1), THREADS ("1": a list runs each in turn on the same data), TIME
# (60 s per run), STRATA_MODES ("single cluster": `strata up --single`, one process, and
# `strata up`, the local cluster of separate processes), BUFFER_POOL_MB (256, both servers),
# CHECK_TIMEOUT (900 s for `go-tpc tpcc check` on each server; MariaDB itself needs about
# 2 min at 1 warehouse), GO_TPC (a go-tpc binary; default: go-tpc in PATH or GOPATH/bin, else
# `go install github.com/pingcap/go-tpc/cmd/go-tpc@$GO_TPC_VERSION`, v1.0.7), KEEP (0).
# See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WAREHOUSES=${WAREHOUSES:-1}
THREADS=${THREADS:-1}
TIME=${TIME:-60}
STRATA_MODES=${STRATA_MODES:-"single cluster"}
BUFFER_POOL_MB=${BUFFER_POOL_MB:-256}
# The cluster as these figures have always measured it: the read-write node alone, clients
# straight to it. "" runs `strata up`'s default: a read-only node and the proxy in front.
STRATA_CLUSTER_OPTS=${STRATA_CLUSTER_OPTS---ro 0 --proxy=false}
CHECK_TIMEOUT=${CHECK_TIMEOUT:-900}
GO_TPC_VERSION=${GO_TPC_VERSION:-v1.0.7}
KEEP=${KEEP:-0}

NAME=tpcc.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh
MARIADBD=$(find_bin mariadbd) || die "mariadbd not found (apt-get install -y mariadb-server)"
INSTALL_DB=$(find_bin mariadb-install-db) || die "mariadb-install-db not found"
CLIENT=$(find_bin mariadb mysql) || die "mariadb client not found"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-tpcc.XXXXXX")
SERVER_PID=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$SERVER_PID" server
	if [[ $KEEP == 1 ]]; then
		echo "raw outputs and data kept in $WORK" >&2
	else
		rm -rf "$WORK"
		echo "(temporary directory $WORK removed; KEEP=1 keeps it)" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# go-tpc, as a tool: never a dependency of the module.
if [[ -z ${GO_TPC:-} ]]; then
	if command -v go-tpc >/dev/null 2>&1; then
		GO_TPC=$(command -v go-tpc)
	elif [[ -x $(go env GOPATH)/bin/go-tpc ]]; then
		GO_TPC=$(go env GOPATH)/bin/go-tpc
	else
		log "go install github.com/pingcap/go-tpc/cmd/go-tpc@$GO_TPC_VERSION"
		GOBIN="$WORK/bin" go install "github.com/pingcap/go-tpc/cmd/go-tpc@$GO_TPC_VERSION"
		GO_TPC=$WORK/bin/go-tpc
	fi
fi

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

user_opt=()
[[ $(id -u) -eq 0 ]] && user_opt=(--user=root)
start_mariadb() { # port
	mkdir -p "$WORK/mariadb-data"
	"$INSTALL_DB" --no-defaults --datadir="$WORK/mariadb-data" --auth-root-authentication-method=normal \
		--skip-test-db "${user_opt[@]}" >"$WORK/mariadb-install-db.log" 2>&1 ||
		die "mariadb-install-db failed: $(tail -n 20 "$WORK/mariadb-install-db.log")"
	"$MARIADBD" --no-defaults --datadir="$WORK/mariadb-data" --socket="$WORK/mariadb.sock" \
		--pid-file="$WORK/mariadb.pid" --port="$1" --bind-address=127.0.0.1 \
		--innodb_flush_log_at_trx_commit=1 --innodb_buffer_pool_size="${BUFFER_POOL_MB}M" \
		--max_connections=200 "${user_opt[@]}" >"$WORK/mariadb.log" 2>&1 &
	SERVER_PID=$!
	wait_sql mariadb "$SERVER_PID" "$1"
}
start_strata() { # mode port
	local name=strata-$1 opt=() i
	if [[ $1 == single ]]; then opt=(--single); else read -r -a opt <<<"$STRATA_CLUSTER_OPTS"; fi
	"$WORK/strata" up --data "$WORK/$name-data" --port "$2" --buffer-pool-mb "$BUFFER_POOL_MB" \
		"${opt[@]}" >"$WORK/$name.log" 2>&1 &
	SERVER_PID=$!
	for ((i = 0; i < 1200; i++)); do
		grep -q '^strata: serving MySQL on' "$WORK/$name.log" && break
		kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited while starting: $(tail -n 20 "$WORK/$name.log")"
		sleep 0.1
	done
	wait_sql "$name" "$SERVER_PID" "$2"
}

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && REV+=" + uncommitted changes"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
start=$SECONDS
SERVERS="mariadb"
for m in $STRATA_MODES; do
	case $m in single | cluster) SERVERS+=" strata-$m" ;; *) die "STRATA_MODES: single and/or cluster" ;; esac
done
if [[ $SERVERS == *strata* ]]; then
	log "go build -o $WORK/strata ./cmd/strata"
	go build -o "$WORK/strata" ./cmd/strata
fi

declare -A PREP CHECK TPMC P50 P95 NOTE
TXNS="NEW_ORDER PAYMENT ORDER_STATUS DELIVERY STOCK_LEVEL"
for srv in $SERVERS; do
	port=$(free_port)
	log "$srv: starting on 127.0.0.1:$port"
	case $srv in
	mariadb) start_mariadb "$port" ;;
	strata-*) start_strata "${srv#strata-}" "$port" ;;
	esac
	sql "$port" 'CREATE DATABASE tpcc'
	common=(--warehouses "$WAREHOUSES" -D tpcc -H 127.0.0.1 -P "$port" -U root)
	log "$srv: go-tpc tpcc prepare ${common[*]} --no-check"
	t0=$(date +%s.%N)
	if ! "$GO_TPC" tpcc prepare "${common[@]}" -T "$WAREHOUSES" --no-check >"$WORK/prepare-$srv.txt" 2>&1; then
		NOTE[$srv]+="prepare failed; "
	fi
	PREP[$srv]=$(secs "$t0" "$(date +%s.%N)")
	for th in $THREADS; do
		out="$WORK/run-$srv-t$th.txt"
		log "$srv: go-tpc tpcc run -T $th --time ${TIME}s"
		"$GO_TPC" tpcc run "${common[@]}" -T "$th" --time "${TIME}s" >"$out" 2>&1 || NOTE[$srv]+="run -T $th exit $?; "
		TPMC[$srv/$th]=$(awk '/^tpmC:/ { v = $2; sub(/,$/, "", v); print v }' "$out" | tail -n 1)
		for tx in $TXNS; do
			p50="" p95=""
			read -r p50 p95 < <(awk -v tx="$tx" '$1 == "[Summary]" && $2 == tx {
				for (i = 1; i <= NF; i++) { if ($i == "50th(ms):") a = $(i + 1); if ($i == "95th(ms):") b = $(i + 1) }
				gsub(/,/, "", a); gsub(/,/, "", b); print a, b }' "$out" | tail -n 1) || true
			P50[$srv/$th/$tx]=${p50:--}
			P95[$srv/$th/$tx]=${p95:--}
		done
		log "$srv threads=$th: tpmC ${TPMC[$srv/$th]:--}"
	done
	log "$srv: go-tpc tpcc check (limit ${CHECK_TIMEOUT} s)"
	t0=$(date +%s.%N)
	rc=0
	timeout "$CHECK_TIMEOUT" "$GO_TPC" tpcc check "${common[@]}" -T 1 >"$WORK/check-$srv.txt" 2>&1 || rc=$?
	t=$(secs "$t0" "$(date +%s.%N)")
	case $rc in
	0) CHECK[$srv]="passed in $t s" ;;
	124) CHECK[$srv]="not finished in ${CHECK_TIMEOUT} s (at: $(grep 'begin to check' "$WORK/check-$srv.txt" | tail -n 1 | sed 's/.*condition //'))" ;;
	*) CHECK[$srv]="FAILED in $t s: $(grep -m1 -i 'failed\|error' "$WORK/check-$srv.txt" | cut -c1-200)" ;;
	esac
	log "$srv: check ${CHECK[$srv]}"
	if [[ $srv == strata-* ]] && grep -qE '^panic:|fatal error:' "$WORK/$srv.log"; then
		NOTE[$srv]+="panic in $srv.log; "
	fi
	stop_pid "$SERVER_PID" "$srv"
	SERVER_PID=""
done

# --- report ------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2fx\n", a / b }'; }
echo
echo "go-tpc TPC-C ($("$GO_TPC" version 2>/dev/null | head -n 1 | tr -s ' ' || echo go-tpc)): $(date -u +%Y-%m-%d), nproc=$(nproc), warehouses=$WAREHOUSES time=${TIME}s, $((SECONDS - start)) s in all"
echo "MariaDB $("$MARIADBD" --version | sed 's/^.*Ver //') (innodb_flush_log_at_trx_commit=1, buffer pool ${BUFFER_POOL_MB}M) vs Strata ($STRATA_MODES) --buffer-pool-mb $BUFFER_POOL_MB"
echo "strata at $REV; load average at the start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
hdr="| threads | transaction  |"
sep="|--------:|--------------|"
for srv in $SERVERS; do hdr+=" $srv p50 / p95 ms |"; sep+="----------------:|"; done
echo "$hdr"
echo "$sep"
for th in $THREADS; do
	line="| $th | tpmC |"
	for srv in $SERVERS; do
		v=${TPMC[$srv/$th]:--}
		[[ $srv == mariadb ]] || v+=" ($(ratio "${TPMC[$srv/$th]:-}" "${TPMC[mariadb/$th]:-}"))"
		line+=" $v |"
	done
	echo "$line"
	for tx in $TXNS; do
		line="| $th | $tx |"
		for srv in $SERVERS; do line+=" ${P50[$srv/$th/$tx]:--} / ${P95[$srv/$th/$tx]:--} |"; done
		echo "$line"
	done
done
echo
for srv in $SERVERS; do
	echo "$srv: prepare ${PREP[$srv]} s; check ${CHECK[$srv]}${NOTE[$srv]:+; problems: ${NOTE[$srv]}}"
done
echo
echo "raw outputs: $WORK (prepare-*.txt, run-*.txt, check-*.txt, server logs)"
