# Shared by the bench/ scripts, which source it after setting NAME (for messages) and,
# before calling wait_sql, WORK (their temporary directory) and CLIENT (the mysql client).

log() { echo "# $*" >&2; }
die() { echo "${NAME:-bench}: $*" >&2; exit 1; }

# find_bin name...: the first of the names found in PATH, /usr/sbin or /usr/bin.
find_bin() {
	local n
	for n in "$@"; do
		if command -v "$n" >/dev/null 2>&1; then command -v "$n"; return 0; fi
		if [[ -x /usr/sbin/$n ]]; then echo "/usr/sbin/$n"; return 0; fi
		if [[ -x /usr/bin/$n ]]; then echo "/usr/bin/$n"; return 0; fi
	done
	return 1
}

# stop_pid pid name: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
	local pid=$1 name=$2 i
	[[ -n $pid ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
		sleep 0.1
	done
	log "$name (pid $pid) did not stop in 30 s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on (a connection to it is refused).
used_ports=" "
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 40000))
		[[ $used_ports == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			used_ports+="$p "
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# wait_sql name pid port: until `SELECT 1` succeeds (120 s), or the process exits.
wait_sql() {
	local name=$1 pid=$2 port=$3 i
	for ((i = 0; i < 1200; i++)); do
		kill -0 "$pid" 2>/dev/null || die "$name exited while starting; see $WORK/$name.log:
$(tail -n 20 "$WORK/$name.log")"
		if "$CLIENT" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$port" -u root -e 'SELECT 1' >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	die "$name did not accept connections in 120 s; see $WORK/$name.log"
}

# sql port statement
sql() { "$CLIENT" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$1" -u root -e "$2"; }

# tree_pids pid: pid and its descendants.
tree_pids() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1" 2>/dev/null); do tree_pids "$c"; done
}

# cpu_by_role pid: "role ticks" for pid's process tree, the CPU time (user + system, in clock
# ticks) summed by role: a strata process's subcommand (up, meta, logstore, pagestore,
# compute, proxy), else the program's name.
cpu_by_role() {
	local p role
	for p in $(tree_pids "$1"); do
		[[ -r /proc/$p/stat ]] || continue
		role=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | awk '{ n = split($1, a, "/"); r = a[n]; if (r ~ /^strata/ && $2 != "") r = $2; print r }')
		[[ -n $role ]] || continue
		# Field 2 (the command name) has no spaces for these programs.
		awk -v r="$role" '{ print r, $14 + $15 }' "/proc/$p/stat" 2>/dev/null
	done | awk '{ s[$1] += $2 } END { for (r in s) print r, s[r] }' | sort
}

# cpu_per_txn before after txns: from two cpu_by_role outputs, "role µs" of CPU per
# transaction for each role, and "total µs".
cpu_per_txn() {
	local hz
	hz=$(getconf CLK_TCK)
	awk -v hz="$hz" -v n="$3" '
		FNR == NR { b[$1] = $2; next }
		{ d = $2 - b[$1]; if (d < 0) d = 0; a[$1] = d; t += d }
		END {
			if (n + 0 == 0) exit
			for (r in a) printf "%s %.0f\n", r, a[r] * 1e6 / hz / n
			printf "total %.0f\n", t * 1e6 / hz / n
		}' <(printf '%s\n' "$1") <(printf '%s\n' "$2") | sort
}
