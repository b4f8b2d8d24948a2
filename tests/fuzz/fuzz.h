/*
 * fuzz.h - the libFuzzer entry points every target implements, and small helpers.
 *
 * A target is one C file defining LLVMFuzzerTestOneInput() (and optionally
 * LLVMFuzzerInitialize()). Built with clang and -Dfuzzing=true it links libFuzzer; otherwise it
 * links fuzz_main.c, which replays files and directories of inputs, so the corpus runs as an
 * ordinary test. A target reports a broken invariant with fuzz_check(), which aborts: the
 * fuzzer saves the input, the replay test fails.
 */
#ifndef SKU_FUZZ_H
#define SKU_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional; the replay driver calls it when the target defines it (weak reference). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test; not assert(), which NDEBUG would remove. */
#define fuzz_check(cond)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
			        #cond);                                                      \
			abort();                                                             \
		}                                                                            \
	} while (0)

/*
 * A private copy of data in a buffer of exactly size bytes (plus a NUL when nul is set), so
 * AddressSanitizer catches a read one byte past what the parser was given. Aborts on OOM:
 * the inputs are small. Caller frees.
 */
static inline char *fuzz_copy(const uint8_t *data, size_t size, int nul)
{
	char *p = malloc(size + (nul ? 1 : 0) + (size == 0 && !nul));

	if (!p)
		abort();
	if (size)
		memcpy(p, data, size);
	if (nul)
		p[size] = '\0';
	return p;
}

#endif
