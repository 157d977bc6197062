#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/audit/audit.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/repo/snapsel.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define PASS_MAX 1024

int
cli_exit(int err)
{
	switch (err) {
	case BW_OK: return EXIT_OK;
	case BW_ERR_INVAL: return EXIT_USAGE;
	case BW_ERR_PARTIAL: return EXIT_PARTIAL;
	case BW_ERR_NOENT: case BW_ERR_NOTREPO: return EXIT_NOTFOUND;
	case BW_ERR_AUTH: case BW_ERR_PERM: return EXIT_AUTH;
	case BW_ERR_CORRUPT: case BW_ERR_VERSION: return EXIT_DAMAGED;
	case BW_ERR_IO: case BW_ERR_NOSPC: return EXIT_IO;
	case BW_ERR_LOCKED: return EXIT_LOCKED;
	case BW_ERR_INTR: return EXIT_INTERRUPTED;
	}
	return EXIT_ERROR;
}

int
cli_load_config(struct cli *c)
{
	int rc;

	if (c->cfg)
		return 0;
	if (!c->config_given && access(c->config_path, F_OK) != 0)
		return 0;	/* no config: everything comes from the command line */
	if ((rc = config_load(c->config_path, &c->cfg)) != 0)
		return rc == BW_ERR_NOENT ? EXIT_NOTFOUND : EXIT_USAGE;
	return 0;
}

const char *
cli_repo_path(struct cli *c)
{
	const char *env = getenv("BULWARK_REPO");

	if (c->repo_path)
		return c->repo_path;
	if (env && *env)
		return c->repo_path = env;
	if (cli_load_config(c) == 0 && c->cfg && c->cfg->has_repo)
		return c->repo_path = c->cfg->repo.path;
	log_error("no repository given: use --repo DIR, set BULWARK_REPO, or set "
	    "[repository] path in %s", c->config_path);
	return NULL;
}

void
cli_pass_free(char *p, size_t len)
{
	(void)len;
	bwcrypto_secfree(p);
}

static int
read_pass_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *p = NULL;
	ssize_t n;
	int fd, rc = BW_ERR_IO;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_error("passphrase file %s: %s", path, strerror(errno));
		return bw_err_from_errno(errno);
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
		log_error("passphrase file %s is readable by group or others; "
		    "run 'chmod 600 %s'", path, path);
		rc = BW_ERR_PERM;
		goto out;
	}
	if ((p = bwcrypto_secalloc(PASS_MAX + 1)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((n = read(fd, p, PASS_MAX)) < 0) {
		log_error("passphrase file %s: %s", path, strerror(errno));
		goto out;
	}
	p[n] = 0;
	/* the first line is the passphrase */
	p[strcspn(p, "\r\n")] = 0;
	*len = strlen(p);
	*out = p;
	p = NULL;
	rc = 0;
out:
	bwcrypto_secfree(p);
	close(fd);
	return rc;
}

/* The signal that cancelled a passphrase prompt, or 0. */
static volatile sig_atomic_t prompt_sig;

static void
prompt_on_signal(int sig)
{
	prompt_sig = sig;
}

/*
 * Reads a line from the terminal with echo off.  Ctrl-C (or SIGTERM,
 * SIGHUP, SIGQUIT) cancels: the terminal gets its echo back, what was
 * typed is wiped, BW_ERR_INTR.  The signals are caught only here, without
 * SA_RESTART, so that the read returns rather than the process dying with
 * echo off; their former handling is restored afterwards.
 */
static int
prompt_tty(const char *prompt, char *buf, size_t max)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa, old_sa[sizeof(sigs) / sizeof(sigs[0])];
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	size_t n = 0, i;
	ssize_t r;
	char ch;
	int rc = 0, have_old;

	if (fd < 0)
		return BW_ERR_NOENT;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_on_signal;
	sigemptyset(&sa.sa_mask);
	prompt_sig = 0;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, &old_sa[i]);
	/* echo goes off before the prompt shows, and without flushing: what
	 * a quick typist or a paste sends after seeing it is kept */
	have_old = tcgetattr(fd, &old) == 0;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	if (have_old)
		tcsetattr(fd, TCSANOW, &quiet);
	if (write(fd, prompt, strlen(prompt)) < 0)
		rc = BW_ERR_IO;
	while (rc == 0) {
		if (prompt_sig) {
			rc = BW_ERR_INTR;
			break;
		}
		r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("cannot read the passphrase from the terminal: %s",
			    strerror(errno));
			rc = BW_ERR_IO;
			break;
		}
		if (r != 1 || ch == '\n' || ch == '\r')
			break;
		if (n < max - 1)
			buf[n++] = ch;
	}
	if (rc == 0 && prompt_sig)
		rc = BW_ERR_INTR;
	if (rc == BW_ERR_INTR) {
		bwcrypto_wipe(buf, n);
		n = 0;
	}
	buf[n] = 0;
	if (have_old)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0 && rc == 0)
		rc = BW_ERR_IO;
	close(fd);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &old_sa[i], NULL);
	if (rc == BW_ERR_INTR)
		log_error("passphrase prompt cancelled; nothing was done");
	return rc;
}

static int
ask(const char *prompt, int confirm, char **out, size_t *len)
{
	char *a = bwcrypto_secalloc(PASS_MAX), *b = NULL;
	int rc;

	if (!a)
		return BW_ERR_NOMEM;
	if ((rc = prompt_tty(prompt, a, PASS_MAX)) != 0)
		goto fail;
	if (confirm) {
		if ((b = bwcrypto_secalloc(PASS_MAX)) == NULL) {
			rc = BW_ERR_NOMEM;
			goto fail;
		}
		if ((rc = prompt_tty("enter it again: ", b, PASS_MAX)) != 0)
			goto fail;
		if (strcmp(a, b) != 0) {
			log_error("the two passphrases differ; nothing was changed");
			rc = BW_ERR_INVAL;
			goto fail;
		}
		bwcrypto_secfree(b);
	}
	*out = a;
	*len = strlen(a);
	return 0;
fail:
	bwcrypto_secfree(a);
	bwcrypto_secfree(b);
	return rc;
}

static int
from_env(const char *name, char **out, size_t *len)
{
	const char *v = getenv(name);
	size_t n;

	if (!v)
		return 1;
	n = strlen(v);
	if ((*out = bwcrypto_secalloc(n + 1)) == NULL)
		return BW_ERR_NOMEM;
	memcpy(*out, v, n + 1);
	*len = n;
	return 0;
}

int
cli_passphrase(struct cli *c, const char *prompt, int confirm, char **out, size_t *len)
{
	int rc;

	if ((rc = from_env("BULWARK_PASSPHRASE", out, len)) <= 0)
		return rc;
	if (c->pass_file)
		return read_pass_file(c->pass_file, out, len);
	if (cli_load_config(c) == 0 && c->cfg && c->cfg->has_repo && c->cfg->repo.passphrase_file)
		return read_pass_file(c->cfg->repo.passphrase_file, out, len);
	if (!isatty(STDIN_FILENO) && !isatty(STDERR_FILENO)) {
		log_error("no passphrase: set BULWARK_PASSPHRASE, use --passphrase-file FILE, "
		    "or run on a terminal");
		return BW_ERR_INVAL;
	}
	if ((rc = ask(prompt, confirm, out, len)) == BW_ERR_NOENT)
		log_error("no passphrase: no terminal to ask on; set BULWARK_PASSPHRASE or "
		    "use --passphrase-file FILE");
	return rc;
}

int
cli_new_passphrase(struct cli *c, const char *env, const char *file, const char *prompt,
    char **out, size_t *len)
{
	int rc;

	(void)c;
	if ((rc = from_env(env, out, len)) <= 0)
		return rc;
	if (file)
		return read_pass_file(file, out, len);
	if ((rc = ask(prompt, 1, out, len)) == BW_ERR_NOENT)
		log_error("no new passphrase: set %s, give a passphrase file, or run on a "
		    "terminal", env);
	return rc;
}

int
cli_open_repo(struct cli *c, struct repo **out)
{
	const char *path = cli_repo_path(c);
	char *pass = NULL;
	size_t len = 0;
	int rc;

	if (!path)
		return EXIT_USAGE;
	if ((rc = cli_passphrase(c, "repository passphrase: ", 0, &pass, &len)) != 0)
		return cli_exit(rc);
	rc = repo_open(path, pass, len, out);
	cli_pass_free(pass, len);
	if (rc)
		return cli_exit(rc);
	/* this host's writers follow its config's [repository] section */
	if (c->cfg && c->cfg->has_repo)
		repo_set_write_options(*out, c->cfg->repo.compression_level,
		    (uint64_t)c->cfg->repo.pack_size_mib << 20);
	return 0;
}

char *
cli_local_dir(const char *env, const char *configured, const char *root_default,
    const char *xdg, const char *home_rel, const char *leaf)
{
	const char *v = getenv(env), *base;
	char *p = NULL;

	if (v && *v)
		return strdup(v);
	if (configured)
		return strdup(configured);
	if (geteuid() == 0)
		return strdup(root_default);
	if ((base = getenv(xdg)) && *base) {
		if (asprintf(&p, "%s/%s", base, leaf) < 0)
			return NULL;
	} else if ((base = getenv("HOME")) != NULL) {
		if (asprintf(&p, "%s/%s/%s", base, home_rel, leaf) < 0)
			return NULL;
	}
	return p;
}

char *
cli_audit_dir(struct cli *c)
{
	return cli_local_dir("BULWARK_AUDIT_DIR",
	    cli_load_config(c) == 0 && c->cfg ? c->cfg->audit.dir : NULL,
	    LOCALSTATEDIR "/lib/bulwark/audit", "XDG_STATE_HOME", ".local/state",
	    "bulwark/audit");
}

int
cli_mkdirs(const char *path)
{
	char tmp[4096];
	size_t i, n = strlen(path);

	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++)
		if (tmp[i] == '/' || tmp[i] == 0) {
			char save = tmp[i];

			tmp[i] = 0;
			/* parents as usual, the directory itself private */
			if (mkdir(tmp, save ? 0755 : 0700) != 0 && errno != EEXIST)
				return -1;
			tmp[i] = save;
		}
	return 0;
}

void
cli_audit(struct cli *c, const char *action, const char *object, const char *outcome,
    const char *fmt, ...)
{
	char *dir = cli_audit_dir(c);
	struct audit *a = NULL;
	char detail[1024] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	if (!dir || cli_mkdirs(dir) != 0 || audit_open(dir, &a) != 0 ||
	    audit_append(a, action, object, outcome, fmt ? detail : NULL) != 0)
		log_warn("audit record for %s of %s not written (audit log %s); "
		    "check that directory", action, object, dir ? dir : "(none)");
	audit_free(a);
	free(dir);
}

void
cli_human_bytes(char *out, size_t n, unsigned long long b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%llu B", b);
	else
		snprintf(out, n, "%.1f %s", v, unit[u]);
}

void
cli_time_utc(char *out, size_t n, long long ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

void
cli_id_short(char *out, const unsigned char id[32])
{
	hex_encode(out, id, 4);
}

void
json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (*p >= 0x80) {
			/* names are bytes: pass valid UTF-8, escape the rest */
			int len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
			    (*p & 0xf8) == 0xf0 ? 4 : 0, i;

			for (i = 1; i < len && (p[i] & 0xc0) == 0x80; i++)
				;
			if (len && i == len) {
				fwrite(p, 1, (size_t)len, f);
				p += len - 1;
			} else {
				fprintf(f, "\\ufffd");
			}
		} else
			fputc(*p, f);
	}
	fputc('"', f);
}

void
json_kv_str(FILE *f, const char *k, const char *v, int comma)
{
	fprintf(f, "%s\"%s\":", comma ? "," : "", k);
	if (v)
		json_str(f, v);
	else
		fputs("null", f);
}

void
json_kv_u64(FILE *f, const char *k, unsigned long long v, int comma)
{
	fprintf(f, "%s\"%s\":%llu", comma ? "," : "", k, v);
}

int
cli_parse_kdf(const char *s, struct repo_kdf *k)
{
	if (!strcmp(s, "interactive"))
		*k = (struct repo_kdf){ 3, 32ULL << 20 };
	else if (!strcmp(s, "standard"))
		*k = (struct repo_kdf){ BWC_PWHASH_OPS_DEFAULT, BWC_PWHASH_MEM_DEFAULT };
	else if (!strcmp(s, "moderate"))
		*k = (struct repo_kdf){ 3, 256ULL << 20 };
	else if (!strcmp(s, "sensitive"))
		*k = (struct repo_kdf){ 4, 1024ULL << 20 };
	else {
		log_error("--kdf %s: expected interactive (32 MiB, t=3), standard (48 MiB, "
		    "t=4, the default), moderate (256 MiB) or sensitive (1 GiB)", s);
		return BW_ERR_INVAL;
	}
	return 0;
}

/* Collapses repeated slashes and drops a trailing one ("/srv//www/" is
 * "/srv/www"), so that the paths printed below it read cleanly. */
static void
normalize_path(char *p)
{
	char *w = p, *r = p;

	for (; *r; r++)
		if (*r != '/' || w == p || w[-1] != '/')
			*w++ = *r;
	if (w - p > 1 && w[-1] == '/')
		w--;
	*w = 0;
}

int
cli_split_snapspec(const char *arg, char **spec, char **path)
{
	const char *sep = strstr(arg, ":/");
	size_t n = sep ? (size_t)(sep - arg) : strlen(arg);

	*spec = NULL;
	*path = NULL;
	if (n == 0) {
		log_error("'%s': no snapshot before the path; give SNAPSHOT[:PATH], e.g. "
		    "latest:/etc", arg);
		return EXIT_USAGE;
	}
	if ((*spec = strndup(arg, n)) == NULL || (*path = strdup(sep ? sep + 1 : "/")) == NULL) {
		free(*spec);
		*spec = NULL;
		log_error("out of memory");
		return EXIT_ERROR;
	}
	normalize_path(*path);
	return 0;
}

int
cli_snapshot_arg(struct cli *c, struct repo *r, const char *spec, const char *set,
    const char *tag, uint8_t id[32])
{
	struct snap_info *v = NULL;
	size_t n = 0, idx;
	int rc;

	(void)c;
	if ((rc = repo_snapshots(r, &v, &n, NULL)) != 0)
		return cli_exit(rc);
	if ((rc = snapsel_pick(v, n, spec, set, tag, &idx)) == 0)
		memcpy(id, v[idx].id, OBJ_ID_LEN);
	snap_list_free(v, n);
	return cli_exit(rc);
}

int
cli_need_read(struct repo *r, const char *what)
{
	if (repo_caps(r) & REPO_CAP_READ)
		return 0;
	log_error("repository %s: this key cannot %s: it is write-only; use a key with the "
	    "read or admin capability", repo_path(r), what);
	return EXIT_AUTH;
}

int
cli_parse_snapsel(struct cli *c, int argc, char **argv, const char *help,
    const char **set, const char **tag)
{
	static const struct option lo[] = {
		CLI_COMMON_LONGOPTS,
		{ "set", required_argument, NULL, 'S' },
		{ "tag", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*set = NULL;
	*tag = NULL;
	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, lo, NULL)) != -1) {
		if (ch == 'h')
			return cli_usage(stdout, help, EXIT_OK);
		if (ch == 'S')
			*set = optarg;
		else if (ch == 'T')
			*tag = optarg;
		else if (!cli_common_opt(c, ch, optarg))
			return cli_usage(stderr, help, EXIT_USAGE);
	}
	return -1;
}

int
cli_load_snapshot(struct cli *c, struct repo *r, const char *spec, const char *set,
    const char *tag, struct snap_info *out)
{
	uint8_t id[OBJ_ID_LEN];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cli_snapshot_arg(c, r, spec, set, tag, id)) != 0)
		return rc;
	/* listed a moment ago: gone is "not found" (forgotten meanwhile),
	 * failing to verify is damage */
	if ((rc = repo_snapshot_load(r, id, out)) != 0)
		return rc == BW_ERR_NOENT ? EXIT_NOTFOUND : cli_tree_exit(rc);
	if (!out->have_body) {
		/* only a key without READ gets no body */
		snap_info_clear(out);
		return cli_need_read(r, "read snapshot contents");
	}
	return 0;
}

int
cli_tree_exit(int err)
{
	switch (err) {
	case BW_ERR_NOENT: case BW_ERR_CORRUPT: case BW_ERR_AUTH: case BW_ERR_VERSION:
		return EXIT_DAMAGED;
	}
	return cli_exit(err);
}

int
cli_tree_lookup(struct repo *r, const char *sid, const uint8_t root[32], const char *path,
    struct tree **parent, size_t *idx)
{
	struct walk_stop stop;
	const char *dir;
	size_t up;
	int x, rc = 0;

	if ((x = walk_lookup(r, root, path, parent, idx, &stop)) == 0)
		return 0;
	dir = stop.path;
	if (x == BW_ERR_INVAL) {
		log_error("'%s': a path in a snapshot is absolute (starts with /)", path);
		rc = EXIT_USAGE;
	} else if (!dir) {
		rc = cli_exit(x);
	} else if (x == BW_ERR_NOENT && stop.kind) {
		log_error("snapshot %s: %s is not a directory (it is a %s)", sid, dir,
		    cli_kind_name(stop.kind));
		rc = EXIT_NOTFOUND;
	} else if (x == BW_ERR_NOENT) {
		/* the directory that lacks it, to list */
		up = (size_t)(strrchr(dir, '/') - dir);
		log_error("snapshot %s has no %s; list what it holds with 'bulwark ls %s:%.*s'",
		    sid, dir, sid, up ? (int)up : 1, dir);
		rc = EXIT_NOTFOUND;
	} else {
		if (!strcmp(dir, "/"))
			log_error("snapshot %s: the root directory's tree cannot be read (%s); "
			    "run 'bulwark check'", sid, bw_strerror(x));
		else
			log_error("snapshot %s: directory %s: its tree cannot be read (%s); "
			    "run 'bulwark check'", sid, dir, bw_strerror(x));
		rc = cli_tree_exit(x);
	}
	free(stop.path);
	return rc;
}

void
cli_mode_string(char out[11], unsigned kind, unsigned mode)
{
	static const char type[] = "?-dl-cbps";
	static const char rwx[] = "rwxrwxrwx";
	int i;

	out[0] = kind < sizeof(type) - 1 ? type[kind] : '?';
	for (i = 0; i < 9; i++)
		out[1 + i] = mode & (0400u >> i) ? rwx[i] : '-';
	if (mode & 04000)
		out[3] = mode & 0100 ? 's' : 'S';
	if (mode & 02000)
		out[6] = mode & 010 ? 's' : 'S';
	if (mode & 01000)
		out[9] = mode & 01 ? 't' : 'T';
	out[10] = 0;
}

const char *
cli_kind_name(unsigned kind)
{
	static const char *const names[] = { "?", "file", "dir", "symlink", "hardlink", "chr",
	    "blk", "fifo", "sock" };

	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}
