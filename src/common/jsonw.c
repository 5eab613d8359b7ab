/* jsonw: the streaming JSON writer (see jsonw.h). */
#include "common/jsonw.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct mz_jw {
  char *buf;
  size_t len, cap;
  mz_jw_sink sink;
  void *arg;
  size_t flush_at;
  int depth;
  bool failed;
  bool key_due[MZ_JW_MAX_DEPTH + 1]; /* inside an object, expecting a key */
  bool first[MZ_JW_MAX_DEPTH + 1];   /* nothing written yet at this level */
  bool in_object[MZ_JW_MAX_DEPTH + 1];
};

mz_jw *mz_jw_new(mz_jw_sink sink, void *arg, size_t flush_at) {
  mz_jw *w = mz_calloc(1, sizeof *w);
  w->sink = sink;
  w->arg = arg;
  w->flush_at = flush_at ? flush_at : (64u << 10);
  w->cap = sink ? w->flush_at + 4096 : 4096;
  w->buf = mz_malloc(w->cap);
  w->first[0] = true;
  return w;
}

void mz_jw_free(mz_jw *w) {
  if (!w) return;
  free(w->buf);
  free(w);
}

bool mz_jw_failed(const mz_jw *w) { return w->failed; }

static void flush(mz_jw *w) {
  if (!w->sink || w->len == 0 || w->failed) return;
  if (w->sink(w->buf, w->len, w->arg) != 0) w->failed = true;
  w->len = 0;
}

static void reserve(mz_jw *w, size_t n) {
  if (w->len + n + 1 <= w->cap) return;
  if (w->sink && w->len > 0) {
    flush(w);
    if (w->len + n + 1 <= w->cap) return;
  }
  while (w->len + n + 1 > w->cap) w->cap *= 2;
  w->buf = mz_realloc(w->buf, w->cap);
}

static inline void put(mz_jw *w, const char *s, size_t n) {
  reserve(w, n);
  memcpy(w->buf + w->len, s, n);
  w->len += n;
}

static inline void putc1(mz_jw *w, char c) {
  reserve(w, 1);
  w->buf[w->len++] = c;
}

static void after_value(mz_jw *w) {
  if (w->in_object[w->depth]) w->key_due[w->depth] = true;
  if (w->sink && w->len >= w->flush_at) flush(w);
}

/* Before a value: the comma, and checks that a value is allowed here. */
static bool before_value(mz_jw *w) {
  if (w->failed) return false;
  if (w->in_object[w->depth]) {
    if (w->key_due[w->depth]) {
      w->failed = true; /* a value where a key is due */
      return false;
    }
    return true; /* the key wrote the comma */
  }
  if (w->depth == 0 && !w->first[0]) {
    w->failed = true; /* a second top-level value */
    return false;
  }
  if (!w->first[w->depth]) putc1(w, ',');
  w->first[w->depth] = false;
  return true;
}

/* Writes s as a JSON string body: escapes as jansson does; bytes that are not
 * valid UTF-8 become U+FFFD so that the output always parses. */
static void put_escaped(mz_jw *w, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  putc1(w, '"');
  for (;;) {
    const unsigned char *run = p;
    while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
    if (p > run) put(w, (const char *)run, (size_t)(p - run));
    unsigned char c = *p;
    if (!c) break;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      put(w, e, 2);
      p++;
    } else if (c < 0x20) {
      char e[6];
      switch (c) {
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default:
          memcpy(e, "\\u00", 4);
          e[4] = hex[c >> 4];
          e[5] = hex[c & 15];
          put(w, e, 6);
      }
      p++;
    } else { /* a UTF-8 sequence: copied when well formed */
      size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = n > 0;
      for (size_t i = 1; ok && i < n; i++) ok = (p[i] & 0xc0) == 0x80;
      if (ok && n == 3) ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
      if (ok && n == 4) ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
      if (ok) {
        put(w, (const char *)p, n);
        p += n;
      } else {
        put(w, "\\ufffd", 6);
        p++;
      }
    }
  }
  putc1(w, '"');
}

void mz_jw_object(mz_jw *w) {
  if (!before_value(w)) return;
  if (w->depth >= MZ_JW_MAX_DEPTH) {
    w->failed = true;
    return;
  }
  putc1(w, '{');
  w->depth++;
  w->in_object[w->depth] = true;
  w->key_due[w->depth] = true;
  w->first[w->depth] = true;
}

void mz_jw_array(mz_jw *w) {
  if (!before_value(w)) return;
  if (w->depth >= MZ_JW_MAX_DEPTH) {
    w->failed = true;
    return;
  }
  putc1(w, '[');
  w->depth++;
  w->in_object[w->depth] = false;
  w->key_due[w->depth] = false;
  w->first[w->depth] = true;
}

static void end(mz_jw *w, bool object) {
  if (w->failed) return;
  if (w->depth == 0 || w->in_object[w->depth] != object || (object && !w->key_due[w->depth])) {
    w->failed = true;
    return;
  }
  putc1(w, object ? '}' : ']');
  w->depth--;
  after_value(w);
}

void mz_jw_object_end(mz_jw *w) { end(w, true); }
void mz_jw_array_end(mz_jw *w) { end(w, false); }

void mz_jw_key(mz_jw *w, const char *key) {
  if (w->failed) return;
  if (!w->in_object[w->depth] || !w->key_due[w->depth]) {
    w->failed = true;
    return;
  }
  if (!w->first[w->depth]) putc1(w, ',');
  w->first[w->depth] = false;
  put_escaped(w, key);
  putc1(w, ':');
  w->key_due[w->depth] = false;
}

void mz_jw_string(mz_jw *w, const char *s) {
  if (!before_value(w)) return;
  put_escaped(w, s);
  after_value(w);
}

/* Decimal digits of v into the end of b (no terminator); returns where they start. */
static char *digits(char *end, int64_t v) {
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  char *p = end;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  return p;
}

void mz_jw_int(mz_jw *w, int64_t v) {
  if (!before_value(w)) return;
  char b[24];
  char *p = digits(b + sizeof b, v);
  put(w, p, (size_t)(b + sizeof b - p));
  after_value(w);
}

void mz_jw_real(mz_jw *w, double v) {
  if (!before_value(w)) return;
  if (!isfinite(v)) {
    put(w, "null", 4);
  } else if (v == (double)(int64_t)v && fabs(v) < 1e15) {
    /* Integral (most resource amounts): what "%.17g" prints, without printf. */
    char b[32];
    char *end = b + sizeof b - 2;
    char *p = digits(end, (int64_t)v);
    if (v == 0 && signbit(v)) *--p = '-';
    end[0] = '.';
    end[1] = '0';
    put(w, p, (size_t)(b + sizeof b - p));
  } else {
    char b[40];
    int n = snprintf(b, sizeof b, "%.17g", v);
    char *e = memchr(b, 'e', (size_t)n);
    if (e) { /* as jansson: "e+07" -> "e7", "e-07" -> "e-7" */
      char *d = e + 1, *src = e + 1;
      if (*src == '+') src++;
      else if (*src == '-') d++, src++;
      while (*src == '0' && src[1]) src++;
      memmove(d, src, strlen(src) + 1);
      n = (int)strlen(b);
    } else if (!memchr(b, '.', (size_t)n)) {
      b[n++] = '.';
      b[n++] = '0';
    }
    put(w, b, (size_t)n);
  }
  after_value(w);
}

void mz_jw_bool(mz_jw *w, bool v) {
  if (!before_value(w)) return;
  if (v) put(w, "true", 4);
  else put(w, "false", 5);
  after_value(w);
}

void mz_jw_null(mz_jw *w) {
  if (!before_value(w)) return;
  put(w, "null", 4);
  after_value(w);
}

static int dump_cb(const char *buffer, size_t size, void *data) {
  put(data, buffer, size);
  return 0;
}

void mz_jw_json(mz_jw *w, const json_t *v) {
  if (!v) {
    mz_jw_null(w);
    return;
  }
  if (!before_value(w)) return;
  if (json_dump_callback(v, dump_cb, w, JSON_COMPACT | JSON_ENCODE_ANY) != 0) w->failed = true;
  after_value(w);
}

void mz_jw_json_new(mz_jw *w, json_t *v) {
  mz_jw_json(w, v);
  json_decref(v);
}

void mz_jw_kstring(mz_jw *w, const char *key, const char *s) {
  mz_jw_key(w, key);
  mz_jw_string(w, s);
}

void mz_jw_kint(mz_jw *w, const char *key, int64_t v) {
  mz_jw_key(w, key);
  mz_jw_int(w, v);
}

void mz_jw_kreal(mz_jw *w, const char *key, double v) {
  mz_jw_key(w, key);
  mz_jw_real(w, v);
}

void mz_jw_kbool(mz_jw *w, const char *key, bool v) {
  mz_jw_key(w, key);
  mz_jw_bool(w, v);
}

int mz_jw_finish(mz_jw *w) {
  if (w->failed || w->depth != 0) return -1;
  flush(w);
  return w->failed ? -1 : 0;
}

const char *mz_jw_text(mz_jw *w, size_t *len) {
  w->buf[w->len] = 0; /* reserve() always keeps one byte spare */
  if (len) *len = w->len;
  return w->buf;
}

json_t *mz_jw_to_json(void (*write)(mz_jw *w, const void *obj), const void *obj) {
  mz_jw *w = mz_jw_new(NULL, NULL, 0);
  write(w, obj);
  json_t *v = NULL;
  if (mz_jw_finish(w) == 0) {
    size_t n;
    const char *text = mz_jw_text(w, &n);
    v = json_loadb(text, n, JSON_DECODE_ANY, NULL);
  }
  mz_jw_free(w);
  return v;
}
