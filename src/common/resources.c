/* resources: the core of the resource model (see resources.h): entry
 * identity, validation of names and roles, fixed-point scalars, and the
 * arithmetic (add, subtract, contains, equal) on scalars, ranges and sets,
 * plus the role filters. Parsing lives in resources_parse.c, JSON output in
 * resources_json.c, protobuf and JSON-array input in resources_proto.c.
 *
 * Ownership: a mz_resources owns its array of entries and every string and
 * array inside them; entries never share memory with one another or with
 * their inputs (everything that comes in is deep-copied). */
#include "common/resources.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/intern.h"
#include "common/util.h"

static bool str_eq(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return mz_intern_eq(a, b);
}

static const char *type_name(mz_res_type t) {
  switch (t) {
    case MZ_RES_SCALAR: return "SCALAR";
    case MZ_RES_RANGES: return "RANGES";
    case MZ_RES_SET: return "SET";
  }
  return "UNKNOWN";
}

/* ------------------------------------------------------------- validation */

int mz_role_valid(const char *role, bool allow_star, char *err, size_t errlen) {
  if (!role) {
    mz_seterr(err, errlen, "role is missing");
    return -1;
  }
  if (strcmp(role, "*") == 0) {
    if (allow_star) return 0;
    mz_seterr(err, errlen, "role '*' is not allowed here");
    return -1;
  }
  size_t len = strlen(role);
  if (len == 0) {
    mz_seterr(err, errlen, "role name is empty");
    return -1;
  }
  if (len > MZ_ROLE_NAME_MAX) {
    mz_seterr(err, errlen, "role name '%.32s...' is longer than %d bytes", role, MZ_ROLE_NAME_MAX);
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)role[i];
    if (c <= 0x20 || c == 0x7f || c == '\\') {
      mz_seterr(err, errlen, "role '%s' contains a whitespace, control or backslash character", role);
      return -1;
    }
  }
  if (role[0] == '/' || role[len - 1] == '/') {
    mz_seterr(err, errlen, "role '%s' must not start or end with '/'", role);
    return -1;
  }
  /* Each '/'-separated part of a hierarchical role is itself a valid name. */
  const char *p = role;
  while (*p) {
    const char *slash = strchr(p, '/');
    size_t plen = slash ? (size_t)(slash - p) : strlen(p);
    if (plen == 0) {
      mz_seterr(err, errlen, "role '%s' has an empty path component", role);
      return -1;
    }
    if ((plen == 1 && p[0] == '.') || (plen == 2 && p[0] == '.' && p[1] == '.')) {
      mz_seterr(err, errlen, "role '%s' must not be or contain '.' or '..'", role);
      return -1;
    }
    if (plen == 1 && p[0] == '*') {
      mz_seterr(err, errlen, "role '%s' must not contain a '*' component", role);
      return -1;
    }
    if (p[0] == '-') {
      mz_seterr(err, errlen, "role '%s' must not start a component with '-'", role);
      return -1;
    }
    p += plen;
    if (*p == '/') p++;
  }
  return 0;
}

int mz_resource_name_valid(const char *name, char *err, size_t errlen) {
  if (!name || !*name) {
    mz_seterr(err, errlen, "resource name is empty");
    return -1;
  }
  size_t len = strlen(name);
  if (len > MZ_RESOURCE_NAME_MAX) {
    mz_seterr(err, errlen, "name '%.32s...' is longer than %d bytes", name, MZ_RESOURCE_NAME_MAX);
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c <= 0x20 || c >= 0x7f || strchr(";:()[]{},\"", c)) {
      mz_seterr(err, errlen, "name '%s' contains an invalid character", name);
      return -1;
    }
  }
  return 0;
}

static int item_valid(const char *item, char *err, size_t errlen) {
  if (!item || !*item) {
    mz_seterr(err, errlen, "set item is empty");
    return -1;
  }
  size_t len = strlen(item);
  if (len > MZ_SET_ITEM_MAX) {
    mz_seterr(err, errlen, "set item '%.32s...' is longer than %d bytes", item, MZ_SET_ITEM_MAX);
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)item[i];
    if (c < 0x20 || c == 0x7f || c == ',' || c == '{' || c == '}' || c == ';') {
      mz_seterr(err, errlen, "set item '%s' contains an invalid character", item);
      return -1;
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- scalars */

int mz_scalar_from_double(double v, int64_t *out, char *err, size_t errlen) {
  if (isnan(v)) {
    mz_seterr(err, errlen, "value is NaN");
    return -1;
  }
  if (isinf(v)) {
    mz_seterr(err, errlen, "value is infinite");
    return -1;
  }
  if (v < 0) {
    mz_seterr(err, errlen, "value is negative");
    return -1;
  }
  if (v > (double)MZ_SCALAR_MAX / MZ_SCALAR_UNIT) {
    mz_seterr(err, errlen, "value is too large");
    return -1;
  }
  *out = (int64_t)llround(v * MZ_SCALAR_UNIT);
  return 0;
}

double mz_scalar_to_double(int64_t v) {
  /* Integer and fraction apart, so that 0.1 prints as 0.1 and not 0.1000000001. */
  return (double)(v / MZ_SCALAR_UNIT) + (double)(v % MZ_SCALAR_UNIT) / MZ_SCALAR_UNIT;
}

void mz_scalar_format(int64_t v, char *buf, size_t buflen) {
  const char *sign = "";
  uint64_t u = (uint64_t)v;
  if (v < 0) {
    sign = "-";
    u = (uint64_t)0 - u;
  }
  uint64_t ip = u / MZ_SCALAR_UNIT, fp = u % MZ_SCALAR_UNIT;
  if (fp == 0) {
    snprintf(buf, buflen, "%s%llu", sign, (unsigned long long)ip);
    return;
  }
  char frac[8];
  snprintf(frac, sizeof frac, "%03llu", (unsigned long long)fp);
  size_t fl = strlen(frac);
  while (fl > 0 && frac[fl - 1] == '0') frac[--fl] = '\0';
  snprintf(buf, buflen, "%s%llu.%s", sign, (unsigned long long)ip, frac);
}

/* ------------------------------------------------------ entries and lists */

static void entry_free(mz_resource *e) {
  mz_intern_release(e->name);
  mz_intern_release(e->role);
  mz_intern_release(e->principal);
  mz_intern_release(e->alloc_role);
  free(e->ranges);
  for (size_t i = 0; i < e->nitems; i++) free(e->items[i]);
  free(e->items);
  memset(e, 0, sizeof *e);
}

static void entry_copy(mz_resource *dst, const mz_resource *src) {
  *dst = *src;
  dst->name = mz_intern(src->name);
  dst->role = mz_intern(src->role ? src->role : "*");
  dst->principal = src->principal ? mz_intern(src->principal) : NULL;
  dst->alloc_role = src->alloc_role ? mz_intern(src->alloc_role) : NULL;
  dst->ranges = NULL;
  dst->items = NULL;
  if (src->nranges) {
    dst->ranges = mz_malloc(src->nranges * sizeof *dst->ranges);
    memcpy(dst->ranges, src->ranges, src->nranges * sizeof *dst->ranges);
  }
  if (src->nitems) {
    dst->items = mz_malloc(src->nitems * sizeof *dst->items);
    for (size_t i = 0; i < src->nitems; i++) dst->items[i] = mz_strdup(src->items[i]);
  }
}

static bool entry_empty(const mz_resource *e) {
  switch (e->type) {
    case MZ_RES_SCALAR: return e->scalar == 0;
    case MZ_RES_RANGES: return e->nranges == 0;
    case MZ_RES_SET: return e->nitems == 0;
  }
  return true;
}

static bool same_identity(const mz_resource *a, const mz_resource *b) {
  return a->type == b->type && a->resv == b->resv && mz_intern_eq(a->name, b->name) &&
         mz_intern_eq(a->role, b->role) && str_eq(a->principal, b->principal) &&
         str_eq(a->alloc_role, b->alloc_role);
}

static mz_resource *find_identity(const mz_resources *r, const mz_resource *e) {
  for (size_t i = 0; i < r->n; i++)
    if (same_identity(&r->v[i], e)) return &r->v[i];
  return NULL;
}

/* An entry of r with e's name but another type, or NULL. */
static const mz_resource *find_conflict(const mz_resources *r, const mz_resource *e) {
  for (size_t i = 0; i < r->n; i++)
    if (r->v[i].type != e->type && mz_intern_eq(r->v[i].name, e->name)) return &r->v[i];
  return NULL;
}

/* Room for n entries: the array of entries grows by doubling, so it always
 * holds at least the next power of two >= n (mz_resources_copy sizes it so). */
static size_t room_for(size_t n) {
  size_t c = 1;
  while (c < n) c *= 2;
  return c;
}

/* Appends e, taking ownership of its contents. */
static void push_owned(mz_resources *r, mz_resource *e) {
  if ((r->n & (r->n - 1)) == 0) r->v = mz_realloc(r->v, room_for(r->n + 1) * sizeof *r->v); /* n is 0 or 2^k */
  r->v[r->n++] = *e;
  memset(e, 0, sizeof *e);
}

mz_resources *mz_resources_new(void) { return mz_calloc(1, sizeof(mz_resources)); }

void mz_resources_clear(mz_resources *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) entry_free(&r->v[i]);
  free(r->v);
  r->v = NULL;
  r->n = 0;
}

void mz_resources_free(mz_resources *r) {
  if (!r) return;
  mz_resources_clear(r);
  free(r);
}

mz_resources *mz_resources_copy(const mz_resources *r) {
  mz_resources *c = mz_resources_new();
  if (!r || r->n == 0) return c;
  c->v = mz_malloc(room_for(r->n) * sizeof *c->v);
  for (size_t i = 0; i < r->n; i++) entry_copy(&c->v[i], &r->v[i]);
  c->n = r->n;
  return c;
}

bool mz_resources_empty(const mz_resources *r) {
  if (!r) return true;
  for (size_t i = 0; i < r->n; i++)
    if (!entry_empty(&r->v[i])) return false;
  return true;
}

/* ----------------------------------------------------------------- ranges */

static int range_cmp(const void *a, const void *b) {
  const mz_range *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* Appends r to out (sorted by begin), coalescing with the last range when
 * they overlap or touch. */
static void range_append(mz_range *out, size_t *n, mz_range r) {
  if (*n > 0) {
    mz_range *last = &out[*n - 1];
    if (last->end == UINT64_MAX || r.begin <= last->end + 1) {
      if (r.end > last->end) last->end = r.end;
      return;
    }
  }
  out[(*n)++] = r;
}

static void ranges_normalize(mz_range *v, size_t *n) {
  if (*n < 2) return;
  qsort(v, *n, sizeof *v, range_cmp);
  size_t m = 0;
  for (size_t i = 0; i < *n; i++) range_append(v, &m, v[i]);
  *n = m;
}

/* a := a ∪ b, both normalized. */
static void ranges_add(mz_resource *a, const mz_range *b, size_t nb) {
  if (nb == 0) return;
  mz_range *out = mz_malloc((a->nranges + nb) * sizeof *out);
  size_t n = 0, i = 0, j = 0;
  while (i < a->nranges || j < nb) {
    if (j >= nb || (i < a->nranges && a->ranges[i].begin <= b[j].begin))
      range_append(out, &n, a->ranges[i++]);
    else
      range_append(out, &n, b[j++]);
  }
  free(a->ranges);
  a->ranges = out;
  a->nranges = n;
}

/* a := a \ b, both normalized. */
static void ranges_subtract(mz_resource *a, const mz_range *b, size_t nb) {
  if (nb == 0 || a->nranges == 0) return;
  /* Each b range splits at most one a range in two. */
  mz_range *out = mz_malloc((a->nranges + nb) * sizeof *out);
  size_t n = 0, j = 0;
  for (size_t i = 0; i < a->nranges; i++) {
    uint64_t s = a->ranges[i].begin, e = a->ranges[i].end;
    bool done = false;
    while (j < nb && b[j].end < s) j++;
    for (size_t k = j; k < nb && b[k].begin <= e; k++) {
      if (b[k].begin > s) out[n++] = (mz_range){s, b[k].begin - 1};
      if (b[k].end >= e) {
        done = true;
        break;
      }
      s = b[k].end + 1;
    }
    if (!done) out[n++] = (mz_range){s, e};
  }
  free(a->ranges);
  a->ranges = n ? out : NULL;
  a->nranges = n;
  if (!n) free(out);
}

/* Is every range of b inside a range of a (both normalized)? */
static bool ranges_contain(const mz_range *a, size_t na, const mz_range *b, size_t nb) {
  size_t i = 0;
  for (size_t j = 0; j < nb; j++) {
    while (i < na && a[i].end < b[j].begin) i++;
    if (i >= na || a[i].begin > b[j].begin || a[i].end < b[j].end) return false;
  }
  return true;
}

/* ------------------------------------------------------------------- sets */

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void items_normalize(char **v, size_t *n) {
  if (*n < 2) return;
  qsort(v, *n, sizeof *v, str_cmp);
  size_t m = 1;
  for (size_t i = 1; i < *n; i++) {
    if (strcmp(v[i], v[m - 1]) == 0)
      free(v[i]);
    else
      v[m++] = v[i];
  }
  *n = m;
}

/* a := a ∪ b, both sorted and unique; b's strings are copied. */
static void items_add(mz_resource *a, char *const *b, size_t nb) {
  if (nb == 0) return;
  char **out = mz_malloc((a->nitems + nb) * sizeof *out);
  size_t n = 0, i = 0, j = 0;
  while (i < a->nitems || j < nb) {
    int c = i >= a->nitems ? 1 : j >= nb ? -1 : strcmp(a->items[i], b[j]);
    if (c < 0) {
      out[n++] = a->items[i++];
    } else if (c > 0) {
      out[n++] = mz_strdup(b[j++]);
    } else {
      out[n++] = a->items[i++];
      j++;
    }
  }
  free(a->items);
  a->items = out;
  a->nitems = n;
}

/* a := a \ b. */
static void items_subtract(mz_resource *a, char *const *b, size_t nb) {
  size_t n = 0, j = 0;
  for (size_t i = 0; i < a->nitems; i++) {
    while (j < nb && strcmp(b[j], a->items[i]) < 0) j++;
    if (j < nb && strcmp(b[j], a->items[i]) == 0)
      free(a->items[i]);
    else
      a->items[n++] = a->items[i];
  }
  a->nitems = n;
  if (n == 0) {
    free(a->items);
    a->items = NULL;
  }
}

static bool items_contain(char *const *a, size_t na, char *const *b, size_t nb) {
  size_t i = 0;
  for (size_t j = 0; j < nb; j++) {
    while (i < na && strcmp(a[i], b[j]) < 0) i++;
    if (i >= na || strcmp(a[i], b[j]) != 0) return false;
  }
  return true;
}

/* ------------------------------------------------------------ entry values */

/* dst += src (same identity); the caller has checked scalar overflow. */
static void value_add(mz_resource *dst, const mz_resource *src) {
  switch (dst->type) {
    case MZ_RES_SCALAR: dst->scalar += src->scalar; break;
    case MZ_RES_RANGES: ranges_add(dst, src->ranges, src->nranges); break;
    case MZ_RES_SET: items_add(dst, src->items, src->nitems); break;
  }
}

static void value_subtract(mz_resource *dst, const mz_resource *src) {
  switch (dst->type) {
    case MZ_RES_SCALAR: dst->scalar -= src->scalar; break;
    case MZ_RES_RANGES: ranges_subtract(dst, src->ranges, src->nranges); break;
    case MZ_RES_SET: items_subtract(dst, src->items, src->nitems); break;
  }
}

static bool value_contains(const mz_resource *a, const mz_resource *b) {
  switch (a->type) {
    case MZ_RES_SCALAR: return a->scalar >= b->scalar;
    case MZ_RES_RANGES: return ranges_contain(a->ranges, a->nranges, b->ranges, b->nranges);
    case MZ_RES_SET: return items_contain(a->items, a->nitems, b->items, b->nitems);
  }
  return false;
}

/* "cpus(eng)" style label of an entry for error messages. */
static void entry_label(const mz_resource *e, char *buf, size_t len) {
  if (strcmp(e->role, "*") == 0)
    snprintf(buf, len, "%s", e->name);
  else
    snprintf(buf, len, "%s(%s)", e->name, e->role);
}

int mz_resources_add_entry(mz_resources *r, const mz_resource *e, char *err, size_t errlen) {
  char why[384];
  const char *role = e->role ? e->role : "*";
  if (mz_resource_name_valid(e->name, why, sizeof why) < 0) {
    mz_seterr(err, errlen, "resource '%s': %s", e->name ? e->name : "", why);
    return -1;
  }
  const char *name = e->name;
  if (e->type != MZ_RES_SCALAR && e->type != MZ_RES_RANGES && e->type != MZ_RES_SET) {
    mz_seterr(err, errlen, "resource '%s': unknown type %d", name, (int)e->type);
    return -1;
  }
  if (mz_role_valid(role, true, why, sizeof why) < 0) {
    mz_seterr(err, errlen, "resource '%s': %s", name, why);
    return -1;
  }
  bool unreserved = strcmp(role, "*") == 0;
  if (unreserved != (e->resv == MZ_RESV_NONE) ||
      (e->resv != MZ_RESV_NONE && e->resv != MZ_RESV_STATIC && e->resv != MZ_RESV_DYNAMIC)) {
    mz_seterr(err, errlen, "resource '%s': reservation kind does not match role '%s'", name, role);
    return -1;
  }
  if (e->alloc_role && mz_role_valid(e->alloc_role, true, why, sizeof why) < 0) {
    mz_seterr(err, errlen, "resource '%s': allocation %s", name, why);
    return -1;
  }
  if (e->type == MZ_RES_SCALAR && (e->scalar < 0 || e->scalar > MZ_SCALAR_MAX)) {
    mz_seterr(err, errlen, "resource '%s': value is %s", name, e->scalar < 0 ? "negative" : "too large");
    return -1;
  }
  if (e->type == MZ_RES_RANGES) {
    for (size_t i = 0; i < e->nranges; i++) {
      if (e->ranges[i].begin > e->ranges[i].end) {
        mz_seterr(err, errlen, "resource '%s': range [%llu-%llu] has begin > end", name,
               (unsigned long long)e->ranges[i].begin, (unsigned long long)e->ranges[i].end);
        return -1;
      }
    }
  }
  if (e->type == MZ_RES_SET) {
    for (size_t i = 0; i < e->nitems; i++) {
      if (item_valid(e->items[i], why, sizeof why) < 0) {
        mz_seterr(err, errlen, "resource '%s': %s", name, why);
        return -1;
      }
    }
  }
  const mz_resource *c = find_conflict(r, e);
  if (c) {
    mz_seterr(err, errlen, "resource '%s': type %s conflicts with type %s of the same name", name,
           type_name(e->type), type_name(c->type));
    return -1;
  }

  mz_resource n;
  entry_copy(&n, e);
  if (n.resv != MZ_RESV_DYNAMIC) {
    mz_intern_release(n.principal);
    n.principal = NULL;
  }
  if (n.type != MZ_RES_SCALAR) n.scalar = 0;
  if (n.type != MZ_RES_RANGES) {
    free(n.ranges);
    n.ranges = NULL;
    n.nranges = 0;
  }
  if (n.type != MZ_RES_SET) {
    for (size_t i = 0; i < n.nitems; i++) free(n.items[i]);
    free(n.items);
    n.items = NULL;
    n.nitems = 0;
  }
  ranges_normalize(n.ranges, &n.nranges);
  items_normalize(n.items, &n.nitems);
  if (entry_empty(&n)) {
    entry_free(&n);
    return 0;
  }
  mz_resource *m = find_identity(r, &n);
  if (m) {
    if (n.type == MZ_RES_SCALAR && m->scalar > MZ_SCALAR_MAX - n.scalar) {
      char label[400];
      entry_label(&n, label, sizeof label);
      mz_seterr(err, errlen, "resource '%s': sum is too large", label);
      entry_free(&n);
      return -1;
    }
    value_add(m, &n);
    entry_free(&n);
    return 0;
  }
  push_owned(r, &n);
  return 0;
}

/* -------------------------------------------------------------- arithmetic */

int mz_resources_add(mz_resources *a, const mz_resources *b, char *err, size_t errlen) {
  if (!b) return 0;
  /* Check everything first so that a failure leaves a unchanged. */
  for (size_t i = 0; i < b->n; i++) {
    const mz_resource *e = &b->v[i];
    const mz_resource *c = find_conflict(a, e);
    if (c) {
      mz_seterr(err, errlen, "resource '%s': type %s conflicts with type %s of the same name", e->name,
             type_name(e->type), type_name(c->type));
      return -1;
    }
    const mz_resource *m = e->type == MZ_RES_SCALAR ? find_identity(a, e) : NULL;
    if (m && m->scalar > MZ_SCALAR_MAX - e->scalar) {
      char label[400];
      entry_label(e, label, sizeof label);
      mz_seterr(err, errlen, "resource '%s': sum is too large", label);
      return -1;
    }
  }
  for (size_t i = 0; i < b->n; i++) {
    const mz_resource *e = &b->v[i];
    if (entry_empty(e)) continue;
    mz_resource *m = find_identity(a, e);
    if (m) {
      value_add(m, e);
    } else {
      mz_resource c;
      entry_copy(&c, e);
      push_owned(a, &c);
    }
  }
  return 0;
}

/* The first entry of b that a does not contain, or NULL. */
static const mz_resource *first_missing(const mz_resources *a, const mz_resources *b) {
  for (size_t i = 0; i < b->n; i++) {
    const mz_resource *e = &b->v[i];
    if (entry_empty(e)) continue;
    const mz_resource *m = find_identity(a, e);
    if (!m || !value_contains(m, e)) return e;
  }
  return NULL;
}

bool mz_resources_contains(const mz_resources *a, const mz_resources *b) {
  if (!b) return true;
  static const mz_resources none = {NULL, 0};
  return first_missing(a ? a : &none, b) == NULL;
}

int mz_resources_subtract(mz_resources *a, const mz_resources *b, char *err, size_t errlen) {
  if (!b) return 0;
  const mz_resource *miss = first_missing(a, b);
  if (miss) {
    char label[400];
    entry_label(miss, label, sizeof label);
    mz_seterr(err, errlen, "resource '%s' is not contained in the resources subtracted from", label);
    return -1;
  }
  for (size_t i = 0; i < b->n; i++) {
    if (entry_empty(&b->v[i])) continue;
    value_subtract(find_identity(a, &b->v[i]), &b->v[i]);
  }
  mz_resources_drop_empty(a);
  return 0;
}

void mz_resources_drop_empty(mz_resources *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++) {
    if (entry_empty(&r->v[i]))
      entry_free(&r->v[i]);
    else
      r->v[n++] = r->v[i];
  }
  r->n = n;
  if (n == 0) {
    free(r->v);
    r->v = NULL;
  }
}

bool mz_resources_equal(const mz_resources *a, const mz_resources *b) {
  return mz_resources_contains(a, b) && mz_resources_contains(b, a);
}

/* ----------------------------------------------------------------- filters */

mz_resources *mz_resources_reserved_to(const mz_resources *r, const char *role) {
  mz_resources *out = mz_resources_new();
  if (!r || !role) return out;
  for (size_t i = 0; i < r->n; i++) {
    if (strcmp(r->v[i].role, role) != 0) continue;
    mz_resource c;
    entry_copy(&c, &r->v[i]);
    push_owned(out, &c);
  }
  return out;
}

/* op(a, the SCALAR entries of b): b's entries are viewed, not copied (they are
 * valid and distinct already; op copies what it keeps). These run for every
 * task launched and ended, so they allocate nothing for small b. */
static int on_scalars(mz_resources *a, const mz_resources *b,
                      int (*op)(mz_resources *, const mz_resources *, char *, size_t), char *err, size_t errlen) {
  if (!b || b->n == 0) return 0;
  mz_resource stack[16];
  mz_resource *v = b->n <= 16 ? stack : mz_malloc(b->n * sizeof *v);
  mz_resources view = {v, 0};
  for (size_t i = 0; i < b->n; i++)
    if (b->v[i].type == MZ_RES_SCALAR) v[view.n++] = b->v[i];
  int rc = op(a, &view, err, errlen);
  if (v != stack) free(v);
  return rc;
}

int mz_resources_add_scalars(mz_resources *a, const mz_resources *b, char *err, size_t errlen) {
  return on_scalars(a, b, mz_resources_add, err, errlen);
}

int mz_resources_subtract_scalars(mz_resources *a, const mz_resources *b, char *err, size_t errlen) {
  return on_scalars(a, b, mz_resources_subtract, err, errlen);
}

mz_resources *mz_resources_with_reservation(const mz_resources *r, const char *role, mz_resv_kind kind,
                                           const char *principal) {
  mz_resources *out = mz_resources_new();
  if (!r) return out;
  for (size_t i = 0; i < r->n; i++) {
    mz_resource c = r->v[i]; /* shallow: add_entry copies */
    if (!role || !strcmp(role, "*")) {
      c.role = "*";
      c.resv = MZ_RESV_NONE;
      c.principal = NULL;
    } else {
      c.role = role;
      c.resv = kind;
      c.principal = kind == MZ_RESV_DYNAMIC ? principal : NULL;
    }
    if (mz_resources_add_entry(out, &c, NULL, 0) != 0) {
      mz_resources_free(out);
      return NULL;
    }
  }
  return out;
}

/* Is reservation role anc equal to role or one of its ancestors ("eng" for "eng/ml")? */
static bool role_within(const char *anc, const char *role) {
  size_t n = strlen(anc);
  return strncmp(anc, role, n) == 0 && (role[n] == '\0' || role[n] == '/');
}

mz_resources *mz_resources_allocatable_to(const mz_resources *r, const char *role) {
  mz_resources *out = mz_resources_new();
  if (!r || !role) return out;
  for (size_t i = 0; i < r->n; i++) {
    const mz_resource *e = &r->v[i];
    if (strcmp(e->role, "*") != 0 && (strcmp(role, "*") == 0 || !role_within(e->role, role))) continue;
    mz_resource c;
    entry_copy(&c, e);
    push_owned(out, &c);
  }
  return out;
}

void mz_resources_set_alloc_role(mz_resources *r, const char *role) {
  if (!r) return;
  bool uniform = true;
  for (size_t i = 1; i < r->n && uniform; i++) uniform = r->v[i].alloc_role == r->v[0].alloc_role;
  if (uniform) {
    /* The entries' identities already differ in more than their allocation role
     * (interned: equal roles are equal pointers), so they stay distinct. */
    const char *ir = role ? mz_intern(role) : NULL;
    for (size_t i = 0; i < r->n; i++) {
      mz_intern_release(r->v[i].alloc_role);
      r->v[i].alloc_role = ir ? mz_intern_ref(ir) : NULL;
    }
    mz_intern_release(ir);
    return;
  }
  /* Entries that differed only by allocation role now share an identity: re-merge. */
  mz_resources merged = {NULL, 0};
  for (size_t i = 0; i < r->n; i++) {
    mz_resource *e = &r->v[i];
    mz_intern_release(e->alloc_role);
    e->alloc_role = role ? mz_intern(role) : NULL;
    mz_resource *m = find_identity(&merged, e);
    if (m) {
      if (e->type == MZ_RES_SCALAR && m->scalar > MZ_SCALAR_MAX - e->scalar)
        m->scalar = MZ_SCALAR_MAX; /* saturate: unreachable for parsed inputs */
      else
        value_add(m, e);
      entry_free(e);
    } else {
      push_owned(&merged, e);
    }
  }
  free(r->v);
  *r = merged;
}

/* ------------------------------------------------------------------ totals */

int64_t mz_resources_scalar(const mz_resources *r, const char *name) {
  int64_t sum = 0;
  if (!r || !name) return 0;
  for (size_t i = 0; i < r->n; i++) {
    const mz_resource *e = &r->v[i];
    if (e->type != MZ_RES_SCALAR || strcmp(e->name, name) != 0) continue;
    sum = sum > INT64_MAX - e->scalar ? INT64_MAX : sum + e->scalar;
  }
  return sum;
}

uint64_t mz_resources_range_count(const mz_resources *r, const char *name) {
  uint64_t sum = 0;
  if (!r || !name) return 0;
  for (size_t i = 0; i < r->n; i++) {
    const mz_resource *e = &r->v[i];
    if (e->type != MZ_RES_RANGES || strcmp(e->name, name) != 0) continue;
    for (size_t k = 0; k < e->nranges; k++) {
      uint64_t span = e->ranges[k].end - e->ranges[k].begin;
      uint64_t cnt = span == UINT64_MAX ? UINT64_MAX : span + 1;
      sum = sum > UINT64_MAX - cnt ? UINT64_MAX : sum + cnt;
    }
  }
  return sum;
}
