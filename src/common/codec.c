/* codec: see codec.h. One walk over protobuf-c's descriptors in each
 * direction. Decoded messages are built exactly as protobuf-c's unpack builds
 * them (every string, bytes buffer, repeated array and sub-message malloc'd on
 * its own; counts set as elements are filled), so that a half-built message
 * can be released with protobuf_c_message_free_unpacked() on any error.
 *
 * Map fields (protoc's "XxxEntry" messages with a key and a value) are JSON
 * objects, as in Mesos. */
#include "common/codec.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

#define MAX_DEPTH 64
#define PATH_MAX_LEN 512

/* ------------------------------------------------------------ content types */

static int media_type(const char *s, size_t n, mz_content_type def, bool *wild, mz_content_type *out) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  *wild = false;
  if (n == strlen(MZ_CT_JSON_NAME) && !strncasecmp(s, MZ_CT_JSON_NAME, n)) {
    *out = MZ_CT_JSON;
    return 0;
  }
  if (n == strlen(MZ_CT_PROTOBUF_NAME) && !strncasecmp(s, MZ_CT_PROTOBUF_NAME, n)) {
    *out = MZ_CT_PROTOBUF;
    return 0;
  }
  if ((n == 3 && !strncmp(s, "*/*", 3)) || (n == 13 && !strncasecmp(s, "application/*", 13))) {
    *wild = true;
    *out = def;
    return 0;
  }
  return -1;
}

int mz_content_type_parse(const char *header, mz_content_type *out) {
  if (!header) return -1;
  const char *semi = strchr(header, ';');
  size_t n = semi ? (size_t)(semi - header) : strlen(header);
  bool wild;
  if (media_type(header, n, MZ_CT_JSON, &wild, out) != 0 || wild) return -1;
  return 0;
}

int mz_accept_parse(const char *header, mz_content_type def, mz_content_type *out) {
  if (!header) {
    *out = def;
    return 0;
  }
  const char *p = header;
  while (isspace((unsigned char)*p)) p++;
  if (!*p) {
    *out = def;
    return 0;
  }
  double best_q = 0;
  bool found = false;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *semi = memchr(p, ';', len);
    size_t tlen = semi ? (size_t)(semi - p) : len;
    double q = 1.0;
    if (semi) {
      const char *qs = semi;
      while (qs < p + len) {
        while (qs < p + len && (*qs == ';' || isspace((unsigned char)*qs))) qs++;
        if (qs + 2 <= p + len && (qs[0] == 'q' || qs[0] == 'Q') && qs[1] == '=') {
          q = strtod(qs + 2, NULL);
          break;
        }
        const char *next = memchr(qs, ';', (size_t)(p + len - qs));
        if (!next) break;
        qs = next;
      }
    }
    bool wild;
    mz_content_type ct;
    if (q > 0 && media_type(p, tlen, def, &wild, &ct) == 0 && (!found || q > best_q)) {
      found = true;
      best_q = q;
      *out = ct;
    }
    if (!comma) break;
    p = comma + 1;
  }
  return found ? 0 : -1;
}

const char *mz_content_type_name(mz_content_type ct) {
  return ct == MZ_CT_PROTOBUF ? MZ_CT_PROTOBUF_NAME : MZ_CT_JSON_NAME;
}

/* ------------------------------------------------------------------- base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *mz_base64_encode(const uint8_t *data, size_t len) {
  size_t out_len = 4 * ((len + 2) / 3);
  char *out = mz_malloc(out_len + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16;
    if (i + 1 < len) v |= (uint32_t)data[i + 1] << 8;
    if (i + 2 < len) v |= data[i + 2];
    out[o++] = B64[(v >> 18) & 63];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? B64[v & 63] : '=';
  }
  out[o] = 0;
  return out;
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

uint8_t *mz_base64_decode(const char *text, size_t *out_len) {
  size_t n = strlen(text);
  if (n % 4 != 0) return NULL;
  uint8_t *out = mz_malloc(n / 4 * 3 + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; j++) {
      char c = text[i + j];
      if (c == '=') {
        if (i + 4 != n || j < 2) goto bad;
        pad++;
        v[j] = 0;
      } else {
        if (pad) goto bad; /* data after padding */
        v[j] = b64val(c);
        if (v[j] < 0) goto bad;
      }
    }
    uint32_t x = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) | (uint32_t)v[3];
    out[o++] = (uint8_t)(x >> 16);
    if (pad < 2) out[o++] = (uint8_t)(x >> 8);
    if (pad < 1) out[o++] = (uint8_t)x;
  }
  out[o] = 0;
  *out_len = o;
  return out;
bad:
  free(out);
  return NULL;
}

/* ------------------------------------------------------------------ helpers */

static void *field_ptr(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  return (char *)m + f->offset;
}

static size_t scalar_size(ProtobufCType t) {
  switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM: return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
  }
  return 0;
}

static bool is_map_entry(const ProtobufCFieldDescriptor *f) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) return false;
  const ProtobufCMessageDescriptor *d = f->descriptor;
  size_t n = strlen(d->name);
  return d->n_fields == 2 && n > 5 && !strcmp(d->name + n - 5, "Entry") && !strcmp(d->fields[0].name, "key") &&
         !strcmp(d->fields[1].name, "value") && d->fields[0].id == 1 && d->fields[1].id == 2;
}

/* Is an optional/oneof field present? */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
  if (f->label == PROTOBUF_C_LABEL_REQUIRED) return true;
  switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE: return *(void *const *)field_ptr(m, f) != NULL;
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)field_ptr(m, f);
      if (!s) return false;
      if (f->label == PROTOBUF_C_LABEL_NONE) return *s != 0;
      return s != (const char *)f->default_value;
    }
    default:
      if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
        return *(const protobuf_c_boolean *)((const char *)m + f->quantifier_offset);
      if (f->label == PROTOBUF_C_LABEL_NONE) { /* proto3: non-zero */
        const uint8_t *p = field_ptr(m, f);
        size_t sz = scalar_size(f->type);
        if (f->type == PROTOBUF_C_TYPE_BYTES) return ((const ProtobufCBinaryData *)p)->len > 0;
        for (size_t i = 0; i < sz; i++)
          if (p[i]) return true;
        return false;
      }
      return true;
  }
}

/* ------------------------------------------------------------ message -> JSON */

static json_t *string_json(const char *s) {
  json_t *j = json_string(s);
  if (j) return j;
  /* Not UTF-8: replace every non-ASCII byte so the output stays valid JSON. */
  char *copy = mz_strdup(s);
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p >= 0x80) *p = '?';
  j = json_string(copy);
  free(copy);
  return j;
}

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
      uint64_t v = *(const uint64_t *)p;
      return v <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
    }
    case PROTOBUF_C_TYPE_FLOAT: {
      double d = *(const float *)p;
      return isfinite(d) ? json_real(d) : json_null();
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
      double d = *(const double *)p;
      return isfinite(d) ? json_real(d) : json_null();
    }
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
      int v = *(const int *)p;
      const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
      return ev ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)p;
      return string_json(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *b = p;
      char *s = mz_base64_encode(b->data, b->len);
      json_t *j = json_string(s);
      free(s);
      return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
      return sub ? mz_pb_to_json(sub) : json_object();
    }
  }
  return json_null();
}

static json_t *map_key(const ProtobufCMessage *entry, char *buf, size_t buflen) {
  const ProtobufCFieldDescriptor *kf = &entry->descriptor->fields[0];
  json_t *k = value_json(kf, field_ptr(entry, kf));
  if (json_is_string(k)) {
    mz_strlcpy(buf, json_string_value(k), buflen);
  } else if (json_is_integer(k)) {
    snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
  } else if (json_is_boolean(k)) {
    snprintf(buf, buflen, "%s", json_is_true(k) ? "true" : "false");
  } else {
    buf[0] = 0;
  }
  json_decref(k);
  return NULL;
}

json_t *mz_pb_to_json(const ProtobufCMessage *msg) {
  json_t *obj = json_object();
  if (!obj) return NULL;
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    json_t *v = NULL;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)((const char *)msg + f->quantifier_offset);
      if (n == 0) continue;
      const char *arr = *(char *const *)field_ptr(msg, f);
      size_t sz = scalar_size(f->type);
      if (is_map_entry(f)) {
        v = json_object();
        for (size_t k = 0; k < n; k++) {
          const ProtobufCMessage *e = ((ProtobufCMessage *const *)arr)[k];
          char key[256];
          map_key(e, key, sizeof key);
          const ProtobufCFieldDescriptor *vf = &e->descriptor->fields[1];
          json_object_set_new(v, key, value_json(vf, field_ptr(e, vf)));
        }
      } else {
        v = json_array();
        for (size_t k = 0; k < n; k++) json_array_append_new(v, value_json(f, arr + k * sz));
      }
    } else {
      if (!present(msg, f)) continue;
      v = value_json(f, field_ptr(msg, f));
    }
    if (v) json_object_set_new(obj, f->name, v);
  }
  return obj;
}

/* ------------------------------------------------------------ JSON -> message */

typedef struct {
  char *err;
  size_t errlen;
  char path[PATH_MAX_LEN];
} dctx;

static int errf(dctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int errf(dctx *x, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (x->path[0]) snprintf(x->err, x->errlen, "%s: %s", x->path, msg);
  else snprintf(x->err, x->errlen, "%s", msg);
  return -1;
}

static size_t path_push(dctx *x, const char *name, long index) {
  size_t old = strlen(x->path);
  if (index >= 0)
    snprintf(x->path + old, sizeof x->path - old, "[%ld]", index);
  else
    snprintf(x->path + old, sizeof x->path - old, "%s%s", old ? "." : "", name ? name : "");
  return old;
}

static void path_pop(dctx *x, size_t old) { x->path[old] = 0; }

static ProtobufCMessage *decode_message(const ProtobufCMessageDescriptor *d, const json_t *j, dctx *x, int depth);

static int json_to_int(const json_t *j, dctx *x, long double lo, long double hi, bool is_unsigned, int64_t *out,
                       uint64_t *uout) {
  if (json_is_integer(j)) {
    json_int_t v = json_integer_value(j);
    if (is_unsigned) {
      if (v < 0) return errf(x, "value %" JSON_INTEGER_FORMAT " is negative", v);
      if ((long double)v > hi) return errf(x, "value %" JSON_INTEGER_FORMAT " is out of range", v);
      *uout = (uint64_t)v;
    } else {
      if ((long double)v < lo || (long double)v > hi)
        return errf(x, "value %" JSON_INTEGER_FORMAT " is out of range", v);
      *out = v;
    }
    return 0;
  }
  if (json_is_real(j)) {
    double d = json_real_value(j);
    if (!isfinite(d) || floor(d) != d) return errf(x, "expected an integer, got %g", d);
    if ((long double)d < (is_unsigned ? 0 : lo) || (long double)d > hi) return errf(x, "value %g is out of range", d);
    if (is_unsigned) *uout = (uint64_t)d;
    else *out = (int64_t)d;
    return 0;
  }
  if (json_is_string(j)) {
    const char *s = json_string_value(j);
    char *end;
    errno = 0;
    if (!*s || isspace((unsigned char)*s)) return errf(x, "'%.64s' is not an integer", s);
    if (is_unsigned) {
      if (*s == '-') return errf(x, "value '%.64s' is negative", s);
      unsigned long long v = strtoull(s, &end, 10);
      if (*end || errno == ERANGE || (long double)v > hi) return errf(x, "'%.64s' is not an integer in range", s);
      *uout = v;
    } else {
      long long v = strtoll(s, &end, 10);
      if (*end || errno == ERANGE || (long double)v < lo || (long double)v > hi)
        return errf(x, "'%.64s' is not an integer in range", s);
      *out = v;
    }
    return 0;
  }
  return errf(x, "expected a number");
}

/* Decodes one value of field f from j into p (an element slot). */
static int decode_value(const ProtobufCFieldDescriptor *f, const json_t *j, void *p, dctx *x, int depth) {
  int64_t iv = 0;
  uint64_t uv = 0;
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      if (json_to_int(j, x, INT32_MIN, INT32_MAX, false, &iv, &uv)) return -1;
      *(int32_t *)p = (int32_t)iv;
      return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      if (json_to_int(j, x, 0, UINT32_MAX, true, &iv, &uv)) return -1;
      *(uint32_t *)p = (uint32_t)uv;
      return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      if (json_to_int(j, x, (long double)INT64_MIN, (long double)INT64_MAX, false, &iv, &uv)) return -1;
      *(int64_t *)p = iv;
      return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      if (json_to_int(j, x, 0, (long double)UINT64_MAX, true, &iv, &uv)) return -1;
      *(uint64_t *)p = uv;
      return 0;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
      double d;
      if (json_is_number(j)) d = json_number_value(j);
      else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end;
        d = strtod(s, &end);
        if (!*s || *end) return errf(x, "'%.64s' is not a number", s);
      } else
        return errf(x, "expected a number");
      if (f->type == PROTOBUF_C_TYPE_FLOAT) *(float *)p = (float)d;
      else *(double *)p = d;
      return 0;
    }
    case PROTOBUF_C_TYPE_BOOL:
      if (!json_is_boolean(j)) return errf(x, "expected true or false");
      *(protobuf_c_boolean *)p = json_is_true(j);
      return 0;
    case PROTOBUF_C_TYPE_ENUM: {
      const ProtobufCEnumDescriptor *ed = f->descriptor;
      const ProtobufCEnumValue *ev = NULL;
      if (json_is_string(j)) {
        ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(j));
        if (!ev) return errf(x, "unknown value '%.64s' of enum %s", json_string_value(j), ed->name);
      } else if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);
        if (v >= INT32_MIN && v <= INT32_MAX) ev = protobuf_c_enum_descriptor_get_value(ed, (int)v);
        if (!ev) return errf(x, "unknown value %" JSON_INTEGER_FORMAT " of enum %s", v, ed->name);
      } else {
        return errf(x, "expected an enum name");
      }
      *(int *)p = ev->value;
      return 0;
    }
    case PROTOBUF_C_TYPE_STRING:
      if (!json_is_string(j)) return errf(x, "expected a string");
      *(char **)p = mz_strdup(json_string_value(j));
      return 0;
    case PROTOBUF_C_TYPE_BYTES: {
      if (!json_is_string(j)) return errf(x, "expected a base64 string");
      size_t n;
      uint8_t *data = mz_base64_decode(json_string_value(j), &n);
      if (!data) return errf(x, "not valid base64");
      ProtobufCBinaryData *b = p;
      b->data = data;
      b->len = n;
      return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      ProtobufCMessage *sub = decode_message(f->descriptor, j, x, depth + 1);
      if (!sub) return -1;
      *(ProtobufCMessage **)p = sub;
      return 0;
    }
  }
  return errf(x, "unsupported field type");
}

/* Map: a JSON object -> repeated XxxEntry messages. */
static int decode_map(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const json_t *j, dctx *x, int depth) {
  if (!json_is_object(j)) return errf(x, "expected an object");
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  size_t n = json_object_size(j);
  size_t *count = (size_t *)((char *)m + f->quantifier_offset);
  ProtobufCMessage **arr = calloc(n ? n : 1, sizeof *arr);
  if (!arr) abort();
  *(ProtobufCMessage ***)field_ptr(m, f) = arr;
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)j, key, val) {
    ProtobufCMessage *e = calloc(1, ed->sizeof_message);
    if (!e) abort();
    protobuf_c_message_init(ed, e);
    arr[(*count)++] = e;
    size_t old = path_push(x, key, -1);
    json_t *kj = json_string(key);
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    int rc = decode_value(kf, kj, field_ptr(e, kf), x, depth);
    json_decref(kj);
    if (rc == 0 && kf->quantifier_offset && kf->label == PROTOBUF_C_LABEL_OPTIONAL && kf->type != PROTOBUF_C_TYPE_STRING)
      *(protobuf_c_boolean *)((char *)e + kf->quantifier_offset) = 1;
    if (rc == 0) rc = decode_value(vf, val, field_ptr(e, vf), x, depth);
    if (rc == 0 && vf->quantifier_offset && vf->label == PROTOBUF_C_LABEL_OPTIONAL &&
        vf->type != PROTOBUF_C_TYPE_STRING && vf->type != PROTOBUF_C_TYPE_MESSAGE)
      *(protobuf_c_boolean *)((char *)e + vf->quantifier_offset) = 1;
    path_pop(x, old);
    if (rc) return -1;
  }
  return 0;
}

static ProtobufCMessage *decode_message(const ProtobufCMessageDescriptor *d, const json_t *j, dctx *x, int depth) {
  if (depth > MAX_DEPTH) {
    errf(x, "nested more than %d levels deep", MAX_DEPTH);
    return NULL;
  }
  if (!json_is_object(j)) {
    errf(x, "expected an object");
    return NULL;
  }
  ProtobufCMessage *m = calloc(1, d->sizeof_message);
  if (!m) abort();
  protobuf_c_message_init(d, m);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const json_t *v = json_object_get(j, f->name);
    if (!v || json_is_null(v)) {
      if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
        size_t old = path_push(x, f->name, -1);
        errf(x, "missing required field");
        path_pop(x, old);
        goto fail;
      }
      continue;
    }
    size_t old = path_push(x, f->name, -1);
    int rc = 0;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      if (is_map_entry(f)) {
        rc = decode_map(m, f, v, x, depth);
      } else if (!json_is_array(v)) {
        rc = errf(x, "expected an array");
      } else {
        size_t n = json_array_size(v), sz = scalar_size(f->type);
        char *arr = calloc(n ? n : 1, sz);
        if (!arr) abort();
        *(char **)field_ptr(m, f) = arr;
        size_t *count = (size_t *)((char *)m + f->quantifier_offset);
        for (size_t k = 0; k < n && rc == 0; k++) {
          size_t o2 = path_push(x, NULL, (long)k);
          rc = decode_value(f, json_array_get(v, k), arr + k * sz, x, depth);
          path_pop(x, o2);
          if (rc == 0) (*count)++;
        }
      }
    } else {
      void *p = field_ptr(m, f);
      /* An optional string with a default points at the static default: don't free it, overwrite. */
      rc = decode_value(f, v, p, x, depth);
      if (rc == 0) {
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
          *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
        else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset && f->type != PROTOBUF_C_TYPE_STRING &&
                 f->type != PROTOBUF_C_TYPE_MESSAGE)
          *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
      }
    }
    path_pop(x, old);
    if (rc) goto fail;
  }
  return m;
fail:
  protobuf_c_message_free_unpacked(m, NULL);
  return NULL;
}

ProtobufCMessage *mz_pb_from_json(const ProtobufCMessageDescriptor *desc, const json_t *json, char *err,
                                  size_t errlen) {
  char dummy[8];
  dctx x = {err ? err : dummy, err ? errlen : sizeof dummy, ""};
  return decode_message(desc, json, &x, 0);
}

/* ------------------------------------------------------------------ buffers */

void *mz_pb_dup(const void *msg) {
  if (!msg) return NULL;
  const ProtobufCMessage *m = msg;
  size_t len = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = mz_malloc(len ? len : 1);
  protobuf_c_message_pack(m, buf);
  ProtobufCMessage *copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
  free(buf);
  if (!copy) abort(); /* a message we packed ourselves always unpacks, unless out of memory */
  return copy;
}

/* protobuf-c's unpack recurses once per nested message with no bound, and some
 * messages nest themselves (ContainerID.parent): walk the wire format first and
 * refuse nesting deeper than MAX_DEPTH. Also rejects truncated or malformed
 * framing; everything else is left to unpack. Recursion here is bounded by MAX_DEPTH. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return -1;
    uint8_t c = *(*p)++;
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

static int check_wire_depth(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end, int depth,
                            char *err, size_t errlen) {
  if (depth > MAX_DEPTH) {
    snprintf(err, errlen, "protobuf %s: messages nested more than %d levels deep", d->name, MAX_DEPTH);
    return -1;
  }
  while (p < end) {
    uint64_t tag, v;
    if (read_varint(&p, end, &tag)) goto bad;
    switch (tag & 7) {
      case 0:
        if (read_varint(&p, end, &v)) goto bad;
        break;
      case 1:
        if (end - p < 8) goto bad;
        p += 8;
        break;
      case 5:
        if (end - p < 4) goto bad;
        p += 4;
        break;
      case 2: {
        if (read_varint(&p, end, &v) || v > (uint64_t)(end - p)) goto bad;
        const ProtobufCFieldDescriptor *f =
            (tag >> 3) <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3)) : NULL;
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
            check_wire_depth(f->descriptor, p, p + v, depth + 1, err, errlen))
          return -1;
        p += v;
        break;
      }
      default: goto bad; /* groups (3, 4) and invalid wire types */
    }
  }
  return 0;
bad:
  snprintf(err, errlen, "not a valid %s protobuf message (malformed)", d->name);
  return -1;
}

uint8_t *mz_pb_encode(const ProtobufCMessage *msg, mz_content_type ct, size_t *len) {
  if (ct == MZ_CT_PROTOBUF) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = mz_malloc(n ? n : 1);
    *len = protobuf_c_message_pack(msg, buf);
    return buf;
  }
  json_t *j = mz_pb_to_json(msg);
  if (!j) return NULL;
  char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
  json_decref(j);
  if (!s) return NULL;
  *len = strlen(s);
  return (uint8_t *)s;
}

ProtobufCMessage *mz_pb_decode(const ProtobufCMessageDescriptor *desc, mz_content_type ct, const uint8_t *buf,
                               size_t len, char *err, size_t errlen) {
  if (ct == MZ_CT_PROTOBUF) {
    char dummy[8];
    if (!err) err = dummy, errlen = sizeof dummy;
    if (len > 0 && check_wire_depth(desc, buf, buf + len, 0, err, errlen)) return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, buf);
    if (!m) snprintf(err, errlen, "not a valid %s protobuf message (malformed or missing required fields)", desc->name);
    return m;
  }
  json_error_t je;
  json_t *j = json_loadb((const char *)buf, len, 0, &je);
  if (!j) {
    snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
    return NULL;
  }
  ProtobufCMessage *m = mz_pb_from_json(desc, j, err, errlen);
  json_decref(j);
  return m;
}
