/* resources_proto: resources to and from mesos.v1.Resource messages
 * (protobuf-c), and the JSON array form of Resource objects, which is read by
 * first building the same messages and then validating them in one place.
 * Reservations are written in the refined form ("reservations", one entry)
 * and read in either form (refined, or the deprecated "role" plus
 * "reservation"); more than one reservation level is refused.
 *
 * Ownership: mz_resources_to_proto returns an array of messages in which
 * every submessage, array and string is a separate malloc (nothing static and
 * nothing shared), so the messages can be moved into an outgoing message and
 * still be freed afterwards by mz_resources_proto_free (never by
 * protobuf_c_message_free_unpacked). Messages given to mz_resources_from_proto
 * are only read. */
#include "common/resources.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "mesos/v1/mesos.pb-c.h"

/* The deprecated `role` field is part of the wire format we must read. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* --------------------------------------------------------------- messages */

static Mesos__V1__Resource *resource_msg_new(void) {
  Mesos__V1__Resource *m = mz_malloc(sizeof *m);
  *m = (Mesos__V1__Resource)MESOS__V1__RESOURCE__INIT;
  m->role = NULL; /* absent rather than the static default "*" */
  return m;
}

static Mesos__V1__Resource__ReservationInfo *resv_msg_new(void) {
  Mesos__V1__Resource__ReservationInfo *ri = mz_malloc(sizeof *ri);
  *ri = (Mesos__V1__Resource__ReservationInfo)MESOS__V1__RESOURCE__RESERVATION_INFO__INIT;
  return ri;
}

static void resv_msg_free(Mesos__V1__Resource__ReservationInfo *ri) {
  if (!ri) return;
  free(ri->principal);
  free(ri->role);
  free(ri);
}

static void resource_msg_free(Mesos__V1__Resource *m) {
  if (!m) return;
  free(m->name);
  free(m->scalar);
  if (m->ranges) {
    for (size_t i = 0; i < m->ranges->n_range; i++) free(m->ranges->range[i]);
    free(m->ranges->range);
    free(m->ranges);
  }
  if (m->set) {
    for (size_t i = 0; i < m->set->n_item; i++) free(m->set->item[i]);
    free(m->set->item);
    free(m->set);
  }
  if (m->role != mesos__v1__resource__role__default_value) free(m->role);
  resv_msg_free(m->reservation);
  for (size_t i = 0; i < m->n_reservations; i++) resv_msg_free(m->reservations[i]);
  free(m->reservations);
  if (m->allocation_info) {
    free(m->allocation_info->role);
    free(m->allocation_info);
  }
  free(m);
}

void mz_resources_proto_free(Mesos__V1__Resource **res, size_t n) {
  if (!res) return;
  for (size_t i = 0; i < n; i++) resource_msg_free(res[i]);
  free(res);
}

Mesos__V1__Resource **mz_resources_to_proto(const mz_resources *r, size_t *n) {
  size_t cnt = r ? r->n : 0;
  Mesos__V1__Resource **out = mz_calloc(cnt ? cnt : 1, sizeof *out);
  for (size_t i = 0; i < cnt; i++) {
    const mz_resource *e = &r->v[i];
    Mesos__V1__Resource *m = resource_msg_new();
    m->name = mz_strdup(e->name);
    switch (e->type) {
      case MZ_RES_SCALAR:
        m->type = MESOS__V1__VALUE__TYPE__SCALAR;
        m->scalar = mz_malloc(sizeof *m->scalar);
        *m->scalar = (Mesos__V1__Value__Scalar)MESOS__V1__VALUE__SCALAR__INIT;
        m->scalar->value = mz_scalar_to_double(e->scalar);
        break;
      case MZ_RES_RANGES:
        m->type = MESOS__V1__VALUE__TYPE__RANGES;
        m->ranges = mz_malloc(sizeof *m->ranges);
        *m->ranges = (Mesos__V1__Value__Ranges)MESOS__V1__VALUE__RANGES__INIT;
        m->ranges->n_range = e->nranges;
        m->ranges->range = e->nranges ? mz_malloc(e->nranges * sizeof *m->ranges->range) : NULL;
        for (size_t k = 0; k < e->nranges; k++) {
          Mesos__V1__Value__Range *rg = mz_malloc(sizeof *rg);
          *rg = (Mesos__V1__Value__Range)MESOS__V1__VALUE__RANGE__INIT;
          rg->begin = e->ranges[k].begin;
          rg->end = e->ranges[k].end;
          m->ranges->range[k] = rg;
        }
        break;
      case MZ_RES_SET:
        m->type = MESOS__V1__VALUE__TYPE__SET;
        m->set = mz_malloc(sizeof *m->set);
        *m->set = (Mesos__V1__Value__Set)MESOS__V1__VALUE__SET__INIT;
        m->set->n_item = e->nitems;
        m->set->item = e->nitems ? mz_malloc(e->nitems * sizeof *m->set->item) : NULL;
        for (size_t k = 0; k < e->nitems; k++) m->set->item[k] = mz_strdup(e->items[k]);
        break;
    }
    if (e->resv != MZ_RESV_NONE) {
      Mesos__V1__Resource__ReservationInfo *ri = resv_msg_new();
      ri->has_type = 1;
      ri->type = e->resv == MZ_RESV_STATIC ? MESOS__V1__RESOURCE__RESERVATION_INFO__TYPE__STATIC
                                           : MESOS__V1__RESOURCE__RESERVATION_INFO__TYPE__DYNAMIC;
      ri->role = mz_strdup(e->role);
      if (e->principal) ri->principal = mz_strdup(e->principal);
      m->n_reservations = 1;
      m->reservations = mz_malloc(sizeof *m->reservations);
      m->reservations[0] = ri;
    }
    if (e->alloc_role) {
      m->allocation_info = mz_malloc(sizeof *m->allocation_info);
      *m->allocation_info = (Mesos__V1__Resource__AllocationInfo)MESOS__V1__RESOURCE__ALLOCATION_INFO__INIT;
      m->allocation_info->role = mz_strdup(e->alloc_role);
    }
    out[i] = m;
  }
  *n = cnt;
  return out;
}

/* ------------------------------------------------------------------ input */

/* Fills role/resv/principal of e (pointers into m or default_role). */
static int resolve_reservation(const Mesos__V1__Resource *m, const char *default_role, mz_resource *e, char *err,
                               size_t errlen) {
  char why[384];
  const char *old_role = m->role; /* NULL: not given */
  if (m->n_reservations > 1) {
    mz_seterr(err, errlen, "refined reservations unsupported");
    return -1;
  }
  if (m->n_reservations == 1) {
    const Mesos__V1__Resource__ReservationInfo *ri = m->reservations[0];
    if (!ri || !ri->role) {
      mz_seterr(err, errlen, "reservation has no role");
      return -1;
    }
    if (mz_role_valid(ri->role, false, why, sizeof why) < 0) {
      mz_seterr(err, errlen, "reservation %s", why);
      return -1;
    }
    if (!ri->has_type || (ri->type != MESOS__V1__RESOURCE__RESERVATION_INFO__TYPE__STATIC &&
                          ri->type != MESOS__V1__RESOURCE__RESERVATION_INFO__TYPE__DYNAMIC)) {
      mz_seterr(err, errlen, "reservation type must be STATIC or DYNAMIC");
      return -1;
    }
    if (old_role && strcmp(old_role, "*") != 0 && strcmp(old_role, ri->role) != 0) {
      mz_seterr(err, errlen, "role '%s' disagrees with reservation role '%s'", old_role, ri->role);
      return -1;
    }
    e->role = ri->role;
    e->resv = ri->type == MESOS__V1__RESOURCE__RESERVATION_INFO__TYPE__STATIC ? MZ_RESV_STATIC : MZ_RESV_DYNAMIC;
    e->principal = e->resv == MZ_RESV_DYNAMIC ? ri->principal : NULL;
    return 0;
  }
  const char *role = old_role ? old_role : default_role;
  if (mz_role_valid(role, true, why, sizeof why) < 0) {
    mz_seterr(err, errlen, "%s", why);
    return -1;
  }
  e->role = (char *)role;
  if (strcmp(role, "*") == 0) {
    e->resv = MZ_RESV_NONE;
  } else if (m->reservation && old_role) {
    e->resv = MZ_RESV_DYNAMIC;
    e->principal = m->reservation->principal;
  } else {
    e->resv = MZ_RESV_STATIC;
  }
  return 0;
}

/* Validates m and adds it to r. */
static int add_msg(mz_resources *r, const Mesos__V1__Resource *m, const char *default_role, char *err,
                   size_t errlen) {
  char why[384];
  const char *name = m->name ? m->name : "";
  if (mz_resource_name_valid(m->name, why, sizeof why) < 0) {
    mz_seterr(err, errlen, "resource '%s': %s", name, why);
    return -1;
  }
  mz_resource e = {0};
  e.name = m->name;
  const char *want = NULL;
  bool extra = false;
  switch (m->type) {
    case MESOS__V1__VALUE__TYPE__SCALAR:
      e.type = MZ_RES_SCALAR;
      want = m->scalar ? NULL : "scalar";
      extra = m->ranges || m->set;
      break;
    case MESOS__V1__VALUE__TYPE__RANGES:
      e.type = MZ_RES_RANGES;
      want = m->ranges ? NULL : "ranges";
      extra = m->scalar || m->set;
      break;
    case MESOS__V1__VALUE__TYPE__SET:
      e.type = MZ_RES_SET;
      want = m->set ? NULL : "set";
      extra = m->scalar || m->ranges;
      break;
    default:
      mz_seterr(err, errlen, "resource '%s': unsupported type %d (resources are SCALAR, RANGES or SET)", name,
             (int)m->type);
      return -1;
  }
  if (want) {
    mz_seterr(err, errlen, "resource '%s': has no '%s' value for its type", name, want);
    return -1;
  }
  if (extra) {
    mz_seterr(err, errlen, "resource '%s': has a value of another type than its own", name);
    return -1;
  }
  if (resolve_reservation(m, default_role, &e, why, sizeof why) < 0) {
    mz_seterr(err, errlen, "resource '%s': %s", name, why);
    return -1;
  }
  if (m->allocation_info && m->allocation_info->role) e.alloc_role = m->allocation_info->role;
  int rc = -1;
  if (e.type == MZ_RES_SCALAR) {
    if (mz_scalar_from_double(m->scalar->value, &e.scalar, why, sizeof why) < 0) {
      mz_seterr(err, errlen, "resource '%s': %s", name, why);
      return -1;
    }
  } else if (e.type == MZ_RES_RANGES) {
    if (m->ranges->n_range > MZ_RESOURCE_ITEMS_MAX) {
      mz_seterr(err, errlen, "resource '%s': more than %d ranges", name, MZ_RESOURCE_ITEMS_MAX);
      return -1;
    }
    e.nranges = m->ranges->n_range;
    e.ranges = e.nranges ? mz_malloc(e.nranges * sizeof *e.ranges) : NULL;
    for (size_t k = 0; k < e.nranges; k++) {
      if (!m->ranges->range[k]) {
        mz_seterr(err, errlen, "resource '%s': missing range", name);
        goto out;
      }
      e.ranges[k].begin = m->ranges->range[k]->begin;
      e.ranges[k].end = m->ranges->range[k]->end;
    }
  } else {
    if (m->set->n_item > MZ_RESOURCE_ITEMS_MAX) {
      mz_seterr(err, errlen, "resource '%s': more than %d set items", name, MZ_RESOURCE_ITEMS_MAX);
      return -1;
    }
    e.items = m->set->item;
    e.nitems = m->set->n_item;
  }
  rc = mz_resources_add_entry(r, &e, err, errlen);
out:
  free(e.ranges);
  return rc;
}

static mz_resources *from_proto(Mesos__V1__Resource *const *res, size_t n, const char *default_role, char *err,
                                size_t errlen) {
  if (n > MZ_RESOURCES_ENTRIES_MAX) {
    mz_seterr(err, errlen, "more than %d resources", MZ_RESOURCES_ENTRIES_MAX);
    return NULL;
  }
  if (n && !res) {
    mz_seterr(err, errlen, "resources missing");
    return NULL;
  }
  mz_resources *r = mz_resources_new();
  for (size_t i = 0; i < n; i++) {
    if (!res[i]) {
      mz_seterr(err, errlen, "resource %zu is missing", i);
      goto fail;
    }
    if (add_msg(r, res[i], default_role, err, errlen) < 0) goto fail;
  }
  return r;
fail:
  mz_resources_free(r);
  return NULL;
}

mz_resources *mz_resources_from_proto(Mesos__V1__Resource *const *res, size_t n, char *err, size_t errlen) {
  return from_proto(res, n, "*", err, errlen);
}

/* ------------------------------------------------------------- JSON input */

/* A JSON field, NULL when absent or null. */
static json_t *field(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_null(v) ? NULL : v;
}

static int json_str(const json_t *o, const char *key, char **out, char *err, size_t errlen) {
  json_t *v = field(o, key);
  if (!v) return 0;
  if (!json_is_string(v)) {
    mz_seterr(err, errlen, "'%s' must be a string", key);
    return -1;
  }
  *out = mz_strdup(json_string_value(v));
  return 0;
}

static int json_u64(const json_t *v, uint64_t *out) {
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i < 0) return -1;
    *out = (uint64_t)i;
    return 0;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (!(d >= 0) || d >= 18446744073709551616.0 || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
  }
  return -1;
}

static int json_resv(const json_t *o, Mesos__V1__Resource__ReservationInfo **out, char *err, size_t errlen) {
  if (!json_is_object(o)) {
    mz_seterr(err, errlen, "a reservation must be an object");
    return -1;
  }
  Mesos__V1__Resource__ReservationInfo *ri = resv_msg_new();
  *out = ri;
  if (json_str(o, "role", &ri->role, err, errlen) < 0 || json_str(o, "principal", &ri->principal, err, errlen) < 0)
    return -1;
  json_t *t = field(o, "type");
  if (t) {
    const char *ts = json_is_string(t) ? json_string_value(t) : "";
    ri->has_type = 1;
    if (strcmp(ts, "STATIC") == 0) {
      ri->type = MESOS__V1__RESOURCE__RESERVATION_INFO__TYPE__STATIC;
    } else if (strcmp(ts, "DYNAMIC") == 0) {
      ri->type = MESOS__V1__RESOURCE__RESERVATION_INFO__TYPE__DYNAMIC;
    } else {
      mz_seterr(err, errlen, "reservation type must be \"STATIC\" or \"DYNAMIC\"");
      return -1;
    }
  }
  return 0;
}

/* Builds the message for one JSON Resource object; *out is set even on failure
 * (partially filled, to be freed by the caller). */
static int json_to_msg(const json_t *o, Mesos__V1__Resource **out, char *err, size_t errlen) {
  Mesos__V1__Resource *m = resource_msg_new();
  *out = m;
  if (!json_is_object(o)) {
    mz_seterr(err, errlen, "not a JSON object");
    return -1;
  }
  if (!field(o, "name")) {
    mz_seterr(err, errlen, "'name' is missing");
    return -1;
  }
  if (json_str(o, "name", &m->name, err, errlen) < 0) return -1;
  json_t *t = field(o, "type");
  const char *ts = json_is_string(t) ? json_string_value(t) : NULL;
  if (!ts) {
    mz_seterr(err, errlen, "'type' is missing or not a string");
    return -1;
  }
  if (strcmp(ts, "SCALAR") == 0) {
    m->type = MESOS__V1__VALUE__TYPE__SCALAR;
  } else if (strcmp(ts, "RANGES") == 0) {
    m->type = MESOS__V1__VALUE__TYPE__RANGES;
  } else if (strcmp(ts, "SET") == 0) {
    m->type = MESOS__V1__VALUE__TYPE__SET;
  } else {
    mz_seterr(err, errlen, "unsupported type '%s' (resources are SCALAR, RANGES or SET)", ts);
    return -1;
  }
  json_t *v;
  if ((v = field(o, "scalar"))) {
    json_t *num = json_is_object(v) ? field(v, "value") : NULL;
    if (!json_is_number(num)) {
      mz_seterr(err, errlen, "'scalar' must be an object with a numeric 'value'");
      return -1;
    }
    m->scalar = mz_malloc(sizeof *m->scalar);
    *m->scalar = (Mesos__V1__Value__Scalar)MESOS__V1__VALUE__SCALAR__INIT;
    m->scalar->value = json_number_value(num);
  }
  if ((v = field(o, "ranges"))) {
    json_t *arr = json_is_object(v) ? field(v, "range") : NULL;
    if (!json_is_object(v) || (arr && !json_is_array(arr))) {
      mz_seterr(err, errlen, "'ranges' must be an object with an array 'range'");
      return -1;
    }
    size_t n = arr ? json_array_size(arr) : 0;
    if (n > MZ_RESOURCE_ITEMS_MAX) {
      mz_seterr(err, errlen, "more than %d ranges", MZ_RESOURCE_ITEMS_MAX);
      return -1;
    }
    m->ranges = mz_malloc(sizeof *m->ranges);
    *m->ranges = (Mesos__V1__Value__Ranges)MESOS__V1__VALUE__RANGES__INIT;
    m->ranges->range = n ? mz_calloc(n, sizeof *m->ranges->range) : NULL;
    for (size_t k = 0; k < n; k++) {
      json_t *rg = json_array_get(arr, k);
      uint64_t b, e;
      if (!json_is_object(rg) || json_u64(json_object_get(rg, "begin"), &b) < 0 ||
          json_u64(json_object_get(rg, "end"), &e) < 0) {
        mz_seterr(err, errlen, "range %zu must have non-negative integer 'begin' and 'end'", k);
        return -1;
      }
      Mesos__V1__Value__Range *r = mz_malloc(sizeof *r);
      *r = (Mesos__V1__Value__Range)MESOS__V1__VALUE__RANGE__INIT;
      r->begin = b;
      r->end = e;
      m->ranges->range[m->ranges->n_range++] = r;
    }
  }
  if ((v = field(o, "set"))) {
    json_t *arr = json_is_object(v) ? field(v, "item") : NULL;
    if (!json_is_object(v) || (arr && !json_is_array(arr))) {
      mz_seterr(err, errlen, "'set' must be an object with an array 'item'");
      return -1;
    }
    size_t n = arr ? json_array_size(arr) : 0;
    if (n > MZ_RESOURCE_ITEMS_MAX) {
      mz_seterr(err, errlen, "more than %d set items", MZ_RESOURCE_ITEMS_MAX);
      return -1;
    }
    m->set = mz_malloc(sizeof *m->set);
    *m->set = (Mesos__V1__Value__Set)MESOS__V1__VALUE__SET__INIT;
    m->set->item = n ? mz_calloc(n, sizeof *m->set->item) : NULL;
    for (size_t k = 0; k < n; k++) {
      json_t *it = json_array_get(arr, k);
      if (!json_is_string(it)) {
        mz_seterr(err, errlen, "set item %zu is not a string", k);
        return -1;
      }
      m->set->item[m->set->n_item++] = mz_strdup(json_string_value(it));
    }
  }
  if (json_str(o, "role", &m->role, err, errlen) < 0) return -1;
  if ((v = field(o, "reservation")) && json_resv(v, &m->reservation, err, errlen) < 0) return -1;
  if ((v = field(o, "reservations"))) {
    if (!json_is_array(v)) {
      mz_seterr(err, errlen, "'reservations' must be an array");
      return -1;
    }
    size_t n = json_array_size(v);
    if (n > 1) {
      mz_seterr(err, errlen, "refined reservations unsupported");
      return -1;
    }
    m->reservations = n ? mz_calloc(n, sizeof *m->reservations) : NULL;
    for (size_t k = 0; k < n; k++) {
      m->n_reservations++;
      if (json_resv(json_array_get(v, k), &m->reservations[k], err, errlen) < 0) return -1;
    }
  }
  if ((v = field(o, "allocation_info"))) {
    if (!json_is_object(v)) {
      mz_seterr(err, errlen, "'allocation_info' must be an object");
      return -1;
    }
    m->allocation_info = mz_malloc(sizeof *m->allocation_info);
    *m->allocation_info = (Mesos__V1__Resource__AllocationInfo)MESOS__V1__RESOURCE__ALLOCATION_INFO__INIT;
    if (json_str(v, "role", &m->allocation_info->role, err, errlen) < 0) return -1;
  }
  return 0;
}

mz_resources *mz_resources_from_json_default(const json_t *array, const char *default_role, char *err,
                                             size_t errlen) {
  char why[384];
  if (!json_is_array(array)) {
    mz_seterr(err, errlen, "resources JSON must be an array");
    return NULL;
  }
  if (!default_role || !*default_role) default_role = "*";
  size_t n = json_array_size(array);
  if (n > MZ_RESOURCES_ENTRIES_MAX) {
    mz_seterr(err, errlen, "more than %d resources", MZ_RESOURCES_ENTRIES_MAX);
    return NULL;
  }
  Mesos__V1__Resource **msgs = mz_calloc(n ? n : 1, sizeof *msgs);
  mz_resources *r = NULL;
  size_t built = 0;
  for (; built < n; built++) {
    json_t *o = json_array_get(array, built);
    int rc = json_to_msg(o, &msgs[built], why, sizeof why);
    if (rc < 0) {
      json_t *nm = json_is_object(o) ? json_object_get(o, "name") : NULL;
      mz_seterr(err, errlen, "resource %zu ('%s'): %s", built, json_is_string(nm) ? json_string_value(nm) : "?", why);
      built++;
      goto out;
    }
  }
  r = from_proto(msgs, n, default_role, err, errlen);
out:
  mz_resources_proto_free(msgs, built);
  return r;
}

mz_resources *mz_resources_from_json(const json_t *array, char *err, size_t errlen) {
  return mz_resources_from_json_default(array, "*", err, errlen);
}
