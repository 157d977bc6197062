#include "config.h"

#include <stdlib.h>

#include "failover/addr.h"
#include "failover/daemon_addr.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

struct daemon_addr {
	struct addr_spec spec;
};

struct daemon_addr *
daemon_addr_new(const char *file, const char *site, const char *address, const char *ifname)
{
	struct daemon_addr *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if (addr_parse(address, ifname, &a->spec) != 0) {
		log_error("%s: [site %s] address %s on %s: not an ADDRESS/PREFIX on an "
		    "interface name", file ? file : "configuration", site, address, ifname);
		free(a);
		return NULL;
	}
	return a;
}

void daemon_addr_free(struct daemon_addr *a) { free(a); }

int daemon_addr_in_use(int err) { return err == BW_ERR_EXIST; }

int
daemon_addr_run(const struct site_ops *ops, struct loop *l, enum daemon_addr_op op,
    const struct daemon_addr *a, uint64_t timeout_ms, unsigned count, unsigned interval_ms,
    ops_done_fn *fn, void *arg)
{
	switch (op) {
	case DADDR_PROBE:
		return ops->addr->probe(l, &a->spec, timeout_ms, fn, arg);
	case DADDR_ADD:
		return ops->addr->add(l, &a->spec, timeout_ms, fn, arg);
	case DADDR_ANNOUNCE:
		return ops->addr->announce(l, &a->spec, count, interval_ms, fn, arg);
	case DADDR_DEL:
		return ops->addr->del(l, &a->spec, timeout_ms, fn, arg);
	}
	return BW_ERR_INVAL;
}
