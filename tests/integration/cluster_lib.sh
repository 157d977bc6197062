# A cluster of three nodes and a client on one machine, for the failover
# tests and bench/run-failover (sourced after lib.sh, by bash: each case
# starts with  [ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@").
#
# Layout (addresses exist only inside namespaces this file creates):
#
#   bridge ns:  br0 + v-n1 v-n2 v-n3 v-c   (the "switch")
#   node nN:    eth0 10.213.0.N/24, fd00:213::N/64; VIP 10.213.0.10/24
#   client:     eth0 10.213.0.100/24, runs the probe
#
# Each namespace lives only in a holder process (unshare -n -m, never
# "ip netns add"), which also owns the node's private tmpfs on /run,
# /var/lib/corosync and /dev/shm.  Everything of a node runs inside it with
# nsenter, so node_kill_all (kill -9 every process in the node's network
# namespace, holder included) destroys the namespace and its addresses,
# exactly like a machine that died.  Cleanup is the same for every
# namespace, runs on EXIT (INT and TERM exit through it) and checks that no
# process of any of them is left.
#
# Per node directory $T/nN: corosync.conf, corosync.log, lighttpd.conf,
# www/index.html ("node:nN"), site-start/site-stop/site-status,
# bulwark.conf, failoverd.log.  The probe log is $T/probe.log.

CL_NODES="n1 n2 n3"
CL_NET=10.213.0
CL_NET6=fd00:213:
CL_VIP=$CL_NET.10
CL_TOKEN=${CL_TOKEN:-1000}
CL_MEMBERS=${CL_MEMBERS:-$CL_NODES}
CL_QUORUM_EXTRA=${CL_QUORUM_EXTRA:-}
CL_CLUSTER_EXTRA=${CL_CLUSTER_EXTRA:-}
PROBE=$(cd "$top_builddir" && pwd)/tests/integration/probe
FAILOVERD=$(cd "$top_builddir" && pwd)/failover/bulwark-failoverd

cl_skip() { say "SKIP: $*"; exit 77; }

# cl_require [keepalived|failoverd]...: skips (77) with the reason when the
# machine cannot run the cluster.
cl_require() {
	local c
	[ "$(id -u)" -eq 0 ] || cl_skip "needs root (network and mount namespaces, tmpfs mounts)"
	for c in corosync corosync-keygen corosync-quorumtool lighttpd ip nsenter unshare ps; do
		command -v "$c" >/dev/null 2>&1 || cl_skip "$c is not installed (scripts/deps installs it)"
	done
	for c in "$@"; do
		case $c in
		keepalived) command -v keepalived >/dev/null 2>&1 ||
			cl_skip "keepalived is not installed";;
		failoverd) [ -x "$FAILOVERD" ] ||
			cl_skip "bulwark-failoverd is not built ($FAILOVERD)";;
		esac
	done
	[ -x "$PROBE" ] || cl_skip "the probe is not built ($PROBE); run make check"
	unshare -n true 2>/dev/null || cl_skip "cannot create network namespaces here"
}

cl_num() { echo "${1#n}"; }
cl_addr() { echo "$CL_NET.$(cl_num "$1")"; }
cl_holder() { cat "$T/$1/holder.pid" 2>/dev/null || true; }

# cl_ns_pids NAME: the processes in NAME's network namespace (none once it
# is gone).
cl_ns_pids() {
	local ns
	ns=$(cat "$T/$1/netns" 2>/dev/null) || return 0
	ps -e -o netns=,pid= | awk -v ns="$ns" '$1 == ns { print $2 }'
}

# cl_in NAME CMD...: runs CMD in NAME's network and mount namespaces.
cl_in() {
	local h n=$1
	shift
	h=$(cl_holder "$n")
	[ -n "$h" ] || { say "cl_in: $n has no holder" >&2; return 1; }
	nsenter -t "$h" -m -n "$@"
}

cl_now() { "$PROBE" now; }

# cl_spawn PIDFILE LOG CMD...: starts CMD in the background, pid in PIDFILE.
# Disowned, so a fault that kills it prints no job notice, but still our
# child, so bash reaps it (the cases run under bash for this).
cl_spawn() {
	local pf=$1 log=$2
	shift 2
	"$@" </dev/null >>"$log" 2>&1 &
	echo $! > "$pf"
	disown $!
}

# cl_holder_start NAME MOUNTS: a holder process in new network and mount
# namespaces; MOUNTS=1 puts private tmpfs on the node's run-time places.
cl_holder_start() {
	local n=$1 mounts=$2 d="$T/$1" setup i
	mkdir -p "$d"
	setup="ip link set lo up"
	[ "$mounts" = 1 ] && setup="mount -t tmpfs -o mode=755 tmpfs /run &&
		mount -t tmpfs -o mode=755 tmpfs /var/lib/corosync &&
		mount -t tmpfs -o mode=1777 tmpfs /dev/shm && $setup"
	# unshare without --fork execs in place: the pid is the holder itself
	cl_spawn "$d/holder.pid" "$d/holder.log" \
		unshare -n -m --propagation private sh -c "$setup && : > '$d/ready' && exec sleep infinity"
	for i in $(seq 100); do
		[ -e "$d/ready" ] && break
		sleep 0.05
	done
	[ -e "$d/ready" ] || { say "holder of $n did not start:"; cat "$d/holder.log"; return 1; }
	readlink "/proc/$(cat "$d/holder.pid")/ns/net" | tr -dc 0-9 > "$d/netns"
	echo "$n" >> "$T/namespaces"
}

# cl_link NAME ADDR: a veth from the bridge into NAME, eth0 = ADDR/24.
cl_link() {
	local n=$1 a=$2 br
	br=$(cl_holder bridge)
	nsenter -t "$br" -n ip link add "v-$n" type veth peer name eth0 netns "$(cl_holder "$n")"
	nsenter -t "$br" -n ip link set "v-$n" master br0 up
	cl_in "$n" ip addr add "$a/24" dev eth0
	cl_in "$n" ip -6 addr add "$CL_NET6:${a##*.}/64" dev eth0 nodad
	cl_in "$n" ip link set eth0 up
	# who is who in the daemons' logs (which name peers by MAC)
	echo "$n=$(cl_in "$n" ip -o link show eth0 | sed -n 's|.* link/ether \([^ ]*\).*|\1|p')" >> "$T/macs"
}

cl_write_corosync_conf() {
	local n=$1 m
	{
		cat <<-EOF
		totem {
			version: 2
			cluster_name: bwtest
			transport: knet
			token: $CL_TOKEN
			token_coefficient: 0
			crypto_cipher: aes256
			crypto_hash: sha256
			keyfile: $T/authkey
		}
		quorum {
			provider: corosync_votequorum
		$CL_QUORUM_EXTRA
		}
		logging {
			to_stderr: no
			to_syslog: no
			to_logfile: yes
			logfile: $T/$n/corosync.log
			timestamp: hires
		}
		nodelist {
		EOF
		for m in $CL_MEMBERS; do
			printf '\tnode {\n\t\tname: %s\n\t\tnodeid: %s\n\t\tring0_addr: %s\n\t}\n' \
				"$m" "$(cl_num "$m")" "$(cl_addr "$m")"
		done
		echo "}"
	} > "$T/$n/corosync.conf"
}

cl_write_site() {
	local n=$1 d="$T/$1"
	mkdir -p "$d/www"
	printf 'Bulwark test site\nnode:%s\n' "$n" > "$d/www/index.html"
	cat > "$d/lighttpd.conf" <<-EOF
	server.document-root = "$d/www"
	server.bind = "0.0.0.0"
	server.port = 80
	\$SERVER["socket"] == "[::]:80" { }
	server.pid-file = "$d/lighttpd.pid"
	server.errorlog = "$d/lighttpd.err"
	index-file.names = ( "index.html" )
	EOF
	# start/stop/status as the site's commands run them (inside the node)
	cat > "$d/site-start" <<-EOF
	#!/bin/sh
	exec lighttpd -f "$d/lighttpd.conf"
	EOF
	cat > "$d/site-stop" <<-EOF
	#!/bin/sh
	p=\$(cat "$d/lighttpd.pid" 2>/dev/null) || exit 0
	kill "\$p" 2>/dev/null || exit 0
	for i in \$(seq 100); do kill -0 "\$p" 2>/dev/null || exit 0; sleep 0.05; done
	kill -9 "\$p" 2>/dev/null; exit 0
	EOF
	cat > "$d/site-status" <<-EOF
	#!/bin/sh
	p=\$(cat "$d/lighttpd.pid" 2>/dev/null) && kill -0 "\$p" 2>/dev/null
	EOF
	chmod +x "$d/site-start" "$d/site-stop" "$d/site-status"
}

# cl_write_bulwark_conf NODE: failoverd's configuration for NODE.
# CL_PRIO (default "n1:100 n2:90 n3:80" for the members), CL_CLUSTER_EXTRA
# and CL_MEMBERS shape it.
cl_write_bulwark_conf() {
	local n=$1 d="$T/$1" m
	{
		cat <<-EOF
		[cluster]
		name = bwtest
		token = ${CL_TOKEN}ms
		authkey = $T/authkey
		state_dir = $d/state
		socket = /run/bulwark/failoverd.sock
		$CL_CLUSTER_EXTRA

		EOF
		for m in $CL_MEMBERS; do
			printf '[node %s]\nnodeid = %s\naddress = %s\n\n' "$m" "$(cl_num "$m")" "$(cl_addr "$m")"
		done
		cat <<-EOF
		[site web]
		start = $d/site-start
		stop = $d/site-stop
		status = $d/site-status
		address = $CL_VIP/24
		interface = eth0
		check = http http://$(cl_addr "$n")/
		check_interval = 200ms
		check_timeout = 500ms
		rise = 2
		fall = 2
		priority = ${CL_PRIO:-$(for m in $CL_MEMBERS; do printf '%s:%s ' "$m" $((110 - 10 * $(cl_num "$m"))); done)}
		EOF
	} > "$d/bulwark.conf"
	mkdir -p "$d/state"
}

# cl_setup [NODES]: bridge, client and nodes (default n1 n2 n3) with their
# links, configs and authkey; starts nothing on the nodes yet.
cl_setup() {
	local n
	CL_MEMBERS=${1:-$CL_NODES}
	if [ -z "${CL_NO_TRAP:-}" ]; then	# bench/run-failover sets its own
		trap cl_cleanup EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
	: > "$T/namespaces"
	cl_holder_start bridge 0
	nsenter -t "$(cl_holder bridge)" -n ip link add br0 type bridge
	nsenter -t "$(cl_holder bridge)" -n ip link set br0 up
	cl_holder_start client 0
	cl_link client "$CL_NET.100"
	dd if=/dev/urandom of="$T/authkey" bs=256 count=1 2>/dev/null
	chmod 600 "$T/authkey"
	for n in $CL_MEMBERS; do
		cl_node_create "$n"
	done
}

# cl_node_create N: (re)creates node N's namespaces, link and files, as a
# machine that boots again after node_kill_all.
cl_node_create() {
	local n=$1
	rm -f "$T/$n/ready"
	cl_holder_start "$n" 1
	cl_link "$n" "$(cl_addr "$n")"
	cl_write_corosync_conf "$n"
	cl_write_site "$n"
	cl_write_bulwark_conf "$n"
}

# corosync_start N / corosync_stop N / corosync_restart N
corosync_start() {
	cl_spawn "$T/$1/corosync.pid" "$T/$1/corosync.out" \
		nsenter -t "$(cl_holder "$1")" -m -n corosync -f -c "$T/$1/corosync.conf"
}
corosync_stop() {
	local p
	p=$(cat "$T/$1/corosync.pid" 2>/dev/null) || return 0
	kill "$p" 2>/dev/null || return 0
	wait_for 20 "corosync on $1 to stop" cl_gone "$p"
}
corosync_restart() { corosync_stop "$1"; corosync_start "$1"; }
cl_gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1")" = Z ]; }

# cl_quorate N: node N's corosync is quorate with the expected members.
cl_quorate() { cl_in "$1" corosync-quorumtool -s 2>/dev/null | grep -q '^Quorate: *Yes'; }
cl_members() { cl_in "$1" corosync-quorumtool -s 2>/dev/null | awk '/^Total votes:/ { print $3 }'; }

# cl_failoverd_start N / cl_failoverd_stop N
cl_failoverd_start() {
	cl_spawn "$T/$1/failoverd.pid" "$T/$1/failoverd.log" \
		nsenter -t "$(cl_holder "$1")" -m -n "$FAILOVERD" -c "$T/$1/bulwark.conf" --foreground --node "$1" -v
}
cl_failoverd_stop() {
	local p
	p=$(cat "$T/$1/failoverd.pid" 2>/dev/null) || return 0
	kill "$p" 2>/dev/null || return 0
	wait_for 20 "failoverd on $1 to stop" cl_gone "$p"
}

# cl_keepalived_start N ADVERT_INT PRIORITY: keepalived (VRRPv3, VRRP only)
# on node N for the same virtual address, for bench/run-failover's
# comparison; the site itself runs on every node.
cl_keepalived_start() {
	local n=$1 d="$T/$1"
	cat > "$d/keepalived.conf" <<-EOF
	global_defs {
		router_id $n
		vrrp_version 3
		script_user root
	}
	vrrp_instance web {
		state BACKUP
		interface eth0
		virtual_router_id 51
		priority $3
		advert_int $2
		virtual_ipaddress {
			$CL_VIP/24 dev eth0
		}
	}
	EOF
	cl_spawn "$d/keepalived.pid" "$d/keepalived.log" nsenter -t "$(cl_holder "$n")" -m -n \
		keepalived --dont-fork --log-console --log-detail --vrrp \
		-f "$d/keepalived.conf" -p "$d/ka.pid" -r "$d/ka-vrrp.pid"
}

# cl_start_bulwark: corosync on every member, then failoverd on the first
# member; once it serves the site, failoverd on the others, and returns
# when every daemon sees every member (its log says so).  The serving node
# is in $ACTIVE.  Starting the first daemon alone makes the start-up
# deterministic: the cases test failures, not start-up races.
cl_start_bulwark() {
	local n first nm
	set -- $CL_MEMBERS
	first=$1 nm=$#
	for n in $CL_MEMBERS; do corosync_start "$n"; done
	for n in $CL_MEMBERS; do
		wait_for 30 "corosync on $n to be quorate" cl_quorate "$n" || return 1
	done
	cl_failoverd_start "$first"
	wait_for 30 "$first to serve the site" cl_vip_served_by "$first" || return 1
	for n in $CL_MEMBERS; do
		[ "$n" = "$first" ] || cl_failoverd_start "$n"
	done
	for n in $CL_MEMBERS; do
		wait_for 30 "failoverd on $n to see $nm members" \
			grep -q "view: $nm member" "$T/$n/failoverd.log" || return 1
	done
	# and the first has finished its take (address announced, reported)
	wait_for 30 "$first to report the site served" \
		grep -Eq "site web: serving( on $first)?$" "$T/$first/failoverd.log" || return 1
	ACTIVE=$first
	return 0
}

# cl_one_server: exactly one node has the address and answers as itself.
cl_one_server() {
	local o
	o=$(cl_vip_owners)
	case $o in *" "?*|"") return 1;; esac
	cl_vip_served_by "${o% }"
}

# cl_next_after N: the member with the highest priority other than N (the
# default priorities: n1, then n2, then n3).
cl_next_after() {
	local m
	for m in $CL_MEMBERS; do
		[ "$m" != "$1" ] && { echo "$m"; return 0; }
	done
}

# cl_probe_ready: the probe runs and the client gets answers.
cl_probe_ready() {
	probe_start
	wait_for 10 "the client's first answer" eval \
		'grep -qv " ERR:" "$T/probe.log" 2>/dev/null'
}

# cl_case_end FAULT_MS [SERVER]: the probe's verdict on the fault: prints
# the client-observed outage, checks that no two nodes answered
# alternately, that SERVER (if given) answered last, and that exactly one
# node serves now.
cl_case_end() {
	probe_stop
	probe_summary "$1" >/dev/null
	say "client-observed outage: $(probe_get outage_ms) ms" \
		"(fault to the first answer from another node: $(probe_get rto_ms) ms;" \
		"answers: $(probe_get sequence))"
	assert_no_split
	if [ -n "${2:-}" ] && [ "$(probe_get after)" != "$2" ]; then
		fail "the client's last answer came from $(probe_get after), expected $2"
	fi
	[ "$(probe_get tail_errors)" -lt 5 ] ||
		fail "the client's last $(probe_get tail_errors) requests failed"
	assert_one_server
}

# cl_ns_kill N: kill -9 every process of N, all frozen first (kill(1)
# signals one process after another: none may see another die and react,
# by a parent's death signal or SIGCHLD), the holder last.  A namespace is
# found by its inode number, which names it only while it lives: once the
# holder is gone the number may be handed to a namespace another test
# (make -j check) creates at that moment, and a search by it would kill
# that test's processes.  So the others are killed, and looked for again,
# only while the holder lives; the holder by its pid.  1 if some survive.
cl_ns_kill() {
	local h pids i
	h=$(cl_holder "$1")
	[ -n "$h" ] && kill -0 "$h" 2>/dev/null || return 0
	pids=$(cl_ns_pids "$1")
	[ -n "$pids" ] && kill -STOP $pids 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$h" 2>/dev/null || break	# not ours to look at any more
		pids=$(cl_ns_pids "$1" | grep -vx "$h")
		[ -z "$pids" ] && break
		kill -9 $pids 2>/dev/null
		sleep 0.1
	done
	[ -z "$pids" ] || { say "cleanup: processes left in $1: $(echo $pids)"; return 1; }
	kill -9 "$h" 2>/dev/null
	for i in $(seq 100); do
		cl_gone "$h" && return 0
		sleep 0.1
	done
	say "cleanup: the holder of $1 (pid $h) did not die"
	return 1
}

# node_kill_all N: every process of the node dies at once, holder included:
# the namespace and its addresses vanish like a dead machine's.
node_kill_all() {
	cl_ns_kill "$1" || fail "node $1 could not be killed"
}
cl_ns_empty() { [ -z "$(cl_ns_pids "$1")" ]; }
cl_alive() { [ -n "$(cl_holder "$1")" ] && kill -0 "$(cl_holder "$1")" 2>/dev/null && ! cl_ns_empty "$1"; }

# node_partition N / node_heal N: N is cut off further in the network: its
# port leaves the bridge, its own link stays up, so nothing local tells it
# (as when a switch uplink fails).  node_unplug N is the cable pulled from
# N's port: N's eth0 loses carrier, which keepalived for one notices.
node_partition() { nsenter -t "$(cl_holder bridge)" -n ip link set "v-$1" nomaster; }
node_heal() {
	nsenter -t "$(cl_holder bridge)" -n ip link set "v-$1" master br0
	nsenter -t "$(cl_holder bridge)" -n ip link set "v-$1" up
}
node_unplug() { nsenter -t "$(cl_holder bridge)" -n ip link set "v-$1" down; }

# wait_for SECONDS WHAT CMD...: polls CMD every 0.1 s; on timeout prints
# the cluster's state and returns 1.
wait_for() {
	local secs=$1 what=$2 end
	shift 2
	end=$(( $(cl_now) + secs * 1000 ))
	while [ "$(cl_now)" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	say "timed out after ${secs}s waiting for $what"
	cl_state
	return 1
}

# cl_has_vip N: node N has the virtual address configured.
cl_has_vip() { cl_alive "$1" && cl_in "$1" ip -o -4 addr show dev eth0 2>/dev/null | grep -q " $CL_VIP/"; }
# cl_answers N: node N's own address serves the site.
cl_answers() { nsenter -t "$(cl_holder client)" -n "$PROBE" get "$(cl_addr "$1")" 80 300 >/dev/null 2>&1; }
# cl_vip_answer: the node answering on the virtual address, or ERR:...
cl_vip_answer() { nsenter -t "$(cl_holder client)" -n "$PROBE" get "$CL_VIP" 80 300 2>/dev/null || true; }
cl_vip_owners() {
	local n
	for n in $CL_MEMBERS; do
		cl_has_vip "$n" && printf '%s ' "$n"
	done
	return 0
}
# cl_vip_served_by N: the virtual address is on N only and answers as N.
cl_vip_served_by() { [ "$(cl_vip_owners)" = "$1 " ] && [ "$(cl_vip_answer)" = "$1" ]; }

cl_state() {
	local n
	say "--- cluster state ($(cl_now) ms)"
	for n in $CL_MEMBERS; do
		if ! cl_alive "$n"; then
			say "  $n: down"
			continue
		fi
		say "  $n: vip=$(cl_has_vip "$n" && echo yes || echo no)" \
			"site=$(cl_answers "$n" && echo up || echo down)" \
			"quorate=$(cl_quorate "$n" && echo yes || echo no) votes=$(cl_members "$n")"
	done
	say "  client sees $CL_VIP: $(cl_vip_answer)"
}

# assert_one_server [SERVICE_EVERYWHERE]: exactly one node has the address
# and answers on it; the others have no address and (unless the site runs
# everywhere, as with keepalived) serve nothing.  Prints the server.
assert_one_server() {
	local n owners answer nodes_up=""
	owners=$(cl_vip_owners)
	answer=$(cl_vip_answer)
	case $owners in
	*" "?*" "*|"") fail "expected exactly one node with $CL_VIP, found: '${owners:-none}'"; cl_state; return 0;;
	esac
	owners=${owners% }
	[ "$answer" = "$owners" ] || { fail "$CL_VIP is on $owners but the client got '$answer'"; cl_state; }
	if [ "${1:-}" != everywhere ]; then
		for n in $CL_MEMBERS; do
			[ "$n" = "$owners" ] && continue
			cl_alive "$n" && cl_answers "$n" && nodes_up="$nodes_up $n"
		done
		[ -z "$nodes_up" ] || { fail "the site also runs on:$nodes_up (only $owners should serve)"; cl_state; }
	fi
	say "serving: $owners"
}

# probe_start / probe_stop: the client asks http://VIP/ every 20 ms.
probe_start() {
	cl_spawn "$T/probe.pid" "$T/probe.err" nsenter -t "$(cl_holder client)" -n \
		"$PROBE" run "$CL_VIP" 80 "$T/probe.log" "${PROBE_INTERVAL:-20}" "${PROBE_TIMEOUT:-200}"
}
probe_stop() {
	local p
	p=$(cat "$T/probe.pid" 2>/dev/null) || return 0
	kill "$p" 2>/dev/null && wait_for 10 "the probe to stop" cl_gone "$p"
	rm -f "$T/probe.pid"
	return 0
}
# probe_summary FAULT_MS: key=value line (see probe.c), also kept in
# $T/summary; probe_get KEY reads one value from it.
probe_summary() { "$PROBE" summary "$T/probe.log" "$1" | tee "$T/summary"; }
probe_get() { tr ' ' '\n' < "$T/summary" | sed -n "s/^$1=//p"; }

# assert_no_split: no probe was ever answered by a node after another one
# had answered (two nodes serving alternately).
assert_no_split() {
	[ "$(probe_get split)" = 0 ] ||
		fail "two nodes answered alternately: $(probe_get sequence) (split brain)"
}

# cl_logs: the tails of every log, for a failed run.
cl_logs() {
	local f
	[ -f "$T/macs" ] && say "--- MAC addresses:" $(cat "$T/macs")
	for f in "$T"/*/*.log "$T"/*/*.out "$T"/*/*.err; do
		[ -s "$f" ] || continue
		say "--- ${f#$T/}"
		grep -v ': debug: ' "$f" | tail -n 25
	done
}

# cl_teardown: kills every process of every namespace made here (holders
# included), which removes the namespaces, their links and mounts; returns
# 1 (after saying what) if anything is left.
cl_teardown() {
	local n left=""
	probe_stop
	[ -f "$T/namespaces" ] || return 0
	for n in $(cat "$T/namespaces"); do
		cl_ns_kill "$n" || left="$left $n"
	done
	rm -f "$T/namespaces"
	if [ -n "$left" ]; then
		say "cleanup: processes left in namespaces:$left"
		return 1
	fi
	if grep -q " $T" /proc/mounts; then
		say "cleanup: mounts left under $T"
		return 1
	fi
	return 0
}

# cl_cleanup: the EXIT trap: logs on failure, teardown, test dir removed.
cl_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && cl_logs
	cl_teardown || { [ "$rc" -eq 0 ] && rc=1; }
	if [ -n "${CL_KEEP:-}" ]; then	# for a post-mortem: the logs stay
		say "kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
