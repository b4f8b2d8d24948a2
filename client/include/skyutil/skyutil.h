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
#define SKYUTIL_EREMOTE_BASE 10000
#define SKYUTIL_EREMOTE(code) (-(SKYUTIL_EREMOTE_BASE + (code)))
#define SKYUTIL_IS_REMOTE(rc) ((rc) <= -SKYUTIL_EREMOTE_BASE)
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
 * caller; release it with skyutil_client_free(). -ENOENT / -ECONNREFUSED: no daemon.
 */
SKYUTIL_EXPORT int skyutil_client_open(const char *path, int timeout_ms,
				       skyutil_client **ret_client);
/* Close and free; NULL is fine. */
SKYUTIL_EXPORT void skyutil_client_free(skyutil_client *client);

/* Default per-call timeout (ms) for calls given timeout_ms < 0. Initially 5000. */
SKYUTIL_EXPORT void skyutil_client_set_timeout(skyutil_client *client, int timeout_ms);

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
 * notification to the callback (method name, msgpack bytes of its single param map).
 * Returns the number of notifications delivered, or a negative error (-EPIPE: daemon gone).
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
	int64_t cpu_count;	 /* clamp(ceil(quota), 1, min(affinity, cpuset, online)) */
	int64_t cpu_count_floor; /* same with floor */
	double cpu_quota;	 /* CPUs; 0 when no quota */
	int64_t cpu_online;
	int64_t cpu_affinity;
	int64_t cpuset_cpus; /* 0 when no cpuset */
	int64_t mem_total_bytes;
	int64_t mem_limit_bytes; /* SKYUTIL_UNLIMITED when none */
	int64_t mem_effective_bytes;
	int64_t mem_used_bytes; /* -1 when unknown */
	int64_t pids_limit;	/* SKYUTIL_UNLIMITED when none */
	int64_t nofile_soft;	/* SKYUTIL_UNLIMITED when RLIM_INFINITY */
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
	int64_t start_time;  /* -1 when unknown */
	double create_time;  /* seconds since the epoch; 0 when unknown */
	int64_t ppid;	     /* -1 when unknown */
	int64_t uid;	     /* -1 when unknown */
	int64_t exit_code;   /* -1 when unknown */
	int64_t signal;	     /* 0 when none or unknown */
};

/* "running", ... Never NULL. */
SKYUTIL_EXPORT const char *skyutil_proc_state_name(enum skyutil_proc_state state);

/* proc.status for n identities; ret_status has room for n entries. */
SKYUTIL_EXPORT int skyutil_proc_status(skyutil_client *client, const struct skyutil_proc_id *ids,
				       size_t n, int timeout_ms,
				       struct skyutil_proc_status *ret_status);

struct skyutil_exit {
	int64_t watch_id;
	int64_t pid;
	int64_t start_time;
	int64_t exit_code; /* -1 when unknown (see reason) */
	int64_t signal;	   /* 0 when none */
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
/* proc.kill_tree; signal 0 means SIGTERM; grace_s < 0 means the default (10 s). */
SKYUTIL_EXPORT int skyutil_proc_kill_tree(skyutil_client *client, struct skyutil_proc_id id,
					  int signal, double grace_s, int include_root,
					  int timeout_ms, struct skyutil_kill_result *ret_result);

/* proc.guard: when watch exits, kill target's tree. */
SKYUTIL_EXPORT int skyutil_proc_guard(skyutil_client *client, struct skyutil_proc_id watch,
				      struct skyutil_proc_id target, double grace_s,
				      int timeout_ms, int64_t *ret_guard_id);
SKYUTIL_EXPORT int skyutil_proc_unguard(skyutil_client *client, int64_t guard_id, int timeout_ms);

/* ---------------------------------------------------------------- in-process helpers */
/* Same semantics as SkyPilot's upstream Python helpers (docs/libskyutil.3.scd). */

/*
 * Last n lines of a file, read backwards in chunks. Each line but the last keeps its '\n';
 * '\r' is stripped; invalid UTF-8 is kept as is. *ret_lines (an array of *ret_n
 * NUL-terminated strings) is owned by the caller: skyutil_lines_free(lines, n).
 * -ENOENT, -EISDIR, -EINVAL (n < 0).
 */
SKYUTIL_EXPORT int skyutil_read_last_n_lines(const char *path, long n, char ***ret_lines,
					     size_t *ret_n);
SKYUTIL_EXPORT void skyutil_lines_free(char **lines, size_t n);

/*
 * Hash a file with OpenSSL EVP: algo is "md5", "sha1", "sha256", "sha512" (case-insensitive).
 * hex != 0: *ret_digest is a lowercase hex NUL-terminated string; else raw bytes.
 * *ret_digest is owned by the caller (skyutil_free). -EINVAL for an unknown algorithm.
 */
SKYUTIL_EXPORT int skyutil_hash_file(const char *path, const char *algo, int hex,
				     unsigned char **ret_digest, size_t *ret_len);

/*
 * First port >= start_port that can be bound on all interfaces (no SO_REUSEADDR), as upstream.
 * -EADDRNOTAVAIL when none; -EINVAL when start_port is outside 0..65535.
 */
SKYUTIL_EXPORT int skyutil_find_free_port(int start_port, int *ret_port);

/* Base-36 of a hex string of any length (optional 0x). -EINVAL for invalid or negative input.
 * *ret_str owned by the caller (skyutil_free). */
SKYUTIL_EXPORT int skyutil_base36_encode(const char *hex, char **ret_str);

/* Upstream format_float: integral values print without decimals, others with precision
 * decimals. *ret_str owned by the caller (skyutil_free). */
SKYUTIL_EXPORT int skyutil_format_float(double num, int precision, char **ret_str);

/* Upstream truncate_long_string, counting UTF-8 characters. -EILSEQ for invalid UTF-8.
 * *ret_str owned by the caller (skyutil_free). */
SKYUTIL_EXPORT int skyutil_truncate_long_string(const char *s, long max_length,
						int truncate_middle, char **ret_str);

/* max(4, cpu_count - 1), x4 when cloud is "kubernetes" (any case; NULL: none). */
SKYUTIL_EXPORT int64_t skyutil_parallel_threads(int64_t cpu_count, const char *cloud);
/* max(1, min((nofile_soft - 100) / fds_per_source, parallel_threads)). */
SKYUTIL_EXPORT int64_t skyutil_max_workers_for_file_mounts(int64_t nofile_soft,
							   int64_t fds_per_source,
							   int64_t cpu_count, const char *cloud);
/* 5 x entries of the largest directory among paths (non-directories ignored), at least 5. */
SKYUTIL_EXPORT int64_t skyutil_fds_per_source(const char *const *paths, size_t n);

#ifdef __cplusplus
}
#endif

#endif
