/* http: a small HTTP/1.1 server and client on libevent bufferevents, parsed
 * with http-parser (libhttp-parser). One event loop thread owns everything.
 *
 * Why not evhttp: libevent 2.1's evhttp cannot stream a request body while a
 * response streams back on the same connection (the agent<->master link is a
 * full-duplex chunked RecordIO stream on ONE connection, so that 15,000 agents
 * fit in 20,000 file descriptors), has no connection limit, and has no way to
 * bound bodies per route. This module does exactly what mezzo needs and no more.
 *
 * Server: keep-alive, pipelined requests served in order (one at a time per
 * connection), chunked or Content-Length request bodies, chunked streaming
 * replies, explicit limits (connections, header bytes, body bytes) answered
 * with 503/431/413 and a text message, bad requests with 400.
 * Client: one keep-alive connection per mz_http_client, requests queued and
 * sent in order, buffered or streamed responses, chunked request bodies that
 * can be written over time (full duplex with a streamed response). */
#ifndef MZ_HTTP_H
#define MZ_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

/* ------------------------------------------------------------------ server */

typedef struct mz_http_server mz_http_server;
typedef struct mz_http_req mz_http_req;

typedef struct {
  size_t max_connections;  /* default 16384; a connection past it gets 503 and is closed */
  size_t max_header_bytes; /* default 64 KiB; larger request head: 431 */
  size_t max_body_bytes;   /* default 16 MiB; larger buffered body: 413 (streamed bodies are not bounded) */
} mz_http_limits;

typedef void (*mz_http_handler)(mz_http_req *req, void *arg);

/* NULL limits = defaults. Returns NULL on allocation failure. */
mz_http_server *mz_http_server_new(struct event_base *base, const mz_http_limits *limits);
/* Binds and listens (SO_REUSEADDR). port 0 picks a free port. 0 or -1 with err. */
int mz_http_server_listen(mz_http_server *s, const char *ip, int port, char *err, size_t errlen);
#define MZ_UNIX_PATH_MAX 108 /* sockaddr_un's sun_path: a socket's path is shorter */
/* Or listens on a Unix domain socket at path (shorter than MZ_UNIX_PATH_MAX) with the
 * file mode mode; a socket file already there (an earlier run's) is replaced, any
 * other file is an error. The file is removed when the server is freed, if it is still
 * this socket's. Its requests' peer is "unix". 0 or -1 with err. */
int mz_http_server_listen_unix(mz_http_server *s, const char *path, mode_t mode, char *err, size_t errlen);
int mz_http_server_port(const mz_http_server *s);
size_t mz_http_server_connections(const mz_http_server *s);
/* Closes every connection (on_close callbacks of unfinished requests run) and frees. */
void mz_http_server_free(mz_http_server *s);

/* Route flags. */
#define MZ_HTTP_ROUTE_PREFIX 1      /* path matches as a prefix, not exactly */
#define MZ_HTTP_ROUTE_STREAM_BODY 2 /* handler runs once the head is in; body via mz_http_req_on_body */
/* Bulk traffic (agent links, framework calls and streams): when the event base has
 * priorities (event_base_priority_init), a connection that requests such a route
 * is served at the lowest one, every other connection at the highest, so that a
 * short request (/health, the operator API) is not queued behind the bulk of a
 * busy loop. Without priorities the flag changes nothing. */
#define MZ_HTTP_ROUTE_BULK 4
/* Registers a handler; routes are tried in registration order; unmatched paths get 404. */
void mz_http_server_route(mz_http_server *s, const char *path, int flags, mz_http_handler h, void *arg);

/* A gate consulted before the routes: when gate(path, arg) returns nonzero the
 * request goes to h instead (run as soon as its head is in, like a STREAM_BODY
 * route; a body it does not take is discarded). A non-leading master uses it to
 * redirect to the leader. NULL gate removes it. */
void mz_http_server_set_gate(mz_http_server *s, int (*gate)(const char *path, void *arg), mz_http_handler h,
                             void *arg);
/* Request accessors: valid until the reply is finished or the connection closes. */
const char *mz_http_req_method(const mz_http_req *r);
const char *mz_http_req_path(const mz_http_req *r);  /* without the query, percent-decoded */
const char *mz_http_req_query(const mz_http_req *r); /* raw query string without '?', or "" */
const char *mz_http_req_header(const mz_http_req *r, const char *name); /* case-insensitive, NULL if absent */
const uint8_t *mz_http_req_body(const mz_http_req *r, size_t *len); /* buffered routes; never NULL */
const char *mz_http_req_peer(const mz_http_req *r); /* "ip:port" of the client */
void mz_http_req_set_data(mz_http_req *r, void *data);
void *mz_http_req_get_data(const mz_http_req *r);

/* Looks key up in a raw query string, percent-decoding the value into out.
 * Returns 0 if found, -1 if absent or too long for out. */
int mz_http_query_get(const char *query, const char *key, char *out, size_t outlen);

/* Replies: exactly one of mz_http_reply / mz_http_reply_error / mz_http_stream_start per request.
 * After mz_http_reply(_error) or mz_http_stream_end the request is freed once written. */
void mz_http_req_add_header(mz_http_req *r, const char *name, const char *value); /* before the reply */
void mz_http_reply(mz_http_req *r, int status, const char *content_type, const void *body, size_t len);
void mz_http_reply_error(mz_http_req *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 for GET and HEAD; otherwise replies 405 (with Allow: GET) and returns 0. */
int mz_http_only_get(mz_http_req *r);
/* Replies 200 with j (a json_t, taken) as JSON. */
struct json_t;
void mz_http_reply_json(mz_http_req *r, struct json_t *j);
/* The same, or as JavaScript calling the function that ?jsonp= names (a plain name only). */
void mz_http_reply_jsonp(mz_http_req *r, struct json_t *j);
/* Replies with the first len bytes of the file open at fd (Content-Length: len), sent
 * from the file as the socket takes them; fd is the reply's, closed once sent. */
void mz_http_reply_file(mz_http_req *r, int status, const char *content_type, int fd, off_t len);

/* Streaming reply (Transfer-Encoding: chunked). Each write is exactly one chunk. -1 if the peer is gone. */
int mz_http_stream_start(mz_http_req *r, int status, const char *content_type);
int mz_http_stream_write(mz_http_req *r, const void *data, size_t len);
/* Writes "<len>\n<data>" (one RecordIO record) as one chunk. */
int mz_http_stream_write_record(mz_http_req *r, const void *data, size_t len);
size_t mz_http_stream_backlog(const mz_http_req *r); /* bytes queued, not yet written to the socket */
void mz_http_stream_end(mz_http_req *r);

/* Called once if the connection closes (or the server is freed) before the reply
 * is finished; r is invalid once it returns. Not called after a finished reply.
 * Without an on_close callback, a request whose connection closed stays valid
 * until its handler finishes the reply (mz_http_reply(_error) or
 * mz_http_stream_end, which then write nothing; stream writes return -1). */
void mz_http_req_on_close(mz_http_req *r, void (*cb)(mz_http_req *r, void *arg), void *arg);

/* Handing a connection to another process (a forked child that writes the reply):
 * mz_http_req_socket gives the connection's socket (-1 if gone); after the fork,
 * mz_http_req_abandon drops the request and the connection in this process without
 * writing or shutting anything down (the child's copy of the socket keeps it open).
 * r is invalid afterwards. */
int mz_http_req_socket(const mz_http_req *r);
void mz_http_req_abandon(mz_http_req *r);
/* STREAM_BODY routes: body bytes as they arrive (decoded from chunked); data NULL, len 0 at the end of the body. */
void mz_http_req_on_body(mz_http_req *r, void (*cb)(mz_http_req *r, const uint8_t *data, size_t len, void *arg),
                         void *arg);

/* ------------------------------------------------------------------ client */

typedef struct mz_http_client mz_http_client;
typedef struct mz_http_call mz_http_call;

typedef struct {
  /* Required. Called exactly once at the end: status > 0 with the whole body
   * (buffered mode) or body NULL (streamed mode); status 0 and err set when the
   * connection failed or closed first. The call is freed after it returns. */
  void (*on_complete)(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err, void *arg);
  /* Optional: set both to stream the response body (on_headers once, on_data per arrival). */
  void (*on_headers)(mz_http_call *c, int status, void *arg);
  void (*on_data)(mz_http_call *c, const uint8_t *data, size_t len, void *arg);
} mz_http_call_cbs;

/* A client for one host:port (host may be a name or an IP). Connects lazily, reconnects for the next request. */
mz_http_client *mz_http_client_new(struct event_base *base, const char *host, int port);
/* Connects to the Unix domain socket at path instead (host and port still name the
 * Host header); when that connect fails (no such file, refused, no permission, a full
 * backlog) a connection goes to host:port after all (logged once). NULL goes back to
 * host:port. -1 when path is empty or not shorter than MZ_UNIX_PATH_MAX. */
int mz_http_client_set_unix_path(mz_http_client *c, const char *path);
/* Source address to bind before connecting (spreads ephemeral ports over 127.0.0.x). */
void mz_http_client_set_source(mz_http_client *c, const char *ip);
void mz_http_client_set_timeout(mz_http_client *c, double seconds); /* connect+response timeout; 0 = none (default 30 s) */
/* HTTP/1.1 pipelining: up to depth calls (with fixed bodies, buffered responses)
 * written without waiting for the answers before them; 1 (the default) turns it
 * off. Calls written on a connection that fails all fail with it. */
#define MZ_HTTP_MAX_PIPELINE 1024
void mz_http_client_set_pipeline(mz_http_client *c, int depth);
/* Frees; pending calls are dropped without callbacks. */
void mz_http_client_free(mz_http_client *c);

/* Queues a request. headers: NULL or a NULL-terminated list of name, value, name, value...
 * body_len >= 0: a body with Content-Length (Host and Content-Length are added);
 * body_len == -1: a chunked request body written later with mz_http_call_write, ended with mz_http_call_end.
 * Returns the call (owned by the client) or NULL. */
mz_http_call *mz_http_client_request(mz_http_client *c, const char *method, const char *path,
                                     const char *const *headers, const void *body, ssize_t body_len,
                                     const mz_http_call_cbs *cbs, void *arg);
const char *mz_http_call_header(const mz_http_call *c, const char *name); /* response header, once known */
int mz_http_call_write(mz_http_call *c, const void *data, size_t len);        /* one chunk */
int mz_http_call_write_record(mz_http_call *c, const void *data, size_t len); /* one RecordIO record as one chunk */
void mz_http_call_end(mz_http_call *c);                                       /* last chunk */
/* Drops the call: no more callbacks; the connection is closed if the call was in flight. */
void mz_http_call_cancel(mz_http_call *c);

/* "host:port", "http://host:port/...", "//host:port" or "[v6]:port" (a Location
 * header, a --master flag) into host and port. 0, or -1 if it is not one. */
#define MZ_HTTP_HOST_MAX 256
int mz_http_parse_address(const char *addr, char *host, size_t hostlen, int *port);

/* Convenience for tools and tests: a blocking request on a private event base.
 * Returns the status (0 on failure with err set); *body is malloc'd (NUL-terminated).
 * A 307 or 308 with a Location is followed (the same request, at most
 * MZ_HTTP_MAX_REDIRECTS times): a master that does not lead names the leader. */
#define MZ_HTTP_MAX_REDIRECTS 8
int mz_http_fetch(const char *host, int port, const char *method, const char *path, const char *const *headers,
                  const void *body, size_t body_len, char **resp_body, size_t *resp_len, double timeout_s,
                  char *err, size_t errlen);

#endif
