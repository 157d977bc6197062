/*
 * bw-addr-tool: runs one address driver action and prints the result, for
 * the integration tests (tests/integration/addr.sh).  Not installed.
 *
 *   bw-addr-tool probe|add|announce|del|present ADDRESS/PREFIX IFACE [COUNT [INTERVAL_MS]]
 *
 * Prints the outcome ("free", "in use by MAC", "present", ...) on stdout.
 * Exit 0 when the action succeeded (free, present), 1 when the answer is
 * no (in use, absent), 2 on any other failure.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover/addr.h"
#include "failover/loop.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static int result = 2;

static void
done(struct loop *l, int err, const char *reason, void *arg)
{
	const char *what = arg;

	if (err == 0) {
		printf("%s\n", strcmp(what, "probe") == 0 ? "free" :
		    strcmp(what, "present") == 0 ? "present" : "ok");
		result = 0;
	} else if (err == BW_ERR_EXIST || err == BW_ERR_NOENT) {
		printf("%s\n", reason);
		result = 1;
	} else {
		printf("failed: %s\n", reason);
		result = 2;
	}
	loop_stop(l);
}

int
main(int argc, char **argv)
{
	struct addr_spec a;
	struct loop *l;
	unsigned count = 3, interval = 200;
	const char *op;
	int err;

	log_set_prog("bw-addr-tool");
	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: bw-addr-tool probe|add|announce|del|present "
		    "ADDRESS/PREFIX IFACE [COUNT [INTERVAL_MS]]\n");
		return 2;
	}
	op = argv[1];
	if (addr_parse(argv[2], argv[3], &a) != 0) {
		fprintf(stderr, "bw-addr-tool: %s on %s: not ADDRESS/PREFIX on an interface\n",
		    argv[2], argv[3]);
		return 2;
	}
	if (argc > 4)
		count = (unsigned)strtoul(argv[4], NULL, 10);
	if (argc > 5)
		interval = (unsigned)strtoul(argv[5], NULL, 10);
	if ((l = loop_new()) == NULL)
		return 2;
	if (strcmp(op, "probe") == 0)
		err = addr_real.probe(l, &a, 5000, done, "probe");
	else if (strcmp(op, "add") == 0)
		err = addr_real.add(l, &a, 5000, done, "add");
	else if (strcmp(op, "announce") == 0)
		err = addr_real.announce(l, &a, count, interval, done, "announce");
	else if (strcmp(op, "del") == 0)
		err = addr_real.del(l, &a, 5000, done, "del");
	else if (strcmp(op, "present") == 0)
		err = addr_real.present(l, &a, 5000, done, "present");
	else {
		fprintf(stderr, "bw-addr-tool: unknown action %s\n", op);
		err = BW_ERR_INVAL;
	}
	if (err == 0)
		loop_run(l);
	loop_free(l);
	return err ? 2 : result;
}
