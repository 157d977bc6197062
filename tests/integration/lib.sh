# Shared helpers for integration tests of the real programs (sourced).
# Each test works in a fresh directory and removes it on exit.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
BW=$(cd "$top_builddir" && pwd)/cli/bulwark
T=$(mktemp -d /tmp/bw-it.XXXXXX)
trap 'rm -rf "$T"' EXIT
export BULWARK_REPO="$T/repo" BULWARK_CACHE_DIR="$T/cache" BULWARK_AUDIT_DIR="$T/audit"
export BULWARK_PASSPHRASE="correct horse battery staple"
unset BULWARK_NEW_PASSPHRASE
fails=0

say() { printf '%s\n' "$*"; }
fail() { say "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE CMD...: run, check the exit code, keep output in $T/out and $T/err
expect() {
	local want=$1 got=0
	shift
	"$@" >"$T/out" 2>"$T/err" || got=$?
	if [ "$got" -ne "$want" ]; then
		fail "exit $got, wanted $want: $*"
		sed 's/^/  | /' "$T/err" | head -20
	fi
	return 0
}
# grep_err PATTERN: the last command's stderr must match
grep_err() { grep -qE "$1" "$T/err" || { fail "stderr lacks /$1/"; sed 's/^/  | /' "$T/err" | head -10; }; }
# damage FILE at byte OFFSET: invert the byte there, so it always changes
# (writing a fixed value leaves the file intact when the byte held it)
flip_byte() {
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	[ -n "$b" ] || { fail "flip_byte: $1 has no byte at $2"; return; }
	printf "\\$(printf %o $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
grep_out() { grep -qE "$1" "$T/out" || { fail "stdout lacks /$1/"; sed 's/^/  | /' "$T/out" | head -10; }; }
finish() {
	if [ "$fails" -ne 0 ]; then
		say "$fails check(s) failed"
		exit 1
	fi
	exit 0
}
