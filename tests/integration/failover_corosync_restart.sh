#!/bin/sh
# corosync restarts on the active node: its failoverd loses the cluster and
# must give the site up before the others can take it; afterwards exactly
# one node serves and no two nodes ever answered alternately.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "${top_srcdir:-.}/tests/integration/cluster_lib.sh"
cl_require failoverd

cl_setup
cl_start_bulwark || { fail "the cluster did not come up"; finish; }
cl_probe_ready
next=$(cl_next_after "$ACTIVE")
fault=$(cl_now)
corosync_restart "$ACTIVE"
wait_for 60 "$ACTIVE to rejoin the cluster" eval '[ "$(cl_members "$ACTIVE")" = 3 ]' ||
	fail "$ACTIVE did not rejoin"
wait_for 60 "one node to serve the site" eval \
	'[ "$(cl_vip_owners | wc -w)" = 1 ] && cl_vip_served_by $(cl_vip_owners)' ||
	fail "nobody serves after the restart"
sleep 1
cl_case_end "$fault"
finish
