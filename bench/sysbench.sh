#!/usr/bin/env bash
# Runs sysbench OLTP workloads against a local MariaDB (Debian's mariadb-server, InnoDB,
# innodb_flush_log_at_trx_commit=1) and against Strata (`strata up`), alternately, with the same
# settings, and prints a table of tps, qps, p95 latency and CPU per transaction for both, with
# Strata/MariaDB ratios (and, through the cluster, Strata's CPU per transaction by process).
# Everything (data directories, logs, raw sysbench output) lives in one temporary directory.
#
#   bash bench/sysbench.sh                                  # defaults: about 8.5 min on 2 cores
#   TABLE_SIZE=20000 TIME=10 THREADS=1 bash bench/sysbench.sh
#   KEEP=1 bash bench/sysbench.sh                           # keep the temporary directory
#
# Environment: TABLES (4), TABLE_SIZE (100000), TIME (30 s per run), THREADS ("1 16"),
# WORKLOADS ("oltp_point_select oltp_read_only oltp_write_only oltp_read_write"),
# BUFFER_POOL_MB (256, both servers), KEEP (0), STRATA_CPUPROFILE (a file: profile Strata's run;
# single mode only), STRATA_MODE (single: `strata up --single`, one process; cluster: `strata up`,
# the local cluster of separate processes), STRATA_CLUSTER_OPTS ("--ro 0 --proxy=false": the
# read-write node alone; "" for `strata up`'s default of a read-only node behind the proxy).
# Installs mariadb-server with apt-get if it is missing. See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-100000}
TIME=${TIME:-30}
THREADS=${THREADS:-"1 16"}
WORKLOADS=${WORKLOADS:-"oltp_point_select oltp_read_only oltp_write_only oltp_read_write"}
BUFFER_POOL_MB=${BUFFER_POOL_MB:-256}
KEEP=${KEEP:-0}
STRATA_CPUPROFILE=${STRATA_CPUPROFILE:-}
STRATA_MODE=${STRATA_MODE:-single}
# The cluster as these figures have always measured it: the read-write node alone, clients
# straight to it. "" runs `strata up`'s default: a read-only node and the proxy in front.
STRATA_CLUSTER_OPTS=${STRATA_CLUSTER_OPTS---ro 0 --proxy=false}

# Both servers take the most threads asked for, and some to spare.
MAXCONN=200
for th in $THREADS; do ((th + 50 > MAXCONN)) && MAXCONN=$((th + 50)); done

NAME=sysbench.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# --- MariaDB server binaries ---------------------------------------------------------------
if ! find_bin mariadbd >/dev/null || ! find_bin mariadb-install-db >/dev/null; then
	log "mariadb-server is not installed: apt-get update && apt-get install -y mariadb-server"
	as_root apt-get update
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server
fi
MARIADBD=$(find_bin mariadbd) || die "mariadbd not found"
INSTALL_DB=$(find_bin mariadb-install-db) || die "mariadb-install-db not found"
CLIENT=$(find_bin mariadb mysql) || die "mariadb client not found"
command -v sysbench >/dev/null || die "sysbench not found (apt-get install -y sysbench)"

# --- temporary directory and cleanup -------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-sysbench.XXXXXX")
MARIADB_PID=""
STRATA_PID=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$STRATA_PID" strata
	stop_pid "$MARIADB_PID" mariadbd
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

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && REV+=" + uncommitted changes"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "sysbench against MariaDB and Strata: $(date -u +%Y-%m-%d), nproc=$(nproc), raw outputs in $WORK" >&2
start=$SECONDS

# --- MariaDB ---------------------------------------------------------------------------------
MARIADB_PORT=$(free_port)
mkdir -p "$WORK/mariadb-data"
user_opt=()
[[ $(id -u) -eq 0 ]] && user_opt=(--user=root)
log "$INSTALL_DB --no-defaults --datadir=$WORK/mariadb-data --auth-root-authentication-method=normal"
"$INSTALL_DB" --no-defaults --datadir="$WORK/mariadb-data" --auth-root-authentication-method=normal \
	--skip-test-db "${user_opt[@]}" >"$WORK/mariadb-install-db.log" 2>&1 ||
	die "mariadb-install-db failed:
$(tail -n 20 "$WORK/mariadb-install-db.log")"
MARIADB_VERSION=$("$MARIADBD" --version | sed 's/^.*Ver //')
"$MARIADBD" --no-defaults --datadir="$WORK/mariadb-data" --socket="$WORK/mariadb.sock" \
	--pid-file="$WORK/mariadb.pid" --port="$MARIADB_PORT" --bind-address=127.0.0.1 \
	--innodb_flush_log_at_trx_commit=1 --innodb_buffer_pool_size="${BUFFER_POOL_MB}M" \
	--max_connections="$MAXCONN" "${user_opt[@]}" >"$WORK/mariadb.log" 2>&1 &
MARIADB_PID=$!
wait_sql mariadb "$MARIADB_PID" "$MARIADB_PORT"
sql "$MARIADB_PORT" 'CREATE DATABASE sbtest'
# What makes MariaDB durable on commit here: the redo log is flushed and synced at every commit;
# there is no binary log.
MARIADB_VARS=$("$CLIENT" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MARIADB_PORT" -u root -N -B -e \
	"SELECT CONCAT('innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit,
	 ' innodb_flush_method=', @@innodb_flush_method, ' innodb_doublewrite=', @@innodb_doublewrite,
	 ' log_bin=', @@log_bin, ' innodb_buffer_pool_size=', @@innodb_buffer_pool_size DIV 1048576, 'M')")
echo "$MARIADB_VARS" >"$WORK/mariadb-variables.txt"
log "mariadbd $MARIADB_VERSION on 127.0.0.1:$MARIADB_PORT (pid $MARIADB_PID)"

# --- Strata ----------------------------------------------------------------------------------
log "go build -o $WORK/strata ./cmd/strata"
go build -o "$WORK/strata" ./cmd/strata
STRATA_PORT=$(free_port)
prof_opt=()
[[ -n $STRATA_CPUPROFILE ]] && prof_opt=(--cpuprofile "$STRATA_CPUPROFILE")
case $STRATA_MODE in
single) prof_opt+=(--single) ;;
cluster) read -r -a cluster_opt <<<"$STRATA_CLUSTER_OPTS"; prof_opt+=("${cluster_opt[@]}") ;;
*) die "STRATA_MODE must be single or cluster" ;;
esac
"$WORK/strata" up --data "$WORK/strata-data" --port "$STRATA_PORT" --buffer-pool-mb "$BUFFER_POOL_MB" \
	"${prof_opt[@]}" >"$WORK/strata.log" 2>&1 &
STRATA_PID=$!
for ((i = 0; i < 1200; i++)); do
	grep -q '^strata: serving MySQL on' "$WORK/strata.log" && break
	kill -0 "$STRATA_PID" 2>/dev/null || die "strata exited while starting:
$(tail -n 20 "$WORK/strata.log")"
	sleep 0.1
done
wait_sql strata "$STRATA_PID" "$STRATA_PORT"
sql "$STRATA_PORT" "SET GLOBAL max_connections = $MAXCONN"
sql "$STRATA_PORT" 'CREATE DATABASE sbtest'
log "strata on 127.0.0.1:$STRATA_PORT (pid $STRATA_PID)"

# --- sysbench --------------------------------------------------------------------------------
sb_common() { # port
	echo --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$1" --mysql-user=root \
		--mysql-password= --mysql-db=sbtest --tables="$TABLES" --table-size="$TABLE_SIZE"
}
alive() { kill -0 "$1" 2>/dev/null; }
pid_of() { if [[ $1 == mariadb ]]; then echo "$MARIADB_PID"; else echo "$STRATA_PID"; fi; }
port_of() { if [[ $1 == mariadb ]]; then echo "$MARIADB_PORT"; else echo "$STRATA_PORT"; fi; }

declare -A PREP_S PREP_RC
for srv in mariadb strata; do
	out="$WORK/prepare-$srv.txt"
	log "$srv: sysbench oltp_read_write $(sb_common "$(port_of $srv)") prepare"
	t0=$(date +%s.%N)
	rc=0
	# shellcheck disable=SC2046
	sysbench oltp_read_write $(sb_common "$(port_of $srv)") prepare >"$out" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	PREP_S[$srv]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	PREP_RC[$srv]=$rc
	if [[ $rc -ne 0 ]]; then
		log "$srv: prepare FAILED (exit $rc):"
		tail -n 10 "$out" >&2
	fi
	log "$srv: prepare took ${PREP_S[$srv]} s"
done

# parse file: prints "tps qps p95 ignored_errors" ("-" where missing). sysbench prints
# "transactions: N (X per sec.)" and "queries: N (X per sec.)": take the per-second figures.
parse() {
	awk '
	/^ *transactions:/    { v = $0; sub(/.*\(/, "", v); sub(/ per sec.*/, "", v); tps = v }
	/^ *queries:/         { v = $0; sub(/.*\(/, "", v); sub(/ per sec.*/, "", v); qps = v }
	/^ *ignored errors:/  { ign = $3 }
	/^ *95th percentile:/ { p95 = $3 }
	END {
		printf "%s %s %s %s\n", (tps == "" ? "-" : tps), (qps == "" ? "-" : qps),
			(p95 == "" ? "-" : p95), (ign == "" ? "-" : ign)
	}' "$1"
}

declare -A RES FAIL CPU
problems=""
for wl in $WORKLOADS; do
	for th in $THREADS; do
		for srv in mariadb strata; do
			out="$WORK/run-$wl-t$th-$srv.txt"
			key="$wl/$th/$srv"
			if [[ ${PREP_RC[$srv]} -ne 0 ]]; then
				RES[$key]="- - - -"; FAIL[$key]="prepare failed"; continue
			fi
			if ! alive "$(pid_of $srv)"; then
				RES[$key]="- - - -"; FAIL[$key]="server down"; continue
			fi
			log "$srv: sysbench $wl --threads=$th --time=$TIME --rand-type=uniform run"
			rc=0
			cpu0=$(cpu_by_role "$(pid_of $srv)")
			# shellcheck disable=SC2046
			sysbench "$wl" $(sb_common "$(port_of $srv)") --threads="$th" --time="$TIME" \
				--rand-type=uniform --percentile=95 --report-interval=10 run >"$out" 2>&1 || rc=$?
			cpu1=$(cpu_by_role "$(pid_of $srv)")
			RES[$key]=$(parse "$out")
			CPU[$key]=$(cpu_per_txn "$cpu0" "$cpu1" "$(awk '/^ *transactions:/ { print $2 }' "$out")")
			if [[ $rc -ne 0 ]] || ! alive "$(pid_of $srv)"; then
				if alive "$(pid_of $srv)"; then
					FAIL[$key]="sysbench exit $rc"
				elif [[ $srv == strata ]] && grep -q 'strata: shutting down' "$WORK/strata.log"; then
					# Only SIGINT/SIGTERM make strata log this, and this script sends neither before it ends.
					FAIL[$key]="strata stopped by a signal from outside this script"
				else
					FAIL[$key]="server died"
				fi
				problems+="$srv $wl threads=$th: ${FAIL[$key]}"$'\n'
				problems+="$(grep -E 'FATAL|ERROR|error' "$out" | sort | uniq -c | sort -rn | head -n 5)"$'\n'
				log "$srv $wl threads=$th FAILED (${FAIL[$key]}):"
				grep -E 'FATAL|ERROR|error' "$out" | head -n 5 >&2 || tail -n 5 "$out" >&2
			fi
			read -r tps qps p95 ign <<<"${RES[$key]}"
			log "$srv $wl threads=$th: tps $tps qps $qps p95 $p95 ms, ignored errors $ign"
		done
	done
done

# --- report ------------------------------------------------------------------------------------
human() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else if (v >= 10000) printf "%.1fk\n", v / 1000; else if (v >= 100) printf "%.0f\n", v; else printf "%.1f\n", v }'; }
ratio() { awk -v a="$1" -v b="$2" -v s="${3:-}" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f%s\n", a / b, s }'; }

echo
echo "sysbench $(sysbench --version | awk '{print $2}'): $(date -u +%Y-%m-%d), nproc=$(nproc), tables=$TABLES table_size=$TABLE_SIZE time=${TIME}s, --rand-type=uniform, $((SECONDS - start)) s in all"
echo "MariaDB $MARIADB_VERSION ($MARIADB_VARS) vs strata up ($STRATA_MODE) --buffer-pool-mb $BUFFER_POOL_MB"
echo "strata at $REV; load average at the start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "prepare ($TABLES x $TABLE_SIZE rows): MariaDB ${PREP_S[mariadb]} s, Strata ${PREP_S[strata]} s$(
	[[ ${PREP_RC[strata]} -ne 0 ]] && echo ' (Strata prepare FAILED)')$([[ ${PREP_RC[mariadb]} -ne 0 ]] && echo ' (MariaDB prepare FAILED)')"
echo
# aim label figure limit: "label: 0.47x (aim >= 0.5x: NOT met)"
aim() {
	awk -v l="$1" -v r="$2" -v m="$3" 'BEGIN {
		if (r == "-") printf "%s: no figure (aim >= %sx: NOT met)\n", l, m
		else printf "%s: %sx (aim >= %sx: %s)\n", l, r, m, (r + 0 >= m + 0 ? "met" : "NOT met")
	}'
}
# cpu_of key: the server's CPU per transaction in µs over the run ("-" if unknown).
cpu_of() { printf '%s\n' "${CPU[$1]:-}" | awk '$1 == "total" { v = $2 } END { print (v == "" ? "-" : v) }'; }
fmt='| %-17s | %7s | %7s | %7s | %8s | %9s | %7s | %7s | %8s | %9s | %7s | %s |\n'
printf "$fmt" workload threads "M tps" "M qps" "M p95 ms" "M CPU µs/tx" "S tps" "S qps" "S p95 ms" "S CPU µs/tx" "S/M qps" "ignored errors M / S"
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s:|%s:|%s:|%s:|%s|\n' ------------------- --------- --------- --------- ---------- ----------- --------- --------- ---------- ----------- --------- ------
aims=""
for wl in $WORKLOADS; do
	for th in $THREADS; do
		read -r mt mq mp me <<<"${RES[$wl/$th/mariadb]}"
		read -r st sq sp se <<<"${RES[$wl/$th/strata]}"
		errs="$me / $se"
		[[ -n ${FAIL[$wl/$th/mariadb]:-} ]] && errs+=" (MariaDB: ${FAIL[$wl/$th/mariadb]})"
		[[ -n ${FAIL[$wl/$th/strata]:-} ]] && errs+=" (Strata: ${FAIL[$wl/$th/strata]})"
		# shellcheck disable=SC2059
		printf "$fmt" "$wl" "$th" "$(human "$mt")" "$(human "$mq")" "$mp" "$(cpu_of "$wl/$th/mariadb")" \
			"$(human "$st")" "$(human "$sq")" "$sp" "$(cpu_of "$wl/$th/strata")" "$(ratio "$sq" "$mq" x)" "$errs"
		case $wl in
		oltp_point_select) aims+="$(aim "point_select, $th threads: Strata/MariaDB qps" "$(ratio "$sq" "$mq")" 0.5)"$'\n' ;;
		oltp_write_only) aims+="$(aim "write_only, $th threads: Strata/MariaDB tps" "$(ratio "$st" "$mt")" 1.0)"$'\n' ;;
		esac
	done
done
echo
echo "CPU µs per transaction: each server's processes, user + system time from /proc over the run, over the transactions sysbench counted (sysbench's own is not in it)."
if [[ $STRATA_MODE == cluster ]]; then
	for wl in $WORKLOADS; do
		for th in $THREADS; do
			echo "strata $wl threads=$th, by process: $(printf '%s\n' "${CPU[$wl/$th/strata]:-}" | awk '$1 != "total" { printf "%s%s %s", s, $1, $2; s = ", " }')"
		done
	done
fi
echo
[[ -n $aims ]] && printf '%s' "$aims"
if [[ -n $problems ]]; then
	echo
	echo "problems:"
	printf '%s' "$problems"
fi
if grep -qE '^panic:|fatal error:' "$WORK/strata.log"; then
	echo
	echo "strata.log contains a panic:"
	grep -m1 -A 15 -E '^panic:|fatal error:' "$WORK/strata.log"
fi
echo
echo "raw outputs: $WORK (run-*.txt, prepare-*.txt, mariadb.log, strata.log)"
