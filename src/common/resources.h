/* resources: Mesos's resource model. A resource is a named quantity of one
 * type: SCALAR (fixed point, 3 decimals, as Mesos: stored as int64 thousandths),
 * RANGES (sorted, merged [begin-end] intervals) or SET (sorted unique strings),
 * reserved for a role or unreserved ("*"), and in an offer allocated to a role.
 * A mz_resources value is a list in which no two entries share an identity
 * (name, type, reservation role, reservation kind, principal, allocation role):
 * adding merges into the matching entry, so equality and containment are exact.
 *
 * Ownership: a mz_resources owns its entries and their strings; every
 * function that returns one allocates it, to be released with mz_resources_free.
 * Errors: functions return 0 / -1 (or NULL) and write a message into err. */
#ifndef MZ_RESOURCES_H
#define MZ_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct Mesos__V1__Resource;
struct Mesos__V1__Attribute;

#define MZ_SCALAR_UNIT 1000 /* fixed point: 1.0 == 1000 */
#define MZ_SCALAR_MAX (INT64_MAX / 4) /* values above are refused ("too large") */
#define MZ_RESOURCE_NAME_MAX 128
#define MZ_ROLE_NAME_MAX 256

typedef enum { MZ_RES_SCALAR = 0, MZ_RES_RANGES = 1, MZ_RES_SET = 2 } mz_res_type;
typedef enum { MZ_RESV_NONE = 0, MZ_RESV_STATIC = 1, MZ_RESV_DYNAMIC = 2 } mz_resv_kind;

typedef struct { uint64_t begin, end; } mz_range; /* inclusive */

typedef struct {
  /* name, role, principal and alloc_role of the entries of an mz_resources are
   * interned (common/intern.h): shared, each entry holding one reference. */
  const char *name;
  mz_res_type type;
  const char *role;       /* reservation role, "*" when unreserved; never NULL */
  mz_resv_kind resv;      /* MZ_RESV_NONE iff role is "*" */
  const char *principal;  /* dynamic reservations: who reserved; NULL otherwise */
  const char *alloc_role; /* AllocationInfo.role when allocated (offers, tasks); NULL otherwise */
  int64_t scalar;       /* SCALAR: thousandths, >= 0 */
  mz_range *ranges;     /* RANGES: sorted, non-overlapping, non-adjacent */
  size_t nranges;
  char **items;         /* SET: sorted, unique */
  size_t nitems;
} mz_resource;

typedef struct {
  mz_resource *v;
  size_t n;
} mz_resources;

mz_resources *mz_resources_new(void);
void mz_resources_free(mz_resources *r);
mz_resources *mz_resources_copy(const mz_resources *r);
void mz_resources_clear(mz_resources *r);

/* "cpus:4;mem:2048;disk:10000;ports:[31000-32000];gpus:0;cpus(eng):2;zones:{a,b}"
 * or a JSON array of Mesos Resource objects. Empty entries (zero scalars, empty
 * ranges or sets) are dropped. NULL with err on any malformed, negative, NaN,
 * infinite, too large or unknown-type value. */
mz_resources *mz_resources_parse(const char *text, const char *default_role, char *err, size_t errlen);
mz_resources *mz_resources_from_json(const struct json_t *array, char *err, size_t errlen);

/* Conversion to and from protobuf-c messages (mesos.v1.Resource), validating input. */
mz_resources *mz_resources_from_proto(struct Mesos__V1__Resource *const *res, size_t n, char *err, size_t errlen);
/* Returns a malloc'd array of *n malloc'd messages; free with mz_resources_proto_free. */
struct Mesos__V1__Resource **mz_resources_to_proto(const mz_resources *r, size_t *n);
void mz_resources_proto_free(struct Mesos__V1__Resource **res, size_t n);

/* a += b (merge). */
int mz_resources_add(mz_resources *a, const mz_resources *b, char *err, size_t errlen);
/* a -= b; -1 (and a unchanged) if b is not contained in a. Entries that become empty are removed. */
int mz_resources_subtract(mz_resources *a, const mz_resources *b, char *err, size_t errlen);
bool mz_resources_contains(const mz_resources *a, const mz_resources *b);
/* Removes the entries that became empty (zero scalars, no ranges or items) after
 * their values were changed in place. */
void mz_resources_drop_empty(mz_resources *r);
/* As add / subtract, with only b's SCALAR entries: for sums over several agents
 * (a framework's usage), where ranges and sets of different agents must not merge. */
int mz_resources_add_scalars(mz_resources *a, const mz_resources *b, char *err, size_t errlen);
int mz_resources_subtract_scalars(mz_resources *a, const mz_resources *b, char *err, size_t errlen);
bool mz_resources_equal(const mz_resources *a, const mz_resources *b);
bool mz_resources_empty(const mz_resources *r);

/* Filters (new values): entries whose reservation role is role (or "*" for unreserved);
 * entries usable by role (unreserved or reserved to role or to an ancestor of it). */
mz_resources *mz_resources_reserved_to(const mz_resources *r, const char *role);
mz_resources *mz_resources_allocatable_to(const mz_resources *r, const char *role);
/* A copy of r with every entry's reservation replaced: role "*" (or NULL) unreserves;
 * otherwise reserved to role with kind and (dynamic only) principal. NULL if it would clash. */
mz_resources *mz_resources_with_reservation(const mz_resources *r, const char *role, mz_resv_kind kind,
                                           const char *principal);
/* Sets (or clears with NULL) the allocation role of every entry, in place. */
void mz_resources_set_alloc_role(mz_resources *r, const char *role);

/* Sum of a scalar resource by name over all roles, in thousandths (0 if absent). */
int64_t mz_resources_scalar(const mz_resources *r, const char *name);
/* Total number of values of a RANGES resource by name (e.g. how many ports). */
uint64_t mz_resources_range_count(const mz_resources *r, const char *name);

/* Text form as accepted by mz_resources_parse (malloc'd), e.g. "cpus:4;mem:2048;ports:[31000-32000]".
 * The text form has no place for dynamic reservations' kind and principal nor for
 * allocation roles: those entries print as static "name(role)" (use JSON to keep them). */
char *mz_resources_format(const mz_resources *r);
/* Mesos /state style summary object: {"cpus":4.0,"mem":2048.0,"disk":0.0,"gpus":0.0,"ports":"[31000-32000]"};
 * cpus, mem, disk and gpus are always present. New reference. */
struct json_t *mz_resources_summary_json(const mz_resources *r);
/* The same object written to a streaming JSON writer (jsonw.h). */
struct mz_jw;
void mz_resources_summary_write(struct mz_jw *w, const mz_resources *r);
/* Full JSON array of Mesos Resource objects. New reference. */
struct json_t *mz_resources_to_json(const mz_resources *r);

/* ------------------------------------------------- helpers shared by modules */
#define MZ_RESOURCE_ITEMS_MAX 4096    /* ranges or set items in one input entry */
#define MZ_RESOURCES_ENTRIES_MAX 1024 /* entries in one parsed input (text, JSON, proto) */
#define MZ_SET_ITEM_MAX 256           /* bytes in one set item */

/* Role names as Mesos: not "", ".", "..", no leading '-', no '/' first or last,
 * each '/'-separated part itself valid, no whitespace, backslash or control
 * characters, at most MZ_ROLE_NAME_MAX bytes. "*" is accepted only if allow_star. */
int mz_role_valid(const char *role, bool allow_star, char *err, size_t errlen);
/* Resource (and attribute) names: 1..MZ_RESOURCE_NAME_MAX printable bytes, none of
 * whitespace ";:()[]{},\"". */
int mz_resource_name_valid(const char *name, char *err, size_t errlen);
/* Double -> thousandths, rounded to nearest; -1 for NaN, infinite, negative or too large. */
int mz_scalar_from_double(double v, int64_t *out, char *err, size_t errlen);
/* Thousandths -> double. */
double mz_scalar_to_double(int64_t v);
/* "4", "0.5", "1.125" (no trailing zeros) into buf (>= 32 bytes). */
void mz_scalar_format(int64_t v, char *buf, size_t buflen);
/* Adds one entry (deep-copied; its ranges and items need not be sorted or merged)
 * to r, merging into the entry of the same identity; an empty value is dropped.
 * -1 for a type conflict with an entry of the same name, invalid fields, or overflow. */
int mz_resources_add_entry(mz_resources *r, const mz_resource *e, char *err, size_t errlen);

/* As mz_resources_from_json, entries with neither "role" nor "reservations" reserved
 * statically to default_role (NULL or "*": unreserved), as the agent's --resources. */
mz_resources *mz_resources_from_json_default(const struct json_t *array, const char *default_role, char *err,
                                             size_t errlen);

/* Value grammar of the text forms (shared by resources and attributes); s need not be
 * NUL-terminated at len. Scalar: a non-negative decimal number ("4", "0.5", "1e3").
 * Ranges: "[b-e,...]" (unsorted, unmerged, malloc'd). Set: "{x,...}" (malloc'd strings). */
int mz_value_parse_scalar(const char *s, size_t len, double *out, char *err, size_t errlen);
int mz_value_parse_ranges(const char *s, size_t len, mz_range **out, size_t *n, char *err, size_t errlen);
int mz_value_parse_set(const char *s, size_t len, char ***out, size_t *n, char *err, size_t errlen);
void mz_value_free_items(char **items, size_t n);
/* "[1-5<sep>10-20]" and "{a<sep>b}" (malloc'd); Mesos's own output uses sep ", ". */
char *mz_value_format_ranges(const mz_range *v, size_t n, const char *sep);
char *mz_value_format_set(char *const *items, size_t n, const char *sep);

/* ---------------------------------------------------------------- attributes */
/* "rack:r1;zone:a;level:3;ids:[1-5];tags:{x,y}" -> Mesos attributes (TEXT, SCALAR,
 * RANGES, SET by the value's form). Returns a malloc'd array of malloc'd
 * messages (free with mz_attributes_free), or NULL with err (n = 0 and a
 * non-NULL empty result for an empty string). */
struct Mesos__V1__Attribute **mz_attributes_parse(const char *text, size_t *n, char *err, size_t errlen);
void mz_attributes_free(struct Mesos__V1__Attribute **attrs, size_t n);
/* Mesos /state style object {"rack":"r1","level":3} (new reference). */
struct json_t *mz_attributes_json(struct Mesos__V1__Attribute *const *attrs, size_t n);

#endif
