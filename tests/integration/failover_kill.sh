#!/bin/sh
# kill -9 of every process of the active node (a machine that dies): the
# next node by priority takes the site over; nobody else ever answers.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "${top_srcdir:-.}/tests/integration/cluster_lib.sh"
cl_require failoverd

cl_setup
cl_start_bulwark || { fail "the cluster did not come up"; finish; }
cl_probe_ready
next=$(cl_next_after "$ACTIVE")
fault=$(cl_now)
node_kill_all "$ACTIVE"
wait_for 60 "$next to take the site over" cl_vip_served_by "$next" ||
	fail "$next did not take over"
sleep 1
cl_case_end "$fault" "$next"
finish
