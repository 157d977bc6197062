#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

/* Every error message logged since the last load(), one per line. */
static char logged[16384];

static void
capture(enum log_level lvl, const char *msg, void *arg)
{
	size_t n = strlen(logged);

	(void)arg;
	if (lvl == LOG_LVL_ERROR)
		snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static void
setup(void)
{
	logged[0] = '\0';
	log_set_sink(capture, NULL);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
}

static int
load(const char *text, struct config **c)
{
	logged[0] = '\0';
	return config_load_mem("bulwark.conf", text, strlen(text), c);
}

/* Loads text, expects it refused with exactly the messages in want. */
#define REFUSED(text, want) do { \
	struct config *c_ = (struct config *)1; \
	ck_assert_int_eq(load(text, &c_), BW_ERR_INVAL); \
	ck_assert_ptr_null(c_); \
	ck_assert_str_eq(logged, want); \
} while (0)

static const char full[] =
	"; Bulwark configuration\n"
	"# comments of both kinds\n"
	"[repository]\n"
	"path = /srv/bulwark\n"
	"passphrase_file = /etc/bulwark/passphrase\n"
	"cache_dir = /var/cache/bw\n"
	"compression = 19\n"
	"pack_size = 256\n"
	"\n"
	"[backup www]\n"
	"paths = /srv/www, /var/lib/www /etc/nginx\n"
	"paths = \"/srv/My Files\"\n"
	"exclude = *.tmp\n"
	"exclude = /srv/www/cache/*   ; inline comment\n"
	"tags = www,nightly\n"
	"one_file_system = yes\n"
	"exclude_caches = no\n"
	"schedule = weekly Mon 2:30\n"
	"keep_last = 3\n"
	"keep_hourly = 24\n"
	"keep_daily = 7\n"
	"keep_weekly = 4\n"
	"keep_monthly = 12\n"
	"keep_yearly = 0\n"
	"\n"
	"  [backup db]   # indented section, trailing comment\n"
	"\tpaths=/var/lib/postgresql\n"
	"schedule = every 90m\n"
	"[audit]\n"
	"dir = /var/log/bulwark-audit\n";

START_TEST(test_full)
{
	const struct config_backup *b;
	struct config *c = NULL;

	ck_assert_int_eq(load(full, &c), 0);
	ck_assert_str_eq(logged, "");
	ck_assert_str_eq(c->file, "bulwark.conf");
	ck_assert_int_eq(c->has_repo, 1);
	ck_assert_str_eq(c->repo.path, "/srv/bulwark");
	ck_assert_str_eq(c->repo.passphrase_file, "/etc/bulwark/passphrase");
	ck_assert_str_eq(c->repo.cache_dir, "/var/cache/bw");
	ck_assert_int_eq(c->repo.compression_level, 19);
	ck_assert_uint_eq(c->repo.pack_size_mib, 256);
	ck_assert_uint_eq(c->nbackups, 2);

	b = config_backup_find(c, "www");
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(b->name, "www");
	ck_assert_uint_eq(b->npaths, 4);
	ck_assert_str_eq(b->paths[0], "/srv/www");
	ck_assert_str_eq(b->paths[1], "/var/lib/www");
	ck_assert_str_eq(b->paths[2], "/etc/nginx");
	ck_assert_str_eq(b->paths[3], "/srv/My Files");
	ck_assert_uint_eq(b->nexcludes, 2);
	ck_assert_str_eq(b->excludes[0], "*.tmp");
	ck_assert_str_eq(b->excludes[1], "/srv/www/cache/*");
	ck_assert_uint_eq(b->ntags, 2);
	ck_assert_str_eq(b->tags[0], "www");
	ck_assert_str_eq(b->tags[1], "nightly");
	ck_assert_int_eq(b->one_file_system, 1);
	ck_assert_int_eq(b->exclude_caches, 0);
	ck_assert_str_eq(b->schedule, "weekly mon 02:30");
	ck_assert_int_eq(b->sched.kind, CONFIG_SCHED_WEEKLY);
	ck_assert_int_eq(b->sched.weekday, 1);
	ck_assert_int_eq(b->sched.minute, 150);
	ck_assert_uint_eq(b->keep_last, 3);
	ck_assert_uint_eq(b->keep_hourly, 24);
	ck_assert_uint_eq(b->keep_daily, 7);
	ck_assert_uint_eq(b->keep_weekly, 4);
	ck_assert_uint_eq(b->keep_monthly, 12);
	ck_assert_uint_eq(b->keep_yearly, 0);

	b = config_backup_find(c, "db");
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->npaths, 1);
	ck_assert_str_eq(b->paths[0], "/var/lib/postgresql");
	ck_assert_uint_eq(b->nexcludes, 0);
	ck_assert_uint_eq(b->ntags, 0);
	ck_assert_int_eq(b->one_file_system, 0);
	ck_assert_int_eq(b->exclude_caches, 1);
	ck_assert_str_eq(b->schedule, "every 90m");
	ck_assert_int_eq(b->sched.kind, CONFIG_SCHED_EVERY);
	ck_assert_uint_eq(b->sched.interval_min, 90);
	ck_assert_uint_eq(b->keep_daily, 0);

	ck_assert_ptr_null(config_backup_find(c, "mail"));
	ck_assert_str_eq(c->audit.dir, "/var/log/bulwark-audit");
	config_free(c);
}
END_TEST

START_TEST(test_defaults)
{
	struct config *c = NULL;

	ck_assert_int_eq(load("", &c), 0);
	ck_assert_int_eq(c->has_repo, 0);
	ck_assert_uint_eq(c->nbackups, 0);
	ck_assert_str_eq(c->audit.dir, LOCALSTATEDIR "/lib/bulwark/audit");
	config_free(c);

	ck_assert_int_eq(load("[repository]\npath=/r\n[backup a]\npaths=/a\n", &c), 0);
	ck_assert_int_eq(c->has_repo, 1);
	ck_assert_ptr_null(c->repo.passphrase_file);
	ck_assert_str_eq(c->repo.cache_dir, LOCALSTATEDIR "/cache/bulwark");
	ck_assert_int_eq(c->repo.compression_level, 0);	/* the repository's own */
	ck_assert_uint_eq(c->repo.pack_size_mib, 16);
	ck_assert_ptr_null(c->backups[0].schedule);
	ck_assert_int_eq(c->backups[0].sched.kind, CONFIG_SCHED_NONE);
	ck_assert_int_eq(c->backups[0].exclude_caches, 1);
	config_free(c);

	/* Windows line ends, a byte-order mark, no newline at the end. */
	ck_assert_int_eq(load("\xef\xbb\xbf[repository]\r\npath = /r\r\n"
	    "compression = 5", &c), 0);
	ck_assert_str_eq(c->repo.path, "/r");
	ck_assert_int_eq(c->repo.compression_level, 5);
	config_free(c);
	config_free(NULL);
}
END_TEST

/* The errors from the task's examples and every class of mistake. */
START_TEST(test_errors)
{
	REFUSED("[backup www]\npaths = /srv/www\nkeep_daily = seven\n",
	    "bulwark.conf:3: [backup www] keep_daily: \"seven\" is not a "
	    "number; expected a whole number such as 7\n");
	REFUSED("[backup www]\npaths = /srv/www\nkeep_daily = -1\n"
	    "keep_last = 4294967296\nkeep_weekly = 99999999999999999999999\n",
	    "bulwark.conf:3: [backup www] keep_daily: \"-1\" is out of range; "
	    "expected a whole number from 0 to 4294967295\n"
	    "bulwark.conf:4: [backup www] keep_last: \"4294967296\" is out of "
	    "range; expected a whole number from 0 to 4294967295\n"
	    "bulwark.conf:5: [backup www] keep_weekly: "
	    "\"99999999999999999999999\" is out of range; expected a whole "
	    "number from 0 to 4294967295\n");
	REFUSED("[repository]\npath = /r\ncompression = 20\npack_size = 0\n",
	    "bulwark.conf:3: [repository] compression: \"20\" is out of range; "
	    "expected a whole number from 1 to 19\n"
	    "bulwark.conf:4: [repository] pack_size: \"0\" is out of range; "
	    "expected a whole number from 1 to 256\n");
	REFUSED("[repository]\npath = /r\ncompression = fast\npack_size = 16M\n",
	    "bulwark.conf:3: [repository] compression: \"fast\" is not a "
	    "number; expected a whole number from 1 to 19\n"
	    "bulwark.conf:4: [repository] pack_size: \"16M\" is not a number; "
	    "expected a whole number from 1 to 256\n");
	REFUSED("[repository]\npath = srv/bulwark\npassphrase_file = pass\n"
	    "cache_dir = ~/cache\n[audit]\ndir = audit\n",
	    "bulwark.conf:2: [repository] path: \"srv/bulwark\" is not an "
	    "absolute path; expected a path that starts with /, such as "
	    "/srv/bulwark\n"
	    "bulwark.conf:3: [repository] passphrase_file: \"pass\" is not an "
	    "absolute path; expected a path that starts with /, such as "
	    "/etc/bulwark/passphrase\n"
	    "bulwark.conf:4: [repository] cache_dir: \"~/cache\" is not an "
	    "absolute path; expected a path that starts with /, such as "
	    "/var/cache/bulwark\n"
	    "bulwark.conf:6: [audit] dir: \"audit\" is not an absolute path; "
	    "expected a path that starts with /, such as "
	    "/var/lib/bulwark/audit\n");
	REFUSED("[repository]\ncompression = 3\n\n[backup www]\nexclude = *.o\n",
	    "bulwark.conf:1: [repository]: path is missing; expected a line "
	    "such as \"path = /srv/bulwark\"\n"
	    "bulwark.conf:4: [backup www]: paths is missing; expected a line "
	    "such as \"paths = /srv/www, /var/lib/www\"\n");
	REFUSED("[repository]\n",
	    "bulwark.conf:1: [repository]: path is missing; expected a line "
	    "such as \"path = /srv/bulwark\"\n");
	REFUSED("[repository]\npath = /a\npath = /b\n[backup x]\npaths = /x\n"
	    "schedule = hourly\nschedule = daily 01:00\n",
	    "bulwark.conf:3: [repository] path: set again (first at line 2); "
	    "expected it once in a section\n"
	    "bulwark.conf:7: [backup x] schedule: set again (first at line 6); "
	    "expected it once in a section\n");
	REFUSED("[repository]\npath = /a\ncolour = blue\n"
	    "[backup x]\npaths = /x\nkeep = 3\n[audit]\nfile = /a\n",
	    "bulwark.conf:3: [repository] colour: unknown key; expected path, "
	    "passphrase_file, cache_dir, compression or pack_size\n"
	    "bulwark.conf:6: [backup x] keep: unknown key; expected paths, "
	    "exclude, tags, one_file_system, exclude_caches, schedule, "
	    "keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly or "
	    "keep_yearly\n"
	    "bulwark.conf:8: [audit] file: unknown key; expected dir\n");
	REFUSED("[repository]\npath = /a\n[backup x]\npaths = /x\n"
	    "[repository]\npath = /b\n[backup x]\npaths = /y\n",
	    "bulwark.conf:5: [repository]: the section appears again (first at "
	    "line 1); expected it once, with all its settings\n"
	    "bulwark.conf:7: [backup x]: the section appears again (first at "
	    "line 3); expected it once, with all its settings\n");
	REFUSED("[backup x]\npaths = /x\none_file_system = maybe\n"
	    "exclude_caches = 2\n",
	    "bulwark.conf:3: [backup x] one_file_system: \"maybe\" is not yes or "
	    "no; expected yes or no\n"
	    "bulwark.conf:4: [backup x] exclude_caches: \"2\" is not yes or no; "
	    "expected yes or no\n");
	REFUSED("[backup x]\npaths = /x, srv/y\npaths = /x\npaths = ,\n"
	    "paths = \"/a b\n",
	    "bulwark.conf:2: [backup x] paths: \"srv/y\" is not an absolute "
	    "path; expected paths that start with /, such as /srv/www, "
	    "/var/lib/www\n"
	    "bulwark.conf:3: [backup x] paths: \"/x\" is listed twice; expected "
	    "each path once\n"
	    "bulwark.conf:4: [backup x] paths: no path given; expected at least "
	    "one absolute path, such as /srv/www, /var/lib/www\n"
	    "bulwark.conf:5: [backup x] paths: a quote is not closed; expected "
	    "paths such as /srv/www, /var/lib/www, or a path with spaces in "
	    "double quotes\n");
	REFUSED("[backup x]\npaths = /x\ntags = ok, no/slash\nexclude =\n"
	    "keep_last =   ; nothing\n",
	    "bulwark.conf:3: [backup x] tags: \"no/slash\" is not a valid name; "
	    "expected letters, digits, '.', '_' or '-' (at most 64, not "
	    "starting with '.' or '-'), such as www, nightly\n"
	    "bulwark.conf:4: [backup x] exclude: no value given; expected a "
	    "value such as *.tmp\n"
	    "bulwark.conf:5: [backup x] keep_last: no value given; expected a "
	    "value such as 7\n");
	REFUSED("[backup x]\npaths = /x\nschedule = dayly 02:30\n",
	    "bulwark.conf:3: [backup x] schedule: \"dayly 02:30\" is not a "
	    "schedule; expected hourly, daily HH:MM, weekly DAY HH:MM or every "
	    "N followed by m or h, such as daily 02:30\n");
}
END_TEST

START_TEST(test_section_errors)
{
	REFUSED("[drill]\n[alert]\n",
	    "bulwark.conf:1: [drill]: this section is not supported by this "
	    "version yet\n"
	    "bulwark.conf:2: [alert]: this section is not supported by this "
	    "version yet\n");
	/* Settings of a refused section are not read as the previous one's. */
	REFUSED("[repository]\npath = /r\n[Backup www]\npaths = www\n"
	    "[]\nx = 1\n[backup]\npaths = /a\n[repository main]\n[backup a b]\n"
	    "[backup .x]\n[backup www\npath = /b\n[audit] junk\ndir = /x\n",
	    "bulwark.conf:3: [Backup www]: unknown section; expected "
	    "[repository], [backup NAME], [audit], [cluster], [node NAME] or "
	    "[site NAME]\n"
	    "bulwark.conf:5: []: no section name; expected [repository], "
	    "[backup NAME], [audit], [cluster], [node NAME] or [site NAME]\n"
	    "bulwark.conf:7: [backup]: the section has no name; expected "
	    "[backup NAME], such as [backup www]\n"
	    "bulwark.conf:9: [repository main]: this section takes no name; "
	    "expected [repository]\n"
	    "bulwark.conf:10: [backup a b]: \"a b\" is not a valid name; "
	    "expected letters, digits, '.', '_' or '-' (at most 64, not "
	    "starting with '.' or '-')\n"
	    "bulwark.conf:11: [backup .x]: \".x\" is not a valid name; expected "
	    "letters, digits, '.', '_' or '-' (at most 64, not starting with "
	    "'.' or '-')\n"
	    "bulwark.conf:12: \"[backup www\" has no closing ]; expected a "
	    "section line such as [repository]\n"
	    "bulwark.conf:14: \"junk\" follows the section name; expected "
	    "nothing after ] but a comment\n");
	REFUSED("path = /srv\n[repository]\npath = /r\n",
	    "bulwark.conf:1: path: the setting is outside any section; expected "
	    "a section line such as [repository] above it\n");
}
END_TEST

START_TEST(test_line_errors)
{
	char text[1024];

	REFUSED("[repository]\npath /srv\nschedule: daily 02:30\n= /x\n"
	    "path = /r\n  continued\n",
	    "bulwark.conf:2: [repository]: \"path /srv\" is not a setting; "
	    "expected key = value\n"
	    "bulwark.conf:3: [repository]: \"schedule: daily 02:30\" is not a "
	    "setting; expected key = value\n"
	    "bulwark.conf:4: [repository]: \"= /x\" has no key before =; "
	    "expected key = value\n"
	    "bulwark.conf:6: [repository]: \"continued\" is not a setting; "
	    "expected key = value\n");

	/* An overlong line is refused, not cut, and its tail is not a line. */
	snprintf(text, sizeof(text), "[backup x]\npaths = /%0300d\n"
	    "# a long comment is fine: %0300d\nexclude = *.o\n", 0, 0);
	REFUSED(text,
	    "bulwark.conf:2: [backup x]: the line is 309 characters long; "
	    "expected at most 198 (a list key such as paths may be repeated "
	    "instead)\n"
	    "bulwark.conf:1: [backup x]: paths is missing; expected a line such "
	    "as \"paths = /srv/www, /var/lib/www\"\n");

	/* The longest line accepted is read whole. */
	snprintf(text, sizeof(text), "[backup x]\npaths = /%0189d\n", 0);
	{
		struct config *c = NULL;

		ck_assert_uint_eq(strlen(strchr(text, '\n') + 1), 198 + 1);
		ck_assert_int_eq(load(text, &c), 0);
		ck_assert_uint_eq(strlen(c->backups[0].paths[0]), 190);
		config_free(c);
	}
	snprintf(text, sizeof(text), "[backup x]\npaths = /%0190d\n", 0);
	REFUSED(text,
	    "bulwark.conf:2: [backup x]: the line is 199 characters long; "
	    "expected at most 198 (a list key such as paths may be repeated "
	    "instead)\n"
	    "bulwark.conf:1: [backup x]: paths is missing; expected a line such "
	    "as \"paths = /srv/www, /var/lib/www\"\n");

	/* Control characters, a NUL among them. */
	{
		static const char nul[] = "[repository]\npath = /r\0x\n[b\x1b]\n"
		    "paths = /x\n";
		struct config *c = NULL;

		logged[0] = '\0';
		ck_assert_int_eq(config_load_mem("bulwark.conf", nul,
		    sizeof(nul) - 1, &c), BW_ERR_INVAL);
		ck_assert_ptr_null(c);
		ck_assert_str_eq(logged,
		    "bulwark.conf:2: [repository]: the line holds a control "
		    "character (byte 0x00); expected plain text\n"
		    "bulwark.conf:1: [repository]: path is missing; expected a "
		    "line such as \"path = /srv/bulwark\"\n"
		    "bulwark.conf:3: the line holds a control character (byte "
		    "0x1b); expected plain text\n");
	}
}
END_TEST

START_TEST(test_schedule)
{
	static const struct {
		const char *in, *canon;
		enum config_sched_kind kind;
		int weekday, minute;
		unsigned every;
	} ok[] = {
		{ "hourly", "hourly", CONFIG_SCHED_HOURLY, 0, 0, 0 },
		{ "  HOURLY ", "hourly", CONFIG_SCHED_HOURLY, 0, 0, 0 },
		{ "daily 02:30", "daily 02:30", CONFIG_SCHED_DAILY, 0, 150, 0 },
		{ "daily 0:00", "daily 00:00", CONFIG_SCHED_DAILY, 0, 0, 0 },
		{ "daily\t23:59", "daily 23:59", CONFIG_SCHED_DAILY, 0, 1439, 0 },
		{ "weekly sun 04:00", "weekly sun 04:00", CONFIG_SCHED_WEEKLY, 0, 240, 0 },
		{ "weekly Saturday 4:05", "weekly sat 04:05", CONFIG_SCHED_WEEKLY, 6, 245, 0 },
		{ "every 15m", "every 15m", CONFIG_SCHED_EVERY, 0, 0, 15 },
		{ "every 120m", "every 2h", CONFIG_SCHED_EVERY, 0, 0, 120 },
		{ "every 6h", "every 6h", CONFIG_SCHED_EVERY, 0, 0, 360 },
		{ "every 24h", "every 24h", CONFIG_SCHED_EVERY, 0, 0, 1440 },
	};
	static const char *const bad[] = {
		"", "   ", "daily", "daily 24:00", "daily 02:60", "daily 2:3",
		"daily 002:30", "daily 02-30", "daily 02:30 extra", "weekly 02:30",
		"weekly mo 02:30", "weekly mond 02:30", "weekly funday 02:30",
		"every", "every 0m", "every 25h", "every 1441m", "every 15",
		"every m", "every 15s", "every -5m", "every 1 h", "hourly 5",
		"monthly", "daily 0x:30",
	};
	struct config_schedule s;
	char canon[CONFIG_SCHED_CANON_MAX];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(config_schedule_parse(ok[i].in, &s, canon) == 0,
		    "%s", ok[i].in);
		ck_assert_str_eq(canon, ok[i].canon);
		ck_assert_int_eq(s.kind, ok[i].kind);
		ck_assert_int_eq(s.weekday, ok[i].weekday);
		ck_assert_int_eq(s.minute, ok[i].minute);
		ck_assert_uint_eq(s.interval_min, ok[i].every);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_schedule_parse(bad[i], &s, NULL) ==
		    BW_ERR_INVAL, "accepted \"%s\"", bad[i]);
}
END_TEST

/* All problems of a file come out of one load, in file order. */
START_TEST(test_all_in_one_pass)
{
	REFUSED("[repository]\ncompression = 0\n[backup a]\nkeep_daily = x\n"
	    "[drill]\n[backup b]\npaths = /b\nbogus = 1\n",
	    "bulwark.conf:2: [repository] compression: \"0\" is out of range; "
	    "expected a whole number from 1 to 19\n"
	    "bulwark.conf:1: [repository]: path is missing; expected a line "
	    "such as \"path = /srv/bulwark\"\n"
	    "bulwark.conf:4: [backup a] keep_daily: \"x\" is not a number; "
	    "expected a whole number such as 7\n"
	    "bulwark.conf:3: [backup a]: paths is missing; expected a line such "
	    "as \"paths = /srv/www, /var/lib/www\"\n"
	    "bulwark.conf:5: [drill]: this section is not supported by this "
	    "version yet\n"
	    "bulwark.conf:8: [backup b] bogus: unknown key; expected paths, "
	    "exclude, tags, one_file_system, exclude_caches, schedule, "
	    "keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly or "
	    "keep_yearly\n");
}
END_TEST

static const char cluster_conf[] =
	"[cluster]\n"
	"name = prod\n"
	"token = 500ms\n"
	"authkey = /etc/corosync/authkey.prod\n"
	"qdevice = qnetd.example.org\n"
	"socket = /run/bw/f.sock\n"
	"state_dir = /var/lib/bw/failover\n"
	"release_grace = 250ms\n"
	"dad_probes = 3\n"
	"dad_interval = 150ms\n"
	"dad_wait = 1s\n"
	"[node alpha]\n"
	"nodeid = 1\n"
	"address = 10.0.0.1, fd00:0:0::1\n"
	"[node beta]\n"
	"nodeid = 2\n"
	"address = 10.0.0.2\n"
	"address = fd00::2\n"
	"[node gamma]\n"
	"nodeid = 3\n"
	"address = 10.0.0.3\n"
	"witness = yes\n"
	"[backup www]\n"
	"paths = /srv/www\n"
	"[site web]\n"
	"unit = nginx.service\n"
	"address = 192.0.2.10/24\n"
	"interface = eth0\n"
	"announce_count = 5\n"
	"announce_interval = 1s\n"
	"after_take = /usr/local/sbin/dns-here web\n"
	"after_release = /usr/local/sbin/dns-away web\n"
	"check = http http://127.0.0.1:8080/health status 204 body \"all ok\"\n"
	"check = tcp [::1]:443\n"
	"check = command /usr/bin/test -e /run/ok\n"
	"check_interval = 2s\n"
	"check_timeout = 1500ms\n"
	"rise = 1\n"
	"fall = 4\n"
	"priority = alpha:100 beta:50\n"
	"max_data_age = 15m\n"
	"backup_set = www\n"
	"mode = confirm\n"
	"confirm_timeout = 2m\n"
	"confirm_default = take\n"
	"action_timeout = 30s\n"
	"damp = 2m\n"
	"[site mail]\n"
	"start = systemctl start postfix\n"
	"stop = systemctl stop postfix\n"
	"status = systemctl is-active postfix\n"
	"address = 2001:DB8::25/64\n"
	"interface = bond0.12\n"
	"mode = manual\n";

START_TEST(test_cluster)
{
	const struct config_site *s;
	const struct config_node *n;
	struct config *c = NULL;
	const char *why;

	ck_assert_int_eq(load(cluster_conf, &c), 0);
	ck_assert_str_eq(logged, "");
	ck_assert_int_eq(c->has_cluster, 1);
	ck_assert_str_eq(c->cluster.name, "prod");
	ck_assert_uint_eq(c->cluster.token_ms, 500);
	ck_assert_str_eq(c->cluster.authkey, "/etc/corosync/authkey.prod");
	ck_assert_str_eq(c->cluster.qdevice, "qnetd.example.org");
	ck_assert_int_eq(c->cluster.force_two_node, 0);
	ck_assert_str_eq(c->cluster.socket, "/run/bw/f.sock");
	ck_assert_str_eq(c->cluster.state_dir, "/var/lib/bw/failover");
	ck_assert_uint_eq(c->cluster.release_grace_ms, 250);
	ck_assert_uint_eq(c->cluster.dad_probes, 3);
	ck_assert_uint_eq(c->cluster.dad_interval_ms, 150);
	ck_assert_uint_eq(c->cluster.dad_wait_ms, 1000);

	ck_assert_uint_eq(c->nnodes, 3);
	n = config_node_find(c, "alpha");
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->nodeid, 1);
	ck_assert_uint_eq(n->naddrs, 2);
	ck_assert_str_eq(n->addrs[0], "10.0.0.1");
	ck_assert_str_eq(n->addrs[1], "fd00::1");	/* canonical */
	ck_assert_int_eq(n->witness, 0);
	n = config_node_by_id(c, 2);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->name, "beta");
	ck_assert_uint_eq(n->naddrs, 2);
	ck_assert_str_eq(n->addrs[1], "fd00::2");
	ck_assert_int_eq(config_node_find(c, "gamma")->witness, 1);
	ck_assert_ptr_null(config_node_find(c, "delta"));
	ck_assert_ptr_null(config_node_by_id(c, 4));

	ck_assert_uint_eq(c->nsites, 2);
	s = config_site_find(c, "web");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->unit, "nginx.service");
	ck_assert_ptr_null(s->start);
	ck_assert_str_eq(s->address, "192.0.2.10/24");
	ck_assert_str_eq(s->interface, "eth0");
	ck_assert_uint_eq(s->announce_count, 5);
	ck_assert_uint_eq(s->announce_interval_ms, 1000);
	ck_assert_str_eq(s->after_take, "/usr/local/sbin/dns-here web");
	ck_assert_str_eq(s->after_release, "/usr/local/sbin/dns-away web");
	ck_assert_uint_eq(s->nchecks, 3);
	ck_assert_int_eq(s->checks[0].kind, CONFIG_CHECK_HTTP);
	ck_assert_str_eq(s->checks[0].url, "http://127.0.0.1:8080/health");
	ck_assert_uint_eq(s->checks[0].expect_status, 204);
	ck_assert_str_eq(s->checks[0].expect_body, "all ok");
	ck_assert_int_eq(s->checks[1].kind, CONFIG_CHECK_TCP);
	ck_assert_str_eq(s->checks[1].host, "::1");
	ck_assert_uint_eq(s->checks[1].port, 443);
	ck_assert_int_eq(s->checks[2].kind, CONFIG_CHECK_COMMAND);
	ck_assert_str_eq(s->checks[2].command, "/usr/bin/test -e /run/ok");
	ck_assert_uint_eq(s->check_interval_ms, 2000);
	ck_assert_uint_eq(s->check_timeout_ms, 1500);
	ck_assert_uint_eq(s->rise, 1);
	ck_assert_uint_eq(s->fall, 4);
	ck_assert_uint_eq(s->nprios, 2);
	ck_assert_str_eq(s->prios[0].node, "alpha");
	ck_assert_int_eq(s->prios[0].priority, 100);
	ck_assert_str_eq(s->prios[1].node, "beta");
	ck_assert_int_eq(s->prios[1].priority, 50);
	ck_assert_uint_eq(s->max_data_age_s, 900);
	ck_assert_str_eq(s->backup_set, "www");
	ck_assert_int_eq(s->mode, CONFIG_SITE_CONFIRM);
	ck_assert_uint_eq(s->confirm_timeout_s, 120);
	ck_assert_int_eq(s->confirm_default_take, 1);
	ck_assert_uint_eq(s->action_timeout_ms, 30000);
	ck_assert_uint_eq(s->damp_s, 120);

	s = config_site_find(c, "mail");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->start, "systemctl start postfix");
	ck_assert_str_eq(s->stop, "systemctl stop postfix");
	ck_assert_str_eq(s->status, "systemctl is-active postfix");
	ck_assert_ptr_null(s->unit);
	ck_assert_str_eq(s->address, "2001:db8::25/64");
	ck_assert_str_eq(s->interface, "bond0.12");
	ck_assert_int_eq(s->mode, CONFIG_SITE_MANUAL);
	/* Defaults. */
	ck_assert_uint_eq(s->announce_count, 3);
	ck_assert_uint_eq(s->announce_interval_ms, 200);
	ck_assert_uint_eq(s->nchecks, 0);
	ck_assert_uint_eq(s->check_interval_ms, 1000);
	ck_assert_uint_eq(s->check_timeout_ms, 2000);
	ck_assert_uint_eq(s->rise, 2);
	ck_assert_uint_eq(s->fall, 3);
	ck_assert_uint_eq(s->nprios, 0);
	ck_assert_uint_eq(s->max_data_age_s, 0);
	ck_assert_ptr_null(s->backup_set);
	ck_assert_uint_eq(s->confirm_timeout_s, 300);
	ck_assert_int_eq(s->confirm_default_take, 0);
	ck_assert_uint_eq(s->action_timeout_ms, 10000);
	ck_assert_uint_eq(s->damp_s, 60);
	ck_assert_ptr_null(config_site_find(c, "shop"));

	/* Three voting nodes and a qdevice: no tie to break. */
	ck_assert_int_eq(config_cluster_tiebreak(c, &why), 0);
	ck_assert_ptr_null(why);
	config_free(c);

	/* Defaults of [cluster], also without the section. */
	ck_assert_int_eq(load("[node a]\nnodeid = 7\naddress = 127.0.0.1\n", &c), 0);
	ck_assert_int_eq(c->has_cluster, 0);
	ck_assert_str_eq(c->cluster.name, "bulwark");
	ck_assert_uint_eq(c->cluster.token_ms, 500);
	ck_assert_uint_eq(c->cluster.release_grace_ms, 100);
	ck_assert_uint_eq(c->cluster.dad_probes, 2);
	ck_assert_uint_eq(c->cluster.dad_interval_ms, 50);
	ck_assert_uint_eq(c->cluster.dad_wait_ms, 50);
	ck_assert_str_eq(c->cluster.authkey, "/etc/corosync/authkey");
	ck_assert_ptr_null(c->cluster.qdevice);
	ck_assert_str_eq(c->cluster.socket, "/run/bulwark/failoverd.sock");
	ck_assert_str_eq(c->cluster.state_dir, LOCALSTATEDIR "/lib/bulwark/failover");
	ck_assert_uint_eq(c->nodes[0].nodeid, 7);
	config_free(c);

	/* Durations: a bare number is in the key's unit. */
	ck_assert_int_eq(load("[cluster]\ntoken = 60000\n", &c), 0);
	ck_assert_uint_eq(c->cluster.token_ms, 60000);
	config_free(c);
	ck_assert_int_eq(load("[cluster]\ntoken = 1m\n", &c), 0);
	ck_assert_uint_eq(c->cluster.token_ms, 60000);
	config_free(c);

	/* The takeover timings have bounds: no grace at all, or a probe
	 * that never listens, is refused. */
	ck_assert_int_ne(load("[cluster]\nrelease_grace = 0\n", &c), 0);
	ck_assert_ptr_nonnull(strstr(logged, "release_grace: \"0\" is out of range"));
	ck_assert_int_ne(load("[cluster]\ndad_probes = 0\n", &c), 0);
	ck_assert_ptr_nonnull(strstr(logged, "dad_probes"));
	ck_assert_int_ne(load("[cluster]\ndad_wait = 5ms\n", &c), 0);
	ck_assert_ptr_nonnull(strstr(logged, "dad_wait"));
}
END_TEST

#define TWO_NODES "[node a]\nnodeid = 1\naddress = 10.0.0.1\n" \
	"[node b]\nnodeid = 2\naddress = 10.0.0.2\n"

START_TEST(test_tiebreak)
{
	struct config *c = NULL;
	const char *why = "x";

	ck_assert_int_eq(load(TWO_NODES, &c), 0);
	ck_assert_int_eq(config_cluster_tiebreak(c, &why), 1);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "split brain"));
	ck_assert_ptr_nonnull(strstr(why, "qdevice = HOST"));
	ck_assert_ptr_nonnull(strstr(why, "witness = yes"));
	ck_assert_ptr_nonnull(strstr(why, "force_two_node = yes"));
	config_free(c);

	ck_assert_int_eq(load("[cluster]\nforce_two_node = yes\n" TWO_NODES, &c), 0);
	ck_assert_int_eq(config_cluster_tiebreak(c, &why), 0);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "split brain"));
	config_free(c);

	ck_assert_int_eq(load("[cluster]\nqdevice = 192.0.2.99\n" TWO_NODES, &c), 0);
	ck_assert_int_eq(config_cluster_tiebreak(c, &why), 0);
	ck_assert_ptr_null(why);
	config_free(c);

	/* A witness is the third vote. */
	ck_assert_int_eq(load(TWO_NODES "[node w]\nnodeid = 3\naddress = "
	    "10.0.0.3\nwitness = yes\n", &c), 0);
	ck_assert_int_eq(config_cluster_tiebreak(c, &why), 0);
	ck_assert_ptr_null(why);
	config_free(c);

	/* One node has nobody to disagree with. */
	ck_assert_int_eq(load("[node a]\nnodeid = 1\naddress = 10.0.0.1\n", &c), 0);
	ck_assert_int_eq(config_cluster_tiebreak(c, &why), 0);
	config_free(c);
}
END_TEST

START_TEST(test_cluster_errors)
{
	REFUSED("[cluster]\nname = a b\ntoken = 100\ntoken = 2x\n"
	    "qdevice = -bad\nforce_two_node = perhaps\nsocket = run/x\n"
	    "[cluster]\n",
	    "bulwark.conf:2: [cluster] name: \"a b\" is not a valid name; "
	    "expected letters, digits, '.', '_' or '-' (at most 64, not "
	    "starting with '.' or '-'), such as bulwark\n"
	    "bulwark.conf:3: [cluster] token: \"100\" is out of range; "
	    "expected a duration from 200ms to 1m\n"
	    "bulwark.conf:4: [cluster] token: set again (first at line 3); "
	    "expected it once in a section\n"
	    "bulwark.conf:5: [cluster] qdevice: \"-bad\" is not a host name or "
	    "address; expected letters, digits, '.', '-' or ':', such as "
	    "qnetd.example.org\n"
	    "bulwark.conf:6: [cluster] force_two_node: \"perhaps\" is not yes "
	    "or no; expected yes or no\n"
	    "bulwark.conf:7: [cluster] socket: \"run/x\" is not an absolute "
	    "path; expected a path that starts with /, such as "
	    "/run/bulwark/failoverd.sock\n"
	    "bulwark.conf:8: [cluster]: the section appears again (first at "
	    "line 1); expected it once, with all its settings\n");
	REFUSED("[cluster]\ntoken = 2x\n[cluster x]\n",
	    "bulwark.conf:2: [cluster] token: \"2x\" is not a duration; "
	    "expected a number followed by ms, s, m or h from 200ms to 1m, "
	    "such as 1s\n"
	    "bulwark.conf:3: [cluster x]: this section takes no name; expected "
	    "[cluster]\n");
	REFUSED("[node a]\nnodeid = 0\naddress = 10.0.0.1, host.example, "
	    "10.0.0.1\n[node b]\nnodeid = 2\naddress = 10.0.0.1\n[node c]\n"
	    "nodeid = 2\naddress = ::1, 0:0::1\n[node d]\nwitness = yes\n"
	    "[node]\n",
	    "bulwark.conf:2: [node a] nodeid: \"0\" is out of range; expected a "
	    "whole number from 1 to 65535\n"
	    "bulwark.conf:3: [node a] address: \"host.example\" is not an IPv4 "
	    "or IPv6 address; expected a literal address such as 192.0.2.11 "
	    "(not a host name: corosync must not depend on DNS)\n"
	    "bulwark.conf:3: [node a] address: \"10.0.0.1\" is listed twice; "
	    "expected each address once\n"
	    "bulwark.conf:6: [node b] address: \"10.0.0.1\" is already an "
	    "address of [node a]; expected each address on one node only\n"
	    "bulwark.conf:8: [node c] nodeid: 2 is already the id of [node b]; "
	    "expected an id of its own from 1 to 65535\n"
	    "bulwark.conf:9: [node c] address: \"0:0::1\" is listed twice; "
	    "expected each address once\n"
	    "bulwark.conf:10: [node d]: nodeid is missing; expected a line "
	    "such as \"nodeid = 1\"\n"
	    "bulwark.conf:10: [node d]: address is missing; expected a line "
	    "such as \"address = 192.0.2.11\"\n"
	    "bulwark.conf:12: [node]: the section has no name; expected [node "
	    "NAME], such as [node www]\n");
	REFUSED("[node a]\nnodeid = 1\naddress = 10.0.0.1 10.0.0.2 10.0.0.3 "
	    "10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8\naddress = 10.0.0.9\n",
	    "bulwark.conf:4: [node a] address: \"10.0.0.9\" is one address too "
	    "many; expected at most 8 (one per corosync link)\n");
}
END_TEST

#define NODE_A "[node a]\nnodeid = 1\naddress = 10.0.0.1\n"

START_TEST(test_site_errors)
{
	REFUSED(NODE_A "[site web]\nunit = nginx.service\naddress = 192.0.2.10\n"
	    "address = 192.0.2.10/33\ninterface = eth0/1\n",
	    "bulwark.conf:6: [site web] address: \"192.0.2.10\" is not an "
	    "address with a prefix length; expected an IPv4 or IPv6 address "
	    "and /N, such as 192.0.2.10/24\n"
	    "bulwark.conf:7: [site web] address: set again (first at line 6); "
	    "expected it once in a section\n"
	    "bulwark.conf:8: [site web] interface: \"eth0/1\" is not an "
	    "interface name; expected at most 15 characters without blanks, "
	    "'/' or ':', such as eth0\n");
	REFUSED(NODE_A "[site web]\nunit = nginx.service\nunit = -x\n"
	    "address = ::1/129\nannounce_count = 101\nannounce_interval = 5ms\n",
	    "bulwark.conf:6: [site web] unit: set again (first at line 5); "
	    "expected it once in a section\n"
	    "bulwark.conf:7: [site web] address: \"::1/129\" is not an address "
	    "with a prefix length; expected an IPv4 or IPv6 address and /N, "
	    "such as 192.0.2.10/24\n"
	    "bulwark.conf:8: [site web] announce_count: \"101\" is out of "
	    "range; expected a whole number from 0 to 100\n"
	    "bulwark.conf:9: [site web] announce_interval: \"5ms\" is out of "
	    "range; expected a duration from 10ms to 10s\n"
	    "bulwark.conf:4: [site web]: address is set without interface; "
	    "expected both, such as \"interface = eth0\"\n");
	REFUSED(NODE_A "[site a]\ninterface = eth0\nunit = a.service\n"
	    "start = x\n[site b]\nstart = x\n[site c]\nstop = x\n[site d]\n"
	    "mode = auto\nconfirm_default = go\n[site e]\nunit = -x\n",
	    "bulwark.conf:4: [site a]: interface is set without address; "
	    "expected both, such as \"address = 192.0.2.10/24\"\n"
	    "bulwark.conf:4: [site a]: unit and start, stop or status are all "
	    "set; expected either a unit or commands\n"
	    "bulwark.conf:8: [site b]: start is set without stop; expected "
	    "both, such as \"stop = systemctl stop nginx\"\n"
	    "bulwark.conf:10: [site c]: stop is set without start; expected "
	    "both, such as \"start = systemctl start nginx\"\n"
	    "bulwark.conf:13: [site d] mode: \"auto\" is not a choice; expected "
	    "automatic, confirm or manual\n"
	    "bulwark.conf:14: [site d] confirm_default: \"go\" is not a choice; "
	    "expected stay or take\n"
	    "bulwark.conf:12: [site d]: nothing to serve; expected a unit, "
	    "start and stop commands, or an address and interface, such as "
	    "\"unit = nginx.service\"\n"
	    "bulwark.conf:16: [site e] unit: \"-x\" is not a unit name; "
	    "expected letters, digits and '.', '_', '-', '@', ':' or '\\', "
	    "such as nginx.service\n");
	REFUSED(NODE_A "[site a]\nunit = a.service\naddress = 192.0.2.1/24\n"
	    "interface = eth0\n[site b]\nunit = b.service\n"
	    "address = 192.0.2.1/25\ninterface = eth0\n",
	    "bulwark.conf:10: [site b] address: 192.0.2.1 is already the "
	    "address of [site a]; expected an address of its own\n");
	REFUSED(NODE_A "[site web]\nunit = w.service\n"
	    "check = http ftp://x\n"
	    "check = http http://www.example.org/\n"
	    "check = http http://127.0.0.1/ status 99\n"
	    "check = http http://[::1]:80/ body\n"
	    "check = http http://127.0.0.1/ colour red\n"
	    "check = http http://127.0.0.1/ body \"open\n"
	    "check = tcp localhost:80\n"
	    "check = tcp 127.0.0.1:0\n"
	    "check = tcp ::1:80\n"
	    "check = ping 192.0.2.1\n"
	    "check = command\n",
	    "bulwark.conf:6: [site web] check: \"http ftp://x\" has no http URL "
	    "with an address; expected http://ADDRESS[:PORT]/PATH, such as "
	    "http://127.0.0.1:8080/health\n"
	    "bulwark.conf:7: [site web] check: \"http http://www.example.org/\" "
	    "has no http URL with an address; expected "
	    "http://ADDRESS[:PORT]/PATH, such as http://127.0.0.1:8080/health\n"
	    "bulwark.conf:8: [site web] check: \"http http://127.0.0.1/ status "
	    "99\": the status is not an HTTP status; expected status and a "
	    "number from 100 to 599, such as status 200\n"
	    "bulwark.conf:9: [site web] check: \"http http://[::1]:80/ body\": "
	    "body has no text; expected body TEXT, or body \"TEXT WITH "
	    "SPACES\"\n"
	    "bulwark.conf:10: [site web] check: \"http http://127.0.0.1/ colour "
	    "red\": \"colour\" is not understood after the URL; expected status "
	    "N or body TEXT\n"
	    "bulwark.conf:11: [site web] check: \"http http://127.0.0.1/ body "
	    "\"open\": a quote is not closed; expected body \"TEXT WITH "
	    "SPACES\"\n"
	    "bulwark.conf:12: [site web] check: \"tcp localhost:80\" is not tcp "
	    "and an address and port; expected tcp ADDRESS:PORT or tcp "
	    "[IPV6]:PORT, such as tcp 127.0.0.1:5432\n"
	    "bulwark.conf:13: [site web] check: \"tcp 127.0.0.1:0\" is not tcp "
	    "and an address and port; expected tcp ADDRESS:PORT or tcp "
	    "[IPV6]:PORT, such as tcp 127.0.0.1:5432\n"
	    "bulwark.conf:14: [site web] check: \"tcp ::1:80\" is not tcp and "
	    "an address and port; expected tcp ADDRESS:PORT or tcp "
	    "[IPV6]:PORT, such as tcp 127.0.0.1:5432\n"
	    "bulwark.conf:15: [site web] check: \"ping 192.0.2.1\" is not a "
	    "check; expected http URL [status N] [body TEXT], tcp ADDRESS:PORT "
	    "or command CMD, such as http http://127.0.0.1/ status 200\n"
	    "bulwark.conf:16: [site web] check: \"command\" has no command "
	    "line; expected command CMD, such as command "
	    "/usr/local/bin/check-db\n");
	REFUSED(NODE_A "[site web]\nunit = w.service\n"
	    "check_interval = 50ms\ncheck_timeout = 11m\nrise = 0\nfall = 101\n"
	    "max_data_age = 1d\nconfirm_timeout = 0\naction_timeout = 500ms\n"
	    "damp = 1500ms\n",
	    "bulwark.conf:6: [site web] check_interval: \"50ms\" is out of "
	    "range; expected a duration from 100ms to 1h\n"
	    "bulwark.conf:7: [site web] check_timeout: \"11m\" is out of range; "
	    "expected a duration from 100ms to 10m\n"
	    "bulwark.conf:8: [site web] rise: \"0\" is out of range; expected a "
	    "whole number from 1 to 100\n"
	    "bulwark.conf:9: [site web] fall: \"101\" is out of range; expected "
	    "a whole number from 1 to 100\n"
	    "bulwark.conf:10: [site web] max_data_age: \"1d\" is not a "
	    "duration; expected a number followed by ms, s, m or h from 0 to "
	    "720h, such as 15m\n"
	    "bulwark.conf:11: [site web] confirm_timeout: \"0\" is out of "
	    "range; expected a duration from 1s to 24h\n"
	    "bulwark.conf:12: [site web] action_timeout: \"500ms\" is out of "
	    "range; expected a duration from 1s to 1h\n"
	    "bulwark.conf:13: [site web] damp: \"1500ms\" is not a whole number "
	    "of seconds; expected a duration from 0 to 24h\n");
}
END_TEST

/* What only the whole file can tell: the names a site uses exist, and a
 * take's address probe fits in its action_timeout. */
START_TEST(test_cross_errors)
{
	REFUSED("[cluster]\ndad_probes = 10\ndad_interval = 1s\n" NODE_A
	    "[site web]\nunit = w.service\naddress = 192.0.2.10/24\n"
	    "interface = eth0\naction_timeout = 5s\n",
	    "bulwark.conf:7: [site web]: action_timeout (5000 ms) is not longer "
	    "than the address probe ([cluster] dad_probes, dad_interval, "
	    "dad_wait: 9050 ms), so every take would fail; expected a longer "
	    "action_timeout or a shorter probe\n");
	REFUSED("[site web]\nunit = w.service\npriority = a:1\n",
	    "bulwark.conf:3: [site web] priority: a is not a node of this file; "
	    "expected nodes that have a [node NAME] section\n"
	    "bulwark.conf:1: [site web]: no [node NAME] section is defined; "
	    "expected one for each cluster node, with its nodeid and address\n");
	REFUSED(NODE_A "[node w]\nnodeid = 9\naddress = 10.0.0.9\nwitness = 1\n"
	    "[site web]\nunit = w.service\n"
	    "priority = a:100 zeta:5 b:x a:3 w:1 c:1001\nbackup_set = nope\n"
	    "[backup www]\npaths = /srv\n",
	    "bulwark.conf:10: [site web] priority: \"b:x\" is not NODE:N; "
	    "expected node names each with a priority from 0 to 1000, such as "
	    "alpha:100 beta:50\n"
	    "bulwark.conf:10: [site web] priority: node a is listed twice; "
	    "expected each node once\n"
	    "bulwark.conf:10: [site web] priority: \"c:1001\" is not NODE:N; "
	    "expected node names each with a priority from 0 to 1000, such as "
	    "alpha:100 beta:50\n"
	    "bulwark.conf:10: [site web] priority: zeta is not a node of this "
	    "file; expected nodes that have a [node NAME] section\n"
	    "bulwark.conf:10: [site web] priority: w is a witness, which never "
	    "serves a site; expected nodes without witness = yes\n"
	    "bulwark.conf:11: [site web] backup_set: nope is not a backup set "
	    "of this file; expected the NAME of a [backup NAME] section\n");
}
END_TEST

/* Reads a whole file into a string (the caller frees). */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

static char *
srcfile(const char *rel)
{
	const char *top = getenv("top_srcdir");
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", top ? top : ".", rel);
	return path;
}

/* The keys an operator can write, as the sample and the man page must show. */
static const char *const all_keys[] = {
	"path", "passphrase_file", "cache_dir", "compression", "pack_size",
	"paths", "exclude", "tags", "one_file_system", "exclude_caches",
	"schedule", "keep_last", "keep_hourly", "keep_daily", "keep_weekly",
	"keep_monthly", "keep_yearly", "dir",
	"name", "token", "authkey", "qdevice", "force_two_node", "socket",
	"state_dir", "release_grace", "dad_probes", "dad_interval", "dad_wait",
	"nodeid", "address", "witness", "start", "stop", "status",
	"unit", "interface", "announce_count", "announce_interval",
	"after_take", "after_release", "check", "check_interval",
	"check_timeout", "rise", "fall", "priority", "max_data_age",
	"backup_set", "mode", "confirm_timeout", "confirm_default",
	"action_timeout", "damp",
};

START_TEST(test_sample)
{
	char *text, *on, *d;
	const char *s;
	struct config *c = NULL;
	size_t i;

	/* As shipped. */
	ck_assert_int_eq(config_load(srcfile("config/bulwark.conf.sample"), &c), 0);
	ck_assert_str_eq(logged, "");
	ck_assert_int_eq(c->has_repo, 1);
	ck_assert_uint_ge(c->nbackups, 1);
	config_free(c);

	/* With every commented-out setting and section ("#key = ...",
	 * "#[section]") switched on: the documented examples are valid. */
	text = slurp(srcfile("config/bulwark.conf.sample"));
	on = malloc(strlen(text) + 1);
	ck_assert_ptr_nonnull(on);
	for (s = text, d = on; *s; ) {
		if ((s == text || s[-1] == '\n') && s[0] == '#' &&
		    (s[1] == '[' || (s[1] >= 'a' && s[1] <= 'z')))
			s++;
		*d++ = *s++;
	}
	*d = '\0';
	ck_assert_int_eq(load(on, &c), 0);
	ck_assert_str_eq(logged, "");
	ck_assert_ptr_nonnull(c->repo.passphrase_file);
	ck_assert_uint_ge(c->nbackups, 2);
	for (i = 0; i < c->nbackups; i++) {
		ck_assert_ptr_nonnull(c->backups[i].schedule);
		ck_assert_uint_ge(c->backups[i].nexcludes, 1);
	}
	config_free(c);

	for (i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++) {
		char off[64], set[64];

		snprintf(off, sizeof(off), "\n#%s = ", all_keys[i]);
		snprintf(set, sizeof(set), "\n%s = ", all_keys[i]);
		ck_assert_msg(strstr(text, off) || strstr(text, set),
		    "the sample does not show %s", all_keys[i]);
	}
	free(on);
	free(text);

	/* The man page documents every key and section. */
	text = slurp(srcfile("config/bulwark.conf.5"));
	for (i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++) {
		char pat[64];

		snprintf(pat, sizeof(pat), ".B %s\n", all_keys[i]);
		ck_assert_msg(strstr(text, pat) != NULL,
		    "bulwark.conf(5) does not document %s", all_keys[i]);
	}
	ck_assert_ptr_nonnull(strstr(text, "[repository]"));
	ck_assert_ptr_nonnull(strstr(text, "[backup"));
	ck_assert_ptr_nonnull(strstr(text, "[audit]"));

	/* Its EXAMPLE is a valid file. */
	s = strstr(text, ".SH EXAMPLE\n.nf\n.ft CW\n");
	ck_assert_ptr_nonnull(s);
	s += strlen(".SH EXAMPLE\n.nf\n.ft CW\n");
	d = strstr(s, ".ft\n");
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(config_load_mem("bulwark.conf(5)", s, (size_t)(d - s),
	    &c), 0);
	ck_assert_str_eq(logged, "");
	ck_assert_uint_eq(c->nbackups, 2);
	config_free(c);
	free(text);
}
END_TEST

START_TEST(test_load_file)
{
	char dir[] = "/tmp/bw-config-XXXXXX", path[64];
	struct config *c = (struct config *)1;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bulwark.conf", dir);

	logged[0] = '\0';
	ck_assert_int_eq(config_load(path, &c), BW_ERR_NOENT);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(logged, path));
	ck_assert_ptr_nonnull(strstr(logged, "No such file or directory"));

	logged[0] = '\0';
	ck_assert_int_eq(config_load(dir, &c), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(logged, "not a regular file"));

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[repository]\npath = /srv/bulwark\ncompression = 99\n", f);
	fclose(f);
	logged[0] = '\0';
	ck_assert_int_eq(config_load(path, &c), BW_ERR_INVAL);
	ck_assert_ptr_null(c);
	{
		char want[256];

		snprintf(want, sizeof(want), "%s:3: [repository] compression: "
		    "\"99\" is out of range; expected a whole number from 1 to "
		    "19\n", path);
		ck_assert_str_eq(logged, want);
	}

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[repository]\npath = /srv/bulwark\n", f);
	fclose(f);
	ck_assert_int_eq(config_load(path, &c), 0);
	ck_assert_str_eq(c->file, path);
	ck_assert_str_eq(c->repo.path, "/srv/bulwark");
	config_free(c);

	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_section_errors);
	tcase_add_test(tc, test_line_errors);
	tcase_add_test(tc, test_schedule);
	tcase_add_test(tc, test_all_in_one_pass);
	tcase_add_test(tc, test_sample);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_cluster);
	tcase_add_test(tc, test_tiebreak);
	tcase_add_test(tc, test_cluster_errors);
	tcase_add_test(tc, test_site_errors);
	tcase_add_test(tc, test_cross_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
