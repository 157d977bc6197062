#include "config.h"

#include <errno.h>

#include "lib/util/err.h"

const char *
bw_strerror(int err)
{
	switch (err) {
	case BW_OK: return "success";
	case BW_ERR_NOMEM: return "out of memory";
	case BW_ERR_INVAL: return "invalid argument";
	case BW_ERR_NOENT: return "not found";
	case BW_ERR_EXIST: return "already exists";
	case BW_ERR_IO: return "input/output error";
	case BW_ERR_NOSPC: return "no space left on device";
	case BW_ERR_CORRUPT: return "damaged data";
	case BW_ERR_AUTH: return "authentication failed (wrong key or passphrase, or tampered data)";
	case BW_ERR_VERSION: return "unsupported format version";
	case BW_ERR_PERM: return "permission denied";
	case BW_ERR_LOCKED: return "locked by another process";
	case BW_ERR_PARTIAL: return "partly done (some inputs unreadable)";
	case BW_ERR_INTR: return "interrupted";
	case BW_ERR_NOTREPO: return "not a Bulwark repository";
	case BW_ERR_UNSUPP: return "not supported";
	}
	return "unknown error";
}

int
bw_err_from_errno(int e)
{
	switch (e) {
	case 0: return BW_OK;
	case ENOMEM: return BW_ERR_NOMEM;
	case ENOENT: case ENOTDIR: return BW_ERR_NOENT;
	case EEXIST: return BW_ERR_EXIST;
	case ENOSPC: case EDQUOT: case EFBIG: return BW_ERR_NOSPC;
	case EACCES: case EPERM: case EROFS: return BW_ERR_PERM;
	case EINTR: return BW_ERR_INTR;
	case EINVAL: return BW_ERR_INVAL;
	case EWOULDBLOCK: return BW_ERR_LOCKED;	/* flock(LOCK_NB) held elsewhere */
	}
	return BW_ERR_IO;
}
