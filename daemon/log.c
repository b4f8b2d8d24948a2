/*
 * log.c - leveled logging to stderr, the daemon's only output channel.
 *
 * Under systemd, stderr is usually a journal stream: then each line starts with the
 * sd-daemon(3) "<N>" priority prefix so the journal keeps the level, instead of a word.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sku_daemon.h"

static int max_level = SKU_LOG_WARN;
static int journal = -1; /* unknown until the first message */

void sku_log_set_level(int verbosity)
{
	if (verbosity < 0)
		verbosity = 0;
	max_level = verbosity >= 2 ? SKU_LOG_DEBUG : SKU_LOG_WARN + verbosity;
}

/* $JOURNAL_STREAM is "dev:ino" of the stream systemd connected to stderr. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void sku_log(enum sku_log_level level, const char *fmt, ...)
{
	static const char *const words[] = {"error", "warning", "info", "debug"};
	static const char *const prefixes[] = {"<3>", "<4>", "<6>", "<7>"};
	char line[1024];
	int saved = errno;
	va_list ap;
	int n;

	if ((int)level > max_level)
		return;
	if (journal < 0)
		journal = stderr_is_journal();
	if (journal)
		n = snprintf(line, sizeof(line), "%s", prefixes[level]);
	else
		n = snprintf(line, sizeof(line), "skyutild[%ld]: %s: ", (long)getpid(),
		             words[level]);
	if (n < 0)
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from concurrent writers never interleave. */
	(void)fprintf(stderr, "%s\n", line);
	errno = saved;
}

uint64_t sku_now_ns(void)
{
	return uv_hrtime();
}
