#!/usr/bin/env python3
"""Compares a restored tree with its source, as an operator would check it.

usage: treecmp.py [--no-owner] [--no-acl] [--no-atime] SRC DST

Compares, for every entry under SRC (symlinks not followed): type and mode
bits (incl. setuid/setgid/sticky), owner ids, size, mtime to the
nanosecond, file bytes, symlink targets, device numbers, sparse files
(DST may not use more blocks than SRC), extended attributes, POSIX ACLs
(getfacl output, default ACLs included) and hard-link groups (paths sharing
an inode in SRC share one in DST, and no others).  Entries in DST that SRC
lacks are reported too.  Prints one line per difference; exit 1 if any.
"""
import os
import stat
import subprocess
import sys


def listing(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = p
    return out


def xattrs(p):
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(p, n, follow_symlinks=False)
            for n in names if not n.startswith("system.posix_acl")}


def acl(p):
    r = subprocess.run(["getfacl", "--absolute-names", "--omit-header", "--numeric", p],
                       capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def main(argv):
    owner = "--no-owner" not in argv
    acls = "--no-acl" not in argv
    args = [a for a in argv if not a.startswith("--")]
    src, dst = args
    a, b = listing(src), listing(dst)
    bad = []
    for rel in sorted(set(b) - set(a)):
        bad.append(f"{rel}: in the restore but not in the source")
    groups_a, groups_b = {}, {}
    for rel in sorted(a):
        if rel not in b:
            bad.append(f"{rel}: missing from the restore")
            continue
        sa, sb = os.lstat(a[rel]), os.lstat(b[rel])
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            bad.append(f"{rel}: type {oct(sa.st_mode)} became {oct(sb.st_mode)}")
            continue
        if not stat.S_ISLNK(sa.st_mode) and sa.st_mode != sb.st_mode:
            bad.append(f"{rel}: mode {oct(sa.st_mode)} became {oct(sb.st_mode)}")
        if owner and (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            bad.append(f"{rel}: owner {sa.st_uid}:{sa.st_gid} became {sb.st_uid}:{sb.st_gid}")
        if sa.st_mtime_ns != sb.st_mtime_ns:
            bad.append(f"{rel}: mtime {sa.st_mtime_ns} became {sb.st_mtime_ns}")
        if stat.S_ISLNK(sa.st_mode):
            if os.readlink(a[rel]) != os.readlink(b[rel]):
                bad.append(f"{rel}: link target differs")
            continue
        if stat.S_ISREG(sa.st_mode):
            if sa.st_size != sb.st_size:
                bad.append(f"{rel}: size {sa.st_size} became {sb.st_size}")
            elif not same_bytes(a[rel], b[rel]):
                bad.append(f"{rel}: bytes differ")
            if sa.st_blocks * 512 < sa.st_size and sb.st_blocks > sa.st_blocks + 16:
                bad.append(f"{rel}: sparse file restored dense "
                           f"({sa.st_blocks} blocks became {sb.st_blocks})")
            groups_a.setdefault((sa.st_dev, sa.st_ino), set()).add(rel)
            groups_b.setdefault((sb.st_dev, sb.st_ino), set()).add(rel)
        if stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode):
            if sa.st_rdev != sb.st_rdev:
                bad.append(f"{rel}: device {sa.st_rdev} became {sb.st_rdev}")
        if xattrs(a[rel]) != xattrs(b[rel]):
            bad.append(f"{rel}: xattrs {xattrs(a[rel])} became {xattrs(b[rel])}")
        if acls and not stat.S_ISFIFO(sa.st_mode) and acl(a[rel]) != acl(b[rel]):
            bad.append(f"{rel}: ACL {acl(a[rel])!r} became {acl(b[rel])!r}")
    ga = sorted(sorted(g) for g in groups_a.values() if len(g) > 1)
    gb = sorted(sorted(g) for g in groups_b.values() if len(g) > 1)
    if ga != gb:
        bad.append(f"hard-link groups {ga} became {gb}")
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
