/* Unit tests of the agent's checkpoint (src/agent/checkpoint.c): what is written
 * is read back (agent, frameworks, executors, runs, pids, tasks, their updates and
 * acknowledgements in order), a torn last record is ignored, a clean shutdown
 * (forget) leaves nothing to recover, atomic writes leave no temp files, and
 * removed executors and frameworks are gone. Works in a fresh temp dir. */
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

static char dir[256];

static int setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/mz-ckpt-test-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  mz_ckpt_rmtree(dir);
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

static void write_task(const mz_ckpt_run *r, const char *id) {
  Mesos__V1__TaskInfo info = MESOS__V1__TASK_INFO__INIT;
  Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  tid.value = (char *)id;
  aid.value = (char *)r->agent_id;
  info.task_id = &tid;
  info.agent_id = &aid;
  info.name = "task";
  char err[256];
  assert_int_equal(mz_ckpt_task(r, &info, err, sizeof err), 0);
}

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_nothing_to_recover, setup, teardown),
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_record_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreadable_agent_info, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
