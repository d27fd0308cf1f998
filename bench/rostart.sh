#!/usr/bin/env bash
# Read-only node start to serving, and taking a snapshot, at two database sizes, on `strata up` (a cluster of
# processes on loopback): `strata ctl add-ro` (records the node, the supervisor starts it, it
# opens at the log's latest group end with an empty pool and waits for the writer's
# acknowledgement of its horizon) until it serves MySQL, then `ctl remove-ro`; REPEAT times at
# about SMALL_MB of data (logical: 1 KiB a row of random hex, which the Page Stores' pebble
# compresses about twice), then again after the data grew to about LARGE_MB; the same for
# `ctl snapshot create` (until the writer fixed its log position; then deleted) and `ctl branch
# create` (until the branch's own writer serves MySQL; then deleted), and `ctl restore` to the
# second before (until the main database's writer serves the restored timeline; the branch that
# keeps the previous state is then deleted, which retires it). None should grow with the size: a
# read-only node copies nothing, a snapshot records a moment, a branch and a restore share the
# pages. Then a branch made from the archive (`ctl history --set 5s` for the while, a moment
# the Page Stores no longer keep): its pages are copied from the archive's newest base before
# the moment (one every 64 MiB of log here) and the log after it replayed, or the whole log
# when there is no base yet, so its time grows with the size.
#
#   bash bench/rostart.sh
#   SMALL_MB=10 LARGE_MB=1024 REPEAT=3 bash bench/rostart.sh
#
# Environment: SMALL_MB (10), LARGE_MB (1024), REPEAT (3), KEEP (0). See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SMALL_MB=${SMALL_MB:-10}
LARGE_MB=${LARGE_MB:-1024}
REPEAT=${REPEAT:-3}
KEEP=${KEEP:-0}

NAME=rostart.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh
CLIENT=$(find_bin mariadb mysql) || die "mysql client not found (apt-get install -y mariadb-client)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-rostart.XXXXXX")
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
"$WORK/strata" up --data "$WORK/strata-data" --port "$PORT" --ro 0 --archive-base-mb 64 >"$WORK/strata.log" 2>&1 &
STRATA_PID=$!
wait_sql strata "$STRATA_PID" "$PORT"
sql "$PORT" 'CREATE DATABASE b; CREATE TABLE b.t (id BIGINT PRIMARY KEY AUTO_INCREMENT, k INT NOT NULL, pad VARCHAR(1000) NOT NULL, KEY (k))'

rows() { "$CLIENT" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$PORT" -u root -N -e 'SELECT COUNT(*) FROM b.t'; }
# size is the data's logical size in MB: 1 KiB a row (the 1000-byte pad, the key, k and the
# index entry). What a Page Store holds on disk (du) moves with compaction and is smaller: its
# pebble compresses the hex pads about twice.
size() { echo $(($(rows) * 1024 / 1048576)); }
# A 1000-character pad of random hex (eight SHA-512 digests of random numbers).
PAD="LEFT(CONCAT($(for i in 1 2 3 4 5 6 7 8; do printf 'SHA2(RAND(), 512),'; done | sed 's/,$//')), 1000)"

# disk is what the first Page Store holds, its timelines' stores included (after a restore the
# main database is one of them).
disk() { du -smc "$WORK/strata-data/pagestore-1" "$WORK/strata-data/pagestore-1.timelines" 2>/dev/null | tail -1 | cut -f1; }
# grow_to MB: doubles the table (INSERT … SELECT, fresh pads) until it holds MB of data.
grow_to() {
	if [[ $(rows) == 0 ]]; then
		local j # 1000 rows, 100 a statement (one argument must stay under 128 KiB)
		for j in $(seq 1 10); do
			sql "$PORT" "INSERT INTO b.t (k, pad) VALUES $(for i in $(seq 1 100); do printf '(%d, %s),' "$RANDOM" "$PAD"; done | sed 's/,$//')"
		done
	fi
	local mb
	while mb=$(size) && ((mb < $1)); do
		local n
		n=$(rows)
		# Double, but not far past the target (the size moves with compaction: at least 1000).
		local want=$n
		if ((mb > 0)); then want=$((n * ($1 - mb) / mb + 1000)); fi
		((want > n)) && want=$n
		((want < 1000)) && want=1000
		((want > 100000)) && want=100000 # one transaction of at most about 100 MB
		log "growing: $n rows, $mb MB; inserting $want"
		sql "$PORT" "INSERT INTO b.t (k, pad) SELECT k + 1, $PAD FROM b.t LIMIT $want"
	done
}
addro() { # label
	local t0 t1 out
	t0=$(date +%s.%N)
	out=$("$WORK/strata" ctl add-ro ro-x --data "$WORK/strata-data" 2>&1) || die "ctl add-ro: $out"
	t1=$(date +%s.%N)
	printf 'add-ro\t%s\t%s rows\t%s MB of data\t%s MB on a Page Store disk\t%.2f s\n' "$1" "$(rows)" "$(size)" "$(disk)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
	"$WORK/strata" ctl remove-ro ro-x --data "$WORK/strata-data" >/dev/null 2>&1 || die "ctl remove-ro failed"
	sleep 2
}

snap() { # label
	local t0 t1 out
	t0=$(date +%s.%N)
	out=$("$WORK/strata" ctl snapshot create bench --data "$WORK/strata-data" 2>&1) || die "ctl snapshot create: $out"
	t1=$(date +%s.%N)
	printf 'snapshot\t%s\t%s rows\t%s MB of data\t%s MB on a Page Store disk\t%.2f s\n' "$1" "$(rows)" "$(size)" "$(disk)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
	"$WORK/strata" ctl snapshot delete bench --data "$WORK/strata-data" >/dev/null 2>&1 || die "ctl snapshot delete failed"
}

branch() { # label
	local t0 t1 out
	t0=$(date +%s.%N)
	out=$("$WORK/strata" ctl branch create bench --data "$WORK/strata-data" 2>&1) || die "ctl branch create: $out"
	t1=$(date +%s.%N)
	printf 'branch\t%s\t%s rows\t%s MB of data\t%s MB on a Page Store disk\t%.2f s\n' "$1" "$(rows)" "$(size)" "$(disk)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
	"$WORK/strata" ctl branch delete bench --data "$WORK/strata-data" >/dev/null 2>&1 || die "ctl branch delete failed"
	sleep 3 # its writer stops, the Page Stores drop its store
}

restore() { # label
	local t0 t1 out at keep
	keep=before-$(date +%s%N) # (a retired branch keeps its name)
	at=$(date '+%Y-%m-%d %H:%M:%S')
	sleep 1
	t0=$(date +%s.%N)
	out=$("$WORK/strata" ctl restore --at "$at" --keep-as "$keep" --data "$WORK/strata-data" 2>&1) || die "ctl restore: $out"
	t1=$(date +%s.%N)
	printf 'restore\t%s\t%s rows\t%s MB of data\t%s MB on a Page Store disk\t%.2f s\n' "$1" "$(rows)" "$(size)" "$(disk)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
	sleep 2
	"$WORK/strata" ctl branch delete "$keep" --data "$WORK/strata-data" >/dev/null 2>&1 || die "ctl branch delete failed"
	sleep 3 # its writer stops
}

archbranch() { # label
	local t0 t1 out at from
	"$WORK/strata" ctl history --set 5s --data "$WORK/strata-data" >/dev/null 2>&1 || die "ctl history --set failed"
	at=$(date '+%Y-%m-%d %H:%M:%S.%6N')
	sleep 1
	sql "$PORT" "UPDATE b.t SET k = k + 1 WHERE id = 1"
	sleep 12 # the moment leaves the window, the horizon the writer gives the Page Stores passes it, and the archive (10 s delay) holds the commit after it
	sql "$PORT" "UPDATE b.t SET k = k + 1 WHERE id = 1"
	t0=$(date +%s.%N)
	out=$("$WORK/strata" ctl branch create bench --at "$at" --wait 30m --data "$WORK/strata-data" 2>&1) || die "ctl branch create (archive): $out"
	t1=$(date +%s.%N)
	"$WORK/strata" ctl history --set 1h --data "$WORK/strata-data" >/dev/null 2>&1 || die "ctl history --set failed"
	case $out in
	*"its base at lsn"*) from="from a base" ;;
	*"archive's log"*) from="from the log" ;;
	*) die "the branch was not made from the archive: $out" ;;
	esac
	printf 'archive branch\t%s\t%s rows\t%s MB of data\t%s\t%.2f s\n' "$1" "$(rows)" "$(size)" "$from" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
	"$WORK/strata" ctl branch delete bench --data "$WORK/strata-data" >/dev/null 2>&1 || die "ctl branch delete failed"
	sleep 3
}

RESULTS=()
grow_to "$SMALL_MB"
sleep 5 # let the Page Stores settle
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(addro small)"); log "${RESULTS[-1]}"; done
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(snap small)"); log "${RESULTS[-1]}"; done
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(branch small)"); log "${RESULTS[-1]}"; done
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(restore small)"); log "${RESULTS[-1]}"; done
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(archbranch small)"); log "${RESULTS[-1]}"; done
grow_to "$LARGE_MB"
sleep 5
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(addro large)"); log "${RESULTS[-1]}"; done
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(snap large)"); log "${RESULTS[-1]}"; done
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(branch large)"); log "${RESULTS[-1]}"; done
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(restore large)"); log "${RESULTS[-1]}"; done
for ((i = 0; i < REPEAT; i++)); do RESULTS+=("$(archbranch large)"); log "${RESULTS[-1]}"; done

echo
echo "strata up (1 RW, read-only nodes added and removed) at $REV, $(date -u +%Y-%m-%d), nproc=$(nproc)"
printf '%s\n' "${RESULTS[@]}"
if grep -qE '^panic:|fatal error:' "$WORK"/strata-data/logs/*.log 2>/dev/null; then
	echo "a node log contains a panic"
	exit 1
fi
