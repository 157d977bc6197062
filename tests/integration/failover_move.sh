#!/bin/sh
# A planned move with "bulwark failover move web NODE": the client's
# outage is about as short as moving the address.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "${top_srcdir:-.}/tests/integration/cluster_lib.sh"
cl_require failoverd
"$BW" failover --help >/dev/null 2>&1 || cl_skip "this bulwark has no 'failover' command yet"

cl_setup
cl_start_bulwark || { fail "the cluster did not come up"; finish; }
cl_probe_ready
next=$(cl_next_after "$ACTIVE")
fault=$(cl_now)
cl_in "$ACTIVE" "$BW" failover move web "$next" >"$T/out" 2>"$T/err" || {
	fail "bulwark failover move web $next failed"
	sed 's/^/  | /' "$T/err"
}
wait_for 30 "$next to serve the site" cl_vip_served_by "$next" ||
	fail "$next does not serve after the move"
sleep 1
cl_case_end "$fault" "$next"
finish
