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
fault=$(cl_now)
kill -9 "$(cat "$T/n1/lighttpd.pid")"
wait_for 60 "n2 to take the site over" cl_vip_served_by n2 || fail "n2 did not take over"
wait_for 30 "n1 to let the address go" eval '! cl_has_vip n1' || fail "n1 kept the address"
sleep 1
cl_case_end "$fault" n2
finish
