#!/bin/sh
# A 2+1 partition with the active node alone: it loses quorum and must
# give the site up (address removed, service stopped) while the majority
# takes it over; after healing the site stays where it is (no failback).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "${top_srcdir:-.}/tests/integration/cluster_lib.sh"
cl_require failoverd

cl_setup
cl_start_bulwark || { fail "the cluster did not come up"; finish; }
cl_probe_ready
next=$(cl_next_after "$ACTIVE")
fault=$(cl_now)
node_partition "$ACTIVE"
# the active node still runs, cut off: it must notice on its own
wait_for 60 "$ACTIVE to give the site up" eval \
	'! cl_has_vip "$ACTIVE" && ! cl_in "$ACTIVE" "$T/$ACTIVE/site-status"' ||
	fail "the cut-off node $ACTIVE kept the site (address or service)"
wait_for 60 "$next to take the site over" cl_vip_served_by "$next" ||
	fail "$next did not take over"
sleep 1
cl_case_end "$fault" "$next"

probe_start
node_heal "$ACTIVE"
wait_for 60 "$ACTIVE to rejoin the cluster" eval '[ "$(cl_members "$ACTIVE")" = 3 ]' ||
	fail "$ACTIVE did not rejoin"
sleep 3
cl_case_end "$fault" "$next"
finish
