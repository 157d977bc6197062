/*
 * The service address of a site on one interface, IPv4 or IPv6: is it
 * free on the link (duplicate address detection), add it, announce it,
 * remove it, is it configured here.  Quorum is not fencing: a node checks
 * that nobody answers for the address before it takes it.
 *
 *   probe     IPv4: RFC 5227 ARP probes (sender 0.0.0.0) on the interface;
 *             IPv6: neighbour solicitations from :: to the solicited-node
 *             group.  ADDR_PROBES probes ADDR_PROBE_GAP_MS apart, then
 *             ADDR_PROBE_WAIT_MS more of listening.  0 = free,
 *             BW_ERR_EXIST = in use (reason: "... in use by MAC"), other
 *             codes = could not probe.  An interface without ARP (lo) has
 *             no neighbours: free.
 *   add       RTM_NEWADDR with the prefix (IPv6: IFA_F_NODAD, we probed);
 *             already there counts as done.
 *   announce  gratuitous ARP (a request and a reply, sender = target =
 *             the address) or an unsolicited neighbour advertisement with
 *             the override flag to all-nodes; count times, interval_ms
 *             apart.
 *   del       RTM_DELADDR; already gone counts as done.
 *   present   0 if the interface has the address, BW_ERR_NOENT if not.
 *
 * Each action is bounded by its timeout_ms (the site's action_timeout_ms)
 * and reports once through its ops_done_fn (failover/ops.h).  The real
 * driver needs CAP_NET_ADMIN (add, del) and CAP_NET_RAW (probe, announce):
 * the only root-only operations of failoverd besides starting services.
 */
#ifndef BW_FAILOVER_ADDR_H
#define BW_FAILOVER_ADDR_H

#include <net/if.h>
#include <stdint.h>

#include "failover/ops.h"

#define ADDR_PROBES 3
#define ADDR_PROBE_GAP_MS 150
#define ADDR_PROBE_WAIT_MS 200

struct addr_spec {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* 4 or 16 bytes, network order */
	unsigned prefix;
	char ifname[IF_NAMESIZE];
	char text[64];			/* "192.0.2.10/24 on eth0", for messages */
};

/* Parses "ADDRESS/PREFIX" (a site's address) on interface ifname.
 * 0, or BW_ERR_INVAL (not logged). */
int addr_parse(const char *s, const char *ifname, struct addr_spec *out);

struct addr_ops {
	const char *name;	/* "real", "null", "fake" */
	/* a (and arg) must stay valid until fn is called.  0, or a negative
	 * code (logged) and fn is not called. */
	int (*probe)(struct loop *l, const struct addr_spec *a, uint64_t timeout_ms,
	    ops_done_fn *fn, void *arg);
	int (*add)(struct loop *l, const struct addr_spec *a, uint64_t timeout_ms,
	    ops_done_fn *fn, void *arg);
	int (*announce)(struct loop *l, const struct addr_spec *a, unsigned count,
	    unsigned interval_ms, ops_done_fn *fn, void *arg);
	int (*del)(struct loop *l, const struct addr_spec *a, uint64_t timeout_ms,
	    ops_done_fn *fn, void *arg);
	int (*present)(struct loop *l, const struct addr_spec *a, uint64_t timeout_ms,
	    ops_done_fn *fn, void *arg);
};

extern const struct addr_ops addr_real;
extern const struct addr_ops addr_null;
extern const struct addr_ops addr_fake;

/* The fake: a table of configured addresses (add/del/present act on it),
 * probe's answer (0, or BW_ERR_EXIST to play "in use"), a result that
 * every other action reports instead of succeeding (0 = none), and a record
 * of calls ("probe 192.0.2.10/24 on eth0\n" each). */
void addr_fake_reset(void);
void addr_fake_set_probe(int err);
void addr_fake_set_fail(int err);
const char *addr_fake_calls(void);

#endif
