/* Unit tests of the agent's and the command executor's pure parts: Mesos's
 * default memory/disk arithmetic and the default resources, the sandbox layout,
 * the wording of exit statuses, and the status update manager's ordering,
 * retries and acknowledgements (driven on a private event base). The agent's core
 * library is linked; the command executor's helpers are compiled in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent/agent.h"
#include "agent/status_updates.h"
#include "../../src/executor/command.c" /* the executor's pure helpers; the agent's core is linked */

#define MB (1024ull * 1024ull)
#define GB (1024ull * MB)

static void test_default_mem(void **state) {
  assert_int_equal(mz_default_mem_mb(16 * GB), 15 * 1024);  /* leaves 1 GiB */
  assert_int_equal(mz_default_mem_mb(1 * GB), 512);         /* leaves half */
  assert_int_equal(mz_default_mem_mb(2 * GB), 1024);
  assert_int_equal(mz_default_mem_mb(0), 0);
}

static void test_default_disk(void **state) {
  assert_int_equal(mz_default_disk_mb(100 * GB), 95 * 1024); /* leaves 5 GiB */
  assert_int_equal(mz_default_disk_mb(4 * GB), 2 * 1024);    /* leaves half */
}

static void test_detect_machine(void **state) {
  mz_machine_info m;
  char err[256];
  assert_int_equal(mz_detect_machine("/tmp", &m, err, sizeof err), 0);
  assert_true(m.cpus >= 1);
  assert_true(m.mem_total_bytes > 0);
  assert_true(m.disk_total_bytes > 0);
  assert_int_equal(mz_detect_machine("/nonexistent/dir", &m, err, sizeof err), -1);
  assert_non_null(strstr(err, "/nonexistent/dir"));
}

static void test_agent_resources_defaults(void **state) {
  mz_machine_info m = {4, 8 * GB, 100 * GB};
  char err[256];
  mz_resources *r = mz_agent_resources(NULL, "*", &m, err, sizeof err);
  assert_non_null(r);
  assert_int_equal(mz_resources_scalar(r, "cpus"), 4 * MZ_SCALAR_UNIT);
  assert_int_equal(mz_resources_scalar(r, "mem"), 7 * 1024 * MZ_SCALAR_UNIT);
  assert_int_equal(mz_resources_scalar(r, "disk"), 95 * 1024 * MZ_SCALAR_UNIT);
  assert_int_equal(mz_resources_range_count(r, "ports"), 1001);
  mz_resources_free(r);

  /* Named ones win; the rest is detected. */
  r = mz_agent_resources("cpus:2;ports:[5000-5009]", "*", &m, err, sizeof err);
  assert_non_null(r);
  assert_int_equal(mz_resources_scalar(r, "cpus"), 2 * MZ_SCALAR_UNIT);
  assert_int_equal(mz_resources_range_count(r, "ports"), 10);
  assert_int_equal(mz_resources_scalar(r, "mem"), 7 * 1024 * MZ_SCALAR_UNIT);
  mz_resources_free(r);

  /* A resource given as zero stays zero (not replaced by the detected value). */
  r = mz_agent_resources("cpus:1;disk:0", "*", &m, err, sizeof err);
  assert_non_null(r);
  assert_int_equal(mz_resources_scalar(r, "disk"), 0);
  mz_resources_free(r);

  assert_null(mz_agent_resources("cpus:abc", "*", &m, err, sizeof err));
  assert_non_null(strstr(err, "--resources"));
}

static void test_sandbox_layout(void **state) {
  char *p = mz_sandbox_path("/w", "A", "F", "E", "C");
  assert_string_equal(p, "/w/slaves/A/frameworks/F/executors/E/runs/C");
  free(p);
  char tmpl[] = "/tmp/mz-sandbox-XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  char dir[512], file[600], err[256];
  snprintf(dir, sizeof dir, "%s/slaves/a/frameworks/f/executors/e/runs/c1", tmpl);
  assert_int_equal(mz_sandbox_create(dir, err, sizeof err), 0);
  struct stat sb;
  assert_int_equal(stat(dir, &sb), 0);
  assert_true(S_ISDIR(sb.st_mode));
  /* stdout and stderr are made by the launch that opens them (launcher_posix.c). */
  snprintf(file, sizeof file, "%s/stdout", dir);
  assert_int_equal(stat(file, &sb), -1);
  char link[600], target[64];
  snprintf(link, sizeof link, "%s/slaves/a/frameworks/f/executors/e/runs/latest", tmpl);
  ssize_t n = readlink(link, target, sizeof target - 1);
  assert_true(n > 0);
  target[n] = '\0';
  assert_string_equal(target, "c1");
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
  assert_int_equal(system(cmd), 0);
}

static void test_describe_exit(void **state) {
  char buf[128];
  mz_command_describe_exit(3 << 8, buf, sizeof buf); /* exited with 3 */
  assert_string_equal(buf, "Command exited with status 3");
  mz_command_describe_exit(0, buf, sizeof buf);
  assert_string_equal(buf, "Command exited with status 0");
  mz_command_describe_exit(SIGKILL, buf, sizeof buf);
  assert_string_equal(buf, "Command terminated with signal Killed");
}

static void test_command_spawn_own_group(void **state) {
  Mesos__V1__CommandInfo cmd = MESOS__V1__COMMAND_INFO__INIT;
  cmd.value = "test \"$(cut -d' ' -f5 /proc/$$/stat)\" = \"$$\" && test \"$FOO\" = bar";
  Mesos__V1__Environment env = MESOS__V1__ENVIRONMENT__INIT;
  Mesos__V1__Environment__Variable var = MESOS__V1__ENVIRONMENT__VARIABLE__INIT;
  Mesos__V1__Environment__Variable *vars[] = {&var};
  var.name = "FOO";
  var.value = "bar";
  env.n_variables = 1;
  env.variables = vars;
  cmd.environment = &env;
  pid_t pid;
  char err[256];
  assert_int_equal(mz_command_spawn(&cmd, &pid, err, sizeof err), 0);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);

  Mesos__V1__CommandInfo bad = MESOS__V1__COMMAND_INFO__INIT;
  assert_int_equal(mz_command_spawn(&bad, &pid, err, sizeof err), -1);

  Mesos__V1__CommandInfo noshell = MESOS__V1__COMMAND_INFO__INIT;
  char *args[] = {"false"};
  noshell.value = "false";
  noshell.has_shell = 1;
  noshell.shell = 0;
  noshell.n_arguments = 1;
  noshell.arguments = args;
  assert_int_equal(mz_command_spawn(&noshell, &pid, err, sizeof err), 0);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_int_equal(WEXITSTATUS(st), 1);
}

/* ---------------------------------------------------------------- status update manager */

typedef struct {
  int connected;
  int forwarded;
  Mesos__V1__TaskState last_state, last_latest;
  uint8_t last_uuid[16];
  int acked_terminal;
} su_fixture;

static int fx_forward(const char *fw, const char *ex, const Mesos__V1__TaskStatus *st, Mesos__V1__TaskState latest,
                      void *arg) {
  su_fixture *f = arg;
  if (!f->connected) return -1;
  f->forwarded++;
  f->last_state = st->state;
  f->last_latest = latest;
  memcpy(f->last_uuid, st->uuid.data, 16);
  return 0;
}

static void fx_acked(const char *fw, const char *task, void *arg) {
  su_fixture *f = arg;
  f->acked_terminal++;
}

static void make_status(Mesos__V1__TaskStatus *st, Mesos__V1__TaskID *tid, Mesos__V1__TaskState s, uint8_t *uuid) {
  mesos__v1__task_status__init(st);
  mesos__v1__task_id__init(tid);
  tid->value = "t1";
  st->task_id = tid;
  st->state = s;
  mz_uuid_generate(uuid);
  st->has_uuid = 1;
  st->uuid.data = uuid;
  st->uuid.len = 16;
}

static void run_for(struct event_base *base, double seconds) {
  struct timeval tv = {0, (suseconds_t)(seconds * 1e6)};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

/* A framework's task is found by id whichever of its executors holds it, queued or
 * launched, and no longer once it completed (fw->live_tasks, kept by agent.c). */
static void test_task_lookup_across_many_executors(void **state) {
  (void)state;
  mz_agent a;
  memset(&a, 0, sizeof a);
  a.flags.max_completed_executors_per_framework = 150;
  a.flags.max_completed_frameworks = 50;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fid.value = "fw-1";
  Mesos__V1__FrameworkInfo fi = MESOS__V1__FRAMEWORK_INFO__INIT;
  fi.id = &fid;
  fi.user = "u";
  fi.name = "n";
  mz_ag_framework *fw = mz_agent_framework_add(&a, &fi);
  assert_non_null(fw);
  enum { N = 1000 };
  for (int i = 0; i < N; i++) {
    char eid[32], tid[32];
    snprintf(eid, sizeof eid, "e%d", i);
    snprintf(tid, sizeof tid, "t%d", i);
    Mesos__V1__ExecutorID xid = MESOS__V1__EXECUTOR_ID__INIT;
    xid.value = eid;
    Mesos__V1__ExecutorInfo xi = MESOS__V1__EXECUTOR_INFO__INIT;
    xi.executor_id = &xid;
    mz_ag_executor *ex = mz_agent_executor_add(&a, fw, &xi, 1);
    assert_non_null(ex);
    Mesos__V1__TaskID id = MESOS__V1__TASK_ID__INIT;
    id.value = tid;
    Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
    aid.value = "agent-1";
    Mesos__V1__TaskInfo ti = MESOS__V1__TASK_INFO__INIT;
    ti.task_id = &id;
    ti.agent_id = &aid;
    ti.name = tid;
    assert_non_null(mz_agent_task_new(ex, &ti));
  }
  mz_ag_task *t = mz_agent_task(&a, "fw-1", "t500");
  assert_non_null(t);
  assert_string_equal(t->executor->id, "e500");
  /* Launched (moved between the executor's hashes) is still found. */
  HASH_DEL(t->executor->queued, t);
  HASH_ADD_KEYPTR(hh, t->executor->launched, t->id, strlen(t->id), t);
  assert_ptr_equal(mz_agent_task(&a, "fw-1", "t500"), t);
  mz_agent_task_complete(&a, t);
  assert_null(mz_agent_task(&a, "fw-1", "t500"));
  assert_non_null(mz_agent_task(&a, "fw-1", "t999"));
  assert_null(mz_agent_task(&a, "fw-1", "t1000"));
  assert_null(mz_agent_task(&a, "fw-2", "t1"));
  assert_int_equal(HASH_CNT(hh_fw, fw->live_tasks), N - 1);
  mz_agent_free_state(&a);
}

static void test_su_ordering_and_acks(void **state) {
  struct event_base *base = event_base_new();
  su_fixture f = {.connected = 1};
  mz_su_callbacks cbs = {fx_forward, fx_acked};
  mz_su_manager *m = mz_su_new(base, &cbs, &f);
  mz_su_set_backoff(m, 0.05, 0.2);
  Mesos__V1__TaskStatus s1, s2, s3;
  Mesos__V1__TaskID t1, t2, t3;
  uint8_t u1[16], u2[16], u3[16];
  char err[256];
  make_status(&s1, &t1, MESOS__V1__TASK_STATE__TASK_RUNNING, u1);
  make_status(&s2, &t2, MESOS__V1__TASK_STATE__TASK_FINISHED, u2);
  make_status(&s3, &t3, MESOS__V1__TASK_STATE__TASK_FAILED, u3);

  assert_int_equal(mz_su_update(m, "fw", NULL, &s1, err, sizeof err), 0);
  assert_int_equal(f.forwarded, 1);
  assert_int_equal(mz_su_update(m, "fw", NULL, &s2, err, sizeof err), 0);
  assert_int_equal(f.forwarded, 1); /* only the head goes out */
  assert_int_equal(mz_su_update(m, "fw", NULL, &s1, err, sizeof err), 1); /* duplicate */
  assert_int_equal(mz_su_update(m, "fw", NULL, &s3, err, sizeof err), -1); /* after a terminal one */
  assert_int_equal(mz_su_pending(m), 2);

  /* Retried while unacknowledged, with the latest state. */
  run_for(base, 0.2);
  assert_true(f.forwarded >= 2);
  assert_int_equal(f.last_state, MESOS__V1__TASK_STATE__TASK_RUNNING);
  assert_int_equal(f.last_latest, MESOS__V1__TASK_STATE__TASK_FINISHED);

  /* A wrong uuid does not acknowledge. */
  assert_int_equal(mz_su_acknowledge(m, "fw", "t1", u2, 16, err, sizeof err), -1);
  int before = f.forwarded;
  assert_int_equal(mz_su_acknowledge(m, "fw", "t1", u1, 16, err, sizeof err), 0);
  assert_int_equal(f.forwarded, before + 1); /* the next one at once */
  assert_memory_equal(f.last_uuid, u2, 16);
  assert_int_equal(f.acked_terminal, 0);
  assert_int_equal(mz_su_acknowledge(m, "fw", "t1", u2, 16, err, sizeof err), 0);
  assert_int_equal(f.acked_terminal, 1);
  assert_int_equal(mz_su_pending(m), 0);
  assert_null(mz_su_head(m, "fw", "t1"));
  assert_int_equal(mz_su_acknowledge(m, "fw", "t1", u2, 16, err, sizeof err), -1);
  mz_su_free(m);
  event_base_free(base);
}

static void test_su_disconnected_then_resend(void **state) {
  struct event_base *base = event_base_new();
  su_fixture f = {.connected = 0};
  mz_su_callbacks cbs = {fx_forward, fx_acked};
  mz_su_manager *m = mz_su_new(base, &cbs, &f);
  mz_su_set_backoff(m, 10, 600); /* no retry within the test */
  Mesos__V1__TaskStatus s1;
  Mesos__V1__TaskID t1;
  uint8_t u1[16];
  char err[256];
  make_status(&s1, &t1, MESOS__V1__TASK_STATE__TASK_RUNNING, u1);
  assert_int_equal(mz_su_update(m, "fw", "ex", &s1, err, sizeof err), 0);
  assert_int_equal(f.forwarded, 0);
  assert_non_null(mz_su_head(m, "fw", "t1"));
  f.connected = 1;
  mz_su_resend_all(m);
  assert_int_equal(f.forwarded, 1);
  mz_su_drop_framework(m, "fw");
  assert_int_equal(mz_su_pending(m), 0);
  mz_su_free(m);
  event_base_free(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_mem),
      cmocka_unit_test(test_default_disk),
      cmocka_unit_test(test_detect_machine),
      cmocka_unit_test(test_agent_resources_defaults),
      cmocka_unit_test(test_sandbox_layout),
      cmocka_unit_test(test_describe_exit),
      cmocka_unit_test(test_command_spawn_own_group),
      cmocka_unit_test(test_task_lookup_across_many_executors),
      cmocka_unit_test(test_su_ordering_and_acks),
      cmocka_unit_test(test_su_disconnected_then_resend),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
