/* Unit tests for flags (Mesos-style flags and MEZZO_* environment) and util. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/flags.h"
#include "common/util.h"

static void test_flags_parse(void **state) {
  (void)state;
  const char *ip = "0.0.0.0";
  long port = 5050;
  double timeout = 0;
  int quiet = 0;
  mz_flag flags[] = {
      {"ip", MZ_FLAG_STRING, &ip, ""},
      {"port", MZ_FLAG_INT, &port, ""},
      {"offer_timeout", MZ_FLAG_DURATION, &timeout, ""},
      {"quiet", MZ_FLAG_BOOL, &quiet, ""},
  };
  char *argv[] = {"prog", "--ip=127.0.0.1", "--port", "6000", "--offer_timeout=250ms", "--quiet", "pos"};
  char err[256];
  int pos = 0;
  assert_int_equal(mz_flags_parse(flags, 4, 7, argv, &pos, NULL, err, sizeof err), 0);
  assert_string_equal(ip, "127.0.0.1");
  assert_int_equal(port, 6000);
  assert_true(timeout > 0.2499 && timeout < 0.2501);
  assert_int_equal(quiet, 1);
  assert_int_equal(pos, 6);

  char *bad[] = {"prog", "--port=abc"};
  assert_int_equal(mz_flags_parse(flags, 4, 2, bad, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "--port"));
  char *unknown[] = {"prog", "--nope=1"};
  assert_int_equal(mz_flags_parse(flags, 4, 2, unknown, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "--nope"));

  setenv("MEZZO_PORT", "7000", 1);
  char *none[] = {"prog"};
  assert_int_equal(mz_flags_parse(flags, 4, 1, none, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(port, 7000);
  setenv("MEZZO_PORT", "x", 1);
  assert_int_equal(mz_flags_parse(flags, 4, 1, none, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "MEZZO_PORT"));
  unsetenv("MEZZO_PORT");
}

static void test_duration(void **state) {
  (void)state;
  double s;
  assert_int_equal(mz_parse_duration("5secs", &s), 0);
  assert_true(s == 5);
  assert_int_equal(mz_parse_duration("2mins", &s), 0);
  assert_true(s == 120);
  assert_int_equal(mz_parse_duration("-1secs", &s), -1);
  assert_int_equal(mz_parse_duration("5parsecs", &s), -1);
  assert_int_equal(mz_parse_duration("", &s), -1);
}

static void test_bytes(void **state) {
  (void)state;
  uint64_t b;
  assert_int_equal(mz_parse_bytes("512B", &b), 0);
  assert_true(b == 512);
  assert_int_equal(mz_parse_bytes("64kb", &b), 0);
  assert_true(b == 64 * 1024);
  assert_int_equal(mz_parse_bytes("2GB", &b), 0);
  assert_true(b == 2ULL << 30);
  assert_int_equal(mz_parse_bytes("1TB", &b), 0);
  assert_true(b == 1ULL << 40);
  assert_int_equal(mz_parse_bytes("0MB", &b), 0);
  assert_true(b == 0);
  assert_int_equal(mz_parse_bytes("1.5GB", &b), -1); /* no fractions, as Mesos */
  assert_int_equal(mz_parse_bytes("100", &b), -1);   /* a unit is required */
  assert_int_equal(mz_parse_bytes("-1GB", &b), -1);
  assert_int_equal(mz_parse_bytes("5PB", &b), -1);
  assert_int_equal(mz_parse_bytes("", &b), -1);
  assert_int_equal(mz_parse_bytes("99999999999999999999B", &b), -1);
  assert_int_equal(mz_parse_bytes("17179869184TB", &b), -1); /* 2^34 TB overflows */
}

static void test_util(void **state) {
  (void)state;
  char a[MZ_UUID_STR], b[MZ_UUID_STR], err[128];
  mz_uuid_string(a);
  mz_uuid_string(b);
  assert_int_equal(strlen(a), 36);
  assert_string_not_equal(a, b);
  assert_int_equal(mz_id_valid("task-1", err, sizeof err), 0);
  assert_int_equal(mz_id_valid("..", err, sizeof err), -1);
  assert_int_equal(mz_id_valid("a/b", err, sizeof err), -1);
  assert_int_equal(mz_id_valid("", err, sizeof err), -1);
  char small[4];
  assert_int_equal(mz_strlcpy(small, "abcdef", sizeof small), -1);
  assert_string_equal(small, "abc");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flags_parse),
      cmocka_unit_test(test_bytes),
      cmocka_unit_test(test_duration),
      cmocka_unit_test(test_util),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
