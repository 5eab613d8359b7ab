/* Unit tests of the id index (common/idindex.h): a seeded random sequence of
 * puts, replacements, lookups and deletions checked against a plain array,
 * with growth through many sizes and deletions inside probe runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/idindex.h"

typedef struct {
  char id[32];
  int live;
} obj;

static const char *key_of(const void *o) { return ((const obj *)o)->id; }

static void test_matches_a_reference(void **state) {
  (void)state;
  enum { N = 4000 };
  obj *objs = calloc(N, sizeof *objs);
  for (int i = 0; i < N; i++) snprintf(objs[i].id, sizeof objs[i].id, "agent-%d-S%d", i % 7, i);
  mz_idx x;
  mz_idx_init(&x, key_of);
  assert_null(mz_idx_get(&x, "nothing"));
  assert_null(mz_idx_del(&x, "nothing"));
  srand(42);
  size_t live = 0;
  for (int step = 0; step < 200000; step++) {
    int i = rand() % N;
    int op = rand() % 3;
    if (op == 0) {
      if (!objs[i].live) live++;
      objs[i].live = 1;
      mz_idx_put(&x, &objs[i]);
    } else if (op == 1) {
      void *got = mz_idx_del(&x, objs[i].id);
      assert_ptr_equal(got, objs[i].live ? &objs[i] : NULL);
      if (objs[i].live) live--;
      objs[i].live = 0;
    } else {
      assert_ptr_equal(mz_idx_get(&x, objs[i].id), objs[i].live ? &objs[i] : NULL);
    }
    assert_int_equal(x.n, live);
    assert_true(x.n * 2 <= x.cap);
  }
  for (int i = 0; i < N; i++) assert_ptr_equal(mz_idx_get(&x, objs[i].id), objs[i].live ? &objs[i] : NULL);
  /* Replacing under the same key keeps one entry. */
  obj twin = objs[0];
  mz_idx_put(&x, &objs[0]);
  size_t n = x.n;
  mz_idx_put(&x, &twin);
  assert_int_equal(x.n, n);
  assert_ptr_equal(mz_idx_get(&x, objs[0].id), &twin);
  mz_idx_free(&x);
  assert_null(mz_idx_get(&x, objs[0].id));
  free(objs);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_matches_a_reference)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
