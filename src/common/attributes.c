/* attributes: the agent's --attributes ("rack:r1;zone:a;level:3;ids:[1-5];tags:{x,y}")
 * as mesos.v1.Attribute messages, and their /state JSON object. The type of
 * each value follows its form: "[...]" RANGES, "{...}" SET, a number SCALAR,
 * anything else TEXT.
 *
 * Ownership: mz_attributes_parse returns an array of messages in which every
 * submessage, array and string is a separate malloc, freed by
 * mz_attributes_free (so they may be moved into an outgoing message first). */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/resources.h"
#include "common/util.h"
#include "mesos/v1/mesos.pb-c.h"

#define MZ_ATTRIBUTE_TEXT_MAX 1024

static void attr_free(Mesos__V1__Attribute *a) {
  if (!a) return;
  free(a->name);
  free(a->scalar);
  if (a->ranges) {
    for (size_t i = 0; i < a->ranges->n_range; i++) free(a->ranges->range[i]);
    free(a->ranges->range);
    free(a->ranges);
  }
  if (a->set) {
    for (size_t i = 0; i < a->set->n_item; i++) free(a->set->item[i]);
    free(a->set->item);
    free(a->set);
  }
  if (a->text) {
    free(a->text->value);
    free(a->text);
  }
  free(a);
}

void mz_attributes_free(Mesos__V1__Attribute **attrs, size_t n) {
  if (!attrs) return;
  for (size_t i = 0; i < n; i++) attr_free(attrs[i]);
  free(attrs);
}

/* A signed decimal number: -?digits[.digits] */
static bool is_number(const char *s, const char *e) {
  if (s < e && *s == '-') s++;
  size_t d = 0;
  while (s < e && isdigit((unsigned char)*s)) s++, d++;
  if (s < e && *s == '.') {
    s++;
    while (s < e && isdigit((unsigned char)*s)) s++, d++;
  }
  return d > 0 && s == e;
}

/* Fills a's value from [vs, ve). */
static int parse_value(Mesos__V1__Attribute *a, const char *vs, const char *ve, char *err, size_t errlen) {
  size_t len = (size_t)(ve - vs);
  if (len == 0) {
    mz_seterr(err, errlen, "missing value");
    return -1;
  }
  if (*vs == '[') {
    mz_range *v;
    size_t n;
    if (mz_value_parse_ranges(vs, len, &v, &n, err, errlen) < 0) return -1;
    a->type = MESOS__V1__VALUE__TYPE__RANGES;
    a->ranges = mz_malloc(sizeof *a->ranges);
    *a->ranges = (Mesos__V1__Value__Ranges)MESOS__V1__VALUE__RANGES__INIT;
    a->ranges->range = n ? mz_malloc(n * sizeof *a->ranges->range) : NULL;
    for (size_t k = 0; k < n; k++) {
      Mesos__V1__Value__Range *r = mz_malloc(sizeof *r);
      *r = (Mesos__V1__Value__Range)MESOS__V1__VALUE__RANGE__INIT;
      r->begin = v[k].begin;
      r->end = v[k].end;
      a->ranges->range[a->ranges->n_range++] = r;
    }
    free(v);
    return 0;
  }
  if (*vs == '{') {
    char **items;
    size_t n;
    if (mz_value_parse_set(vs, len, &items, &n, err, errlen) < 0) return -1;
    a->type = MESOS__V1__VALUE__TYPE__SET;
    a->set = mz_malloc(sizeof *a->set);
    *a->set = (Mesos__V1__Value__Set)MESOS__V1__VALUE__SET__INIT;
    a->set->item = items;
    a->set->n_item = n;
    return 0;
  }
  if (is_number(vs, ve)) {
    char buf[64];
    if (len >= sizeof buf) {
      mz_seterr(err, errlen, "number '%.32s...' is too long", vs);
      return -1;
    }
    memcpy(buf, vs, len);
    buf[len] = '\0';
    double d = strtod(buf, NULL);
    if (!isfinite(d)) {
      mz_seterr(err, errlen, "number '%s' is out of range", buf);
      return -1;
    }
    a->type = MESOS__V1__VALUE__TYPE__SCALAR;
    a->scalar = mz_malloc(sizeof *a->scalar);
    *a->scalar = (Mesos__V1__Value__Scalar)MESOS__V1__VALUE__SCALAR__INIT;
    a->scalar->value = d;
    return 0;
  }
  if (len > MZ_ATTRIBUTE_TEXT_MAX) {
    mz_seterr(err, errlen, "text '%.32s...' is longer than %d bytes", vs, MZ_ATTRIBUTE_TEXT_MAX);
    return -1;
  }
  for (const char *c = vs; c < ve; c++) {
    if ((unsigned char)*c < 0x20 || *c == 0x7f || strchr("[]{}()", *c)) {
      mz_seterr(err, errlen, "text '%.*s' contains an invalid character", (int)len, vs);
      return -1;
    }
  }
  a->type = MESOS__V1__VALUE__TYPE__TEXT;
  a->text = mz_malloc(sizeof *a->text);
  *a->text = (Mesos__V1__Value__Text)MESOS__V1__VALUE__TEXT__INIT;
  a->text->value = mz_malloc(len + 1);
  memcpy(a->text->value, vs, len);
  a->text->value[len] = '\0';
  return 0;
}

Mesos__V1__Attribute **mz_attributes_parse(const char *text, size_t *n, char *err, size_t errlen) {
  char why[384];
  *n = 0;
  if (!text) text = "";
  size_t cap = 8, cnt = 0;
  Mesos__V1__Attribute **out = mz_calloc(cap, sizeof *out);
  const char *p = text;
  while (*p) {
    const char *semi = strchr(p, ';');
    const char *s = p, *e = semi ? semi : p + strlen(p);
    mz_trim(&s, &e);
    if (s < e) {
      int tlen = (int)(e - s);
      const char *colon = memchr(s, ':', (size_t)(e - s));
      if (!colon || memchr(colon + 1, ':', (size_t)(e - colon - 1))) {
        mz_seterr(err, errlen, "attribute '%.*s': missing or extra ':'", tlen, s);
        goto fail;
      }
      if (cnt >= MZ_RESOURCES_ENTRIES_MAX) {
        mz_seterr(err, errlen, "more than %d attributes", MZ_RESOURCES_ENTRIES_MAX);
        goto fail;
      }
      const char *ks = s, *ke = colon, *vs = colon + 1, *ve = e;
      mz_trim(&ks, &ke);
      mz_trim(&vs, &ve);
      Mesos__V1__Attribute *a = mz_malloc(sizeof *a);
      *a = (Mesos__V1__Attribute)MESOS__V1__ATTRIBUTE__INIT;
      a->name = mz_malloc((size_t)(ke - ks) + 1);
      memcpy(a->name, ks, (size_t)(ke - ks));
      a->name[ke - ks] = '\0';
      if (cnt == cap) {
        cap *= 2;
        out = mz_realloc(out, cap * sizeof *out);
      }
      out[cnt++] = a;
      if (mz_resource_name_valid(a->name, why, sizeof why) < 0 || parse_value(a, vs, ve, why, sizeof why) < 0) {
        mz_seterr(err, errlen, "attribute '%.*s': %s", tlen, s, why);
        goto fail;
      }
    }
    if (!semi) break;
    p = semi + 1;
  }
  *n = cnt;
  return out;
fail:
  mz_attributes_free(out, cnt);
  return NULL;
}

json_t *mz_attributes_json(Mesos__V1__Attribute *const *attrs, size_t n) {
  json_t *o = json_object();
  for (size_t i = 0; attrs && i < n; i++) {
    const Mesos__V1__Attribute *a = attrs[i];
    if (!a || !a->name) continue;
    json_t *v = NULL;
    switch (a->type) {
      case MESOS__V1__VALUE__TYPE__SCALAR: {
        double d = a->scalar ? a->scalar->value : 0;
        if (d == floor(d) && fabs(d) < 9e15)
          v = json_integer((json_int_t)d);
        else
          v = json_real(d);
        break;
      }
      case MESOS__V1__VALUE__TYPE__RANGES: {
        size_t nr = a->ranges ? a->ranges->n_range : 0;
        mz_range *r = mz_calloc(nr ? nr : 1, sizeof *r);
        for (size_t k = 0; k < nr; k++) {
          r[k].begin = a->ranges->range[k]->begin;
          r[k].end = a->ranges->range[k]->end;
        }
        char *s = mz_value_format_ranges(r, nr, ", ");
        v = json_string(s);
        free(s);
        free(r);
        break;
      }
      case MESOS__V1__VALUE__TYPE__SET: {
        char *s = mz_value_format_set(a->set ? a->set->item : NULL, a->set ? a->set->n_item : 0, ", ");
        v = json_string(s);
        free(s);
        break;
      }
      case MESOS__V1__VALUE__TYPE__TEXT: v = json_string(a->text && a->text->value ? a->text->value : ""); break;
      default: continue;
    }
    if (v) json_object_set_new(o, a->name, v);
  }
  return o;
}
