/*
 * bulwark.conf: INI sections parsed with libinih, then validated.
 * Every key is documented in config/bulwark.conf.sample and bulwark.conf(5).
 * A config is built whole and immutable; reload builds a new one and swaps.
 *
 * Errors name "FILE:LINE: [section] key: what is wrong; what is expected"
 * and are reported through log_error; config_load returns BW_ERR_INVAL if
 * there was any (all are reported, not just the first).
 */
#ifndef BW_CONFIG_CONFIG_H
#define BW_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH SYSCONFDIR "/bulwark/bulwark.conf"

struct config_repository {
	char *path;			/* required */
	char *passphrase_file;		/* optional; mode must be 0600 or stricter */
	char *cache_dir;		/* default /var/cache/bulwark */
	int compression_level;		/* zstd level, 1..19; 0 (unset): the repository's */
	uint32_t pack_size_mib;		/* target pack size, default 16 */
};

/* A parsed "schedule" value. */
enum config_sched_kind {
	CONFIG_SCHED_NONE = 0,		/* no schedule: backups run on demand */
	CONFIG_SCHED_HOURLY,		/* "hourly" */
	CONFIG_SCHED_DAILY,		/* "daily HH:MM" */
	CONFIG_SCHED_WEEKLY,		/* "weekly DAY HH:MM" */
	CONFIG_SCHED_EVERY		/* "every Nm" or "every Nh" */
};

struct config_schedule {
	enum config_sched_kind kind;
	int weekday;			/* WEEKLY: 0 = Sunday .. 6 = Saturday (as tm_wday) */
	int minute;			/* DAILY, WEEKLY: minutes after midnight, 0..1439 */
	unsigned interval_min;		/* EVERY: minutes, 1..1440 */
};

struct config_backup {		/* [backup NAME] */
	char *name;
	char **paths;			/* absolute, at least one */
	size_t npaths;
	char **excludes;
	size_t nexcludes;
	char **tags;
	size_t ntags;
	int one_file_system;		/* default 0 */
	int exclude_caches;		/* default 1 */
	char *schedule;			/* "hourly", "daily 02:30", "every 15m"; NULL = none */
	struct config_schedule sched;	/* schedule, parsed; the string above is its
					 * canonical spelling ("weekly mon 02:30") */
	/* retention: 0 = not set */
	unsigned keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;
};

struct config_audit {
	char *dir;			/* default LOCALSTATEDIR/lib/bulwark/audit */
};

/* [cluster]: what Bulwark needs of corosync, and failoverd's own settings. */
struct config_cluster {
	char *name;			/* corosync cluster_name, default "bulwark" */
	unsigned token_ms;		/* totem token, default 500 (coefficient 0) */
	char *authkey;			/* default /etc/corosync/authkey */
	char *qdevice;			/* corosync-qnetd host used as tie-breaker, or NULL */
	int force_two_node;		/* run two nodes without a tie-breaker: default 0 */
	char *socket;			/* control socket, default /run/bulwark/failoverd.sock */
	char *state_dir;		/* default LOCALSTATEDIR/lib/bulwark/failover */
	/* Taking a site over (docs/FAILOVER.md, "Release grace" and
	 * "Duplicate address detection"). */
	unsigned release_grace_ms;	/* 10..5000, default 100 */
	unsigned dad_probes;		/* ARP/ND probes, 1..10, default 2 */
	unsigned dad_interval_ms;	/* between probes, 10..1000, default 50 */
	unsigned dad_wait_ms;		/* listening after the last, 10..2000, default 50 */
};

#define CONFIG_NODE_MAX_ADDRS 8	/* corosync links */
#define CONFIG_PRIO_MAX 1000	/* "priority = NODE:N": N from 0 to this */

struct config_node {		/* [node NAME] */
	char *name;			/* as corosync knows it (nodelist name) */
	uint32_t nodeid;		/* required, 1..65535, unique */
	char **addrs;			/* corosync link addresses (ring0_addr, ...), 1..8,
					 * literal, canonical, unique among all nodes */
	size_t naddrs;
	int witness;			/* votes but never serves a site: default 0 */
};

enum config_check_kind { CONFIG_CHECK_HTTP = 1, CONFIG_CHECK_TCP, CONFIG_CHECK_COMMAND };

struct config_check {		/* one "check = ..." line of a site */
	enum config_check_kind kind;
	char *url;			/* HTTP: http://HOST[:PORT]/PATH (HOST an address), as written */
	unsigned expect_status;		/* HTTP: default 200 */
	char *expect_body;		/* HTTP: substring the body must hold, or NULL */
	char *host;			/* TCP: address, canonical, without brackets */
	uint16_t port;			/* TCP */
	char *command;			/* COMMAND: run by /bin/sh -c; exit 0 is healthy */
};

enum config_site_mode { CONFIG_SITE_AUTOMATIC = 0, CONFIG_SITE_CONFIRM, CONFIG_SITE_MANUAL };

struct config_site_prio { char *node; int priority; };

struct config_site {		/* [site NAME] */
	char *name;
	char *start, *stop, *status;	/* shell commands; or: */
	char *unit;			/* a systemd unit (start/stop/is-active) */
	char *address;			/* "192.0.2.10/24" or "2001:db8::10/64" (canonical), or NULL */
	char *interface;		/* required with address */
	unsigned announce_count;	/* gratuitous ARP / unsolicited NA: default 3 */
	unsigned announce_interval_ms;	/* default 200 */
	char *after_take, *after_release;	/* hooks, or NULL */
	struct config_check *checks;
	size_t nchecks;
	unsigned check_interval_ms;	/* default 1000 */
	unsigned check_timeout_ms;	/* default 2000 */
	unsigned rise, fall;		/* default 2, 3 */
	struct config_site_prio *prios;	/* "priority = NODE:N ..."; unlisted nodes 0 */
	size_t nprios;
	unsigned max_data_age_s;	/* 0: not checked */
	char *backup_set;		/* whose replication age counts, or NULL */
	enum config_site_mode mode;	/* default automatic */
	unsigned confirm_timeout_s;	/* default 300 */
	int confirm_default_take;	/* what happens when nobody answers: default 0 (stay) */
	unsigned action_timeout_ms;	/* start/stop/address/hook bound: default 10000 */
	unsigned damp_s;		/* no health-driven move within this after a move: default 60 */
};

struct config {
	char *file;			/* the path it was read from */
	struct config_repository repo;
	int has_repo;
	struct config_backup *backups;
	size_t nbackups;
	struct config_audit audit;
	struct config_cluster cluster;
	int has_cluster;
	struct config_node *nodes;
	size_t nnodes;
	struct config_site *sites;
	size_t nsites;
};

/* Parses and validates path.  0 and *out, BW_ERR_NOENT (logged) if the file
 * is missing, BW_ERR_INVAL after logging every problem. */
int config_load(const char *path, struct config **out);
/* Same, from memory (name is used in messages). */
int config_load_mem(const char *name, const char *text, size_t len, struct config **out);
void config_free(struct config *c);
/* The [backup NAME] section, or NULL. */
const struct config_backup *config_backup_find(const struct config *c, const char *name);

/* Parses a "schedule" value (grammar in bulwark.conf(5)): 0 and *out, or
 * BW_ERR_INVAL without logging.  If canon is not NULL it receives the
 * canonical spelling (at most CONFIG_SCHED_CANON_MAX bytes with the NUL). */
#define CONFIG_SCHED_CANON_MAX 24
int config_schedule_parse(const char *s, struct config_schedule *out, char *canon);

/* The [node NAME] section by name or by corosync node id, or NULL. */
const struct config_node *config_node_find(const struct config *c, const char *name);
const struct config_node *config_node_by_id(const struct config *c, uint32_t nodeid);
/* The [site NAME] section, or NULL. */
const struct config_site *config_site_find(const struct config *c, const char *name);

/*
 * Whether the cluster lacks a tie-breaker: exactly two voting nodes (every
 * [node] votes, witnesses too), no qdevice.  Returns 1 when failoverd must
 * refuse to start, with *why explaining the split-brain risk and the ways
 * out; 0 otherwise, with *why a warning to log when two nodes were forced
 * (force_two_node), else NULL.  *why is static text.
 */
int config_cluster_tiebreak(const struct config *c, const char **why);

#endif
