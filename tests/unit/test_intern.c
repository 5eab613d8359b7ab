/* Unit tests of string interning (common/intern.h): equal strings share one
 * copy while referenced, references are counted, and a seeded random sequence
 * of interns and releases (through table growth and deletions inside probe
 * runs) leaves exactly the strings still referenced, then none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/intern.h"
#include "common/resources.h"

static void test_shares_and_counts(void **state) {
  (void)state;
  size_t base = mz_intern_count();
  char buf[8];
  strcpy(buf, "cpus");
  const char *a = mz_intern(buf);
  strcpy(buf, "xxxx"); /* the interned copy does not alias the argument */
  const char *b = mz_intern("cpus");
  assert_ptr_equal(a, b);
  assert_string_equal(a, "cpus");
  const char *c = mz_intern("mem");
  assert_ptr_not_equal(a, c);
  assert_true(mz_intern_eq(a, "cpus"));
  assert_false(mz_intern_eq(a, c));
  assert_int_equal(mz_intern_count(), base + 2);
  assert_ptr_equal(mz_intern_ref(c), c); /* a reference without a lookup */
  mz_intern_release(c);
  assert_string_equal(c, "mem");
  mz_intern_release(a);
  assert_int_equal(mz_intern_count(), base + 2); /* b still holds it */
  assert_string_equal(b, "cpus");
  mz_intern_release(b);
  mz_intern_release(c);
  mz_intern_release(NULL);
  assert_int_equal(mz_intern_count(), base);
}

static void test_random_against_counts(void **state) {
  (void)state;
  enum { N = 3000 };
  static int refs[N];
  static const char *ptr[N];
  size_t base = mz_intern_count();
  srand(7);
  for (int step = 0; step < 200000; step++) {
    int i = rand() % N;
    char name[32];
    snprintf(name, sizeof name, "role-%d", i);
    if (rand() % 2 == 0 || refs[i] == 0) {
      const char *p = mz_intern(name);
      if (refs[i]) assert_ptr_equal(p, ptr[i]);
      assert_string_equal(p, name);
      ptr[i] = p;
      refs[i]++;
    } else {
      mz_intern_release(ptr[i]);
      refs[i]--;
    }
  }
  size_t live = 0;
  for (int i = 0; i < N; i++) live += refs[i] > 0;
  assert_int_equal(mz_intern_count(), base + live);
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof name, "role-%d", i);
    if (refs[i]) assert_string_equal(ptr[i], name);
    while (refs[i] > 0) {
      mz_intern_release(ptr[i]);
      refs[i]--;
    }
  }
  assert_int_equal(mz_intern_count(), base);
}

/* Resource sets hold their names and roles interned and give them back. */
static void test_resources_release_their_strings(void **state) {
  (void)state;
  size_t base = mz_intern_count();
  char err[256];
  mz_resources *a = mz_resources_parse("cpus:4;mem:1024;cpus(eng):2;ports:[1-10]", "*", err, sizeof err);
  assert_non_null(a);
  mz_resources *b = mz_resources_copy(a);
  mz_resources *c = mz_resources_parse("cpus:1;cpus(eng):1", "*", err, sizeof err);
  assert_int_equal(mz_resources_subtract(b, c, err, sizeof err), 0);
  assert_int_equal(mz_resources_add(b, c, err, sizeof err), 0);
  assert_true(mz_resources_equal(a, b));
  for (size_t i = 0; i < a->n; i++) {
    int found = 0;
    for (size_t j = 0; j < b->n; j++) found += a->v[i].name == b->v[j].name && a->v[i].role == b->v[j].role;
    assert_true(found >= 1);
  }
  mz_resources_free(a);
  mz_resources_free(b);
  mz_resources_free(c);
  assert_int_equal(mz_intern_count(), base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shares_and_counts),
      cmocka_unit_test(test_random_against_counts),
      cmocka_unit_test(test_resources_release_their_strings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
