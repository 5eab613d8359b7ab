/* Unit tests of the HTTP server and client (http.h), both in this process on
 * one event loop: keep-alive and pipelining, chunked request bodies, the
 * limits (413, 431, 503), 404 and 400 for malformed requests (raw sockets),
 * query strings, streamed replies, the full-duplex stream the agent link uses,
 * on_close when a peer goes away, connection failures and mz_http_fetch.
 * Every wait is bounded, so a bug fails a test instead of hanging it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/http.h"
#include "common/log.h"
#include "common/util.h"

typedef struct {
  int done;
  int status;
  char body[4096];
  size_t len;
  char err[256];
  char data[1 << 17]; /* streamed bytes */
  size_t dlen;
  int headers;
} result;

static struct event_base *base;
static mz_http_server *srv;
static int port;
static int closes;
static mz_http_req *held; /* a request whose reply the test finishes later */

static void run_until(int *flag, int want) {
  double deadline = mz_monotonic() + 10;
  while (*flag < want && mz_monotonic() < deadline) {
    struct timeval tv = {0, 5000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
}

static void run_for(double s) {
  struct timeval tv = {0, (suseconds_t)(s * 1e6)};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

static void h_echo(mz_http_req *r, void *arg) {
  size_t n;
  const uint8_t *b = mz_http_req_body(r, &n);
  char out[2048];
  char q[64] = "";
  mz_http_query_get(mz_http_req_query(r), "q", q, sizeof q);
  const char *hx = mz_http_req_header(r, "x-test");
  int k = snprintf(out, sizeof out, "%s %s q=%s x=%s body=%.*s", mz_http_req_method(r), mz_http_req_path(r), q,
                   hx ? hx : "-", (int)n, (const char *)b);
  mz_http_req_add_header(r, "X-Reply", "yes");
  mz_http_reply(r, 200, "text/plain", out, (size_t)k);
}

static void h_peer(mz_http_req *r, void *arg) {
  const char *peer = mz_http_req_peer(r);
  mz_http_reply(r, 200, "text/plain", peer, strlen(peer));
}

static void h_hold(mz_http_req *r, void *arg) { held = r; }

#define FILE_BYTES (12u << 20) /* more than a loopback socket takes at once */
static char file_path[64];

static void h_file(mz_http_req *r, void *arg) {
  int fd = open(file_path, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  mz_http_reply_file(r, 200, "application/octet-stream", fd, FILE_BYTES);
}

static void on_close_count(mz_http_req *r, void *arg) { closes++; }

static void stream_body(mz_http_req *r, const uint8_t *d, size_t n, void *arg) {
  if (!d) {
    mz_http_stream_end(r);
    return;
  }
  mz_http_stream_write(r, d, n); /* echo the bytes back as they come */
}

static void h_duplex(mz_http_req *r, void *arg) {
  mz_http_req_on_close(r, on_close_count, NULL);
  mz_http_stream_start(r, 200, "application/json");
  mz_http_req_on_body(r, stream_body, NULL);
}

static void h_stream(mz_http_req *r, void *arg) {
  mz_http_req_on_close(r, on_close_count, NULL);
  mz_http_stream_start(r, 200, "text/plain");
  mz_http_stream_write_record(r, "one", 3);
  mz_http_stream_write_record(r, "two", 3);
  held = r; /* the test ends it, or the peer goes away */
}

static int setup(void **state) {
  base = event_base_new();
  mz_http_limits lim = {.max_connections = 8, .max_header_bytes = 2048, .max_body_bytes = 1000};
  srv = mz_http_server_new(base, &lim);
  mz_http_server_route(srv, "/echo", 0, h_echo, NULL);
  mz_http_server_route(srv, "/hold", 0, h_hold, NULL);
  mz_http_server_route(srv, "/peer", 0, h_peer, NULL);
  mz_http_server_route(srv, "/file", 0, h_file, NULL);
  mz_http_server_route(srv, "/duplex", MZ_HTTP_ROUTE_STREAM_BODY, h_duplex, NULL);
  mz_http_server_route(srv, "/stream", 0, h_stream, NULL);
  mz_http_server_route(srv, "/prefix/", MZ_HTTP_ROUTE_PREFIX, h_echo, NULL);
  char err[256];
  if (mz_http_server_listen(srv, "127.0.0.1", 0, err, sizeof err) != 0) return -1;
  port = mz_http_server_port(srv);
  closes = 0;
  held = NULL;
  return 0;
}

static int teardown(void **state) {
  mz_http_server_free(srv);
  event_base_free(base);
  return 0;
}

static void on_done(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err, void *arg) {
  result *r = arg;
  r->status = status;
  if (body) {
    r->len = len < sizeof r->body - 1 ? len : sizeof r->body - 1;
    memcpy(r->body, body, r->len);
    r->body[r->len] = 0;
  }
  if (err) mz_strlcpy(r->err, err, sizeof r->err);
  r->done++;
}

static void on_headers(mz_http_call *c, int status, void *arg) {
  result *r = arg;
  r->status = status;
  r->headers++;
}

static void on_data(mz_http_call *c, const uint8_t *d, size_t n, void *arg) {
  result *r = arg;
  if (r->dlen + n < sizeof r->data) {
    memcpy(r->data + r->dlen, d, n);
    r->dlen += n;
    r->data[r->dlen] = 0;
  }
}

static const mz_http_call_cbs buffered = {.on_complete = on_done};
static const mz_http_call_cbs streamed = {.on_complete = on_done, .on_headers = on_headers, .on_data = on_data};

/* Sends raw bytes on a plain socket and returns what comes back before close (or 2 s). */
static void raw_exchange(const char *req, size_t len, char *out, size_t outlen) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
  struct timeval tv = {0, 20000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t o = 0;
  double deadline = mz_monotonic() + 3;
  while (mz_monotonic() < deadline && o + 1 < outlen) {
    run_for(0.005);
    ssize_t n = recv(fd, out + o, outlen - 1 - o, 0);
    if (n == 0) break;
    if (n > 0) o += (size_t)n;
  }
  out[o] = 0;
  close(fd);
}

static void test_round_trip_keep_alive_and_order(void **state) {
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  result a = {0}, b = {0}, d = {0};
  const char *hdrs[] = {"X-Test", "v1", NULL};
  mz_http_client_request(c, "GET", "/echo?q=a%20b+c&z=1", hdrs, NULL, 0, &buffered, &a);
  mz_http_client_request(c, "POST", "/echo", NULL, "xyz", 3, &buffered, &b);
  mz_http_client_request(c, "GET", "/prefix/deeper", NULL, NULL, 0, &buffered, &d);
  run_until(&d.done, 1);
  assert_int_equal(a.done + b.done + d.done, 3);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.body, "GET /echo q=a b c x=v1 body=");
  assert_string_equal(b.body, "POST /echo q= x=- body=xyz");
  assert_string_equal(d.body, "GET /prefix/deeper q= x=- body=");
  assert_int_equal(mz_http_server_connections(srv), 1); /* one keep-alive connection served all three */
  mz_http_client_free(c);
}

static void test_pipelined_and_chunked_raw(void **state) {
  char out[4096];
  const char *req =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
      "GET /echo?q=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  raw_exchange(req, strlen(req), out, sizeof out);
  char *first = strstr(out, "body=abcde");
  char *second = strstr(out, "q=2");
  assert_non_null(first);
  assert_non_null(second);
  assert_true(first < second); /* answered in order */
  assert_non_null(strstr(out, "X-Reply: yes"));
}

static void test_limits_and_errors(void **state) {
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  result r404 = {0}, r413 = {0};
  mz_http_client_request(c, "GET", "/nowhere", NULL, NULL, 0, &buffered, &r404);
  run_until(&r404.done, 1);
  assert_int_equal(r404.status, 404);
  char big[1500];
  memset(big, 'a', sizeof big);
  mz_http_client_request(c, "POST", "/echo", NULL, big, sizeof big, &buffered, &r413);
  run_until(&r413.done, 1);
  assert_int_equal(r413.status, 413);
  assert_non_null(strstr(r413.body, "1000"));
  mz_http_client_free(c);

  char out[4096];
  char head[4096];
  int n = snprintf(head, sizeof head, "GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: %03000d\r\n\r\n", 1);
  raw_exchange(head, (size_t)n, out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 431"));
  raw_exchange("BLAH\r\n\r\n", 8, out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 400"));
  const char *badchunk = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
  raw_exchange(badchunk, strlen(badchunk), out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 400"));
  const char *badpath = "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n";
  raw_exchange(badpath, strlen(badpath), out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 400"));
  /* And the server still serves. */
  result ok = {0};
  c = mz_http_client_new(base, "127.0.0.1", port);
  mz_http_client_request(c, "GET", "/echo", NULL, NULL, 0, &buffered, &ok);
  run_until(&ok.done, 1);
  assert_int_equal(ok.status, 200);
  mz_http_client_free(c);
}

static void test_connection_limit(void **state) {
  int fds[8];
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  for (int i = 0; i < 8; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
  }
  for (int i = 0; i < 50 && mz_http_server_connections(srv) < 8; i++) run_for(0.01);
  assert_int_equal(mz_http_server_connections(srv), 8);
  char out[1024];
  raw_exchange("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 32, out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 503"));
  for (int i = 0; i < 8; i++) close(fds[i]);
  for (int i = 0; i < 100 && mz_http_server_connections(srv) > 0; i++) run_for(0.01);
  assert_int_equal(mz_http_server_connections(srv), 0);
}

static void test_streamed_reply_and_peer_close(void **state) {
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  result r = {0};
  mz_http_client_request(c, "GET", "/stream", NULL, NULL, 0, &streamed, &r);
  run_until(&r.headers, 1);
  assert_int_equal(r.status, 200);
  for (int i = 0; i < 200 && r.dlen < 10; i++) run_for(0.005);
  assert_string_equal(r.data, "3\none3\ntwo"); /* RecordIO records, each its own chunk */
  assert_non_null(held);
  assert_int_equal(mz_http_stream_write_record(held, "three", 5), 0);
  mz_http_stream_end(held);
  held = NULL;
  run_until(&r.done, 1);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.data, "3\none3\ntwo5\nthree");
  assert_int_equal(closes, 0); /* a finished reply is not a close */

  /* A record larger than one contiguous chunk piece (64 KiB) arrives whole. */
  static char big[100000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
  result rb = {0};
  mz_http_client_request(c, "GET", "/stream", NULL, NULL, 0, &streamed, &rb);
  run_until(&rb.headers, 1);
  for (int i = 0; i < 200 && rb.dlen < 10; i++) run_for(0.005);
  assert_non_null(held);
  assert_int_equal(mz_http_stream_write_record(held, big, sizeof big), 0);
  mz_http_stream_end(held);
  held = NULL;
  run_until(&rb.done, 1);
  assert_int_equal(rb.dlen, 10 + 7 + sizeof big);
  assert_memory_equal(rb.data + 10, "100000\n", 7);
  assert_memory_equal(rb.data + 17, big, sizeof big);

  /* The client goes away mid-stream: on_close runs on the server. */
  result r2 = {0};
  mz_http_client_request(c, "GET", "/stream", NULL, NULL, 0, &streamed, &r2);
  run_until(&r2.headers, 1);
  mz_http_client_free(c);
  run_until(&closes, 1);
  assert_int_equal(closes, 1);
  held = NULL;
}

static void test_full_duplex(void **state) {
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  result r = {0};
  mz_http_call *k = mz_http_client_request(c, "POST", "/duplex", NULL, NULL, -1, &streamed, &r);
  assert_non_null(k);
  /* The reply starts while the request body is still open. */
  run_until(&r.headers, 1);
  assert_int_equal(r.status, 200);
  assert_int_equal(mz_http_call_write_record(k, "ping", 4), 0);
  for (int i = 0; i < 400 && r.dlen < 6; i++) run_for(0.005);
  assert_string_equal(r.data, "4\nping"); /* echoed before the request ended */
  assert_int_equal(mz_http_call_write(k, "more", 4), 0);
  mz_http_call_end(k);
  run_until(&r.done, 1);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.data, "4\npingmore");
  mz_http_client_free(c);
}

/* Raw socket helpers for the tests that interleave the loop and the socket. */
static int raw_connect(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {0, 20000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

/* Reads (running the loop meanwhile) until `want` shows up or the peer closes (3 s at most). */
static size_t raw_read(int fd, char *out, size_t outlen, const char *want) {
  size_t o = 0;
  double deadline = mz_monotonic() + 3;
  out[0] = 0;
  while (mz_monotonic() < deadline && o + 1 < outlen) {
    run_for(0.005);
    ssize_t n = recv(fd, out + o, outlen - 1 - o, 0);
    if (n == 0) break;
    if (n > 0) {
      o += (size_t)n;
      out[o] = 0;
      if (want && strstr(out, want)) break;
    }
  }
  return o;
}

static void test_pipelined_error_waits_its_turn(void **state) {
  int fd = raw_connect();
  const char *req = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\nBLAH /x\r\n\r\n";
  assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
  for (int i = 0; i < 200 && !held; i++) run_for(0.005);
  assert_non_null(held);
  run_for(0.05);
  char out[2048];
  out[0] = 0;
  ssize_t n = recv(fd, out, sizeof out - 1, MSG_DONTWAIT);
  assert_true(n <= 0); /* nothing before the held request is answered */
  mz_http_reply(held, 200, "text/plain", "late", 4);
  held = NULL;
  raw_read(fd, out, sizeof out, NULL);
  char *ok = strstr(out, "HTTP/1.1 200");
  char *bad = strstr(out, "HTTP/1.1 400");
  assert_non_null(ok);
  assert_non_null(bad);
  assert_true(ok < bad);
  close(fd);
}

/* A reply goes out in the loop turn that read its request: written by the server's
 * flush, not left to a write event that would first be added to epoll (a turn later). */
static void test_reply_written_in_the_turn_of_its_request(void **state) {
  int fd = raw_connect();
  run_for(0.02); /* accepted */
  const char *req = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
  event_base_loop(base, EVLOOP_ONCE); /* the turn that reads the request */
  char out[2048];
  ssize_t n = recv(fd, out, sizeof out - 1, MSG_DONTWAIT);
  assert_true(n > 0);
  out[n] = 0;
  assert_non_null(strstr(out, "HTTP/1.1 200"));
  close(fd);
}

/* A file reply: Content-Length and every byte of the file, sent as the socket takes it
 * (most of it after the handler returned), then the connection serves the next request;
 * HEAD gets the length alone. */
static void test_file_reply(void **state) {
  snprintf(file_path, sizeof file_path, "/tmp/mz-test-http-file-XXXXXX");
  int wfd = mkstemp(file_path);
  assert_true(wfd >= 0);
  char *bytes = malloc(FILE_BYTES);
  for (size_t i = 0; i < FILE_BYTES; i++) bytes[i] = (char)(i * 7 + (i >> 12));
  assert_int_equal(write(wfd, bytes, FILE_BYTES), (ssize_t)FILE_BYTES);
  close(wfd);
  int fd = raw_connect();
  const char *req = "GET /file HTTP/1.1\r\nHost: x\r\n\r\nHEAD /file HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
  size_t cap = FILE_BYTES + 4096, got = 0;
  char *in = malloc(cap + 1);
  double deadline = mz_monotonic() + 10;
  while (mz_monotonic() < deadline && got < cap) {
    run_for(0.002);
    ssize_t n;
    while ((n = recv(fd, in + got, cap - got, MSG_DONTWAIT)) > 0) got += (size_t)n;
    if (memmem(in, got, "body=", 5)) break; /* the last reply (the file's bytes hold no such text) */
  }
  char *body = strstr(in, "\r\n\r\n");
  assert_non_null(body);
  body += 4;
  assert_non_null(strstr(in, "Content-Length: 12582912\r\n"));
  assert_true(got >= (size_t)(body - in) + FILE_BYTES);
  assert_memory_equal(body, bytes, FILE_BYTES);
  char *rest = body + FILE_BYTES;
  rest[got - (size_t)(rest - in)] = 0;
  assert_true(!strncmp(rest, "HTTP/1.1 200", 12)); /* the HEAD: no body, the length alone */
  assert_non_null(strstr(rest, "Content-Length: 12582912\r\n\r\nHTTP/1.1 200"));
  assert_non_null(strstr(rest, "GET /echo")); /* and the connection went on */
  close(fd);
  free(in);
  free(bytes);
  unlink(file_path);
}

static void test_expect_continue_and_head(void **state) {
  int fd = raw_connect();
  const char *head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  assert_int_equal(send(fd, head, strlen(head), 0), (ssize_t)strlen(head));
  char out[2048];
  raw_read(fd, out, sizeof out, "\r\n\r\n");
  assert_non_null(strstr(out, "HTTP/1.1 100 Continue"));
  assert_int_equal(send(fd, "hello", 5, 0), 5);
  raw_read(fd, out, sizeof out, "body=hello");
  assert_non_null(strstr(out, "body=hello"));
  close(fd);

  /* HEAD: headers only, and the client does not wait for a body. */
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  result r = {0}, after = {0};
  mz_http_client_request(c, "HEAD", "/echo", NULL, NULL, 0, &buffered, &r);
  mz_http_client_request(c, "GET", "/echo", NULL, NULL, 0, &buffered, &after);
  run_until(&after.done, 1);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.len, 0);
  assert_int_equal(after.status, 200);
  assert_string_equal(after.body, "GET /echo q= x=- body=");
  mz_http_client_free(c);
}

static void test_chunked_client_body_to_buffered_route(void **state) {
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  result r = {0}, next = {0};
  mz_http_call *k = mz_http_client_request(c, "POST", "/echo", NULL, NULL, -1, &buffered, &r);
  assert_non_null(k);
  assert_int_equal(mz_http_call_write(k, "ab", 2), 0); /* written before the connection is even up */
  run_for(0.02);
  assert_int_equal(mz_http_call_write(k, "cd", 2), 0);
  mz_http_call_end(k);
  assert_int_equal(mz_http_call_write(k, "x", 1), -1); /* ended */
  mz_http_client_request(c, "GET", "/echo?q=n", NULL, NULL, 0, &buffered, &next);
  run_until(&next.done, 1);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "POST /echo q= x=- body=abcd");
  assert_string_equal(next.body, "GET /echo q=n x=- body=");
  mz_http_client_free(c);
}

static void test_orphaned_request_reply_is_safe(void **state) {
  /* A handler that answers later and set no on_close: its client goes away first. */
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  result r = {0};
  mz_http_client_request(c, "GET", "/hold", NULL, NULL, 0, &buffered, &r);
  for (int i = 0; i < 200 && !held; i++) run_for(0.005);
  assert_non_null(held);
  mz_http_client_free(c);
  for (int i = 0; i < 200 && mz_http_server_connections(srv) > 0; i++) run_for(0.005);
  assert_int_equal(mz_http_server_connections(srv), 0);
  assert_string_equal(mz_http_req_path(held), "/hold"); /* still valid */
  assert_int_equal(mz_http_stream_start(held, 200, "text/plain"), -1);
  mz_http_reply(held, 200, "text/plain", "nobody", 6); /* goes nowhere; frees it */
  held = NULL;
  assert_int_equal(r.done, 0); /* a freed client calls nothing back */
}

static void on_data_cancel(mz_http_call *c, const uint8_t *d, size_t n, void *arg) {
  on_data(c, d, n, arg);
  if (((result *)arg)->dlen >= 5) mz_http_call_cancel(c);
}
static mz_http_client *freed_in_cb;
static void on_done_free(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err, void *arg) {
  on_done(c, status, body, len, err, arg);
  mz_http_client_free(freed_in_cb);
}

static void test_client_reentrancy_and_stream_timeout(void **state) {
  /* A stream outlives the client's timeout once its head is in. */
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  mz_http_client_set_timeout(c, 0.1);
  result r = {0};
  mz_http_client_request(c, "GET", "/stream", NULL, NULL, 0, &streamed, &r);
  run_until(&r.headers, 1);
  run_for(0.3);
  assert_int_equal(r.done, 0);
  assert_non_null(held);
  /* Cancelled from inside its own on_data: no on_complete; the server sees the close. */
  mz_http_call_cbs cancel_cbs = {.on_complete = on_done, .on_headers = on_headers, .on_data = on_data_cancel};
  mz_http_stream_write_record(held, "x", 1);
  for (int i = 0; i < 100 && r.dlen < 13; i++) run_for(0.005);
  assert_string_equal(r.data, "3\none3\ntwo1\nx");
  mz_http_client_free(c);
  run_until(&closes, 1);
  assert_int_equal(closes, 1);
  held = NULL;

  c = mz_http_client_new(base, "127.0.0.1", port);
  result r2 = {0};
  mz_http_client_request(c, "GET", "/stream", NULL, NULL, 0, &cancel_cbs, &r2);
  run_until(&closes, 2);
  assert_int_equal(closes, 2);
  assert_int_equal(r2.done, 0);
  assert_true(r2.dlen >= 5);
  held = NULL;
  /* The client still works after the cancel, and may be freed from a callback. */
  result r3 = {0};
  freed_in_cb = c;
  mz_http_call_cbs free_cbs = {.on_complete = on_done_free};
  mz_http_client_request(c, "GET", "/echo", NULL, NULL, 0, &free_cbs, &r3);
  run_until(&r3.done, 1);
  assert_int_equal(r3.status, 200);
  run_for(0.02);

  /* Cancelled while queued: never called back. */
  c = mz_http_client_new(base, "127.0.0.1", port);
  result q1 = {0}, q2 = {0};
  mz_http_client_request(c, "GET", "/echo", NULL, NULL, 0, &buffered, &q1);
  mz_http_call *k2 = mz_http_client_request(c, "GET", "/echo", NULL, NULL, 0, &buffered, &q2);
  mz_http_call_cancel(k2);
  run_until(&q1.done, 1);
  run_for(0.02);
  assert_int_equal(q1.status, 200);
  assert_int_equal(q2.done, 0);
  /* Bad arguments are refused, not sent. */
  const char *bad_hdrs[] = {"X-Evil", "a\r\nb", NULL};
  assert_null(mz_http_client_request(c, "GET", "/echo", bad_hdrs, NULL, 0, &buffered, &q2));
  assert_null(mz_http_client_request(c, "GET", "/e cho", NULL, NULL, 0, &buffered, &q2));
  mz_http_client_free(c);
}

/* Mangled requests (random bytes changed, cut, repeated) never crash the
 * server (run under ASan/UBSan) and it keeps serving. */
static void test_mangled_requests(void **state) {
  static const char *seeds[] = {
      "POST /duplex HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nping\r\n0\r\n\r\n",
      "POST /echo?q=%41 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /stream HTTP/1.1\r\n\r\n",
      "GET /prefix/a%2Fb?x=1 HTTP/1.0\r\nExpect: 100-continue\r\nConnection: keep-alive\r\n\r\n",
  };
  unsigned seed = 12345;
  for (int i = 0; i < 150; i++) {
    char buf[512];
    const char *src = seeds[i % 3];
    size_t n = strlen(src);
    memcpy(buf, src, n);
    int edits = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 4;
    for (int e = 0; e < edits; e++) {
      seed = seed * 1103515245 + 12345;
      size_t at = (seed >> 8) % n;
      buf[at] = (char)(seed >> 20);
    }
    seed = seed * 1103515245 + 12345;
    if (seed & 0x10000) n = (seed >> 4) % n + 1; /* cut */
    int fd = raw_connect();
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    (void)w;
    run_for(0.002);
    if (held) { /* a request that reached /stream: finish it or let the close do it */
      held = NULL;
    }
    close(fd);
    run_for(0.001);
  }
  for (int i = 0; i < 400 && mz_http_server_connections(srv) > 0; i++) run_for(0.005);
  held = NULL;
  result ok = {0};
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  mz_http_client_request(c, "GET", "/echo", NULL, NULL, 0, &buffered, &ok);
  run_until(&ok.done, 1);
  assert_int_equal(ok.status, 200);
  mz_http_client_free(c);
}

typedef struct {
  int port;
  int status;
  char body[256];
  char err[256];
  atomic_int done;
} fetch_job;

static void *fetch_thread(void *arg) {
  fetch_job *j = arg;
  char *body = NULL;
  size_t len = 0;
  const char *hdrs[] = {"X-Test", "f", NULL};
  j->status = mz_http_fetch("localhost", j->port, "POST", "/echo?q=fetch", hdrs, "data", 4, &body, &len, 5, j->err,
                            sizeof j->err);
  if (body) mz_strlcpy(j->body, body, sizeof j->body);
  free(body);
  atomic_store(&j->done, 1);
  return NULL;
}

static void test_fetch_success(void **state) {
  /* mz_http_fetch blocks on its own loop: run it in a thread while this loop serves. */
  fetch_job j = {.port = port};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, fetch_thread, &j), 0);
  double deadline = mz_monotonic() + 10;
  while (!atomic_load(&j.done) && mz_monotonic() < deadline) run_for(0.005);
  pthread_join(t, NULL);
  assert_int_equal(j.status, 200);
  assert_string_equal(j.body, "POST /echo q=fetch x=f body=data");
}

static void test_client_failures_and_fetch(void **state) {
  /* Nobody listens on a port we just closed. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  bind(fd, (struct sockaddr *)&a, sizeof a);
  socklen_t sl = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &sl);
  int dead = ntohs(a.sin_port);
  close(fd);
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", dead);
  result r = {0};
  mz_http_client_request(c, "GET", "/", NULL, NULL, 0, &buffered, &r);
  run_until(&r.done, 1);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.status, 0);
  assert_true(strlen(r.err) > 0);
  mz_http_client_free(c);

  /* A reply that never comes times out. */
  c = mz_http_client_new(base, "127.0.0.1", port);
  mz_http_client_set_timeout(c, 0.2);
  result t = {0};
  mz_http_client_request(c, "GET", "/hold", NULL, NULL, 0, &buffered, &t);
  run_until(&t.done, 1);
  assert_int_equal(t.status, 0);
  assert_non_null(strstr(t.err, "timed out"));
  mz_http_client_free(c);
  run_for(0.05);
  held = NULL;

  /* Blocking fetch (its own loop): against an unreachable port, then the name resolver. */
  char *body = NULL;
  size_t len = 0;
  char err[256] = "";
  int st = mz_http_fetch("127.0.0.1", dead, "GET", "/", NULL, NULL, 0, &body, &len, 2, err, sizeof err);
  assert_int_equal(st, 0);
  assert_true(strlen(err) > 0);
  free(body);
  st = mz_http_fetch("no-such-host.invalid", 80, "GET", "/", NULL, NULL, 0, &body, &len, 2, err, sizeof err);
  assert_int_equal(st, 0);
  assert_non_null(strstr(err, "resolve"));
  free(body);
}

typedef struct {
  int done;
  int order[64];
  int status[64];
} pipe_log;

typedef struct {
  pipe_log *log;
  int i;
} pipe_call;

static void on_pipe_done(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err, void *arg) {
  pipe_call *pc = arg;
  char want[32];
  snprintf(want, sizeof want, "q=%d ", pc->i);
  if (status == 200) assert_non_null(memmem(body, len, want, strlen(want))); /* its own answer */
  pc->log->status[pc->i] = status;
  pc->log->order[pc->log->done++] = pc->i;
}

static void test_client_pipelining(void **state) {
  /* 40 calls, 16 on the wire at a time: every answer reaches its own call, in order. */
  mz_http_client *c = mz_http_client_new(base, "127.0.0.1", port);
  mz_http_client_set_pipeline(c, 16);
  pipe_log log = {0};
  pipe_call pcs[40];
  mz_http_call_cbs cbs = {.on_complete = on_pipe_done};
  for (int i = 0; i < 40; i++) {
    pcs[i] = (pipe_call){&log, i};
    char path[32];
    snprintf(path, sizeof path, "/echo?q=%d", i);
    assert_non_null(mz_http_client_request(c, "POST", path, NULL, "b", 1, &cbs, &pcs[i]));
  }
  run_until(&log.done, 40);
  assert_int_equal(log.done, 40);
  for (int i = 0; i < 40; i++) {
    assert_int_equal(log.order[i], i);
    assert_int_equal(log.status[i], 200);
  }
  /* The server closes after a 413: the calls written behind it fail with it
   * (they were on the wire: none is resent), and the next call gets a new connection. */
  pipe_log log2 = {0};
  char big[1200];
  memset(big, 'x', sizeof big);
  for (int i = 0; i < 3; i++) {
    pcs[i] = (pipe_call){&log2, i};
    assert_non_null(mz_http_client_request(c, "POST", i ? "/echo?q=1" : "/echo?q=0", NULL, big, i ? 1 : sizeof big,
                                           &cbs, &pcs[i]));
  }
  run_until(&log2.done, 3);
  assert_int_equal(log2.done, 3);
  assert_int_equal(log2.status[0], 413);
  assert_int_equal(log2.status[1], 0);
  assert_int_equal(log2.status[2], 0);
  pcs[3] = (pipe_call){&log2, 3};
  assert_non_null(mz_http_client_request(c, "POST", "/echo?q=3", NULL, "b", 1, &cbs, &pcs[3]));
  run_until(&log2.done, 4);
  assert_int_equal(log2.status[3], 200);
  mz_http_client_free(c);
}

static void test_unix_socket_server_and_client(void **state) {
  char dir[] = "/tmp/mz-http-unix-XXXXXX", path[128], err[256];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/s.sock", dir);
  mz_http_server *us = mz_http_server_new(base, NULL);
  mz_http_server_route(us, "/echo", 0, h_echo, NULL);
  mz_http_server_route(us, "/peer", 0, h_peer, NULL);
  /* A socket file left by an earlier run is replaced; any other file is not. */
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  memcpy(sun.sun_path, path, strlen(path) + 1);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
  close(lfd);
  assert_int_equal(mz_http_server_listen_unix(us, path, 0666, err, sizeof err), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0666);

  /* Two calls on one connection, made at once (no BEV_EVENT_CONNECTED comes for it). */
  mz_http_client *c = mz_http_client_new(base, "agent.test", 5051);
  assert_int_equal(mz_http_client_set_unix_path(c, path), 0);
  result r1 = {0}, r2 = {0};
  assert_non_null(mz_http_client_request(c, "POST", "/echo?q=u", NULL, "hi", 2, &buffered, &r1));
  assert_non_null(mz_http_client_request(c, "GET", "/peer", NULL, NULL, 0, &buffered, &r2));
  run_until(&r2.done, 1);
  assert_int_equal(r1.status, 200);
  assert_string_equal(r1.body, "POST /echo q=u x=- body=hi");
  assert_int_equal(r2.status, 200);
  assert_string_equal(r2.body, "unix");
  mz_http_client_free(c);

  /* Paths a socket cannot have, and a server that is not there. */
  char longp[200];
  memset(longp, 'a', sizeof longp - 1);
  longp[0] = '/';
  longp[sizeof longp - 1] = 0;
  c = mz_http_client_new(base, "agent.test", 5051);
  assert_int_equal(mz_http_client_set_unix_path(c, longp), -1);
  assert_int_equal(mz_http_client_set_unix_path(c, ""), -1);
  mz_http_client_free(c);
  /* A socket that is not there: the call goes to host:port (the TCP test server)... */
  char missing[160];
  snprintf(missing, sizeof missing, "%s/none.sock", dir);
  c = mz_http_client_new(base, "127.0.0.1", port);
  assert_int_equal(mz_http_client_set_unix_path(c, missing), 0);
  result r3 = {0};
  assert_non_null(mz_http_client_request(c, "GET", "/peer", NULL, NULL, 0, &buffered, &r3));
  run_until(&r3.done, 1);
  assert_int_equal(r3.status, 200);
  assert_non_null(strstr(r3.body, "127.0.0.1:"));
  mz_http_client_free(c);
  /* ...and when neither answers, the error names host:port. */
  int spare = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  socklen_t sal = sizeof sa;
  assert_int_equal(bind(spare, (struct sockaddr *)&sa, sizeof sa), 0);
  getsockname(spare, (struct sockaddr *)&sa, &sal);
  c = mz_http_client_new(base, "127.0.0.1", ntohs(sa.sin_port)); /* bound, not listening: refused */
  assert_int_equal(mz_http_client_set_unix_path(c, missing), 0);
  result r4 = {0};
  assert_non_null(mz_http_client_request(c, "GET", "/peer", NULL, NULL, 0, &buffered, &r4));
  run_until(&r4.done, 1);
  assert_int_equal(r4.status, 0);
  char hp[64];
  snprintf(hp, sizeof hp, "127.0.0.1:%d", ntohs(sa.sin_port));
  assert_non_null(strstr(r4.err, hp));
  mz_http_client_free(c);
  close(spare);
  mz_http_server *other = mz_http_server_new(base, NULL);
  assert_int_equal(mz_http_server_listen_unix(other, longp, 0666, err, sizeof err), -1);
  assert_non_null(strstr(err, "107 characters"));
  char plain[160];
  snprintf(plain, sizeof plain, "%s/plain", dir);
  int pfd = open(plain, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  close(pfd);
  assert_int_equal(mz_http_server_listen_unix(other, plain, 0666, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot bind"));
  assert_int_equal(stat(plain, &st), 0); /* left alone */
  assert_true(S_ISREG(st.st_mode));
  mz_http_server_free(other);

  /* The server removes its socket's file when freed. */
  mz_http_server_free(us);
  assert_int_equal(stat(path, &st), -1);
  unlink(plain);
  rmdir(dir);
}

static void test_query_get(void **state) {
  char out[32];
  assert_int_equal(mz_http_query_get("a=1&b=x%2Fy+z&c", "b", out, sizeof out), 0);
  assert_string_equal(out, "x/y z");
  assert_int_equal(mz_http_query_get("a=1&b=2", "c", out, sizeof out), -1);
  assert_int_equal(mz_http_query_get("c", "c", out, sizeof out), 0);
  assert_string_equal(out, "");
  assert_int_equal(mz_http_query_get("a=%zz", "a", out, sizeof out), -1);
  assert_int_equal(mz_http_query_get("a=0123456789012345678901234567890123456789", "a", out, sizeof out), -1);
}

int main(void) {
  mz_log_set_level(MZ_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip_keep_alive_and_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipelined_and_chunked_raw, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits_and_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_streamed_reply_and_peer_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_full_duplex, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_failures_and_fetch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipelined_error_waits_its_turn, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reply_written_in_the_turn_of_its_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_reply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expect_continue_and_head, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunked_client_body_to_buffered_route, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orphaned_request_reply_is_safe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_reentrancy_and_stream_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fetch_success, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mangled_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_pipelining, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unix_socket_server_and_client, setup, teardown),
      cmocka_unit_test(test_query_get),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
