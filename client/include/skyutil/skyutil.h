/*
 * skyutil.h - libskyutil, the C client of skyutild, and in-process helpers.
 *
 * Conventions (as libuv): functions return 0 (or a positive count) on success and a negative
 * error code on failure: a negative errno for local failures (-ECONNREFUSED: no daemon,
 * -ETIMEDOUT, -EINVAL, ...) or SKYUTIL_EREMOTE(code) for an error the daemon answered
 * (code is the wire code of docs/protocol.md). skyutil_strerror() describes either.
 * Outputs are `ret_*` parameters, last, untouched on failure. Memory returned through a
 * `ret_*` pointer is owned by the caller and released with the free function named in the
 * declaration's comment. No global state: use one skyutil_client per thread.
 */
#ifndef SKYUTIL_H
#define SKYUTIL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SKYUTIL_BUILDING) && defined(__GNUC__)
#define SKYUTIL_EXPORT __attribute__((visibility("default")))
#else
#define SKYUTIL_EXPORT
#endif

#define SKYUTIL_VERSION_MAJOR 0
#define SKYUTIL_VERSION_MINOR 1
#define SKYUTIL_VERSION_PATCH 0

/* Remote (daemon-answered) errors: SKYUTIL_EREMOTE(SKYUTIL_ERR_PID_REUSED) etc. */
#define SKYUTIL_EREMOTE_BASE    10000
#define SKYUTIL_EREMOTE(code)   (-(SKYUTIL_EREMOTE_BASE + (code)))
#define SKYUTIL_IS_REMOTE(rc)   ((rc) <= -SKYUTIL_EREMOTE_BASE)
#define SKYUTIL_REMOTE_CODE(rc) (-(rc)-SKYUTIL_EREMOTE_BASE)

enum skyutil_remote_code {
	SKYUTIL_ERR_BAD_REQUEST = 1,
	SKYUTIL_ERR_UNKNOWN_METHOD = 2,
	SKYUTIL_ERR_INVALID_ARGUMENT = 3,
	SKYUTIL_ERR_PERMISSION_DENIED = 4,
	SKYUTIL_ERR_NO_SUCH_PROCESS = 5,
	SKYUTIL_ERR_PID_REUSED = 6,
	SKYUTIL_ERR_RESOURCE_EXHAUSTED = 7,
	SKYUTIL_ERR_TOO_LARGE = 8,
	SKYUTIL_ERR_UNAVAILABLE = 9,
	SKYUTIL_ERR_INTERNAL = 10,
	SKYUTIL_ERR_TIMEOUT = 11,
};

/* Static description of any return code of this library. Never NULL. */
SKYUTIL_EXPORT const char *skyutil_strerror(int rc);
/* "skyutild"-side name ("PID_REUSED") for a remote code, else NULL. */
SKYUTIL_EXPORT const char *skyutil_remote_name(int rc);

/* ---------------------------------------------------------------- connection */

typedef struct skyutil_client skyutil_client;

/*
 * Resolve the default socket path exactly as the daemon does ($SKYUTILD_SOCKET,
 * $XDG_RUNTIME_DIR/skyutild/skyutild.sock, /run/skyutild/skyutild.sock for root,
 * /tmp/skyutild-<uid>/skyutild.sock) into buf. Returns 0 or -ENAMETOOLONG.
 */
SKYUTIL_EXPORT int skyutil_default_socket_path(char *buf, size_t buflen);

/*
 * Connect to the daemon at path (NULL: the default path). *ret_client is owned by the
 * caller; release it with skyutil_client_free(). -ENOENT / -ECONNREFUSED: no daemon;
 * -ETIMEDOUT: the daemon's backlog stayed full for timeout_ms (< 0: 5000).
 * A client does not reconnect: once the connection is lost every call returns -EPIPE
 * (or the error that broke it) and the caller opens a new client.
 */
SKYUTIL_EXPORT int skyutil_client_open(const char *path, int timeout_ms,
                                       skyutil_client **ret_client);
/* Close and free; NULL is fine. */
SKYUTIL_EXPORT void skyutil_client_free(skyutil_client *client);

/* Default per-call timeout (ms) for calls given timeout_ms < 0. Initially 5000. */
SKYUTIL_EXPORT void skyutil_client_set_timeout(skyutil_client *client, int timeout_ms);

/*
 * Message of the last remote error (SKYUTIL_EREMOTE) a call on client received, "" if the
 * last call did not fail remotely. Owned by the client, valid until its next call. Never NULL.
 */
SKYUTIL_EXPORT const char *skyutil_client_last_error(const skyutil_client *client);

/* Round trip; returns 0. */
SKYUTIL_EXPORT int skyutil_ping(skyutil_client *client, int timeout_ms);

struct skyutil_hello {
	char server[32];
	char version[32];
	int64_t proto;
	int64_t daemon_pid;
	int64_t max_message;
	int64_t max_connections;
	int64_t max_batch;
};
SKYUTIL_EXPORT int skyutil_hello(skyutil_client *client, int timeout_ms,
                                 struct skyutil_hello *ret_hello);

/*
 * Generic call. args is a msgpack-encoded map (or NULL/0 for no arguments). On success
 * *ret_result (malloc'd msgpack bytes of the result object, *ret_len bytes) is owned by the
 * caller: free() it (or skyutil_free()). On a remote error, returns SKYUTIL_EREMOTE(code)
 * and, when ret_errmsg is non-NULL, *ret_errmsg is a malloc'd message (free it).
 */
SKYUTIL_EXPORT int skyutil_call(skyutil_client *client, const char *method, const void *args,
                                size_t args_len, int timeout_ms, void **ret_result, size_t *ret_len,
                                char **ret_errmsg);

/*
 * Event-loop integration. The fd becomes readable when the daemon sent something;
 * skyutil_client_process() reads what is there without blocking and delivers each
 * notification to the callback (method name, msgpack bytes of its single param map; both
 * valid during the callback only). Returns the number of notifications delivered, or a
 * negative error (-EPIPE: daemon gone).
 * Notifications that arrive while a call waits for its reply are queued (bounded: past
 * 65536 the connection fails with -ENOBUFS) and delivered by the next
 * skyutil_client_process(): call it after calls, not only when the fd is readable. Without a
 * callback they stay queued (skyutil_proc_wait() takes its exit events from that queue).
 * The callback may make calls on the client but must not free it.
 */
typedef void (*skyutil_event_cb)(const char *method, const void *params, size_t len,
                                 void *userdata);
SKYUTIL_EXPORT int skyutil_client_fd(const skyutil_client *client);
SKYUTIL_EXPORT void skyutil_client_set_event_cb(skyutil_client *client, skyutil_event_cb cb,
                                                void *userdata);
SKYUTIL_EXPORT int skyutil_client_process(skyutil_client *client);

/* Free memory returned by this library (strings, buffers). NULL is fine. */
SKYUTIL_EXPORT void skyutil_free(void *p);

/* ---------------------------------------------------------------- facts */

#define SKYUTIL_UNLIMITED INT64_MAX /* mem_limit_bytes, pids_limit, nofile_* without a limit */

struct skyutil_facts {
	int64_t pid;
	int64_t cpu_count;       /* clamp(ceil(quota), 1, min(affinity, cpuset, online)) */
	int64_t cpu_count_floor; /* same with floor */
	double cpu_quota;        /* CPUs; 0 when no quota */
	int64_t cpu_online;
	int64_t cpu_affinity;
	int64_t cpuset_cpus; /* 0 when no cpuset */
	int64_t mem_total_bytes;
	int64_t mem_limit_bytes; /* SKYUTIL_UNLIMITED when none */
	int64_t mem_effective_bytes;
	int64_t mem_used_bytes; /* -1 when unknown */
	int64_t pids_limit;     /* SKYUTIL_UNLIMITED when none */
	int64_t nofile_soft;    /* SKYUTIL_UNLIMITED when RLIM_INFINITY */
	int64_t nofile_hard;
	int64_t cgroup_version; /* 1, 2, 3 = hybrid, 0 = none */
	char cgroup_path[512];
	uint64_t generation;
};

/* facts.get for pid (0: the caller). One round trip. */
SKYUTIL_EXPORT int skyutil_facts_get(skyutil_client *client, int64_t pid, int timeout_ms,
                                     struct skyutil_facts *ret_facts);

/*
 * Cached facts of the calling process: the first call subscribes (one round trip); later
 * calls drain pending facts.changed notifications without blocking and copy the cache, so a
 * change is seen as soon as the daemon pushed it (within a second of the change).
 * Uses the client's callback slot for its own notifications: do not combine with
 * skyutil_client_set_event_cb() on the same client.
 */
SKYUTIL_EXPORT int skyutil_facts_cached(skyutil_client *client, struct skyutil_facts *ret_facts);

/* ---------------------------------------------------------------- processes */

struct skyutil_proc_id {
	int64_t pid;
	int64_t start_time; /* clock ticks since boot (/proc/<pid>/stat field 22); -1: any */
};

enum skyutil_proc_state {
	SKYUTIL_PROC_RUNNING,
	SKYUTIL_PROC_SLEEPING,
	SKYUTIL_PROC_STOPPED,
	SKYUTIL_PROC_ZOMBIE,
	SKYUTIL_PROC_GONE,
	SKYUTIL_PROC_REUSED,
};

struct skyutil_proc_status {
	int64_t pid;
	int alive; /* a zombie is not alive */
	enum skyutil_proc_state state;
	int64_t start_time; /* -1 when unknown */
	double create_time; /* seconds since the epoch; 0 when unknown */
	int64_t ppid;       /* -1 when unknown */
	int64_t uid;        /* -1 when unknown */
	int64_t exit_code;  /* -1 when unknown */
	int64_t signal;     /* 0 when none or unknown */
};

/* "running", ... Never NULL. */
SKYUTIL_EXPORT const char *skyutil_proc_state_name(enum skyutil_proc_state state);

/* proc.status for n identities; ret_status has room for n entries. */
SKYUTIL_EXPORT int skyutil_proc_status(skyutil_client *client, const struct skyutil_proc_id *ids,
                                       size_t n, int timeout_ms,
                                       struct skyutil_proc_status *ret_status);

/*
 * Liveness only: ret_alive[i] is 1 when ids[i] is alive (a zombie is not; with a start_time,
 * only that process), else 0; ret_alive has room for n. Cheaper than skyutil_proc_status:
 * the daemon answers live processes it was already asked about from memory, kept exact by
 * their pidfds, instead of reading /proc again.
 */
SKYUTIL_EXPORT int skyutil_proc_alive(skyutil_client *client, const struct skyutil_proc_id *ids,
                                      size_t n, int timeout_ms, int *ret_alive);

struct skyutil_exit {
	int64_t watch_id;
	int64_t pid;
	int64_t start_time;
	int64_t exit_code; /* -1 when unknown (see reason) */
	int64_t signal;    /* 0 when none */
	int core_dumped;
	double exited_at;
	char reason[64];
};

/*
 * proc.watch. *ret_watch_id is 0 when the process was already gone (ret_status says so and no
 * event follows). Exit events arrive as "proc.exited" notifications; skyutil_proc_wait()
 * blocks for one.
 */
SKYUTIL_EXPORT int skyutil_proc_watch(skyutil_client *client, struct skyutil_proc_id id,
                                      int timeout_ms, int64_t *ret_watch_id,
                                      struct skyutil_proc_status *ret_status);
SKYUTIL_EXPORT int skyutil_proc_unwatch(skyutil_client *client, int64_t watch_id, int timeout_ms);
/* Wait for the exit event of watch_id (timeout_ms < 0: forever). -ETIMEDOUT on timeout. */
SKYUTIL_EXPORT int skyutil_proc_wait(skyutil_client *client, int64_t watch_id, int timeout_ms,
                                     struct skyutil_exit *ret_exit);

/* proc.children: *ret_children (n entries) is owned by the caller; skyutil_free() it. */
SKYUTIL_EXPORT int skyutil_proc_children(skyutil_client *client, struct skyutil_proc_id id,
                                         int recursive, int timeout_ms,
                                         struct skyutil_proc_id **ret_children, size_t *ret_n);

struct skyutil_kill_result {
	size_t signalled, killed, already_gone;
};
/*
 * proc.kill_tree; signal 0 means SIGTERM; grace_s < 0 means the default (10 s). The reply
 * comes once the tree is gone, so timeout_ms < 0 means the client's timeout plus the grace.
 */
SKYUTIL_EXPORT int skyutil_proc_kill_tree(skyutil_client *client, struct skyutil_proc_id id,
                                          int signal, double grace_s, int include_root,
                                          int timeout_ms, struct skyutil_kill_result *ret_result);

/*
 * proc.guard: when watch exits, kill target's tree as skyutil_proc_kill_tree() would, with
 * signal (0: SIGTERM) and grace_s (< 0: the default, 10 s). The guard lives in the daemon,
 * beyond this client. *ret_guard_id is 0 when watch had already ended: the kill has started
 * at once and there is nothing to unguard.
 */
SKYUTIL_EXPORT int skyutil_proc_guard_signal(skyutil_client *client, struct skyutil_proc_id watch,
                                             struct skyutil_proc_id target, int signal,
                                             double grace_s, int timeout_ms, int64_t *ret_guard_id);
/* skyutil_proc_guard_signal() with SIGTERM. */
SKYUTIL_EXPORT int skyutil_proc_guard(skyutil_client *client, struct skyutil_proc_id watch,
                                      struct skyutil_proc_id target, double grace_s, int timeout_ms,
                                      int64_t *ret_guard_id);
SKYUTIL_EXPORT int skyutil_proc_unguard(skyutil_client *client, int64_t guard_id, int timeout_ms);

/* ---------------------------------------------------------------- in-process helpers */
/*
 * Same semantics as SkyPilot's upstream Python helpers (sky/utils/common_utils.py,
 * subprocess_utils.py; docs/libskyutil.3.scd). No daemon involved; thread-safe; no global
 * state.
 */

/*
 * Last n lines of a file, read backwards in chunks until more than n newlines were seen (a
 * 3 GiB log costs what its tail costs). Lines are split on '\n' only; trailing '\r's are
 * stripped from every line (Python's rstrip('\r')); every line but the last ends with '\n',
 * the last never does (also when the file ends with a newline). Bytes are returned as they
 * are: invalid UTF-8 is not replaced (see skyutil_utf8_replace()).
 * *ret_lines (an array of *ret_n NUL-terminated strings, oldest first; NULL when *ret_n is 0:
 * n == 0 or an empty file) is owned by the caller: skyutil_lines_free(lines, n).
 * Only regular files and block devices are read. -ENOENT, -EACCES, -EISDIR (directory),
 * -EINVAL (n < 0, NULL arguments, another file type), -EAGAIN (the file kept shrinking while
 * being read), -ENOMEM.
 */
SKYUTIL_EXPORT int skyutil_read_last_n_lines(const char *path, long n, char ***ret_lines,
                                             size_t *ret_n);
/*
 * The same, and when ret_lens is non-NULL the byte length of each line (a line may contain
 * NUL bytes): *ret_lens (*ret_n entries, NULL when none) is owned by the caller: skyutil_free.
 */
SKYUTIL_EXPORT int skyutil_read_last_n_lines_len(const char *path, long n, char ***ret_lines,
                                                 size_t **ret_lens, size_t *ret_n);
/* Free n lines and the array; NULL is fine. */
SKYUTIL_EXPORT void skyutil_lines_free(char **lines, size_t n);

/*
 * Hash a file with OpenSSL EVP: algo is "md5", "sha1", "sha224", "sha256", "sha384" or
 * "sha512" (case-insensitive; see skyutil_hash_algo_known()).
 * hex != 0: *ret_digest is a lowercase hex NUL-terminated string and *ret_len its strlen;
 * else *ret_digest holds *ret_len raw digest bytes. *ret_digest is owned by the caller
 * (skyutil_free). Reads until EOF with a 256 KiB buffer. -EINVAL for an unknown algorithm or
 * a file that is not a regular file or block device, -EISDIR, -ENOENT, -EOPNOTSUPP when
 * OpenSSL refuses the algorithm (md5 under FIPS).
 */
SKYUTIL_EXPORT int skyutil_hash_file(const char *path, const char *algo, int hex,
                                     unsigned char **ret_digest, size_t *ret_len);
/* 1 when skyutil_hash_file() accepts algo, else 0 (NULL is fine). */
SKYUTIL_EXPORT int skyutil_hash_algo_known(const char *algo);

/*
 * First port in start_port..65534 that can be bound on all interfaces (INADDR_ANY, no
 * SO_REUSEADDR, so ports in TIME_WAIT are busy), as upstream; start_port 0 yields 0, as
 * upstream. The port is released again: another process may take it before the caller does.
 * -EADDRNOTAVAIL when none; -EINVAL when start_port is outside 0..65535.
 */
SKYUTIL_EXPORT int skyutil_find_free_port(int start_port, int *ret_port);

/* Longest hex input (significant digits) skyutil_base36_encode() accepts; conversion is
 * quadratic in the length. Upstream inputs are at most 32 digits. */
#define SKYUTIL_BASE36_MAX_DIGITS 65536

/*
 * Base 36 (digits 0-9a-z) of a hex string of any length, parsed as Python's int(hex, 16):
 * surrounding ASCII whitespace, a sign, an optional 0x/0X prefix, single underscores between
 * digits. -EINVAL for invalid or negative input (upstream loops forever on it; "-0" is "0"),
 * -E2BIG above SKYUTIL_BASE36_MAX_DIGITS. Non-ASCII digits and spaces, which Python accepts,
 * are invalid here. *ret_str owned by the caller (skyutil_free).
 */
SKYUTIL_EXPORT int skyutil_base36_encode(const char *hex, char **ret_str);

/* Largest precision for skyutil_format_float(): a double has at most 1074 fraction digits. */
#define SKYUTIL_FORMAT_FLOAT_MAX_PRECISION 1074

/*
 * Upstream format_float: integral values print without decimals ("5", "-0", all digits of
 * 1e300), others with precision decimals, correctly rounded (half-even on the binary value,
 * as Python); always '.', whatever the locale; "nan", "inf", "-inf". An integer argument of
 * upstream is the integral double here (exact up to 2^53). -EINVAL for precision outside
 * 0..SKYUTIL_FORMAT_FLOAT_MAX_PRECISION. *ret_str owned by the caller (skyutil_free).
 */
SKYUTIL_EXPORT int skyutil_format_float(double num, int precision, char **ret_str);

/*
 * Upstream truncate_long_string(s, max_length, truncate_middle), counting characters (code
 * points) as Python does, so a multibyte character is never cut. End mode keeps whole words
 * up to max_length, pads with the next characters to max_length and appends "..." (result up
 * to max_length + 3 characters); middle mode keeps head and tail around "..." (max_length
 * characters; "..." when max_length <= 3). Python's slice rules apply to a negative
 * max_length. -EILSEQ for invalid UTF-8 (overlongs and surrogates included).
 * *ret_str owned by the caller (skyutil_free).
 */
SKYUTIL_EXPORT int skyutil_truncate_long_string(const char *s, long max_length, int truncate_middle,
                                                char **ret_str);

/*
 * What Python's data.decode('utf-8', errors='replace') yields: each maximal invalid
 * subsequence becomes U+FFFD. *ret_str (NUL-terminated, *ret_len bytes without the NUL when
 * ret_len is non-NULL) owned by the caller (skyutil_free).
 */
SKYUTIL_EXPORT int skyutil_utf8_replace(const void *data, size_t len, char **ret_str,
                                        size_t *ret_len);

/*
 * Upstream get_parallel_threads: max(4, cpu_count - 1), x4 when cloud.lower() is
 * "kubernetes" (NULL or "": x1). Pass a container-correct cpu_count (skyutil_facts.cpu_count);
 * upstream uses os.cpu_count(). Saturates at INT64_MAX.
 */
SKYUTIL_EXPORT int64_t skyutil_parallel_threads(int64_t cpu_count, const char *cloud);
/*
 * Upstream get_max_workers_for_file_mounts with its inputs explicit:
 * min(max((nofile_soft - 100) // fds_per_source, 1), skyutil_parallel_threads(cpu_count,
 * cloud)). nofile_soft SKYUTIL_UNLIMITED means no descriptor bound; fds_per_source below 1
 * counts as 1 (upstream's is at least 5: skyutil_fds_per_source()).
 */
SKYUTIL_EXPORT int64_t skyutil_max_workers_for_file_mounts(int64_t nofile_soft,
                                                           int64_t fds_per_source,
                                                           int64_t cpu_count, const char *cloud);
/*
 * Upstream fd_per_rsync: 5 x the number of entries (hidden ones included, one level) of the
 * largest directory among the n paths, at least 5. Paths that are not directories (symlinks
 * are followed), NULL entries and directories that cannot be read are ignored.
 */
SKYUTIL_EXPORT int64_t skyutil_fds_per_source(const char *const *paths, size_t n);

#ifdef __cplusplus
}
#endif

#endif
