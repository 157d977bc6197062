#!/bin/sh
# The restore wizard end to end on a pseudo-terminal, as an operator uses
# it: passphrase, backup set, a point in time from the list, browse and
# mark, another directory, the summary with its command line, yes, the
# restore with verification; then Ctrl-C at the summary and while
# browsing, "no" at the confirmation and q: exit 130 and nothing written.
. "${top_srcdir:-.}/tests/integration/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
	say "SKIP: python3 is needed to drive the wizard on a pseudo-terminal"
	exit 77
fi
PTY="$top_srcdir/tests/integration/ptydrive.py"

# drive NAME CMD...: runs the steps in $T/NAME.steps; the screen is kept in
# $T/NAME.screen
drive() {
	local name=$1
	shift
	if ! python3 "$PTY" --timeout 120 --log "$T/$name.screen" "$T/$name.steps" -- "$@"; then
		fail "wizard run '$name'"
	fi
}
screen_has() { grep -qF -- "$2" "$T/$1.screen" || fail "$1: the screen lacks '$2'"; }
screen_lacks() { ! grep -qF -- "$2" "$T/$1.screen" || fail "$1: the screen shows '$2'"; }

src="$T/src"
mkdir -p "$src/www/img" "$src/etc"
printf 'version 1\n' > "$src/www/index.html"
head -c 300000 /dev/urandom > "$src/www/img/a.png"
head -c 3000 /dev/urandom > "$src/www/img/b.png"
printf 'not wanted\n' > "$src/www/other.txt"
printf 'conf\n' > "$src/etc/app.conf"
cat > "$T/bw.conf" <<CONF
[repository]
path = $T/repo
[backup www]
paths = $src/www
[backup etc]
paths = $src/etc
CONF

expect 0 "$BW" init --kdf interactive
expect 0 "$BW" -c "$T/bw.conf" backup www
expect 0 "$BW" -c "$T/bw.conf" backup etc
expect 0 "$BW" check --read-data
cp -a "$src/www" "$T/www.v1"
printf 'version 2\n' > "$src/www/index.html"
expect 0 "$BW" -c "$T/bw.conf" backup www

# without a terminal there is no wizard: a snapshot is required
expect 2 "$BW" restore </dev/null

# (a) a whole restore, passphrase typed on the terminal
cat > "$T/a.steps" <<STEPS
expect repository passphrase:
noecho
send $BULWARK_PASSPHRASE
expect Which backup set? [1]:
send
expect Point in time? [1]:
send 3
expect verified: no
expect verified: yes
expect Snapshot number? [1]:
send 2
expect What? [1]:
send 2
expect www> 
send ls
expect index.html
expect www> 
send cd img
expect img> 
send ls -l
expect b.png
expect img> 
send cd ..
expect www> 
send mark img
expect marked $src/www/img
expect www> 
send mark index.html
expect www> 
send marked
expect 2 marked
expect www> 
send done
expect Where? [2]:
send 2
expect Directory [/var/tmp/restore-
send $T/target
expect Existing files? [1]:
send
expect command      bulwark restore
expect Type yes to restore
send yes
expect Step 8
exit 0
STEPS
drive a env -u BULWARK_PASSPHRASE "$BW" restore --repo "$T/repo"
screen_lacks a "$BULWARK_PASSPHRASE"
screen_has a "3 files"
screen_has a "0 would be overwritten"
screen_has a "free space"
screen_has a "an estimate"
cmp -s "$T/www.v1/index.html" "$T/target$src/www/index.html" ||
	fail "index.html is not the first snapshot's"
diff -r "$T/www.v1/img" "$T/target$src/www/img" >/dev/null || fail "img differs from the source"
[ ! -e "$T/target$src/www/other.txt" ] || fail "an unmarked file was restored"
[ ! -e "$T/target$src/etc" ] || fail "another backup set was restored"
expect 0 "$BW" audit show
grep_out "restore"

# the summary's command line does the same without the wizard
cmd=$(sed -n 's/^  command      bulwark //p' "$T/a.screen" | tr -d '\r')
case $cmd in
*"--target $T/target "*) ;;
*) fail "the command line lacks the target: $cmd" ;;
esac
cmd=$(printf '%s' "$cmd" | sed "s|--target $T/target |--target $T/again |")
mkdir "$T/again"
eval "set -- $cmd"
expect 0 "$BW" "$@"
diff -r "$T/target" "$T/again" >/dev/null || fail "the command line restored something else"

# (b) Ctrl-C at the summary and while browsing: 130, nothing written
cat > "$T/b1.steps" <<STEPS
expect Which backup set? [1]:
send 1
expect Point in time? [1]:
send
expect What? [1]:
send
expect Where? [2]:
send
expect Directory [
send $T/b1
expect Existing files? [1]:
send
expect Type yes to restore
raw \\x03
expect stopped: nothing was written
exit 130
STEPS
drive b1 "$BW" restore
[ ! -e "$T/b1" ] || fail "Ctrl-C at the summary left $T/b1"

cat > "$T/b2.steps" <<STEPS
expect Which backup set? [1]:
send 2
expect Point in time? [1]:
send
expect What? [1]:
send 2
expect etc> 
send mark app.conf
expect etc> 
raw \\x03
expect stopped: nothing was written
exit 130
STEPS
drive b2 "$BW" restore
screen_lacks b2 "Step 4"

# (c) anything but yes at the confirmation cancels
cat > "$T/c.steps" <<STEPS
expect Which backup set? [1]:
send
expect Point in time? [1]:
send 2
expect Newest before
send 2000-01-01
expect no snapshot at or before 2000-01-01
expect Newest before
send 2999-01-01 12:00
expect chosen:
expect What? [1]:
send 3
expect Include patterns
send *.html
expect Exclude patterns
send
expect Where? [2]:
send 3
expect Archive file [/var/tmp/restore-
send $T/c.tar
expect Type yes to restore
send no
expect cancelled: nothing was written
exit 130
STEPS
drive c "$BW" restore
screen_has c "--to-archive $T/c.tar"
screen_has c "--include '*.html'"
[ ! -e "$T/c.tar" ] || fail "'no' at the confirmation wrote $T/c.tar"

# (d) q at the first question; ? explains
cat > "$T/d.steps" <<STEPS
expect Which backup set? [1]:
send ?
expect A backup set is
expect Which backup set? [1]:
send q
exit 130
STEPS
drive d "$BW" restore

# (f) in place: a clear warning and a typed confirmation; a missing file
# comes back where it was, a live file is kept (overwrite never)
rm "$src/etc/app.conf"
printf 'live\n' > "$src/etc/new.conf"
cat > "$T/f.steps" <<STEPS
expect Which backup set? [1]:
send 2
expect Point in time? [1]:
send
expect What? [1]:
send
expect Where? [2]:
send 1
expect WARNING
expect to confirm [no]:
send yes
expect not confirmed
expect Where? [2]:
send 1
expect to confirm [no]:
send restore in place
expect Existing files? [1]:
send
expect IN PLACE
expect --target / --overwrite never
expect Type yes to restore
send yes
exit 0
STEPS
drive f "$BW" restore
[ "$(cat "$src/etc/app.conf" 2>/dev/null)" = conf ] || fail "in place: app.conf did not come back"
[ "$(cat "$src/etc/new.conf")" = live ] || fail "in place: a live file was touched"

# (e) Ctrl-C while the restore runs: it stops cleanly (no temporary or
# half-written file; what is there is whole) and the summary's command
# finishes the job.  Should the restore win the race and end first, the
# same checks still hold.
mkdir "$src/big"
i=0
while [ $i -lt 40 ]; do
	head -c 2000000 /dev/urandom > "$src/big/f$i"
	i=$((i + 1))
done
expect 0 "$BW" backup "$src/big"
cat > "$T/e.steps" <<STEPS
expect Which backup set? [1]:
send
expect Point in time? [1]:
send
expect What? [1]:
send
expect Where? [2]:
send
expect Directory [
send $T/e
expect Existing files? [1]:
send
expect Type yes to restore
send yes
expect Step 8
expect files, 
raw \x03
exit 130|0
STEPS
drive e "$BW" restore
if grep -qF "[exit status 130]" "$T/e.screen"; then
	screen_has e "interrupted"
else
	say "note: the restore ended before Ctrl-C reached it"
fi
left=$(find "$T/e" -name '.bw-restore.*' -o -name '*.bw-tmp.*' | head -3)
[ -z "$left" ] || fail "an interrupted restore left temporary files: $left"
for f in "$T/e$src/big"/*; do
	[ -e "$f" ] || continue
	cmp -s "$f" "$src/big/${f##*/}" || fail "$f is not whole after the interrupted restore"
done
cmd=$(sed -n 's/^  command      bulwark //p' "$T/e.screen" | tr -d '\r')
eval "set -- $cmd"
expect 0 "$BW" "$@"
diff -r "$src/big" "$T/e$src/big" >/dev/null || fail "the second run did not finish the restore"

# (g) Ctrl-C at the passphrase prompt, half typed: cancelled (130), never
# taken as the passphrase, the terminal's echo back; the same for another
# command that asks for the passphrase
for cmd in "restore --repo $T/repo" "snapshots --repo $T/repo"; do
	cat > "$T/g.steps" <<STEPS
expect repository passphrase:
noecho
raw half-typed
raw \x03
exit 130
STEPS
	# shellcheck disable=SC2086
	drive g env -u BULWARK_PASSPHRASE "$BW" $cmd
	screen_has g "passphrase prompt cancelled"
	screen_lacks g "wrong passphrase"
	screen_lacks g "half-typed"
done

# (i) on a terminal a backup shows its progress line, and ends with the
# summary (off a terminal only the summary: backup.sh)
cat > "$T/i.steps" <<STEPS
expect files, read
expect snapshot
exit 0
STEPS
drive i "$BW" backup --repo "$T/repo" "$src"

# (h) forget --prune on a terminal asks for the passphrase once, not again
# for the prune
cp -a "$T/repo" "$T/repo-h"
cat > "$T/h.steps" <<STEPS
expect repository passphrase:
noecho
send $BULWARK_PASSPHRASE
expect pruned:
exit 0
STEPS
drive h env -u BULWARK_PASSPHRASE "$BW" forget --repo "$T/repo-h" --keep-last 1 --prune
[ "$(grep -c 'repository passphrase:' "$T/h.screen")" = 1 ] ||
	fail "forget --prune asked for the passphrase more than once"
screen_has h "forgot "

finish
