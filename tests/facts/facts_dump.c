/*
 * facts-dump - gather the facts of one process under a sysroot with the daemon's own
 * gathering and wire packing, without a daemon: `facts-dump SYSROOT PID` writes the facts map
 * (msgpack) to stdout, or {"error": "NO_SUCH_PROCESS"} and exit status 0. Usage errors: 2.
 * Used by the fixture suite to check the layers below the daemon on their own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facts_mod.h"

int main(int argc, char **argv)
{
	struct sku_watch_dirs dirs = {0};
	struct sku_facts_entry *e;
	struct sku_facts_env env;
	struct sku_proc_facts p;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t keylen;
	char *key, *end;
	long pid;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: facts-dump SYSROOT PID\n");
		return 2;
	}
	pid = strtol(argv[2], &end, 10);
	if (*end || pid <= 0 || pid > 1 << 30) {
		fprintf(stderr, "facts-dump: bad pid %s\n", argv[2]);
		return 2;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	sku_facts_env_init(&env, argv[1]);
	r = sku_facts_read_proc(&env, (pid_t)pid, &p, &key, &keylen);
	if (r == -ESRCH) {
		msgpack_pack_map(&pk, 1);
		sku_pack_kv_str(&pk, "error", "NO_SUCH_PROCESS");
	} else if (r < 0) {
		fprintf(stderr, "facts-dump: %s\n", strerror(-r));
		return 1;
	} else {
		e = calloc(1, sizeof(*e));
		if (!e)
			return 1;
		r = sku_facts_read_group(&env, key, keylen, 0, &e->g, &dirs);
		if (r < 0) {
			fprintf(stderr, "facts-dump: %s\n", strerror(-r));
			return 1;
		}
		sku_facts_pack(&pk, e, &p, 1);
		sku_watch_dirs_done(&dirs);
		free(key);
		free(e);
	}
	fwrite(sb.data, 1, sb.size, stdout);
	msgpack_sbuffer_destroy(&sb);
	sku_facts_env_done(&env);
	return 0;
}
