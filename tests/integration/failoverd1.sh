#!/bin/sh
# bulwark-failoverd on one node with a real corosync, in a network and
# mount namespace of its own (loopback, a test link holding the service
# address, private /run, /var/lib/corosync and /dev/shm).  The site's
# start and stop commands touch and remove a file.  Checks: the site is
# served (status --json, the file, the address); restarting corosync makes
# the daemon give the site up and take it again once corosync is back;
# SIGTERM gives it up and exits 0.  Needs root, corosync and unshare.
if [ -z "${BW_FO1_INNER:-}" ]; then
	skip() { echo "SKIP: $*"; exit 77; }
	[ "$(id -u)" -eq 0 ] || skip "needs root (network and mount namespaces, addresses)"
	command -v corosync >/dev/null 2>&1 || skip "corosync is not installed (apt-get install corosync)"
	command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) is not installed"
	unshare -n -m true 2>/dev/null || skip "cannot create network and mount namespaces here"
	BW_FO1_INNER=1 exec unshare -n -m --propagation private -- sh "$0" "$@"
fi

. "${top_srcdir:-.}/tests/integration/lib.sh"
FOD=$(cd "$top_builddir" && pwd)/failover/bulwark-failoverd
cspid= fopid=
cleanup() {
	# by PID only; the namespaces go away with this process
	[ -n "$fopid" ] && kill -KILL "$fopid" 2>/dev/null
	[ -n "$cspid" ] && kill -KILL "$cspid" 2>/dev/null
	wait 2>/dev/null
	if [ "$fails" -ne 0 ] || [ -n "${BW_TEST_VERBOSE:-}" ]; then
		for f in fo.log cs.log; do
			[ -f "$T/$f" ] && { say "--- $f"; tail -n 40 "$T/$f"; }
		done
	fi
	rm -rf "$T"
}
trap cleanup EXIT

mount -t tmpfs tmpfs /run
mkdir -p /var/lib/corosync && mount -t tmpfs tmpfs /var/lib/corosync
mount -t tmpfs tmpfs /dev/shm
ip link set lo up
# The service address lives on a link of this namespace only: a dummy
# link, or one end of a veth pair where dummy links are not available.
if ip link add bw0 type dummy 2>/dev/null; then :; else
	ip link add bw0 type veth peer name bw0p
	ip link set bw0p up
fi
ip link set bw0 up
ip addr add 192.0.2.1/24 dev bw0

cat >"$T/corosync.conf" <<EOF
totem {
	version: 2
	cluster_name: bwtest
	transport: knet
	token: 1000
	token_coefficient: 0
	crypto_cipher: none
	crypto_hash: none
}
nodelist {
	node {
		ring0_addr: 127.0.0.1
		name: n1
		nodeid: 1
	}
}
quorum {
	provider: corosync_votequorum
}
logging {
	to_stderr: yes
	to_logfile: no
	to_syslog: no
}
EOF
cat >"$T/bulwark.conf" <<EOF
[cluster]
name = bwtest
socket = $T/run/failoverd.sock
state_dir = $T/state
[node n1]
nodeid = 1
address = 127.0.0.1
[site www]
start = touch $T/www.running
stop = rm -f $T/www.running
address = 192.0.2.10/24
interface = bw0
check = command test -e $T/www.running
check_interval = 200ms
rise = 1
fall = 2
action_timeout = 5s
EOF

start_corosync() {
	corosync -f -c "$T/corosync.conf" >>"$T/cs.log" 2>&1 &
	cspid=$!
}
# wait_for SECONDS CMD...: polls CMD every 0.1 s
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
served() {
	"$BW" -c "$T/bulwark.conf" status --json >"$T/status.json" 2>/dev/null &&
	    grep -q '"serving":"n1","moving_to":null,"state_here":"serving"' "$T/status.json" &&
	    [ -e "$T/www.running" ] &&
	    ip -4 addr show dev bw0 | grep -q ' 192\.0\.2\.10/24'
}
released() {
	[ ! -e "$T/www.running" ] && ! ip -4 addr show dev bw0 | grep -q ' 192\.0\.2\.10/'
}

expect 0 "$FOD" -c "$T/bulwark.conf" --check-config
grep_out "configuration is valid"
# not running yet: the CLI says so and how to start it
expect 4 "$BW" -c "$T/bulwark.conf" status
grep_err "bulwark-failoverd is not running on this node \(no socket at $T/run/failoverd.sock\); start it"

start_corosync
"$FOD" -c "$T/bulwark.conf" --node n1 --foreground >"$T/fo.log" 2>&1 &
fopid=$!

if wait_for 20 served; then
	say "ok: site served (file, address, status --json)"
else
	fail "site www not served within 20 s"
fi
expect 0 "$BW" -c "$T/bulwark.conf" status
grep_out "www +served by n1"
grep_out "1 of 1 site\(s\) served"
grep -q 'bulwark-failoverd\[n1\]: site www: serving$' "$T/fo.log" ||
    fail "the daemon's log lacks the node-prefixed 'serving' line"

# corosync restarts: the site is given up at once, then taken again
t0=$(date +%s%N)
kill -TERM "$cspid"
wait "$cspid" 2>/dev/null || :
if wait_for 5 released; then
	t1=$(date +%s%N)
	say "ok: site released $(( (t1 - t0) / 1000000 )) ms after corosync stopped"
else
	fail "site www still served 5 s after corosync stopped"
fi
expect 0 "$BW" -c "$T/bulwark.conf" status --json
grep_out '"corosync":"disconnected"'
start_corosync
if wait_for 20 served; then
	say "ok: site taken again after corosync came back"
else
	fail "site www not taken again within 20 s of corosync's restart"
fi

expect 0 "$BW" -c "$T/bulwark.conf" failover history --json
grep_out '"event":"disconnected"'
grep_out '"event":"serving"'
expect 4 "$BW" -c "$T/bulwark.conf" failover move nosuch n1
grep_err "no site 'nosuch'"

# SIGTERM: gives the site up, leaves, exits 0
kill -TERM "$fopid"
rc=0
wait "$fopid" || rc=$?
fopid=
[ "$rc" -eq 0 ] || fail "bulwark-failoverd exited $rc on SIGTERM, wanted 0"
released || fail "site www still served after bulwark-failoverd stopped"
[ -e "$T/run/failoverd.sock" ] && fail "control socket left behind"
grep -q 'failover' "$T/audit/log" 2>/dev/null || fail "no failover record in the audit log"
finish
