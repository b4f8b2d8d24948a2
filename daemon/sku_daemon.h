/*
 * sku_daemon.h - the daemon's internal seams: server, connections, calls and method tables.
 *
 * Request path: conn.c reads bytes → sku_prescan → sku_decode → dispatch.c looks the method up
 * in the method table, binds named arguments → handler packs a result → conn.c writes.
 * Handlers never touch sockets; the transport never knows methods.
 */
#ifndef SKU_DAEMON_H
#define SKU_DAEMON_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "sku_proto.h"

struct sku_server;
struct sku_conn;
struct sku_facts;   /* facts module state (daemon/facts/) */
struct sku_procmod; /* process-watching module state (daemon/proc/) */
struct sku_call;
struct sku_notify; /* notify.c */

/* Who is on the other end of a connection, from SO_PEERCRED at accept time. */
struct sku_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid; /* 0 when the platform cannot tell */
};

/* Daemon configuration, filled by main.c from the command line. */
struct sku_config {
	const char *socket_path;  /* resolved */
	unsigned socket_mode;     /* default 0600 */
	const char *socket_group; /* NULL: keep the daemon's group */
	const char *sysroot;      /* "" in production; a fixture tree in tests */
	size_t max_message;       /* bytes */
	size_t max_output;        /* queued output bytes per connection before disconnect */
	unsigned max_connections;
	unsigned max_batch;
	unsigned max_user_watches; /* proc.watch watches one non-root uid may hold; 0: no limit */
	unsigned max_user_guards;  /* proc.guard guards one non-root uid may hold; 0: no limit */
	unsigned idle_timeout_ms;  /* a partial message older than this closes the conn */
	unsigned linger_timeout_s; /* a disconnected watch's process is kept this long; 0 off */
	int verbosity;             /* 0 warnings, 1 info, 2 debug */
	bool debug_methods;        /* --enable-debug-methods: test-only methods (h_debug.c) */
};

/* Counters exported by daemon.metrics. Owned by the server; modules increment. */
struct sku_metrics {
	uint64_t requests[64]; /* by method index */
	uint64_t errors[SKU_ERR__MAX];
	uint64_t connections_total;
	uint64_t connections_rejected;
	uint64_t exits_seen;
	uint64_t facts_generations;
	uint64_t status_cache_hits;   /* liveness answered from the cache (proc/livecache.c) */
	uint64_t status_cache_misses; /* liveness read from /proc */
	uint64_t linger_exits;        /* exits recorded for lingering processes (proc/linger.c) */
	uint64_t linger_dropped;      /* lingering processes released unexited: expiry, cap, fds */
	uint64_t latency_buckets[12]; /* see metrics.c for bounds */
	double latency_sum_s;
	uint64_t latency_count;
};

struct sku_server {
	uv_loop_t *loop;
	struct sku_config cfg;
	uv_pipe_t listener;
	unsigned nconns;
	struct sku_conn *conns; /* intrusive list of live connections */
	bool stopping;
	struct sku_metrics metrics;
	struct sku_facts *facts;  /* owned; NULL until sku_facts_init */
	struct sku_procmod *proc; /* owned; NULL until sku_proc_init */
	uint64_t next_id;         /* source of watch/subscription/guard ids */

	/*
	 * Gauges kept current by the modules that own the objects (daemon.metrics, STATUS=).
	 * A module changing them calls sku_notify_status_changed() so STATUS= follows.
	 */
	unsigned nwatches;       /* proc.watch watches alive */
	unsigned nguards;        /* proc.guard guards alive */
	unsigned nsubscriptions; /* facts.subscribe subscriptions alive */
	unsigned nstatus_cached; /* live processes pinned by the liveness cache */
	unsigned nlingering;     /* watched processes whose watchers' connections closed */

	/* Owned by server.c. */
	uint64_t started_ns;
	bool listening;     /* the listener handle is open */
	bool unlink_socket; /* we bound the path (not socket activation): remove it at exit */
	int lock_fd;        /* flock on "<socket>.lock" for the daemon's life; -1 if none */
	char lock_path[128];
	uv_timer_t stop_timer; /* bounds the drain at shutdown */
	bool stop_timer_open;
	bool stopped; /* on_stopped has run */
	void (*on_stopped)(struct sku_server *srv);
	struct sku_call *deferred; /* calls a handler kept (SKU_CALL_DEFERRED), dispatch.c */
	unsigned ndeferred;
	struct sku_notify *notify; /* owned by notify.c; NULL until sku_notify_init */
};

/*
 * A hook a module hangs on a connection to learn when it closes (to drop that connection's
 * watches and subscriptions). Embedded in the module's own struct; the module owns it.
 */
struct sku_conn_hook {
	struct sku_conn_hook *next, *prev;
	void (*on_close)(struct sku_conn_hook *hook, struct sku_conn *conn);
};

void sku_conn_add_hook(struct sku_conn *conn, struct sku_conn_hook *hook);
void sku_conn_remove_hook(struct sku_conn_hook *hook); /* safe if not linked */

/* Peer credentials of a connection. */
const struct sku_peer *sku_conn_peer(const struct sku_conn *conn);
struct sku_server *sku_conn_server(const struct sku_conn *conn);

/* Keep a connection's memory alive past its close (for deferred replies). */
void sku_conn_ref(struct sku_conn *conn);
void sku_conn_unref(struct sku_conn *conn);
bool sku_conn_is_closing(const struct sku_conn *conn);
/*
 * Read no further requests from conn until one of its deferred calls finishes: for a handler
 * whose deferred work must stay bounded per connection, instead of refusing or blocking the
 * loop. Call it only while conn has a deferred call (the one being deferred counts).
 */
void sku_conn_hold_input(struct sku_conn *conn);

/*
 * Queue one complete encoded message for writing. Takes ownership of buf (a malloc'd
 * buffer of len bytes) in every case. Returns 0, -EPIPE when the connection is closing
 * (buf freed, nothing sent), or -ENOBUFS when the connection's output limit was passed
 * (the connection is then closed).
 */
int sku_conn_send(struct sku_conn *conn, char *buf, size_t len);

/*
 * Build and send a notification [2, method, [map]]; pack_map packs exactly one map.
 * Returns as sku_conn_send.
 */
int sku_conn_notify(struct sku_conn *conn, const char *method,
                    void (*pack_map)(msgpack_packer *pk, void *ctx), void *ctx);

/* One request being answered. Owned by dispatch.c. */
struct sku_call {
	struct sku_server *srv;
	struct sku_conn *conn; /* referenced while the call lives */
	const struct sku_method *method;
	uint32_t msgid;
	struct sku_peer peer;
	uint64_t started_ns;
	msgpack_sbuffer buf; /* the reply being built */
	msgpack_packer pk;   /* packs the result (exactly one object) into buf */
	int err;             /* wire error code set by sku_call_error, else 0 */
	char errmsg[256];

	/*
	 * For deferred calls, set by the handler before it returns SKU_CALL_DEFERRED.
	 * cancel (optional) abandons the work at shutdown: it must release what the handler
	 * holds and end with sku_call_finish(). ctx is the handler's own state.
	 */
	void (*cancel)(struct sku_call *call);
	void *ctx;
	struct sku_call *next, *prev; /* srv->deferred list, dispatch.c */
};

/*
 * Handler return values: 0 when the result has been packed into call->pk;
 * SKU_CALL_DEFERRED when the handler kept the call and will finish it later with
 * sku_call_finish() (the call and its connection stay referenced until then);
 * a negative value on failure, after sku_call_error() (or a bare -errno, mapped by
 * sku_err_from_errno()). A failing handler must not have packed anything.
 */
#define SKU_CALL_DEFERRED 1

typedef int (*sku_handler_fn)(struct sku_call *call, const msgpack_object *const *argv);

/* Record a wire error for the call; returns -EINVAL so handlers can `return sku_call_error(...)`.
 */
int sku_call_error(struct sku_call *call, enum sku_err code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * Finish a deferred call: status 0 sends the result packed into call->pk, a negative value
 * sends the recorded error. Frees the call. If the connection closed meanwhile, nothing is sent.
 */
void sku_call_finish(struct sku_call *call, int status);

struct sku_method {
	const char *name;
	sku_handler_fn handler;
	const struct sku_argspec *args;
	uint8_t nargs;
};

/* Method tables, one per module; methods.c concatenates them. */
struct sku_method_table {
	const struct sku_method *methods;
	size_t count;
};
extern const struct sku_method_table sku_core_methods;
extern const struct sku_method_table sku_facts_methods;
extern const struct sku_method_table sku_proc_methods;

/* Method lookup by name over all tables; index is stable for metrics (< 64). */
const struct sku_method *sku_method_find(const char *name, size_t len, unsigned *ret_index);
unsigned sku_method_count(void);
const struct sku_method *sku_method_at(unsigned index);
unsigned sku_method_index(const struct sku_method *m);

/* Module life cycle, called by main.c in this order; _done undoes _init. */
int sku_facts_init(struct sku_server *srv);
void sku_facts_done(struct sku_server *srv);
int sku_proc_init(struct sku_server *srv);
void sku_proc_done(struct sku_server *srv);

/* Logging to stderr with levels; never from proto/ or client/ library code. */
enum sku_log_level { SKU_LOG_ERROR, SKU_LOG_WARN, SKU_LOG_INFO, SKU_LOG_DEBUG };
void sku_log_set_level(int verbosity);
void sku_log(enum sku_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic nanoseconds (uv_hrtime). */
uint64_t sku_now_ns(void);

/* ------------------------------------------------------------------ server.c */

/*
 * Set up srv on loop with a copy of cfg (strings borrowed: they must outlive srv).
 * Nothing is opened yet.
 */
void sku_server_init(struct sku_server *srv, uv_loop_t *loop, const struct sku_config *cfg);
/*
 * Listen on activated_fd (a listening socket from sku_activation_take(), owned by srv from
 * here on, even on failure) or, when it is -1, on cfg.socket_path created safely (directory
 * checks, lock, stale-socket takeover, umask'd bind, group). Then start accepting.
 * Returns 0 or a negative errno; -EADDRINUSE means another daemon is live on the path
 * (already logged, as is every failure).
 */
int sku_server_listen(struct sku_server *srv, int activated_fd);
/*
 * Begin a graceful stop: stop accepting, stop reading, let in-flight replies (and deferred
 * calls, for a bounded time) finish, then close every connection and call on_stopped once.
 * Calling it again cuts the wait short.
 */
void sku_server_stop(struct sku_server *srv, void (*on_stopped)(struct sku_server *srv));
/* Close the server's own handles, remove the socket and lock file. After on_stopped. */
void sku_server_done(struct sku_server *srv);
/* server.c → conn.c: a connection ended (its handles are closed). */
void sku_server_conn_gone(struct sku_server *srv);

/* -------------------------------------------------------------------- conn.c */

/* Accept one pending connection on the listener (called from the connection callback). */
void sku_conn_accept(struct sku_server *srv);
/*
 * Stop reading and close once nothing is left to write and no deferred call is pending
 * (shutdown, half-closed peers, protocol errors).
 */
void sku_conn_drain(struct sku_conn *conn);
/* Close now: pending output is dropped, hooks run, deferred calls finish into the void. */
void sku_conn_close(struct sku_conn *conn);
/* The server's live connections, for shutdown. */
struct sku_conn *sku_conn_next(struct sku_conn *conn);
/* dispatch.c → conn.c: a deferred call of this connection finished (releases a hold). */
void sku_conn_call_done(struct sku_conn *conn);
/* dispatch.c → conn.c: a call on this connection was deferred. */
void sku_conn_call_deferred(struct sku_conn *conn);

/* ---------------------------------------------------------------- dispatch.c */

/* Answer one decoded request (or ignore a client notification). */
void sku_dispatch(struct sku_conn *conn, const struct sku_msg *msg);
/*
 * Send an error response [1, msgid, {code, name, message}, nil] and count it.
 * Returns as sku_conn_send.
 */
int sku_send_error(struct sku_conn *conn, uint32_t msgid, enum sku_err code, const char *message);
/* Shutdown: cancel every deferred call that has a cancel hook. */
void sku_dispatch_cancel_deferred(struct sku_server *srv);

/* ----------------------------------------------------------------- methods.c */

/* Make the test-only methods of h_debug.c visible (--enable-debug-methods). */
void sku_methods_enable_debug(bool enable);
extern const struct sku_method_table sku_debug_methods;

/* ----------------------------------------------------------------- metrics.c */

#define SKU_LATENCY_BUCKETS 12
/* Count one answered request that took ns nanoseconds. */
void sku_metrics_observe(struct sku_metrics *m, uint64_t ns);
/*
 * Render srv's counters in the Prometheus text exposition format. On success *ret_text is
 * a malloc'd NUL-terminated string the caller frees, *ret_len its length.
 */
int sku_metrics_render(const struct sku_server *srv, char **ret_text, size_t *ret_len);

/* ------------------------------------------------------------------ notify.c */

/*
 * Service manager readiness protocol ($NOTIFY_SOCKET, sd_notify(3)). Every function is a
 * no-op when the daemon was not started with NOTIFY_SOCKET. Init also arms the watchdog
 * timer at half of $WATCHDOG_USEC (when WATCHDOG_PID is unset or ours).
 */
int sku_notify_init(struct sku_server *srv);
void sku_notify_ready(struct sku_server *srv);
/* Clients or watches changed: STATUS= is refreshed (coalesced, at most every 100 ms). */
void sku_notify_status_changed(struct sku_server *srv);
void sku_notify_stopping(struct sku_server *srv);
/* Close the timers and the socket. */
void sku_notify_done(struct sku_server *srv);
/* Send one state string ("READY=1\nSTATUS=...") now; 0 or negative errno. */
int sku_notify_send(struct sku_server *srv, const char *state);

/* -------------------------------------------------------------- activation.c */

/*
 * The listening socket passed by the service manager (systemd LISTEN_FDS, launchd), if any.
 * Call it before anything opens a file descriptor: passed fds it does not use are closed,
 * and a lying LISTEN_FDS must not name a descriptor of our own. Returns 0 with *ret_fd = the fd
 * (ours now, O_CLOEXEC) or -1 when none was passed; negative errno when something was passed but is
 * unusable (not a listening Unix stream socket). The activation environment is consumed (unset).
 */
int sku_activation_take(int *ret_fd);
/* The platform's own mechanism (launchd on macOS; none on Linux), same contract. */
int sku_activation_platform(int *ret_fd);

/* ------------------------------------------------------------- peer_<os>.c */

/* Credentials of the peer of connected Unix socket fd. 0 or negative errno. */
int sku_peer_get(int fd, struct sku_peer *ret);

#endif
