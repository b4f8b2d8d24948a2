/*
 * fuzz_cli_json.c - the CLI's JSON argument parser and its msgpack -> JSON printer
 * (client/cli/json.c, compiled into this target).
 *
 * JSON text that cli_json_args() accepts must become exactly one msgpack map within the wire's
 * depth limit, and turning those bytes back into JSON must give the value that was parsed
 * (integers stay integers, reals stay reals). Input that the pre-scanner accepts as a message
 * is also printed the way `skyutil call` prints a reply.
 */
#include "config.h"

#include <errno.h>

#include "cli_json.h"
#include "fuzz.h"
#include "sku_proto.h"

static void args(const char *text)
{
	msgpack_sbuffer sb;
	char err[256];
	size_t len = 0;
	json_t *in, *back;
	unsigned char head;
	int r;

	msgpack_sbuffer_init(&sb);
	err[0] = '\0';
	r = cli_json_args(text, &sb, err, sizeof(err));
	fuzz_check(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		fuzz_check(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
		msgpack_sbuffer_destroy(&sb);
		return;
	}
	fuzz_check(sb.size > 0);
	head = (unsigned char)sb.data[0];
	fuzz_check((head & 0xf0) == 0x80 || head == 0xde || head == 0xdf); /* a map */
	/* One request around the map adds two levels: [0, id, m, [map]]. */
	fuzz_check(sku_prescan(sb.data, sb.size, sb.size, SKU_MAX_DEPTH - 2, &len) == 1);
	fuzz_check(len == sb.size);

	in = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	back = cli_json_from_bytes(sb.data, sb.size);
	fuzz_check(in != NULL && back != NULL);
	fuzz_check(json_equal(in, back));
	json_decref(in);
	json_decref(back);
	msgpack_sbuffer_destroy(&sb);
}

static void reply(const uint8_t *data, size_t size)
{
	size_t len = 0;
	json_t *j;
	char *text;

	if (sku_prescan((const char *)data, size, SKU_MAX_MESSAGE_DEFAULT, SKU_MAX_DEPTH, &len) !=
	    1)
		return;
	j = cli_json_from_bytes(data, len);
	if (!j)
		return;
	text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	free(text);
	json_decref(j);
}

/*
 * json.c also holds cli_call_json(), whose error printers live in the CLI's main.c (which has
 * main()). This target never calls it; these definitions only satisfy the linker and make
 * reaching them a failure.
 */
int cli_fail(const char *what, int rc)
{
	fprintf(stderr, "fuzz-cli-json: cli_fail(%s, %d) reached\n", what, rc);
	abort();
}

int cli_fail_client(const skyutil_client *client, const char *what, int rc)
{
	(void)client;
	return cli_fail(what, rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_copy(data, size, 1);

	args(text);
	reply(data, size);
	free(text);
	return 0;
}
