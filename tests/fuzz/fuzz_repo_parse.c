/*
 * libFuzzer harness for the parsers of untrusted repository bytes: config,
 * key slot and key material, pack header, tail and directory, index body,
 * snapshot file, summary and body, lock.  The first byte picks the parser.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct repo_config c;
	struct repo_slot s;
	struct repo_keys k;
	struct repo_dirent *d = NULL;
	struct repo_snapfile f;
	struct snap_info si;
	struct repo_lockinfo l;
	uint8_t id[OBJ_ID_LEN], pk[BWC_BOX_PK];
	uint32_t tl;
	size_t n;
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	switch (sel % 11) {
	case 0:
		(void)repo_parse_config(data, size, &c);
		break;
	case 1:
		if (repo_parse_slot(data, size, &s) == 0)
			repo_slot_clear(&s);
		break;
	case 2:
		(void)repo_parse_material(data, size, &k);
		break;
	case 3:
		(void)repo_parse_pack_header(data, size, pk);
		break;
	case 4:
		(void)repo_parse_pack_tail(data, size, &tl);
		break;
	case 5:
		if (repo_parse_directory(data, size, size > 8 ? le64dec(data) : 0, &d, &n) == 0)
			free(d);
		break;
	case 6:
		if (repo_parse_index_body(data, size, id, &d, &n) == 0)
			free(d);
		break;
	case 7:
		(void)repo_parse_snapfile(data, size, &f);
		break;
	case 8:
		memset(&si, 0, sizeof(si));
		if (repo_parse_summary(data, size, &si) == 0)
			snap_info_clear(&si);
		break;
	case 9:
		memset(&si, 0, sizeof(si));
		if (repo_parse_body(data, size, &si) == 0)
			snap_info_clear(&si);
		break;
	case 10:
		if (repo_parse_lock(data, size, &l) == 0)
			repo_lockinfo_clear(&l);
		break;
	}
	return 0;
}
