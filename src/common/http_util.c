/* http_util: see http_internal.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/http.h"
#include "common/http_internal.h"
#include "common/util.h"

void mz_hbuf_append(mz_hbuf *b, const char *data, size_t len) {
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + len + 1) cap *= 2;
    b->data = mz_realloc(b->data, cap);
    b->cap = cap;
  }
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = 0;
}

void mz_hbuf_free(mz_hbuf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static void flush(mz_hheaders *h) {
  if (!h->field.len) return;
  mz_hheaders_add(h, h->field.data, h->value.data ? h->value.data : "");
  h->field.len = h->value.len = 0;
  if (h->field.data) h->field.data[0] = 0;
  if (h->value.data) h->value.data[0] = 0;
}

int mz_hheaders_field(mz_hheaders *h, const char *at, size_t len) {
  if (h->in_value) {
    flush(h);
    h->in_value = false;
  }
  if (h->n >= MZ_HTTP_MAX_HEADERS) return -1;
  mz_hbuf_append(&h->field, at, len);
  return 0;
}

void mz_hheaders_value(mz_hheaders *h, const char *at, size_t len) {
  h->in_value = true;
  mz_hbuf_append(&h->value, at, len);
}

void mz_hheaders_finish(mz_hheaders *h) {
  flush(h);
  h->in_value = false;
  mz_hbuf_free(&h->field);
  mz_hbuf_free(&h->value);
}

void mz_hheaders_add(mz_hheaders *h, const char *name, const char *value) {
  h->v = mz_realloc(h->v, (h->n + 1) * sizeof *h->v);
  h->v[h->n].name = mz_strdup(name);
  h->v[h->n].value = mz_strdup(value);
  h->n++;
}

const char *mz_hheaders_get(const mz_hheaders *h, const char *name) {
  for (size_t i = 0; i < h->n; i++)
    if (!strcasecmp(h->v[i].name, name)) return h->v[i].value;
  return NULL;
}

void mz_hheaders_free(mz_hheaders *h) {
  for (size_t i = 0; i < h->n; i++) {
    free(h->v[i].name);
    free(h->v[i].value);
  }
  free(h->v);
  h->v = NULL;
  h->n = 0;
  mz_hbuf_free(&h->field);
  mz_hbuf_free(&h->value);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int mz_http_percent_decode(const char *in, size_t len, char *out, size_t outlen, bool plus_is_space) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = in[i];
    if (ch == '%') {
      if (i + 2 >= len) return -1;
      int a = hexval(in[i + 1]), b = hexval(in[i + 2]);
      if (a < 0 || b < 0) return -1;
      ch = (char)(a * 16 + b);
      if (ch == 0) return -1;
      i += 2;
    } else if (ch == '+' && plus_is_space) {
      ch = ' ';
    }
    if (o + 1 >= outlen) return -1;
    out[o++] = ch;
  }
  if (outlen == 0) return -1;
  out[o] = 0;
  return 0;
}

int mz_http_parse_address(const char *addr, char *host, size_t hostlen, int *port) {
  if (!addr) return -1;
  if (!strncmp(addr, "http://", 7)) addr += 7;
  else if (!strncmp(addr, "//", 2)) addr += 2;
  const char *end = strchr(addr, '/');
  size_t len = end ? (size_t)(end - addr) : strlen(addr);
  char buf[MZ_HTTP_HOST_MAX + 16];
  if (len == 0 || len >= sizeof buf) return -1;
  memcpy(buf, addr, len);
  buf[len] = 0;
  char *colon = strrchr(buf, ':');
  if (!colon || colon == buf) return -1;
  *colon = 0;
  char *pend;
  errno = 0;
  long p = strtol(colon + 1, &pend, 10);
  if (errno || pend == colon + 1 || *pend || p <= 0 || p > 65535) return -1;
  char *h = buf;
  size_t hl = strlen(h);
  if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
    h[hl - 1] = 0;
    h++;
  }
  if (mz_strlcpy(host, h, hostlen) < 0 || !*host) return -1;
  *port = (int)p;
  return 0;
}

int mz_http_write_now(struct bufferevent *bev) {
  struct evbuffer *out = bufferevent_get_output(bev);
  if (evbuffer_get_length(out) == 0) return -1;
  /* A socket bufferevent keeps its output's start frozen outside its own write
   * callback (evbuffer_write would fail at once): thawed for this write, as
   * libevent's callback does. */
  evbuffer_unfreeze(out, 1);
  int n = evbuffer_write(out, bufferevent_getfd(bev));
  evbuffer_freeze(out, 1);
  if (evbuffer_get_length(out) == 0 && n >= 0) return 0;
  bufferevent_enable(bev, EV_WRITE);
  return 1;
}

int mz_http_only_get(mz_http_req *r) {
  if (!strcmp(mz_http_req_method(r), "GET") || !strcmp(mz_http_req_method(r), "HEAD")) return 1;
  mz_http_req_add_header(r, "Allow", "GET");
  mz_http_reply_error(r, 405, "Expecting 'GET', received '%s'", mz_http_req_method(r));
  return 0;
}

/* Replies 200 with j (taken) as JSON, or with callback as JavaScript calling it. */
static void reply_json_as(mz_http_req *r, json_t *j, const char *callback) {
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!text) {
    mz_http_reply_error(r, 500, "cannot render the response");
    return;
  }
  if (callback) {
    size_t n = strlen(callback) + strlen(text) + 4;
    char *wrapped = mz_malloc(n);
    snprintf(wrapped, n, "%s(%s);", callback, text);
    mz_http_reply(r, 200, "text/javascript", wrapped, strlen(wrapped));
    free(wrapped);
  } else {
    mz_http_reply(r, 200, "application/json", text, strlen(text));
  }
  free(text);
}

void mz_http_reply_json(mz_http_req *r, json_t *j) { reply_json_as(r, j, NULL); }

void mz_http_reply_jsonp(mz_http_req *r, json_t *j) {
  char jsonp[128];
  int use_jsonp = mz_http_query_get(mz_http_req_query(r), "jsonp", jsonp, sizeof jsonp) == 0 && jsonp[0];
  for (const char *p = jsonp; use_jsonp && *p; p++) {
    if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '$')) use_jsonp = 0; /* no script injection */
  }
  reply_json_as(r, j, use_jsonp ? jsonp : NULL);
}
