#!/usr/bin/env bash
# Failover and planned switchover on `strata up` (real processes on loopback, the proxy on the
# MySQL port, 4 writers through it), beside their baseline in the same run: the writer
# SIGKILLed with no read-only node, restarted by its supervisor (as before failover existed).
# Runs the cluster tests that measure them (internal/clustertest, -failover), alternating,
# REPEAT times, and prints a table:
#   restart     SIGKILL of the writer to the first write accepted through the proxy (no RO)
#   failover    the same with one RO, which takes over (the supervisor holds the old writer)
#   switchover  `strata ctl failover`: request to the new writer serving; the longest time
#               with no write succeeding; autocommit statements that failed
#
#   bash bench/failover.sh
#   REPEAT=5 bash bench/failover.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPEAT=${REPEAT:-3}
NAME=failover.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-failover.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
log "go test -c ./internal/clustertest"
go test -c -o "$WORK/clustertest.test" ./internal/clustertest

run() { # test name
	(cd internal/clustertest && "$WORK/clustertest.test" -test.run "^$1\$" -test.v -test.count=1 -failover -test.timeout 10m) >"$WORK/$1.$2.txt" 2>&1 ||
		die "$1 failed: $(grep -E -- '--- FAIL|_test.go' "$WORK/$1.$2.txt" | head -n 20)"
}
RESULTS=()
for ((i = 1; i <= REPEAT; i++)); do
	log "round $i: restart"
	run TestRestartUnderLoad "$i"
	RESULTS+=("$(printf 'restart\t%s\t%s failed' "$(grep -o 'restarted by its supervisor: [0-9.]*m\?s' "$WORK/TestRestartUnderLoad.$i.txt" | awk '{print $NF}')" \
		"$(grep -o '[0-9]* statements failed after the kill' "$WORK/TestRestartUnderLoad.$i.txt" | awk '{print $1}')")")
	log "round $i: failover"
	run TestFailoverUnderLoad "$i"
	RESULTS+=("$(printf 'failover\t%s\t%s failed\tkept %s pages' "$(grep -o 'through the proxy: [0-9.]*m\?s' "$WORK/TestFailoverUnderLoad.$i.txt" | awk '{print $NF}')" \
		"$(grep -o '[0-9]* statements failed after the kill' "$WORK/TestFailoverUnderLoad.$i.txt" | awk '{print $1}')" \
		"$(grep -o 'kept_pages=[0-9]*' "$WORK/TestFailoverUnderLoad.$i.txt" | head -n 1 | cut -d= -f2)")")
	log "round $i: switchover"
	run TestSwitchover "$i"
	while read -r line; do RESULTS+=("$line"); done < <(grep -A1 '_test.go:[0-9]*: switchover to' "$WORK/TestSwitchover.$i.txt" |
		tr '\n' ' ' | sed 's/--/\n/g' | sed -E 's/.*\(([0-9.]+m?s)\).*longest pause of the writes ([0-9.]+m?s); ([0-9]+) autocommit.*/switchover\t\1\tpause \2\t\3 failed/')
done
echo
echo "strata up, proxy on the MySQL port, 4 writers through it, at $REV, $(date -u +%Y-%m-%d), nproc=$(nproc)"
printf '%s\n' "${RESULTS[@]}"
