#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark key list\n"
    "       bulwark key add --name NAME [--cap admin|read|write[,...]] [--new-passphrase-file F]\n"
    "                       [--kdf interactive|standard|moderate|sensitive]\n"
    "       bulwark key remove SLOT\n"
    "       bulwark key passwd [--new-passphrase-file F]\n"
    "       bulwark key export [SLOT]      (paper backup, printed to standard output)\n"
    "       bulwark key import FILE        (restore a slot from a paper backup)\n\n"
    "Key slots hold capabilities: write (back up only: cannot read old data or\n"
    "delete), read (restore and verify), admin (everything, incl. forget, prune\n"
    "and keys).  Give backup hosts a write key.  The new key's passphrase comes\n"
    "from BULWARK_NEW_PASSPHRASE, --new-passphrase-file, or the terminal.\n";

static int
parse_caps(const char *s, unsigned *caps)
{
	char *dup = strdup(s), *tok, *save = NULL;
	int rc = 0;

	*caps = 0;
	if (!dup)
		return BW_ERR_NOMEM;
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "write"))
			*caps |= REPO_CAP_WRITE;
		else if (!strcmp(tok, "read"))
			*caps |= REPO_CAP_READ;
		else if (!strcmp(tok, "admin"))
			*caps |= REPO_CAP_ALL;
		else {
			log_error("--cap %s: unknown capability '%s'; use admin, read, write or a "
			    "comma-separated list", s, tok);
			rc = BW_ERR_INVAL;
		}
	}
	free(dup);
	return rc;
}

static void
caps_str(char *out, size_t n, unsigned caps)
{
	if ((caps & REPO_CAP_ALL) == REPO_CAP_ALL) {
		snprintf(out, n, "admin");
		return;
	}
	snprintf(out, n, "%s%s%s", caps & REPO_CAP_READ ? "read" : "",
	    (caps & REPO_CAP_READ) && (caps & REPO_CAP_WRITE) ? "," : "",
	    caps & REPO_CAP_WRITE ? "write" : "");
}

int
cmd_key(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONGOPTS,
		{ "name", required_argument, NULL, 'n' },
		{ "cap", required_argument, NULL, 'C' },
		{ "new-passphrase-file", required_argument, NULL, 'P' },
		{ "kdf", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = NULL, *capstr = "admin", *newfile = NULL, *sub;
	struct repo *r = NULL;
	struct repo_keyinfo *k = NULL;
	char *pass = NULL, slot[17], when[32], cs[32], *rp = NULL;
	size_t len = 0, n = 0, i;
	unsigned caps = 0;
	struct repo_kdf kdf = { 0, 0 };
	int ch, rc, x;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "n:", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': return cli_usage(stdout, help, EXIT_OK);
		case 'n': name = optarg; break;
		case 'C': capstr = optarg; break;
		case 'P': newfile = optarg; break;
		case 'K': if (cli_parse_kdf(optarg, &kdf)) return EXIT_USAGE; break;
		default:
			if (!cli_common_opt(c, ch, optarg))
				return cli_usage(stderr, help, EXIT_USAGE);
		}
	}
	if (optind >= argc)
		return cli_usage(stderr, help, EXIT_USAGE);
	sub = argv[optind++];

	if (!strcmp(sub, "import")) {
		FILE *f;
		const char *path = cli_repo_path(c);

		if (optind + 1 != argc || !path)
			return cli_usage(stderr, help, EXIT_USAGE);
		if ((f = fopen(argv[optind], "r")) == NULL) {
			log_error("key import: cannot open %s", argv[optind]);
			return EXIT_NOTFOUND;
		}
		x = repo_key_import(path, f);
		fclose(f);
		cli_audit(c, "key import", path, x ? "failed" : "ok", "from %s", argv[optind]);
		return cli_exit(x);
	}
	if ((rc = cli_open_repo(c, &r)) != 0)
		return rc;
	rp = strdup(repo_path(r));
	rc = EXIT_OK;
	if (!strcmp(sub, "list") && optind == argc) {
		if ((x = repo_key_list(r, &k, &n)) != 0) {
			rc = cli_exit(x);
			goto out;
		}
		if (c->json)
			printf("[");
		else
			printf("%-16s  %-12s  %-19s  %s\n", "SLOT", "CAPS", "CREATED (UTC)", "NAME");
		for (i = 0; i < n; i++) {
			caps_str(cs, sizeof(cs), k[i].caps);
			cli_time_utc(when, sizeof(when), (long long)k[i].created * 1000000000LL);
			if (c->json) {
				printf("%s{", i ? "," : "");
				json_kv_str(stdout, "slot", k[i].slot, 0);
				json_kv_str(stdout, "name", k[i].name, 1);
				json_kv_str(stdout, "caps", cs, 1);
				json_kv_str(stdout, "created", when, 1);
				printf(",\"current\":%s}", k[i].current ? "true" : "false");
			} else {
				printf("%-16s  %-12s  %-19s  %s%s\n", k[i].slot, cs, when, k[i].name,
				    k[i].current ? "  (this key)" : "");
			}
		}
		if (c->json)
			printf("]\n");
		repo_keyinfo_free(k, n);
	} else if (!strcmp(sub, "add") && optind == argc) {
		if (!name) {
			log_error("key add: give the key a name with --name (the operator or host)");
			rc = EXIT_USAGE;
			goto out;
		}
		if ((x = parse_caps(capstr, &caps)) != 0) {
			rc = cli_exit(x);
			goto out;
		}
		if ((x = cli_new_passphrase(c, "BULWARK_NEW_PASSPHRASE", newfile,
		    "passphrase for the new key: ", &pass, &len)) != 0) {
			rc = cli_exit(x);
			goto out;
		}
		x = repo_key_add(r, name, caps, pass, len, &kdf, slot);
		caps_str(cs, sizeof(cs), caps);
		cli_audit(c, "key add", rp, x ? "failed" : "ok", "slot %s, name %s, caps %s",
		    x ? "-" : slot, name, cs);
		if (x) {
			rc = cli_exit(x);
			goto out;
		}
		if (!c->quiet)
			printf("added key slot %s (%s) for %s\n", slot, cs, name);
	} else if (!strcmp(sub, "remove") && optind + 1 == argc) {
		x = repo_key_remove(r, argv[optind]);
		cli_audit(c, "key remove", rp, x ? "failed" : "ok", "slot %s", argv[optind]);
		if (x) {
			rc = cli_exit(x);
			goto out;
		}
		if (!c->quiet)
			printf("removed key slot %s\n", argv[optind]);
	} else if (!strcmp(sub, "passwd") && optind == argc) {
		if ((x = cli_new_passphrase(c, "BULWARK_NEW_PASSPHRASE", newfile,
		    "new passphrase: ", &pass, &len)) != 0) {
			rc = cli_exit(x);
			goto out;
		}
		x = repo_key_passwd(r, pass, len, &kdf);
		cli_audit(c, "key passwd", rp, x ? "failed" : "ok", NULL);
		if (x) {
			rc = cli_exit(x);
			goto out;
		}
		if (!c->quiet)
			printf("passphrase changed\n");
	} else if (!strcmp(sub, "export") && optind + 1 >= argc) {
		x = repo_key_export(r, optind < argc ? argv[optind] : NULL, stdout);
		cli_audit(c, "key export", rp, x ? "failed" : "ok", "slot %s",
		    optind < argc ? argv[optind] : "(current)");
		rc = cli_exit(x);
	} else {
		rc = cli_usage(stderr, help, EXIT_USAGE);
	}
out:
	if (pass)
		cli_pass_free(pass, len);
	repo_free(r);
	free(rp);
	return rc;
}
