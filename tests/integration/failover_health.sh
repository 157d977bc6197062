#!/bin/sh
# The active node's health check fails (its web server dies): the site
# moves to the next node, and the sick node lets go of the address.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "${top_srcdir:-.}/tests/integration/cluster_lib.sh"
cl_require failoverd

cl_setup
cl_start_bulwark || { fail "the cluster did not come up"; finish; }
cl_probe_ready
next=$(cl_next_after "$ACTIVE")
fault=$(cl_now)
kill -9 "$(cat "$T/$ACTIVE/lighttpd.pid")"
wait_for 60 "$next to take the site over" cl_vip_served_by "$next" ||
	fail "$next did not take over"
wait_for 30 "$ACTIVE to let the address go" eval '! cl_has_vip "$ACTIVE"' ||
	fail "$ACTIVE kept the address"
sleep 1
cl_case_end "$fault" "$next"
finish
