/* task_cmd: `mezzo task list|show TASK_ID|log TASK_ID [--follow]`.
 * list/show read /master/tasks; log finds the task's sandbox in its agent's
 * /state and reads stdout (or --file) with /files/read, both through the
 * master's /agent/<id>/... proxy, so that only the master's address is
 * needed. --follow keeps reading until the task is terminal and its file has
 * no more bytes (or Ctrl-C). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/ops.h"
#include "common/util.h"

#define LOG_CHUNK 65536
#define LOG_POLL_MS 500
#define LOG_STATE_EVERY 4 /* polls between checks of the task's state */
#define LOG_DEFAULT_TAIL 65536

void mz_cli_task_usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo task list [--framework=ID] [--all] [--json] [--master=HOST:PORT]\n"
          "       mezzo task show TASK_ID [--framework=ID] [--json] [--master=HOST:PORT]\n"
          "       mezzo task log TASK_ID [--framework=ID] [--file=stdout|stderr|PATH] [--follow] [--master=HOST:PORT]\n"
          "\n"
          "Lists tasks (live ones; --all adds finished ones), shows one task, or prints the\n"
          "file of its sandbox (stdout by default); --follow keeps printing what is appended\n"
          "until the task ends.\n"
          "\n"
          "  --master=HOST:PORT      the master (or MEZZO_MASTER)\n"
          "  --framework=ID          only tasks of this framework (needed when a task id is not unique)\n"
          "  --all                   include terminal tasks\n"
          "  --file=NAME             sandbox file for `log` (default stdout; relative to the sandbox)\n"
          "  --follow                keep printing the file as it grows\n"
          "  --json                  print the master's JSON\n");
}

static bool terminal(const char *s) {
  return strcmp(s, "TASK_STAGING") && strcmp(s, "TASK_STARTING") && strcmp(s, "TASK_RUNNING") &&
         strcmp(s, "TASK_KILLING") && strcmp(s, "TASK_UNREACHABLE");
}

static double last_time(const json_t *t) {
  json_t *st = json_object_get(t, "statuses");
  size_t n = json_array_size(st);
  return n ? mz_cli_num(json_array_get(st, n - 1), "timestamp") : 0;
}

/* The tasks with this id (optionally in this framework). */
static int fetch_tasks(mz_cli_ctx *c, const char *task_id, const char *fw, json_t **doc) {
  char path[1200], a[800], b[800];
  size_t n = (size_t)snprintf(path, sizeof path, "/master/tasks?limit=100000");
  if (task_id) {
    mz_cli_urlencode(task_id, a, sizeof a);
    n += (size_t)snprintf(path + n, sizeof path - n, "&task_id=%s", a);
  }
  if (fw && n < sizeof path) {
    mz_cli_urlencode(fw, b, sizeof b);
    snprintf(path + n, sizeof path - n, "&framework_id=%s", b);
  }
  return mz_cli_get_json(c, path, doc);
}

/* Exactly one task named id; prints why not otherwise. */
static int one_task(mz_cli_ctx *c, const char *id, const char *fw, json_t **doc, json_t **task) {
  int rc = fetch_tasks(c, id, fw, doc);
  if (rc) return rc;
  json_t *tasks = json_object_get(*doc, "tasks");
  if (json_array_size(tasks) == 0) {
    fprintf(stderr, "%s: no task with id '%s'%s%s (see `mezzo task list --all`)\n", c->prog, id,
            fw ? " in framework " : "", fw ? fw : "");
    json_decref(*doc);
    return MZ_CLI_EXIT_FAIL;
  }
  if (json_array_size(tasks) > 1) {
    fprintf(stderr, "%s: task id '%s' is used by %zu tasks; pick one with --framework=ID\n", c->prog, id,
            json_array_size(tasks));
    json_decref(*doc);
    return MZ_CLI_EXIT_FAIL;
  }
  *task = json_array_get(tasks, 0);
  return 0;
}

static int list(mz_cli_ctx *c, const char *fw, int all) {
  json_t *doc;
  int rc = fetch_tasks(c, NULL, fw, &doc);
  if (rc) return rc;
  json_t *tasks = json_object_get(doc, "tasks"), *shown = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(tasks, i, t) if (all || !terminal(mz_cli_str(t, "state"))) json_array_append(shown, t);
  if (c->json) {
    mz_cli_print_json(shown);
  } else {
    const char *h[] = {"ID", "NAME", "STATE", "FRAMEWORK", "AGENT", "CPUS", "MEM (MB)", "UPDATED"};
    mz_cli_table *tb = mz_cli_table_new(8, h);
    json_array_foreach(shown, i, t) {
      char cpus[32], mem[32], tm[64];
      json_t *res = json_object_get(t, "resources");
      snprintf(cpus, sizeof cpus, "%g", mz_cli_num(res, "cpus"));
      snprintf(mem, sizeof mem, "%g", mz_cli_num(res, "mem"));
      mz_cli_fmt_time(last_time(t), tm, sizeof tm);
      const char *row[] = {mz_cli_str(t, "id"), mz_cli_str(t, "name"), mz_cli_str(t, "state"), mz_cli_str(t, "framework_id"),
                           mz_cli_str(t, "slave_id"), cpus, mem, tm};
      mz_cli_table_add(tb, row);
    }
    mz_cli_table_print(tb, stdout);
  }
  json_decref(shown);
  json_decref(doc);
  return MZ_CLI_EXIT_OK;
}

static int show(mz_cli_ctx *c, const char *fw) {
  json_t *doc, *t;
  int rc = one_task(c, c->args[0], fw, &doc, &t);
  if (rc) return rc;
  if (c->json) {
    mz_cli_print_json(t);
  } else {
    char buf[512], tm[64];
    printf("Task %s (%s)\n", mz_cli_str(t, "id"), mz_cli_str(t, "name"));
    printf("  state      %s\n", mz_cli_str(t, "state"));
    printf("  framework  %s\n", mz_cli_str(t, "framework_id"));
    printf("  agent      %s\n", mz_cli_str(t, "slave_id"));
    printf("  executor   %s\n", mz_cli_str(t, "executor_id"));
    printf("  role       %s\n", mz_cli_str(t, "role"));
    printf("  user       %s\n", mz_cli_str(t, "user"));
    mz_cli_fmt_res(json_object_get(t, "resources"), buf, sizeof buf);
    printf("  resources  %s\n", buf);
    printf("  history\n");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(t, "statuses"), i, s) {
      mz_cli_fmt_time(mz_cli_num(s, "timestamp"), tm, sizeof tm);
      printf("    %s  %s\n", tm, mz_cli_str(s, "state"));
    }
  }
  json_decref(doc);
  return MZ_CLI_EXIT_OK;
}

/* The sandbox directory of the task in the agent's /state, malloc'd, or NULL. */
static char *find_sandbox(const json_t *st, const char *fw, const char *tid) {
  const char *fkeys[] = {"frameworks", "completed_frameworks"};
  const char *ekeys[] = {"executors", "completed_executors"};
  const char *tkeys[] = {"tasks", "queued_tasks", "completed_tasks"};
  char *found = NULL;
  for (int a = 0; a < 2; a++) {
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(st, fkeys[a]), i, f) {
      if (strcmp(mz_cli_str(f, "id"), fw)) continue;
      for (int b = 0; b < 2; b++) {
        size_t j;
        json_t *ex;
        json_array_foreach(json_object_get(f, ekeys[b]), j, ex) {
          bool match = !strcmp(mz_cli_str(ex, "id"), tid);
          for (int k = 0; k < 3 && !match; k++) {
            size_t x;
            json_t *t;
            json_array_foreach(json_object_get(ex, tkeys[k]), x, t) match |= !strcmp(mz_cli_str(t, "id"), tid);
          }
          const char *dir = json_string_value(json_object_get(ex, "directory"));
          if (match && dir && (!found || b == 0)) {
            free(found);
            found = mz_strdup(dir);
          }
        }
      }
    }
  }
  return found;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Reads from *offset to the end of the file, printing it; 0 or an exit status. */
static int read_more(mz_cli_ctx *c, const char *base, long long *offset) {
  for (;;) {
    char path[7300];
    snprintf(path, sizeof path, "%s&offset=%lld&length=%d", base, *offset, LOG_CHUNK);
    json_t *r;
    int rc = mz_cli_get_json(c, path, &r);
    if (rc) return rc;
    const char *data = json_string_value(json_object_get(r, "data"));
    size_t len = data ? json_string_length(json_object_get(r, "data")) : 0;
    if (len) {
      fwrite(data, 1, len, stdout);
      fflush(stdout);
    }
    *offset += (long long)len;
    json_decref(r);
    if (len < LOG_CHUNK / 2) return 0;
  }
}

static int log_cmd(mz_cli_ctx *c, const char *fw_flag, const char *file, int follow) {
  json_t *doc, *t;
  int rc = one_task(c, c->args[0], fw_flag, &doc, &t);
  if (rc) return rc;
  char agent[MZ_ID_MAX + 1], fw[MZ_ID_MAX + 1], tid[MZ_ID_MAX + 1];
  snprintf(agent, sizeof agent, "%s", mz_cli_str(t, "slave_id"));
  snprintf(fw, sizeof fw, "%s", mz_cli_str(t, "framework_id"));
  snprintf(tid, sizeof tid, "%s", mz_cli_str(t, "id"));
  bool done = terminal(mz_cli_str(t, "state"));
  json_decref(doc);
  char aenc[800], path[7300];
  mz_cli_urlencode(agent, aenc, sizeof aenc);
  snprintf(path, sizeof path, "/agent/%s/state", aenc);
  json_t *st;
  if ((rc = mz_cli_get_json(c, path, &st)) != 0) return rc;
  char *dir = find_sandbox(st, fw, tid);
  json_decref(st);
  if (!dir) {
    fprintf(stderr, "%s: agent %s does not know the sandbox of task %s (it may have been garbage collected)\n", c->prog,
            agent, tid);
    return MZ_CLI_EXIT_FAIL;
  }
  char full[2048], penc[6200], base[7200];
  if (file[0] == '/') snprintf(full, sizeof full, "%s", file);
  else snprintf(full, sizeof full, "%s/%s", dir, file);
  free(dir);
  mz_cli_urlencode(full, penc, sizeof penc);
  snprintf(base, sizeof base, "/agent/%s/files/read?path=%s", aenc, penc);
  if (strlen(base) > 4000) {
    fprintf(stderr, "%s: sandbox path too long\n", c->prog);
    return MZ_CLI_EXIT_FAIL;
  }
  long long offset = 0;
  if (follow) { /* start with the last LOG_DEFAULT_TAIL bytes, as tail -f does */
    snprintf(path, sizeof path, "%s&offset=-1", base);
    json_t *r;
    if ((rc = mz_cli_get_json(c, path, &r)) != 0) return rc;
    long long size = (long long)mz_cli_num(r, "offset");
    json_decref(r);
    offset = size > LOG_DEFAULT_TAIL ? size - LOG_DEFAULT_TAIL : 0;
  }
  if ((rc = read_more(c, base, &offset)) != 0) return rc;
  if (!follow) return MZ_CLI_EXIT_OK;
  signal(SIGINT, on_sigint);
  for (int n = 1; !interrupted && !done; n++) {
    sleep_ms(LOG_POLL_MS);
    if (n % LOG_STATE_EVERY == 0) {
      json_t *d;
      if ((rc = fetch_tasks(c, tid, fw, &d)) != 0) return rc;
      json_t *x = json_array_get(json_object_get(d, "tasks"), 0);
      done = !x || terminal(mz_cli_str(x, "state"));
      json_decref(d);
    }
    if ((rc = read_more(c, base, &offset)) != 0) return rc;
  }
  if (done) read_more(c, base, &offset); /* what was written just before the end */
  return MZ_CLI_EXIT_OK;
}

int mz_cli_task(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    mz_cli_task_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? MZ_CLI_EXIT_USAGE : MZ_CLI_EXIT_OK;
  }
  const char *sub = argv[1];
  const char *fw = NULL, *file = "stdout";
  int all = 0, follow = 0;
  mz_cli_ctx c;
  int rc;
  if (!strcmp(sub, "list")) {
    const mz_flag extra[] = {{"framework", MZ_FLAG_STRING, &fw, "framework id"},
                             {"all", MZ_FLAG_BOOL, &all, "include terminal tasks"}};
    if ((rc = mz_cli_ops_parse(&c, "mezzo task list", extra, 2, argc - 1, argv + 1, 0, 0, mz_cli_task_usage)) >= 0)
      return rc;
    return list(&c, fw, all);
  }
  if (!strcmp(sub, "show")) {
    const mz_flag extra[] = {{"framework", MZ_FLAG_STRING, &fw, "framework id"}};
    if ((rc = mz_cli_ops_parse(&c, "mezzo task show", extra, 1, argc - 1, argv + 1, 1, 1, mz_cli_task_usage)) >= 0)
      return rc;
    return show(&c, fw);
  }
  if (!strcmp(sub, "log")) {
    const mz_flag extra[] = {{"framework", MZ_FLAG_STRING, &fw, "framework id"},
                             {"file", MZ_FLAG_STRING, &file, "sandbox file"},
                             {"follow", MZ_FLAG_BOOL, &follow, "keep printing"}};
    if ((rc = mz_cli_ops_parse(&c, "mezzo task log", extra, 3, argc - 1, argv + 1, 1, 1, mz_cli_task_usage)) >= 0)
      return rc;
    if (!file || !*file || strstr(file, "..")) {
      fprintf(stderr, "mezzo task log: --file must name a file in the sandbox (no '..')\n");
      return MZ_CLI_EXIT_USAGE;
    }
    return log_cmd(&c, fw, file, follow);
  }
  fprintf(stderr, "mezzo task: unknown subcommand '%s' (list, show, log)\n", sub);
  return MZ_CLI_EXIT_USAGE;
}
