/* signame.c - signal name table (see signame.h). */
#include "signame.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	int sig;
} names[] = {
        {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
        {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},     {"IOT", SIGABRT},  {"BUS", SIGBUS},
        {"FPE", SIGFPE},       {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"CHLD", SIGCHLD},     {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
        {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
        {"IO", SIGIO},         {"SYS", SIGSYS},
#ifdef SIGSTKFLT
        {"STKFLT", SIGSTKFLT},
#endif
#ifdef SIGPWR
        {"PWR", SIGPWR},
#endif
#ifdef SIGPOLL
        {"POLL", SIGPOLL},
#endif
#ifdef SIGINFO
        {"INFO", SIGINFO},
#endif
#ifdef SIGEMT
        {"EMT", SIGEMT},
#endif
};

int sku_signal_max(void)
{
#ifdef SIGRTMAX
	return SIGRTMAX;
#else
	return NSIG - 1;
#endif
}

int sku_signal_from_int(long long v)
{
	if (v < 1 || v > sku_signal_max())
		return -EINVAL;
	return (int)v;
}

/* "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n" where the platform has real-time signals. */
static int realtime(const char *s, size_t len)
{
#ifdef SIGRTMIN
	int base, dir, n = 0;

	if (len < 5)
		return -EINVAL;
	if (strncasecmp(s, "RTMIN", 5) == 0) {
		base = SIGRTMIN;
		dir = 1;
	} else if (strncasecmp(s, "RTMAX", 5) == 0) {
		base = SIGRTMAX;
		dir = -1;
	} else {
		return -EINVAL;
	}
	if (len > 5) {
		if (s[5] != (dir > 0 ? '+' : '-') || len == 6 || len > 8)
			return -EINVAL;
		for (size_t i = 6; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -EINVAL;
			n = n * 10 + (s[i] - '0');
		}
	}
	base += dir * n;
	if (base < SIGRTMIN || base > SIGRTMAX)
		return -EINVAL;
	return base;
#else
	(void)s;
	(void)len;
	return -EINVAL;
#endif
}

int sku_signal_from_name(const char *name, size_t len)
{
	if (len >= 3 && strncasecmp(name, "SIG", 3) == 0) {
		name += 3;
		len -= 3;
	}
	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len && strncasecmp(names[i].name, name, len) == 0)
			return names[i].sig;
	return realtime(name, len);
}
