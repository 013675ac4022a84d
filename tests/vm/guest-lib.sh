# guest-lib.sh: shared by the lane's guest scripts (busybox sh; installed
# as /vm-lib.sh, sourced by /init, server-guest.sh and conform-guest.sh).
#
#   calibrate             time a fixed loop; SCALE = how many times slower
#                         the guest runs than CALIB_REF_MS says it should
#                         (1 .. SCALE_MAX); the caller multiplies its timeouts
#   bounded SECS NAME CMD...
#                         run CMD (a command or a shell function, in a
#                         subshell) for at most SECS; on timeout, print what
#                         was running (diag), kill CMD's whole process tree
#                         (TERM, then KILL), say which processes would not
#                         die; returns CMD's status, 124 on timeout
#                         (with a "vm: progress:" line a minute)
#   diag WHY              what is running: the step's processes with their
#                         kernel stacks, the blocked tasks (sysrq-w), the
#                         server's log, the pool; every line "vm: diag: "
#   dmesg_judged          the kernel log without diag's own sysrq dumps
#
# Lines starting with "vm: diag:" are diagnostics: the host shows them and
# does not match its kernel-bug patterns against them.

CALIB_REF_MS=${CALIB_REF_MS:-1000}
SCALE_MAX=${SCALE_MAX:-4}
SCALE=${SCALE:-1}
LANE_PD_LOG=/var/log/usm-policyd.log
LANE_POOL=/sys/kernel/debug/usmfs/pool

# Centiseconds since boot.
uptime_cs() {
	read -r u_s _ </proc/uptime
	echo "${u_s%.*}${u_s#*.}"
}

calibrate() {
	c_t0=$(uptime_cs)
	awk 'BEGIN { for (i = 0; i < 20000; i++) s += i % 7; exit s < 0 }'
	c_ms=$((($(uptime_cs) - c_t0) * 10))
	c_s=$(((c_ms + CALIB_REF_MS - 1) / CALIB_REF_MS))
	[ "$c_s" -ge 1 ] || c_s=1
	[ "$c_s" -le "$SCALE_MAX" ] || c_s=$SCALE_MAX
	# Only ever up: a quiet moment must not shorten what a busy one set.
	[ "$c_s" -gt "$SCALE" ] && SCALE=$c_s
	echo "vm: calibration: ${c_ms} ms for the loop (quiet reference ${CALIB_REF_MS} ms): timeouts x$SCALE"
	echo "$SCALE" >/tmp/lane.scale
}

# The pids of PID and all its descendants, one a line.
# (cat, not awk FILES: a process may be gone by the time its file is
# opened, and busybox awk stops at a file it cannot open)
proc_tree() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
	{
		pid = $1
		s = $0
		sub(/^.*\) /, "", s)
		split(s, f, " ")
		parent[pid] = f[2]
	}
	END {
		want[root] = 1
		do {
			more = 0
			for (p in parent)
				if (!(p in want) && (parent[p] in want)) { want[p] = 1; more = 1 }
		} while (more)
		for (p in want) if (p in parent) print p
	}'
}

# One line per process: pid, name, state, where it waits; with STACKS=1
# also its kernel stack.
show_procs() {
	for p in $1; do
		[ -r "/proc/$p/stat" ] || continue
		st=$(sed 's/^.*) //' "/proc/$p/stat" | cut -d' ' -f1)
		echo "vm: diag: pid $p $(cat "/proc/$p/comm" 2>/dev/null) state $st wchan $(cat "/proc/$p/wchan" 2>/dev/null)"
		[ "${2:-0}" = 1 ] && [ -r "/proc/$p/stack" ] &&
			sed 's/^/vm: diag:     /' "/proc/$p/stack"
	done
	return 0
}

# A sysrq dump, copied from the kernel log with the "vm: diag:" prefix (the
# console is quiet meanwhile: its "Call Trace" lines are not failures of
# their own).  Marked in the kernel log so that dmesg_judged leaves it out.
sysrq_dump() {
	[ -w /proc/sysrq-trigger ] || return 0
	# (unique: a subshell's $$ is its parent's)
	tag="lane-sysrq-$(uptime_cs)-$(head -c 4 /dev/urandom | od -A n -t u4 | tr -d ' ')"
	lvl=$(cut -f1 /proc/sys/kernel/printk)
	echo 1 >/proc/sys/kernel/printk
	echo "$tag begin" >/dev/kmsg
	echo "$1" >/proc/sysrq-trigger
	sleep 1
	echo "$tag end" >/dev/kmsg
	sleep 1
	echo "$lvl" >/proc/sys/kernel/printk
	dmesg | sed -n "/$tag begin/,/$tag end/p" | grep -v "$tag" | head -n "${2:-300}" |
		sed 's/^/vm: diag: /'
}

dmesg_judged() {
	dmesg | awk '/lane-sysrq-[0-9]+-[0-9]+ begin/ { skip = 1 } !skip { print } /lane-sysrq-[0-9]+-[0-9]+ end/ { skip = 0 }'
}

# diag WHY [PIDS]: everything that says what is running.
diag() {
	echo "vm: diag: ---- $1 (uptime $(cut -d' ' -f1 /proc/uptime)s, load $(cut -d' ' -f1-3 /proc/loadavg)) ----"
	if [ -n "${2:-}" ]; then
		echo "vm: diag: the step's processes:"
		show_procs "$2" 1
	fi
	pd=$(pidof usm-policyd 2>/dev/null)
	if [ -n "$pd" ]; then
		echo "vm: diag: usm-policyd:"
		for p in $pd; do
			show_procs "$(ls "/proc/$p/task" 2>/dev/null)" 1
		done
	fi
	echo "vm: diag: processes in D state:"
	show_procs "$(cat /proc/[0-9]*/stat 2>/dev/null |
		awk '{ s = $0; sub(/^.*\) /, "", s); if (substr(s, 1, 1) == "D") print $1 }')" 1
	echo "vm: diag: blocked tasks (sysrq-w):"
	sysrq_dump w 400
	if [ -r "$LANE_POOL" ]; then
		echo "vm: diag: $LANE_POOL:"
		sed 's/^/vm: diag:   /' "$LANE_POOL" | head -n 40
	fi
	if [ -s "$LANE_PD_LOG" ]; then
		echo "vm: diag: usm-policyd's log (last 40 lines):"
		tail -n 40 "$LANE_PD_LOG" | sed 's/^/vm: diag:   /'
	fi
	echo "vm: diag: ---- end ----"
}

# progress NAME SECS: a line a minute while a step runs, with the pool's
# counters: a slow step's counters move, a stuck one's do not.
progress() {
	echo "vm: progress: $1 running for $2s; $(awk '
		$1 == "free" || $1 == "used" { printf "%s %s, ", $1, $2 }
		$1 == "mount" { for (i = 3; i <= NF; i++) if ($i ~ /^(evictions|swapins)=/) printf "%s ", $i }' \
		"$LANE_POOL" 2>/dev/null)"
}

# bounded SECS NAME CMD...
bounded() {
	b_secs=$1 b_name=$2
	shift 2
	echo "$b_name" >/tmp/lane.current
	b_t0=$(uptime_cs)
	( "$@" ) &
	b_pid=$!
	rm -f "/tmp/lane.timedout.$b_pid"
	(
		start=$(uptime_cs)
		end=$((start + b_secs * 100))
		beat=$((start + 6000))
		while now=$(uptime_cs) && [ "$now" -lt "$end" ]; do
			if [ "$now" -ge "$beat" ]; then
				progress "$b_name" $(((now - start) / 100))
				beat=$((beat + 6000))
			fi
			sleep 1
			[ -d "/proc/$b_pid" ] || exit 0
		done
		[ -d "/proc/$b_pid" ] || exit 0
		: >"/tmp/lane.timedout.$b_pid"
		echo "vm: TIMEOUT: $b_name still running after ${b_secs}s (timeouts x$SCALE): what runs:"
		tree=$(proc_tree "$b_pid")
		diag "timeout of $b_name" "$tree"
		# shellcheck disable=SC2086 # lists of pids
		kill -TERM $tree 2>/dev/null
		i=0
		while [ $i -lt 10 ] && [ -n "$(proc_tree "$b_pid")" ]; do
			sleep 1
			i=$((i + 1))
		done
		left=$tree
		# (a pid of the tree that is gone cannot be killed: ignore errors)
		# shellcheck disable=SC2086 # a list of pids
		kill -KILL $left 2>/dev/null
		sleep 5
		alive=
		for p in $left; do
			[ -d "/proc/$p" ] && [ "$(sed 's/^.*) //' "/proc/$p/stat" | cut -d' ' -f1)" != Z ] &&
				alive="$alive $p"
		done
		if [ -n "$alive" ]; then
			echo "vm: diag: NOT KILLABLE: after SIGKILL these of $b_name's processes still live (a kernel hang):"
			show_procs "$alive" 1
		else
			echo "vm: diag: $b_name's processes are gone after TERM/KILL"
		fi
	) &
	b_wd=$!
	wait "$b_pid"
	b_rc=$?
	if [ -e "/tmp/lane.timedout.$b_pid" ]; then
		wait "$b_wd"
		rm -f "/tmp/lane.timedout.$b_pid"
		b_rc=124
	else
		kill "$b_wd" 2>/dev/null
		wait "$b_wd" 2>/dev/null
	fi
	echo "-" >/tmp/lane.current
	# (for sizing the lane: where a guest's time goes)
	echo "vm: time: $b_name $((($(uptime_cs) - b_t0) / 100))s"
	return $b_rc
}
