#!/usr/bin/env bash
# Runs Strata's storage engine benchmarks (B+tree, engine reads, durable commits, buffer pool
# memory) and prints a table of ns/op and the custom metrics, followed by each figure's ratio to
# its baseline. The raw `go test` output streams to stderr as it comes and is kept in a file.
#
#   bash bench/engine.sh                  # about 100 s on 2 cores
#   BENCHTIME=1s COMMIT_BENCHTIME=2000x bash bench/engine.sh   # quicker, noisier
#
# See bench/README.md for what each benchmark measures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCHTIME=${BENCHTIME:-3s}               # B+tree benchmarks
ENGINE_BENCHTIME=${ENGINE_BENCHTIME:-2s} # engine read benchmarks
COMMIT_BENCHTIME=${COMMIT_BENCHTIME:-3s} # durable commits: time-bounded whatever the disk does
POOL_BENCHTIME=${POOL_BENCHTIME:-1x}     # buffer pool memory: one load and scan per data size

raw=$(mktemp "${TMPDIR:-/tmp}/strata-bench.XXXXXX")

run() {
	local pkg=$1 pattern=$2 benchtime=$3
	echo "# go test $pkg -run '^\$' -bench '$pattern' -benchtime $benchtime -count 1" >&2
	go test "$pkg" -run '^$' -bench "$pattern" -benchtime "$benchtime" -count 1 | tee -a "$raw" >&2
}

start=$SECONDS
run ./internal/btree '^(BenchmarkPointGet|BenchmarkPut|BenchmarkScan)$' "$BENCHTIME"
run ./internal/engine '^(BenchmarkTxnGet|BenchmarkTxnScan)$' "$ENGINE_BENCHTIME"
run ./internal/localdb '^BenchmarkCommit$' "$COMMIT_BENCHTIME"
run ./internal/localdb '^BenchmarkPoolMemory$' "$POOL_BENCHTIME"

echo
echo "strata engine benchmarks: $(date -u +%Y-%m-%d), nproc=$(nproc), $(go env GOVERSION), $((SECONDS - start)) s"
echo
awk '
function human(v) {
	if (v >= 1e9) return sprintf("%.2fG", v / 1e9)
	if (v >= 1e6) return sprintf("%.2fM", v / 1e6)
	if (v >= 1e4) return sprintf("%.1fk", v / 1e3)
	if (v == int(v)) return sprintf("%d", v)
	return sprintf("%.3g", v)
}
function ratio(label, a, ua, b, ub,    x, y) {
	x = m[a SUBSEP ua]; y = m[b SUBSEP ub]
	if (x == "" || y == "" || y + 0 == 0) return
	printf "  %-58s %8.2fx\n", label, x / y
	r[label] = x / y
}
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	nsop = ""
	extra = ""
	for (i = 3; i < NF; i += 2) {
		v = $i; u = $(i + 1)
		m[name SUBSEP u] = v
		if (u == "ns/op") nsop = v
		else if (u != "B/op" && u != "allocs/op" && u != "MB/s") extra = extra sprintf("  %s %s", human(v), u)
	}
	rows[++n] = sprintf("%-52s %12s %s", name, human(nsop), extra)
}
END {
	printf "%-52s %12s  %s\n", "benchmark", "ns/op", "metrics"
	for (i = 1; i <= n; i++) print rows[i]
	print ""
	print "ratios (figure / baseline):"
	ratio("PointGet btree / sorted slice (gets/s)", "BenchmarkPointGet/btree", "gets/s", "BenchmarkPointGet/baseline=sorted-slice", "gets/s")
	ratio("PointGet btree-parallel / sorted slice parallel (gets/s)", "BenchmarkPointGet/btree-parallel", "gets/s", "BenchmarkPointGet/baseline=sorted-slice-parallel", "gets/s")
	ratio("PointGet btree-parallel / btree one goroutine (gets/s)", "BenchmarkPointGet/btree-parallel", "gets/s", "BenchmarkPointGet/btree", "gets/s")
	ratio("Put random / map insert (puts/s)", "BenchmarkPut/random", "puts/s", "BenchmarkPut/baseline=map-insert", "puts/s")
	ratio("Put sequential / map insert (puts/s)", "BenchmarkPut/sequential", "puts/s", "BenchmarkPut/baseline=map-insert", "puts/s")
	ratio("Scan forward / sorted slice (rows/s)", "BenchmarkScan/forward", "rows/s", "BenchmarkScan/baseline=sorted-slice-forward", "rows/s")
	ratio("Scan reverse / sorted slice (rows/s)", "BenchmarkScan/reverse", "rows/s", "BenchmarkScan/baseline=sorted-slice-reverse", "rows/s")
	ratio("TxnGet one-txn / sorted slice (gets/s)", "BenchmarkTxnGet/one-txn", "gets/s", "BenchmarkTxnGet/baseline=sorted-slice", "gets/s")
	ratio("TxnGet txn-per-get / sorted slice (gets/s)", "BenchmarkTxnGet/txn-per-get", "gets/s", "BenchmarkTxnGet/baseline=sorted-slice", "gets/s")
	ratio("TxnScan forward / sorted slice (rows/s)", "BenchmarkTxnScan/forward", "rows/s", "BenchmarkTxnScan/baseline=sorted-slice", "rows/s")
	ratio("Commit 1 committer / raw fdatasync (commits/s per fsync/s)", "BenchmarkCommit/committers=1", "commits/s", "BenchmarkCommit/baseline=fsync", "fsync/s")
	ratio("Commit 16 committers / 1 committer (commits/s)", "BenchmarkCommit/committers=16", "commits/s", "BenchmarkCommit/committers=1", "commits/s")
	ratio("Commit 64 committers / 1 committer (commits/s)", "BenchmarkCommit/committers=64", "commits/s", "BenchmarkCommit/committers=1", "commits/s")
	ratio("PoolMemory 40k rows: peak live heap / pool", "BenchmarkPoolMemory/rows=40k", "heap-live-MiB", "BenchmarkPoolMemory/rows=40k", "pool-MiB")
	ratio("PoolMemory 40k rows: peak live heap / data", "BenchmarkPoolMemory/rows=40k", "heap-live-MiB", "BenchmarkPoolMemory/rows=40k", "data-MiB")
	ratio("PoolMemory 80k rows: peak live heap / data", "BenchmarkPoolMemory/rows=80k", "heap-live-MiB", "BenchmarkPoolMemory/rows=80k", "data-MiB")
	ratio("PoolMemory peak live heap, 80k rows / 40k rows", "BenchmarkPoolMemory/rows=80k", "heap-live-MiB", "BenchmarkPoolMemory/rows=40k", "heap-live-MiB")
	k = "Commit 64 committers / 1 committer (commits/s)"
	if (k in r) {
		print ""
		printf "aim: 64 committers >= 20x the single-committer rate: %s (%.1fx)\n", (r[k] >= 20 ? "met" : "NOT met"), r[k]
	}
}' "$raw"
echo
echo "raw go test output: $raw"
