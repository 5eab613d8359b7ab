/* Unit tests of common/zk.h's zk:// URL parser and common/zk_detector.h's pure
 * parts: member names ("json.info_<seq>") and the leader's MasterInfo JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/zk.h"
#include "common/zk_detector.h"

static void expect_bad(const char *url, const char *words) {
  mz_zk_url u;
  char err[512];
  assert_int_equal(mz_zk_parse_url(url, &u, err, sizeof err), -1);
  if (!strstr(err, words)) fail_msg("'%s': error '%s' does not say '%s'", url, err, words);
}

static void test_parse_url(void **state) {
  mz_zk_url u;
  char err[512];
  assert_int_equal(mz_zk_parse_url("zk://10.0.0.1:2181,zk2.example.com:2182/mezzo/prod", &u, err, sizeof err), 0);
  assert_string_equal(u.servers, "10.0.0.1:2181,zk2.example.com:2182");
  assert_string_equal(u.path, "/mezzo/prod");
  assert_int_equal(mz_zk_parse_url("zk://h:1/m", &u, err, sizeof err), 0);
  assert_true(mz_zk_is_url("zk://x"));
  assert_false(mz_zk_is_url("http://x"));
  expect_bad("http://h:1/m", "not a ZooKeeper URL");
  expect_bad("zk:///m", "names no server");
  expect_bad("zk://h:1", "no path");
  expect_bad("zk://h:1/", "no path");
  expect_bad("zk://h/m", "no port");
  expect_bad("zk://h:0/m", "invalid port");
  expect_bad("zk://h:65536/m", "invalid port");
  expect_bad("zk://h:x/m", "invalid port");
  expect_bad("zk://:1/m", "empty host");
  expect_bad("zk://h:1,,g:2/m", "empty server");
  expect_bad("zk://h!:1/m", "invalid character");
  expect_bad("zk://u:p@h:1/m", "credentials");
  expect_bad("zk://h:1/m/", "must not end");
  expect_bad("zk://h:1/a//b", "empty component");
  expect_bad("zk://h:1/a/../b", "relative");
  expect_bad("zk://h:1/a b", "space");
}

static void test_member_seq(void **state) {
  uint64_t s;
  assert_int_equal(mz_zk_member_seq("json.info_0000000012", &s), 0);
  assert_int_equal(s, 12);
  assert_int_equal(mz_zk_member_seq("info_0000000012", &s), -1);
  assert_int_equal(mz_zk_member_seq("json.info_", &s), -1);
  assert_int_equal(mz_zk_member_seq("json.info_12a", &s), -1);
}

static void test_master_info(void **state) {
  mz_leader l;
  char err[256];
  const char *a = "{\"id\":\"m1\",\"ip\":16777343,\"port\":5050,\"hostname\":\"h\","
                  "\"address\":{\"hostname\":\"h\",\"ip\":\"10.1.2.3\",\"port\":5051}}";
  assert_int_equal(mz_zk_parse_master_info(a, strlen(a), &l, err, sizeof err), 0);
  assert_string_equal(l.host, "10.1.2.3");
  assert_int_equal(l.port, 5051);
  assert_string_equal(l.id, "m1");
  const char *b = "{\"id\":\"m2\",\"ip\":16777343,\"port\":5050}"; /* 127.0.0.1 in network order */
  assert_int_equal(mz_zk_parse_master_info(b, strlen(b), &l, err, sizeof err), 0);
  assert_string_equal(l.host, "127.0.0.1");
  assert_int_equal(l.port, 5050);
  assert_int_equal(mz_zk_parse_master_info("[1]", 3, &l, err, sizeof err), -1);
  assert_int_equal(mz_zk_parse_master_info("{\"id\":\"x\"}", 10, &l, err, sizeof err), -1);
  assert_int_equal(mz_zk_parse_master_info("{", 1, &l, err, sizeof err), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_url),
      cmocka_unit_test(test_member_seq),
      cmocka_unit_test(test_master_info),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
