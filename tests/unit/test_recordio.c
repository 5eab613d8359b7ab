/* Unit tests for recordio: the incremental decoder under every split of the
 * input, its framing errors, stopping from the callback, and the encoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "common/recordio.h"

#define MAX_RECS 64

typedef struct {
  int n;
  size_t len[MAX_RECS];
  char *rec[MAX_RECS];
  int stop_after; /* stop (return 1) after this many records in total; 0: never */
} collector;

static int collect(void *arg, const uint8_t *record, size_t len) {
  collector *c = arg;
  assert_true(c->n < MAX_RECS);
  assert_non_null(record);
  c->rec[c->n] = malloc(len + 1);
  memcpy(c->rec[c->n], record, len);
  c->rec[c->n][len] = 0;
  c->len[c->n] = len;
  c->n++;
  return c->stop_after && c->n >= c->stop_after ? 1 : 0;
}

static void collector_clear(collector *c) {
  for (int i = 0; i < c->n; i++) free(c->rec[i]);
  memset(c, 0, sizeof *c);
}

static const char *records[] = {"hello", "", "{\"type\":\"HEARTBEAT\"}", "x", "",
                                "a somewhat longer record with\nnewlines\n and 12345 digits"};
#define NRECORDS (sizeof records / sizeof records[0])

/* The framed concatenation of records[], malloc'd. */
static uint8_t *stream(size_t *len) {
  struct evbuffer *b = evbuffer_new();
  for (size_t i = 0; i < NRECORDS; i++) assert_int_equal(mz_recordio_append(b, records[i], strlen(records[i])), 0);
  *len = evbuffer_get_length(b);
  uint8_t *out = malloc(*len);
  evbuffer_remove(b, out, *len);
  evbuffer_free(b);
  return out;
}

static void check_all(collector *c) {
  assert_int_equal(c->n, NRECORDS);
  for (size_t i = 0; i < NRECORDS; i++) {
    assert_int_equal(c->len[i], strlen(records[i]));
    assert_string_equal(c->rec[i], records[i]);
  }
}

static void test_whole(void **state) {
  (void)state;
  size_t len;
  uint8_t *s = stream(&len);
  mz_recordio_decoder *d = mz_recordio_decoder_new(1024);
  collector c = {0};
  char err[128];
  assert_int_equal(mz_recordio_feed(d, s, len, collect, &c, err, sizeof err), 0);
  check_all(&c);
  collector_clear(&c);
  mz_recordio_decoder_free(d);
  free(s);
}

static void test_one_byte_at_a_time(void **state) {
  (void)state;
  size_t len;
  uint8_t *s = stream(&len);
  mz_recordio_decoder *d = mz_recordio_decoder_new(1024);
  collector c = {0};
  char err[128];
  for (size_t i = 0; i < len; i++) assert_int_equal(mz_recordio_feed(d, s + i, 1, collect, &c, err, sizeof err), 0);
  check_all(&c);
  collector_clear(&c);
  mz_recordio_decoder_free(d);
  free(s);
}

static void test_random_splits(void **state) {
  (void)state;
  size_t len;
  uint8_t *s = stream(&len);
  srand(12345);
  char err[128];
  for (int round = 0; round < 500; round++) {
    mz_recordio_decoder *d = mz_recordio_decoder_new(1024);
    collector c = {0};
    size_t off = 0;
    while (off < len) {
      size_t n = (size_t)rand() % 12; /* zero-length feeds too */
      if (n > len - off) n = len - off;
      assert_int_equal(mz_recordio_feed(d, s + off, n, collect, &c, err, sizeof err), 0);
      off += n;
    }
    check_all(&c);
    collector_clear(&c);
    mz_recordio_decoder_free(d);
  }
  free(s);
}

static void test_empty_records(void **state) {
  (void)state;
  mz_recordio_decoder *d = mz_recordio_decoder_new(16);
  collector c = {0};
  char err[128];
  const char *in = "0\n0\n00\n";
  assert_int_equal(mz_recordio_feed(d, (const uint8_t *)in, strlen(in), collect, &c, err, sizeof err), 0);
  assert_int_equal(c.n, 3);
  for (int i = 0; i < 3; i++) assert_int_equal(c.len[i], 0);
  collector_clear(&c);
  mz_recordio_decoder_free(d);
}

static void expect_error(const char *in, size_t max, const char *needle) {
  mz_recordio_decoder *d = mz_recordio_decoder_new(max);
  collector c = {0};
  char err[128] = "";
  assert_int_equal(mz_recordio_feed(d, (const uint8_t *)in, strlen(in), collect, &c, err, sizeof err), -1);
  assert_non_null(strstr(err, needle));
  /* The decoder stays failed, even for good bytes. */
  assert_int_equal(mz_recordio_feed(d, (const uint8_t *)"1\na", 3, collect, &c, err, sizeof err), -1);
  collector_clear(&c);
  mz_recordio_decoder_free(d);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("11\nhello world", 10, "limit");   /* over-long record */
  expect_error("99999999999\n", 1000, "limit");   /* detected before the body arrives */
  expect_error("1x\na", 100, "invalid character"); /* non-digit length */
  expect_error("-1\n", 100, "invalid character");
  expect_error(" 1\na", 100, "invalid character");
  expect_error("\n", 100, "empty");
  expect_error("000000000000000000000001\nx", 100, "too many digits");
  expect_error("3\nabc\x01", 100, "invalid byte");
  /* Records before the error are delivered. */
  mz_recordio_decoder *d = mz_recordio_decoder_new(100);
  collector c = {0};
  char err[128];
  const char *in = "2\nok3\nyes?\n";
  assert_int_equal(mz_recordio_feed(d, (const uint8_t *)in, strlen(in), collect, &c, err, sizeof err), -1);
  assert_int_equal(c.n, 2);
  assert_string_equal(c.rec[1], "yes");
  collector_clear(&c);
  mz_recordio_decoder_free(d);
  /* A record exactly at the limit is fine. */
  d = mz_recordio_decoder_new(5);
  in = "5\nabcde";
  assert_int_equal(mz_recordio_feed(d, (const uint8_t *)in, strlen(in), collect, &c, err, sizeof err), 0);
  assert_int_equal(c.n, 1);
  collector_clear(&c);
  mz_recordio_decoder_free(d);
}

static void test_stop(void **state) {
  (void)state;
  size_t len;
  uint8_t *s = stream(&len);
  char err[128];
  /* Stop after every record, fed whole then at random splits: all records still arrive in order. */
  for (int round = 0; round < 100; round++) {
    mz_recordio_decoder *d = mz_recordio_decoder_new(1024);
    collector c = {0};
    size_t off = 0;
    int stops = 0;
    while (off < len || stops) {
      size_t n = round == 0 ? len - off : (size_t)rand() % 20;
      if (n > len - off) n = len - off;
      c.stop_after = c.n + 1;
      int rc = mz_recordio_feed(d, s + off, n, collect, &c, err, sizeof err);
      assert_true(rc == 0 || rc == 1);
      stops = rc == 1;
      off += n;
    }
    c.stop_after = 0;
    check_all(&c);
    collector_clear(&c);
    mz_recordio_decoder_free(d);
  }
  /* Explicit: the callback stops on the first record; the rest comes with the next (empty) feed. */
  mz_recordio_decoder *d = mz_recordio_decoder_new(1024);
  collector c = {.stop_after = 1};
  const char *in = "1\na1\nb1\nc";
  assert_int_equal(mz_recordio_feed(d, (const uint8_t *)in, strlen(in), collect, &c, err, sizeof err), 1);
  assert_int_equal(c.n, 1);
  c.stop_after = 0;
  assert_int_equal(mz_recordio_feed(d, NULL, 0, collect, &c, err, sizeof err), 0);
  assert_int_equal(c.n, 3);
  assert_string_equal(c.rec[2], "c");
  collector_clear(&c);
  mz_recordio_decoder_free(d);
  free(s);
}

static void test_frame_round_trip(void **state) {
  (void)state;
  size_t flen;
  uint8_t *f = mz_recordio_frame("hello", 5, &flen);
  assert_non_null(f);
  assert_int_equal(flen, 7);
  assert_memory_equal(f, "5\nhello", 7);
  mz_recordio_decoder *d = mz_recordio_decoder_new(0);
  collector c = {0};
  char err[128];
  assert_int_equal(mz_recordio_feed(d, f, flen, collect, &c, err, sizeof err), 0);
  free(f);
  f = mz_recordio_frame("", 0, &flen);
  assert_int_equal(flen, 2);
  assert_memory_equal(f, "0\n", 2);
  assert_int_equal(mz_recordio_feed(d, f, flen, collect, &c, err, sizeof err), 0);
  free(f);
  /* A binary record with every byte value. */
  uint8_t bin[256];
  for (int i = 0; i < 256; i++) bin[i] = (uint8_t)i;
  struct evbuffer *b = evbuffer_new();
  assert_int_equal(mz_recordio_append(b, bin, sizeof bin), 0);
  size_t blen = evbuffer_get_length(b);
  uint8_t *raw = evbuffer_pullup(b, -1);
  assert_memory_equal(raw, "256\n", 4);
  assert_int_equal(mz_recordio_feed(d, raw, blen, collect, &c, err, sizeof err), 0);
  evbuffer_free(b);
  assert_int_equal(c.n, 3);
  assert_string_equal(c.rec[0], "hello");
  assert_int_equal(c.len[1], 0);
  assert_int_equal(c.len[2], 256);
  assert_memory_equal(c.rec[2], bin, 256);
  collector_clear(&c);
  mz_recordio_decoder_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whole),        cmocka_unit_test(test_one_byte_at_a_time),
      cmocka_unit_test(test_random_splits), cmocka_unit_test(test_empty_records),
      cmocka_unit_test(test_errors),       cmocka_unit_test(test_stop),
      cmocka_unit_test(test_frame_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
