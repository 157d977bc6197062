/*
 * Shared by the fsent module's files (the walker and the writer) only.
 */
#ifndef BW_FSENT_FSENT_INTERNAL_H
#define BW_FSENT_FSENT_INTERNAL_H

#include <sys/stat.h>

#include "lib/fsent/fsent.h"

/* The entry type of a stat mode; anything unknown counts as a file. */
static inline enum fsent_type
fsent_type_of(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR: return FSENT_DIR;
	case S_IFLNK: return FSENT_SYMLINK;
	case S_IFCHR: return FSENT_CHR;
	case S_IFBLK: return FSENT_BLK;
	case S_IFIFO: return FSENT_FIFO;
	case S_IFSOCK: return FSENT_SOCK;
	}
	return FSENT_FILE;
}

/* The syncfs() the restore writer makes its batches durable with; a test
 * puts a failing one in its place (fsout.c). */
extern int (*fsout_syncfs)(int fd);

#endif
