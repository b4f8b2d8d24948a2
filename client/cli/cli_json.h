/*
 * cli_json.h - JSON <-> msgpack for the CLI (jansson), and the generic call/print helpers
 * behind `call` and every --json output. Integers stay integers, reals stay reals.
 */
#ifndef SKU_CLI_JSON_H
#define SKU_CLI_JSON_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>

#include "cli.h"

/* Nesting accepted from JSON input (the wire allows 16 levels including the request). */
#define CLI_JSON_MAX_DEPTH 14

/* Pack a JSON value. Returns 0, -EINVAL when nested deeper than CLI_JSON_MAX_DEPTH, -ENOMEM. */
int cli_json_pack(const json_t *j, msgpack_packer *pk);

/*
 * Parse text as a JSON object into msgpack bytes of a map in out (initialised by the caller).
 * Returns 0, or -EINVAL with a one-line reason in err.
 */
int cli_json_args(const char *text, msgpack_sbuffer *out, char *err, size_t errlen);

/* New JSON value for a msgpack object (caller: json_decref), NULL on OOM. Invalid UTF-8 in
 * strings becomes U+FFFD, bin becomes a hex string, ext null. */
json_t *cli_json_from_obj(const msgpack_object *o);
/* The same from msgpack bytes holding one object; NULL when malformed. */
json_t *cli_json_from_bytes(const void *buf, size_t len);

/* Print j on one line to stdout. Returns CLI_OK or CLI_LOCAL when stdout fails. */
int cli_json_print(const json_t *j);
/* Human form: one "key: value" line per scalar, nested keys dotted, null as "-". */
void cli_human_print(const json_t *j);
/* Print a call's result as JSON (--json) or human text, and release j. Returns an exit code. */
int cli_print_result(const struct cli_opts *opts, json_t *j);

/*
 * Call method with args (msgpack map bytes or NULL) and return its result as JSON in *ret
 * (caller: json_decref). Returns CLI_OK, or an exit code after printing the error.
 */
int cli_call_json(const struct cli_opts *opts, skyutil_client *client, const char *method,
                  const void *args, size_t args_len, json_t **ret);

#endif
