/* agent_cmd: `mezzo agent list` and `mezzo agent show AGENT_ID`, from the
 * master's /master/slaves and /master/tasks (Mesos shapes). */
#include <stdlib.h>
#include <string.h>

#include "cli/ops.h"

void mz_cli_agent_usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo agent list [--json] [--master=HOST:PORT]\n"
          "       mezzo agent show AGENT_ID [--json] [--master=HOST:PORT]\n"
          "\n"
          "Lists the agents registered with the master (id, host, state, resources used/total,\n"
          "tasks), or shows one agent with its attributes and tasks.\n"
          "\n"
          "  --master=HOST:PORT      the master (or MEZZO_MASTER)\n"
          "  --json                  print the master's JSON\n");
}

static const char *agent_state(const json_t *a) {
  if (json_is_true(json_object_get(a, "draining")) || json_object_get(a, "drain_info")) return "draining";
  if (json_is_true(json_object_get(a, "deactivated"))) return "deactivated";
  if (json_is_false(json_object_get(a, "active"))) return "disconnected";
  return "active";
}

static size_t count_tasks(const json_t *tasks, const char *agent_id, bool live) {
  size_t i, n = 0;
  json_t *t;
  json_array_foreach(tasks, i, t) {
    if (strcmp(mz_cli_str(t, "slave_id"), agent_id)) continue;
    const char *s = mz_cli_str(t, "state");
    bool terminal = strcmp(s, "TASK_STAGING") && strcmp(s, "TASK_STARTING") && strcmp(s, "TASK_RUNNING") &&
                    strcmp(s, "TASK_KILLING") && strcmp(s, "TASK_UNREACHABLE");
    if (!live || !terminal) n++;
  }
  return n;
}

static json_t *find_agent(const json_t *slaves, const char *id) {
  size_t i;
  json_t *a;
  json_array_foreach(slaves, i, a) if (!strcmp(mz_cli_str(a, "id"), id)) return a;
  return NULL;
}

static void attrs_text(const json_t *attrs, char *out, size_t len) {
  const char *k;
  json_t *v;
  size_t n = 0;
  out[0] = 0;
  json_object_foreach((json_t *)attrs, k, v) {
    char val[256];
    if (json_is_string(v)) snprintf(val, sizeof val, "%s", json_string_value(v));
    else if (json_is_number(v)) snprintf(val, sizeof val, "%g", json_number_value(v));
    else snprintf(val, sizeof val, "?");
    int w = snprintf(out + n, len - n, "%s%s:%s", n ? ";" : "", k, val);
    if (w < 0 || (size_t)w >= len - n) break;
    n += (size_t)w;
  }
  if (!n) snprintf(out, len, "-");
}

int mz_cli_agent(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    mz_cli_agent_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? MZ_CLI_EXIT_USAGE : MZ_CLI_EXIT_OK;
  }
  const char *sub = argv[1];
  bool show = !strcmp(sub, "show");
  if (!show && strcmp(sub, "list")) {
    fprintf(stderr, "mezzo agent: unknown subcommand '%s' (list, show)\n", sub);
    return MZ_CLI_EXIT_USAGE;
  }
  mz_cli_ctx c;
  int rc = mz_cli_ops_parse(&c, show ? "mezzo agent show" : "mezzo agent list", NULL, 0, argc - 1, argv + 1,
                            show ? 1 : 0, show ? 1 : 0, mz_cli_agent_usage);
  if (rc >= 0) return rc;
  json_t *slaves_doc = NULL, *tasks_doc = NULL;
  if ((rc = mz_cli_get_json(&c, "/master/slaves", &slaves_doc)) != 0) return rc;
  if ((rc = mz_cli_get_json(&c, "/master/tasks?limit=100000", &tasks_doc)) != 0) {
    json_decref(slaves_doc);
    return rc;
  }
  json_t *slaves = json_object_get(slaves_doc, "slaves");
  json_t *tasks = json_object_get(tasks_doc, "tasks");
  rc = MZ_CLI_EXIT_OK;
  if (!show) {
    if (c.json) {
      mz_cli_print_json(slaves);
    } else {
      const char *h[] = {"ID", "HOST", "STATE", "TASKS", "CPUS", "MEM (MB)", "DISK (MB)"};
      mz_cli_table *t = mz_cli_table_new(7, h);
      size_t i;
      json_t *a;
      json_array_foreach(slaves, i, a) {
        json_t *tot = json_object_get(a, "resources"), *used = json_object_get(a, "used_resources");
        char host[300], ntask[32], cpus[64], mem[64], disk[64];
        snprintf(host, sizeof host, "%s:%lld", mz_cli_str(a, "hostname"),
                 (long long)json_integer_value(json_object_get(a, "port")));
        snprintf(ntask, sizeof ntask, "%zu", count_tasks(tasks, mz_cli_str(a, "id"), true));
        snprintf(cpus, sizeof cpus, "%g/%g", mz_cli_num(used, "cpus"), mz_cli_num(tot, "cpus"));
        snprintf(mem, sizeof mem, "%g/%g", mz_cli_num(used, "mem"), mz_cli_num(tot, "mem"));
        snprintf(disk, sizeof disk, "%g/%g", mz_cli_num(used, "disk"), mz_cli_num(tot, "disk"));
        const char *row[] = {mz_cli_str(a, "id"), host, agent_state(a), ntask, cpus, mem, disk};
        mz_cli_table_add(t, row);
      }
      mz_cli_table_print(t, stdout);
    }
  } else {
    const char *id = c.args[0];
    json_t *a = find_agent(slaves, id);
    if (!a) {
      fprintf(stderr, "mezzo agent show: no agent with id '%s' (see `mezzo agent list`)\n", id);
      rc = MZ_CLI_EXIT_FAIL;
    } else if (c.json) {
      json_t *o = json_deep_copy(a);
      json_t *mine = json_array();
      size_t i;
      json_t *t;
      json_array_foreach(tasks, i, t) if (!strcmp(mz_cli_str(t, "slave_id"), id)) json_array_append(mine, t);
      json_object_set_new(o, "tasks", mine);
      mz_cli_print_json(o);
      json_decref(o);
    } else {
      char buf[512], tm[64];
      printf("Agent %s\n", id);
      printf("  host        %s:%lld\n", mz_cli_str(a, "hostname"), (long long)json_integer_value(json_object_get(a, "port")));
      printf("  pid         %s\n", mz_cli_str(a, "pid"));
      printf("  state       %s\n", agent_state(a));
      printf("  version     %s\n", mz_cli_str(a, "version"));
      mz_cli_fmt_time(mz_cli_num(a, "registered_time"), tm, sizeof tm);
      printf("  registered  %s\n", tm);
      mz_cli_fmt_res(json_object_get(a, "resources"), buf, sizeof buf);
      printf("  total       %s", buf);
      const char *ports = json_string_value(json_object_get(json_object_get(a, "resources"), "ports"));
      printf("%s%s\n", ports ? ", ports " : "", ports ? ports : "");
      mz_cli_fmt_res(json_object_get(a, "used_resources"), buf, sizeof buf);
      printf("  used        %s\n", buf);
      mz_cli_fmt_res(json_object_get(a, "offered_resources"), buf, sizeof buf);
      printf("  offered     %s\n", buf);
      attrs_text(json_object_get(a, "attributes"), buf, sizeof buf);
      printf("  attributes  %s\n\n", buf);
      const char *h[] = {"TASK", "FRAMEWORK", "STATE", "NAME"};
      mz_cli_table *t = mz_cli_table_new(4, h);
      size_t i;
      json_t *x;
      json_array_foreach(tasks, i, x) {
        if (strcmp(mz_cli_str(x, "slave_id"), id)) continue;
        const char *row[] = {mz_cli_str(x, "id"), mz_cli_str(x, "framework_id"), mz_cli_str(x, "state"),
                             mz_cli_str(x, "name")};
        mz_cli_table_add(t, row);
      }
      mz_cli_table_print(t, stdout);
    }
  }
  json_decref(slaves_doc);
  json_decref(tasks_doc);
  return rc;
}
