/*
 * File I/O for everything Bulwark stores durably (repository, caches, audit
 * log).  All writes, fsyncs, renames, unlinks and mkdirs of those files go
 * through this module, so that tests can put a fault layer under them.
 *
 * Durability contract used by callers: data is durable after fsio_sync() of
 * the file; a created, renamed or removed directory entry is durable after
 * fsio_sync_dir() of its parent.  fsio_write_atomic() does the whole
 * temp-write, fsync, rename, fsync-directory sequence.
 *
 * Errors are reported once here (log_error naming the path and the errno
 * text) and returned as BW_ERR_* codes; ENOSPC/EDQUOT become BW_ERR_NOSPC.
 */
#ifndef BW_UTIL_FSIO_H
#define BW_UTIL_FSIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fsio_file;	/* a file opened for writing */

/* Creates path for writing (mode 0600 unless mode given); with excl, fails
 * with BW_ERR_EXIST (not logged) if it exists, otherwise truncates. */
int fsio_create(const char *path, int excl, mode_t mode, struct fsio_file **out);
/* Opens an existing or new file for appending (mode 0600 when created). */
int fsio_open_append(const char *path, struct fsio_file **out);
/* Writes all n bytes or fails (short writes are retried). */
int fsio_write(struct fsio_file *f, const void *p, size_t n);
/* Makes the file's data durable. */
int fsio_sync(struct fsio_file *f);
/* Current size of the file in bytes (what has been written so far). */
uint64_t fsio_size(const struct fsio_file *f);
/* Closes without syncing; NULL does nothing.  Returns the close error. */
int fsio_close(struct fsio_file *f);
/* Closes and removes the file (abandoning a temporary file). */
void fsio_abort(struct fsio_file *f, const char *path);

int fsio_rename(const char *from, const char *to);
/* Removes a file; a missing file is BW_ERR_NOENT (not logged). */
int fsio_unlink(const char *path);
/* Creates a directory; an existing one is BW_ERR_EXIST (not logged). */
int fsio_mkdir(const char *path, mode_t mode);
/* Makes the entries of directory dir durable. */
int fsio_sync_dir(const char *dir);
/* Writes path atomically and durably: dir/.tmp-NAME-RANDOM, fsync, rename
 * over path, fsync the directory.  On failure nothing is left behind and an
 * existing file at path is untouched. */
int fsio_write_atomic(const char *path, const void *p, size_t n, mode_t mode);

/* Reads a whole file of at most max bytes into a malloc'd buffer (caller
 * frees).  BW_ERR_NOENT (not logged) if missing, BW_ERR_CORRUPT if larger
 * than max. */
int fsio_read_all(const char *path, size_t max, uint8_t **out, size_t *n);

/*
 * Fault layer, for tests only.  Armed, it counts operations of the chosen
 * kind and makes the Nth one fail (count starts at 1).  Once a fault has
 * fired the machine is "dead": every later fsio call fails with BW_ERR_IO
 * until fsio_fault_power_cut() or fsio_fault_disarm().
 *
 * The layer also keeps, for every file and directory touched while armed,
 * its last durable state.  fsio_fault_power_cut() puts the disk back into
 * the state a power cut would leave: file contents as of their last
 * fsio_sync (or as they were before the layer was armed), and directory
 * entries (creations, renames, unlinks) as of their directory's last
 * fsio_sync_dir.  This is the worst case the kernel allows.
 */
enum fsio_op {
	FSIO_OP_ANY = 0,
	FSIO_OP_WRITE,
	FSIO_OP_SYNC,	/* fsio_sync and fsio_sync_dir */
	FSIO_OP_RENAME,
	FSIO_OP_CREATE,
	FSIO_OP_UNLINK,
	FSIO_OP_MKDIR
};

/* Arms the layer; fail the nth op of kind with err (BW_ERR_IO or
 * BW_ERR_NOSPC); nth == 0 tracks durability without failing anything. */
void fsio_fault_arm(enum fsio_op kind, unsigned long nth, int err);
/* Number of operations of kind seen since arming. */
unsigned long fsio_fault_count(enum fsio_op kind);
/* Nonzero once the armed fault has fired. */
int fsio_fault_fired(void);
/* Simulate a power cut now (see above), then disarm. */
void fsio_fault_power_cut(void);
/* Disarm without touching the disk. */
void fsio_fault_disarm(void);

#endif
