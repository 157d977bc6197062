/*
 * Project error codes.  Every int function in Bulwark returns 0 on success or
 * one of these negative codes.  Callers tell "missing" from "corrupt" from
 * "wrong key" by the code; the message naming the object was already logged
 * where the error was found (lib/util/log.h).
 */
#ifndef BW_UTIL_ERR_H
#define BW_UTIL_ERR_H

enum {
	BW_OK = 0,
	BW_ERR_NOMEM = -1,	/* out of memory */
	BW_ERR_INVAL = -2,	/* bad argument or malformed input from the user */
	BW_ERR_NOENT = -3,	/* object, file or snapshot does not exist */
	BW_ERR_EXIST = -4,	/* already exists */
	BW_ERR_IO = -5,		/* read/write/fsync failed */
	BW_ERR_NOSPC = -6,	/* no space left on device or quota exceeded */
	BW_ERR_CORRUPT = -7,	/* stored bytes are damaged or malformed */
	BW_ERR_AUTH = -8,	/* authentication failed: wrong key or passphrase, or tampering */
	BW_ERR_VERSION = -9,	/* written by an unknown (newer) format version */
	BW_ERR_PERM = -10,	/* the key lacks the capability, or the OS refused */
	BW_ERR_LOCKED = -11,	/* held by a live lock */
	BW_ERR_PARTIAL = -12,	/* done, but some inputs could not be read */
	BW_ERR_INTR = -13,	/* interrupted by a signal or the operator */
	BW_ERR_NOTREPO = -14,	/* the directory is not a Bulwark repository */
	BW_ERR_UNSUPP = -15,	/* not supported here */
	BW_ERR__MIN = -15
};

/* A short static description of a code ("authentication failed"). */
const char *bw_strerror(int err);

/* Map an errno value to the nearest project code (ENOSPC -> BW_ERR_NOSPC...). */
int bw_err_from_errno(int e);

#endif
