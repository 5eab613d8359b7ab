/* Unit tests of the streaming JSON writer (common/jsonw.h): the text equals
 * jansson's compact dump of the same value (escapes, UTF-8, reals, nesting),
 * invalid UTF-8 is replaced, misuse fails the writer, and a sink receives the
 * document in pieces no larger than asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

static void assert_same_as_jansson(mz_jw *w, json_t *v) {
  assert_int_equal(mz_jw_finish(w), 0);
  char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  size_t n;
  const char *got = mz_jw_text(w, &n);
  assert_string_equal(got, want);
  assert_int_equal(n, strlen(want));
  free(want);
  json_decref(v);
  mz_jw_free(w);
}

static void test_matches_jansson(void **state) {
  (void)state;
  static const char *const strings[] = {"", "plain", "quote\" back\\slash /", "ctl\b\f\n\r\t\x01\x1f\x1a end",
                                        "utf-8: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "del\x7f"};
  static const double reals[] = {0, -0.0, 1, -2, 0.1, 1e300, 123456789.125, 1.5e-7, 16, 65536.5, 1e17, -3e-300, 2.5e21,
                                 999999999999999, -999999999999999, 1e15, 32768, 1763850000.25};
  mz_jw *w = mz_jw_new(NULL, NULL, 0);
  json_t *v = json_object();
  mz_jw_object(w);
  for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
    char key[16];
    snprintf(key, sizeof key, "s%zu", i);
    mz_jw_kstring(w, key, strings[i]);
    json_object_set_new(v, key, json_string(strings[i]));
  }
  mz_jw_key(w, "reals");
  mz_jw_array(w);
  json_t *ra = json_array();
  for (size_t i = 0; i < sizeof reals / sizeof *reals; i++) {
    mz_jw_real(w, reals[i]);
    json_array_append_new(ra, json_real(reals[i]));
  }
  mz_jw_array_end(w);
  json_object_set_new(v, "reals", ra);
  mz_jw_kint(w, "int", INT64_MIN);
  json_object_set_new(v, "int", json_integer(INT64_MIN));
  mz_jw_kint(w, "int0", 0);
  json_object_set_new(v, "int0", json_integer(0));
  mz_jw_kint(w, "intmax", INT64_MAX);
  json_object_set_new(v, "intmax", json_integer(INT64_MAX));
  mz_jw_kbool(w, "t", true);
  json_object_set_new(v, "t", json_true());
  mz_jw_kbool(w, "f", false);
  json_object_set_new(v, "f", json_false());
  mz_jw_key(w, "n");
  mz_jw_null(w);
  json_object_set_new(v, "n", json_null());
  mz_jw_key(w, "empty");
  mz_jw_object(w);
  mz_jw_object_end(w);
  json_object_set_new(v, "empty", json_object());
  json_t *embedded = json_pack("{s:[i,s,{}]}", "x", 1, "y");
  mz_jw_key(w, "embedded");
  mz_jw_json(w, embedded);
  json_object_set(v, "embedded", embedded);
  json_decref(embedded);
  mz_jw_key(w, "nested");
  mz_jw_array(w);
  mz_jw_array(w);
  mz_jw_array_end(w);
  mz_jw_int(w, 7);
  mz_jw_array_end(w);
  json_object_set_new(v, "nested", json_pack("[[],i]", 7));
  mz_jw_object_end(w);
  assert_same_as_jansson(w, v);

  /* mz_jw_to_json round trip. */
  json_t *back = mz_jw_to_json((void (*)(mz_jw *, const void *))mz_jw_string, "a\"b");
  assert_non_null(back);
  assert_string_equal(json_string_value(back), "a\"b");
  json_decref(back);
}

static void test_invalid_utf8_is_replaced(void **state) {
  (void)state;
  mz_jw *w = mz_jw_new(NULL, NULL, 0);
  mz_jw_string(w, "a\xff" "b\xc3" "c\xed\xa0\x80" "d");
  assert_int_equal(mz_jw_finish(w), 0);
  const char *t = mz_jw_text(w, NULL);
  assert_string_equal(t, "\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffdd\"");
  json_t *v = json_loads(t, JSON_DECODE_ANY, NULL);
  assert_non_null(v);
  json_decref(v);
  mz_jw_free(w);
}

static void test_misuse_fails(void **state) {
  (void)state;
  mz_jw *w = mz_jw_new(NULL, NULL, 0);
  mz_jw_object(w);
  mz_jw_string(w, "value where a key is due");
  assert_true(mz_jw_failed(w));
  assert_int_equal(mz_jw_finish(w), -1);
  mz_jw_free(w);

  w = mz_jw_new(NULL, NULL, 0);
  mz_jw_array(w);
  mz_jw_object_end(w); /* wrong end */
  assert_int_equal(mz_jw_finish(w), -1);
  mz_jw_free(w);

  w = mz_jw_new(NULL, NULL, 0);
  mz_jw_array(w); /* unfinished */
  assert_int_equal(mz_jw_finish(w), -1);
  mz_jw_free(w);

  w = mz_jw_new(NULL, NULL, 0);
  for (int i = 0; i < MZ_JW_MAX_DEPTH + 1; i++) mz_jw_array(w);
  assert_true(mz_jw_failed(w));
  mz_jw_free(w);

  w = mz_jw_new(NULL, NULL, 0);
  mz_jw_int(w, 1);
  mz_jw_int(w, 2); /* two top-level values */
  assert_true(mz_jw_failed(w));
  mz_jw_free(w);
}

typedef struct {
  char *text;
  size_t len;
  size_t pieces;
  size_t fail_after;
} collected;

static int collect(const char *data, size_t len, void *arg) {
  collected *c = arg;
  if (c->fail_after && c->pieces >= c->fail_after) return -1;
  c->text = realloc(c->text, c->len + len + 1);
  memcpy(c->text + c->len, data, len);
  c->len += len;
  c->text[c->len] = 0;
  c->pieces++;
  return 0;
}

static void test_sink_gets_the_document_in_pieces(void **state) {
  (void)state;
  collected c = {0};
  mz_jw *w = mz_jw_new(collect, &c, 1024);
  mz_jw_array(w);
  for (int i = 0; i < 5000; i++) mz_jw_string(w, "0123456789");
  mz_jw_array_end(w);
  assert_int_equal(mz_jw_finish(w), 0);
  mz_jw_free(w);
  assert_true(c.pieces > 10);
  json_error_t e;
  json_t *v = json_loads(c.text, 0, &e);
  assert_non_null(v);
  assert_int_equal(json_array_size(v), 5000);
  json_decref(v);
  free(c.text);

  /* A sink that fails stops the writer. */
  collected f = {.fail_after = 2};
  w = mz_jw_new(collect, &f, 1024);
  mz_jw_array(w);
  for (int i = 0; i < 5000; i++) mz_jw_string(w, "0123456789");
  mz_jw_array_end(w);
  assert_true(mz_jw_failed(w));
  assert_int_equal(mz_jw_finish(w), -1);
  mz_jw_free(w);
  free(f.text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_jansson),
      cmocka_unit_test(test_invalid_utf8_is_replaced),
      cmocka_unit_test(test_misuse_fails),
      cmocka_unit_test(test_sink_gets_the_document_in_pieces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
