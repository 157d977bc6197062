#!/bin/sh
# End to end through the real bulwark binary: back up a tree holding every
# kind of entry, restore it and compare everything an operator would check
# (tests/integration/treecmp.py); one path, one file, patterns, overwrite
# modes, dry run, --verify, archives, damage, exit codes and the audit log.
. "${top_srcdir:-.}/tests/integration/lib.sh"
trap 'chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT

CMP="python3 ${top_srcdir:-.}/tests/integration/treecmp.py"
root=0
[ "$(id -u)" -eq 0 ] && root=1
cmpopts=""
[ "$root" -eq 1 ] || cmpopts="--no-owner"
if ! command -v getfacl >/dev/null 2>&1 || ! command -v setfacl >/dev/null 2>&1; then
	say "SKIP part: no getfacl/setfacl here: ACLs not compared"
	cmpopts="$cmpopts --no-acl"
fi

src="$T/src"
mkdir -p "$src/www/img" "$src/etc" "$src/ro"
printf 'hello\n' > "$src/www/index.html"
head -c 3000000 /dev/urandom > "$src/www/img/big.bin"
cp "$src/www/img/big.bin" "$src/www/img/copy.bin"
printf 'x' > "$src/etc/conf"
printf 'log\n' > "$src/www/access.log"
ln -s index.html "$src/www/home.html"
ln -s /etc/hostname "$src/www/abs"
ln -s nowhere/at/all "$src/www/dangling"
ln "$src/www/index.html" "$src/www/hard.html"
ln "$src/www/index.html" "$src/etc/hard2"
mkfifo "$src/etc/fifo"
truncate -s 20M "$src/www/sparse"
printf 'middle' | dd of="$src/www/sparse" bs=1 seek=10485760 conv=notrunc 2>/dev/null
printf 'in ro\n' > "$src/ro/file"
touch -d '2021-03-04 05:06:07.123456789' "$src/www/index.html" "$src/www/img"
touch -h -d '2020-01-02 03:04:05.5' "$src/www/home.html"
if command -v setfattr >/dev/null 2>&1; then
	setfattr -n user.origin -v city-portal "$src/www/index.html" &&
	setfattr -n user.empty "$src/etc/conf" || say "SKIP part: no user xattrs on this file system"
else
	say "SKIP part: no setfattr here: xattrs not set"
fi
if ! echo "$cmpopts" | grep -q no-acl; then
	setfacl -m u:65534:r-- "$src/etc/conf"
	setfacl -d -m u:65534:rwx "$src/etc"
fi
if [ "$root" -eq 1 ]; then
	mknod "$src/etc/null" c 1 3
	mknod "$src/etc/blk" b 7 200
	printf 'secret\n' > "$src/etc/none"
	chmod 000 "$src/etc/none"
	chown 65534:65534 "$src/www/access.log"
	chown 12345:54321 "$src/etc/conf"		# ids without names
	mkdir "$src/tmp"
	chmod 1777 "$src/tmp"
	printf '#!/bin/sh\n' > "$src/www/suid"
	chmod 4755 "$src/www/suid"
	mkdir "$src/www/shared"
	chmod 2775 "$src/www/shared"
else
	say "SKIP part: not root: devices, owners, mode 000 and setuid not tested"
fi
chmod 555 "$src/ro"

expect 0 "$BW" init --kdf interactive
expect 0 "$BW" backup "$src"

# everything, into a fresh directory, with its full path
expect 0 "$BW" restore latest --target "$T/r1"
grep_out '^restored '
$CMP $cmpopts "$src" "$T/r1$src" > "$T/cmp" || { fail "full restore differs:"; sed 's/^/  | /' "$T/cmp"; }

# relative repository and target: the decode threads read packs by the
# relative path while the writing thread moves between target directories
# (it has a working directory of its own)
here=$PWD
cd "$T"
BULWARK_REPO=repo expect 0 "$BW" restore "latest:$src/www" --target r2rel
cd "$here"
$CMP $cmpopts "$src/www" "$T/r2rel" > "$T/cmp" || { fail "restore with relative paths differs:"; sed 's/^/  | /' "$T/cmp"; }

# one path: its contents directly in the target; a single file as DIR/NAME
expect 0 "$BW" restore "latest:$src/www" --target "$T/r2"
$CMP $cmpopts "$src/www" "$T/r2" > "$T/cmp" || { fail "latest:/path differs:"; sed 's/^/  | /' "$T/cmp"; }
expect 0 "$BW" restore "latest:$src/www/img/big.bin" --target "$T/r3"
cmp -s "$src/www/img/big.bin" "$T/r3/big.bin" || fail "single file not restored as DIR/NAME"
[ "$(ls -A "$T/r3")" = "big.bin" ] || fail "single file restore wrote more than the file"

# patterns
expect 0 "$BW" restore "latest:$src" --target "$T/r4" --include '*.html' --exclude 'hard*'
[ -f "$T/r4/www/index.html" ] || fail "--include *.html did not bring index.html"
[ ! -e "$T/r4/www/hard.html" ] || fail "--exclude hard* restored hard.html"
[ ! -e "$T/r4/www/img/big.bin" ] || fail "--include *.html restored big.bin"
[ "$(stat -c %a "$T/r4/www")" = "$(stat -c %a "$src/www")" ] ||
	fail "a directory on the way to an included file lacks its own mode"
expect 0 "$BW" restore "latest:$src" --target "$T/r5" --include "$src/www/img"
[ -f "$T/r5/www/img/copy.bin" ] || fail "an included directory did not bring its contents"
[ ! -e "$T/r5/etc" ] || fail "--include of a directory restored others"

# dry run: lists, writes nothing, totals match the real run
expect 0 "$BW" restore "latest:$src/www" --target "$T/r6" --dry-run
grep_out '^dry run \(nothing written\): would restore'
grep_out "^new +$src/www/index.html"
[ ! -e "$T/r6" ] || fail "--dry-run created the target"
planned=$(sed -n 's/.*would restore \([0-9]*\) files.*/\1/p' "$T/out")
expect 0 "$BW" restore "latest:$src/www" --target "$T/r6" --json
grep_out "\"files\":$planned,"

# a second run: everything already there and verified
expect 0 "$BW" restore "latest:$src/www" --target "$T/r6" --json
grep_out '"files":0,'
grep_out '"unchanged":[1-9]'

# overwrite modes
printf 'changed by hand\n' > "$T/r6/access.log"
expect 0 "$BW" restore "latest:$src/www" --target "$T/r6"
grep_out "^skipped +$src/www/access.log"
grep -q 'changed by hand' "$T/r6/access.log" || fail "--overwrite never replaced a file"
expect 0 "$BW" restore "latest:$src/www" --target "$T/r6" --overwrite if-changed --json
grep_out '"replaced":1,'
cmp -s "$src/www/access.log" "$T/r6/access.log" || fail "--overwrite if-changed did not replace"
expect 0 "$BW" restore "latest:$src/www" --target "$T/r6" --overwrite always --verify
grep_out 'verified'
grep_out ' 0 unchanged'
expect 2 "$BW" restore latest --target "$T/r7" --overwrite sometimes
grep_err 'never, if-changed or always'

# archives
expect 0 "$BW" restore "latest:$src/www" --to-archive "$T/www.tar"
tar tf "$T/www.tar" > "$T/list" 2>/dev/null || fail "the archive does not list with tar"
grep -q 'index.html' "$T/list" || fail "the archive lacks index.html"
expect 7 "$BW" restore "latest:$src/www" --to-archive "$T/www.tar"

# exit codes
expect 2 "$BW" restore
grep_err 'which snapshot'
# restore options without a snapshot are refused, not dropped by the wizard
expect 2 "$BW" restore --target "$T/r-nosnap"
grep_err 'target given without a snapshot'
[ ! -e "$T/r-nosnap" ] || fail "restore without a snapshot made its target"
expect 2 "$BW" restore latest
grep_err 'target'
expect 4 "$BW" restore "latest:$src/nothing" --target "$T/r8"
grep_err 'nothing'
expect 4 "$BW" restore deadbeef --target "$T/r8"
BULWARK_PASSPHRASE=wrong expect 5 "$BW" restore latest --target "$T/r8"

# the audit log names the restore, the snapshot and the target
expect 0 "$BW" audit show
grep_out "restore .*$T/r2"

# damage: flip a byte in the middle of the biggest pack; the rest restores
pack=$(find "$T/repo/data" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
size=$(stat -c %s "$pack")
python3 -c "
import sys
f = open(sys.argv[1], 'r+b'); f.seek(int(sys.argv[2]) // 2); c = f.read(1)
f.seek(int(sys.argv[2]) // 2); f.write(bytes([c[0] ^ 0x20])); f.close()" "$pack" "$size"
expect 6 "$BW" restore "latest:$src" --target "$T/r9"
grep_out '^damaged +'
grep_out 'check --read-data'
[ -f "$T/r9/etc/conf" ] || fail "a file without damage was not restored"
(cd "$T/r9" && find . ! -name .) | while read -r p; do
	[ -e "$src/$p" ] || [ -L "$src/$p" ] || echo "$p"
done > "$T/extra"
[ ! -s "$T/extra" ] || fail "left in the target but not in the snapshot: $(cat "$T/extra")"
expect 0 "$BW" audit show
grep_out 'restore .* damaged'

# interrupted: exit 130, nothing half-written; the same command finishes
mkdir "$T/big"
head -c 200000000 /dev/zero | tr '\0' 'z' > "$T/big/file"
expect 0 "$BW" backup "$T/big"
"$BW" restore "latest:$T/big" --target "$T/r10" >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -INT "$pid" 2>/dev/null || true
got=0
wait "$pid" || got=$?
if [ "$got" -eq 130 ]; then
	[ -z "$(ls -A "$T/r10" 2>/dev/null)" ] || fail "an interrupted restore left $(ls -A "$T/r10")"
elif [ "$got" -ne 0 ]; then
	fail "interrupted restore: exit $got, wanted 130"
else
	say "note: the restore finished before the signal; interruption not exercised"
fi
expect 0 "$BW" restore "latest:$T/big" --target "$T/r10"
cmp -s "$T/big/file" "$T/r10/file" || fail "the rerun after an interruption differs"

finish
