/* zk: a small wrapper of the ZooKeeper C client (libzookeeper_mt) for the one
 * libevent loop thread of a mezzo process, plus the parser of Mesos-style
 * `zk://host1:port1,host2:port2/path` URLs.
 *
 * Threads: the multi-threaded ZooKeeper client runs its own I/O and completion
 * threads and calls watchers and completions on the latter. Nothing of ours runs
 * there but a hand-off: every watcher event and every completion is copied into
 * a message, appended to a queue (the one mutex of the module, held for a few
 * instructions) and the loop is woken through an eventfd; the loop thread then
 * runs the owner's callbacks. So every callback below runs on the loop thread,
 * and no loop state is ever touched by a ZooKeeper thread.
 *
 * Session: mz_zk_new connects (asynchronously) with the session timeout given;
 * on_session reports CONNECTED, DISCONNECTED (the client is reconnecting; the
 * session may still be alive) and EXPIRED. A disconnection that lasts the whole
 * session timeout is reported as EXPIRED too (the server will have expired the
 * session by then), so that a leader partitioned from ZooKeeper learns it may no
 * longer be one. After EXPIRED, mz_zk_restart opens a new session.
 *
 * Requests: each async call takes a callback run once on the loop thread with
 * the result, unless the handle is freed or restarted first (then never).
 *
 * Ownership: the owner of an mz_zk frees it with mz_zk_free (never from inside
 * one of its callbacks: defer it). Results handed to callbacks are valid only
 * during the call. */
#ifndef MZ_COMMON_ZK_H
#define MZ_COMMON_ZK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

#define MZ_ZK_URL_MAX 4096     /* longest zk:// URL accepted */
#define MZ_ZK_PATH_MAX 1024    /* longest znode path */
#define MZ_ZK_MAX_SERVERS 32   /* host:port entries in one URL */
#define MZ_ZK_DEFAULT_SESSION_TIMEOUT 10.0 /* seconds, as Mesos's --zk_session_timeout */

/* A parsed zk:// URL. */
typedef struct {
  char servers[MZ_ZK_URL_MAX]; /* "host1:port1,host2:port2" as the C client wants it */
  char path[MZ_ZK_PATH_MAX];   /* "/mezzo": absolute, no trailing '/', not "/" */
} mz_zk_url;

/* 1 if text starts with "zk://". */
int mz_zk_is_url(const char *text);
/* Parses "zk://host1:port1,host2:port2/path": 0, or -1 with err naming what is wrong. */
int mz_zk_parse_url(const char *text, mz_zk_url *out, char *err, size_t errlen);

typedef enum {
  MZ_ZK_CONNECTED = 1,
  MZ_ZK_DISCONNECTED = 2,
  MZ_ZK_EXPIRED = 3,
} mz_zk_session_state;

typedef struct mz_zk mz_zk;

typedef struct {
  void (*on_session)(mz_zk *z, mz_zk_session_state state, void *arg);
  /* A watch set by mz_zk_children(watch=1) fired for path (children changed, or the node went away). */
  void (*on_watch)(mz_zk *z, const char *path, void *arg);
} mz_zk_callbacks;

/* Starts connecting to url's servers; session_timeout in seconds (> 0). NULL with err. */
mz_zk *mz_zk_new(struct event_base *base, const mz_zk_url *url, double session_timeout, const mz_zk_callbacks *cbs,
                 void *arg, char *err, size_t errlen);
/* Closes the session (ephemeral znodes go at once) and frees; pending callbacks never run. */
void mz_zk_free(mz_zk *z);
/* Closes the current session and opens a new one (after EXPIRED); pending callbacks never run. 0 or -1. */
int mz_zk_restart(mz_zk *z, char *err, size_t errlen);
int mz_zk_connected(const mz_zk *z);
struct event_base *mz_zk_base(const mz_zk *z);
const mz_zk_url *mz_zk_get_url(const mz_zk *z);
double mz_zk_session_timeout(const mz_zk *z);
/* Text of a ZooKeeper return code. */
const char *mz_zk_error(int rc);

/* Result callbacks: rc is ZOK (0) or a ZooKeeper error code (mz_zk_error). */
typedef void (*mz_zk_string_cb)(mz_zk *z, int rc, const char *value, void *arg);
typedef void (*mz_zk_children_cb)(mz_zk *z, int rc, char *const *names, size_t n, void *arg);
typedef void (*mz_zk_data_cb)(mz_zk *z, int rc, const uint8_t *data, size_t len, void *arg);

/* The return of the request functions: 0 if sent, -1 (err) if it could not be. */
/* Creates path (mode: 0 persistent, 1 ephemeral | 2 sequential bits) with data; value: the created path. */
int mz_zk_create(mz_zk *z, const char *path, const void *data, size_t len, int ephemeral, int sequential,
                 mz_zk_string_cb cb, void *arg, char *err, size_t errlen);
/* Creates every component of path that is missing (persistent, empty); cb gets ZOK once all exist. */
int mz_zk_ensure_path(mz_zk *z, const char *path, mz_zk_string_cb cb, void *arg, char *err, size_t errlen);
/* Lists path's children; watch: on_watch fires once when they change. */
int mz_zk_children(mz_zk *z, const char *path, int watch, mz_zk_children_cb cb, void *arg, char *err,
                   size_t errlen);
int mz_zk_get(mz_zk *z, const char *path, mz_zk_data_cb cb, void *arg, char *err, size_t errlen);

#endif
