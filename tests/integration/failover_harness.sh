#!/bin/sh
# The cluster harness itself, with bare corosync and lighttpd (no
# failoverd): three nodes reach quorum, the client sees the node holding
# the address, a killed node's address vanishes with it, a partitioned node
# loses quorum while the others keep it, and corosync restarts in place.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "${top_srcdir:-.}/tests/integration/cluster_lib.sh"
cl_require

cl_setup
for n in $CL_MEMBERS; do corosync_start "$n"; done
for n in $CL_MEMBERS; do
	wait_for 30 "$n to be quorate with 3 votes" eval '[ "$(cl_members '$n')" = 3 ]' ||
		fail "$n did not join"
done

# the site by hand on n1, as failoverd would place it
cl_in n1 "$T/n1/site-start"
cl_in n1 ip addr add "$CL_VIP/24" dev eth0
probe_start
wait_for 10 "the client to reach n1" cl_vip_served_by n1 || fail "n1 does not serve"
assert_one_server

# kill -9 of n1: its address goes with its namespace; n2 takes over by hand
fault=$(cl_now)
node_kill_all n1
cl_alive n1 && fail "n1 still has processes after node_kill_all"
cl_has_vip n1 && fail "the dead node n1 still holds $CL_VIP"
wait_for 30 "n2 and n3 to see 2 votes" eval '[ "$(cl_members n2)" = 2 ] && [ "$(cl_members n3)" = 2 ]' ||
	fail "the survivors did not notice n1's death"
cl_quorate n2 || fail "n2 lost quorum with 2 of 3 votes"
cl_in n2 "$T/n2/site-start"
cl_in n2 ip addr add "$CL_VIP/24" dev eth0
# stands in for the gratuitous ARP that failoverd and keepalived send
nsenter -t "$(cl_holder client)" -n ip neigh flush dev eth0
wait_for 10 "the client to reach n2" cl_vip_served_by n2 || fail "n2 does not serve"
sleep 0.3
probe_stop
probe_summary "$fault"
[ "$(probe_get after)" = n2 ] || fail "the client's last answer came from $(probe_get after), not n2"
assert_no_split
assert_one_server

# n1 boots again; then a partition cuts n3 off: it loses quorum, n1 and n2
# keep it
cl_node_create n1
corosync_start n1
wait_for 30 "n1 to rejoin (3 votes)" eval '[ "$(cl_members n1)" = 3 ]' || fail "n1 did not rejoin"
node_partition n3
wait_for 30 "n3 to lose quorum" eval '! cl_quorate n3' || fail "partitioned n3 stayed quorate"
wait_for 30 "n1 and n2 to see 2 votes" eval '[ "$(cl_members n1)" = 2 ] && cl_quorate n2' ||
	fail "the majority lost quorum"
node_heal n3
wait_for 30 "n3 to rejoin" eval '[ "$(cl_members n3)" = 3 ]' || fail "n3 did not rejoin after healing"

# corosync restart in place: same namespaces, same node
corosync_restart n2
wait_for 30 "n2 to rejoin after a restart" eval '[ "$(cl_members n2)" = 3 ]' || fail "n2 did not rejoin"
cl_has_vip n2 || fail "a corosync restart lost n2's address (it should not touch it)"
finish
