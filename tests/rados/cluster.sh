#!/bin/bash
# tests/rados/cluster.sh - a one-node Ceph cluster on 127.0.0.1 for the
# RADOS store's tests (docs/stores.md, tests/rados/README).
#
#   cluster.sh start DIR   make DIR (must not exist), start a monitor and one
#                          OSD in it, create the pool "usm" (size 1); prints
#                          the seconds it took.  Fails (and stops what it
#                          started) after CLUSTER_TIMEOUT seconds (120).
#   cluster.sh stop DIR    stop the daemons started in DIR, remove DIR
#   cluster.sh osd-stop DIR / osd-start DIR   stop / start the OSD again
#
# Everything lives in DIR: the config (DIR/ceph.conf), the keyrings
# (DIR/client.admin.keyring: client.admin, DIR/usm.keyring: client.usm, allowed
# to read and write the pool "usm" only), the monitor's store, the OSD's
# BlueStore on a sparse 4 GiB file (DIR/osd.block), the logs and pid files.
# The daemons listen on 127.0.0.1 only, on a port picked free at start.
# BlueStore on a file rather than MemStore: the OSD keeps its objects when
# it is stopped (even killed) and started again, which is what the tests
# of an OSD outage check; MemStore keeps them in memory only.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|osd-stop|osd-start DIR" >&2; exit 2; }
TIMEOUT=${CLUSTER_TIMEOUT:-120}

ceph_() { timeout 60 ceph --connect-timeout 15 -c "$dir/ceph.conf" -k "$dir/client.admin.keyring" -n client.admin "$@"; }

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo $p; return 0
		fi
	done
	return 1
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {	# pidfile: TERM, then KILL after 15 s
	local f=$1 pid i
	pid_alive "$f" || return 0
	pid=$(cat "$f")
	kill "$pid" 2>/dev/null || true
	for i in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

osd_start() {
	ceph-osd -c "$dir/ceph.conf" -i 0 --pid-file "$dir/osd.pid" >>"$dir/osd.out" 2>&1
}

# osd.0 up and, once the pool exists, every PG of it serving: listing the
# pool visits each PG, and fails (within 5 s) while one is still peering.
wait_osd_up() {
	local until=$((SECONDS + $1))
	while [ $SECONDS -lt $until ]; do
		if ceph_ osd dump 2>/dev/null | grep -q '^osd.0 up' &&
		   { ! ceph_ osd pool ls 2>/dev/null | grep -qx usm ||
		     timeout 20 rados -c "$dir/ceph.conf" --rados-osd-op-timeout 5 \
			-p usm --all ls >/dev/null 2>&1; }; then
			return 0
		fi
		sleep 1
	done
	echo "cluster: osd.0 not up after $1 s" >&2
	return 1
}

start() {
	local t0=$SECONDS fsid port osd_uuid
	[ ! -e "$dir" ] || { echo "cluster: $dir exists: refused" >&2; exit 1; }
	mkdir -p "$dir/mon" "$dir/osd" "$dir/run"
	fsid=$(cat /proc/sys/kernel/random/uuid)
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	port=$(free_port)
	cat > "$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
public addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/\$name.log
pid file = $dir/\$name.pid
keyring = $dir/\$name.keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
auth allow insecure global id reclaim = false
osd crush chooseleaf type = 0
[mon]
mon data = $dir/mon
mon initial members = a
[osd]
osd data = $dir/osd
osd objectstore = bluestore
bluestore block path = $dir/osd.block
bluestore block create = true
bluestore block size = 4294967296
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096
osd max object size = 134217728
osd op num shards = 1
osd op num threads per shard = 2
CONF
	ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
	ceph-authtool --create-keyring "$dir/client.admin.keyring" --gen-key -n client.admin \
		--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
	ceph-authtool --create-keyring "$dir/client.usm.keyring" --gen-key -n client.usm \
		--cap mon 'allow r' --cap osd 'allow rwx pool=usm' >/dev/null
	ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/client.admin.keyring" >/dev/null
	ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/client.usm.keyring" >/dev/null
	cp "$dir/mon.keyring" "$dir/mon.a.keyring"
	monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" "$dir/monmap" >/dev/null
	ceph-mon -c "$dir/ceph.conf" -i a --mkfs --monmap "$dir/monmap" \
		--keyring "$dir/mon.keyring" >/dev/null
	ceph-mon -c "$dir/ceph.conf" -i a --pid-file "$dir/mon.pid" >>"$dir/mon.out" 2>&1
	ceph_ osd new "$osd_uuid" >/dev/null || return 1
	ceph-authtool --create-keyring "$dir/osd.0.keyring" --gen-key -n osd.0 >/dev/null
	ceph_ auth add osd.0 osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' \
		-i "$dir/osd.0.keyring" >/dev/null 2>&1
	ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/osd-mkfs.log" 2>&1 || return 1
	osd_start
	wait_osd_up $((TIMEOUT - (SECONDS - t0))) || return 1
	ceph_ osd pool create usm 8 8 >/dev/null 2>&1
	ceph_ osd pool set usm size 1 --yes-i-really-mean-it >/dev/null 2>&1 || true
	ceph_ osd pool application enable usm usmfs >/dev/null 2>&1
	wait_osd_up $((TIMEOUT - (SECONDS - t0))) || return 1
	echo "cluster: up in $((SECONDS - t0)) s ($dir/ceph.conf, pool usm)"
}

stop() {
	stop_pid "$dir/osd.pid"
	stop_pid "$dir/mon.pid"
	case "$dir" in
	/tmp/*|/var/tmp/*|*/rados-cluster*) rm -rf "$dir" ;;
	*) echo "cluster: left $dir (not under /tmp)" >&2 ;;
	esac
}

case "$cmd" in
start)
	if ! start; then
		echo "cluster: start failed; logs:" >&2
		tail -n 20 "$dir"/*.log >&2 2>/dev/null || true
		stop_pid "$dir/osd.pid"; stop_pid "$dir/mon.pid"
		exit 1
	fi ;;
stop) stop ;;
osd-stop) stop_pid "$dir/osd.pid" ;;
osd-start) osd_start; wait_osd_up "$TIMEOUT" ;;
*) echo "usage: $0 start|stop|osd-stop|osd-start DIR" >&2; exit 2 ;;
esac
