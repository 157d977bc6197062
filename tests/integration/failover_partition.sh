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
fault=$(cl_now)
node_partition n1
# n1 still runs, cut off: it must notice on its own
wait_for 60 "n1 to give the site up" eval '! cl_has_vip n1 && ! cl_in n1 "$T/n1/site-status"' ||
	fail "the cut-off node n1 kept the site (address or service)"
wait_for 60 "n2 to take the site over" cl_vip_served_by n2 || fail "n2 did not take over"
sleep 1
cl_case_end "$fault" n2

probe_start
node_heal n1
wait_for 60 "n1 to rejoin the cluster" eval '[ "$(cl_members n1)" = 3 ]' || fail "n1 did not rejoin"
sleep 3
cl_case_end "$fault" n2
finish
