/* Unit tests for resources (parse, arithmetic, filters, proto, JSON) and attributes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/resources.h"
#include "mesos/v1/mesos.pb-c.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static char err[512];

static mz_resources *P(const char *text) {
  mz_resources *r = mz_resources_parse(text, NULL, err, sizeof err);
  if (!r) fail_msg("parse '%s': %s", text, err);
  return r;
}

static const mz_resource *find(const mz_resources *r, const char *name, const char *role) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->v[i].name, name) == 0 && strcmp(r->v[i].role, role) == 0) return &r->v[i];
  return NULL;
}

static void test_parse_valid(void **state) {
  (void)state;
  mz_resources *r = P("cpus:4;mem:2048;disk:10000;ports:[31000-32000];gpus:0");
  assert_int_equal(r->n, 4); /* gpus:0 dropped */
  assert_int_equal(mz_resources_scalar(r, "cpus"), 4000);
  assert_int_equal(mz_resources_scalar(r, "mem"), 2048000);
  assert_int_equal(mz_resources_scalar(r, "disk"), 10000000);
  assert_int_equal(mz_resources_scalar(r, "gpus"), 0);
  assert_int_equal(mz_resources_range_count(r, "ports"), 1001);
  const mz_resource *c = find(r, "cpus", "*");
  assert_non_null(c);
  assert_int_equal(c->resv, MZ_RESV_NONE);
  assert_null(c->principal);
  assert_null(c->alloc_role);
  mz_resources_free(r);

  /* whitespace, empty entries, rounding to thousandths, duplicates added */
  r = P("  cpus : 0.1 ;; mem:1.2344 ; disk : 0.0005; cpus:2 ;  ");
  assert_int_equal(r->n, 3);
  assert_int_equal(mz_resources_scalar(r, "cpus"), 2100);
  assert_int_equal(mz_resources_scalar(r, "mem"), 1234);
  assert_int_equal(mz_resources_scalar(r, "disk"), 1);
  mz_resources_free(r);

  /* reservations, overlapping ranges merged, sets sorted and unique */
  r = P("cpus(eng):2;cpus(*):1;cpus( eng/ml ):0.5;ports:[20-30, 1-5,3-10,11-11,40-40];zones:{b, a ,a}");
  assert_int_equal(r->n, 5);
  c = find(r, "cpus", "eng");
  assert_non_null(c);
  assert_int_equal(c->resv, MZ_RESV_STATIC);
  assert_int_equal(c->scalar, 2000);
  assert_int_equal(find(r, "cpus", "*")->scalar, 1000);
  assert_int_equal(find(r, "cpus", "eng/ml")->scalar, 500);
  const mz_resource *p = find(r, "ports", "*");
  assert_int_equal(p->nranges, 3);
  assert_true(p->ranges[0].begin == 1 && p->ranges[0].end == 11);
  assert_true(p->ranges[1].begin == 20 && p->ranges[1].end == 30);
  assert_true(p->ranges[2].begin == 40 && p->ranges[2].end == 40);
  const mz_resource *z = find(r, "zones", "*");
  assert_int_equal(z->nitems, 2);
  assert_string_equal(z->items[0], "a");
  assert_string_equal(z->items[1], "b");
  mz_resources_free(r);

  /* empty values dropped; empty string is empty resources */
  r = P("ports:[];zones:{};cpus:0.0");
  assert_true(mz_resources_empty(r));
  assert_int_equal(r->n, 0);
  mz_resources_free(r);
  r = P("");
  assert_int_equal(r->n, 0);
  mz_resources_free(r);

  /* default role */
  r = mz_resources_parse("cpus:1;mem(*):5", "eng", err, sizeof err);
  assert_non_null(r);
  assert_int_equal(find(r, "cpus", "eng")->resv, MZ_RESV_STATIC);
  assert_non_null(find(r, "mem", "*"));
  mz_resources_free(r);
  assert_null(mz_resources_parse("cpus:1", "-bad", err, sizeof err));

  /* big values */
  r = P("ports:[0-18446744073709551615]");
  assert_int_equal(mz_resources_range_count(r, "ports"), UINT64_MAX);
  mz_resources_free(r);
}

static void test_parse_invalid(void **state) {
  (void)state;
  static const struct {
    const char *text, *want;
  } bad[] = {
      {"cpus:-1", "negative"},
      {"cpus:nan", "NaN"},
      {"cpus:inf", "infinite"},
      {"cpus:1e400", "infinite"},
      {"cpus:1e30", "too large"},
      {"cpus:abc", "not a number"},
      {"cpus:", "missing value"},
      {"cpus:4x", "not a number"},
      {"cpus:0x10", "not a number"},
      {"cpus:<4>", "cpus"},
      {"cpus:(4)", "cpus"},
      {"mem:1;cpus", "cpus"},
      {"cpus:1:2", "':'"},
      {"ports:[5-1]", "begin > end"},
      {"ports:[1-5", "ports"},
      {"ports:[1-5,]", "ports"},
      {"ports:[-1-5]", "negative"},
      {"ports:[1-2-3]", "ports"},
      {"ports:[7]", "ports"},
      {"ports:[1-99999999999999999999]", "ports"},
      {"ports:{1-5]", "ports"},
      {"zones:{a,,b}", "empty item"},
      {"zones:{a", "zones"},
      {"zones:{a{b}}", "zones"},
      {"cpus(eng:1", "parentheses"},
      {"cpus)eng(:1", "parentheses"},
      {"cpus(eng)x:1", "parentheses"},
      {"cpus():1", "empty"},
      {"cpus(.):1", "'.'"},
      {"cpus(..):1", "'.'"},
      {"cpus(-eng):1", "'-'"},
      {"cpus(/eng):1", "'/'"},
      {"cpus(eng/):1", "'/'"},
      {"cpus(eng//ml):1", "empty path"},
      {"cpus(eng/../x):1", "'.'"},
      {"cpus(eng/-x):1", "'-'"},
      {"cpus(e ng):1", "whitespace"},
      {"cpus(e\\ng):1", "backslash"},
      {"cpus(e\x01ng):1", "control"},
      {"cpus(eng/*):1", "'*'"},
      {"(eng):1", "empty"},
      {"cp us:1", "invalid character"},
      {"cpus:1;cpus:[1-2]", "conflicts"},
      {"cpus:1;cpus(eng):{a}", "conflicts"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    mz_resources *r = mz_resources_parse(bad[i].text, NULL, err, sizeof err);
    if (r) fail_msg("'%s' parsed", bad[i].text);
    if (!strstr(err, bad[i].want)) fail_msg("'%s': error '%s' lacks '%s'", bad[i].text, err, bad[i].want);
  }
  char role[MZ_ROLE_NAME_MAX + 20];
  memset(role, 'a', sizeof role);
  memcpy(role, "cpus(", 5);
  strcpy(role + 5 + MZ_ROLE_NAME_MAX + 1, "):1");
  assert_null(mz_resources_parse(role, NULL, err, sizeof err));
  assert_non_null(strstr(err, "longer"));
  assert_null(mz_resources_parse(NULL, NULL, err, sizeof err));

  /* role validation directly */
  assert_int_equal(mz_role_valid("eng/ml", false, err, sizeof err), 0);
  assert_int_equal(mz_role_valid("*", true, err, sizeof err), 0);
  assert_int_equal(mz_role_valid("*", false, err, sizeof err), -1);
  assert_int_equal(mz_role_valid("a-b.c_d", false, err, sizeof err), 0);
  assert_int_equal(mz_role_valid("", true, err, sizeof err), -1);
}

static void test_json_input(void **state) {
  (void)state;
  const char *text =
      "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":4}},"
      " {\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1024.5},\"role\":\"eng\"},"
      " {\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":10},\"role\":\"eng\","
      "  \"reservation\":{\"principal\":\"alice\"}},"
      " {\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":10,\"end\":20},"
      "  {\"begin\":1,\"end\":5}]}},"
      " {\"name\":\"zones\",\"type\":\"SET\",\"set\":{\"item\":[\"b\",\"a\"]},\"role\":null},"
      " {\"name\":\"gpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},"
      "  \"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"ml\",\"principal\":\"bob\"}],"
      "  \"allocation_info\":{\"role\":\"ml/x\"}, \"disk\":{\"persistence\":{\"id\":\"x\"}}},"
      " {\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.5},"
      "  \"reservations\":[{\"type\":\"STATIC\",\"role\":\"eng\"}]}]";
  mz_resources *r = mz_resources_parse(text, NULL, err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(r->n, 7);
  assert_int_equal(find(r, "cpus", "*")->scalar, 4000);
  assert_int_equal(find(r, "cpus", "eng")->resv, MZ_RESV_STATIC);
  assert_int_equal(find(r, "mem", "eng")->resv, MZ_RESV_STATIC);
  assert_int_equal(find(r, "mem", "eng")->scalar, 1024500);
  const mz_resource *d = find(r, "disk", "eng");
  assert_int_equal(d->resv, MZ_RESV_DYNAMIC);
  assert_string_equal(d->principal, "alice");
  const mz_resource *g = find(r, "gpus", "ml");
  assert_int_equal(g->resv, MZ_RESV_DYNAMIC);
  assert_string_equal(g->principal, "bob");
  assert_string_equal(g->alloc_role, "ml/x");
  assert_int_equal(find(r, "ports", "*")->nranges, 2);
  assert_string_equal(find(r, "zones", "*")->items[0], "a");
  mz_resources_free(r);

  /* default role applies to JSON entries without any role */
  r = mz_resources_parse("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}},"
                         "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"role\":\"*\"}]",
                         "eng", err, sizeof err);
  assert_non_null(r);
  assert_non_null(find(r, "cpus", "eng"));
  assert_non_null(find(r, "mem", "*"));
  mz_resources_free(r);

  static const struct {
    const char *text, *want;
  } bad[] = {
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"reservations\":["
       "{\"type\":\"STATIC\",\"role\":\"a\"},{\"type\":\"DYNAMIC\",\"role\":\"a/b\"}]}]",
       "refined reservations unsupported"},
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":-1}}]", "negative"},
      {"[{\"name\":\"cpus\",\"type\":\"TEXT\"}]", "unsupported type"},
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\"}]", "no 'scalar'"},
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"set\":{\"item\":[\"a\"]}}]", "another type"},
      {"[{\"type\":\"SCALAR\",\"scalar\":{\"value\":1}}]", "'name' is missing"},
      {"[{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":5,\"end\":1}]}}]", "begin > end"},
      {"[{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":-5,\"end\":1}]}}]", "ports"},
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"role\":\"..\"}]", "cpus"},
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"reservations\":[{\"role\":\"a\"}]}]",
       "STATIC or DYNAMIC"},
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"role\":\"x\","
       "\"reservations\":[{\"type\":\"STATIC\",\"role\":\"a\"}]}]",
       "disagrees"},
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"allocation_info\":{\"role\":\"a/\"}}]",
       "allocation"},
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}},", "invalid"},
      {"[1]", "not a JSON object"},
      {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}},"
       "{\"name\":\"cpus\",\"type\":\"SET\",\"set\":{\"item\":[\"a\"]}}]",
       "conflicts"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    r = mz_resources_parse(bad[i].text, NULL, err, sizeof err);
    if (r) fail_msg("JSON %zu parsed", i);
    if (!strstr(err, bad[i].want)) fail_msg("JSON %zu: error '%s' lacks '%s'", i, err, bad[i].want);
  }
  json_t *notarray = json_object();
  assert_null(mz_resources_from_json(notarray, err, sizeof err));
  json_decref(notarray);
}

static void test_arithmetic(void **state) {
  (void)state;
  mz_resources *a = P("cpus:4;mem:1024;ports:[31000-32000];zones:{a,b,c};cpus(eng):2");
  mz_resources *b = P("cpus:1.5;ports:[31005-31010,31100-31100];zones:{b};cpus(eng):2");
  assert_true(mz_resources_contains(a, b));
  assert_false(mz_resources_contains(b, a));
  mz_resources *orig = mz_resources_copy(a);
  assert_int_equal(mz_resources_subtract(a, b, err, sizeof err), 0);
  mz_resources *want = P("cpus:2.5;mem:1024;ports:[31000-31004,31011-31099,31101-32000];zones:{a,c}");
  assert_true(mz_resources_equal(a, want));
  assert_null(find(a, "cpus", "eng")); /* emptied entry removed */
  assert_int_equal(mz_resources_range_count(a, "ports"), 1001 - 7);
  assert_int_equal(mz_resources_add(a, b, err, sizeof err), 0);
  assert_true(mz_resources_equal(a, orig));
  const mz_resource *p = find(a, "ports", "*");
  assert_int_equal(p->nranges, 1); /* coalesced again */

  /* not contained: a unchanged, error names the entry */
  mz_resources *c = P("cpus(eng):3");
  assert_false(mz_resources_contains(a, c));
  assert_int_equal(mz_resources_subtract(a, c, err, sizeof err), -1);
  assert_non_null(strstr(err, "cpus(eng)"));
  assert_true(mz_resources_equal(a, orig));
  mz_resources_free(c);
  /* unreserved cpus do not satisfy a reservation, nor the reverse */
  c = P("cpus(eng):1");
  mz_resources *u = P("cpus:100");
  assert_false(mz_resources_contains(u, c));
  mz_resources_free(c);
  mz_resources_free(u);
  c = P("ports:[31000-32001]");
  assert_false(mz_resources_contains(a, c));
  assert_int_equal(mz_resources_subtract(a, c, err, sizeof err), -1);
  mz_resources_free(c);
  c = P("zones:{d}");
  assert_false(mz_resources_contains(a, c));
  mz_resources_free(c);

  /* type conflict on add leaves a unchanged */
  c = P("mem:[1-2]");
  assert_int_equal(mz_resources_add(a, c, err, sizeof err), -1);
  assert_non_null(strstr(err, "mem"));
  assert_true(mz_resources_equal(a, orig));
  assert_false(mz_resources_contains(a, c));
  mz_resources_free(c);

  /* equality ignores order, not roles */
  mz_resources *x = P("mem:1;cpus:2;cpus(eng):1");
  mz_resources *y = P("cpus(eng):1;cpus:2;mem:1");
  mz_resources *z = P("cpus:3;mem:1");
  assert_true(mz_resources_equal(x, y));
  assert_false(mz_resources_equal(x, z));
  assert_int_equal(mz_resources_scalar(x, "cpus"), mz_resources_scalar(z, "cpus"));
  mz_resources_free(x);
  mz_resources_free(y);
  mz_resources_free(z);

  /* dynamic vs static reservation, principal and allocation role are part of identity */
  mz_resources *d = mz_resources_new();
  mz_resource e = {.name = "cpus", .type = MZ_RES_SCALAR, .role = "eng", .resv = MZ_RESV_DYNAMIC,
                   .principal = "p", .scalar = 1000};
  assert_int_equal(mz_resources_add_entry(d, &e, err, sizeof err), 0);
  e.principal = "q";
  assert_int_equal(mz_resources_add_entry(d, &e, err, sizeof err), 0);
  e.resv = MZ_RESV_STATIC;
  assert_int_equal(mz_resources_add_entry(d, &e, err, sizeof err), 0); /* principal dropped */
  assert_int_equal(mz_resources_add_entry(d, &e, err, sizeof err), 0);
  assert_int_equal(d->n, 3);
  assert_int_equal(find(d, "cpus", "eng")->scalar, 1000);
  mz_resources *st = P("cpus(eng):2");
  assert_false(mz_resources_contains(st, d));
  mz_resources *sres = mz_resources_reserved_to(d, "eng");
  assert_int_equal(sres->n, 3);
  mz_resources_free(sres);
  assert_int_equal(mz_resources_subtract(d, st, err, sizeof err), 0);
  assert_int_equal(d->n, 2);
  mz_resources_set_alloc_role(d, "eng");
  assert_int_equal(d->n, 2);
  mz_resources_free(st);
  mz_resources_free(d);

  /* invalid entries refused */
  d = mz_resources_new();
  mz_resource bad = {.name = "cpus", .type = MZ_RES_SCALAR, .role = "eng", .resv = MZ_RESV_NONE, .scalar = 1};
  assert_int_equal(mz_resources_add_entry(d, &bad, err, sizeof err), -1);
  bad.role = "*";
  bad.scalar = -1;
  assert_int_equal(mz_resources_add_entry(d, &bad, err, sizeof err), -1);
  bad.scalar = MZ_SCALAR_MAX;
  assert_int_equal(mz_resources_add_entry(d, &bad, err, sizeof err), 0);
  bad.scalar = 1;
  assert_int_equal(mz_resources_add_entry(d, &bad, err, sizeof err), -1);
  assert_non_null(strstr(err, "too large"));
  mz_resources_free(d);

  mz_resources_free(want);
  mz_resources_free(orig);
  mz_resources_free(a);
  mz_resources_free(b);
}

static void test_filters(void **state) {
  (void)state;
  mz_resources *r = P("cpus:1;cpus(eng):2;cpus(eng/ml):3;cpus(other):4;cpus(engx):5;mem(eng/ml/deep):7");
  mz_resources *f = mz_resources_allocatable_to(r, "eng/ml");
  assert_int_equal(mz_resources_scalar(f, "cpus"), 6000);
  assert_int_equal(mz_resources_scalar(f, "mem"), 0);
  mz_resources_free(f);
  f = mz_resources_allocatable_to(r, "eng");
  assert_int_equal(mz_resources_scalar(f, "cpus"), 3000);
  mz_resources_free(f);
  f = mz_resources_allocatable_to(r, "engx");
  assert_int_equal(mz_resources_scalar(f, "cpus"), 6000);
  mz_resources_free(f);
  f = mz_resources_allocatable_to(r, "eng/ml/deep");
  assert_int_equal(mz_resources_scalar(f, "cpus"), 6000);
  assert_int_equal(mz_resources_scalar(f, "mem"), 7000);
  mz_resources_free(f);
  f = mz_resources_allocatable_to(r, "*");
  assert_int_equal(mz_resources_scalar(f, "cpus"), 1000);
  mz_resources_free(f);
  f = mz_resources_reserved_to(r, "eng");
  assert_int_equal(f->n, 1);
  assert_int_equal(mz_resources_scalar(f, "cpus"), 2000);
  mz_resources_free(f);
  f = mz_resources_reserved_to(r, "*");
  assert_int_equal(f->n, 1);
  assert_int_equal(mz_resources_scalar(f, "cpus"), 1000);
  mz_resources_free(f);

  /* allocation roles: setting one merges entries that differed only by it */
  mz_resources *a = P("cpus:1"), *b = P("cpus:2");
  mz_resources_set_alloc_role(a, "x");
  mz_resources_set_alloc_role(b, "y");
  assert_int_equal(mz_resources_add(a, b, err, sizeof err), 0);
  assert_int_equal(a->n, 2);
  mz_resources *plain = P("cpus:3");
  assert_false(mz_resources_contains(plain, a));
  mz_resources_set_alloc_role(a, "z");
  assert_int_equal(a->n, 1);
  assert_string_equal(a->v[0].alloc_role, "z");
  assert_int_equal(a->v[0].scalar, 3000);
  mz_resources_set_alloc_role(a, NULL);
  assert_true(mz_resources_equal(a, plain));
  /* entries of one allocation role (none here) keep their identities when it changes */
  mz_resources *two = P("cpus:1;mem:2;ports:[5-6]"), *two0 = P("cpus:1;mem:2;ports:[5-6]");
  mz_resources_set_alloc_role(two, "x");
  assert_int_equal(two->n, 3);
  for (size_t i = 0; i < two->n; i++) assert_string_equal(two->v[i].alloc_role, "x");
  assert_false(mz_resources_contains(two0, two));
  mz_resources_set_alloc_role(two, NULL);
  assert_true(mz_resources_equal(two, two0));
  mz_resources_free(two);
  mz_resources_free(two0);
  mz_resources_free(a);
  mz_resources_free(b);
  mz_resources_free(plain);
  mz_resources_free(r);
}

static void test_proto(void **state) {
  (void)state;
  mz_resources *r = P("cpus:1.5;mem:2048;ports:[1-5,10-20];zones:{a,b};cpus(eng/ml):2");
  mz_resource e = {.name = "disk", .type = MZ_RES_SCALAR, .role = "eng", .resv = MZ_RESV_DYNAMIC,
                   .principal = "alice", .alloc_role = "eng", .scalar = 100000};
  assert_int_equal(mz_resources_add_entry(r, &e, err, sizeof err), 0);
  size_t n = 0;
  Mesos__V1__Resource **msgs = mz_resources_to_proto(r, &n);
  assert_int_equal(n, r->n);
  /* through the wire */
  Mesos__V1__Resource *unpacked[16];
  for (size_t i = 0; i < n; i++) {
    size_t len = mesos__v1__resource__get_packed_size(msgs[i]);
    uint8_t *buf = malloc(len);
    mesos__v1__resource__pack(msgs[i], buf);
    unpacked[i] = mesos__v1__resource__unpack(NULL, len, buf);
    assert_non_null(unpacked[i]);
    free(buf);
  }
  assert_true(msgs[0]->scalar && msgs[0]->scalar->value == 1.5);
  mz_resources *back = mz_resources_from_proto(unpacked, n, err, sizeof err);
  if (!back) fail_msg("%s", err);
  assert_true(mz_resources_equal(r, back));
  assert_string_equal(find(back, "disk", "eng")->principal, "alice");
  assert_string_equal(find(back, "disk", "eng")->alloc_role, "eng");
  /* the unpacked messages use the refined format, with no deprecated role */
  for (size_t i = 0; i < n; i++) {
    if (strcmp(unpacked[i]->name, "disk") == 0) {
      assert_int_equal(unpacked[i]->n_reservations, 1);
      assert_int_equal(unpacked[i]->reservations[0]->type, MESOS__V1__RESOURCE__RESERVATION_INFO__TYPE__DYNAMIC);
    }
    mesos__v1__resource__free_unpacked(unpacked[i], NULL);
  }
  mz_resources_free(back);

  /* messages moved into an outgoing message, then freed by mz_resources_proto_free */
  Mesos__V1__Offer offer = MESOS__V1__OFFER__INIT;
  offer.n_resources = n;
  offer.resources = msgs;
  assert_true(mesos__v1__offer__get_packed_size(&offer) > 0);
  mz_resources_proto_free(offer.resources, offer.n_resources);

  /* deprecated role field, with and without a (dynamic) reservation */
  Mesos__V1__Value__Scalar sc = MESOS__V1__VALUE__SCALAR__INIT;
  sc.value = 2;
  Mesos__V1__Resource m = MESOS__V1__RESOURCE__INIT;
  m.name = "cpus";
  m.type = MESOS__V1__VALUE__TYPE__SCALAR;
  m.scalar = &sc;
  Mesos__V1__Resource *one[] = {&m};
  back = mz_resources_from_proto(one, 1, err, sizeof err); /* role default "*" */
  assert_non_null(back);
  assert_int_equal(back->v[0].resv, MZ_RESV_NONE);
  mz_resources_free(back);
  m.role = "eng";
  back = mz_resources_from_proto(one, 1, err, sizeof err);
  assert_int_equal(back->v[0].resv, MZ_RESV_STATIC);
  mz_resources_free(back);
  Mesos__V1__Resource__ReservationInfo ri = MESOS__V1__RESOURCE__RESERVATION_INFO__INIT;
  ri.principal = "p";
  m.reservation = &ri;
  back = mz_resources_from_proto(one, 1, err, sizeof err);
  assert_int_equal(back->v[0].resv, MZ_RESV_DYNAMIC);
  assert_string_equal(back->v[0].principal, "p");
  mz_resources_free(back);
  m.reservation = NULL;
  Mesos__V1__Resource__ReservationInfo r1 = MESOS__V1__RESOURCE__RESERVATION_INFO__INIT, r2 = r1;
  r1.has_type = r2.has_type = 1;
  r1.type = r2.type = MESOS__V1__RESOURCE__RESERVATION_INFO__TYPE__STATIC;
  r1.role = "eng";
  r2.role = "eng/ml";
  Mesos__V1__Resource__ReservationInfo *rs[] = {&r1, &r2};
  m.reservations = rs;
  m.n_reservations = 2;
  assert_null(mz_resources_from_proto(one, 1, err, sizeof err));
  assert_non_null(strstr(err, "refined reservations unsupported"));
  m.n_reservations = 0;
  m.type = MESOS__V1__VALUE__TYPE__TEXT;
  assert_null(mz_resources_from_proto(one, 1, err, sizeof err));
  assert_non_null(strstr(err, "cpus"));
  m.type = MESOS__V1__VALUE__TYPE__RANGES;
  assert_null(mz_resources_from_proto(one, 1, err, sizeof err));
  sc.value = 0.0 / 0.0;
  m.type = MESOS__V1__VALUE__TYPE__SCALAR;
  assert_null(mz_resources_from_proto(one, 1, err, sizeof err));
  assert_non_null(strstr(err, "NaN"));

  /* empty */
  msgs = mz_resources_to_proto(NULL, &n);
  assert_int_equal(n, 0);
  mz_resources_proto_free(msgs, n);
  mz_resources_free(r);
}

static void test_json_output(void **state) {
  (void)state;
  mz_resources *r = P("cpus:4;mem:2048;ports:[31000-32000];cpus(eng):0.5;ports(eng):[100-200];zones:{b,a}");
  json_t *s = mz_resources_summary_json(r);
  assert_true(json_real_value(json_object_get(s, "cpus")) == 4.5);
  assert_true(json_real_value(json_object_get(s, "mem")) == 2048.0);
  assert_true(json_is_real(json_object_get(s, "disk")));
  assert_true(json_real_value(json_object_get(s, "gpus")) == 0.0);
  assert_string_equal(json_string_value(json_object_get(s, "ports")), "[100-200, 31000-32000]");
  assert_string_equal(json_string_value(json_object_get(s, "zones")), "{a, b}");
  json_decref(s);
  mz_resources *empty = mz_resources_new();
  s = mz_resources_summary_json(empty);
  char *dump = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(dump, "{\"cpus\":0.0,\"disk\":0.0,\"gpus\":0.0,\"mem\":0.0}");
  free(dump);
  json_decref(s);
  mz_resources_free(empty);

  /* full array round trips, with reservations and allocation info */
  mz_resource e = {.name = "disk", .type = MZ_RES_SCALAR, .role = "eng", .resv = MZ_RESV_DYNAMIC,
                   .principal = "alice", .alloc_role = "eng/x", .scalar = 1};
  assert_int_equal(mz_resources_add_entry(r, &e, err, sizeof err), 0);
  json_t *a = mz_resources_to_json(r);
  assert_int_equal(json_array_size(a), r->n);
  json_t *first = json_array_get(a, 0);
  assert_string_equal(json_string_value(json_object_get(first, "type")), "SCALAR");
  assert_true(json_real_value(json_object_get(json_object_get(first, "scalar"), "value")) == 4.0);
  assert_null(json_object_get(first, "reservations"));
  json_t *last = json_array_get(a, r->n - 1);
  json_t *res = json_array_get(json_object_get(last, "reservations"), 0);
  assert_string_equal(json_string_value(json_object_get(res, "type")), "DYNAMIC");
  assert_string_equal(json_string_value(json_object_get(res, "principal")), "alice");
  assert_string_equal(json_string_value(json_object_get(json_object_get(last, "allocation_info"), "role")), "eng/x");
  mz_resources *back = mz_resources_from_json(a, err, sizeof err);
  if (!back) fail_msg("%s", err);
  assert_true(mz_resources_equal(r, back));
  mz_resources_free(back);
  json_decref(a);

  /* text form round trips (static reservations) */
  mz_resources *t = P("cpus:4.125;mem:2048;ports:[1-5,10-20];zones:{a,b};cpus(eng/ml):0.001");
  char *txt = mz_resources_format(t);
  assert_string_equal(txt, "cpus:4.125;mem:2048;ports:[1-5,10-20];zones:{a,b};cpus(eng/ml):0.001");
  mz_resources *t2 = P(txt);
  assert_true(mz_resources_equal(t, t2));
  free(txt);
  mz_resources_free(t2);
  mz_resources_free(t);
  t = mz_resources_new();
  txt = mz_resources_format(t);
  assert_string_equal(txt, "");
  free(txt);
  mz_resources_free(t);
  char buf[32];
  mz_scalar_format(1500, buf, sizeof buf);
  assert_string_equal(buf, "1.5");
  mz_scalar_format(100, buf, sizeof buf);
  assert_string_equal(buf, "0.1");
  mz_resources_free(r);
}

static void test_attributes(void **state) {
  (void)state;
  size_t n = 0;
  Mesos__V1__Attribute **a = mz_attributes_parse(" rack:r1; zone : a ;level:3;ids:[1-5,8-9];tags:{x,y};w:2.5;neg:-1",
                                                 &n, err, sizeof err);
  if (!a) fail_msg("%s", err);
  assert_int_equal(n, 7);
  assert_string_equal(a[0]->name, "rack");
  assert_int_equal(a[0]->type, MESOS__V1__VALUE__TYPE__TEXT);
  assert_string_equal(a[0]->text->value, "r1");
  assert_string_equal(a[1]->name, "zone");
  assert_string_equal(a[1]->text->value, "a");
  assert_int_equal(a[2]->type, MESOS__V1__VALUE__TYPE__SCALAR);
  assert_true(a[2]->scalar->value == 3);
  assert_int_equal(a[3]->type, MESOS__V1__VALUE__TYPE__RANGES);
  assert_int_equal(a[3]->ranges->n_range, 2);
  assert_int_equal(a[4]->type, MESOS__V1__VALUE__TYPE__SET);
  assert_int_equal(a[4]->set->n_item, 2);
  /* packs as a valid message */
  for (size_t i = 0; i < n; i++) assert_true(mesos__v1__attribute__get_packed_size(a[i]) > 0);
  json_t *j = mz_attributes_json(a, n);
  char *dump = json_dumps(j, JSON_COMPACT);
  assert_string_equal(dump, "{\"rack\":\"r1\",\"zone\":\"a\",\"level\":3,\"ids\":\"[1-5, 8-9]\",\"tags\":\"{x, y}\","
                            "\"w\":2.5,\"neg\":-1}");
  free(dump);
  json_decref(j);
  mz_attributes_free(a, n);

  a = mz_attributes_parse("", &n, err, sizeof err);
  assert_non_null(a);
  assert_int_equal(n, 0);
  mz_attributes_free(a, n);

  static const char *const bad[] = {"rack", "rack:", "a:b:c", "ids:[5-1]", "tags:{x", ":v", "r ack:1", "x:a{b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    a = mz_attributes_parse(bad[i], &n, err, sizeof err);
    if (a) fail_msg("attributes '%s' parsed", bad[i]);
    if (!strstr(err, "attribute")) fail_msg("'%s': %s", bad[i], err);
  }
}

/* ------------------------------------------------- randomized property test */

static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Ranges and set items of side 0 and side 1 never overlap: with overlap, a + b is a
 * union and (a + b) - b is smaller than a (as in Mesos). */
static mz_resources *random_resources(int side) {
  static const char *const roles[] = {"*", "eng", "eng/ml", "ops"};
  static const char *const allocs[] = {NULL, NULL, "eng", "eng/ml"};
  static const char *const items[] = {"a", "b", "c", "d", "e", "f"}; /* 3 per side */
  mz_resources *r = mz_resources_new();
  size_t k = rnd() % 6;
  for (size_t i = 0; i < k; i++) {
    mz_resource e = {0};
    mz_range ranges[4];
    const char *its[4];
    e.role = (char *)roles[rnd() % 4];
    e.resv = strcmp(e.role, "*") == 0 ? MZ_RESV_NONE : (rnd() % 3 ? MZ_RESV_STATIC : MZ_RESV_DYNAMIC);
    if (e.resv == MZ_RESV_DYNAMIC) e.principal = rnd() % 2 ? "p" : "q";
    e.alloc_role = (char *)allocs[rnd() % 4];
    switch (rnd() % 4) {
      case 0:
      case 1:
        e.name = rnd() % 2 ? "cpus" : "mem";
        e.type = MZ_RES_SCALAR;
        e.scalar = (int64_t)(rnd() % 5000);
        break;
      case 2:
        e.name = "ports";
        e.type = MZ_RES_RANGES;
        e.nranges = rnd() % 4;
        for (size_t j = 0; j < e.nranges; j++) {
          uint64_t b = (uint64_t)side * 1000 + rnd() % 100;
          ranges[j] = (mz_range){b, b + rnd() % 20};
        }
        e.ranges = ranges;
        break;
      default:
        e.name = "zones";
        e.type = MZ_RES_SET;
        e.nitems = rnd() % 4;
        for (size_t j = 0; j < e.nitems; j++) its[j] = items[side * 3 + rnd() % 3];
        e.items = (char **)its;
        break;
    }
    assert_int_equal(mz_resources_add_entry(r, &e, err, sizeof err), 0);
  }
  return r;
}

static void test_random_properties(void **state) {
  (void)state;
  rng_state = 0x9e3779b97f4a7c15ULL;
  for (int iter = 0; iter < 3000; iter++) {
    mz_resources *a = random_resources(0), *b = random_resources(1);
    mz_resources *sum = mz_resources_copy(a);
    assert_int_equal(mz_resources_add(sum, b, err, sizeof err), 0);
    assert_true(mz_resources_contains(sum, a));
    assert_true(mz_resources_contains(sum, b));
    assert_true(mz_resources_contains(a, a));
    mz_resources *sum2 = mz_resources_copy(b);
    assert_int_equal(mz_resources_add(sum2, a, err, sizeof err), 0);
    assert_true(mz_resources_equal(sum, sum2)); /* commutative */
    assert_int_equal(mz_resources_subtract(sum, b, err, sizeof err), 0);
    if (!mz_resources_contains(a, sum) || !mz_resources_contains(sum, a)) {
      char *x = mz_resources_format(a), *y = mz_resources_format(b);
      fail_msg("iteration %d: (a + b) - b != a for a=%s b=%s", iter, x, y);
    }
    /* subtract succeeds exactly when contains() holds, and leaves a unchanged otherwise */
    mz_resources *d = mz_resources_copy(a);
    bool c = mz_resources_contains(a, b);
    int rc = mz_resources_subtract(d, b, err, sizeof err);
    assert_int_equal(rc, c ? 0 : -1);
    if (c) {
      assert_int_equal(mz_resources_add(d, b, err, sizeof err), 0);
    }
    assert_true(mz_resources_equal(d, a));
    /* with overlapping values: the sum contains both, and (a + b) - b is within a */
    mz_resources *o = random_resources(0);
    mz_resources *osum = mz_resources_copy(a);
    assert_int_equal(mz_resources_add(osum, o, err, sizeof err), 0);
    assert_true(mz_resources_contains(osum, a) && mz_resources_contains(osum, o));
    assert_int_equal(mz_resources_subtract(osum, o, err, sizeof err), 0);
    assert_true(mz_resources_contains(a, osum));
    mz_resources_free(osum);
    mz_resources_free(o);
    /* scalar totals are additive */
    assert_int_equal(mz_resources_scalar(sum2, "cpus"), mz_resources_scalar(a, "cpus") + mz_resources_scalar(b, "cpus"));
    /* proto and JSON round trips */
    size_t n;
    Mesos__V1__Resource **m = mz_resources_to_proto(a, &n);
    mz_resources *pa = mz_resources_from_proto(m, n, err, sizeof err);
    assert_non_null(pa);
    assert_true(mz_resources_equal(pa, a));
    mz_resources_proto_free(m, n);
    json_t *j = mz_resources_to_json(b);
    mz_resources *jb = mz_resources_from_json(j, err, sizeof err);
    assert_non_null(jb);
    assert_true(mz_resources_equal(jb, b));
    json_decref(j);
    mz_resources_free(jb);
    mz_resources_free(pa);
    mz_resources_free(d);
    mz_resources_free(sum2);
    mz_resources_free(sum);
    mz_resources_free(a);
    mz_resources_free(b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_valid),   cmocka_unit_test(test_parse_invalid), cmocka_unit_test(test_json_input),
      cmocka_unit_test(test_arithmetic),    cmocka_unit_test(test_filters),       cmocka_unit_test(test_proto),
      cmocka_unit_test(test_json_output),   cmocka_unit_test(test_attributes),
      cmocka_unit_test(test_random_properties),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
