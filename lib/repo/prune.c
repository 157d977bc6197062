#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

/*
 * Prune, in an order that survives a crash at any point:
 *   1. copy the live objects of mostly-dead packs into new packs, and make
 *      those packs and their index files durable (repo_packw_finish);
 *   2. remove the index files of the old packs (an object then appears in
 *      exactly one index again), sync the index directory;
 *   3. remove the old packs and packs without index, sync their directories;
 *   4. remove leftover temporary files and bump the generation.
 * A crash after 1 leaves duplicates (harmless: the index keeps one copy);
 * after 2, orphan packs (counted by check, removed by the next prune).
 */

enum { KEEP = 0, DROP, REWRITE };

struct ppack {
	uint64_t live_bytes, total_bytes, size;
	uint64_t live_objs, total_objs;
	int action;
};

static void
remove_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *p;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, ".tmp-", 5) != 0)
			continue;
		if ((p = repo_join(dir, e->d_name)) != NULL) {
			fsio_unlink(p);
			free(p);
		}
	}
	closedir(d);
}

int
repo_prune(struct repo *r, const struct idset *live, struct repo_prune_stats *st)
{
	struct repo_prune_stats dummy;
	struct ppack *pp = NULL;
	size_t npacks, nent, i, j, nidx = 0;
	uint8_t (*ids)[OBJ_ID_LEN] = NULL;
	uint8_t e_pk[BWC_BOX_PK], *nkey = NULL, okey[BWC_KEY], *blob = NULL;
	struct repo_packw *pw = NULL;
	struct buf sealed = { 0 };
	char *path = NULL, *dir = NULL, rel[64], gen[32];
	int rc, took = 0, fd = -1;
	uint64_t v;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if ((rc = repo_need(r, REPO_CAP_ADMIN, "prune")) != 0)
		return rc;
	if (!repo_lock_held(r, 1)) {
		if ((rc = repo_lock(r, 1)) != 0)
			return rc;
		took = 1;
	}
	pthread_mutex_lock(&r->mu);
	repo_index_drop(r);
	pthread_mutex_unlock(&r->mu);
	if ((rc = repo_load_index(r)) != 0)
		goto out;
	npacks = r->npacks;
	nent = r->nent;
	if ((pp = calloc(npacks + 1, sizeof(*pp))) == NULL ||
	    (ids = malloc((nent + 1) * OBJ_ID_LEN)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	/* Recover the id of each entry from the idset (entries hold no id).
	 * Entries that are not the canonical copy of their id stay unnamed
	 * and count as dead. */
	{
		size_t pos = 0;
		const uint8_t *id;
		uint8_t *named = calloc(nent + 1, 1);

		if (!named) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		while (idset_next(r->idx, &pos, &id, &v)) {
			memcpy(ids[v], id, OBJ_ID_LEN);
			named[v] = 1;
		}
		for (i = 0; i < nent; i++) {
			struct repo_entry *e = &r->ent[i];
			struct ppack *p = &pp[e->pack];

			p->total_bytes += e->length;
			p->total_objs++;
			if (named[i] && idset_get(live, ids[i], NULL)) {
				p->live_bytes += e->length;
				p->live_objs++;
			} else {
				named[i] = 0;
			}
		}
		for (i = 0; i < nent; i++)
			if (!named[i])
				memset(ids[i], 0, OBJ_ID_LEN);
		/* ids[i] all-zero now marks "not live" */
		free(named);
	}
	for (i = 0; i < npacks; i++) {
		struct stat sb;

		free(path);
		if ((path = repo_pack_path(r, r->packs[i])) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		pp[i].size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
		if (pp[i].live_objs == 0)
			pp[i].action = DROP;
		else if (pp[i].live_bytes * 2 < pp[i].total_bytes)
			pp[i].action = REWRITE;
	}

	/* 1. copy live objects of mostly-dead packs */
	if ((nkey = bwcrypto_secalloc(BWC_KEY)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = bwcrypto_session_new(e_pk, nkey, r->k->read_pk)) != 0)
		goto out;
	for (i = 0; i < nent; i++) {
		static const uint8_t zero[OBJ_ID_LEN];
		struct repo_entry e = r->ent[i];

		if (pp[e.pack].action != REWRITE || memcmp(ids[i], zero, OBJ_ID_LEN) == 0)
			continue;
		if ((rc = repo_pack_key(r, e.pack, okey)) != 0)
			goto out;
		free(path);
		if ((path = repo_pack_path(r, r->packs[e.pack])) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			log_error("repository %s: prune: %s: %s", r->path, path, strerror(errno));
			rc = BW_ERR_IO;
			goto out;
		}
		free(blob);
		if ((blob = malloc(e.length)) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		rc = repo_pread(fd, path, blob, e.length, e.offset);
		close(fd);
		fd = -1;
		buf_reset(&sealed);
		if (rc == 0)
			rc = repo_blob_reseal(&sealed, okey, nkey, (enum obj_type)e.type, ids[i],
			    blob, e.length);
		if (rc) {
			char hex[2 * OBJ_ID_LEN + 1];

			hex_encode(hex, ids[i], OBJ_ID_LEN);
			log_error("repository %s: prune: live object %s cannot be read (damaged); "
			    "nothing was removed; run 'bulwark check --read-data'", r->path, hex);
			goto out;
		}
		if (!pw && (rc = repo_packw_new(r, e_pk, nkey, &pw)) != 0)
			goto out;
		if ((rc = repo_packw_add(pw, (enum obj_type)e.type, ids[i], sealed.data, sealed.len,
		    e.plain)) != 0)
			goto out;
		if (repo_packw_size(pw) >= r->pack_target) {
			st->bytes_freed -= repo_packw_size(pw);
			rc = repo_packw_finish(pw);
			pw = NULL;
			if (rc)
				goto out;
		}
	}
	if (pw) {
		st->bytes_freed -= repo_packw_size(pw);
		rc = repo_packw_finish(pw);
		pw = NULL;
		if (rc)
			goto out;
	}

	/* 2. old index files */
	for (i = 0; i < npacks; i++) {
		if (pp[i].action == KEEP)
			continue;
		free(path);
		if ((path = repo_index_path(r, r->packs[i])) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		if ((rc = fsio_unlink(path)) != 0 && rc != BW_ERR_NOENT)
			goto out;
		nidx++;
	}
	free(dir);
	if ((dir = repo_join(r->path, "index")) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if (nidx && (rc = fsio_sync_dir(dir)) != 0)
		goto out;

	/* 3. old packs, and packs without an index */
	for (i = 0; i < npacks; i++) {
		if (pp[i].action == KEEP)
			continue;
		free(path);
		if ((path = repo_pack_path(r, r->packs[i])) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		if ((rc = fsio_unlink(path)) != 0 && rc != BW_ERR_NOENT)
			goto out;
		st->packs_removed++;
		if (pp[i].action == REWRITE)
			st->packs_rewritten++;
		st->objects_removed += pp[i].total_objs - pp[i].live_objs;
		st->bytes_freed += pp[i].size;
	}
	for (i = 0; i < 256; i++) {
		char **names = NULL;
		size_t nn = 0;
		int dirty = 0;

		snprintf(rel, sizeof(rel), "data/%02zx", i);
		free(dir);
		if ((dir = repo_join(r->path, rel)) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		remove_tmp(dir);
		if (repo_list_hex(dir, 2 * OBJ_ID_LEN, &names, &nn) != 0)
			continue;
		for (j = 0; j < nn; j++) {
			uint8_t id[OBJ_ID_LEN];
			size_t k;
			int known = 0;

			hex_decode(id, OBJ_ID_LEN, names[j]);
			for (k = 0; k < r->npacks && !known; k++)
				known = memcmp(r->packs[k], id, OBJ_ID_LEN) == 0;
			if (known)
				continue;
			free(path);
			if ((path = repo_join(dir, names[j])) == NULL)
				break;
			if (fsio_unlink(path) == 0) {
				log_info("repository %s: prune: removed pack %s that had no index "
				    "(left by an interrupted backup)", r->path, names[j]);
				st->packs_removed++;
			}
		}
		repo_list_free(names, nn);
		for (j = 0; j < npacks && !dirty; j++) {
			char hx[3];

			hex_encode(hx, r->packs[j], 1);
			dirty = pp[j].action != KEEP && strcmp(hx, rel + 5) == 0;
		}
		if ((dirty || nn) && (rc = fsio_sync_dir(dir)) != 0)
			goto out;
	}

	/* 4. leftovers and the generation */
	{
		static const char *const sub[] = { "data", "index", "snapshots", "keys", "locks", "" };

		for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
			free(dir);
			dir = sub[i][0] ? repo_join(r->path, sub[i]) : strdup(r->path);
			if (dir)
				remove_tmp(dir);
		}
	}
	snprintf(gen, sizeof(gen), "%llu\n", (unsigned long long)repo_generation(r) + 1);
	free(path);
	if ((path = repo_join(r->path, "generation")) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	rc = fsio_write_atomic(path, gen, strlen(gen), 0600);
out:
	repo_packw_abort(pw);
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&r->mu);
	repo_index_drop(r);
	pthread_mutex_unlock(&r->mu);
	if (took)
		repo_unlock(r);
	bwcrypto_secfree(nkey);
	bwcrypto_wipe(okey, sizeof(okey));
	buf_free(&sealed);
	free(blob);
	free(pp);
	free(ids);
	free(path);
	free(dir);
	return rc;
}
