/* resources_json: JSON output of resources, as Mesos's endpoints show them:
 * the /state summary object ({"cpus":4.0,...,"ports":"[31000-32000]"}) and
 * the full array of Resource objects (with "reservations" in the refined
 * format and "allocation_info" when set).
 *
 * Ownership: inputs are only read; every function returns a new jansson
 * reference for the caller to json_decref. */
#include "common/resources.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/util.h"

/* Union of every RANGES or SET entry named name, over all roles. */
static mz_resource *gather(const mz_resources *r, const char *name, mz_res_type type) {
  mz_resources tmp = {NULL, 0};
  for (size_t i = 0; i < r->n; i++) {
    const mz_resource *e = &r->v[i];
    if (e->type != type || strcmp(e->name, name) != 0) continue;
    mz_resource u = *e;
    u.role = "*";
    u.resv = MZ_RESV_NONE;
    u.principal = NULL;
    u.alloc_role = NULL;
    if (mz_resources_add_entry(&tmp, &u, NULL, 0) < 0) break; /* cannot fail for valid entries */
  }
  if (tmp.n == 0) return NULL;
  return tmp.v; /* one entry: the array is the entry, freed by the caller */
}

static void gathered_free(mz_resource *e) {
  if (!e) return;
  mz_resources tmp = {e, 1};
  mz_resources_clear(&tmp);
}

static bool is_fixed(const char *name) {
  return !strcmp(name, "cpus") || !strcmp(name, "mem") || !strcmp(name, "disk") || !strcmp(name, "gpus");
}

void mz_resources_summary_write(mz_jw *w, const mz_resources *r) {
  static const mz_resources none = {NULL, 0};
  if (!r) r = &none;
  mz_jw_object(w);
  static const char *const fixed[] = {"cpus", "mem", "disk", "gpus"};
  for (size_t i = 0; i < 4; i++) mz_jw_kreal(w, fixed[i], mz_scalar_to_double(mz_resources_scalar(r, fixed[i])));
  for (size_t i = 0; i < r->n; i++) {
    const mz_resource *e = &r->v[i];
    if (is_fixed(e->name)) continue;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(r->v[j].name, e->name);
    if (seen) continue;
    if (e->type == MZ_RES_SCALAR) {
      mz_jw_kreal(w, e->name, mz_scalar_to_double(mz_resources_scalar(r, e->name)));
      continue;
    }
    mz_resource *u = gather(r, e->name, e->type);
    char *text = NULL;
    if (!u)
      text = e->type == MZ_RES_RANGES ? mz_value_format_ranges(NULL, 0, ", ") : mz_value_format_set(NULL, 0, ", ");
    else if (e->type == MZ_RES_RANGES)
      text = mz_value_format_ranges(u->ranges, u->nranges, ", ");
    else
      text = mz_value_format_set(u->items, u->nitems, ", ");
    mz_jw_kstring(w, e->name, text);
    free(text);
    gathered_free(u);
  }
  mz_jw_object_end(w);
}

static void summary_write(mz_jw *w, const void *r) { mz_resources_summary_write(w, r); }

json_t *mz_resources_summary_json(const mz_resources *r) { return mz_jw_to_json(summary_write, r); }

/* jansson integers are signed 64-bit: larger values go out as reals (rounded). */
static json_t *u64_json(uint64_t v) {
  return v <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

static const char *type_str(mz_res_type t) {
  return t == MZ_RES_SCALAR ? "SCALAR" : t == MZ_RES_RANGES ? "RANGES" : "SET";
}

json_t *mz_resources_to_json(const mz_resources *r) {
  json_t *a = json_array();
  for (size_t i = 0; r && i < r->n; i++) {
    const mz_resource *e = &r->v[i];
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(e->name));
    json_object_set_new(o, "type", json_string(type_str(e->type)));
    if (e->type == MZ_RES_SCALAR) {
      json_object_set_new(o, "scalar", json_pack("{s:f}", "value", mz_scalar_to_double(e->scalar)));
    } else if (e->type == MZ_RES_RANGES) {
      json_t *rs = json_array();
      for (size_t k = 0; k < e->nranges; k++)
        json_array_append_new(rs, json_pack("{s:o,s:o}", "begin", u64_json(e->ranges[k].begin), "end",
                                            u64_json(e->ranges[k].end)));
      json_object_set_new(o, "ranges", json_pack("{s:o}", "range", rs));
    } else {
      json_t *items = json_array();
      for (size_t k = 0; k < e->nitems; k++) json_array_append_new(items, json_string(e->items[k]));
      json_object_set_new(o, "set", json_pack("{s:o}", "item", items));
    }
    if (e->resv != MZ_RESV_NONE) {
      json_t *ri = json_object();
      json_object_set_new(ri, "type", json_string(e->resv == MZ_RESV_STATIC ? "STATIC" : "DYNAMIC"));
      json_object_set_new(ri, "role", json_string(e->role));
      if (e->principal) json_object_set_new(ri, "principal", json_string(e->principal));
      json_object_set_new(o, "reservations", json_pack("[o]", ri));
    }
    if (e->alloc_role) json_object_set_new(o, "allocation_info", json_pack("{s:s}", "role", e->alloc_role));
    json_array_append_new(a, o);
  }
  return a;
}
