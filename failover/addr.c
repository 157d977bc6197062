/*
 * Service address drivers.  The real one talks rtnetlink (libmnl) for
 * add, del and present, and sends and reads link-layer frames on an
 * AF_PACKET socket bound to the interface for probes and announcements:
 * an ARP packet for IPv4, a whole IPv6 packet (header built here, so the
 * source can be :: for a probe) for IPv6.  Every socket is non-blocking
 * and read from the loop; every action has one struct op, freed by
 * op_finish just before its callback.
 *
 * Frames from the link are untrusted: they are read through struct bufr,
 * field by field, in network byte order.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failover/addr.h"
#include "failover/loop.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define ETH_P_ARP_ 0x0806
#define ETH_P_IPV6_ 0x86dd
#define ADDR_REASON_MAX 256

int
addr_parse(const char *s, const char *ifname, struct addr_spec *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash;
	unsigned long prefix;
	char *end;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (s == NULL || ifname == NULL || *ifname == 0 || strlen(ifname) >= IF_NAMESIZE)
		return BW_ERR_INVAL;
	if ((slash = strchr(s, '/')) == NULL || (n = (size_t)(slash - s)) >= sizeof(host))
		return BW_ERR_INVAL;
	memcpy(host, s, n);
	host[n] = 0;
	if (slash[1] < '0' || slash[1] > '9')
		return BW_ERR_INVAL;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end != 0)
		return BW_ERR_INVAL;
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		if (prefix < 1 || prefix > 32)
			return BW_ERR_INVAL;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		if (prefix < 1 || prefix > 128)
			return BW_ERR_INVAL;
	} else {
		return BW_ERR_INVAL;
	}
	out->prefix = (unsigned)prefix;
	strcpy(out->ifname, ifname);
	snprintf(out->text, sizeof(out->text), "%s/%lu on %s", host, prefix, ifname);
	return 0;
}

static size_t addr_len(const struct addr_spec *a) { return a->family == AF_INET ? 4 : 16; }

static void
mac_text(char *out, const uint8_t mac[6])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
	    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* ---- one action under way ---- */

enum op_kind { OP_PROBE, OP_ADD, OP_ANNOUNCE, OP_DEL, OP_PRESENT };
static const char *const op_names[] = { "probe", "add", "announce", "remove", "look up" };

struct op {
	enum op_kind kind;
	struct loop *l;
	const struct addr_spec *a;
	int fd;
	struct mnl_socket *nl;
	uint32_t seq, portid;
	int ifindex;
	uint8_t mac[6];
	int noarp;		/* no link-layer neighbours (lo, tun) */
	struct loop_timer *deadline, *tick;
	unsigned sent, count, interval_ms;
	uint64_t timeout_ms;
	int found;
	ops_done_fn *fn;
	void *arg;
};

static void
op_free(struct op *o)
{
	if (o->fd >= 0)
		loop_fd_del(o->l, o->fd);
	if (o->fd >= 0 && o->nl == NULL)
		close(o->fd);
	if (o->nl)
		mnl_socket_close(o->nl);
	loop_timer_cancel(o->l, o->deadline);
	loop_timer_cancel(o->l, o->tick);
	free(o);
}

/* Ends the action; the message is logged as an error when err says the
 * action failed (not for "absent", which is an answer). */
static void
op_finish(struct op *o, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
op_finish(struct op *o, int err, const char *fmt, ...)
{
	char reason[ADDR_REASON_MAX];
	struct loop *l = o->l;
	ops_done_fn *fn = o->fn;
	void *arg = o->arg;
	size_t n;
	va_list ap;

	n = (size_t)snprintf(reason, sizeof(reason), "address %s: ", o->a->text);
	if (n >= sizeof(reason))
		n = sizeof(reason) - 1;
	va_start(ap, fmt);
	vsnprintf(reason + n, sizeof(reason) - n, fmt, ap);
	va_end(ap);
	if (err == 0)
		log_info("%s", reason);
	else if (!(o->kind == OP_PRESENT && err == BW_ERR_NOENT))
		log_error("%s", reason);
	op_free(o);
	fn(l, err, err ? reason : NULL, arg);
}

static void
op_timeout(struct loop *l, void *arg)
{
	struct op *o = arg;

	o->deadline = NULL;
	op_finish(o, BW_ERR_INTR, "%s timed out after %llu ms", op_names[o->kind],
	    (unsigned long long)o->timeout_ms);
}

static struct op *
op_new(struct loop *l, enum op_kind kind, const struct addr_spec *a, uint64_t timeout_ms,
    ops_done_fn *fn, void *arg, int *err)
{
	struct op *o;

	*err = BW_ERR_NOMEM;
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		log_error("address %s: out of memory", a->text);
		return NULL;
	}
	o->kind = kind;
	o->l = l;
	o->a = a;
	o->fd = -1;
	o->fn = fn;
	o->arg = arg;
	o->timeout_ms = timeout_ms ? timeout_ms : 10000;
	if ((o->ifindex = (int)if_nametoindex(a->ifname)) == 0) {
		log_error("address %s: no interface %s; check the site's interface",
		    a->text, a->ifname);
		*err = BW_ERR_NOENT;
		free(o);
		return NULL;
	}
	return o;
}

/* ---- rtnetlink: add, del, present ---- */

static int
present_attr(const struct nlattr *at, void *data)
{
	struct op *o = data;
	int want = o->a->family == AF_INET ? IFA_LOCAL : IFA_ADDRESS;

	if (mnl_attr_get_type(at) == want &&
	    mnl_attr_validate2(at, MNL_TYPE_BINARY, addr_len(o->a)) == 0 &&
	    memcmp(mnl_attr_get_payload(at), o->a->addr, addr_len(o->a)) == 0)
		o->found = 1;
	return MNL_CB_OK;
}

static int
present_msg(const struct nlmsghdr *nlh, void *data)
{
	struct op *o = data;
	const struct ifaddrmsg *ifa;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	if ((int)ifa->ifa_index != o->ifindex || ifa->ifa_family != o->a->family)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), present_attr, o);
	return MNL_CB_OK;
}

static void
nl_ready(struct loop *l, int fd, short revents, void *arg)
{
	struct op *o = arg;
	char *buf;
	ssize_t n;
	int r, e;

	if ((buf = malloc(MNL_SOCKET_BUFFER_SIZE)) == NULL) {
		op_finish(o, BW_ERR_NOMEM, "out of memory");
		return;
	}
	n = mnl_socket_recvfrom(o->nl, buf, MNL_SOCKET_BUFFER_SIZE);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		free(buf);
		return;
	}
	if (n < 0) {
		e = errno;
		free(buf);
		op_finish(o, BW_ERR_IO, "%s: netlink: %s", op_names[o->kind], strerror(e));
		return;
	}
	r = mnl_cb_run(buf, (size_t)n, o->seq, o->portid,
	    o->kind == OP_PRESENT ? present_msg : NULL, o);
	e = errno;
	free(buf);
	if (r == MNL_CB_OK)
		return;		/* more of a dump to come */
	if (r == MNL_CB_ERROR) {
		if (o->kind == OP_ADD && e == EEXIST) {
			op_finish(o, 0, "already configured");
		} else if (o->kind == OP_DEL && e == EADDRNOTAVAIL) {
			op_finish(o, 0, "already absent");
		} else {
			op_finish(o, e == EPERM || e == EACCES ? BW_ERR_PERM : BW_ERR_IO,
			    "%s: %s%s", op_names[o->kind], strerror(e),
			    e == EPERM ? " (needs CAP_NET_ADMIN)" : "");
		}
		return;
	}
	switch (o->kind) {
	case OP_ADD: op_finish(o, 0, "added"); break;
	case OP_DEL: op_finish(o, 0, "removed"); break;
	default:
		if (o->found)
			op_finish(o, 0, "configured here");
		else
			op_finish(o, BW_ERR_NOENT, "not configured here");
		break;
	}
}

static int
nl_start(struct op *o)
{
	char buf[512];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	const struct addr_spec *a = o->a;
	int err;

	if ((o->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC)) == NULL ||
	    mnl_socket_bind(o->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		log_error("address %s: netlink socket: %s", a->text, strerror(errno));
		return BW_ERR_IO;
	}
	o->portid = mnl_socket_get_portid(o->nl);
	o->seq = (uint32_t)time(NULL);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_seq = o->seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	switch (o->kind) {
	case OP_ADD:
	case OP_DEL:
		nlh->nlmsg_type = o->kind == OP_ADD ? RTM_NEWADDR : RTM_DELADDR;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
		    (o->kind == OP_ADD ? NLM_F_CREATE | NLM_F_EXCL : 0);
		ifa->ifa_prefixlen = (uint8_t)a->prefix;
		ifa->ifa_scope = RT_SCOPE_UNIVERSE;
		ifa->ifa_index = (unsigned)o->ifindex;
		/* Our own probe already did what kernel DAD would do, and
		 * kernel DAD would keep the address tentative for a second. */
		ifa->ifa_flags = a->family == AF_INET6 ? IFA_F_NODAD : 0;
		mnl_attr_put(nlh, IFA_LOCAL, addr_len(a), a->addr);
		mnl_attr_put(nlh, IFA_ADDRESS, addr_len(a), a->addr);
		break;
	default:
		nlh->nlmsg_type = RTM_GETADDR;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		break;
	}
	if (mnl_socket_sendto(o->nl, nlh, nlh->nlmsg_len) < 0) {
		log_error("address %s: netlink send: %s", a->text, strerror(errno));
		return BW_ERR_IO;
	}
	o->fd = mnl_socket_get_fd(o->nl);
	if ((err = loop_fd_add(o->l, o->fd, POLLIN, nl_ready, o)) != 0) {
		o->fd = -1;
		log_error("address %s: out of memory", a->text);
		return err;
	}
	if ((o->deadline = loop_timer_add(o->l, o->timeout_ms, op_timeout, o)) == NULL) {
		log_error("address %s: out of memory", a->text);
		return BW_ERR_NOMEM;
	}
	return 0;
}

static int
nl_op(struct loop *l, enum op_kind kind, const struct addr_spec *a, uint64_t timeout_ms,
    ops_done_fn *fn, void *arg)
{
	int err;
	struct op *o = op_new(l, kind, a, timeout_ms, fn, arg, &err);

	if (o == NULL)
		return err;
	if ((err = nl_start(o)) != 0)
		op_free(o);
	return err;
}

static int
real_add(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	return nl_op(l, OP_ADD, a, t, fn, arg);
}

static int
real_del(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	return nl_op(l, OP_DEL, a, t, fn, arg);
}

static int
real_present(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	return nl_op(l, OP_PRESENT, a, t, fn, arg);
}

/* ---- frames on the link: probe, announce ---- */

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };

/* Opens the packet socket on the interface and learns its MAC. */
static int
pkt_open(struct op *o)
{
	const struct addr_spec *a = o->a;
	uint16_t proto = a->family == AF_INET ? ETH_P_ARP_ : ETH_P_IPV6_;
	struct sockaddr_ll sll;
	struct ifreq ifr;
	int e;

	o->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(proto));
	if (o->fd < 0) {
		e = errno;
		log_error("address %s: packet socket: %s%s", a->text, strerror(e),
		    e == EPERM ? " (needs CAP_NET_RAW)" : "");
		return e == EPERM ? BW_ERR_PERM : BW_ERR_IO;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, a->ifname);
	if (ioctl(o->fd, SIOCGIFFLAGS, &ifr) < 0) {
		log_error("address %s: interface flags: %s", a->text, strerror(errno));
		return BW_ERR_IO;
	}
	if (ifr.ifr_flags & IFF_NOARP)
		o->noarp = 1;
	if (ioctl(o->fd, SIOCGIFHWADDR, &ifr) < 0) {
		log_error("address %s: interface address: %s", a->text, strerror(errno));
		return BW_ERR_IO;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		o->noarp = 1;
	memcpy(o->mac, ifr.ifr_hwaddr.sa_data, 6);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(proto);
	sll.sll_ifindex = o->ifindex;
	if (bind(o->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		log_error("address %s: binding to %s: %s", a->text, a->ifname, strerror(errno));
		return BW_ERR_IO;
	}
	return 0;
}

static int
pkt_send(struct op *o, const uint8_t *dst_mac, const struct buf *b)
{
	struct sockaddr_ll sll;

	if (b->err)
		return b->err;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(o->a->family == AF_INET ? ETH_P_ARP_ : ETH_P_IPV6_);
	sll.sll_ifindex = o->ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dst_mac, 6);
	if (sendto(o->fd, b->data, b->len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		log_error("address %s: sending on %s: %s", o->a->text, o->a->ifname,
		    strerror(errno));
		return BW_ERR_IO;
	}
	return 0;
}

static void
put_be16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	buf_put(b, x, 2);
}

/* ARP over Ethernet/IPv4 (RFC 826). */
static int
send_arp(struct op *o, uint16_t oper, const uint8_t spa[4], const uint8_t tha[6])
{
	static const uint8_t zero[4];
	struct buf b = {0};
	int err;

	put_be16(&b, 1);		/* Ethernet */
	put_be16(&b, 0x0800);		/* IPv4 */
	buf_put_u8(&b, 6);
	buf_put_u8(&b, 4);
	put_be16(&b, oper);
	buf_put(&b, o->mac, 6);
	buf_put(&b, spa ? spa : zero, 4);
	buf_put(&b, tha, 6);
	buf_put(&b, o->a->addr, 4);
	err = pkt_send(o, bcast, &b);
	buf_free(&b);
	return err;
}

static uint16_t
icmp6_sum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i < 16; i += 2)
		s += (uint32_t)(src[i] << 8 | src[i + 1]) + (uint32_t)(dst[i] << 8 | dst[i + 1]);
	s += (uint32_t)n + 58;
	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* An IPv6 packet carrying one ICMPv6 message (hop limit 255, as
 * neighbour discovery requires). */
static int
send_icmp6(struct op *o, const uint8_t src[16], const uint8_t dst[16], struct buf *icmp)
{
	uint8_t dmac[6] = { 0x33, 0x33, dst[12], dst[13], dst[14], dst[15] };
	struct buf b = {0};
	uint16_t sum;
	int err;

	if (icmp->err)
		return icmp->err;
	sum = icmp6_sum(src, dst, icmp->data, icmp->len);
	icmp->data[2] = (uint8_t)(sum >> 8);
	icmp->data[3] = (uint8_t)sum;
	buf_put_u8(&b, 0x60);
	buf_put_u8(&b, 0);
	put_be16(&b, 0);
	put_be16(&b, (uint16_t)icmp->len);
	buf_put_u8(&b, 58);
	buf_put_u8(&b, 255);
	buf_put(&b, src, 16);
	buf_put(&b, dst, 16);
	buf_put(&b, icmp->data, icmp->len);
	err = pkt_send(o, dmac, &b);
	buf_free(&b);
	return err;
}

/* Neighbour solicitation for our address from :: (RFC 4862 5.4.2). */
static int
send_ns_probe(struct op *o)
{
	static const uint8_t unspec[16];
	uint8_t dst[16] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };
	struct buf m = {0};
	int err;

	memcpy(dst + 13, o->a->addr + 13, 3);
	buf_put_u8(&m, 135);
	buf_put_u8(&m, 0);
	put_be16(&m, 0);
	buf_put_u32(&m, 0);
	buf_put(&m, o->a->addr, 16);
	err = send_icmp6(o, unspec, dst, &m);
	buf_free(&m);
	return err;
}

/* Unsolicited neighbour advertisement, override set (RFC 4861 7.2.6). */
static int
send_na(struct op *o)
{
	struct buf m = {0};
	int err;

	buf_put_u8(&m, 136);
	buf_put_u8(&m, 0);
	put_be16(&m, 0);
	buf_put_u8(&m, 0x20);
	buf_put_u8(&m, 0);
	put_be16(&m, 0);
	buf_put(&m, o->a->addr, 16);
	buf_put_u8(&m, 2);		/* target link-layer address */
	buf_put_u8(&m, 1);
	buf_put(&m, o->mac, 6);
	err = send_icmp6(o, o->a->addr, all_nodes, &m);
	buf_free(&m);
	return err;
}

static int
arp_conflict(const struct addr_spec *a, const uint8_t mine[6], const uint8_t *p, size_t n,
    uint8_t mac[6])
{
	struct bufr r;
	const uint8_t *hdr, *sha, *spa, *tpa;
	static const uint8_t zero[4];
	uint16_t oper;

	bufr_init(&r, p, n);
	hdr = bufr_get(&r, 8);
	sha = bufr_get(&r, 6);
	spa = bufr_get(&r, 4);
	bufr_get(&r, 6);
	tpa = bufr_get(&r, 4);
	if (r.err || memcmp(hdr, "\x00\x01\x08\x00\x06\x04", 6) != 0)
		return -1;
	oper = (uint16_t)(hdr[6] << 8 | hdr[7]);
	if (oper != 1 && oper != 2)
		return -1;
	if (memcmp(sha, mine, 6) == 0)
		return 0;	/* ours */
	memcpy(mac, sha, 6);
	if (memcmp(spa, a->addr, 4) == 0)
		return 1;
	/* Someone else probing for it at the same time (RFC 5227 2.1.1). */
	return oper == 1 && memcmp(spa, zero, 4) == 0 && memcmp(tpa, a->addr, 4) == 0;
}

/* An advertisement for our address, or another host's DAD solicitation
 * for it; mac from its option, else as the caller set it (the frame's
 * source). */
static int
nd_conflict(const struct addr_spec *a, const uint8_t *p, size_t n, uint8_t mac[6])
{
	static const uint8_t unspec[16];
	struct bufr r;
	const uint8_t *ip, *icmp, *target, *opt;
	size_t plen;

	bufr_init(&r, p, n);
	if ((ip = bufr_get(&r, 40)) == NULL || (ip[0] >> 4) != 6)
		return -1;
	plen = (size_t)(ip[4] << 8 | ip[5]);
	if (ip[6] != 58 || plen > bufr_left(&r))
		return 0;	/* not ICMPv6 directly: not for us */
	/* The payload alone: link-layer padding is no part of it. */
	bufr_init(&r, p + 40, plen);
	if ((icmp = bufr_get(&r, 8)) == NULL || (icmp[0] != 135 && icmp[0] != 136) ||
	    icmp[1] != 0 || ip[7] != 255)
		return 0;
	if ((target = bufr_get(&r, 16)) == NULL || memcmp(target, a->addr, 16) != 0)
		return 0;
	if (icmp[0] == 135 && memcmp(ip + 8, unspec, 16) != 0)
		return 0;	/* ordinary resolution, not a probe */
	/* Options: type, length in 8-byte units, data. */
	while (bufr_left(&r) >= 8) {
		opt = bufr_get(&r, 2);
		if (opt[1] == 0 || bufr_get(&r, (size_t)opt[1] * 8 - 2) == NULL)
			break;
		if (opt[0] == 2 && opt[1] == 1 && icmp[0] == 136)
			memcpy(mac, opt + 2, 6);
	}
	return 1;
}

int
addr_frame_conflict(const struct addr_spec *a, const uint8_t mine[6], const uint8_t *p,
    size_t n, uint8_t who[6])
{
	if (a->family == AF_INET)
		return arp_conflict(a, mine, p, n, who);
	return nd_conflict(a, p, n, who);
}

static void
probe_ready(struct loop *l, int fd, short revents, void *arg)
{
	struct op *o = arg;
	uint8_t pkt[1600], mac[6];
	struct sockaddr_ll from;
	socklen_t fl;
	ssize_t n;
	char m[18];
	int c;

	for (;;) {
		fl = sizeof(from);
		n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		memset(mac, 0, sizeof(mac));
		if (from.sll_halen == 6)
			memcpy(mac, from.sll_addr, 6);
		c = addr_frame_conflict(o->a, o->mac, pkt, (size_t)n, mac);
		if (c == 1) {
			mac_text(m, mac);
			op_finish(o, BW_ERR_EXIST, "in use by %s; another host answers for it, "
			    "so it is not taken here", m);
			return;
		}
	}
}

/* How long a probe of a takes: its probes, their gaps, the last wait. */
static uint64_t
probe_ms(const struct addr_spec *a)
{
	unsigned n = a->probes ? a->probes : ADDR_PROBES;

	return (uint64_t)(n - 1) * (a->probe_gap_ms ? a->probe_gap_ms : ADDR_PROBE_GAP_MS) +
	    (a->probe_wait_ms ? a->probe_wait_ms : ADDR_PROBE_WAIT_MS);
}

static void
probe_tick(struct loop *l, void *arg)
{
	struct op *o = arg;
	unsigned n = o->a->probes ? o->a->probes : ADDR_PROBES;
	int err;

	o->tick = NULL;
	/* >=: a reload may lower the count during a probe */
	if (o->sent >= n) {
		op_finish(o, 0, "free (no answer to %u probe%s)", n, n == 1 ? "" : "s");
		return;
	}
	err = o->a->family == AF_INET ? send_arp(o, 1, NULL, (const uint8_t *)"\0\0\0\0\0\0") :
	    send_ns_probe(o);
	if (err) {
		op_finish(o, err, "probe could not be sent");
		return;
	}
	o->sent++;
	o->tick = loop_timer_add(l, o->sent >= n ?
	    (o->a->probe_wait_ms ? o->a->probe_wait_ms : ADDR_PROBE_WAIT_MS) :
	    (o->a->probe_gap_ms ? o->a->probe_gap_ms : ADDR_PROBE_GAP_MS), probe_tick, o);
	if (o->tick == NULL)
		op_finish(o, BW_ERR_NOMEM, "out of memory");
}

static void
announce_tick(struct loop *l, void *arg)
{
	struct op *o = arg;
	int err;

	o->tick = NULL;
	if (o->a->family == AF_INET) {
		err = send_arp(o, 1, o->a->addr, (const uint8_t *)"\0\0\0\0\0\0");
		if (err == 0)
			err = send_arp(o, 2, o->a->addr, o->mac);
	} else {
		err = send_na(o);
	}
	if (err) {
		op_finish(o, err, "announcement could not be sent");
		return;
	}
	if (++o->sent >= o->count) {
		op_finish(o, 0, "announced %u time%s", o->sent, o->sent == 1 ? "" : "s");
		return;
	}
	if ((o->tick = loop_timer_add(l, o->interval_ms, announce_tick, o)) == NULL)
		op_finish(o, BW_ERR_NOMEM, "out of memory");
}

/* Reports from the loop, for actions that end before they start. */
static void
op_now(struct loop *l, void *arg)
{
	struct op *o = arg;

	o->tick = NULL;
	if (o->kind == OP_PROBE)
		op_finish(o, 0, "free (%s has no link-layer neighbours)", o->a->ifname);
	else
		op_finish(o, 0, "not announced (%s has no link-layer neighbours)", o->a->ifname);
}

static int
pkt_op(struct loop *l, enum op_kind kind, const struct addr_spec *a, uint64_t timeout_ms,
    unsigned count, unsigned interval_ms, ops_done_fn *fn, void *arg)
{
	int err;
	struct op *o = op_new(l, kind, a, timeout_ms, fn, arg, &err);

	if (o == NULL)
		return err;
	o->count = count ? count : 1;
	o->interval_ms = interval_ms;
	if ((err = pkt_open(o)) != 0)
		goto fail;
	if (o->noarp) {
		/* Nothing to ask on this link, but a probe still lasts as long
		 * as one: placement starts it that much before the release
		 * grace ends, so the address goes on no earlier than that. */
		if ((o->tick = loop_timer_add(l, kind == OP_PROBE ? probe_ms(a) : 0,
		    op_now, o)) == NULL)
			goto nomem;
		return 0;
	}
	if (kind == OP_PROBE) {
		if ((err = loop_fd_add(l, o->fd, POLLIN, probe_ready, o)) != 0)
			goto fail;
		if ((o->deadline = loop_timer_add(l, o->timeout_ms, op_timeout, o)) == NULL ||
		    (o->tick = loop_timer_add(l, 0, probe_tick, o)) == NULL)
			goto nomem;
	} else if ((o->tick = loop_timer_add(l, 0, announce_tick, o)) == NULL) {
		goto nomem;
	}
	return 0;
nomem:
	err = BW_ERR_NOMEM;
	log_error("address %s: out of memory", a->text);
fail:
	/* op_free deletes the fd from the loop whether or not it was in. */
	op_free(o);
	return err;
}

static int
real_probe(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	return pkt_op(l, OP_PROBE, a, t, 0, 0, fn, arg);
}

static int
real_announce(struct loop *l, const struct addr_spec *a, unsigned count, unsigned interval_ms,
    ops_done_fn *fn, void *arg)
{
	return pkt_op(l, OP_ANNOUNCE, a, 0, count, interval_ms, fn, arg);
}

const struct addr_ops addr_real = {
	"real", real_probe, real_add, real_announce, real_del, real_present
};

/* ---- dry run and fake: results reported from the loop ---- */

struct later {
	int err;
	char reason[ADDR_REASON_MAX];
	ops_done_fn *fn;
	void *arg;
};

static void
later_fire(struct loop *l, void *arg)
{
	struct later *x = arg;
	ops_done_fn *fn = x->fn;
	char reason[ADDR_REASON_MAX];
	int err = x->err;

	memcpy(reason, x->reason, sizeof(reason));
	arg = x->arg;
	free(x);
	fn(l, err, err ? reason : NULL, arg);
}

static int
later(struct loop *l, const struct addr_spec *a, int err, const char *what, ops_done_fn *fn,
    void *arg)
{
	struct later *x;

	if ((x = calloc(1, sizeof(*x))) == NULL || loop_timer_add(l, 0, later_fire, x) == NULL) {
		free(x);
		log_error("address %s: out of memory", a->text);
		return BW_ERR_NOMEM;
	}
	x->err = err;
	snprintf(x->reason, sizeof(x->reason), "address %s: %s", a->text, what);
	x->fn = fn;
	x->arg = arg;
	return 0;
}

static int
null_probe(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	log_info("dry run: address %s: would probe the link; taken as free", a->text);
	return later(l, a, 0, "", fn, arg);
}

static int
null_add(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	log_info("dry run: address %s: would add it", a->text);
	return later(l, a, 0, "", fn, arg);
}

static int
null_announce(struct loop *l, const struct addr_spec *a, unsigned count, unsigned interval_ms,
    ops_done_fn *fn, void *arg)
{
	log_info("dry run: address %s: would announce it %u times, %u ms apart", a->text,
	    count, interval_ms);
	return later(l, a, 0, "", fn, arg);
}

static int
null_del(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	log_info("dry run: address %s: would remove it", a->text);
	return later(l, a, 0, "", fn, arg);
}

/* Looking needs no privilege and changes nothing: a dry run looks. */
const struct addr_ops addr_null = {
	"null", null_probe, null_add, null_announce, null_del, real_present
};

#define FAKE_MAX 16
static char fake_have[FAKE_MAX][64];
static int fake_probe_err, fake_fail;
static char fake_calls[4096];

void
addr_fake_reset(void)
{
	memset(fake_have, 0, sizeof(fake_have));
	fake_probe_err = fake_fail = 0;
	fake_calls[0] = 0;
}

void addr_fake_set_probe(int err) { fake_probe_err = err; }
void addr_fake_set_fail(int err) { fake_fail = err; }
const char *addr_fake_calls(void) { return fake_calls; }

static void
fake_record(const char *what, const struct addr_spec *a)
{
	size_t n = strlen(fake_calls);

	snprintf(fake_calls + n, sizeof(fake_calls) - n, "%s %s\n", what, a->text);
}

static int
fake_find(const struct addr_spec *a)
{
	int i;

	for (i = 0; i < FAKE_MAX; i++)
		if (strcmp(fake_have[i], a->text) == 0)
			return i;
	return -1;
}

static int
fake_probe(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	fake_record("probe", a);
	return later(l, a, fake_probe_err,
	    fake_probe_err == BW_ERR_EXIST ? "in use by 02:00:00:00:00:99" : "probe failed",
	    fn, arg);
}

static int
fake_add(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	int i;

	fake_record("add", a);
	if (fake_fail)
		return later(l, a, fake_fail, "add failed", fn, arg);
	for (i = 0; fake_find(a) < 0 && i < FAKE_MAX; i++) {
		if (fake_have[i][0] == 0) {
			snprintf(fake_have[i], sizeof(fake_have[i]), "%s", a->text);
			break;
		}
	}
	return later(l, a, 0, "", fn, arg);
}

static int
fake_announce(struct loop *l, const struct addr_spec *a, unsigned count, unsigned interval_ms,
    ops_done_fn *fn, void *arg)
{
	fake_record("announce", a);
	return later(l, a, fake_fail, "announce failed", fn, arg);
}

static int
fake_del(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	int i;

	fake_record("del", a);
	if (fake_fail)
		return later(l, a, fake_fail, "remove failed", fn, arg);
	if ((i = fake_find(a)) >= 0)
		fake_have[i][0] = 0;
	return later(l, a, 0, "", fn, arg);
}

static int
fake_present(struct loop *l, const struct addr_spec *a, uint64_t t, ops_done_fn *fn, void *arg)
{
	fake_record("present", a);
	return later(l, a, fake_find(a) >= 0 ? 0 : BW_ERR_NOENT, "not configured here", fn, arg);
}

const struct addr_ops addr_fake = {
	"fake", fake_probe, fake_add, fake_announce, fake_del, fake_present
};
