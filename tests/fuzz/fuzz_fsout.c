/*
 * libFuzzer: entries from a hostile snapshot (types, paths, link targets,
 * modes) written by the restore writer must never put anything outside
 * the target.  The harness chroots into FUZZ_FSOUT_ROOT at start (in a
 * user namespace when not root), so that a bug writes into the sandbox,
 * never into the host: "/outside" must stay empty and nothing but
 * "outside", "t" (the target) and what was there at start may appear at
 * the top.  A link target starting with '@' points to "/outside".
 *
 * Input: one byte of overwrite policy, then records: u8 type, u16 mode,
 * u8 flags, str path, str link-or-content (lib/util/buf.h encoding).
 */
#include "config.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fsent/fsout.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl;
	(void)msg;
	(void)arg;
}

static void
write_map(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror(file);
		close(fd);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_FSOUT_ROOT");
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	(void)argc;
	(void)argv;
	/* Never without a sandbox: a bug here writes where links point. */
	if (dir == NULL || *dir != '/') {
		fprintf(stderr, "fuzz_fsout: set FUZZ_FSOUT_ROOT to an empty "
		    "scratch directory (it becomes the root), put the corpus "
		    "in it and name it from there:\n"
		    "  S=$(mktemp -d /dev/shm/fuzz.XXXXXX); cp -r corpus $S/; "
		    "FUZZ_FSOUT_ROOT=$S ASAN_OPTIONS=detect_leaks=0 "
		    "fuzz_fsout /corpus\n");
		exit(2);
	}
	if (uid != 0) {
		if (unshare(CLONE_NEWUSER) != 0) {
			perror("fuzz_fsout: needs root or user namespaces");
			exit(2);
		}
		write_map("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		write_map("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		write_map("/proc/self/gid_map", map);
	}
	if (chroot(dir) != 0 || chdir("/") != 0 ||
	    (mkdir("/outside", 0755) != 0 && errno != EEXIST)) {
		perror("fuzz_fsout: chroot");
		exit(2);
	}
	log_set_sink(quiet, NULL);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) == 0 ? 0 : -1;
	return unlink(path) == 0 ? 0 : -1;
}

static int
chmod_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(path, (st->st_mode & 07777) | 0700);
	return 0;
}

static char *top[64];		/* names at the top before the first run */
static size_t ntop;

static int
known_top(const char *name)
{
	DIR *d;
	struct dirent *de;
	size_t i;

	if (ntop == 0 && (d = opendir("/")) != NULL) {
		while ((de = readdir(d)) != NULL && ntop < 64)
			top[ntop++] = strdup(de->d_name);
		closedir(d);
	}
	for (i = 0; i < ntop; i++)
		if (top[i] && strcmp(top[i], name) == 0)
			return 1;
	return strcmp(name, "t") == 0;
}

static void
check_sandbox(void)
{
	DIR *d;
	struct dirent *de;

	if ((d = opendir("/outside")) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			abort();	/* written outside the target */
	closedir(d);
	if ((d = opendir("/")) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (!known_top(de->d_name))
			abort();	/* written next to the target */
	closedir(d);
}

static int
sink_data(const void *p, size_t n, void *arg)
{
	(void)p;
	(void)n;
	(void)arg;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsout_opts oo = { .target = "/t" };
	struct fsout *o = NULL;
	struct bufr r;
	int k;

	if (size < 1)
		return 0;
	known_top("t");		/* the top as found before any run */
	oo.overwrite = (enum fsout_overwrite)(data[0] % 3);
	oo.numeric_owner = data[0] & 4;
	bufr_init(&r, data + 1, size - 1);
	if (fsout_open(&oo, &o) != 0)
		abort();
	for (k = 0; k < 64 && bufr_left(&r) > 0; k++) {
		struct fsent_entry e = { 0 }, *cur = NULL;
		struct fsout_file *f;
		uint8_t type = bufr_u8(&r), flags;
		uint16_t mode = bufr_u16(&r);
		char *path, *link, *l2 = NULL;

		flags = bufr_u8(&r);
		path = bufr_strdup(&r, 5000);
		link = bufr_strdup(&r, 5000);
		if (r.err || path == NULL || link == NULL) {
			free(path);
			free(link);
			break;
		}
		if (link[0] == '@' && asprintf(&l2, "/outside%s", link + 1) > 0) {
			free(link);
			link = l2;
		}
		e.type = (enum fsent_type)(type % 8 + 1);
		e.mode = mode & 07777;
		e.uid = flags & 1 ? 1000 : 0;
		e.gid = flags & 2 ? 1000 : 0;
		e.mtime_sec = 1500000000 + type;
		e.nlink = flags & 4 ? 2 : 1;
		e.link = link;
		if (e.type == FSENT_FILE) {
			e.size = strlen(link);
			e.link = NULL;
			if (fsout_file_open(o, path, &e, &f) == 0) {
				fsout_file_write(f, 0, link, e.size);
				if (flags & 8)
					fsout_file_abort(f);
				else
					fsout_file_commit(f);
			}
		} else {
			fsout_entry(o, path, &e);
		}
		if (flags & 16 && fsout_existing(o, path, &cur) == 1)
			fsent_entry_free(cur);
		if (flags & 32)
			fsout_read(o, path, sink_data, NULL);
		free(path);
		free(link);
		check_sandbox();
	}
	fsout_close(o);
	fsout_free(o);
	check_sandbox();
	nftw("/t", chmod_one, 16, FTW_PHYS);
	if (nftw("/t", rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		abort();
	return 0;
}
