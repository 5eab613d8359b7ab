/* resources_parse: the text forms of resources. Reads the agent's
 * --resources string ("cpus:4;mem:2048;ports:[31000-32000];cpus(eng):2;zones:{a,b}",
 * or a JSON array of Mesos Resource objects, told apart by a leading '[') and
 * writes the text form back (mz_resources_format). The value grammar (scalar,
 * "[b-e,...]" ranges, "{x,...}" sets) is shared with attributes.c through
 * mz_value_* helpers declared in resources.h.
 *
 * Ownership: inputs are only read; results are newly allocated (mz_resources
 * for the caller to free, strings from mz_resources_format to free()). */
#include "common/resources.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static char *dup_span(const char *s, const char *e) {
  size_t n = (size_t)(e - s);
  char *d = mz_malloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

int mz_value_parse_scalar(const char *s, size_t len, double *out, char *err, size_t errlen) {
  char buf[64];
  if (len == 0) {
    mz_seterr(err, errlen, "missing value");
    return -1;
  }
  if (len >= sizeof buf) {
    mz_seterr(err, errlen, "value '%.32s...' is too long", s);
    return -1;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  if (buf[0] == '-') {
    mz_seterr(err, errlen, "value '%s' is negative", buf);
    return -1;
  }
  if (strcasecmp(buf, "nan") == 0 || strcasecmp(buf, "+nan") == 0) {
    mz_seterr(err, errlen, "value '%s' is NaN", buf);
    return -1;
  }
  if (strcasecmp(buf, "inf") == 0 || strcasecmp(buf, "infinity") == 0 || strcasecmp(buf, "+inf") == 0) {
    mz_seterr(err, errlen, "value '%s' is infinite", buf);
    return -1;
  }
  /* digits [. digits] [e [+-] digits], at least one digit before the exponent */
  size_t i = 0, digits = 0;
  if (buf[i] == '+') i++;
  while (isdigit((unsigned char)buf[i])) i++, digits++;
  if (buf[i] == '.') {
    i++;
    while (isdigit((unsigned char)buf[i])) i++, digits++;
  }
  if (digits > 0 && (buf[i] == 'e' || buf[i] == 'E')) {
    size_t j = i + 1, ed = 0;
    if (buf[j] == '+' || buf[j] == '-') j++;
    while (isdigit((unsigned char)buf[j])) j++, ed++;
    if (ed > 0) i = j;
  }
  if (digits == 0 || buf[i] != '\0') {
    mz_seterr(err, errlen, "value '%s' is not a number", buf);
    return -1;
  }
  *out = strtod(buf, NULL);
  return 0;
}

static int parse_u64(const char *s, const char *e, uint64_t *out) {
  mz_trim(&s, &e);
  if (s == e || (size_t)(e - s) > 20) return -1;
  uint64_t v = 0;
  for (const char *p = s; p < e; p++) {
    if (!isdigit((unsigned char)*p)) return -1;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int mz_value_parse_ranges(const char *s, size_t len, mz_range **out, size_t *n, char *err, size_t errlen) {
  const char *p = s, *end = s + len;
  *out = NULL;
  *n = 0;
  mz_trim(&p, &end);
  if (end - p < 2 || *p != '[' || end[-1] != ']') {
    mz_seterr(err, errlen, "ranges '%.*s' are not of the form [begin-end,...]", (int)len, s);
    return -1;
  }
  p++;
  end--;
  const char *q = p, *qe = end;
  mz_trim(&q, &qe);
  if (q == qe) return 0; /* "[]" */
  size_t cap = 0;
  mz_range *v = NULL;
  while (p <= end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *te = comma ? comma : end;
    const char *ts = p, *tt = te;
    mz_trim(&ts, &tt);
    const char *dash = ts < tt ? memchr(ts + 1, '-', (size_t)(tt - ts - 1)) : NULL;
    uint64_t b, e;
    if (ts < tt && *ts == '-') {
      mz_seterr(err, errlen, "range '%.*s' is negative", (int)(tt - ts), ts);
      goto fail;
    }
    if (!dash || parse_u64(ts, dash, &b) < 0 || parse_u64(dash + 1, tt, &e) < 0) {
      mz_seterr(err, errlen, "range '%.*s' is not of the form begin-end with unsigned 64-bit numbers",
             (int)(tt - ts), ts);
      goto fail;
    }
    if (b > e) {
      mz_seterr(err, errlen, "range [%llu-%llu] has begin > end", (unsigned long long)b, (unsigned long long)e);
      goto fail;
    }
    if (*n >= MZ_RESOURCE_ITEMS_MAX) {
      mz_seterr(err, errlen, "more than %d ranges", MZ_RESOURCE_ITEMS_MAX);
      goto fail;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      v = mz_realloc(v, cap * sizeof *v);
    }
    v[(*n)++] = (mz_range){b, e};
    if (!comma) break;
    p = comma + 1;
  }
  *out = v;
  return 0;
fail:
  free(v);
  *n = 0;
  return -1;
}

void mz_value_free_items(char **items, size_t n) {
  for (size_t i = 0; i < n; i++) free(items[i]);
  free(items);
}

int mz_value_parse_set(const char *s, size_t len, char ***out, size_t *n, char *err, size_t errlen) {
  const char *p = s, *end = s + len;
  *out = NULL;
  *n = 0;
  mz_trim(&p, &end);
  if (end - p < 2 || *p != '{' || end[-1] != '}') {
    mz_seterr(err, errlen, "set '%.*s' is not of the form {item,...}", (int)len, s);
    return -1;
  }
  p++;
  end--;
  const char *q = p, *qe = end;
  mz_trim(&q, &qe);
  if (q == qe) return 0; /* "{}" */
  size_t cap = 0;
  char **v = NULL;
  while (p <= end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *ts = p, *te = comma ? comma : end;
    mz_trim(&ts, &te);
    if (ts == te) {
      mz_seterr(err, errlen, "set '%.*s' has an empty item", (int)len, s);
      goto fail;
    }
    for (const char *c = ts; c < te; c++) {
      if (*c == '{' || *c == '}' || *c == '[' || *c == ']' || (unsigned char)*c < 0x20) {
        mz_seterr(err, errlen, "set item '%.*s' contains an invalid character", (int)(te - ts), ts);
        goto fail;
      }
    }
    if ((size_t)(te - ts) > MZ_SET_ITEM_MAX) {
      mz_seterr(err, errlen, "set item '%.32s...' is longer than %d bytes", ts, MZ_SET_ITEM_MAX);
      goto fail;
    }
    if (*n >= MZ_RESOURCE_ITEMS_MAX) {
      mz_seterr(err, errlen, "more than %d set items", MZ_RESOURCE_ITEMS_MAX);
      goto fail;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      v = mz_realloc(v, cap * sizeof *v);
    }
    v[(*n)++] = dup_span(ts, te);
    if (!comma) break;
    p = comma + 1;
  }
  *out = v;
  return 0;
fail:
  mz_value_free_items(v, *n);
  *n = 0;
  return -1;
}

/* One "name(role):value" token of the text form, added to r. */
static int parse_token(mz_resources *r, const char *s, const char *e, const char *default_role, char *err,
                       size_t errlen) {
  char why[384];
  int tlen = (int)(e - s);
  const char *colon = memchr(s, ':', (size_t)(e - s));
  if (!colon || memchr(colon + 1, ':', (size_t)(e - colon - 1))) {
    mz_seterr(err, errlen, "resource '%.*s': missing or extra ':'", tlen, s);
    return -1;
  }
  const char *ks = s, *ke = colon, *vs = colon + 1, *ve = e;
  mz_trim(&ks, &ke);
  mz_trim(&vs, &ve);
  char *name = NULL, *role = NULL;
  const char *open = memchr(ks, '(', (size_t)(ke - ks));
  const char *close = memchr(ks, ')', (size_t)(ke - ks));
  if (open || close) {
    if (!open || !close || close != ke - 1 || close < open || memchr(open + 1, '(', (size_t)(close - open - 1))) {
      mz_seterr(err, errlen, "resource '%.*s': mismatched parentheses", tlen, s);
      return -1;
    }
    const char *ns = ks, *ne = open, *rs = open + 1, *re = close;
    mz_trim(&ns, &ne);
    mz_trim(&rs, &re);
    name = dup_span(ns, ne);
    role = dup_span(rs, re);
  } else {
    name = dup_span(ks, ke);
    role = mz_strdup(default_role);
  }
  int rc = -1;
  mz_resource res = {0};
  res.name = name;
  res.role = role;
  if (mz_resource_name_valid(name, why, sizeof why) < 0 || mz_role_valid(role, true, why, sizeof why) < 0) {
    mz_seterr(err, errlen, "resource '%.*s': %s", tlen, s, why);
    goto out;
  }
  res.resv = strcmp(role, "*") == 0 ? MZ_RESV_NONE : MZ_RESV_STATIC;
  if (vs < ve && *vs == '[') {
    res.type = MZ_RES_RANGES;
    if (mz_value_parse_ranges(vs, (size_t)(ve - vs), &res.ranges, &res.nranges, why, sizeof why) < 0) {
      mz_seterr(err, errlen, "resource '%.*s': %s", tlen, s, why);
      goto out;
    }
  } else if (vs < ve && *vs == '{') {
    res.type = MZ_RES_SET;
    if (mz_value_parse_set(vs, (size_t)(ve - vs), &res.items, &res.nitems, why, sizeof why) < 0) {
      mz_seterr(err, errlen, "resource '%.*s': %s", tlen, s, why);
      goto out;
    }
  } else {
    double d;
    res.type = MZ_RES_SCALAR;
    if (mz_value_parse_scalar(vs, (size_t)(ve - vs), &d, why, sizeof why) < 0 ||
        mz_scalar_from_double(d, &res.scalar, why, sizeof why) < 0) {
      mz_seterr(err, errlen, "resource '%.*s': %s", tlen, s, why);
      goto out;
    }
  }
  rc = mz_resources_add_entry(r, &res, err, errlen);
out:
  free(name);
  free(role);
  free(res.ranges);
  mz_value_free_items(res.items, res.nitems);
  return rc;
}

mz_resources *mz_resources_parse(const char *text, const char *default_role, char *err, size_t errlen) {
  char why[384];
  if (!text) {
    mz_seterr(err, errlen, "no resources given");
    return NULL;
  }
  if (!default_role || !*default_role) default_role = "*";
  if (mz_role_valid(default_role, true, why, sizeof why) < 0) {
    mz_seterr(err, errlen, "default %s", why);
    return NULL;
  }
  const char *p = text;
  while (isspace((unsigned char)*p)) p++;
  if (*p == '[') {
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
      mz_seterr(err, errlen, "resources JSON is invalid at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
      return NULL;
    }
    mz_resources *r = mz_resources_from_json_default(j, default_role, err, errlen);
    json_decref(j);
    return r;
  }
  mz_resources *r = mz_resources_new();
  size_t count = 0;
  while (*p) {
    const char *semi = strchr(p, ';');
    const char *s = p, *e = semi ? semi : p + strlen(p);
    mz_trim(&s, &e);
    if (s < e) {
      if (++count > MZ_RESOURCES_ENTRIES_MAX) {
        mz_seterr(err, errlen, "more than %d resources", MZ_RESOURCES_ENTRIES_MAX);
        goto fail;
      }
      if (parse_token(r, s, e, default_role, err, errlen) < 0) goto fail;
    }
    if (!semi) break;
    p = semi + 1;
  }
  return r;
fail:
  mz_resources_free(r);
  return NULL;
}

/* ------------------------------------------------------------- text output */

typedef struct {
  char *s;
  size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (b->len + (size_t)n + 1 > b->cap) {
    b->cap = (b->len + (size_t)n + 1) * 2;
    b->s = mz_realloc(b->s, b->cap);
  }
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

char *mz_value_format_ranges(const mz_range *v, size_t n, const char *sep) {
  sbuf b = {0};
  sb_add(&b, "[");
  for (size_t i = 0; i < n; i++)
    sb_add(&b, "%s%llu-%llu", i ? sep : "", (unsigned long long)v[i].begin, (unsigned long long)v[i].end);
  sb_add(&b, "]");
  return b.s;
}

char *mz_value_format_set(char *const *items, size_t n, const char *sep) {
  sbuf b = {0};
  sb_add(&b, "{");
  for (size_t i = 0; i < n; i++) sb_add(&b, "%s%s", i ? sep : "", items[i]);
  sb_add(&b, "}");
  return b.s;
}

char *mz_resources_format(const mz_resources *r) {
  sbuf b = {0};
  sb_add(&b, "%s", "");
  for (size_t i = 0; r && i < r->n; i++) {
    const mz_resource *e = &r->v[i];
    sb_add(&b, "%s%s", i ? ";" : "", e->name);
    if (strcmp(e->role, "*") != 0) sb_add(&b, "(%s)", e->role);
    if (e->type == MZ_RES_SCALAR) {
      char num[32];
      mz_scalar_format(e->scalar, num, sizeof num);
      sb_add(&b, ":%s", num);
    } else {
      char *v = e->type == MZ_RES_RANGES ? mz_value_format_ranges(e->ranges, e->nranges, ",")
                                         : mz_value_format_set(e->items, e->nitems, ",");
      sb_add(&b, ":%s", v);
      free(v);
    }
  }
  return b.s;
}
