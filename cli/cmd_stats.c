#include "config.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/util/err.h"

static const char help[] =
    "usage: bulwark stats [--repo DIR] [--json]\n\n"
    "Shows the number of snapshots, the logical size of the newest snapshot and\n"
    "of all snapshots together, the space the repository takes on disk, and the\n"
    "resulting deduplication and compression ratio.\n";

static unsigned long long disk_bytes, disk_files;

static int
add_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F) {
		disk_bytes += (unsigned long long)st->st_size;
		disk_files++;
	}
	return 0;
}

int
cmd_stats(struct cli *c, int argc, char **argv)
{
	struct snap_info *s = NULL;
	struct repo *r = NULL;
	size_t n = 0, bad = 0, i;
	unsigned long long logical = 0, newest = 0, files = 0;
	char a[32], b[32], d[32];
	int ch, rc, x;

	if ((ch = cli_parse_common(c, argc, argv, help)) >= 0)
		return ch;
	if (optind != argc)
		return cli_usage(stderr, help, EXIT_USAGE);
	if ((rc = cli_open_repo(c, &r)) != 0)
		return rc;
	if ((x = repo_snapshots(r, &s, &n, &bad)) != 0) {
		repo_free(r);
		return cli_exit(x);
	}
	for (i = 0; i < n; i++)
		logical += s[i].bytes;
	if (n) {
		newest = s[n - 1].bytes;
		files = s[n - 1].files;
	}
	disk_bytes = disk_files = 0;
	nftw(repo_path(r), add_file, 32, FTW_PHYS);
	if (c->json) {
		printf("{\"snapshots\":%zu,\"newest_bytes\":%llu,\"newest_files\":%llu,"
		    "\"all_snapshots_bytes\":%llu,\"repository_bytes\":%llu,\"repository_files\":%llu}\n",
		    n, newest, files, logical, disk_bytes, disk_files);
	} else {
		cli_human_bytes(a, sizeof(a), newest);
		cli_human_bytes(b, sizeof(b), logical);
		cli_human_bytes(d, sizeof(d), disk_bytes);
		printf("snapshots:              %zu\n", n);
		printf("newest snapshot:        %s in %llu files\n", a, files);
		printf("all snapshots together: %s\n", b);
		printf("repository on disk:     %s in %llu files\n", d, disk_files);
		if (disk_bytes)
			printf("space saving:           %.2fx (deduplication and compression)\n",
			    (double)logical / (double)disk_bytes);
	}
	snap_list_free(s, n);
	repo_free(r);
	return bad ? EXIT_DAMAGED : EXIT_OK;
}
