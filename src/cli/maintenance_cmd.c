/* maintenance_cmd: `mezzo maintenance drain AGENT [--grace=DURATION] [--mark_gone]`,
 * `mezzo maintenance deactivate|reactivate|gone AGENT`: the operator API's
 * DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT and MARK_AGENT_GONE; and the
 * maintenance primitives: `schedule [--file=F]` (GET / UPDATE_MAINTENANCE_SCHEDULE),
 * `status` (GET_MAINTENANCE_STATUS), `down|up MACHINE [--ip=IP]` (START /
 * STOP_MAINTENANCE). The master checks ids and schedules; errors print its
 * message and exit non-zero. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ops.h"

void mz_cli_maintenance_usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo maintenance drain AGENT [--grace=DURATION] [--mark_gone] [--master=HOST:PORT]\n"
          "       mezzo maintenance deactivate|reactivate|gone AGENT [--master=HOST:PORT]\n"
          "       mezzo maintenance schedule [--file=SCHEDULE.json] [--json] [--master=HOST:PORT]\n"
          "       mezzo maintenance status [--json] [--master=HOST:PORT]\n"
          "       mezzo maintenance down|up MACHINE [--ip=IP] [--master=HOST:PORT]\n"
          "\n"
          "drain       no new offers on the agent; its tasks are killed (with --grace as their kill\n"
          "            grace period), it is DRAINED once none is left (then gone with --mark_gone)\n"
          "deactivate  no new offers on the agent; its tasks keep running\n"
          "reactivate  ends a drain or a deactivation\n"
          "gone        the agent is removed for good: its tasks end TASK_GONE_BY_OPERATOR\n"
          "schedule    shows the maintenance schedule, or replaces it with --file's (a JSON\n"
          "            mesos.v1.maintenance.Schedule; {} cancels it): its machines go DRAINING\n"
          "status      draining machines with the frameworks' inverse offer answers, down machines\n"
          "down        a DRAINING machine goes DOWN: its agents are shut down and removed\n"
          "up          a DOWN machine comes back UP and leaves the schedule\n"
          "            (MACHINE: a hostname, or an IPv4 address for a machine known by its ip)\n"
          "\n"
          "  --master=HOST:PORT      the master (or MEZZO_MASTER)\n"
          "  --grace=DURATION        drain: kill grace period, e.g. 30secs\n"
          "  --mark_gone             drain: mark the agent gone once drained\n"
          "  --file=PATH             schedule: the new schedule\n"
          "  --ip=IP                 down/up: the machine's ip besides its hostname\n"
          "  --json                  schedule/status: print JSON\n");
}

static void fmt_ns(const json_t *t, char *out, size_t len) {
  json_t *ns = json_object_get(t, "nanoseconds");
  if (!ns) {
    snprintf(out, len, "-");
    return;
  }
  double secs = json_number_value(ns) / 1e9;
  mz_cli_fmt_time(secs, out, len);
}

static void fmt_duration(const json_t *d, char *out, size_t len) {
  json_t *ns = json_object_get(d, "nanoseconds");
  if (!ns) {
    snprintf(out, len, "-");
    return;
  }
  double s = json_number_value(ns) / 1e9;
  if (s >= 86400) snprintf(out, len, "%gdays", s / 86400);
  else if (s >= 3600) snprintf(out, len, "%ghrs", s / 3600);
  else if (s >= 60) snprintf(out, len, "%gmins", s / 60);
  else snprintf(out, len, "%gsecs", s);
}

static const char *id_field(const json_t *id, const char *key) {
  const char *v = json_string_value(json_object_get(id, key));
  return v && *v ? v : "-";
}

static void print_schedule(const json_t *s) {
  static const char *const hdr[] = {"WINDOW", "HOSTNAME", "IP", "START", "DURATION"};
  mz_cli_table *t = mz_cli_table_new(5, hdr);
  size_t w;
  json_t *win;
  json_array_foreach(json_object_get(s, "windows"), w, win) {
    char num[24], start[64], dur[64];
    snprintf(num, sizeof num, "%zu", w + 1);
    json_t *u = json_object_get(win, "unavailability");
    fmt_ns(json_object_get(u, "start"), start, sizeof start);
    fmt_duration(json_object_get(u, "duration"), dur, sizeof dur);
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(win, "machine_ids"), i, id) {
      const char *cells[] = {num, id_field(id, "hostname"), id_field(id, "ip"), start, dur};
      mz_cli_table_add(t, cells);
    }
  }
  mz_cli_table_print(t, stdout);
}

static void print_status(const json_t *s) {
  static const char *const hdr[] = {"HOSTNAME", "IP", "MODE", "INVERSE OFFER ANSWERS"};
  mz_cli_table *t = mz_cli_table_new(4, hdr);
  size_t i;
  json_t *dm;
  json_array_foreach(json_object_get(s, "draining_machines"), i, dm) {
    char answers[1024] = "";
    size_t k, used = 0;
    json_t *st;
    json_array_foreach(json_object_get(dm, "statuses"), k, st) {
      const char *fw = json_string_value(json_object_get(json_object_get(st, "framework_id"), "value"));
      int n = snprintf(answers + used, sizeof answers - used, "%s%s:%s", k ? ", " : "", fw ? fw : "?",
                       mz_cli_str(st, "status"));
      if (n < 0 || (size_t)n >= sizeof answers - used) break;
      used += (size_t)n;
    }
    json_t *id = json_object_get(dm, "id");
    const char *cells[] = {id_field(id, "hostname"), id_field(id, "ip"), "DRAINING", used ? answers : "-"};
    mz_cli_table_add(t, cells);
  }
  json_t *id;
  json_array_foreach(json_object_get(s, "down_machines"), i, id) {
    const char *cells[] = {id_field(id, "hostname"), id_field(id, "ip"), "DOWN", "-"};
    mz_cli_table_add(t, cells);
  }
  mz_cli_table_print(t, stdout);
}

#define MAX_SCHEDULE_FILE (16u << 20)

static int schedule_or_status(int argc, char **argv, const char *sub) {
  const char *file = NULL;
  const mz_flag extra[] = {{"file", MZ_FLAG_STRING, &file, "schedule: the new schedule (JSON)"}};
  char prog[64];
  snprintf(prog, sizeof prog, "mezzo maintenance %s", sub);
  mz_cli_ctx c;
  bool is_status = !strcmp(sub, "status");
  int rc = mz_cli_ops_parse(&c, prog, extra, is_status ? 0 : 1, argc, argv, 0, 0, mz_cli_maintenance_usage);
  if (rc >= 0) return rc;
  json_t *call = json_object();
  if (file) {
    json_error_t je;
    json_t *s = json_load_file(file, 0, &je);
    if (!s) {
      fprintf(stderr, "%s: cannot read the schedule in %s: %s (line %d)\n", prog, file, je.text, je.line);
      json_decref(call);
      return MZ_CLI_EXIT_FAIL;
    }
    json_object_set_new(call, "type", json_string("UPDATE_MAINTENANCE_SCHEDULE"));
    json_object_set_new(call, "update_maintenance_schedule", json_pack("{s:o}", "schedule", s));
    rc = mz_cli_api(&c, call, NULL);
    json_decref(call);
    if (rc == 0) printf("%s: schedule updated from %s\n", prog, file);
    return rc;
  }
  json_object_set_new(call, "type", json_string(is_status ? "GET_MAINTENANCE_STATUS" : "GET_MAINTENANCE_SCHEDULE"));
  json_t *resp = NULL;
  rc = mz_cli_api(&c, call, &resp);
  json_decref(call);
  if (rc != 0) return rc;
  json_t *body = is_status ? json_object_get(json_object_get(resp, "get_maintenance_status"), "status")
                           : json_object_get(json_object_get(resp, "get_maintenance_schedule"), "schedule");
  json_t *empty = json_object();
  if (!body) body = empty;
  if (c.json) mz_cli_print_json(body);
  else if (is_status) print_status(body);
  else print_schedule(body);
  json_decref(empty);
  json_decref(resp);
  return 0;
}

static int machines_cmd(int argc, char **argv, const char *sub) {
  const char *ip = NULL;
  const mz_flag extra[] = {{"ip", MZ_FLAG_STRING, &ip, "the machine's ip besides its hostname"}};
  char prog[64];
  snprintf(prog, sizeof prog, "mezzo maintenance %s", sub);
  mz_cli_ctx c;
  int rc = mz_cli_ops_parse(&c, prog, extra, 1, argc, argv, 1, 1, mz_cli_maintenance_usage);
  if (rc >= 0) return rc;
  const char *name = c.args[0];
  struct in_addr tmp;
  json_t *id = json_object();
  if (inet_pton(AF_INET, name, &tmp) == 1 && !ip) {
    json_object_set_new(id, "ip", json_string(name));
  } else {
    json_object_set_new(id, "hostname", json_string(name));
    if (ip) json_object_set_new(id, "ip", json_string(ip));
  }
  bool down = !strcmp(sub, "down");
  json_t *call = json_pack("{s:s,s:{s:[o]}}", "type", down ? "START_MAINTENANCE" : "STOP_MAINTENANCE",
                           down ? "start_maintenance" : "stop_maintenance", "machines", id);
  rc = mz_cli_api(&c, call, NULL);
  json_decref(call);
  if (rc == 0) printf("%s: machine %s is %s\n", prog, name, down ? "DOWN" : "UP");
  return rc;
}

int mz_cli_maintenance(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    mz_cli_maintenance_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? MZ_CLI_EXIT_USAGE : MZ_CLI_EXIT_OK;
  }
  const char *sub = argv[1];
  if (!strcmp(sub, "schedule") || !strcmp(sub, "status")) return schedule_or_status(argc - 1, argv + 1, sub);
  if (!strcmp(sub, "down") || !strcmp(sub, "up")) return machines_cmd(argc - 1, argv + 1, sub);
  const char *type = !strcmp(sub, "drain")        ? "DRAIN_AGENT"
                     : !strcmp(sub, "deactivate") ? "DEACTIVATE_AGENT"
                     : !strcmp(sub, "reactivate") ? "REACTIVATE_AGENT"
                     : !strcmp(sub, "gone")       ? "MARK_AGENT_GONE"
                                                  : NULL;
  if (!type) {
    fprintf(stderr,
            "mezzo maintenance: unknown subcommand '%s' (drain, deactivate, reactivate, gone, schedule, status, down, "
            "up)\n",
            sub);
    return MZ_CLI_EXIT_USAGE;
  }
  double grace = -1;
  int mark_gone = 0;
  const mz_flag extra[] = {
      {"grace", MZ_FLAG_DURATION, &grace, "drain: kill grace period"},
      {"mark_gone", MZ_FLAG_BOOL, &mark_gone, "drain: mark the agent gone once drained"},
  };
  char prog[64];
  snprintf(prog, sizeof prog, "mezzo maintenance %s", sub);
  mz_cli_ctx c;
  int rc = mz_cli_ops_parse(&c, prog, extra, 2, argc - 1, argv + 1, 1, 1, mz_cli_maintenance_usage);
  if (rc >= 0) return rc;
  if (strcmp(sub, "drain") != 0 && (grace >= 0 || mark_gone)) {
    fprintf(stderr, "%s: --grace and --mark_gone apply to drain only\n", prog);
    return MZ_CLI_EXIT_USAGE;
  }
  json_t *call = json_object();
  json_object_set_new(call, "type", json_string(type));
  json_t *body = json_object();
  json_t *aid = json_object();
  json_object_set_new(aid, "value", json_string(c.args[0]));
  json_object_set_new(body, "agent_id", aid);
  if (grace >= 0) {
    json_t *d = json_object();
    json_object_set_new(d, "seconds", json_integer((json_int_t)grace));
    json_object_set_new(d, "nanos", json_integer((json_int_t)((grace - (double)(long long)grace) * 1e9)));
    json_object_set_new(body, "max_grace_period", d);
  }
  if (mark_gone) json_object_set_new(body, "mark_gone", json_true());
  char key[32];
  snprintf(key, sizeof key, "%s", type);
  for (char *p = key; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
  json_object_set_new(call, key, body);
  rc = mz_cli_api(&c, call, NULL);
  json_decref(call);
  if (rc == 0) printf("%s: done\n", prog);
  return rc;
}
