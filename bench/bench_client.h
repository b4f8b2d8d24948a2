/*
 * bench_client.h - the subcommands of bench-client that fork processes (bench_watch.c).
 */
#ifndef SKU_BENCH_CLIENT_H
#define SKU_BENCH_CLIENT_H

/* Print "bench-client: what: <skyutil_strerror(rc)>" and exit(1). */
void bench_die(const char *what, int rc) __attribute__((noreturn));

/* argv: SOCKET N */
int bench_cmd_exit_latency(char **argv);
/* argv: SOCKET NPROCS NWATCHES K IDLE_MS DAEMON_PID */
int bench_cmd_watch_load(char **argv);
/* argv: N */
int bench_cmd_spawn(char **argv);

#endif
