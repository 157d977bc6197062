#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark init --repo DIR [--name NAME] [--kdf interactive|standard|moderate|sensitive]\n\n"
    "Creates an encrypted repository in DIR (which must not exist or be empty)\n"
    "with one admin key slot protected by the passphrase (BULWARK_PASSPHRASE,\n"
    "--passphrase-file FILE, or asked twice on the terminal).  Add keys for other\n"
    "operators and write-only keys for backup hosts with 'bulwark key add'.\n"
    "--kdf sets the passphrase hashing cost of the slot (Argon2id: interactive\n"
    "32 MiB t=3; standard 48 MiB t=4, the default, the same work as RFC 9106's\n"
    "second recommendation within a 64 MiB memory budget; moderate 256 MiB\n"
    "t=3; sensitive 1 GiB t=4).  Each slot keeps its own costs, so slots made\n"
    "with an older default still open.\n";

int
cmd_init(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONGOPTS, { "name", required_argument, NULL, 'n' },
		{ "kdf", required_argument, NULL, 'K' }, { NULL, 0, NULL, 0 }
	};
	char host[256] = "admin", *pass = NULL;
	const char *name = NULL, *path;
	size_t len = 0;
	struct repo_kdf kdf = { 0, 0 };
	int ch, rc;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "n:", lo, NULL)) != -1) {
		if (ch == 'h')
			return cli_usage(stdout, help, EXIT_OK);
		if (ch == 'n')
			name = optarg;
		else if (ch == 'K') {
			if (cli_parse_kdf(optarg, &kdf))
				return EXIT_USAGE;
		}
		else if (!cli_common_opt(c, ch, optarg))
			return cli_usage(stderr, help, EXIT_USAGE);
	}
	if (optind != argc)
		return cli_usage(stderr, help, EXIT_USAGE);
	if ((path = cli_repo_path(c)) == NULL)
		return EXIT_USAGE;
	if (!name) {
		gethostname(host, sizeof(host) - 1);
		name = host;
	}
	if ((rc = cli_passphrase(c, "new repository passphrase: ", 1, &pass, &len)) != 0)
		return cli_exit(rc);
	if (len == 0) {
		log_error("refusing an empty passphrase");
		cli_pass_free(pass, len);
		return EXIT_USAGE;
	}
	rc = repo_init(path, name, pass, len, &kdf);
	cli_pass_free(pass, len);
	cli_audit(c, "init", path, rc ? "failed" : "ok", rc ? "%s" : NULL, bw_strerror(rc));
	if (rc)
		return cli_exit(rc);
	if (c->json)
		printf("{\"repository\":\"%s\",\"created\":true}\n", path);
	else if (!c->quiet)
		printf("created repository %s (admin key slot '%s')\n"
		    "Keep the passphrase safe: without it the backups cannot be read.\n"
		    "Print a paper copy of the key with 'bulwark key export'.\n", path, name);
	return EXIT_OK;
}
