#!/bin/sh
# Bad input against the real bulwark binary: wrong passphrase, wrong
# repository paths, unreadable sources, disk full, a newer format version,
# damaged packs and indexes, malformed configs, hostile file names,
# concurrent and killed backups, Ctrl-C, and a write-only key.  Every case
# checks the exit code, that the error names the thing and says what to do,
# and that the snapshots already stored are still listed and verify.
. "${top_srcdir:-.}/tests/integration/lib.sh"

mnt= bgpid=
cleanup() {
	if [ -n "$bgpid" ]; then
		kill -KILL "$bgpid" 2>/dev/null || :
		wait "$bgpid" 2>/dev/null || :
	fi
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || :
	fi
	rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"	# user nobody must reach its directories below

skip() { say "SKIP: $*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }
have_py() { command -v python3 >/dev/null 2>&1; }
# nsnaps: how many snapshots the repository lists
nsnaps() { "$BW" snapshots --json 2>/dev/null | grep -o '"id":"' | wc -l; }
# intact N: the repository still lists N snapshots and verifies every byte
intact() {
	local n
	n=$(nsnaps)
	[ "$n" -eq "$1" ] || fail "$1 snapshots expected after that, $n listed"
	expect 0 "$BW" check --read-data
	grep_out "no problems found"
}
# json_ok: the last command's stdout is valid JSON
json_ok() {
	if have_py; then
		python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out" ||
		    fail "stdout is not valid JSON"
	fi
}
# no_raw_controls: no line of stderr was forged or carries escape sequences
no_raw_controls() {
	if grep -q "$(printf '\033')" "$T/err"; then
		fail "stderr carries a raw escape character"
	fi
	if grep -qv '^bulwark: ' "$T/err"; then
		fail "a stderr line does not start with 'bulwark: ' (a name split it)"
		sed 's/^/  | /' "$T/err" | head -10
	fi
}
# le32 N: N as 4 little-endian bytes (printf escapes)
le32() {
	printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $((($1 >> 8) & 255)) \
	    $((($1 >> 16) & 255)) $((($1 >> 24) & 255))
}
# mklock FILE EXCLUSIVE PID: a lock file as bulwark writes it (docs/FORMAT.md)
mklock() {
	local host user
	host=$(hostname)
	user=$(id -un)
	# shellcheck disable=SC2059
	printf "BWLOCK\\000\\000$(le32 2)\\$(printf %03o "$2")$(le32 ${#host})%s$(le32 "$3")$(le32 ${#user})%s$(le32 "$(date +%s)")$(le32 0)" \
	    "$host" "$user" >"$1"
	chmod 600 "$1"
}
# wait_lock DIR PID: until a lock appears in DIR (0) or PID exits (1)
wait_lock() {
	local i=0
	while [ $i -lt 600 ]; do
		[ -n "$(ls -A "$1" 2>/dev/null)" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

REPO=$BULWARK_REPO
src="$T/src"
mkdir -p "$src/d"
head -c 2000000 /dev/urandom >"$src/d/big1"
printf 'hello\n' >"$src/hello"
expect 0 "$BW" init --kdf interactive
expect 0 "$BW" backup "$src"
printf 'second\n' >"$src/d/small2"	# a new tree for d, in another pack
expect 0 "$BW" backup "$src"
snaps=2

say "== wrong passphrase, missing and foreign repositories, missing source"
BULWARK_PASSPHRASE=wrong expect 5 "$BW" snapshots
grep_err "passphrase"
BULWARK_PASSPHRASE=wrong expect 5 "$BW" backup "$src"
grep_err "check the passphrase"
expect 4 "$BW" snapshots --repo "$T/nope"
grep_err "$T/nope does not exist"
grep_err "bulwark init"
expect 4 "$BW" backup --repo "$T/nope" "$src"
grep_err "$T/nope"
mkdir "$T/foreign"
printf 'not ours\n' >"$T/foreign/data.txt"
expect 4 "$BW" snapshots --repo "$T/foreign"
grep_err "$T/foreign is not a Bulwark repository"
expect 4 "$BW" check --repo "$T/foreign"
grep_err "not a Bulwark repository"
expect 4 "$BW" snapshots --repo "$src/hello"
grep_err "not a Bulwark repository"
expect 1 "$BW" init --repo "$T/foreign" --kdf interactive
grep_err "not an empty directory"
[ -f "$T/foreign/data.txt" ] || fail "init touched a foreign directory"
# a mistyped source path is refused, not saved as an empty snapshot
expect 4 "$BW" backup "$T/no-such-dir"
grep_err "$T/no-such-dir does not exist"
expect 4 "$BW" backup "$src" "$T/no-such-dir"
intact $snaps

say "== unreadable source files"
u="$T/usrc"
mkdir -p "$u/sub" "$u/locked"
printf 'one\n' >"$u/ok1"
printf 'two\n' >"$u/sub/ok2"
printf 'secret\n' >"$u/secret"
printf 'x\n' >"$u/locked/inside"
evil="$(printf 'evil\n\033[31mred')"
printf 'y\n' >"$u/$evil"
asuser= partial_done=
if is_root; then
	if command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
		# root reads mode-000 files: back up as nobody, on a repository,
		# cache and audit log that nobody owns
		mkdir -p "$T/bin" "$T/ucache" "$T/uaudit"
		cp "$BW" "$T/bin/bulwark"
		chmod 755 "$T/bin" "$T/bin/bulwark"
		chown -R nobody:nogroup "$REPO" "$T/ucache" "$T/uaudit" 2>/dev/null ||
		    chown -R nobody "$REPO" "$T/ucache" "$T/uaudit"
		asuser="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
	else
		skip "unreadable files: running as root and setpriv (or user nobody) is missing"
	fi
fi
if ! is_root || [ -n "$asuser" ]; then
	chmod 000 "$u/secret" "$u/locked" "$u/$evil"
	ubw() {
		if [ -n "$asuser" ]; then
			BULWARK_CACHE_DIR="$T/ucache" BULWARK_AUDIT_DIR="$T/uaudit" \
			    $asuser "$T/bin/bulwark" "$@"
		else
			"$BW" "$@"
		fi
	}
	expect 3 ubw backup "$u"
	grep_err "$u/secret.*(check its permissions or exclude it)"
	grep_err "$u/locked"
	grep_out "PARTIAL"
	no_raw_controls
	expect 3 ubw backup --json "$u"
	grep_out '"partial":true'
	grep_out '"files":2'
	grep_out "\"errors\":\\[.*$u/secret"
	json_ok
	snaps=$((snaps + 2))
	expect 0 "$BW" snapshots --json
	json_ok
	grep_out '"partial":true,"errors":\["[^]]*secret'
	grep_out '"partial":true,"errors":\["[^]]*locked'
	grep_out '"partial":false,"errors":\[\]'
	expect 0 "$BW" snapshots
	grep_out "\\(partial\\)"
	chmod 700 "$u/secret" "$u/locked" "$u/$evil"
	partial_done=1
	intact $snaps
fi

say "== a newer repository format version"
cp -a "$REPO" "$T/v2"
printf '\003\000\000\000' | dd of="$T/v2/config" bs=1 seek=8 conv=notrunc status=none
expect 6 "$BW" snapshots --repo "$T/v2"
grep_err "version 3"
grep_err "upgrade Bulwark"
expect 6 "$BW" backup --repo "$T/v2" "$src"
grep_err "version 3.*upgrade"
[ "$(find "$T/v2/snapshots" -type f | wc -l)" -eq "$snaps" ] ||
    fail "a backup wrote into a repository of a newer version"
rm -rf "$T/v2"

say "== the development format before 0.1.0 (version 1)"
cp -a "$REPO" "$T/v1"
printf '\001\000\000\000' | dd of="$T/v1/config" bs=1 seek=8 conv=notrunc status=none
expect 6 "$BW" backup --repo "$T/v1" "$src"
grep_err "format version 1 of a development release"
grep_err "back up into a new repository"
[ "$(find "$T/v1/snapshots" -type f | wc -l)" -eq "$snaps" ] ||
    fail "a backup wrote into a repository of the old development format"
rm -rf "$T/v1"

say "== damaged packs and index files"
# the first backup's pack holds big1's data; the second backup's trees
# (and so the names) live in another pack
packA=$(find "$REPO/data" -type f -size +1000k | head -1)
[ -n "$packA" ] || fail "no pack of big1 found"
idA=$(basename "$packA")
damage() {	# fresh copy of the repository in $T/dmg
	rm -rf "$T/dmg"
	cp -a "$REPO" "$T/dmg"
	echo "$T/dmg/data/${packA#"$REPO/data/"}"
}
p=$(damage)
sz=$(stat -c %s "$p")
flip_byte "$p" $((sz / 2))
expect 6 "$BW" check --repo "$T/dmg" --read-data
grep_err "object [0-9a-f]{16}"
grep_err "$src/d/big1: object [0-9a-f]{16} is damaged"
grep_err "pack $idA"
grep_err "PROBLEMS|check found"
grep_out "PROBLEMS FOUND"
expect 0 "$BW" snapshots --repo "$T/dmg" --json
[ "$(grep -o '"id":"' "$T/out" | wc -l)" -eq "$snaps" ] || fail "a damaged pack hid snapshots"

p=$(damage)
truncate -s $((sz / 2)) "$p"
expect 6 "$BW" check --repo "$T/dmg" --read-data
grep_err "pack $idA.*truncated"
grep_err "object [0-9a-f]{16}"
grep_err "$src/d/big1: object [0-9a-f]{16} is (damaged|missing)"
expect 6 "$BW" check --repo "$T/dmg"
grep_err "pack $idA.*truncated"

damage >/dev/null
truncate -s 100 "$T/dmg/index/$idA"
expect 6 "$BW" check --repo "$T/dmg"
grep_err "index file $idA is damaged"
grep_err "run 'bulwark check --read-data'"
grep_err "big1"

p=$(damage)
rm "$p"
expect 6 "$BW" check --repo "$T/dmg"
grep_err "pack $idA named by an index file is missing"
grep_err "$src/d/big1: object [0-9a-f]{16} is (missing|damaged)"
rm -rf "$T/dmg"
intact $snaps

say "== damaged and lost key slots"
expect 0 "$BW" key export
grep_out "BEGIN BULWARK KEY [0-9a-f]{16}"
cp "$T/out" "$T/paper.txt"
rm -rf "$T/dmg"
cp -a "$REPO" "$T/dmg"
slot=$(ls "$T/dmg/keys")
sz=$(stat -c %s "$T/dmg/keys/$slot")
flip_byte "$T/dmg/keys/$slot" $((sz - 10))
# no passphrase can open it: say that, not "check the passphrase"
expect 6 "$BW" snapshots --repo "$T/dmg"
grep_err "key slot $slot is damaged"
grep_err "every key slot is damaged.*bulwark key import"
rm "$T/dmg/keys/$slot"
expect 6 "$BW" snapshots --repo "$T/dmg"
grep_err "has no key slot.*bulwark key import"
expect 0 "$BW" key import --repo "$T/dmg" "$T/paper.txt"
expect 0 "$BW" check --repo "$T/dmg" --read-data
grep_out "checked $snaps snapshots.*no problems found"
rm -rf "$T/dmg"

say "== malformed configuration"
cat >"$T/bad.conf" <<CONF
[repository]
path = $REPO
[backup www]
paths = $src
keep_daily = seven
CONF
expect 2 "$BW" config check "$T/bad.conf"
grep_err "bad.conf:5: .*keep_daily.*expected a whole number"
expect 2 "$BW" -c "$T/bad.conf" backup www
grep_err "bad.conf:5"
printf '[repository]\npath = %s\n[backup www\npaths = %s\n' "$REPO" "$src" >"$T/bad2.conf"
expect 2 "$BW" config check "$T/bad2.conf"
grep_err "bad2.conf:3: .*no closing \\]"
expect 2 "$BW" -c "$T/bad2.conf" backup www
grep_err "bad2.conf:3"
printf '[repository]\npath = %s\nbogus = 1\n' "$REPO" >"$T/bad3.conf"
expect 2 "$BW" config check "$T/bad3.conf"
grep_err "bad3.conf:3: .*bogus: unknown key; expected"
printf 'no equals sign here\n' >"$T/bad4.conf"
expect 2 "$BW" -c "$T/bad4.conf" backup www
grep_err "bad4.conf:1: .*expected key = value"
printf '[repository]\npath = %s\n' "$REPO" >"$T/good.conf"
expect 0 "$BW" config check "$T/good.conf"
expect 2 "$BW" -c "$T/good.conf" backup nosuchset
grep_err "\\[backup nosuchset\\]"
expect 4 "$BW" -c "$T/missing.conf" backup www
grep_err "missing.conf: cannot open"
intact $snaps

say "== hostile file names"
h="$T/hostile"
mkdir -p "$h"
printf 1 >"$h/$(printf 'new\nline')"
printf 2 >"$h/$(printf 'tab\there')"
printf 3 >"$h/-rf"
printf 4 >"$h/--help"
printf 5 >"$h/$(printf 'bad\377\376utf8')"
printf 6 >"$h/$(printf '\033[31mred\033[0m')"
printf 7 >"$h/$(printf 'quo"te\\back')"
printf 8 >"$h/$(printf '\342\200\256bidi')"
long=$(printf '%0255d' 0 | tr 0 n)
mkdir "$h/$long"
printf 9 >"$h/$long/$long"
d="$h/deep"
i=0
while [ $i -lt 200 ]; do d="$d/d"; i=$((i + 1)); done
mkdir -p "$d"
printf 10 >"$d/leaf"
# a path longer than PATH_MAX (4096): made one directory at a time
mkdir "$h/long"
(
	cd "$h/long"
	i=0
	while [ $i -lt 30 ]; do
		n=$(printf '%0200d' 0 | tr 0 L)
		mkdir "$n" && cd "$n"
		i=$((i + 1))
	done
	printf 11 >leaf
)
expect 0 "$BW" backup --json "$h"
grep_out '"partial":false'
json_ok
no_raw_controls
snaps=$((snaps + 1))
expect 0 "$BW" snapshots --json
json_ok
intact $snaps
grep_out "checked $snaps snapshots"
# a source directory whose own name is hostile
hs="$T/$(printf 'src\nname\033[0m')"
mkdir "$hs"
printf z >"$hs/f"
expect 0 "$BW" backup --json "$hs"
json_ok
snaps=$((snaps + 1))
expect 0 "$BW" snapshots --json
json_ok

say "== locks: concurrent backups, a live exclusive lock, a dead one"
mkdir -p "$T/c1" "$T/c2"
head -c 12000000 /dev/urandom >"$T/c1/big"
head -c 12000000 /dev/urandom >"$T/c2/big"
("$BW" backup "$T/c1" >"$T/o1" 2>"$T/e1"; echo $? >"$T/rc1") &
p1=$!
("$BW" backup "$T/c2" >"$T/o2" 2>"$T/e2"; echo $? >"$T/rc2") &
p2=$!
wait $p1 $p2 || :
[ "$(cat "$T/rc1")" = 0 ] || { fail "concurrent backup 1 exited $(cat "$T/rc1")"; cat "$T/e1"; }
[ "$(cat "$T/rc2")" = 0 ] || { fail "concurrent backup 2 exited $(cat "$T/rc2")"; cat "$T/e2"; }
snaps=$((snaps + 2))
[ -z "$(ls -A "$REPO/locks")" ] || fail "locks left behind: $(ls "$REPO/locks")"
# an exclusive lock of a live process (this shell) refuses a backup
mklock "$REPO/locks/00112233445566778899aabbccddeeff" 1 $$
expect 8 "$BW" backup "$src"
grep_err "locked by 00112233445566778899aabbccddeeff.*pid $$"
grep_err "wait for it to finish"
expect 8 "$BW" prune
grep_err "locked by"
rm "$REPO/locks/00112233445566778899aabbccddeeff"
# a lock of a process that is gone is broken with a warning
sh -c 'exit 0' &
dead=$!
wait $dead || :
mklock "$REPO/locks/ffeeddccbbaa99887766554433221100" 1 $dead
expect 0 "$BW" backup "$src"
grep_err "breaking stale lock ffeeddccbbaa99887766554433221100.*pid $dead"
snaps=$((snaps + 1))
[ -z "$(ls -A "$REPO/locks")" ] || fail "the stale lock was not removed"
# and one left by a backup killed with SIGKILL mid-way
big="$T/bigtree"
mkdir -p "$big"
for i in $(seq 1 16); do head -c 8000000 /dev/urandom >"$big/f$i"; done
"$BW" backup --no-cache "$big" >"$T/out" 2>"$T/err" &
bgpid=$!
if wait_lock "$REPO/locks" $bgpid; then
	sleep 0.05
	kill -KILL $bgpid 2>/dev/null || :
fi
rc=0
wait $bgpid 2>/dev/null || rc=$?
bgpid=
if [ $rc -eq 137 ] && [ -n "$(ls -A "$REPO/locks")" ]; then
	stale=$(ls "$REPO/locks")
	expect 0 "$BW" backup "$src"
	grep_err "breaking stale lock $stale"
	snaps=$((snaps + 1))
	[ -z "$(ls -A "$REPO/locks")" ] || fail "the killed backup's lock was not removed"
	# its half-written pack is left for prune to remove
	expect 0 "$BW" prune
	[ -z "$(find "$REPO/data" -name '.tmp-*')" ] || fail "prune left temporary packs"
else
	# killed after its lock was gone: its snapshot may or may not have
	# been saved (it was never reported done), and either is right
	n=$(nsnaps)
	[ "$n" -eq $snaps ] || [ "$n" -eq $((snaps + 1)) ] ||
	    fail "a killed backup left $n snapshots (had $snaps)"
	snaps=$n
	skip "killed backup: it ended (exit $rc) before SIGKILL or left no lock"
fi
intact $snaps

say "== Ctrl-C during a backup"
"$BW" backup --no-cache "$big" >"$T/out" 2>"$T/err" &
bgpid=$!
if wait_lock "$REPO/locks" $bgpid; then
	sleep 0.2	# past the signal handler's installation
	kill -INT $bgpid 2>/dev/null || :
fi
rc=0
wait $bgpid || rc=$?
bgpid=
if [ $rc -eq 130 ]; then
	grep_err "interrupted; no snapshot was saved"
	[ -z "$(ls -A "$REPO/locks")" ] || fail "an interrupted backup left its lock"
	n=$(nsnaps)
	[ "$n" -eq $snaps ] || fail "an interrupted backup changed the snapshots ($n, wanted $snaps)"
	expect 0 "$BW" backup "$src"
	snaps=$((snaps + 1))
else
	[ $rc -eq 0 ] && snaps=$((snaps + 1))
	[ $rc -eq 0 ] || fail "interrupted backup exited $rc, wanted 130"
	[ $rc -eq 0 ] && skip "Ctrl-C: the backup ended before SIGINT"
fi
intact $snaps

say "== disk full"
if ! is_root; then
	skip "disk full: needs root to mount a small tmpfs"
elif mkdir "$T/mnt" && mount -t tmpfs -o size=6m,mode=700 tmpfs "$T/mnt" 2>"$T/err"; then
	mnt="$T/mnt"
	dr="$mnt/repo"
	mkdir -p "$T/fit" "$T/nofit"
	head -c 2000000 /dev/urandom >"$T/fit/a"
	cp "$T/fit/a" "$T/nofit/a"
	head -c 8000000 /dev/urandom >"$T/nofit/b"
	export BULWARK_REPO="$dr"
	expect 0 "$BW" init --kdf interactive
	expect 0 "$BW" backup "$T/fit"
	expect 7 "$BW" backup "$T/nofit"
	grep_err "No space left on device|no space left"
	grep_err "free space"
	grep_err "no snapshot was saved, earlier snapshots are intact"
	[ -z "$(find "$dr" -name '.tmp*')" ] || fail "temporary files left on the full disk"
	intact 1
	mount -o remount,size=64m "$mnt"
	expect 0 "$BW" backup "$T/nofit"
	intact 2
	export BULWARK_REPO="$REPO"
	umount "$mnt" && mnt=
else
	skip "disk full: cannot mount a tmpfs here ($(cat "$T/err"))"
fi

say "== a write-only key"
BULWARK_NEW_PASSPHRASE=hostpw expect 0 "$BW" key add --name host1 --cap write --kdf interactive
BULWARK_PASSPHRASE=hostpw expect 0 "$BW" backup "$src"
snaps=$((snaps + 1))
BULWARK_PASSPHRASE=hostpw expect 0 "$BW" snapshots --json
json_ok
[ "$(grep -o '"id":"' "$T/out" | wc -l)" -eq $snaps ] || fail "the write-only key lists fewer snapshots"
# it cannot read which files a partial snapshot missed, and says so
[ -z "$partial_done" ] || grep_out '"partial":true,"errors":null'
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" forget --keep-last 1
grep_err "cannot forget.*admin"
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" forget latest
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" prune
grep_err "cannot prune.*admin"
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" check --read-data
grep_err "cannot read data.*read or admin key"
BULWARK_PASSPHRASE=hostpw BULWARK_NEW_PASSPHRASE=x expect 5 "$BW" key add --name x --cap admin
grep_err "cannot add keys"
intact $snaps

finish
