/* recordio: RecordIO framing ("<decimal length>\n<bytes>") for every mezzo stream.
 *
 * The decoder is a small state machine fed with whatever bytes arrived: it is
 * either reading the decimal length (HEADER) or the record body (BODY). A record
 * that lies whole inside one fed buffer is handed to the callback in place (no
 * copy); one that spans feeds is gathered in the decoder's own body buffer.
 * When the callback asks to stop, the bytes not yet consumed are copied into the
 * decoder's pending buffer and replayed, ahead of the new bytes, on the next feed.
 *
 * Ownership: the decoder owns its body and pending buffers; record pointers given
 * to the callback are valid only during the call. mz_recordio_frame returns a
 * buffer the caller frees. A max_record_len of 0 means MZ_RECORDIO_DEFAULT_MAX. */
#include "common/recordio.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MZ_RECORDIO_DEFAULT_MAX ((size_t)64 * 1024 * 1024)
/* 20 digits hold any 64-bit length; more is garbage, not a long record. */
#define MZ_RECORDIO_MAX_DIGITS 20

enum { ST_HEADER, ST_BODY };

struct mz_recordio_decoder {
  size_t max;
  int state;
  int failed;
  size_t digits;    /* digits read of the current length */
  size_t want;      /* length being parsed (HEADER) or of the record (BODY) */
  uint8_t *body;    /* gathered bytes of a record spanning feeds */
  size_t body_len;  /* bytes gathered so far */
  size_t body_cap;
  uint8_t *pending; /* bytes kept back after the callback asked to stop */
  size_t pending_len;
};

static const uint8_t empty_record[1];

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

mz_recordio_decoder *mz_recordio_decoder_new(size_t max_record_len) {
  mz_recordio_decoder *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->max = max_record_len ? max_record_len : MZ_RECORDIO_DEFAULT_MAX;
  d->state = ST_HEADER;
  return d;
}

void mz_recordio_decoder_free(mz_recordio_decoder *d) {
  if (!d) return;
  free(d->body);
  free(d->pending);
  free(d);
}

/* Processes data[0..len). Returns 0 when all consumed, 1 when stopped (*used says
 * how many bytes were consumed), -1 on a framing error. */
static int process(mz_recordio_decoder *d, const uint8_t *data, size_t len, size_t *used, mz_recordio_cb cb,
                   void *arg, char *err, size_t errlen) {
  size_t i = 0;
  while (i < len) {
    if (d->state == ST_HEADER) {
      uint8_t c = data[i++];
      if (c == '\n') {
        if (d->digits == 0) {
          set_err(err, errlen, "recordio: empty record length");
          return -1;
        }
        d->state = ST_BODY;
        d->body_len = 0;
        d->digits = 0;
        if (d->want == 0) {
          d->state = ST_HEADER;
          if (cb(arg, empty_record, 0)) {
            *used = i;
            return 1;
          }
        }
        continue;
      }
      if (c < '0' || c > '9') {
        if (c >= 0x20 && c < 0x7f)
          set_err(err, errlen, "recordio: invalid character '%c' in record length", c);
        else
          set_err(err, errlen, "recordio: invalid byte 0x%02x in record length", c);
        return -1;
      }
      if (++d->digits > MZ_RECORDIO_MAX_DIGITS) {
        set_err(err, errlen, "recordio: record length has too many digits");
        return -1;
      }
      size_t digit = (size_t)(c - '0');
      if (d->want > (d->max - digit) / 10) {
        set_err(err, errlen, "recordio: record length exceeds the limit of %zu bytes", d->max);
        return -1;
      }
      d->want = d->want * 10 + digit;
      continue;
    }
    /* ST_BODY: want > 0 bytes, body_len of them gathered already. */
    size_t need = d->want - d->body_len;
    size_t avail = len - i;
    if (d->body_len == 0 && avail >= need) {
      /* Whole record in this buffer: hand it over in place. */
      const uint8_t *rec = data + i;
      i += need;
      d->state = ST_HEADER;
      d->want = 0;
      if (cb(arg, rec, need)) {
        *used = i;
        return 1;
      }
      continue;
    }
    if (d->body_cap < d->want) {
      uint8_t *nb = realloc(d->body, d->want);
      if (!nb) {
        set_err(err, errlen, "recordio: out of memory for a %zu byte record", d->want);
        return -1;
      }
      d->body = nb;
      d->body_cap = d->want;
    }
    size_t take = avail < need ? avail : need;
    memcpy(d->body + d->body_len, data + i, take);
    d->body_len += take;
    i += take;
    if (d->body_len == d->want) {
      size_t n = d->want;
      d->state = ST_HEADER;
      d->want = 0;
      d->body_len = 0;
      if (cb(arg, d->body, n)) {
        *used = i;
        return 1;
      }
    }
  }
  *used = len;
  return 0;
}

int mz_recordio_feed(mz_recordio_decoder *d, const uint8_t *data, size_t len, mz_recordio_cb cb, void *arg,
                     char *err, size_t errlen) {
  if (d->failed) {
    set_err(err, errlen, "recordio: stream already failed");
    return -1;
  }
  if (len == 0) data = empty_record;
  const uint8_t *in = data;
  size_t in_len = len;
  uint8_t *owned = NULL;
  if (d->pending_len > 0) {
    /* Replay what was held back, followed by the new bytes. */
    if (len > 0) {
      uint8_t *p = realloc(d->pending, d->pending_len + len);
      if (!p) {
        set_err(err, errlen, "recordio: out of memory");
        d->failed = 1;
        return -1;
      }
      memcpy(p + d->pending_len, data, len);
      d->pending = p;
      d->pending_len += len;
    }
    owned = d->pending;
    in = owned;
    in_len = d->pending_len;
    d->pending = NULL;
    d->pending_len = 0;
  }
  size_t used = 0;
  int rc = process(d, in, in_len, &used, cb, arg, err, errlen);
  if (rc == 1 && used < in_len) {
    size_t rest = in_len - used;
    if (owned) {
      memmove(owned, owned + used, rest);
      d->pending = owned;
      owned = NULL;
    } else {
      d->pending = malloc(rest);
      if (!d->pending) {
        set_err(err, errlen, "recordio: out of memory");
        d->failed = 1;
        return -1;
      }
      memcpy(d->pending, in + used, rest);
    }
    d->pending_len = rest;
  }
  free(owned);
  if (rc < 0) d->failed = 1;
  return rc;
}

int mz_recordio_append(struct evbuffer *out, const void *data, size_t len) {
  char hdr[32];
  int n = snprintf(hdr, sizeof hdr, "%zu\n", len);
  if (n < 0 || (size_t)n >= sizeof hdr) return -1;
  if (evbuffer_expand(out, (size_t)n + len) != 0) return -1; /* so that the record goes in whole */
  if (evbuffer_add(out, hdr, (size_t)n) != 0) return -1;
  if (len > 0 && evbuffer_add(out, data, len) != 0) return -1;
  return 0;
}

uint8_t *mz_recordio_frame(const void *data, size_t len, size_t *out_len) {
  char hdr[32];
  int n = snprintf(hdr, sizeof hdr, "%zu\n", len);
  if (n < 0 || (size_t)n >= sizeof hdr || len > SIZE_MAX - (size_t)n) return NULL;
  uint8_t *buf = malloc((size_t)n + len + 1);
  if (!buf) return NULL;
  memcpy(buf, hdr, (size_t)n);
  if (len > 0) memcpy(buf + n, data, len);
  buf[(size_t)n + len] = 0;
  if (out_len) *out_len = (size_t)n + len;
  return buf;
}
