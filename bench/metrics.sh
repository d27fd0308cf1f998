#!/usr/bin/env bash
# The cost of metrics: sysbench against two `strata up --single` servers of the same build, one
# with metrics (the default: a /metrics server, latency histograms observed, scraped every
# SCRAPE seconds as Prometheus would) and one without (--metrics-addr ''), alternately, ROUNDS
# times per cell, and prints each cell's range of qps and the overhead of metrics on the medians.
#
#   bash bench/metrics.sh                       # defaults: about 11 min on 2 cores
#   ROUNDS=2 TIME=10 bash bench/metrics.sh
#
# Environment: TABLES (4), TABLE_SIZE (100000), TIME (20 s per run), THREADS ("1 16"),
# WORKLOADS ("oltp_point_select oltp_write_only"), ROUNDS (3), SCRAPE (5 s), BUFFER_POOL_MB
# (256), KEEP (0). Needs sysbench and a mysql client (apt-get install -y sysbench mariadb-client).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-100000}
TIME=${TIME:-20}
THREADS=${THREADS:-"1 16"}
WORKLOADS=${WORKLOADS:-"oltp_point_select oltp_write_only"}
ROUNDS=${ROUNDS:-3}
SCRAPE=${SCRAPE:-5}
BUFFER_POOL_MB=${BUFFER_POOL_MB:-256}
KEEP=${KEEP:-0}

NAME=metrics.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

CLIENT=$(find_bin mariadb mysql) || die "no mysql client (apt-get install -y mariadb-client)"
command -v sysbench >/dev/null || die "sysbench not found (apt-get install -y sysbench)"
command -v curl >/dev/null || die "curl not found"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-metrics.XXXXXX")
declare -A PID PORT
SCRAPER=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ -n $SCRAPER ]] && kill "$SCRAPER" 2>/dev/null
	for s in on off; do stop_pid "${PID[$s]:-}" "strata-$s"; done
	if [[ $KEEP == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && REV+=" + uncommitted changes"
start=$SECONDS
log "go build -o $WORK/strata ./cmd/strata"
go build -o "$WORK/strata" ./cmd/strata

for s in on off; do
	PORT[$s]=$(free_port)
	maddr=()
	[[ $s == off ]] && maddr=(--metrics-addr "")
	"$WORK/strata" up --single --data "$WORK/data-$s" --port "${PORT[$s]}" --buffer-pool-mb "$BUFFER_POOL_MB" \
		"${maddr[@]}" >"$WORK/strata-$s.log" 2>&1 &
	PID[$s]=$!
	wait_sql "strata-$s" "${PID[$s]}" "${PORT[$s]}"
	sql "${PORT[$s]}" 'CREATE DATABASE sbtest'
done
METRICS_URL=$(sed -n 's/^strata: serving metrics on //p' "$WORK/strata-on.log" | head -n 1)
[[ -n $METRICS_URL ]] || die "the server with metrics printed no metrics address"
if grep -q '^strata: serving metrics on' "$WORK/strata-off.log"; then die "--metrics-addr '' still served metrics"; fi
log "metrics at $METRICS_URL, scraped every $SCRAPE s"
(while sleep "$SCRAPE"; do curl -sf -o /dev/null "$METRICS_URL" || true; done) &
SCRAPER=$!

sb() { # port workload args...
	local port=$1 wl=$2
	shift 2
	sysbench "$wl" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=root \
		--mysql-password= --mysql-db=sbtest --tables="$TABLES" --table-size="$TABLE_SIZE" "$@"
}
for s in on off; do
	log "strata-$s: prepare $TABLES x $TABLE_SIZE rows"
	sb "${PORT[$s]}" oltp_read_write prepare >"$WORK/prepare-$s.txt" 2>&1 || die "prepare failed on strata-$s"
done

qps() { awk '/^ *queries:/ { v = $0; sub(/.*\(/, "", v); sub(/ per sec.*/, "", v); print v }' "$1"; }

declare -A Q
for wl in $WORKLOADS; do
	for th in $THREADS; do
		for ((r = 1; r <= ROUNDS; r++)); do
			# Alternate which goes first, so that neither always runs on a warmer machine.
			order="off on"
			((r % 2 == 0)) && order="on off"
			for s in $order; do
				out="$WORK/run-$wl-t$th-r$r-$s.txt"
				sb "${PORT[$s]}" "$wl" --threads="$th" --time="$TIME" --rand-type=uniform run >"$out" 2>&1 ||
					die "sysbench failed on strata-$s: $(tail -n 5 "$out")"
				v=$(qps "$out")
				Q[$wl/$th/$s]+="$v "
				log "$wl threads=$th round $r metrics $s: $v qps"
			done
		done
	done
done

# stats "v v v": "min max median"
stats() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.0f %.0f %.0f\n", a[1], a[NR], m }'; }

echo
echo "metrics on vs off: strata up --single at $REV, $(date -u +%Y-%m-%d), nproc=$(nproc), $TABLES x $TABLE_SIZE rows, ${TIME}s runs, $ROUNDS rounds alternated, scrape every ${SCRAPE}s, $((SECONDS - start)) s in all"
fmt='| %-17s | %7s | %15s | %8s | %15s | %8s | %9s |\n'
printf "$fmt" workload threads "off qps range" "off med" "on qps range" "on med" "overhead"
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|\n' ------------------- --------- ----------------- ---------- ----------------- ---------- -----------
for wl in $WORKLOADS; do
	for th in $THREADS; do
		read -r olo ohi omed <<<"$(stats "${Q[$wl/$th/off]}")"
		read -r nlo nhi nmed <<<"$(stats "${Q[$wl/$th/on]}")"
		over=$(awk -v a="$omed" -v b="$nmed" 'BEGIN { printf "%+.1f%%", (a - b) / a * 100 }')
		# shellcheck disable=SC2059
		printf "$fmt" "$wl" "$th" "$olo-$ohi" "$omed" "$nlo-$nhi" "$nmed" "$over"
	done
done
echo "overhead: (off − on) / off on the medians; negative means the run with metrics was faster (noise)."
