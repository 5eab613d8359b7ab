/* http_client: the client half of http.h.
 *
 * A client holds at most one connection to its host:port and a FIFO of calls.
 * By default only the head call is on the wire: its request is written when
 * the connection is up, and the next call's request is written once the head's
 * response is complete. With mz_http_client_set_pipeline(c, depth) up to depth
 * calls with fixed bodies and buffered responses are written back to back
 * without waiting (HTTP/1.1 pipelining: the server answers in order, the head
 * call is always the one whose response is being read); when the connection
 * fails, every call already written fails with it (none is resent: the server
 * may have acted on it). Long streams each have a client of their own. A chunked request body
 * (body_len -1) is written chunk by chunk as the caller produces it, while the
 * response may already be streaming back (full duplex).
 *
 * Callbacks run only from libevent callbacks (never inside
 * mz_http_client_request: a new head call is started from a zero-delay timer);
 * a callback may cancel calls or free the client: the client then only marks
 * itself dead and is freed when the outermost callback returns (c->busy counts
 * the nesting).
 *
 * Output is written as the server writes it (http_server.c): EV_WRITE stays off,
 * bytes added to the connection put a flush of the lowest priority on the loop,
 * which writes them all at once within the loop turn that made them; only what
 * the socket does not take waits for EV_WRITE.
 *
 * Input is read on within a read callback until the socket is empty or READ_PER_TURN
 * bytes wait: libevent 2.1 reads at most 4096 bytes per read callback, which held
 * the agent's link to about 17 RUN_TASKs per loop turn, so that the master's stream
 * could not be read ahead of the agent's launches (master_link.c).
 *
 * Timeout: covers the connect, and then the wait for the response: for a
 * streamed response until its head arrives (a stream then lives as long as
 * it lives), for a buffered one until it is complete, restarted by every
 * arrival of body bytes. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "common/http.h"
#include "common/http_internal.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_RESPONSE_BODY (256u << 20) /* buffered responses; streamed ones are unbounded */
#define READ_PER_TURN (256u << 10)     /* input bytes read in one read callback at most (see the top) */

struct mz_http_call {
  mz_http_client *cl;
  mz_http_call *next;
  struct evbuffer *request;  /* head + fixed body, or head + chunks written so far */
  bool chunked, ended, sent; /* sent: request bytes handed to the connection */
  bool cancelled;
  bool head_method; /* HEAD: the response has no body whatever its headers say */
  mz_http_call_cbs cbs;
  void *arg;
  int status;
  bool headers_seen;
  mz_hheaders headers;
  struct evbuffer *body;
  bool streaming;
};

struct mz_http_client {
  struct event_base *base;
  char *host;
  int port;
  char *source;
  char *unix_path; /* mz_http_client_set_unix_path: connect there first */
  char hostport[160]; /* "host:port", for messages */
  bool via_tcp;       /* the connection (last made) goes to host:port */
  bool warned;        /* the socket could not be reached: said once */
  double timeout;
  struct bufferevent *bev;
  bool connected;
  http_parser parser;
  mz_http_call *head, *tail;
  struct event *timer;
  struct event *kick; /* zero-delay: starts the head call outside the caller's stack */
  struct event *flush; /* active while output waits to be written (lowest priority) */
  bool write_waiting;  /* output left after a flush: EV_WRITE on until it drains */
  int busy;
  bool dead;
  int pipeline; /* most calls written and unanswered (1: no pipelining) */
};

static http_parser_settings settings;
static void start_head(mz_http_client *c);

/* Where the connection goes, for messages. */
static const char *where(const mz_http_client *c) { return c->via_tcp || !c->unix_path ? c->hostport : c->unix_path; }

static void call_free(mz_http_call *k) {
  if (k->request) evbuffer_free(k->request);
  if (k->body) evbuffer_free(k->body);
  mz_hheaders_free(&k->headers);
  free(k);
}

static void disconnect(mz_http_client *c) {
  if (c->bev) bufferevent_free(c->bev);
  c->bev = NULL;
  c->connected = false;
  c->write_waiting = false;
  if (c->timer) evtimer_del(c->timer);
}

static void pop_head(mz_http_client *c) {
  mz_http_call *k = c->head;
  c->head = k->next;
  if (!c->head) c->tail = NULL;
  call_free(k);
}

/* Ends the head call: on_complete (unless cancelled), then frees it. */
static void complete_head(mz_http_client *c, int status, const char *err) {
  mz_http_call *k = c->head;
  if (!k) return;
  if (c->timer) evtimer_del(c->timer);
  if (!k->cancelled && k->cbs.on_complete) {
    const uint8_t *body = NULL;
    size_t len = 0;
    if (status > 0 && !k->streaming) {
      evbuffer_add(k->body, "", 1); /* NUL terminator, not counted */
      len = evbuffer_get_length(k->body) - 1;
      body = evbuffer_pullup(k->body, -1);
    }
    c->busy++;
    k->cbs.on_complete(k, status, body, len, err, k->arg);
    c->busy--;
  }
  if (c->head == k) pop_head(c);
}

static void maybe_free(mz_http_client *c);

static void arm_timer(mz_http_client *c) {
  if (c->timeout > 0 && c->timer) {
    struct timeval tv = {(time_t)c->timeout, (suseconds_t)((c->timeout - (double)(time_t)c->timeout) * 1e6)};
    evtimer_add(c->timer, &tv);
  }
}

/* After the connection is gone: the calls written on it behind the head can
 * no longer be answered; they fail too (the server may have acted on them). */
static void fail_written(mz_http_client *c, const char *err) {
  c->busy++;
  while (!c->dead && c->head && c->head->sent) complete_head(c, 0, err);
  c->busy--;
}

static void fail_head(mz_http_client *c, const char *err) {
  disconnect(c);
  c->busy++;
  complete_head(c, 0, err);
  c->busy--;
  if (c->dead) return;
  fail_written(c, err);
  if (c->dead) return;
  if (c->head) start_head(c);
}

/* ------------------------------------------------------------- parser callbacks */

static int r_begin(http_parser *p) { return 0; }

static int r_field(http_parser *p, const char *at, size_t len) {
  mz_http_client *c = p->data;
  if (!c->head) return -1;
  return mz_hheaders_field(&c->head->headers, at, len);
}

static int r_value(http_parser *p, const char *at, size_t len) {
  mz_http_client *c = p->data;
  if (!c->head) return -1;
  mz_hheaders_value(&c->head->headers, at, len);
  return 0;
}

static int r_headers_complete(http_parser *p) {
  mz_http_client *c = p->data;
  mz_http_call *k = c->head;
  if (!k) return -1;
  mz_hheaders_finish(&k->headers);
  k->status = p->status_code;
  if (k->status / 100 == 1 && k->status != 101) return 1; /* interim (100 Continue): the real head follows */
  k->headers_seen = true;
  if (k->streaming) {
    if (c->timer) evtimer_del(c->timer); /* a stream lives as long as it lives */
    if (!k->cancelled) {
      c->busy++;
      k->cbs.on_headers(k, k->status, k->arg);
      c->busy--;
      if (c->dead || k->cancelled) return -1;
    }
  }
  return k->head_method ? 1 : 0; /* 1: no body follows */
}

static int r_body(http_parser *p, const char *at, size_t len) {
  mz_http_client *c = p->data;
  mz_http_call *k = c->head;
  if (!k) return -1;
  if (k->streaming) {
    if (k->cancelled) return -1;
    c->busy++;
    k->cbs.on_data(k, (const uint8_t *)at, len, k->arg);
    c->busy--;
    if (c->dead || k->cancelled) return -1;
    return 0;
  }
  if (evbuffer_get_length(k->body) + len > MAX_RESPONSE_BODY) return -1;
  evbuffer_add(k->body, at, len);
  arm_timer(c); /* the response is moving */
  return 0;
}

static int r_complete(http_parser *p) {
  mz_http_client *c = p->data;
  mz_http_call *k = c->head;
  if (!k) return -1;
  if (!k->headers_seen) { /* an interim response ended: reset for the real one */
    mz_hheaders_free(&k->headers);
    return 0;
  }
  http_parser_pause(p, 1);
  return 0;
}

/* ----------------------------------------------------------------- connection */

/* Reads what the socket holds beyond libevent's 4096 bytes (see the top), up to
 * READ_PER_TURN in all; an end of stream or an error is left to libevent's next
 * read. The input's end is frozen outside libevent's own read, as the output's
 * start is (mz_http_write_now): thawed for these reads. */
static void read_on(struct bufferevent *bev, struct evbuffer *in) {
  evbuffer_unfreeze(in, 0);
  while (evbuffer_get_length(in) < READ_PER_TURN && evbuffer_read(in, bufferevent_getfd(bev), -1) > 0) {
  }
  evbuffer_freeze(in, 0);
}

static void on_read(struct bufferevent *bev, void *arg) {
  mz_http_client *c = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  read_on(bev, in);
  c->busy++;
  while (!c->dead && c->bev == bev && evbuffer_get_length(in) > 0) {
    if (!c->head || !c->head->sent) { /* unsolicited bytes: the server is confused; drop the connection */
      disconnect(c);
      if (c->head) start_head(c);
      break;
    }
    struct evbuffer_iovec v;
    evbuffer_peek(in, -1, NULL, &v, 1);
    size_t n = http_parser_execute(&c->parser, &settings, v.iov_base, v.iov_len);
    if (c->dead || c->bev != bev) break;
    evbuffer_drain(in, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
      http_parser_pause(&c->parser, 0);
      /* The connection serves the next call only if the server keeps it and
       * this call's request body was ended (else the server is still in it). */
      bool keep = http_should_keep_alive(&c->parser) && c->head->ended;
      complete_head(c, c->head->status, NULL);
      if (c->dead) break;
      if (!keep) {
        disconnect(c);
        fail_written(c, "the server closed the connection before answering pipelined requests");
        if (!c->dead && c->head) start_head(c);
        break;
      }
      http_parser_init(&c->parser, HTTP_RESPONSE);
      c->parser.data = c;
      if (c->head) start_head(c);
      continue;
    }
    if (e != HPE_OK) {
      if (c->head && c->head->cancelled) { /* a cancelled stream: drop the connection quietly */
        disconnect(c);
        pop_head(c);
        fail_written(c, "connection dropped with a cancelled call");
        if (!c->dead && c->head) start_head(c);
        break;
      }
      char err[160];
      snprintf(err, sizeof err, "bad response from %s: %s", where(c), http_errno_description(e));
      fail_head(c, err);
      break;
    }
  }
  c->busy--;
  maybe_free(c);
}

/* Writes what the connection's output holds; the rest (or an error, reported
 * through on_event) is left to libevent's EV_WRITE. */
static void on_flush(evutil_socket_t fd, short what, void *arg) {
  mz_http_client *c = arg;
  if (c->bev && c->connected && !c->write_waiting && mz_http_write_now(c->bev) > 0) c->write_waiting = true;
}

static void on_output_added(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg) {
  mz_http_client *c = arg;
  if (info->n_added == 0 || !c->connected || c->write_waiting || event_pending(c->flush, EV_TIMEOUT, NULL)) return;
  int n = event_base_get_npriorities(c->base);
  event_priority_set(c->flush, n > 0 ? n - 1 : 0);
  event_active(c->flush, EV_TIMEOUT, 0);
}

/* libevent wrote what a flush left and the output is empty: back to flushing. */
static void on_write(struct bufferevent *bev, void *arg) {
  mz_http_client *c = arg;
  if (!c->write_waiting) return;
  c->write_waiting = false;
  bufferevent_disable(bev, EV_WRITE);
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  mz_http_client *c = arg;
  c->busy++;
  if (what & BEV_EVENT_CONNECTED) {
    c->connected = true;
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* TCP: see connect_now */
    if (c->head) start_head(c);
  } else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    char err[200];
    int e = EVUTIL_SOCKET_ERROR();
    if (what & BEV_EVENT_EOF) {
      /* A response delimited by the end of the connection is complete now. */
      if (c->head && c->head->headers_seen) {
        http_parser_execute(&c->parser, &settings, NULL, 0);
        if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) {
          http_parser_pause(&c->parser, 0);
          disconnect(c);
          complete_head(c, c->head->status, NULL);
          if (!c->dead) fail_written(c, "the server closed the connection before answering pipelined requests");
          if (!c->dead && c->head) start_head(c);
          c->busy--;
          maybe_free(c);
          return;
        }
      }
      snprintf(err, sizeof err, "connection to %s closed", where(c));
    } else {
      snprintf(err, sizeof err, "connection to %s failed: %s", where(c),
               e ? evutil_socket_error_to_string(e) : "error");
    }
    if (c->head) fail_head(c, err);
    else disconnect(c);
  }
  c->busy--;
  maybe_free(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
  mz_http_client *c = arg;
  char err[160];
  snprintf(err, sizeof err, "request to %s timed out after %.1f s", where(c), c->timeout);
  c->busy++;
  if (c->head) fail_head(c, err);
  c->busy--;
  maybe_free(c);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *sl, char *err, size_t errlen) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  int rc = getaddrinfo(host, ps, &hints, &res);
  if (rc != 0 || !res) {
    snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
    return -1;
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *sl = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

/* Binds fd to c->source (TCP only). 0, or -1 with err. */
static int bind_source(mz_http_client *c, int fd, int family, char *err, size_t errlen) {
  struct sockaddr_storage src;
  memset(&src, 0, sizeof src);
  socklen_t srclen = 0;
  struct sockaddr_in *s4 = (struct sockaddr_in *)&src;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src;
  if (family == AF_INET && inet_pton(AF_INET, c->source, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    srclen = sizeof *s4;
  } else if (family == AF_INET6 && inet_pton(AF_INET6, c->source, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    srclen = sizeof *s6;
  }
  if (!srclen) {
    snprintf(err, errlen, "source address %s does not fit the address of %s", c->source, c->host);
    return -1;
  }
  if (bind(fd, (struct sockaddr *)&src, srclen) != 0) {
    snprintf(err, errlen, "cannot bind source address %s: %s", c->source, strerror(errno));
    return -1;
  }
  return 0;
}

/* A Unix socket connects at once or not at all (EAGAIN: the server's backlog is full),
 * and libevent reports no BEV_EVENT_CONNECTED for a connect done at once: it is made
 * here. The connected socket, or -1 with errno. */
static int connect_unix(const char *path) {
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path, strlen(path)); /* fits: checked when set */
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    fd = -1;
  }
  return fd;
}

static int connect_now(mz_http_client *c, char *err, size_t errlen) {
  int fd = -1;
  c->via_tcp = !c->unix_path;
  if (c->unix_path && (fd = connect_unix(c->unix_path)) < 0) {
    if (!c->warned) /* once per client: a socket that has gone stays gone */
      MZ_WARN("http", "cannot connect to %s: %s; connecting to %s:%d instead", c->unix_path, strerror(errno), c->host,
              c->port);
    c->warned = true;
    c->via_tcp = true;
  }
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  if (c->via_tcp) {
    if (resolve(c->host, c->port, &ss, &sl, err, errlen) != 0) return -1;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      snprintf(err, errlen, "socket: %s", strerror(errno));
      return -1;
    }
    if (c->source && bind_source(c, fd, ss.ss_family, err, errlen) != 0) {
      close(fd);
      return -1;
    }
  }
  c->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!c->bev) {
    close(fd);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
  /* EV_WRITE only while a flush left output behind (libevent watches the connect
   * itself); libevent enables it on every new bufferevent. EV_READ once the connect
   * is under way: the connect re-registers whatever is enabled by then. */
  bufferevent_disable(c->bev, EV_WRITE);
  evbuffer_add_cb(bufferevent_get_output(c->bev), on_output_added, c);
  http_parser_init(&c->parser, HTTP_RESPONSE);
  c->parser.data = c;
  if (!c->via_tcp) {
    c->connected = true; /* connect_unix */
  } else if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, (int)sl) != 0) {
    snprintf(err, errlen, "cannot connect to %s: %s", where(c), strerror(errno));
    bufferevent_free(c->bev);
    c->bev = NULL;
    return -1;
  }
  bufferevent_enable(c->bev, EV_READ);
  return 0;
}

/* Puts the head call on the wire (connecting first if needed). */
static void start_head(mz_http_client *c) {
  mz_http_call *k = c->head;
  if (!k || c->dead) return;
  while (k && k->cancelled && !k->sent) { /* cancelled before it was sent: drop silently */
    pop_head(c);
    k = c->head;
  }
  if (!k) return;
  if (!c->bev) {
    char err[256];
    if (connect_now(c, err, sizeof err) != 0) {
      c->busy++;
      complete_head(c, 0, err);
      c->busy--;
      if (!c->dead && c->head) start_head(c); /* the next call tries again */
      return;
    }
  }
  arm_timer(c);
  if (!c->connected) return;
  if (!k->sent) {
    k->sent = true;
    bufferevent_write_buffer(c->bev, k->request); /* moves the bytes */
  }
  /* Pipelining: write the calls behind the head while each one before them is
   * a complete request with a buffered response. */
  int written = 1;
  for (mz_http_call *p = k; p->next && written < c->pipeline; p = p->next) {
    if (p->streaming || !p->ended || p->head_method) break;
    mz_http_call *q = p->next;
    if (q->streaming || !q->ended || q->head_method) break;
    if (!q->sent) {
      q->sent = true;
      bufferevent_write_buffer(c->bev, q->request);
    }
    written++;
  }
}

static void maybe_free(mz_http_client *c) {
  if (!c->dead || c->busy > 0) return;
  disconnect(c);
  while (c->head) pop_head(c);
  if (c->timer) event_free(c->timer);
  if (c->kick) event_free(c->kick);
  if (c->flush) event_free(c->flush);
  free(c->host);
  free(c->source);
  free(c->unix_path);
  free(c);
}

/* -------------------------------------------------------------------- public */

static void on_kick(evutil_socket_t fd, short what, void *arg) {
  mz_http_client *c = arg;
  c->busy++;
  start_head(c);
  c->busy--;
  maybe_free(c);
}

static void kick(mz_http_client *c) {
  static const struct timeval zero = {0, 0};
  evtimer_add(c->kick, &zero);
}

static bool valid_token(const char *s) { /* method, header name */
  if (!s || !*s) return false;
  for (; *s; s++)
    if (*s <= ' ' || *s >= 127 || *s == ':') return false;
  return true;
}

static bool valid_text(const char *s) { /* path, header value */
  if (!s) return false;
  for (; *s; s++)
    if (*s == '\r' || *s == '\n') return false;
  return true;
}

mz_http_client *mz_http_client_new(struct event_base *base, const char *host, int port) {
  static bool init;
  if (!init) {
    init = true;
    settings.on_message_begin = r_begin;
    settings.on_header_field = r_field;
    settings.on_header_value = r_value;
    settings.on_headers_complete = r_headers_complete;
    settings.on_body = r_body;
    settings.on_message_complete = r_complete;
  }
  mz_http_client *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->base = base;
  c->host = mz_strdup(host);
  c->port = port;
  snprintf(c->hostport, sizeof c->hostport, "%s:%d", host, port);
  c->timeout = 30.0;
  c->pipeline = 1;
  c->timer = evtimer_new(base, on_timeout, c);
  c->kick = evtimer_new(base, on_kick, c);
  c->flush = event_new(base, -1, 0, on_flush, c);
  if (!c->timer || !c->kick || !c->flush) {
    if (c->timer) event_free(c->timer);
    if (c->kick) event_free(c->kick);
    if (c->flush) event_free(c->flush);
    free(c->host);
    free(c);
    return NULL;
  }
  return c;
}

int mz_http_client_set_unix_path(mz_http_client *c, const char *path) {
  if (path && (!*path || strlen(path) >= MZ_UNIX_PATH_MAX)) return -1;
  free(c->unix_path);
  c->unix_path = path ? mz_strdup(path) : NULL;
  c->warned = false;
  return 0;
}

void mz_http_client_set_source(mz_http_client *c, const char *ip) {
  free(c->source);
  c->source = ip ? mz_strdup(ip) : NULL;
}

void mz_http_client_set_timeout(mz_http_client *c, double seconds) { c->timeout = seconds > 0 ? seconds : 0; }

void mz_http_client_set_pipeline(mz_http_client *c, int depth) {
  c->pipeline = depth < 1 ? 1 : depth > MZ_HTTP_MAX_PIPELINE ? MZ_HTTP_MAX_PIPELINE : depth;
}

void mz_http_client_free(mz_http_client *c) {
  if (!c) return;
  c->dead = true;
  for (mz_http_call *k = c->head; k; k = k->next) k->cancelled = true;
  maybe_free(c);
}

mz_http_call *mz_http_client_request(mz_http_client *c, const char *method, const char *path,
                                     const char *const *headers, const void *body, ssize_t body_len,
                                     const mz_http_call_cbs *cbs, void *arg) {
  if (!c || c->dead || !cbs || !cbs->on_complete || body_len < -1) return NULL;
  if (!valid_token(method) || !valid_text(path) || !*path || strchr(path, ' ')) return NULL;
  for (size_t i = 0; headers && headers[i]; i += 2)
    if (!headers[i + 1] || !valid_token(headers[i]) || !valid_text(headers[i + 1])) return NULL;
  mz_http_call *k = mz_calloc(1, sizeof *k);
  k->cl = c;
  k->cbs = *cbs;
  k->arg = arg;
  k->streaming = cbs->on_headers && cbs->on_data;
  k->head_method = !strcmp(method, "HEAD");
  k->request = evbuffer_new();
  k->body = evbuffer_new();
  if (!k->request || !k->body) abort();
  evbuffer_add_printf(k->request, "%s %s HTTP/1.1\r\n", method, path);
  bool has_host = false;
  for (size_t i = 0; headers && headers[i]; i += 2) {
    if (!strcasecmp(headers[i], "Host")) has_host = true;
    evbuffer_add_printf(k->request, "%s: %s\r\n", headers[i], headers[i + 1]);
  }
  if (!has_host) {
    bool v6 = strchr(c->host, ':') != NULL;
    evbuffer_add_printf(k->request, "Host: %s%s%s:%d\r\n", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
  }
  if (body_len < 0) {
    k->chunked = true;
    evbuffer_add_printf(k->request, "Transfer-Encoding: chunked\r\n\r\n");
  } else {
    evbuffer_add_printf(k->request, "Content-Length: %zu\r\n\r\n", (size_t)body_len);
    if (body_len > 0) evbuffer_add(k->request, body, (size_t)body_len);
    k->ended = true;
  }
  if (c->tail) c->tail->next = k;
  else c->head = k;
  c->tail = k;
  if (c->head == k || c->pipeline > 1) kick(c);
  return k;
}

const char *mz_http_call_header(const mz_http_call *k, const char *name) {
  return k->headers_seen ? mz_hheaders_get(&k->headers, name) : NULL;
}

static int add_chunk(mz_http_call *k, const char *head, size_t hlen, const void *data, size_t len) {
  if (!k->chunked || k->ended || k->cancelled) return -1;
  size_t total = hlen + len;
  if (total == 0) return 0;
  mz_http_client *c = k->cl;
  struct evbuffer *out = (k->sent && c->bev) ? bufferevent_get_output(c->bev) : k->request;
  if (k->sent && !c->bev) return -1;
  evbuffer_add_printf(out, "%zx\r\n", total);
  if (hlen) evbuffer_add(out, head, hlen);
  if (len) evbuffer_add(out, data, len);
  evbuffer_add(out, "\r\n", 2);
  return 0;
}

int mz_http_call_write(mz_http_call *k, const void *data, size_t len) { return add_chunk(k, NULL, 0, data, len); }

int mz_http_call_write_record(mz_http_call *k, const void *data, size_t len) {
  char head[32];
  int hn = snprintf(head, sizeof head, "%zu\n", len);
  return add_chunk(k, head, (size_t)hn, data, len);
}

void mz_http_call_end(mz_http_call *k) {
  if (!k->chunked || k->ended || k->cancelled) return;
  mz_http_client *c = k->cl;
  struct evbuffer *out = (k->sent && c->bev) ? bufferevent_get_output(c->bev) : k->request;
  if (!(k->sent && !c->bev)) evbuffer_add(out, "0\r\n\r\n", 5);
  k->ended = true;
}

void mz_http_call_cancel(mz_http_call *k) {
  if (!k || k->cancelled) return;
  mz_http_client *c = k->cl;
  k->cancelled = true;
  if (c->head == k && k->sent) {
    /* In flight: the connection cannot be reused. */
    if (c->busy > 0) {
      /* Inside a callback of this client: the parser callbacks see the flag and stop. */
      return;
    }
    disconnect(c);
    pop_head(c);
    c->busy++;
    if (c->head) start_head(c);
    c->busy--;
    maybe_free(c);
  } else if (c->head != k && k->sent) {
    /* Written behind the head (pipelined): its response will come and be dropped. */
  } else if (c->head != k) {
    /* Queued: unlink now. */
    mz_http_call *prev = c->head;
    while (prev && prev->next != k) prev = prev->next;
    if (prev) {
      prev->next = k->next;
      if (c->tail == k) c->tail = prev;
      call_free(k);
    }
  }
  /* Head but not yet sent (connecting): start_head drops it when connected. */
}

/* -------------------------------------------------------------- blocking fetch */

typedef struct {
  struct event_base *base;
  int status;
  char location[MZ_HTTP_HOST_MAX + 1024]; /* of a 307 or 308 */
  char **body;
  size_t *len;
  char *err;
  size_t errlen;
  bool done;
} fetch_ctx;

static void fetch_done(mz_http_call *k, int status, const uint8_t *body, size_t len, const char *err, void *arg) {
  fetch_ctx *f = arg;
  f->done = true;
  f->status = status;
  const char *loc = (status == 307 || status == 308) ? mz_http_call_header(k, "Location") : NULL;
  mz_strlcpy(f->location, loc ? loc : "", sizeof f->location);
  if (status > 0) {
    if (f->body) {
      *f->body = mz_malloc(len + 1);
      if (len) memcpy(*f->body, body, len);
      (*f->body)[len] = 0;
    }
    if (f->len) *f->len = len;
  } else if (f->err) {
    snprintf(f->err, f->errlen, "%s", err ? err : "request failed");
  }
  event_base_loopbreak(f->base);
}

static int fetch_once(const char *host, int port, const char *method, const char *path, const char *const *headers,
                  const void *body, size_t body_len, char **resp_body, size_t *resp_len, double timeout_s,
                  char *err, size_t errlen, char *location, size_t loclen) {
  if (resp_body) *resp_body = NULL;
  if (resp_len) *resp_len = 0;
  struct event_base *base = event_base_new();
  if (!base) {
    if (err) snprintf(err, errlen, "out of memory");
    return 0;
  }
  fetch_ctx f = {base, 0, "", resp_body, resp_len, err, errlen, false};
  mz_http_client *c = mz_http_client_new(base, host, port);
  mz_http_client_set_timeout(c, timeout_s);
  mz_http_call_cbs cbs = {.on_complete = fetch_done};
  mz_http_client_request(c, method, path, headers, body, (ssize_t)body_len, &cbs, &f);
  while (!f.done) {
    if (event_base_loop(base, EVLOOP_ONCE) != 0) break;
  }
  mz_http_client_free(c);
  event_base_free(base);
  if (!f.done && err) snprintf(err, errlen, "request did not complete");
  mz_strlcpy(location, f.location, loclen);
  return f.done ? f.status : 0;
}

int mz_http_fetch(const char *host, int port, const char *method, const char *path, const char *const *headers,
                  const void *body, size_t body_len, char **resp_body, size_t *resp_len, double timeout_s,
                  char *err, size_t errlen) {
  char h[MZ_HTTP_HOST_MAX], p[1024], loc[MZ_HTTP_HOST_MAX + 1024];
  mz_strlcpy(h, host, sizeof h);
  mz_strlcpy(p, path, sizeof p);
  for (int hops = 0;; hops++) {
    int status = fetch_once(h, port, method, p, headers, body, body_len, resp_body, resp_len, timeout_s, err, errlen,
                            loc, sizeof loc);
    /* 307 / 308: a master that does not lead names the leader; the same request goes there. */
    int nport;
    char nhost[MZ_HTTP_HOST_MAX];
    if ((status != 307 && status != 308) || hops >= MZ_HTTP_MAX_REDIRECTS ||
        mz_http_parse_address(loc, nhost, sizeof nhost, &nport) != 0)
      return status;
    const char *rest = strncmp(loc, "http://", 7) == 0 ? loc + 7 : strncmp(loc, "//", 2) == 0 ? loc + 2 : loc;
    rest = strchr(rest, '/');
    if (rest && *rest) mz_strlcpy(p, rest, sizeof p);
    mz_strlcpy(h, nhost, sizeof h);
    port = nport;
    if (resp_body) {
      free(*resp_body);
      *resp_body = NULL;
    }
  }
}
