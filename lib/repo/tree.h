/*
 * Tree objects: one directory's entries, sorted by name (docs/FORMAT.md,
 * "Trees").  Encoding is streaming (the engine appends entries as the walk
 * produces them); decoding parses untrusted bytes through struct bufr and
 * refuses names with '/' or NUL, "." and "..", and over-long fields.
 */
#ifndef BW_REPO_TREE_H
#define BW_REPO_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util/buf.h"

#define TREE_NAME_MAX 4095
#define TREE_LINK_MAX 65535
#define TREE_DELTA_DEPTH_MAX 8

enum tree_kind {
	TREE_FILE = 1, TREE_DIR, TREE_SYMLINK, TREE_HARDLINK,
	TREE_CHR, TREE_BLK, TREE_FIFO, TREE_SOCK
};

struct tree_xattr { char *name; uint8_t *value; size_t len; };
struct tree_region { uint64_t off, len; };

/* A file's content (or a directory's tree): stored objects, or an rsync
 * delta on top of a base.  For a file, kind 0 lists data chunks; for a
 * directory, kind 0 names the one tree object (nids == 1). */
struct tree_content {
	uint8_t kind;			/* 0 objects, 1 delta */
	uint8_t depth;			/* deltas in the chain (0 for chunks) */
	struct tree_content *base;	/* delta only */
	uint8_t (*ids)[32];		/* data chunks, or delta objects */
	uint32_t nids;
};

struct tree_entry {
	char *name;
	uint8_t kind;
	uint32_t mode;
	uint64_t uid, gid;
	char *uname, *gname;		/* "" when unknown */
	int64_t mtime_sec, atime_sec;
	uint32_t mtime_nsec, atime_nsec;
	uint64_t size, rdev;
	char *link;			/* symlink target / hard link path / "" */
	struct tree_xattr *xattrs;
	size_t nxattrs;
	char *acl_access, *acl_default;	/* "" when none */
	struct tree_region *regions;
	size_t nregions;
	uint8_t subtree[32];		/* directory: id of its tree's plaintext */
	uint8_t hash[32];		/* file */
	struct tree_content content;	/* file, and directory (how its tree is stored) */
};

struct tree {
	struct tree_entry *e;
	size_t n;
};

/* Appends one entry (with its length prefix) to b.  NULL strings are
 * written as empty.  0 or BW_ERR_NOMEM/BW_ERR_INVAL. */
int tree_entry_encode(struct buf *b, const struct tree_entry *e);
/* Writes the tree header for count entries followed by the encoded
 * entries (as produced by tree_entry_encode, already in name order). */
int tree_finish(struct buf *out, uint32_t count, const void *entries, size_t len);

/* Parses a tree object.  BW_ERR_CORRUPT (not logged: the caller names the
 * object) on any malformed byte, unsorted or duplicate names. */
int tree_decode(const void *p, size_t n, struct tree **out);
void tree_free(struct tree *t);
void tree_entry_clear(struct tree_entry *e);

/* Content descriptors on their own (the files cache stores them). */
int tree_content_encode(struct buf *b, const struct tree_content *c);
int tree_content_decode(struct bufr *r, struct tree_content *c, int depth_left);
void tree_content_clear(struct tree_content *c);
/* Calls fn for every object id the content refers to (chunks, deltas and
 * their bases), with its type (1 data, 3 delta). */
typedef int tree_id_fn(const uint8_t id[32], int type, void *arg);
int tree_content_each_id(const struct tree_content *c, tree_id_fn *fn, void *arg);

#endif
