/* framework_cmd: `mezzo framework list|show FRAMEWORK_ID|teardown FRAMEWORK_ID`,
 * from /master/frameworks and the operator API's TEARDOWN. */
#include <stdlib.h>
#include <string.h>

#include "cli/ops.h"

void mz_cli_framework_usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo framework list [--all] [--json] [--master=HOST:PORT]\n"
          "       mezzo framework show FRAMEWORK_ID [--json] [--master=HOST:PORT]\n"
          "       mezzo framework teardown FRAMEWORK_ID [--master=HOST:PORT]\n"
          "\n"
          "Lists the frameworks (id, name, roles, state, tasks, offers, resources used), shows one,\n"
          "or tears one down (its tasks are killed).\n"
          "\n"
          "  --master=HOST:PORT      the master (or MEZZO_MASTER)\n"
          "  --all                   include completed frameworks\n"
          "  --json                  print the master's JSON\n");
}

static void roles_text(const json_t *f, char *out, size_t len) {
  json_t *roles = json_object_get(f, "roles");
  size_t n = 0, i;
  json_t *r;
  out[0] = 0;
  json_array_foreach(roles, i, r) {
    int w = snprintf(out + n, len - n, "%s%s", n ? "," : "", json_string_value(r) ? json_string_value(r) : "");
    if (w < 0 || (size_t)w >= len - n) break;
    n += (size_t)w;
  }
  if (!n) snprintf(out, len, "%s", mz_cli_str(f, "role"));
}

static json_t *find_fw(const json_t *doc, const char *id, bool *completed) {
  const char *keys[] = {"frameworks", "completed_frameworks"};
  for (int k = 0; k < 2; k++) {
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(doc, keys[k]), i, f) if (!strcmp(mz_cli_str(f, "id"), id)) {
      *completed = k == 1;
      return f;
    }
  }
  return NULL;
}

static void add_row(mz_cli_table *t, const json_t *f, const char *state) {
  char roles[256], tasks[32], offers[32], cpus[32], mem[32];
  roles_text(f, roles, sizeof roles);
  snprintf(tasks, sizeof tasks, "%zu", json_array_size(json_object_get(f, "tasks")));
  snprintf(offers, sizeof offers, "%zu", json_array_size(json_object_get(f, "offers")));
  json_t *used = json_object_get(f, "used_resources");
  snprintf(cpus, sizeof cpus, "%g", mz_cli_num(used, "cpus"));
  snprintf(mem, sizeof mem, "%g", mz_cli_num(used, "mem"));
  const char *row[] = {mz_cli_str(f, "id"), mz_cli_str(f, "name"), roles, state, tasks, offers, cpus, mem};
  mz_cli_table_add(t, row);
}

static int teardown(mz_cli_ctx *c) {
  json_t *call = json_pack("{s:s, s:{s:{s:s}}}", "type", "TEARDOWN", "teardown", "framework_id", "value", c->args[0]);
  int rc = mz_cli_api(c, call, NULL);
  json_decref(call);
  if (rc == 0) printf("Framework %s torn down\n", c->args[0]);
  return rc;
}

int mz_cli_framework(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    mz_cli_framework_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? MZ_CLI_EXIT_USAGE : MZ_CLI_EXIT_OK;
  }
  const char *sub = argv[1];
  int all = 0;
  const mz_flag extra[] = {{"all", MZ_FLAG_BOOL, &all, "include completed frameworks"}};
  mz_cli_ctx c;
  int rc;
  if (!strcmp(sub, "teardown")) {
    if ((rc = mz_cli_ops_parse(&c, "mezzo framework teardown", NULL, 0, argc - 1, argv + 1, 1, 1,
                               mz_cli_framework_usage)) >= 0)
      return rc;
    return teardown(&c);
  }
  bool show = !strcmp(sub, "show");
  if (!show && strcmp(sub, "list")) {
    fprintf(stderr, "mezzo framework: unknown subcommand '%s' (list, show, teardown)\n", sub);
    return MZ_CLI_EXIT_USAGE;
  }
  if ((rc = mz_cli_ops_parse(&c, show ? "mezzo framework show" : "mezzo framework list", show ? NULL : extra,
                             show ? 0 : 1, argc - 1, argv + 1, show ? 1 : 0, show ? 1 : 0, mz_cli_framework_usage)) >= 0)
    return rc;
  json_t *doc = NULL;
  if ((rc = mz_cli_get_json(&c, "/master/frameworks", &doc)) != 0) return rc;
  rc = MZ_CLI_EXIT_OK;
  if (!show) {
    if (c.json) {
      json_t *arr = json_deep_copy(json_object_get(doc, "frameworks"));
      if (all) json_array_extend(arr, json_object_get(doc, "completed_frameworks"));
      mz_cli_print_json(arr);
      json_decref(arr);
    } else {
      const char *h[] = {"ID", "NAME", "ROLES", "STATE", "TASKS", "OFFERS", "CPUS", "MEM (MB)"};
      mz_cli_table *t = mz_cli_table_new(8, h);
      size_t i;
      json_t *f;
      json_array_foreach(json_object_get(doc, "frameworks"), i, f)
          add_row(t, f, json_is_true(json_object_get(f, "active")) ? "active" : "inactive");
      if (all) json_array_foreach(json_object_get(doc, "completed_frameworks"), i, f) add_row(t, f, "completed");
      mz_cli_table_print(t, stdout);
    }
  } else {
    bool completed = false;
    json_t *f = find_fw(doc, c.args[0], &completed);
    if (!f) {
      fprintf(stderr, "mezzo framework show: no framework with id '%s' (see `mezzo framework list --all`)\n", c.args[0]);
      rc = MZ_CLI_EXIT_FAIL;
    } else if (c.json) {
      mz_cli_print_json(f);
    } else {
      char buf[512], tm[64];
      roles_text(f, buf, sizeof buf);
      printf("Framework %s (%s)\n", mz_cli_str(f, "id"), mz_cli_str(f, "name"));
      printf("  state       %s\n", completed ? "completed" : json_is_true(json_object_get(f, "active")) ? "active" : "inactive");
      printf("  user        %s\n", mz_cli_str(f, "user"));
      printf("  roles       %s\n", buf);
      printf("  principal   %s\n", mz_cli_str(f, "principal"));
      mz_cli_fmt_time(mz_cli_num(f, "registered_time"), tm, sizeof tm);
      printf("  registered  %s\n", tm);
      mz_cli_fmt_res(json_object_get(f, "used_resources"), buf, sizeof buf);
      printf("  used        %s\n", buf);
      mz_cli_fmt_res(json_object_get(f, "offered_resources"), buf, sizeof buf);
      printf("  offered     %s (%zu offers)\n\n", buf, json_array_size(json_object_get(f, "offers")));
      const char *h[] = {"TASK", "STATE", "AGENT", "NAME"};
      mz_cli_table *t = mz_cli_table_new(4, h);
      const char *keys[] = {"tasks", "unreachable_tasks", "completed_tasks"};
      for (int k = 0; k < 3; k++) {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(f, keys[k]), i, x) {
          const char *row[] = {mz_cli_str(x, "id"), mz_cli_str(x, "state"), mz_cli_str(x, "slave_id"), mz_cli_str(x, "name")};
          mz_cli_table_add(t, row);
        }
      }
      mz_cli_table_print(t, stdout);
    }
  }
  json_decref(doc);
  return rc;
}
