#include "config.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backupd/engine.h"
#include "cli/cli.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark backup [--repo DIR] [options] PATH...\n"
    "       bulwark backup [options] SET          (a [backup SET] of the config)\n\n"
    "Backs up the paths (stored as absolute paths) into a new snapshot.  Files\n"
    "whose size, times and inode did not change since the last backup are not\n"
    "read again; new data is deduplicated, compressed and encrypted.\n\n"
    "  -e, --exclude PATTERN   skip matching paths (glob; repeatable)\n"
    "  -t, --tag TAG           tag the snapshot (repeatable)\n"
    "  -x, --one-file-system   do not cross mount points\n"
    "      --no-exclude-caches back up directories holding CACHEDIR.TAG too\n"
    "      --no-cache          read every file (ignore the files cache)\n"
    "      --workers N         threads sealing chunks (default: CPUs)\n\n"
    "Exit code 3 means the snapshot was saved but some files could not be read;\n"
    "they are listed, and recorded in the snapshot.\n";

static volatile sig_atomic_t stop_flag;
static volatile int stop_int;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
	stop_int = 1;
}

static void
progress(const struct backup_progress *p, int final, void *arg)
{
	char rd[32], add[32], eta[32] = "";
	double rate;

	(void)arg;
	cli_human_bytes(rd, sizeof(rd), p->bytes_read);
	cli_human_bytes(add, sizeof(add), p->bytes_added);
	rate = p->elapsed > 0 ? p->bytes_read / p->elapsed / 1048576.0 : 0;
	/* ETA from the share of the total bytes handled (read or skipped) */
	if (!final && p->total_known && p->bytes > 0 && p->total_bytes > p->bytes &&
	    p->elapsed > 1) {
		double left = p->elapsed * (double)(p->total_bytes - p->bytes) / (double)p->bytes;

		snprintf(eta, sizeof(eta), ", ETA %dm%02ds", (int)left / 60, (int)left % 60);
	} else if (!final && p->total_files) {
		snprintf(eta, sizeof(eta), " of %s%llu", p->total_known ? "" : ">",
		    (unsigned long long)p->total_files);
	}
	fprintf(stderr, "\r\033[K%llu files%s, read %s (%.1f MiB/s), added %s, %.0fs%s",
	    (unsigned long long)p->files, eta, rd, rate, add,
	    p->elapsed, final ? "\n" : "");
}

static char *
cache_dir(struct cli *c)
{
	return cli_local_dir("BULWARK_CACHE_DIR",
	    c->cfg && c->cfg->has_repo ? c->cfg->repo.cache_dir : NULL,
	    LOCALSTATEDIR "/cache/bulwark", "XDG_CACHE_HOME", ".cache", "bulwark");
}

/* An exclude pattern matching exactly path (glob characters escaped). */
static char *
exact_pattern(const char *path)
{
	char *real = realpath(path, NULL), *out, *o;
	const char *p;

	/* a cache directory may not exist yet: it is made during the backup */
	if (!real && (path[0] != '/' || (real = strdup(path)) == NULL))
		return NULL;
	if ((out = malloc(2 * strlen(real) + 1)) != NULL) {
		for (p = real, o = out; *p; p++) {
			if (strchr("*?[]\\", *p))
				*o++ = '\\';
			*o++ = *p;
		}
		*o = 0;
	}
	free(real);
	return out;
}

/* Names come from the backed-up tree, which others may control: control
 * bytes are shown as \xNN so that a name can neither start a new line of
 * output nor send escape sequences to the terminal. */
static void
put_quoted(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
}

static void
print_summary(struct cli *c, const struct snap_info *s, int rc)
{
	char id[65], rd[32], add[32], tot[32];
	double secs = (s->end_ns - s->time_ns) / 1e9;
	size_t i;

	hex_encode(id, s->id, 32);
	if (c->json) {
		printf("{");
		json_kv_str(stdout, "snapshot", id, 0);
		json_kv_u64(stdout, "files", s->files, 1);
		json_kv_u64(stdout, "dirs", s->dirs, 1);
		json_kv_u64(stdout, "bytes", s->bytes, 1);
		json_kv_u64(stdout, "files_new", s->files_new, 1);
		json_kv_u64(stdout, "files_changed", s->files_changed, 1);
		json_kv_u64(stdout, "files_unchanged", s->files_unchanged, 1);
		json_kv_u64(stdout, "bytes_read", s->bytes_read, 1);
		json_kv_u64(stdout, "bytes_added", s->bytes_added, 1);
		printf(",\"duration\":%.3f,\"partial\":%s,\"errors\":[", secs,
		    rc == BW_ERR_PARTIAL ? "true" : "false");
		for (i = 0; i < s->nerrors_list; i++) {
			if (i)
				putchar(',');
			json_str(stdout, s->errors[i]);
		}
		printf("]}\n");
		return;
	}
	for (i = 0; i < s->nerrors_list; i++) {
		fputs("bulwark: unreadable: ", stderr);
		put_quoted(stderr, s->errors[i]);
		fputc('\n', stderr);
	}
	if (c->quiet)
		return;
	cli_human_bytes(rd, sizeof(rd), s->bytes_read);
	cli_human_bytes(add, sizeof(add), s->bytes_added);
	cli_human_bytes(tot, sizeof(tot), s->bytes);
	printf("snapshot %.8s saved%s: %llu files (%llu new, %llu changed, %llu unchanged), "
	    "%llu dirs, %s in total; read %s, added %s to the repository, %.1fs\n",
	    id, rc == BW_ERR_PARTIAL ? " (PARTIAL: some files unreadable)" : "",
	    (unsigned long long)s->files, (unsigned long long)s->files_new,
	    (unsigned long long)s->files_changed, (unsigned long long)s->files_unchanged,
	    (unsigned long long)s->dirs, tot, rd, add, secs);
}

int
cmd_backup(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONGOPTS,
		{ "exclude", required_argument, NULL, 'e' },
		{ "tag", required_argument, NULL, 't' },
		{ "one-file-system", no_argument, NULL, 'x' },
		{ "no-exclude-caches", no_argument, NULL, 'C' },
		{ "no-cache", no_argument, NULL, 'N' },
		{ "workers", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 }
	};
	const char **excl = NULL, **tags = NULL;
	size_t nexcl = 0, ntags = 0, i;
	struct backup_opts o = { .exclude_caches = 1 };
	const struct config_backup *set = NULL;
	struct snap_info snap;
	struct repo *r = NULL;
	struct sigaction sa;
	char *cdir = NULL, *rp = NULL, *own[2] = { NULL, NULL };
	int ch, rc, no_cache = 0, x;

	memset(&snap, 0, sizeof(snap));
	excl = calloc((size_t)argc + 64, sizeof(*excl));
	tags = calloc((size_t)argc + 64, sizeof(*tags));
	if (!excl || !tags)
		return EXIT_ERROR;
	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "e:t:x", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': rc = cli_usage(stdout, help, EXIT_OK); goto out;
		case 'e': excl[nexcl++] = optarg; break;
		case 't': tags[ntags++] = optarg; break;
		case 'x': o.one_file_system = 1; break;
		case 'C': o.exclude_caches = 0; break;
		case 'N': no_cache = 1; break;
		case 'W': o.workers = (unsigned)atoi(optarg); break;
		default:
			if (!cli_common_opt(c, ch, optarg)) {
				rc = cli_usage(stderr, help, EXIT_USAGE);
				goto out;
			}
		}
	}
	if (optind >= argc) {
		rc = cli_usage(stderr, help, EXIT_USAGE);
		goto out;
	}
	if ((rc = cli_load_config(c)) != 0)
		goto out;
	if (argc - optind == 1 && argv[optind][0] != '/') {
		/* a configured backup set */
		if (!c->cfg || (set = config_backup_find(c->cfg, argv[optind])) == NULL) {
			log_error("'%s' is neither an absolute path nor a [backup %s] section of %s",
			    argv[optind], argv[optind], c->config_path);
			rc = EXIT_USAGE;
			goto out;
		}
		o.paths = (const char *const *)set->paths;
		o.npaths = set->npaths;
		for (i = 0; i < set->nexcludes && nexcl < (size_t)argc + 63; i++)
			excl[nexcl++] = set->excludes[i];
		for (i = 0; i < set->ntags && ntags < (size_t)argc + 63; i++)
			tags[ntags++] = set->tags[i];
		o.one_file_system |= set->one_file_system;
		o.exclude_caches = o.exclude_caches && set->exclude_caches;
		o.set = set->name;
	} else {
		for (i = (size_t)optind; i < (size_t)argc; i++) {
			struct stat st;

			/* a mistyped path must not become an empty "partial" snapshot
			 * (an unreadable one still does: it is recorded there) */
			if (argv[i][0] == '/' && lstat(argv[i], &st) != 0 &&
			    (errno == ENOENT || errno == ENOTDIR)) {
				log_error("backup path %s does not exist; check the path (no snapshot "
				    "was saved)", argv[i]);
				rc = EXIT_NOTFOUND;
				goto out;
			}
			if (argv[i][0] != '/') {
				/* stored as absolute paths: resolve relative ones */
				char *abs = realpath(argv[i], NULL);

				if (!abs) {
					log_error("backup path %s: cannot resolve it to an absolute "
					    "path (does it exist?)", argv[i]);
					rc = EXIT_NOTFOUND;
					goto out;
				}
				argv[i] = abs;	/* leaked deliberately: lives until exit */
			}
		}
		o.paths = (const char *const *)argv + optind;
		o.npaths = (size_t)(argc - optind);
	}
	o.excludes = excl;
	o.nexcludes = nexcl;
	o.tags = tags;
	o.ntags = ntags;
	/* only where the line is shown: the engine counts what there is
	 * (a second walk, for the estimate) only for a progress callback */
	if (c->tty && !c->quiet && !c->json) {
		o.progress = progress;
		o.progress_arg = c;
	}
	o.stop = &stop_int;
	if (!no_cache && (cdir = cache_dir(c)) == NULL)
		log_warn("no place for the files cache (no HOME): every file will be read; "
		    "set BULWARK_CACHE_DIR");
	if (cdir) {
		if (cli_mkdirs(cdir) == 0)
			o.cache_dir = cdir;
		else
			log_warn("files cache %s cannot be created (%s): every file will be read; "
			    "fix it or set BULWARK_CACHE_DIR", cdir, strerror(errno));
	}

	if ((rc = cli_open_repo(c, &r)) != 0)
		goto out;
	rp = strdup(repo_path(r));
	/* never back up the repository or the cache into themselves */
	if ((own[0] = exact_pattern(rp)) != NULL)
		excl[nexcl++] = own[0];
	if (cdir && (own[1] = exact_pattern(cdir)) != NULL)
		excl[nexcl++] = own[1];
	o.nexcludes = nexcl;
	if ((x = repo_lock(r, 0)) != 0) {
		rc = cli_exit(x);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

#ifdef __GLIBC__
	/* glibc gives each thread its own arena, and each keeps what the
	 * workers freed; two are plenty for a pipeline of a few threads.  The
	 * unlock's Argon2id memory is handed back before the pipeline grows. */
	mallopt(M_ARENA_MAX, 2);
	malloc_trim(0);
#endif
	x = backup_run(r, &o, &snap);
	repo_unlock(r);
	if (x == 0 || x == BW_ERR_PARTIAL) {
		char id[65];

		hex_encode(id, snap.id, 32);
		print_summary(c, &snap, x);
		cli_audit(c, "backup", rp, x ? "partial" : "ok",
		    "snapshot %s; %llu files, %llu unreadable, added %llu bytes", id,
		    (unsigned long long)snap.files, (unsigned long long)snap.nerrors,
		    (unsigned long long)snap.bytes_added);
	} else {
		if (x == BW_ERR_INTR)
			log_error("backup interrupted; no snapshot was saved (data already "
			    "stored is reused by the next backup)");
		else
			log_error("backup failed (%s); no snapshot was saved, earlier snapshots "
			    "are intact", bw_strerror(x));
		cli_audit(c, "backup", rp, "failed", "%s", bw_strerror(x));
	}
	rc = cli_exit(x);
	(void)stop_flag;
out:
	snap_info_clear(&snap);
	repo_free(r);
	free(own[0]);
	free(own[1]);
	free(rp);
	free(cdir);
	free(excl);
	free(tags);
	return rc;
}
