/* Unit tests of the JSON <-> protobuf codec (codec.h) on the real mesos.v1
 * messages: Mesos's JSON mapping (names, enums by name, base64 bytes, 64-bit
 * integers as numbers or strings, maps as objects), errors that name the field
 * path, round trips through JSON and protobuf, content-type negotiation and
 * adversarial input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "mesos/v1/mesos.pb-c.h"
#include "mesos/v1/quota/quota.pb-c.h"
#include "mesos/v1/scheduler/scheduler.pb-c.h"

static ProtobufCMessage *decode_json(const ProtobufCMessageDescriptor *d, const char *text, char *err, size_t errlen) {
  return mz_pb_decode(d, MZ_CT_JSON, (const uint8_t *)text, strlen(text), err, errlen);
}

static void test_subscribe_call(void **state) {
  const char *text =
      "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":{\"user\":\"foo\",\"name\":\"Example HTTP "
      "Framework\",\"roles\":[\"test\"],\"capabilities\":[{\"type\":\"MULTI_ROLE\"}],\"failover_timeout\":60}},"
      "\"unknown_field\":{\"x\":1}}";
  char err[256] = "";
  Mesos__V1__Scheduler__Call *c =
      (Mesos__V1__Scheduler__Call *)decode_json(&mesos__v1__scheduler__call__descriptor, text, err, sizeof err);
  assert_non_null(c);
  assert_true(c->has_type);
  assert_int_equal(c->type, MESOS__V1__SCHEDULER__CALL__TYPE__SUBSCRIBE);
  Mesos__V1__FrameworkInfo *fi = c->subscribe->framework_info;
  assert_string_equal(fi->user, "foo");
  assert_string_equal(fi->name, "Example HTTP Framework");
  assert_int_equal(fi->n_roles, 1);
  assert_string_equal(fi->roles[0], "test");
  assert_int_equal(fi->n_capabilities, 1);
  assert_int_equal(fi->capabilities[0]->type, MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__MULTI_ROLE);
  assert_true(fi->has_failover_timeout);
  assert_true(fi->failover_timeout == 60.0);
  assert_false(fi->has_checkpoint);
  /* Back to JSON: enums by name, only the fields that are set. */
  json_t *j = mz_pb_to_json(&c->base);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "SUBSCRIBE");
  json_t *jfi = json_object_get(json_object_get(j, "subscribe"), "framework_info");
  assert_null(json_object_get(jfi, "checkpoint"));
  assert_null(json_object_get(jfi, "role")); /* deprecated field with a default, not set */
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(json_object_get(jfi, "capabilities"), 0), "type")),
      "MULTI_ROLE");
  json_decref(j);
  protobuf_c_message_free_unpacked(&c->base, NULL);
}

static void expect_error(const ProtobufCMessageDescriptor *d, const char *text, const char *want) {
  char err[256] = "";
  ProtobufCMessage *m = decode_json(d, text, err, sizeof err);
  if (m) {
    protobuf_c_message_free_unpacked(m, NULL);
    fail_msg("'%s' decoded", text);
  }
  if (!strstr(err, want)) fail_msg("'%s': error '%s' lacks '%s'", text, err, want);
}

static void test_errors_name_the_field(void **state) {
  const ProtobufCMessageDescriptor *call = &mesos__v1__scheduler__call__descriptor;
  expect_error(call, "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":{\"name\":\"x\"}}}",
               "subscribe.framework_info.user: missing required field");
  expect_error(call, "{\"type\":\"NOPE\"}", "type: unknown value 'NOPE'");
  expect_error(call, "{\"type\":7.5}", "type");
  expect_error(call, "{\"accept\":{\"offer_ids\":[{\"value\":\"a\"},{}]}}", "accept.offer_ids[1].value: missing");
  expect_error(call, "{\"accept\":{\"offer_ids\":{\"value\":\"a\"}}}", "accept.offer_ids: expected an array");
  expect_error(call, "{\"framework_id\":{\"value\":5}}", "framework_id.value: expected a string");
  expect_error(call, "{\"message\":{\"agent_id\":{\"value\":\"a\"},\"executor_id\":{\"value\":\"e\"},\"data\":\"!!\"}}",
               "message.data: not valid base64");
  expect_error(call, "[1,2]", "expected an object");
  expect_error(call, "{\"type\":", "invalid JSON");
  expect_error(&mesos__v1__value__range__descriptor, "{\"begin\":-1,\"end\":2}", "begin: value -1 is negative");
  expect_error(&mesos__v1__value__range__descriptor, "{\"begin\":\"12x\",\"end\":2}", "begin");
  expect_error(&mesos__v1__task_status__descriptor,
               "{\"task_id\":{\"value\":\"t\"},\"state\":\"TASK_RUNNING\",\"healthy\":\"yes\"}",
               "healthy: expected true or false");
}

static void test_integers_and_bytes(void **state) {
  char err[256];
  Mesos__V1__Value__Range *r = (Mesos__V1__Value__Range *)decode_json(
      &mesos__v1__value__range__descriptor, "{\"begin\":\"18446744073709551615\",\"end\":31000}", err, sizeof err);
  assert_non_null(r);
  assert_true(r->begin == UINT64_MAX);
  assert_true(r->end == 31000);
  protobuf_c_message_free_unpacked(&r->base, NULL);
  Mesos__V1__TimeInfo *t = (Mesos__V1__TimeInfo *)decode_json(&mesos__v1__time_info__descriptor,
                                                               "{\"nanoseconds\":\"-5\"}", err, sizeof err);
  assert_non_null(t);
  assert_true(t->nanoseconds == -5);
  protobuf_c_message_free_unpacked(&t->base, NULL);

  /* bytes: base64 both ways, binary-safe. */
  Mesos__V1__Scheduler__Call__Message msg = MESOS__V1__SCHEDULER__CALL__MESSAGE__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  aid.value = "a";
  eid.value = "e";
  uint8_t data[] = {0, 1, 2, 0xff, 'x'};
  msg.agent_id = &aid;
  msg.executor_id = &eid;
  msg.data.data = data;
  msg.data.len = sizeof data;
  size_t len;
  uint8_t *text = mz_pb_encode(&msg.base, MZ_CT_JSON, &len);
  assert_non_null(strstr((char *)text, "\"data\":\"AAEC/3g=\""));
  Mesos__V1__Scheduler__Call__Message *back = (Mesos__V1__Scheduler__Call__Message *)mz_pb_decode(
      &mesos__v1__scheduler__call__message__descriptor, MZ_CT_JSON, text, len, err, sizeof err);
  assert_non_null(back);
  assert_int_equal(back->data.len, sizeof data);
  assert_memory_equal(back->data.data, data, sizeof data);
  protobuf_c_message_free_unpacked(&back->base, NULL);
  free(text);
}

static void test_round_trip_task_info(void **state) {
  const char *text =
      "{\"name\":\"t\",\"task_id\":{\"value\":\"t-1\"},\"agent_id\":{\"value\":\"S1\"},"
      "\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.5}},"
      "{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":31000,\"end\":31002}]}}],"
      "\"command\":{\"value\":\"echo hi\",\"shell\":true,\"environment\":{\"variables\":[{\"name\":\"A\","
      "\"value\":\"b\"}]},\"uris\":[{\"value\":\"http://x/y.tgz\",\"extract\":true}]},"
      "\"labels\":{\"labels\":[{\"key\":\"k\",\"value\":\"v\"}]}}";
  char err[256];
  ProtobufCMessage *m = decode_json(&mesos__v1__task_info__descriptor, text, err, sizeof err);
  assert_non_null(m);
  /* JSON -> proto -> protobuf bytes -> proto -> JSON is the identity. */
  size_t len;
  uint8_t *pb = mz_pb_encode(m, MZ_CT_PROTOBUF, &len);
  ProtobufCMessage *m2 = mz_pb_decode(&mesos__v1__task_info__descriptor, MZ_CT_PROTOBUF, pb, len, err, sizeof err);
  assert_non_null(m2);
  json_t *a = mz_pb_to_json(m), *b = mz_pb_to_json(m2);
  json_error_t je;
  json_t *orig = json_loads(text, 0, &je);
  assert_true(json_equal(a, b));
  assert_true(json_equal(a, orig));
  json_decref(a);
  json_decref(b);
  json_decref(orig);
  free(pb);
  protobuf_c_message_free_unpacked(m, NULL);
  protobuf_c_message_free_unpacked(m2, NULL);
  /* Garbage protobuf is an error, not a crash. */
  uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
  assert_null(mz_pb_decode(&mesos__v1__task_info__descriptor, MZ_CT_PROTOBUF, junk, sizeof junk, err, sizeof err));
}

static void test_maps_are_objects(void **state) {
  const char *text = "{\"role\":\"eng\",\"guarantees\":{\"cpus\":{\"value\":2.0}},\"limits\":{\"cpus\":{\"value\":4.0},"
                     "\"mem\":{\"value\":1024.0}}}";
  char err[256];
  Mesos__V1__Quota__QuotaConfig *q = (Mesos__V1__Quota__QuotaConfig *)decode_json(
      &mesos__v1__quota__quota_config__descriptor, text, err, sizeof err);
  assert_non_null(q);
  assert_int_equal(q->n_guarantees, 1);
  assert_string_equal(q->guarantees[0]->key, "cpus");
  assert_true(q->guarantees[0]->value->value == 2.0);
  assert_int_equal(q->n_limits, 2);
  json_t *j = mz_pb_to_json(&q->base);
  json_error_t je;
  json_t *orig = json_loads(text, 0, &je);
  assert_true(json_equal(j, orig));
  json_decref(j);
  json_decref(orig);
  protobuf_c_message_free_unpacked(&q->base, NULL);
}

static void test_content_types(void **state) {
  mz_content_type ct;
  assert_int_equal(mz_content_type_parse("application/json", &ct), 0);
  assert_int_equal(ct, MZ_CT_JSON);
  assert_int_equal(mz_content_type_parse("application/x-protobuf; charset=binary", &ct), 0);
  assert_int_equal(ct, MZ_CT_PROTOBUF);
  assert_int_equal(mz_content_type_parse("text/plain", &ct), -1);
  assert_int_equal(mz_content_type_parse(NULL, &ct), -1);
  assert_int_equal(mz_content_type_parse("*/*", &ct), -1);
  assert_int_equal(mz_accept_parse(NULL, MZ_CT_PROTOBUF, &ct), 0);
  assert_int_equal(ct, MZ_CT_PROTOBUF);
  assert_int_equal(mz_accept_parse("*/*", MZ_CT_JSON, &ct), 0);
  assert_int_equal(ct, MZ_CT_JSON);
  assert_int_equal(mz_accept_parse("text/html, application/x-protobuf", MZ_CT_JSON, &ct), 0);
  assert_int_equal(ct, MZ_CT_PROTOBUF);
  assert_int_equal(mz_accept_parse("application/json;q=0.5, application/x-protobuf;q=0.9", MZ_CT_JSON, &ct), 0);
  assert_int_equal(ct, MZ_CT_PROTOBUF);
  assert_int_equal(mz_accept_parse("application/json;q=0", MZ_CT_JSON, &ct), -1);
  assert_int_equal(mz_accept_parse("text/html", MZ_CT_JSON, &ct), -1);
}

static void test_base64(void **state) {
  const char *cases[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}};
  for (size_t i = 0; i < 5; i++) {
    char *e = mz_base64_encode((const uint8_t *)cases[i][0], strlen(cases[i][0]));
    assert_string_equal(e, cases[i][1]);
    size_t n;
    uint8_t *d = mz_base64_decode(e, &n);
    assert_non_null(d);
    assert_int_equal(n, strlen(cases[i][0]));
    assert_memory_equal(d, cases[i][0], n);
    free(d);
    free(e);
  }
  size_t n;
  const char *bad[] = {"Zg=", "Z===", "Zm9v!", "=Zm9", "Zg==Zg==", "Zm9vY"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_null(mz_base64_decode(bad[i], &n));
}

static void test_adversarial(void **state) {
  /* Deep nesting: a bounded error, never a stack overflow. */
  size_t depth = 5000;
  char *text = malloc(depth * 20 + 64);
  size_t o = 0;
  for (size_t i = 0; i < depth; i++) o += (size_t)sprintf(text + o, "{\"parent\":");
  o += (size_t)sprintf(text + o, "{\"value\":\"x\"}");
  for (size_t i = 0; i < depth; i++) text[o++] = '}';
  text[o] = 0;
  char err[256];
  ProtobufCMessage *m = decode_json(&mesos__v1__container_id__descriptor, text, err, sizeof err);
  assert_null(m);
  free(text);
  /* A string where an object belongs, nulls, huge numbers. */
  assert_null(decode_json(&mesos__v1__task_info__descriptor, "\"x\"", err, sizeof err));
  m = decode_json(&mesos__v1__filters__descriptor, "{\"refuse_seconds\":null}", err, sizeof err);
  assert_non_null(m);
  assert_false(((Mesos__V1__Filters *)m)->has_refuse_seconds);
  protobuf_c_message_free_unpacked(m, NULL);
  assert_null(decode_json(&mesos__v1__value__range__descriptor, "{\"begin\":1e300,\"end\":1}", err, sizeof err));
}

/* Serialized ContainerID nested `levels` deep through `parent` (field 2), built inside out. */
static uint8_t *nested_container_id(size_t levels, size_t *len) {
  size_t cap = levels * 10 + 16, pos = cap;
  uint8_t *buf = malloc(cap);
  for (size_t i = 0; i < levels; i++) {
    if (i > 0) {
      uint8_t v[10];
      size_t n = 0, x = cap - pos;
      do {
        v[n++] = (uint8_t)((x & 0x7f) | (x > 0x7f ? 0x80 : 0));
        x >>= 7;
      } while (x);
      pos -= n;
      memcpy(buf + pos, v, n);
      buf[--pos] = 0x12;
    }
    pos -= 3;
    memcpy(buf + pos, "\x0a\x01x", 3); /* value = "x" */
  }
  *len = cap - pos;
  memmove(buf, buf + pos, *len);
  return buf;
}

static void test_adversarial_protobuf(void **state) {
  (void)state;
  char err[256];
  size_t len;
  /* Shallow nesting decodes. */
  uint8_t *b = nested_container_id(10, &len);
  ProtobufCMessage *m = mz_pb_decode(&mesos__v1__container_id__descriptor, MZ_CT_PROTOBUF, b, len, err, sizeof err);
  assert_non_null(m);
  assert_non_null(((Mesos__V1__ContainerID *)m)->parent);
  protobuf_c_message_free_unpacked(m, NULL);
  free(b);
  /* A million levels (protobuf-c's unpack would recurse off the stack): a bounded error. */
  b = nested_container_id(1000000, &len);
  m = mz_pb_decode(&mesos__v1__container_id__descriptor, MZ_CT_PROTOBUF, b, len, err, sizeof err);
  assert_null(m);
  assert_non_null(strstr(err, "nested"));
  free(b);
  /* Truncated framing and a bogus wire type are errors, not reads past the end. */
  assert_null(mz_pb_decode(&mesos__v1__container_id__descriptor, MZ_CT_PROTOBUF, (const uint8_t *)"\x0a\x05" "ab", 4,
                           err, sizeof err));
  assert_null(mz_pb_decode(&mesos__v1__container_id__descriptor, MZ_CT_PROTOBUF, (const uint8_t *)"\x0b\x01", 2, err,
                           sizeof err));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_subscribe_call),    cmocka_unit_test(test_errors_name_the_field),
      cmocka_unit_test(test_integers_and_bytes), cmocka_unit_test(test_round_trip_task_info),
      cmocka_unit_test(test_maps_are_objects),  cmocka_unit_test(test_content_types),
      cmocka_unit_test(test_base64),            cmocka_unit_test(test_adversarial),
      cmocka_unit_test(test_adversarial_protobuf),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
