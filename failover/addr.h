/*
 * The service address of a site on one interface, IPv4 or IPv6: is it
 * free on the link (duplicate address detection), add it, announce it,
 * remove it, is it configured here.  Quorum is not fencing: a node checks
 * that nobody answers for the address before it takes it.
 *
 *   probe     IPv4: RFC 5227 ARP probes (sender 0.0.0.0) on the interface;
 *             IPv6: neighbour solicitations from :: to the solicited-node
 *             group.  probes probes probe_gap_ms apart, then
 *             probe_wait_ms more of listening (addr_spec; 0 = the
 *             ADDR_PROBE* defaults below).  0 = free,
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

/* A takeover, not a host configuring itself at boot: RFC 5227's timings
 * (3 probes 1-2 s apart, then 2 s) are for the latter.  What matters here
 * is whether a node that should have released the address still answers
 * for it: one or two probes and a short listen catch that (an ARP answer
 * on a LAN takes well under a millisecond to a few ms). */
#define ADDR_PROBES 2
#define ADDR_PROBE_GAP_MS 50
#define ADDR_PROBE_WAIT_MS 50

struct addr_spec {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* 4 or 16 bytes, network order */
	unsigned prefix;
	char ifname[IF_NAMESIZE];
	char text[64];			/* "192.0.2.10/24 on eth0", for messages */
	unsigned probes;		/* duplicate address detection; 0: defaults */
	unsigned probe_gap_ms;
	unsigned probe_wait_ms;
};

/* Parses "ADDRESS/PREFIX" (a site's address) on interface ifname.
 * 0, or BW_ERR_INVAL (not logged). */
int addr_parse(const char *s, const char *ifname, struct addr_spec *out);

/* Reads one frame's payload seen on the link while probing for a: an ARP
 * packet (IPv4) or an IPv6 packet (IPv6); mine is this interface's MAC.
 * 1 if another host uses the address or probes for it too, with who set
 * to its MAC (who should hold the frame's source MAC on entry: an
 * advertisement without a link-layer option keeps it); 0 if the frame
 * says nothing about the address; -1 if it is malformed. */
int addr_frame_conflict(const struct addr_spec *a, const uint8_t mine[6], const uint8_t *p,
    size_t n, uint8_t who[6]);

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
