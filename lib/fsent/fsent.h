/*
 * File system entries: the only door to libarchive.  Walks a tree (in sorted
 * order, by itself) and yields each entry's complete metadata as gathered by
 * libarchive's disk reader, and reads a regular file's data regions (sparse
 * holes skipped).  Names are bytes: anything but '/' and NUL, not
 * necessarily UTF-8; messages quote them.
 *
 * Later (restore) this module also writes entries back with libarchive's
 * disk writer and its secure flags.
 */
#ifndef BW_FSENT_FSENT_H
#define BW_FSENT_FSENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

enum fsent_type {
	FSENT_FILE = 1, FSENT_DIR, FSENT_SYMLINK, FSENT_HARDLINK,
	FSENT_CHR, FSENT_BLK, FSENT_FIFO, FSENT_SOCK
};

struct fsent_xattr {
	char *name;
	uint8_t *value;
	size_t len;
};

struct fsent_region {		/* a data region of a sparse file */
	uint64_t off, len;
};

/* One entry.  Strings are owned by the entry; fsent_entry_free releases. */
struct fsent_entry {
	char *path;		/* absolute, as walked (no trailing slash) */
	enum fsent_type type;
	uint32_t mode;		/* permission bits incl. setuid/setgid/sticky */
	uint64_t uid, gid;
	char *uname, *gname;	/* NULL when the id has no name here */
	int64_t mtime_sec, atime_sec, ctime_sec;
	uint32_t mtime_nsec, atime_nsec, ctime_nsec;
	uint64_t size;		/* logical size of a file */
	uint64_t dev, ino, nlink, rdev;
	char *link;		/* symlink target, or first path of a hard link */
	struct fsent_xattr *xattrs;
	size_t nxattrs;
	char *acl_access;	/* POSIX ACL, text form, NULL if only mode bits */
	char *acl_default;	/* default ACL of a directory, or NULL */
	struct fsent_region *regions;	/* data regions if sparse, else NULL */
	size_t nregions;
	int partial;		/* some metadata could not be read (logged) */
};
/*
 * ACL text: POSIX.1e long form, comma-separated, numeric id appended to
 * named entries ("user::rw-,user:alice:r--:1000,mask::r--,other::---"), as
 * libarchive's archive_entry_acl_from_text reads back.  A file that is all
 * hole has one region {0, 0}.  An FSENT_HARDLINK entry carries the stat
 * fields and names of its path (size 0); its data, xattrs and ACLs are
 * those of the first path.
 */

void fsent_entry_free(struct fsent_entry *e);

/*
 * Quotes a name (NULL: "(null)") for a log line into buf (cap bytes, at
 * least 16) and returns buf: printable UTF-8 passes; control bytes, invalid
 * sequences, C1 controls, bidirectional overrides and backslashes become
 * \xNN, so that a hostile name can neither forge log lines nor garble the
 * terminal.  Cut with "..." when it does not fit; 4 * strlen(s) + 9 bytes
 * always fit.
 */
const char *fsent_quote(const char *s, char *buf, size_t cap);

struct fsent_walk_opts {
	const char *const *excludes;	/* glob patterns (fnmatch, FNM_PATHNAME off) */
	size_t nexcludes;		/* with a '/': the full path; else the base name */
	int one_file_system;		/* do not cross mount points */
	int exclude_caches;		/* skip dirs holding a valid CACHEDIR.TAG */
	/*
	 * Optional.  Asked about a regular file with one link that cannot
	 * be sparse (its blocks cover its size), from its lstat only: 1 if
	 * the caller needs nothing more of it (known unchanged, without
	 * extended attributes or ACLs).  The entry then comes from the stat
	 * alone, with owner names, no xattrs or ACLs, and is not opened
	 * (fsent_open_data refuses it); else it is opened and read in full.
	 * Saves an open, a list of its attributes and a close per file.
	 * A negative answer means 0, and not to ask again in this walk.
	 */
	int (*stat_only)(void *arg, const char *path, const struct stat *st);
	void *stat_only_arg;
};

struct fsent_walk;

/* Starts a walk of root (must be absolute; BW_ERR_INVAL otherwise).  Entries
 * come depth-first, a directory before its contents, siblings in byte order
 * of their names (strcmp).  Symlinks are not followed, not even root.  An
 * excluded directory is not descended; root itself is never excluded. */
int fsent_walk_open(const char *root, const struct fsent_walk_opts *o,
    struct fsent_walk **out);
/*
 * Next entry: 0 and *out set (caller frees); 1 at the end; or a negative
 * code for an entry that could not be read (already logged with its path;
 * the walk can go on: call again).  Hard links: the second and later paths
 * of an inode come as FSENT_HARDLINK with link = the first path.  An entry
 * removed between listing and reading is skipped with a warning.
 */
int fsent_walk_next(struct fsent_walk *w, struct fsent_entry **out);
/* Opens the data of the regular file last returned (BW_ERR_INVAL if the
 * last entry was not an FSENT_FILE); read it with fsent_read until it
 * returns 0.  Each call fills at most len bytes of one data region, sets
 * *off to where they belong in the file and returns their count; 0 at the
 * end; a negative code on a read error (logged).  A file that changed size
 * since it was listed is read as it is now, with a warning. */
int fsent_open_data(struct fsent_walk *w);
/* (Calling fsent_open_data again starts reading the same file over.) */
long fsent_read(struct fsent_walk *w, void *buf, size_t len, uint64_t *off);
/* A second look at the regular file last returned (also after fsent_read
 * reached its end): reads up to len bytes at file offset off, holes
 * included.  Returns their count, 0 at the end of the file, or a negative
 * code (logged). */
long fsent_pread(struct fsent_walk *w, uint64_t off, void *buf, size_t len);
/* fstat(2) of that file, to notice it changing while it is read: 0, or a
 * negative code (logged). */
struct stat;
int fsent_fstat(struct fsent_walk *w, struct stat *st);
void fsent_walk_free(struct fsent_walk *w);
/* The path of the entry the last fsent_walk_next was about (after an error:
 * the entry or directory that could not be read), or NULL.  Valid until the
 * next call. */
const char *fsent_walk_error_path(const struct fsent_walk *w);

/* The metadata of one path without walking (used for the parents of a
 * backed-up path).  0, or a negative code (logged). */
int fsent_stat(const char *path, struct fsent_entry **out);

#endif
