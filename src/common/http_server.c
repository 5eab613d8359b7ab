/* http_server: the server half of http.h.
 *
 * Each connection (hconn) owns a bufferevent, an http-parser and a FIFO of the
 * requests parsed from it. Only the head of the FIFO is handled: its handler
 * runs once the whole request is in (buffered routes) or as soon as its head is
 * in (STREAM_BODY routes, whose body bytes then go to the on_body callback
 * while the reply may already be streaming back: full duplex). Requests behind
 * it wait in order (pipelining); past MAX_PIPELINE queued requests the
 * connection stops reading until the head is answered.
 *
 * A request is freed when its reply is complete and its own body has been read
 * to the end (or when the connection closes; on_close runs then if its reply
 * was unfinished). A handler that answers later without an on_close callback
 * is protected: its request is kept, detached from the dead connection, until
 * its reply is finished (the reply then goes nowhere). Nothing is freed inside
 * a parser callback or while a handler runs: conn_pump() is the only place
 * that frees requests and connections, and it is never re-entered
 * (c->pumping / c->again); after a reply it runs from the write callback, once
 * the reply is out.
 *
 * Output is written optimistically: a connection's bufferevent keeps EV_WRITE
 * disabled, bytes added to its output put it on the server's flush list, and a
 * flush event of the lowest priority (after the callbacks already due in this
 * loop turn) writes each listed connection once. Only what the socket does not
 * take at once waits for EV_WRITE; when the output drains, on_write runs as it
 * would from libevent. Writes go out within the loop turn that made them, with
 * no epoll_ctl to add and then remove write interest for each.
 *
 * A connection that must close (error reply, "Connection: close", refused
 * past max_connections) writes its last reply, shuts its write side and reads
 * until the peer closes or 2 s pass (a lingering close, so that the peer reads
 * the reply instead of a reset). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "common/http.h"
#include "common/http_internal.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_PIPELINE 32
#define MAX_URL_BYTES 8192

typedef struct hroute {
  char *path;
  int flags;
  mz_http_handler h;
  void *arg;
} hroute;

typedef struct hconn hconn;

struct mz_http_req {
  hconn *c; /* NULL once orphaned */
  mz_http_server *srv;
  mz_http_req *next; /* FIFO of the connection */
  char method[24];
  mz_hbuf url;        /* raw target */
  char *path;         /* decoded, no query */
  char *query;        /* raw, without '?' */
  mz_hheaders headers;
  struct evbuffer *body;
  const hroute *route;
  bool headers_done, message_done, dispatched, keep_alive;
  int reply; /* 0 none, 1 streaming, 2 done */
  mz_hheaders resp_headers;
  void (*on_close)(mz_http_req *, void *);
  void *on_close_arg;
  void (*on_body)(mz_http_req *, const uint8_t *, size_t, void *);
  void *on_body_arg;
  bool body_end_sent;
  bool is_head;  /* HEAD: replies carry no body */
  bool in_close; /* its on_close callback is running */
  mz_http_req *oprev, *onext; /* orphans: connection gone, reply still owed */
  void *data;
  char peer[64];
};

struct hconn {
  mz_http_server *s;
  hconn *prev, *next;
  struct bufferevent *bev;
  http_parser parser;
  mz_http_req *head, *tail; /* FIFO; tail is the one being parsed when !tail->message_done */
  size_t nqueued;
  size_t header_bytes;
  int err_status;     /* set by a parser callback: answer it and close */
  char err_msg[160];
  bool err_pending;   /* err_status waits for the requests before it to be answered */
  bool closing;       /* close once output is written */
  bool bulk;          /* served at the lowest priority (MZ_HTTP_ROUTE_BULK) */
  bool lingering;     /* last reply written, write side shut: wait for the peer's close */
  bool rejected;      /* past max_connections: answered 503, not counted */
  bool dead;          /* peer gone: free at the end of the pump */
  bool pumping, again;
  bool flush_queued;  /* on the server's flush list */
  bool write_waiting; /* output left after a flush: EV_WRITE enabled until it drains */
  hconn *fprev, *fnext;
  char peer[64];
};

struct mz_http_server {
  struct event_base *base;
  mz_http_limits lim;
  struct evconnlistener *lst;
  int port;
  char *unix_path; /* mz_http_server_listen_unix: removed at free while it is still ours */
  dev_t unix_dev;
  ino_t unix_ino;
  hroute *routes;
  size_t nroutes;
  int (*gate)(const char *path, void *arg); /* mz_http_server_set_gate */
  hroute gate_route;
  hconn *conns;
  size_t nconns, nrejected;
  mz_http_req *orphans;
  struct event *relisten; /* accept paused after an error such as EMFILE */
  struct event *flush;    /* writes the connections on the flush list */
  hconn *flushq;
};

#define MAX_REJECTING 256 /* 503 answers being written at once; past it refused connections just close */
#define LINGER_SECONDS 2

static http_parser_settings settings;
static void conn_pump(hconn *c);

/* ------------------------------------------------------------------ helpers */

static const char *reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

static mz_http_req *req_new(hconn *c) {
  mz_http_req *r = mz_calloc(1, sizeof *r);
  r->c = c;
  r->srv = c->s;
  r->body = evbuffer_new();
  if (!r->body) abort();
  mz_strlcpy(r->peer, c->peer, sizeof r->peer);
  return r;
}

static void req_free(mz_http_req *r) {
  mz_hbuf_free(&r->url);
  free(r->path);
  free(r->query);
  mz_hheaders_free(&r->headers);
  mz_hheaders_free(&r->resp_headers);
  evbuffer_free(r->body);
  free(r);
}

static void orphan_add(mz_http_req *r) {
  mz_http_server *s = r->srv;
  r->c = NULL;
  r->oprev = NULL;
  r->onext = s->orphans;
  if (s->orphans) s->orphans->oprev = r;
  s->orphans = r;
}

static void orphan_free(mz_http_req *r) {
  if (r->oprev) r->oprev->onext = r->onext;
  else r->srv->orphans = r->onext;
  if (r->onext) r->onext->oprev = r->oprev;
  req_free(r);
}

/* ------------------------------------------------------------ parser callbacks */

static hconn *pconn(http_parser *p) { return p->data; }

static int fail(hconn *c, int status, const char *msg) {
  if (!c->err_status) {
    c->err_status = status;
    mz_strlcpy(c->err_msg, msg, sizeof c->err_msg);
  }
  return -1;
}

static int cb_message_begin(http_parser *p) {
  hconn *c = pconn(p);
  mz_http_req *r = req_new(c);
  if (c->tail) c->tail->next = r;
  else c->head = r;
  c->tail = r;
  c->nqueued++;
  c->header_bytes = 0;
  return 0;
}

static int count_header(hconn *c, size_t len) {
  c->header_bytes += len;
  if (c->header_bytes > c->s->lim.max_header_bytes) return fail(c, 431, "Request header fields too large");
  return 0;
}

static int cb_url(http_parser *p, const char *at, size_t len) {
  hconn *c = pconn(p);
  if (count_header(c, len)) return -1;
  if (c->tail->url.len + len > MAX_URL_BYTES) return fail(c, 414, "Request-URI too long");
  mz_hbuf_append(&c->tail->url, at, len);
  return 0;
}

static int cb_header_field(http_parser *p, const char *at, size_t len) {
  hconn *c = pconn(p);
  if (count_header(c, len)) return -1;
  if (mz_hheaders_field(&c->tail->headers, at, len) != 0) return fail(c, 431, "Too many request header fields");
  return 0;
}

static int cb_header_value(http_parser *p, const char *at, size_t len) {
  hconn *c = pconn(p);
  if (count_header(c, len)) return -1;
  mz_hheaders_value(&c->tail->headers, at, len);
  return 0;
}

static const hroute *find_route(const mz_http_server *s, const char *path) {
  for (size_t i = 0; i < s->nroutes; i++) {
    const hroute *rt = &s->routes[i];
    if (rt->flags & MZ_HTTP_ROUTE_PREFIX) {
      if (!strncmp(path, rt->path, strlen(rt->path))) return rt;
    } else if (!strcmp(path, rt->path)) {
      return rt;
    }
  }
  return NULL;
}

static int cb_headers_complete(http_parser *p) {
  hconn *c = pconn(p);
  mz_http_req *r = c->tail;
  mz_hheaders_finish(&r->headers);
  mz_strlcpy(r->method, http_method_str((enum http_method)p->method), sizeof r->method);
  r->is_head = p->method == HTTP_HEAD;
  r->keep_alive = http_should_keep_alive(p) != 0;
  mz_hbuf_append(&r->url, "", 0); /* NUL-terminate */
  const char *url = r->url.data ? r->url.data : "/";
  const char *q = strchr(url, '?');
  size_t plen = q ? (size_t)(q - url) : strlen(url);
  const char *hash = q ? strchr(q, '#') : strchr(url, '#');
  if (!q && hash) plen = (size_t)(hash - url);
  r->path = mz_malloc(plen + 1);
  if (mz_http_percent_decode(url, plen, r->path, plen + 1, false) != 0) return fail(c, 400, "Malformed request path");
  if (q) {
    size_t qlen = hash ? (size_t)(hash - q - 1) : strlen(q + 1);
    r->query = mz_malloc(qlen + 1);
    memcpy(r->query, q + 1, qlen);
    r->query[qlen] = 0;
  } else {
    r->query = mz_strdup("");
  }
  r->route = c->s->gate && c->s->gate(r->path, c->s->gate_route.arg) ? &c->s->gate_route : find_route(c->s, r->path);
  r->headers_done = true;
  bool stream = r->route && (r->route->flags & MZ_HTTP_ROUTE_STREAM_BODY);
  if (!stream && (p->flags & F_CONTENTLENGTH) && p->content_length > c->s->lim.max_body_bytes) {
    char msg[128];
    snprintf(msg, sizeof msg, "Request body of %llu bytes is larger than the limit of %zu bytes",
             (unsigned long long)p->content_length, c->s->lim.max_body_bytes);
    return fail(c, 413, msg);
  }
  /* A client that waits for "100 Continue" before its body gets it, if this
   * request is the one being answered (else the interim reply would come
   * before an earlier request's reply; the client sends anyway after a while). */
  const char *expect = mz_hheaders_get(&r->headers, "Expect");
  if (expect && !strcasecmp(expect, "100-continue") && p->http_major == 1 && p->http_minor >= 1 && r == c->head)
    evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
  /* A streaming route's handler runs now, before the body is parsed. */
  if (stream) http_parser_pause(p, 1);
  return 0;
}

static int cb_body(http_parser *p, const char *at, size_t len) {
  hconn *c = pconn(p);
  mz_http_req *r = c->tail;
  if (r->reply == 2 && !r->on_body) return 0; /* answered already: discard the rest */
  if (r->dispatched) { /* a streaming route: to its handler, or dropped if it takes no body */
    if (!r->on_body) return 0;
    r->on_body(r, (const uint8_t *)at, len, r->on_body_arg);
    return c->dead ? -1 : 0;
  }
  bool stream = r->route && (r->route->flags & MZ_HTTP_ROUTE_STREAM_BODY);
  if (!stream && evbuffer_get_length(r->body) + len > c->s->lim.max_body_bytes) {
    char msg[128];
    snprintf(msg, sizeof msg, "Request body is larger than the limit of %zu bytes", c->s->lim.max_body_bytes);
    return fail(c, 413, msg);
  }
  if (stream && evbuffer_get_length(r->body) + len > c->s->lim.max_body_bytes)
    return fail(c, 413, "Too much request body before the handler took it");
  evbuffer_add(r->body, at, len);
  return 0;
}

static int cb_message_complete(http_parser *p) {
  hconn *c = pconn(p);
  mz_http_req *r = c->tail;
  r->message_done = true;
  if (r->dispatched && r->on_body && !r->body_end_sent) {
    r->body_end_sent = true;
    r->on_body(r, NULL, 0, r->on_body_arg);
  }
  http_parser_pause(p, 1); /* back to the pump: dispatch, and maybe stop reading */
  return 0;
}

/* -------------------------------------------------------------- connections */

static void write_error_and_close(hconn *c, int status, const char *msg) {
  struct evbuffer *out = bufferevent_get_output(c->bev);
  size_t n = strlen(msg);
  evbuffer_add_printf(out,
                      "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n%s",
                      status, reason_phrase(status), n, msg);
  c->closing = true;
  bufferevent_disable(c->bev, EV_READ);
}

/* ------------------------------------------------------------------ flushing */

static void flush_unlist(hconn *c) {
  if (!c->flush_queued) return;
  if (c->fprev) c->fprev->fnext = c->fnext;
  else c->s->flushq = c->fnext;
  if (c->fnext) c->fnext->fprev = c->fprev;
  c->fprev = c->fnext = NULL;
  c->flush_queued = false;
}

/* The output evbuffer's callback: new bytes list the connection for the next flush. */
static void on_output_added(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg) {
  (void)buf;
  hconn *c = arg;
  mz_http_server *s = c->s;
  if (info->n_added == 0 || c->flush_queued || c->write_waiting || c->dead) return;
  c->flush_queued = true;
  c->fprev = NULL;
  c->fnext = s->flushq;
  if (s->flushq) s->flushq->fprev = c;
  s->flushq = c;
  if (!event_pending(s->flush, EV_TIMEOUT, NULL)) { /* (an active event counts as pending) */
    int n = event_base_get_npriorities(s->base);
    event_priority_set(s->flush, n > 0 ? n - 1 : 0); /* the loop's priorities may come after the server */
    event_active(s->flush, EV_TIMEOUT, 0);
  }
}

static void on_write(struct bufferevent *bev, void *arg);

static void on_flush(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  mz_http_server *s = arg;
  while (s->flushq) {
    hconn *c = s->flushq;
    flush_unlist(c);
    if (c->dead || c->write_waiting) continue;
    int left = mz_http_write_now(c->bev);
    if (left < 0) continue;
    if (left > 0) { /* the rest (or the error: reported through on_event) is left to libevent */
      c->write_waiting = true;
      continue;
    }
    on_write(c->bev, c); /* drained, as libevent would report it (may free c) */
  }
}

static void conn_free(hconn *c) {
  mz_http_server *s = c->s;
  /* Unfinished requests: tell their owners, then free. */
  mz_http_req *r = c->head;
  c->head = c->tail = NULL;
  while (r) {
    mz_http_req *next = r->next;
    r->next = NULL;
    if (r->dispatched && r->reply != 2) {
      if (r->on_close) {
        r->c = NULL;
        r->in_close = true;
        r->on_close(r, r->on_close_arg);
        req_free(r);
      } else {
        orphan_add(r); /* its handler still owes a reply: keep it valid until then */
      }
    } else {
      req_free(r);
    }
    r = next;
  }
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->rejected) s->nrejected--;
  else s->nconns--;
  flush_unlist(c);
  bufferevent_free(c->bev);
  free(c);
}

/* The last reply is out: shut the write side and wait (bounded) for the peer to close. */
static void start_linger(hconn *c) {
  c->lingering = true;
  shutdown(bufferevent_getfd(c->bev), SHUT_WR);
  struct evbuffer *in = bufferevent_get_input(c->bev);
  evbuffer_drain(in, evbuffer_get_length(in));
  struct timeval tv = {LINGER_SECONDS, 0};
  bufferevent_set_timeouts(c->bev, &tv, NULL);
  bufferevent_enable(c->bev, EV_READ);
}

/* Removes finished requests from the head of the FIFO. */
static void reap(hconn *c) {
  while (c->head && c->head->reply == 2 && c->head->message_done) {
    mz_http_req *r = c->head;
    c->head = r->next;
    if (!c->head) c->tail = NULL;
    c->nqueued--;
    bool ka = r->keep_alive;
    req_free(r);
    if (!ka) {
      c->closing = true;
      bufferevent_disable(c->bev, EV_READ);
      /* Drop whatever was pipelined behind a "Connection: close" request. */
      while (c->head) {
        mz_http_req *n = c->head->next;
        req_free(c->head);
        c->head = n;
      }
      c->tail = NULL;
      c->nqueued = 0;
      return;
    }
  }
}

static void dispatch(hconn *c, mz_http_req *r) {
  r->dispatched = true;
  if (!r->route) {
    mz_http_reply_error(r, 404, "No handler for %s", r->path);
    return;
  }
  if ((r->route->flags & MZ_HTTP_ROUTE_BULK) && !c->bulk) {
    int n = event_base_get_npriorities(c->s->base);
    if (n > 1) bufferevent_priority_set(c->bev, n - 1);
    c->bulk = true;
  }
  r->route->h(r, r->route->arg);
  if (c->dead) return;
  bool stream = r->route->flags & MZ_HTTP_ROUTE_STREAM_BODY;
  if (stream && r->on_body) {
    size_t n = evbuffer_get_length(r->body);
    if (n) {
      uint8_t *data = mz_malloc(n);
      evbuffer_remove(r->body, data, n);
      r->on_body(r, data, n, r->on_body_arg);
      free(data);
      if (c->dead) return;
    }
    if (r->message_done && !r->body_end_sent) {
      r->body_end_sent = true;
      r->on_body(r, NULL, 0, r->on_body_arg);
    }
  }
}

static void conn_pump(hconn *c) {
  if (c->pumping) {
    c->again = true;
    return;
  }
  c->pumping = true;
  struct evbuffer *in = bufferevent_get_input(c->bev);
  for (;;) {
    c->again = false;
    if (c->dead) break;
    reap(c);
    if (c->closing) break;
    if (c->err_pending && !c->head) { /* everything before the bad request is answered */
      write_error_and_close(c, c->err_status, c->err_msg);
      break;
    }
    mz_http_req *r = c->head;
    if (r && !r->dispatched && r->headers_done &&
        (r->message_done || (r->route && (r->route->flags & MZ_HTTP_ROUTE_STREAM_BODY)))) {
      dispatch(c, r);
      continue;
    }
    if (c->err_pending) break; /* nothing more is parsed */
    /* Parse more only if the head still needs its body, or nothing is waiting. */
    bool head_reading = r && !r->message_done;
    if (!head_reading && c->nqueued >= MAX_PIPELINE) {
      bufferevent_disable(c->bev, EV_READ);
      break;
    }
    if (r && r->message_done && r->reply != 2 && !head_reading) {
      /* Head is being answered; keep reading pipelined requests (bounded above). */
    }
    size_t avail = evbuffer_get_length(in);
    if (avail == 0) {
      bufferevent_enable(c->bev, EV_READ);
      break;
    }
    struct evbuffer_iovec v;
    evbuffer_peek(in, -1, NULL, &v, 1);
    size_t n = http_parser_execute(&c->parser, &settings, v.iov_base, v.iov_len);
    evbuffer_drain(in, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
      http_parser_pause(&c->parser, 0);
      continue;
    }
    if (c->dead) break;
    if (e != HPE_OK || c->err_status) {
      if (!c->err_status) {
        c->err_status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
        snprintf(c->err_msg, sizeof c->err_msg, "Malformed request: %s", http_errno_description(e));
      }
      MZ_DEBUG("http", "%s: bad request: %s", c->peer, c->err_msg);
      mz_http_req *t = c->tail;
      /* The body of a streaming request whose handler runs is broken: that
       * handler owns the reply, so the connection just ends (on_close runs). */
      if (t && t->dispatched && !t->message_done) {
        c->dead = true;
        break;
      }
      if (t && !t->message_done) { /* drop the unfinished request; it never reached a handler */
        mz_http_req **pp = &c->head, *prev = NULL;
        while (*pp != t) {
          prev = *pp;
          pp = &(*pp)->next;
        }
        *pp = NULL;
        c->tail = prev;
        c->nqueued--;
        req_free(t);
      }
      /* Answer in order: after the requests before it, if any. */
      c->err_pending = true;
      bufferevent_disable(c->bev, EV_READ);
      continue;
    }
    if (n < v.iov_len) { /* cannot happen without an error; be safe */
      write_error_and_close(c, 400, "Malformed request");
      break;
    }
  }
  c->pumping = false;
  if (c->dead) {
    conn_free(c);
    return;
  }
  if (c->closing && !c->lingering && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) start_linger(c);
}

static void on_read(struct bufferevent *bev, void *arg) {
  hconn *c = arg;
  if (c->lingering || c->rejected) {
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  conn_pump(c);
}

/* Output drained to empty: a finished reply is out (free it, serve the next
 * pipelined request), or the last reply of a closing connection is. */
static void on_write(struct bufferevent *bev, void *arg) {
  hconn *c = arg;
  if (c->write_waiting) { /* libevent wrote what a flush left: back to flushing */
    c->write_waiting = false;
    bufferevent_disable(bev, EV_WRITE);
  }
  if (c->pumping || c->lingering) return;
  if (c->closing) {
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) start_linger(c);
    return;
  }
  conn_pump(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  hconn *c = arg;
  if (c->lingering || c->rejected) { /* peer closed, error, or linger timeout */
    if (!c->pumping) conn_free(c);
    return;
  }
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
    if (c->pumping) {
      c->dead = true;
      return;
    }
    /* EOF: a request whose body ends with the connection (HTTP/1.0 style) is complete. */
    if ((what & BEV_EVENT_EOF) && !c->closing) http_parser_execute(&c->parser, &settings, NULL, 0);
    c->dead = true;
    conn_pump(c);
  }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg) {
  mz_http_server *s = arg;
  char peer[64] = "?";
  if (sa->sa_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    snprintf(peer, sizeof peer, "%s:%d", ip, ntohs(in->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    snprintf(peer, sizeof peer, "[%s]:%d", ip, ntohs(in6->sin6_port));
  } else if (sa->sa_family == AF_UNIX) {
    mz_strlcpy(peer, "unix", sizeof peer); /* a client's socket has no name */
  }
  bool reject = s->nconns >= s->lim.max_connections;
  if (reject) {
    MZ_WARN("http", "refused connection from %s: %zu connections open (the limit)", peer, s->nconns);
    if (s->nrejected >= MAX_REJECTING) {
      evutil_closesocket(fd);
      return;
    }
  }
  int one = 1;
  if (sa->sa_family != AF_UNIX) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    evutil_closesocket(fd);
    return;
  }
  hconn *c = mz_calloc(1, sizeof *c);
  c->s = s;
  c->bev = bev;
  mz_strlcpy(c->peer, peer, sizeof c->peer);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  bufferevent_setcb(bev, on_read, on_write, on_event, c);
  if (event_base_get_npriorities(s->base) > 1) bufferevent_priority_set(bev, 0); /* until it asks for bulk */
  /* EV_WRITE only while a flush left output behind. libevent enables it on every new
   * bufferevent: left so, each reply would add write interest to epoll and remove it
   * again once libevent had written it, a loop turn later. */
  bufferevent_disable(bev, EV_WRITE);
  bufferevent_enable(bev, EV_READ);
  evbuffer_add_cb(bufferevent_get_output(bev), on_output_added, c);
  if (reject) {
    c->rejected = true;
    s->nrejected++;
    char msg[128];
    snprintf(msg, sizeof msg, "Too many open connections (limit %zu)", s->lim.max_connections);
    write_error_and_close(c, 503, msg);
    return;
  }
  s->nconns++;
}

static void on_relisten(evutil_socket_t fd, short what, void *arg) {
  mz_http_server *s = arg;
  if (s->lst) evconnlistener_enable(s->lst);
}

/* accept() failed for a reason that does not go away by itself (EMFILE,
 * ENFILE, ENOBUFS): pause accepting for a moment instead of spinning. */
static void on_listen_error(struct evconnlistener *l, void *arg) {
  mz_http_server *s = arg;
  int e = EVUTIL_SOCKET_ERROR();
  MZ_WARN("http", "accept failed: %s; accepting again in 100 ms", evutil_socket_error_to_string(e));
  evconnlistener_disable(l);
  struct timeval tv = {0, 100000};
  evtimer_add(s->relisten, &tv);
}

/* ------------------------------------------------------------------- server */

mz_http_server *mz_http_server_new(struct event_base *base, const mz_http_limits *limits) {
  static bool init;
  if (!init) {
    init = true;
    settings.on_message_begin = cb_message_begin;
    settings.on_url = cb_url;
    settings.on_header_field = cb_header_field;
    settings.on_header_value = cb_header_value;
    settings.on_headers_complete = cb_headers_complete;
    settings.on_body = cb_body;
    settings.on_message_complete = cb_message_complete;
  }
  mz_http_server *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->base = base;
  s->relisten = evtimer_new(base, on_relisten, s);
  s->flush = event_new(base, -1, 0, on_flush, s);
  if (!s->relisten || !s->flush) {
    if (s->relisten) event_free(s->relisten);
    if (s->flush) event_free(s->flush);
    free(s);
    return NULL;
  }
  s->lim.max_connections = 16384;
  s->lim.max_header_bytes = 64 * 1024;
  s->lim.max_body_bytes = 16 * 1024 * 1024;
  if (limits) {
    if (limits->max_connections) s->lim.max_connections = limits->max_connections;
    if (limits->max_header_bytes) s->lim.max_header_bytes = limits->max_header_bytes;
    if (limits->max_body_bytes) s->lim.max_body_bytes = limits->max_body_bytes;
  }
  return s;
}

int mz_http_server_listen(mz_http_server *s, const char *ip, int port, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (!ip || !*ip) ip = "0.0.0.0";
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    sl = sizeof *in;
  } else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    sl = sizeof *in6;
  } else {
    snprintf(err, errlen, "'%s' is not an IP address", ip);
    return -1;
  }
  if (port < 0 || port > 65535) {
    snprintf(err, errlen, "port %d is out of range", port);
    return -1;
  }
  s->lst = evconnlistener_new_bind(s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096,
                                   (struct sockaddr *)&ss, (int)sl);
  if (!s->lst) {
    snprintf(err, errlen, "cannot listen on %s:%d: %s", ip, port, strerror(errno));
    return -1;
  }
  evconnlistener_set_error_cb(s->lst, on_listen_error);
  struct sockaddr_storage bound;
  socklen_t bl = sizeof bound;
  getsockname(evconnlistener_get_fd(s->lst), (struct sockaddr *)&bound, &bl);
  s->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  return 0;
}

int mz_http_server_listen_unix(mz_http_server *s, const char *path, mode_t mode, char *err, size_t errlen) {
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  size_t n = strlen(path);
  _Static_assert(sizeof sun.sun_path == MZ_UNIX_PATH_MAX, "sun_path");
  if (n == 0 || n >= MZ_UNIX_PATH_MAX) {
    snprintf(err, errlen, "socket path '%s' must have 1 to %d characters", path, MZ_UNIX_PATH_MAX - 1);
    return -1;
  }
  memcpy(sun.sun_path, path, n);
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path); /* left by an earlier run */
  /* Not bound by libevent: the socket's file must get its mode between the bind and
   * the listen, before a client can connect. */
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  if (bind(fd, (struct sockaddr *)&sun, (socklen_t)sizeof sun) != 0) {
    snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  if (chmod(path, mode) != 0 || lstat(path, &st) != 0) {
    snprintf(err, errlen, "cannot chmod %s: %s", path, strerror(errno));
    close(fd);
    unlink(path);
    return -1;
  }
  s->lst = evconnlistener_new(s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE, 4096, fd);
  if (!s->lst) {
    snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
    close(fd);
    unlink(path);
    return -1;
  }
  evconnlistener_set_error_cb(s->lst, on_listen_error);
  s->unix_path = mz_strdup(path);
  s->unix_dev = st.st_dev;
  s->unix_ino = st.st_ino;
  return 0;
}

int mz_http_server_port(const mz_http_server *s) { return s->port; }
size_t mz_http_server_connections(const mz_http_server *s) { return s->nconns; }

void mz_http_server_free(mz_http_server *s) {
  if (!s) return;
  if (s->lst) evconnlistener_free(s->lst);
  s->lst = NULL;
  struct stat st;
  if (s->unix_path && lstat(s->unix_path, &st) == 0 && st.st_dev == s->unix_dev && st.st_ino == s->unix_ino)
    unlink(s->unix_path); /* not a file put there since */
  free(s->unix_path);
  event_free(s->relisten);
  event_free(s->flush);
  while (s->conns) {
    s->conns->dead = true;
    conn_free(s->conns);
  }
  while (s->orphans) orphan_free(s->orphans);
  for (size_t i = 0; i < s->nroutes; i++) free(s->routes[i].path);
  free(s->routes);
  free(s);
}

void mz_http_server_route(mz_http_server *s, const char *path, int flags, mz_http_handler h, void *arg) {
  s->routes = mz_realloc(s->routes, (s->nroutes + 1) * sizeof *s->routes);
  s->routes[s->nroutes++] = (hroute){mz_strdup(path), flags, h, arg};
}

void mz_http_server_set_gate(mz_http_server *s, int (*gate)(const char *path, void *arg), mz_http_handler h,
                             void *arg) {
  s->gate = gate;
  s->gate_route = (hroute){NULL, MZ_HTTP_ROUTE_STREAM_BODY, h, arg};
}

/* ------------------------------------------------------------------ requests */

const char *mz_http_req_method(const mz_http_req *r) { return r->method; }
const char *mz_http_req_path(const mz_http_req *r) { return r->path; }
const char *mz_http_req_query(const mz_http_req *r) { return r->query; }
const char *mz_http_req_header(const mz_http_req *r, const char *name) { return mz_hheaders_get(&r->headers, name); }
const char *mz_http_req_peer(const mz_http_req *r) { return r->peer; }
void mz_http_req_set_data(mz_http_req *r, void *data) { r->data = data; }
void *mz_http_req_get_data(const mz_http_req *r) { return r->data; }

const uint8_t *mz_http_req_body(const mz_http_req *r, size_t *len) {
  static const uint8_t empty[1] = {0};
  size_t n = evbuffer_get_length(r->body);
  if (len) *len = n;
  if (n == 0) return empty;
  return evbuffer_pullup(r->body, -1);
}

int mz_http_req_socket(const mz_http_req *r) {
  if (!r->c || r->c->dead || r->c->closing) return -1;
  return (int)bufferevent_getfd(r->c->bev);
}

void mz_http_req_abandon(mz_http_req *r) {
  hconn *c = r->c;
  r->reply = 2;
  r->on_close = NULL;
  if (!c) return;
  c->dead = true; /* freed (closed here, never shut down) when the pump ends, or now */
  bufferevent_disable(c->bev, EV_READ | EV_WRITE);
  if (!c->pumping) conn_free(c);
}

void mz_http_req_on_close(mz_http_req *r, void (*cb)(mz_http_req *, void *), void *arg) {
  r->on_close = cb;
  r->on_close_arg = arg;
}

void mz_http_req_on_body(mz_http_req *r, void (*cb)(mz_http_req *, const uint8_t *, size_t, void *), void *arg) {
  r->on_body = cb;
  r->on_body_arg = arg;
}

static bool valid_header_text(const char *s) {
  for (; *s; s++)
    if (*s == '\r' || *s == '\n') return false;
  return true;
}

static void write_head(mz_http_req *r, int status, const char *content_type, const char *framing) {
  struct evbuffer *out = bufferevent_get_output(r->c->bev);
  if (status < 100 || status > 999) status = 500;
  evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
  for (size_t i = 0; i < r->resp_headers.n; i++)
    evbuffer_add_printf(out, "%s: %s\r\n", r->resp_headers.v[i].name, r->resp_headers.v[i].value);
  if (content_type && valid_header_text(content_type)) evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
  evbuffer_add_printf(out, "%s\r\n", framing);
  if (!r->keep_alive) evbuffer_add_printf(out, "Connection: close\r\n");
  evbuffer_add(out, "\r\n", 2);
}

/* After a complete reply. A request whose body is still arriving (a streamed
 * upload answered early) ends its connection once the reply is written. The
 * request itself is freed by the pump, from the write callback once the reply
 * is out (or right away when the reply came from inside the pump). */
static void reply_done(mz_http_req *r) {
  r->reply = 2;
  hconn *c = r->c;
  if (!r->message_done) {
    /* The rest of the body will not be read: close once the reply is out. */
    r->keep_alive = false;
    r->on_body = NULL;
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
  }
  if (c->pumping) c->again = true;
}

/* Where a reply goes: 1 a live connection; 0 nowhere (the request is being
 * closed, or its connection died inside this pump); -1 an orphan, which the
 * caller frees as the reply is finished. */
static int reply_target(mz_http_req *r) {
  if (r->in_close) return 0;
  if (!r->c) return -1;
  if (r->c->dead) return 0;
  return 1;
}

void mz_http_req_add_header(mz_http_req *r, const char *name, const char *value) {
  if (r->reply != 0 || !name || !value) return;
  if (!*name || strpbrk(name, ":\r\n ") || !valid_header_text(value)) {
    MZ_WARN("http", "dropped invalid reply header '%s'", name);
    return;
  }
  mz_hheaders_add(&r->resp_headers, name, value);
}

void mz_http_reply(mz_http_req *r, int status, const char *content_type, const void *body, size_t len) {
  int t = reply_target(r);
  if (t < 0) {
    orphan_free(r);
    return;
  }
  if (r->reply != 0) return;
  if (t == 0) {
    r->reply = 2;
    return;
  }
  char framing[64];
  snprintf(framing, sizeof framing, "Content-Length: %zu", len);
  write_head(r, status, len || content_type ? content_type : NULL, framing);
  if (len && !r->is_head) evbuffer_add(bufferevent_get_output(r->c->bev), body, len);
  reply_done(r);
}

void mz_http_reply_file(mz_http_req *r, int status, const char *content_type, int fd, off_t len) {
  int t = reply_target(r);
  if (t < 0) {
    close(fd);
    orphan_free(r);
    return;
  }
  if (r->reply != 0 || t == 0) {
    close(fd);
    if (r->reply == 0) r->reply = 2;
    return;
  }
  struct evbuffer_file_segment *seg = NULL;
  if (len > 0 && !r->is_head) seg = evbuffer_file_segment_new(fd, 0, len, EVBUF_FS_CLOSE_ON_FREE);
  else close(fd);
  if (len > 0 && !r->is_head && !seg) {
    close(fd);
    mz_http_reply_error(r, 500, "cannot send the file");
    return;
  }
  char framing[64];
  snprintf(framing, sizeof framing, "Content-Length: %lld", (long long)(len > 0 ? len : 0));
  write_head(r, status, content_type, framing);
  if (seg) { /* sent from the file as the socket takes it (sendfile), never read into memory */
    if (evbuffer_add_file_segment(bufferevent_get_output(r->c->bev), seg, 0, len) != 0) {
      MZ_WARN("http", "cannot queue a file reply to %s: closing the connection", r->c->peer);
      r->keep_alive = false; /* the peer sees the body cut short by the close */
    }
    evbuffer_file_segment_free(seg); /* the buffer holds its own reference */
  }
  reply_done(r);
}

void mz_http_reply_error(mz_http_req *r, int status, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  mz_http_reply(r, status, "text/plain; charset=utf-8", msg, (size_t)n);
}

int mz_http_stream_start(mz_http_req *r, int status, const char *content_type) {
  if (r->reply != 0) return -1;
  if (reply_target(r) <= 0) return -1; /* an orphan stays owed its mz_http_stream_end or reply */
  write_head(r, status, content_type, "Transfer-Encoding: chunked");
  r->reply = 1;
  return 0;
}

/* Writes v in base (10 or 16) at p; returns the number of digits. */
static size_t put_uint(char *p, size_t v, unsigned base) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
  return n;
}

#define CHUNK_CONTIGUOUS_MAX 65536 /* chunks up to this size are written in one piece */

static int stream_chunk(mz_http_req *r, const char *pre, size_t prelen, const void *data, size_t len) {
  if (r->reply != 1 || reply_target(r) <= 0 || r->c->closing) return -1;
  if (prelen + len == 0 || r->is_head) return 0; /* an empty chunk would end the stream */
  struct evbuffer *out = bufferevent_get_output(r->c->bev);
  char head[32];
  size_t hn = put_uint(head, prelen + len, 16);
  head[hn++] = '\r';
  head[hn++] = '\n';
  size_t total = hn + prelen + len + 2;
  struct evbuffer_iovec v;
  /* Small chunks (every event of a stream) go in as one piece: one buffer operation, not four. */
  if (total <= CHUNK_CONTIGUOUS_MAX && evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) == 1 &&
      v.iov_len >= total) {
    char *p = v.iov_base;
    memcpy(p, head, hn);
    p += hn;
    if (prelen) memcpy(p, pre, prelen);
    p += prelen;
    if (len) memcpy(p, data, len);
    p += len;
    memcpy(p, "\r\n", 2);
    v.iov_len = total;
    return evbuffer_commit_space(out, &v, 1) == 0 ? 0 : -1;
  }
  evbuffer_add(out, head, hn);
  if (prelen) evbuffer_add(out, pre, prelen);
  if (len) evbuffer_add(out, data, len);
  evbuffer_add(out, "\r\n", 2);
  return 0;
}

int mz_http_stream_write(mz_http_req *r, const void *data, size_t len) { return stream_chunk(r, NULL, 0, data, len); }

int mz_http_stream_write_record(mz_http_req *r, const void *data, size_t len) {
  char head[32];
  size_t hn = put_uint(head, len, 10);
  head[hn++] = '\n';
  return stream_chunk(r, head, hn, data, len);
}

size_t mz_http_stream_backlog(const mz_http_req *r) {
  if (!r->c || r->c->dead || r->in_close) return 0;
  return evbuffer_get_length(bufferevent_get_output(r->c->bev));
}

void mz_http_stream_end(mz_http_req *r) {
  int t = reply_target(r);
  if (t < 0) {
    orphan_free(r);
    return;
  }
  if (r->reply != 1) return;
  if (t == 0) {
    r->reply = 2;
    return;
  }
  if (!r->is_head) evbuffer_add(bufferevent_get_output(r->c->bev), "0\r\n\r\n", 5);
  reply_done(r);
}

/* ------------------------------------------------------------------- queries */

int mz_http_query_get(const char *query, const char *key, char *out, size_t outlen) {
  if (!query || !key) return -1;
  size_t klen = strlen(key);
  const char *p = query;
  while (*p) {
    const char *amp = strchr(p, '&');
    size_t plen = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', plen);
    size_t nlen = eq ? (size_t)(eq - p) : plen;
    if (nlen == klen && !memcmp(p, key, klen)) {
      const char *v = eq ? eq + 1 : p + plen;
      size_t vlen = eq ? plen - nlen - 1 : 0;
      return mz_http_percent_decode(v, vlen, out, outlen, true);
    }
    if (!amp) break;
    p = amp + 1;
  }
  return -1;
}
