#include "config.h"

#include <string.h>

#include "cli/cli.h"
#include "lib/util/err.h"

static const char help[] =
    "usage: bulwark config check [FILE]\n\n"
    "Validates a configuration file (default: -c FILE or " SYSCONFDIR "/bulwark/bulwark.conf)\n"
    "and prints every problem as FILE:LINE: message.  Exit code 0 when valid,\n"
    "2 when not.\n";

int
cmd_config(struct cli *c, int argc, char **argv)
{
	struct config *cfg = NULL;
	const char *path;
	int ch, x;

	if ((ch = cli_parse_common(c, argc, argv, help)) >= 0)
		return ch;
	if (optind >= argc || strcmp(argv[optind], "check") || argc - optind > 2)
		return cli_usage(stderr, help, EXIT_USAGE);
	path = argc - optind == 2 ? argv[optind + 1] : c->config_path;
	if ((x = config_load(path, &cfg)) != 0)
		return x == BW_ERR_NOENT ? EXIT_NOTFOUND : EXIT_USAGE;
	if (!c->quiet)
		printf("%s: valid (%zu backup set%s%s)\n", path, cfg->nbackups,
		    cfg->nbackups == 1 ? "" : "s", cfg->has_repo ? ", repository configured" : "");
	config_free(cfg);
	return EXIT_OK;
}
