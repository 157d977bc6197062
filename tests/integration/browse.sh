#!/bin/sh
# Looking inside snapshots through the real bulwark binary: ls, find and
# diff, choosing snapshots by id prefix, time, backup set and tag, and the
# errors an operator meets (ambiguous, not found, write-only key, damage).
. "${top_srcdir:-.}/tests/integration/lib.sh"

src="$T/src"
mkdir -p "$src/www/img" "$src/www/css/fonts" "$src/db"
printf 'font' > "$src/www/css/fonts/a.woff"
printf 'hello\n' > "$src/www/index.html"
printf 'old\n' > "$src/www/old.txt"
printf 'png' > "$src/www/img/logo.png"
chmod 644 "$src/www/img/logo.png"
ln -s index.html "$src/www/home.html"
ln "$src/www/old.txt" "$src/www/old-link.txt"
printf 'thing' > "$src/www/thing"
printf 'create table t;\n' > "$src/db/data.sql"
cat > "$T/bw.conf" <<CONF
[repository]
path = $T/repo
[backup www]
paths = $src/www
[backup db]
paths = $src/db
CONF
BWC() { "$BW" -c "$T/bw.conf" "$@"; }
me=$(id -un)

expect 0 "$BW" init --kdf interactive
# snapshot 1: www, daily
expect 0 BWC backup --tag daily www
# snapshots start on distinct seconds, so times can tell them apart
sleep 1
# snapshot 2: db, weekly
expect 0 BWC backup --tag weekly db
sleep 1
# snapshot 3: www, daily, with an addition, a removal, a change, a chmod
# and a file that became a directory
printf 'new\n' > "$src/www/new.txt"
rm "$src/www/old.txt" "$src/www/old-link.txt"
printf 'hello, world\n' > "$src/www/index.html"
chmod 600 "$src/www/img/logo.png"
rm "$src/www/thing"
mkdir "$src/www/thing"
expect 0 BWC backup --tag daily www

expect 0 "$BW" snapshots --json
grep -o '"id":"[0-9a-f]*","time":"[^"]*"' "$T/out" > "$T/snaps"
[ "$(wc -l < "$T/snaps")" -eq 3 ] || fail "3 snapshots expected"
id1=$(sed -n 1p "$T/snaps" | cut -d'"' -f4)
id2=$(sed -n 2p "$T/snaps" | cut -d'"' -f4)
id3=$(sed -n 3p "$T/snaps" | cut -d'"' -f4)
t2=$(sed -n 2p "$T/snaps" | cut -d'"' -f8)
s1=$(echo "$id1" | cut -c1-8)
s2=$(echo "$id2" | cut -c1-8)
s3=$(echo "$id3" | cut -c1-8)

# snapshots filtered by set and tag
expect 0 "$BW" snapshots --set db
grep_out "^$s2"
grep_out "^1 snapshot$"
expect 0 "$BW" snapshots --tag daily --json
[ "$(grep -o '"id"' "$T/out" | wc -l)" -eq 2 ] || fail "2 daily snapshots expected"

# ls: without a path, the backed-up paths
expect 0 "$BW" ls latest
[ "$(cat "$T/out")" = "$src/www" ] || fail "ls latest: wanted $src/www, got $(cat "$T/out")"
grep_err "snapshot $s3"
expect 0 "$BW" ls -R "$s1"
grep_out "^$src/www/img/logo.png$"
grep_out "^$src/www/old.txt$"
# ls -l: mode, owner, size, symlink target, hard link
expect 0 "$BW" ls -l "$s1:$src/www"
grep_out "^-rw-r--r--  $me +[^ ]+ +6  [0-9-]+ [0-9:]+  $src/www/index.html$"
grep_out "^lrwxrwxrwx .* $src/www/home.html -> index.html$"
grep_out "$src/www/old(-link)?.txt link to $src/www/old(-link)?.txt$"
grep_out "^drwxr-xr-x .* $src/www/img$"
grep_err "^7 entries"
expect 0 "$BW" ls -l "latest:$src/www/img/logo.png"
grep_out "^-rw-------  $me .* $src/www/img/logo.png$"
[ "$(wc -l < "$T/out")" -eq 1 ] || fail "ls of a file lists that file alone"
expect 0 "$BW" ls --json "latest:$src//www/"
grep_out "\"path\":\"$src/www/home.html\",\"name\":\"home.html\",\"type\":\"symlink\""
grep_out '"type":"dir"'
expect 4 "$BW" ls "latest:$src/www/old.txt"
grep_err "has no $src/www/old.txt"
expect 4 "$BW" ls "latest:$src/www/index.html/x"
grep_err "not a directory"

# find: each version of a path with the snapshots holding it
expect 0 "$BW" find 'index.html'
grep_out "^$src/www/index.html$"
grep_out "^  version 1: file, 6 B, .*in 1 snapshot: $s1 "
grep_out "^  version 2: file, 13 B, .*in 1 snapshot: $s3 "
expect 0 "$BW" find '*.png'
grep_out "version 1: file, 3 B, .*in 2 snapshots: $s1 .*, $s3 "
grep_err "1 path, 1 version, in 2 of 3 snapshots"
# a directory unchanged two levels below a changed one: its matches are
# replayed from the memo, for whole-path patterns too
expect 0 "$BW" find '*.woff'
grep_out "in 2 snapshots: $s1 .*, $s3 "
expect 0 "$BW" find "*/www/css/*/*.woff"
grep_out "in 2 snapshots: $s1 .*, $s3 "
expect 0 "$BW" find --json "$src/*/data.sql"
grep_out "\"path\":\"$src/db/data.sql\""
grep_out "\"id\":\"$id2\""
expect 0 "$BW" find --set www 'old.txt'
grep_out "in 1 snapshot: $s1 "
expect 4 "$BW" find --set db '*.html'
expect 4 "$BW" find 'no-such-file'

# diff: +, -, M, U, T and the totals
expect 0 "$BW" diff "$s1" latest
grep_out "^\+  $src/www/new.txt$"
grep_out "^-  $src/www/old.txt$"
grep_out "^M  $src/www/index.html  \(6 B -> 13 B; mtime\)$"
grep_out "^U  $src/www/img/logo.png  \(mode -rw-r--r-- -> -rw-------\)$"
grep_out "^T  $src/www/thing/  \(file -> dir\)$"
grep_err "$s1 -> $s3: 1 added, 2 removed, 1 modified, 1 metadata only, 1 type changed"
expect 0 "$BW" diff --json "$s1" "$s3"
grep_out '"totals":\{"added":1,"removed":2,"modified":1,"metadata":1,"type":1'
expect 0 "$BW" diff latest latest
[ -s "$T/out" ] && fail "diff of a snapshot with itself printed changes"
grep_err "0 added, 0 removed, 0 modified"

# choosing by time: the newest at or before (UTC with Z, or local time)
expect 0 "$BW" ls "${t2}Z"
grep_err "snapshot $s2"
TZ=UTC0 expect 0 "$BW" ls "$t2"
grep_err "snapshot $s2"
expect 0 "$BW" ls --set www "${t2}Z"
grep_err "snapshot $s1"
expect 0 "$BW" ls "$(echo "$t2" | cut -c1-10)Z:$src/www"
grep_err "snapshot ($s2|$s3)"
expect 4 "$BW" ls "2000-01-01 12:00Z"
grep_err "no snapshot at or before 2000-01-01 12:00 UTC \(oldest is "
expect 2 "$BW" ls "2026-13-01"
grep_err "not a valid time"
expect 2 "$BW" ls "what"
grep_err "'what' is not a snapshot"
# by tag and set
expect 0 "$BW" ls --tag weekly latest
grep_err "snapshot $s2"
expect 4 "$BW" ls --set www --tag weekly latest
grep_err "in set 'www' with tag 'weekly'"
# by id prefix: unknown
expect 4 "$BW" ls 0123456789abcdef0123
grep_err "no snapshot has an id starting with '0123456789abcdef0123'"

# a write-only key cannot look inside snapshots
BULWARK_NEW_PASSPHRASE=hostpw expect 0 "$BW" key add --name web1 --cap write --kdf interactive
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" ls latest
grep_err "write-only"
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" find '*'
grep_err "write-only"
BULWARK_PASSPHRASE=hostpw expect 5 "$BW" diff "$s1" latest
grep_err "write-only"
expect 0 "$BW" audit show
grep_out "ls"
grep_out "diff"

# an ambiguous prefix lists the candidates: snapshots until two ids share
# their first digit (17 at most)
mkdir "$T/tiny"
printf 'x' > "$T/tiny/f"
export BULWARK_REPO="$T/repo2"
expect 0 "$BW" init --kdf interactive
n=0
dup=
while [ -z "$dup" ] && [ $n -lt 17 ]; do
	printf '%s' "$n" > "$T/tiny/f"
	expect 0 "$BW" backup "$T/tiny"
	n=$((n + 1))
	"$BW" snapshots --json | grep -o '"id":"[0-9a-f]' | cut -d'"' -f4 | sort > "$T/firsts"
	dup=$(uniq -d "$T/firsts" | head -1)
done
[ -n "$dup" ] || fail "no two snapshot ids share a first digit"
expect 2 "$BW" ls "$dup"
grep_err "the id prefix matches [0-9]+ snapshots \($dup[0-9a-f]{15} [0-9-]+ [0-9:]+Z, $dup"
grep_err "more digits"

# a damaged directory tree is named and exits 6: the first backup's pack
# holds the trees of the directories the second backup did not change
export BULWARK_REPO="$T/repo3"
mkdir -p "$T/dmg/keep" "$T/dmg/change"
printf 'a' > "$T/dmg/keep/a"
printf 'b' > "$T/dmg/change/b"
expect 0 "$BW" init --kdf interactive
expect 0 "$BW" backup "$T/dmg"
find "$T/repo3/data" -type f > "$T/packs1"
printf 'bb' > "$T/dmg/change/b"
expect 0 "$BW" backup "$T/dmg"
while read -r pack; do
	size=$(wc -c < "$pack")
	head -c "$size" /dev/zero > "$pack"
done < "$T/packs1"
expect 6 "$BW" ls -R latest
grep_err "directory $T/dmg/keep: tree object [0-9a-f]+ .*run 'bulwark check'"
grep_out "^$T/dmg/change/b$"
expect 6 "$BW" find 'b'
grep_err "directory $T/dmg/keep"
expect 6 "$BW" ls "latest:$T/dmg/keep/a"
grep_err "directory $T/dmg/keep: its tree cannot be read"
finish
