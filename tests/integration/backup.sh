#!/bin/sh
# End to end through the real bulwark binary: init, backup, incremental,
# snapshots, check, forget, prune, capabilities, bad input, audit.
. "${top_srcdir:-.}/tests/integration/lib.sh"

src="$T/src"
mkdir -p "$src/www/img" "$src/etc"
printf 'hello\n' > "$src/www/index.html"
head -c 3000000 /dev/urandom > "$src/www/img/big.bin"
cp "$src/www/img/big.bin" "$src/www/img/copy.bin"
printf 'x' > "$src/etc/conf"
ln -s index.html "$src/www/home.html"
: > "$src/www/$(printf 'new\nline')"

expect 0 "$BW" init --kdf interactive
expect 4 "$BW" snapshots --repo "$T/nope"
grep_err "nope"
mkdir "$T/notrepo"; touch "$T/notrepo/x"
expect 4 "$BW" snapshots --repo "$T/notrepo"
grep_err "not a Bulwark repository|bulwark init"
BULWARK_PASSPHRASE=wrong expect 5 "$BW" snapshots
expect 2 "$BW" frobnicate
grep_err "unknown command"

expect 0 "$BW" backup --json "$src"
grep_out '"files":5'
grep_out '"files_new":5'
expect 0 "$BW" backup --json "$src"
grep_out '"files":5'
printf 'changed\n' >> "$src/etc/conf"
expect 0 "$BW" backup "$src"
grep_out 'snapshot [0-9a-f]{8} saved'
expect 0 "$BW" snapshots --json
[ "$(grep -o '"id"' "$T/out" | wc -l)" -eq 3 ] || fail "3 snapshots expected"
expect 0 "$BW" check --read-data
grep_out "no problems found"
expect 0 "$BW" stats --json
grep_out '"snapshots":3'

# dedup: the two 3 MB copies are stored once
size=$(du -sb "$T/repo" | cut -f1)
[ "$size" -lt 4500000 ] || fail "repository is $size bytes; the copies were not deduplicated"

# a write-only key backs up but cannot read or forget
BULWARK_NEW_PASSPHRASE=hostpw expect 0 "$BW" key add --name web1 --cap write --kdf interactive
BULWARK_PASSPHRASE=hostpw expect 0 "$BW" backup "$src/etc"
BULWARK_PASSPHRASE=hostpw expect 0 "$BW" snapshots
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" check --read-data
grep_err "cannot read"
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" forget --keep-last 1
grep_err "admin"
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" prune
expect 0 "$BW" key list
grep_out "web1"

# forget by policy, then prune; the rest still checks
expect 0 "$BW" forget --keep-last 2 --dry-run
grep_out "would forget"
expect 0 "$BW" forget --keep-last 1 --prune
expect 0 "$BW" snapshots --json
expect 0 "$BW" check --read-data

# damage: flip one byte of a pack; check names the object and the file
pack=$(find "$T/repo/data" -type f -size +1000k | head -1)
[ -n "$pack" ] || fail "no pack found"
flip_byte "$pack" 5000
expect 6 "$BW" check --read-data
grep_err "object [0-9a-f]+"
grep_err "big.bin|copy.bin"

# a configured backup set with excludes and tags; the repository inside a
# backed-up path is never backed up into itself
mkdir -p "$src/www/tmp"
printf 'scratch' > "$src/www/tmp/junk"
cat > "$T/good.conf" <<CONF
[repository]
path = $T/repo
[backup www]
paths = $src/www
exclude = */tmp
tags = web
CONF
expect 0 "$BW" -c "$T/good.conf" config check
expect 0 "$BW" -c "$T/good.conf" backup --json --tag nightly www
grep_out '"files":4'
expect 0 "$BW" snapshots --json
grep_out '"set":"www"'
grep_out '"tags":\["nightly","web"\]|"tags":\["web","nightly"\]'
# this host's [repository] compression and pack_size steer what it stores
mkdir -p "$T/wo"
seq 1 300000 > "$T/wo/text"
# 12 MB of random data makes at least 3 packs of 1 MiB whatever the cut:
# a chunk is at most 4 MiB and a pack closes once it reaches 1 MiB (3 MB
# could be one chunk, stored with the text in just two packs)
head -c 12000000 /dev/urandom > "$T/wo/random"
for lvl in 1 19; do
	cat > "$T/wo$lvl.conf" <<CONF
[repository]
path = $T/wo$lvl-repo
compression = $lvl
pack_size = 1
[backup wo]
paths = $T/wo
CONF
	expect 0 env -u BULWARK_REPO "$BW" -c "$T/wo$lvl.conf" init --kdf interactive
	expect 0 env -u BULWARK_REPO "$BW" -c "$T/wo$lvl.conf" backup wo
done
packs=$(find "$T/wo1-repo/data" -type f | wc -l)
[ "$packs" -ge 3 ] || fail "pack_size = 1 gave $packs pack(s) for 14 MB of data"
s1=$(du -sb "$T/wo1-repo/data" | cut -f1)
s19=$(du -sb "$T/wo19-repo/data" | cut -f1)
# (the repositories cut differently, so equal levels differ a little; the
# text alone is 826 KB at level 1 and 275 KB at level 19)
[ $((s1 - s19)) -gt 200000 ] || fail "compression = 19 stored $s19 bytes, level 1 $s1"
expect 0 env -u BULWARK_REPO "$BW" -c "$T/wo19.conf" check --read-data

mkdir -p "$T/inner"
printf 'data' > "$T/inner/file"
BULWARK_REPO="$T/inner/repo" expect 0 "$BW" init --kdf interactive
BULWARK_REPO="$T/inner/repo" expect 0 "$BW" backup --json "$T/inner"
grep_out '"files":1,'
BULWARK_REPO="$T/inner/repo" expect 0 "$BW" backup --json "$T/inner"
grep_out '"files":1,'

# config errors name file:line
cat > "$T/bad.conf" <<'CONF'
[repository]
path = relative/path
[backup www]
paths = /srv/www
keep_daily = seven
CONF
expect 2 "$BW" config check "$T/bad.conf"
grep_err "bad.conf:2"
grep_err "bad.conf:5"

# the audit log holds every action and verifies
expect 0 "$BW" audit show
grep_out "backup"
grep_out "forget"
grep_out "key add"
expect 0 "$BW" audit verify
sed -i '3s/backup/restore/' "$T/audit/log"
expect 6 "$BW" audit verify
finish
