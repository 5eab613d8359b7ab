/* Unit tests of the agent's checkpoint (src/agent/checkpoint.c): what is written
 * is read back (agent, frameworks, executors, runs, pids, tasks, their updates and
 * acknowledgements in order), a torn last record is ignored, a clean shutdown
 * (forget) leaves nothing to recover, atomic writes leave no temp files, and
 * removed executors and frameworks are gone; the GPUs a run holds are encoded,
 * written, rewritten and read back, a malformed gpus file is refused. Works in a
 * fresh temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/checkpoint.h"
#include "agent/treewalk.h"

static char dir[256];

static int setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/mz-ckpt-test-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  mz_rmtree_now(dir, NULL, 0);
  return 0;
}

static void write_agent(const char *id) {
  Mesos__V1__AgentInfo info = MESOS__V1__AGENT_INFO__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  aid.value = (char *)id;
  info.id = &aid;
  info.hostname = "host";
  char err[256];
  assert_int_equal(mz_ckpt_agent(dir, &info, err, sizeof err), 0);
}

static void write_framework(const char *agent, const char *fw) {
  Mesos__V1__FrameworkInfo info = MESOS__V1__FRAMEWORK_INFO__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fid.value = (char *)fw;
  info.id = &fid;
  info.user = "u";
  info.name = "n";
  info.has_checkpoint = 1;
  info.checkpoint = 1;
  char err[256];
  assert_int_equal(mz_ckpt_framework(dir, agent, &info, err, sizeof err), 0);
}

static void write_executor(const mz_ckpt_run *r) {
  Mesos__V1__ExecutorInfo info = MESOS__V1__EXECUTOR_INFO__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  eid.value = (char *)r->executor_id;
  info.executor_id = &eid;
  char err[256];
  assert_int_equal(mz_ckpt_executor(r, &info, err, sizeof err), 0);
}

static void write_group_task(const mz_ckpt_run *r, const char *id, unsigned group) {
  Mesos__V1__TaskInfo info = MESOS__V1__TASK_INFO__INIT;
  Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  tid.value = (char *)id;
  aid.value = (char *)r->agent_id;
  info.task_id = &tid;
  info.agent_id = &aid;
  info.name = "task";
  char err[256];
  assert_int_equal(mz_ckpt_task(r, &info, group, err, sizeof err), 0);
}

static void write_task(const mz_ckpt_run *r, const char *id) { write_group_task(r, id, 0); }

static void write_update(const mz_ckpt_run *r, const char *task, Mesos__V1__TaskState state, uint8_t tag) {
  Mesos__V1__TaskStatus st = MESOS__V1__TASK_STATUS__INIT;
  Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
  uint8_t uuid[16];
  memset(uuid, tag, sizeof uuid);
  tid.value = (char *)task;
  st.task_id = &tid;
  st.state = state;
  st.has_uuid = 1;
  st.uuid.data = uuid;
  st.uuid.len = 16;
  char err[256];
  assert_int_equal(mz_ckpt_task_update(r, task, &st, err, sizeof err), 0);
}

static void test_nothing_to_recover(void **state) {
  mz_ckpt_state s;
  char err[256];
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  assert_null(s.agent_id);
  mz_ckpt_state_free(&s);
}

static void test_round_trip(void **state) {
  write_agent("A-S1");
  write_framework("A-S1", "fw1");
  mz_ckpt_run r = {dir, "A-S1", "fw1", "ex1", "c-1"};
  write_executor(&r);
  char err[256];
  assert_int_equal(mz_ckpt_executor_pid(&r, 4242, 777, err, sizeof err), 0);
  write_task(&r, "t1");
  write_update(&r, "t1", MESOS__V1__TASK_STATE__TASK_STARTING, 1);
  write_update(&r, "t1", MESOS__V1__TASK_STATE__TASK_RUNNING, 2);
  uint8_t ack[16];
  memset(ack, 1, sizeof ack);
  assert_int_equal(mz_ckpt_task_ack(&r, "t1", ack, err, sizeof err), 0);
  write_task(&r, "t2");
  /* An executor launched again gets a new run: `latest` follows. */
  mz_ckpt_run r2 = {dir, "A-S1", "fw1", "ex2", "c-2"};
  write_executor(&r2);

  mz_ckpt_state s;
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  assert_string_equal(s.agent_id, "A-S1");
  assert_int_equal(s.nframeworks, 1);
  assert_string_equal(s.frameworks[0].info->id->value, "fw1");
  assert_int_equal(s.frameworks[0].nexecutors, 2);
  mz_ckpt_executor_state *ex = NULL, *ex2 = NULL;
  for (size_t i = 0; i < 2; i++) {
    mz_ckpt_executor_state *e = &s.frameworks[0].executors[i];
    if (!strcmp(e->info->executor_id->value, "ex1")) ex = e;
    else ex2 = e;
  }
  assert_non_null(ex);
  assert_non_null(ex2);
  assert_string_equal(ex->container_id, "c-1");
  assert_int_equal(ex->pid, 4242);
  assert_int_equal(ex->starttime, 777);
  assert_string_equal(ex2->container_id, "c-2");
  assert_int_equal(ex2->pid, 0); /* never forked */
  assert_int_equal(ex->ntasks, 2);
  mz_ckpt_task_state *t1 = !strcmp(ex->tasks[0].info->task_id->value, "t1") ? &ex->tasks[0] : &ex->tasks[1];
  mz_ckpt_task_state *t2 = t1 == &ex->tasks[0] ? &ex->tasks[1] : &ex->tasks[0];
  assert_int_equal(t1->nupdates, 2);
  assert_int_equal(t1->updates[0]->state, MESOS__V1__TASK_STATE__TASK_STARTING);
  assert_int_equal(t1->updates[1]->state, MESOS__V1__TASK_STATE__TASK_RUNNING);
  assert_int_equal(t1->nacks, 1);
  assert_memory_equal(t1->acks[0], ack, 16);
  assert_int_equal(t2->nupdates, 0);
  assert_int_equal(t1->group, 0); /* single tasks */
  assert_int_equal(t2->group, 0);
  mz_ckpt_state_free(&s);

  /* No temp file is left by the atomic writes. */
  char p[512];
  snprintf(p, sizeof p, "%s/meta/slaves/A-S1", dir);
  DIR *d = opendir(p);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d))) assert_null(strstr(e->d_name, ".tmp."));
  closedir(d);

  /* Removal of an executor, then of the framework. */
  mz_ckpt_remove_executor(dir, "A-S1", "fw1", "ex1");
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  assert_int_equal(s.frameworks[0].nexecutors, 1);
  mz_ckpt_state_free(&s);
  mz_ckpt_remove_framework(dir, "A-S1", "fw1");
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  assert_int_equal(s.nframeworks, 0);
  mz_ckpt_state_free(&s);

  /* A clean shutdown: nothing to recover. */
  mz_ckpt_forget_agent(dir);
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  assert_null(s.agent_id);
  mz_ckpt_state_free(&s);
}

static mz_ckpt_task_state *find_task(mz_ckpt_executor_state *ex, const char *id) {
  for (size_t i = 0; i < ex->ntasks; i++)
    if (!strcmp(ex->tasks[i].info->task_id->value, id)) return &ex->tasks[i];
  return NULL;
}

/* The tasks of a task group keep their group number (a queued group is sent again
 * whole after a restart); a malformed task.group recovers the task as a single one. */
static void test_task_group_round_trip(void **state) {
  write_agent("A-S1");
  write_framework("A-S1", "fw1");
  mz_ckpt_run r = {dir, "A-S1", "fw1", "ex1", "c-1"};
  write_executor(&r);
  write_group_task(&r, "g1-a", 1);
  write_group_task(&r, "g1-b", 1);
  write_group_task(&r, "g7", 7);
  write_task(&r, "single");
  write_group_task(&r, "bad", 3);
  char p[512];
  snprintf(p, sizeof p, "%s/meta/slaves/A-S1/frameworks/fw1/executors/ex1/runs/c-1/tasks/bad/task.group", dir);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs("3x\n", f);
  fclose(f);

  mz_ckpt_state s;
  char err[256];
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  mz_ckpt_executor_state *ex = &s.frameworks[0].executors[0];
  assert_int_equal(ex->ntasks, 5);
  assert_int_equal(find_task(ex, "g1-a")->group, 1);
  assert_int_equal(find_task(ex, "g1-b")->group, 1);
  assert_int_equal(find_task(ex, "g7")->group, 7);
  assert_int_equal(find_task(ex, "single")->group, 0);
  assert_int_equal(find_task(ex, "bad")->group, 0);
  mz_ckpt_state_free(&s);
}

static void test_torn_record_ignored(void **state) {
  write_agent("A-S2");
  write_framework("A-S2", "fw");
  mz_ckpt_run r = {dir, "A-S2", "fw", "ex", "c"};
  write_executor(&r);
  write_task(&r, "t");
  write_update(&r, "t", MESOS__V1__TASK_STATE__TASK_RUNNING, 9);
  /* A crash in the middle of the next append. */
  char p[512];
  snprintf(p, sizeof p, "%s/meta/slaves/A-S2/frameworks/fw/executors/ex/runs/c/tasks/t/task.updates", dir);
  int fd = open(p, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  const uint8_t torn[] = {200, 0, 0, 0, 'U', 1, 2, 3};
  assert_int_equal(write(fd, torn, sizeof torn), (ssize_t)sizeof torn);
  close(fd);
  mz_ckpt_state s;
  char err[256];
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  assert_int_equal(s.frameworks[0].executors[0].tasks[0].nupdates, 1);
  assert_int_equal(s.frameworks[0].executors[0].tasks[0].updates[0]->state, MESOS__V1__TASK_STATE__TASK_RUNNING);
  mz_ckpt_state_free(&s);
}

static void test_unreadable_agent_info(void **state) {
  char p[512], err[256];
  snprintf(p, sizeof p, "%s/meta/slaves/X/slave.info", dir);
  assert_int_equal(mz_ckpt_write_file(p, "\xff\xff\xff", 3, err, sizeof err), 0);
  char link[512], target[512];
  snprintf(link, sizeof link, "%s/meta/slaves/latest", dir);
  snprintf(target, sizeof target, "%s/meta/slaves/X", dir);
  assert_int_equal(symlink(target, link), 0);
  mz_ckpt_state s;
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), -1);
  assert_non_null(strstr(err, "slave.info"));
  mz_ckpt_state_free(&s);
}

/* buf (len bytes) decodes to exactly the n GPUs of g. */
static void assert_decodes_to(const char *buf, size_t len, const mz_ckpt_gpu *g, size_t n_want) {
  mz_ckpt_gpu *out;
  size_t n;
  assert_int_equal(mz_ckpt_gpus_decode(buf, len, &out, &n), 0);
  assert_int_equal(n, n_want);
  assert_memory_equal(out, g, n_want * sizeof *g);
  free(out);
}

static void test_gpus_encoding(void **state) {
  const mz_ckpt_gpu g[3] = {{0, 0}, {3, 7}, {4294967295u, 255}};
  char buf[128];
  size_t len = mz_ckpt_gpus_encode(g, 3, buf, sizeof buf);
  assert_string_equal(buf, "0 0\n3 7\n4294967295 255\n");
  assert_int_equal(len, strlen(buf));
  assert_decodes_to(buf, len, g, 3);
  mz_ckpt_gpu *out;
  size_t n;
  /* Too small a buffer: nothing (never a partial list). */
  assert_int_equal(mz_ckpt_gpus_encode(g, 3, buf, 10), 0);
  assert_string_equal(buf, "");
  /* None held; a last line without its newline; blank lines. */
  assert_int_equal(mz_ckpt_gpus_decode("", 0, &out, &n), 0);
  assert_int_equal(n, 0);
  assert_null(out);
  assert_int_equal(mz_ckpt_gpus_decode("\n1 2", 4, &out, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(out[0].index, 1);
  assert_int_equal(out[0].minor, 2);
  free(out);
  /* Malformed: refused whole (a task that is not a valid id included). */
  char long_id[MZ_ID_MAX + 16];
  memset(long_id, 0, sizeof long_id);
  memcpy(long_id, "1 2 ", 4);
  memset(long_id + 4, 'x', MZ_ID_MAX + 1);
  long_id[4 + MZ_ID_MAX + 1] = '\n';
  const char *bad[] = {"1\n", "1 2 a b\n", "-1 2\n", "a b\n", "1 2\nx\n", "1  2junk\n", "1 2 ..\n",
                       "1 2 a/b\n", "4294967296 0\n", long_id};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(mz_ckpt_gpus_decode(bad[i], strlen(bad[i]), &out, &n), -1);
    assert_null(out);
    assert_int_equal(n, 0);
  }
}

/* Each GPU's task: written after the minor, read back; lines without one (the
 * format before tasks were tracked) are the executor's own. */
static void test_gpus_encoding_tasks(void **state) {
  mz_ckpt_gpu g[3] = {{0, 0, "task-a"}, {1, 1, ""}, {7, 9, ""}};
  memset(g[2].task, 'z', MZ_ID_MAX); /* the longest id */
  char buf[2048];
  size_t len = mz_ckpt_gpus_encode(g, 3, buf, sizeof buf);
  assert_true(len > 0);
  assert_int_equal(strncmp(buf, "0 0 task-a\n1 1\n7 9 zzz", 22), 0);
  assert_true(len <= 3 * MZ_CKPT_GPU_LINE_MAX);
  assert_decodes_to(buf, len, g, 3);
  mz_ckpt_gpu *out;
  size_t n;
  /* The old format, and both mixed. */
  const char *old = "1 1\n0 0\n";
  assert_int_equal(mz_ckpt_gpus_decode(old, strlen(old), &out, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(out[0].index, 1);
  assert_string_equal(out[0].task, "");
  assert_string_equal(out[1].task, "");
  free(out);
  const char *mixed = "3 4 t.1\n5 6";
  assert_int_equal(mz_ckpt_gpus_decode(mixed, strlen(mixed), &out, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(out[0].task, "t.1");
  assert_int_equal(out[1].minor, 6);
  assert_string_equal(out[1].task, "");
  free(out);
}

static void test_gpus_round_trip(void **state) {
  write_agent("A-S3");
  write_framework("A-S3", "fw");
  mz_ckpt_run r = {dir, "A-S3", "fw", "ex", "c-gpu"};
  write_executor(&r);
  mz_ckpt_run plain = {dir, "A-S3", "fw", "ex-plain", "c-plain"};
  write_executor(&plain);
  char err[256];
  const mz_ckpt_gpu two[2] = {{1, 1, "gpu-task"}, {0, 0, ""}};
  assert_int_equal(mz_ckpt_executor_gpus(&r, two, 2, err, sizeof err), 0);
  assert_int_equal(mz_ckpt_executor_pid(&r, 99, 5, err, sizeof err), 0);
  mz_ckpt_state s;
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  for (size_t i = 0; i < s.frameworks[0].nexecutors; i++) {
    mz_ckpt_executor_state *e = &s.frameworks[0].executors[i];
    if (!strcmp(e->container_id, "c-plain")) {
      assert_int_equal(e->ngpus, 0); /* no gpus file */
      assert_null(e->gpus);
      continue;
    }
    assert_int_equal(e->ngpus, 2);
    assert_int_equal(e->gpus[0].index, 1);
    assert_string_equal(e->gpus[0].task, "gpu-task");
    assert_int_equal(e->gpus[1].index, 0);
    assert_string_equal(e->gpus[1].task, "");
  }
  mz_ckpt_state_free(&s);
  /* Rewritten when GPUs go back: one, then none. */
  assert_int_equal(mz_ckpt_executor_gpus(&r, two + 1, 1, err, sizeof err), 0);
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  for (size_t i = 0; i < s.frameworks[0].nexecutors; i++) {
    mz_ckpt_executor_state *e = &s.frameworks[0].executors[i];
    if (!strcmp(e->container_id, "c-gpu")) {
      assert_int_equal(e->ngpus, 1);
      assert_int_equal(e->gpus[0].index, 0);
    }
  }
  mz_ckpt_state_free(&s);
  assert_int_equal(mz_ckpt_executor_gpus(&r, NULL, 0, err, sizeof err), 0);
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  for (size_t i = 0; i < s.frameworks[0].nexecutors; i++) assert_int_equal(s.frameworks[0].executors[i].ngpus, 0);
  mz_ckpt_state_free(&s);
  /* A damaged file: the run is still recovered, without GPUs. */
  char p[512];
  snprintf(p, sizeof p, "%s/meta/slaves/A-S3/frameworks/fw/executors/ex/runs/c-gpu/gpus", dir);
  assert_int_equal(mz_ckpt_write_file(p, "garbage", 7, err, sizeof err), 0);
  assert_int_equal(mz_ckpt_load(dir, &s, err, sizeof err), 0);
  assert_int_equal(s.frameworks[0].nexecutors, 2);
  for (size_t i = 0; i < s.frameworks[0].nexecutors; i++) {
    mz_ckpt_executor_state *e = &s.frameworks[0].executors[i];
    assert_int_equal(e->ngpus, 0);
    if (!strcmp(e->container_id, "c-gpu")) assert_int_equal(e->pid, 99);
  }
  mz_ckpt_state_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_nothing_to_recover, setup, teardown),
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_task_group_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_record_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreadable_agent_info, setup, teardown),
      cmocka_unit_test(test_gpus_encoding),
      cmocka_unit_test(test_gpus_encoding_tasks),
      cmocka_unit_test_setup_teardown(test_gpus_round_trip, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
