#!/bin/sh
# The service address driver on a real link: two network namespaces made
# here, joined by a veth pair; bw-addr-tool runs in one of them.  Shows
# add/remove/look-up of an IPv4 and an IPv6 address, duplicate address
# detection ("free", or "in use by" the other side's MAC), and that the
# other side's neighbour table follows the gratuitous ARP and the
# unsolicited neighbour advertisement.  Needs root (namespaces, raw
# sockets); skips otherwise.
. "${top_srcdir:-.}/tests/integration/lib.sh"

TOOL=$(cd "$top_builddir" && pwd)/failover/bw-addr-tool
if [ "$(id -u)" -ne 0 ]; then
	say "SKIP: needs root to create network namespaces and send raw frames"
	exit 77
fi
if ! command -v ip >/dev/null 2>&1; then
	say "SKIP: the ip command (iproute2) is not installed"
	exit 77
fi
[ -x "$TOOL" ] || { say "FAIL: $TOOL is not built"; exit 1; }

A=bwt$$a
B=bwt$$b
VA=${A}v
VB=${B}v
cleanup() {
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	ip link del "$VA" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! ip netns add "$A" 2>"$T/err"; then
	say "SKIP: cannot create a network namespace: $(cat "$T/err")"
	exit 77
fi
ip netns add "$B"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$A"
ip link set "$VB" netns "$B"
for ns in "$A" "$B"; do
	ip -n "$ns" link set lo up
done
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
# Frames only pass once both ends have carrier.
i=0
until ip -n "$A" link show "$VA" | grep -q 'state UP' &&
    ip -n "$B" link show "$VB" | grep -q 'state UP'; do
	i=$((i + 1))
	[ "$i" -lt 50 ] || { say "FAIL: veth pair never came up"; exit 1; }
	sleep 0.1
done
# Linux ignores an ARP update within locktime (1 s) of the last one: the
# test plants an entry just before announcing, so B must not wait.
ip netns exec "$B" sysctl -qw "net.ipv4.neigh.$VB.locktime=0"
MAC_A=$(ip -n "$A" link show "$VA" | awk '/link\/ether/ { print $2 }')
MAC_B=$(ip -n "$B" link show "$VB" | awk '/link\/ether/ { print $2 }')

tool() { ip netns exec "$A" "$TOOL" "$@"; }

for fam in 4 6; do
	if [ $fam = 4 ]; then
		TAKEN=10.99.0.5/24 FREE=10.99.0.6/24 V=4 NODAD=
	else
		# B's copy must answer at once, not sit tentative.
		TAKEN=fd00:99::5/64 FREE=fd00:99::6/64 V=6 NODAD=nodad
	fi
	# Duplicate address detection: free, then in use by B once B has it.
	expect 0 tool probe "$TAKEN" "$VA"
	grep_out '^free$'
	ip -n "$B" addr add "$TAKEN" dev "$VB" $NODAD
	expect 1 tool probe "$TAKEN" "$VA"
	grep_out "in use by $MAC_B"
	grep_err "in use by $MAC_B"
	expect 0 tool probe "$FREE" "$VA"
	grep_out '^free$'

	# Add, look up, see it configured with its prefix.
	expect 1 tool present "$FREE" "$VA"
	grep_out 'not configured here'
	expect 0 tool add "$FREE" "$VA"
	expect 0 tool present "$FREE" "$VA"
	grep_out '^present$'
	ip -n "$A" -$V addr show dev "$VA" | grep -q "inet6\{0,1\} $FREE " ||
	    fail "IPv$V: $FREE not shown on $VA"
	expect 0 tool add "$FREE" "$VA"		# again: already there is done
	grep_err 'already configured'

	# B's neighbour entry still names an old owner; the announcement
	# moves it to A's MAC.
	ADDR=${FREE%/*}
	ip -n "$B" neigh replace "$ADDR" lladdr 02:00:00:00:00:01 dev "$VB" nud stale
	ip -n "$B" neigh show "$ADDR" dev "$VB" | grep -q 02:00:00:00:00:01 ||
	    fail "IPv$V: could not plant an old neighbour entry"
	expect 0 tool announce "$FREE" "$VA" 3 100
	grep_err 'announced 3 times'
	ip -n "$B" neigh show "$ADDR" dev "$VB" | grep -q "lladdr $MAC_A" ||
	    fail "IPv$V: B's neighbour table did not learn $MAC_A for $ADDR: $(ip -n "$B" neigh show "$ADDR" dev "$VB")"

	# Remove; removing again is done too.
	expect 0 tool del "$FREE" "$VA"
	expect 1 tool present "$FREE" "$VA"
	expect 0 tool del "$FREE" "$VA"
	grep_err 'already absent'
done

# Nothing left behind on A.
ip -n "$A" addr show dev "$VA" | grep -q '10.99.0.6\|fd00:99::6' &&
    fail "an address was left on $VA"
finish
