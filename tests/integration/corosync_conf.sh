#!/bin/sh
# bulwark failover corosync-conf: the file it prints is one corosync itself
# accepts (corosync -t), and the command's errors and warnings are clear.
. "${top_srcdir:-.}/tests/integration/lib.sh"

cat >"$T/two.conf" <<CONF
[node a]
nodeid = 1
address = 127.0.0.1
[node b]
nodeid = 2
address = 192.0.2.12
CONF
expect 0 "$BW" failover corosync-conf -c "$T/two.conf"
grep_out '^	cluster_name: bulwark$'
grep_out '^		ring0_addr: 192.0.2.12$'
grep_out '^#   1. on one node only: corosync-keygen'
grep_err 'split brain'
grep_err 'corosync.conf for cluster bulwark: 2 nodes \(0 witnesses\), 1 link, token 500ms, tie-breaker: none$'

printf '[repository]\npath = /srv/x\n' >"$T/none.conf"
expect 2 "$BW" failover corosync-conf -c "$T/none.conf"
grep_err 'no \[node NAME\] section'
expect 4 "$BW" failover corosync-conf -c "$T/missing.conf"
expect 2 "$BW" failover no-such-subcommand -c "$T/two.conf"
expect 0 "$BW" failover --help
grep_out 'corosync-conf'

# corosync's own parser, when it is installed and we may run it: the
# local node must be in the nodelist (127.0.0.1) and the key must exist.
if command -v corosync >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	head -c 256 /dev/urandom >"$T/authkey"
	chmod 0400 "$T/authkey"
	cat >"$T/three.conf" <<CONF
[cluster]
name = drill
token = 500ms
authkey = $T/authkey
qdevice = 192.0.2.99
[node a]
nodeid = 1
address = 127.0.0.1
[node b]
nodeid = 2
address = 192.0.2.12
[node c]
nodeid = 3
address = 192.0.2.13
witness = yes
CONF
	expect 0 "$BW" failover corosync-conf -c "$T/three.conf"
	cp "$T/out" "$T/corosync.conf"
	expect 0 corosync -t -c "$T/corosync.conf"
else
	say "corosync -t skipped: corosync is not installed or not root"
fi
finish
