#!/bin/sh
# Two nodes and no tie-breaker: bulwark-failoverd refuses to start and says
# why; with force_two_node = yes it starts and serves.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "${top_srcdir:-.}/tests/integration/cluster_lib.sh"
cl_require failoverd

CL_QUORUM_EXTRA="two_node: 1"
cl_setup "n1 n2"
for n in n1 n2; do corosync_start "$n"; done
for n in n1 n2; do
	wait_for 30 "corosync on $n to be quorate" cl_quorate "$n" || fail "$n is not quorate"
done
rc=0
cl_in n1 timeout 20 "$FAILOVERD" -c "$T/n1/bulwark.conf" --foreground --node n1 >"$T/out" 2>"$T/err" || rc=$?
case $rc in
0) fail "failoverd started on two nodes without a tie-breaker";;
124) fail "failoverd neither refused nor stopped within 20 s";;
esac
grep_err "tie-breaker"
grep_err "force_two_node"
cl_has_vip n1 && fail "the refused failoverd took the address"

for n in n1 n2; do
	printf 'force_two_node = yes\n' > "$T/$n/extra"
	sed -i "/^\[cluster\]/r $T/$n/extra" "$T/$n/bulwark.conf"
done
for n in n1 n2; do cl_failoverd_start "$n"; done
wait_for 30 "one node to serve the site" cl_one_server || fail "the forced two-node cluster does not serve"
assert_one_server
finish
