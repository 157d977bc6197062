/*
 * The scripted membership driver for unit tests (contract in cluster.h).
 * A bus holds the messages sent by its fakes in one global order, as CPG's
 * agreed order does; nothing here touches corosync, the clock or the loop.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "failover/cluster.h"
#include "failover/cluster_internal.h"
#include "lib/util/err.h"

#define FAKE_MAX 16
#define FAKE_MEMBERS_MAX 32

struct fake;

struct busmsg {
	struct busmsg *next;
	uint32_t from;
	size_t n;
	uint8_t p[];
};

struct cluster_fakebus {
	struct fake *fakes[FAKE_MAX];
	size_t nfakes;
	struct busmsg *head, **tail;
};

struct fake {
	struct cluster base;
	struct cluster_fakebus *bus;
	uint32_t nodeid;
	uint32_t view[FAKE_MEMBERS_MAX];
	size_t nview;
	unsigned try_again;
	int left;
};

static struct fake *fake_of(struct cluster *c) { return (struct fake *)c; }

struct cluster_fakebus *
cluster_fakebus_new(void)
{
	struct cluster_fakebus *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->tail = &b->head;
	return b;
}

void
cluster_fakebus_free(struct cluster_fakebus *b)
{
	struct busmsg *m;

	if (b == NULL)
		return;
	while ((m = b->head) != NULL) {
		b->head = m->next;
		free(m);
	}
	free(b);
}

static int
fake_in_view(const struct fake *f, uint32_t nodeid)
{
	size_t i;

	for (i = 0; i < f->nview; i++)
		if (f->view[i] == nodeid)
			return 1;
	return 0;
}

size_t
cluster_fakebus_deliver(struct cluster_fakebus *b)
{
	struct busmsg *m;
	size_t i, n = 0;

	/* Handlers may send more; those go to the tail and are delivered too. */
	while ((m = b->head) != NULL) {
		b->head = m->next;
		if (b->head == NULL)
			b->tail = &b->head;
		for (i = 0; i < b->nfakes; i++) {
			struct fake *f = b->fakes[i];

			if (f && f->base.info.connected && !f->left && fake_in_view(f, m->from))
				f->base.cb->message(f->base.arg, m->from, m->p, m->n);
		}
		free(m);
		n++;
	}
	return n;
}

static int
fake_start(struct cluster *c)
{
	(void)c;
	return 0;
}

static int
fake_mcast(struct cluster *c, const void *p, size_t n)
{
	struct fake *f = fake_of(c);
	struct busmsg *m;

	if (f->try_again) {
		f->try_again--;
		return 1;
	}
	if ((m = malloc(sizeof(*m) + n)) == NULL)
		return 1;
	m->next = NULL;
	m->from = f->nodeid;
	m->n = n;
	memcpy(m->p, p, n);
	*f->bus->tail = m;
	f->bus->tail = &m->next;
	return 0;
}

static void fake_want_flush(struct cluster *c) { (void)c; }

static void
fake_leave(struct cluster *c)
{
	struct fake *f = fake_of(c);

	cluster_queue_flush(c);
	f->left = 1;
	c->info.connected = 0;
}

static void
fake_free(struct cluster *c)
{
	struct fake *f = fake_of(c);
	size_t i;

	for (i = 0; i < f->bus->nfakes; i++)
		if (f->bus->fakes[i] == f)
			f->bus->fakes[i] = NULL;
	free(f);
}

static const struct cluster_ops fake_ops = {
	.start = fake_start,
	.mcast = fake_mcast,
	.want_flush = fake_want_flush,
	.leave = fake_leave,
	.free = fake_free,
};

struct cluster *
cluster_fake_new(struct cluster_fakebus *b, uint32_t nodeid, const struct cluster_cb *cb,
    void *arg)
{
	struct fake *f;

	if (b->nfakes >= FAKE_MAX || (f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	cluster_base_init(&f->base, &fake_ops, cb, arg);
	f->bus = b;
	f->nodeid = nodeid;
	b->fakes[b->nfakes++] = f;
	return &f->base;
}

int
cluster_fake_set_name(struct cluster *c, uint32_t nodeid, const char *name)
{
	struct cluster_names *nn;

	if ((nn = realloc(c->names, (c->nnames + 1) * sizeof(*nn))) == NULL)
		return BW_ERR_NOMEM;
	c->names = nn;
	nn[c->nnames].nodeid = nodeid;
	strncpy(nn[c->nnames].name, name, sizeof(nn[c->nnames].name) - 1);
	nn[c->nnames].name[sizeof(nn[c->nnames].name) - 1] = 0;
	c->nnames++;
	return 0;
}

void cluster_fake_set_token(struct cluster *c, unsigned token_ms) { c->info.token_ms = token_ms; }

void
cluster_fake_connect(struct cluster *c)
{
	struct fake *f = fake_of(c);

	f->left = 0;
	f->nview = 0;
	c->info.connected = 1;
	c->info.local_nodeid = f->nodeid;
	c->cb->connected(c->arg, f->nodeid);
}

void
cluster_fake_disconnect(struct cluster *c)
{
	struct fake *f = fake_of(c);

	if (!c->info.connected)
		return;
	c->info.connected = 0;
	f->nview = 0;
	cluster_queue_clear(c);
	c->cb->disconnected(c->arg);
}

void
cluster_fake_view(struct cluster *c, const uint32_t *members, size_t n, uint64_t ring_seq)
{
	struct fake *f = fake_of(c);
	struct cluster_ring r = { members && n ? members[0] : f->nodeid, ring_seq };

	if (n > FAKE_MEMBERS_MAX)
		n = FAKE_MEMBERS_MAX;
	memcpy(f->view, members, n * sizeof(*members));
	f->nview = n;
	c->cb->view(c->arg, members, n, r);
}

void
cluster_fake_quorum(struct cluster *c, int quorate, uint64_t ring_seq)
{
	struct fake *f = fake_of(c);
	struct cluster_ring r = { f->nview ? f->view[0] : f->nodeid, ring_seq };

	c->cb->quorum(c->arg, quorate, r);
}

void cluster_fake_try_again(struct cluster *c, unsigned k) { fake_of(c)->try_again = k; }

void
cluster_fake_flush(struct cluster *c)
{
	cluster_queue_flush(c);
}
