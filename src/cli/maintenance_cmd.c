/* maintenance_cmd: `mezzo maintenance drain AGENT [--grace=DURATION] [--mark_gone]`,
 * `mezzo maintenance deactivate|reactivate|gone AGENT`: the operator API's
 * DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT and MARK_AGENT_GONE. The
 * master checks the agent id; errors print its message and exit non-zero. */
#include <stdlib.h>
#include <string.h>

#include "cli/ops.h"

void mz_cli_maintenance_usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo maintenance drain AGENT [--grace=DURATION] [--mark_gone] [--master=HOST:PORT]\n"
          "       mezzo maintenance deactivate|reactivate|gone AGENT [--master=HOST:PORT]\n"
          "\n"
          "drain       no new offers on the agent; its tasks are killed (with --grace as their kill\n"
          "            grace period), it is DRAINED once none is left (then gone with --mark_gone)\n"
          "deactivate  no new offers on the agent; its tasks keep running\n"
          "reactivate  ends a drain or a deactivation\n"
          "gone        the agent is removed for good: its tasks end TASK_GONE_BY_OPERATOR\n"
          "\n"
          "  --master=HOST:PORT      the master (or MEZZO_MASTER)\n"
          "  --grace=DURATION        drain: kill grace period, e.g. 30secs\n"
          "  --mark_gone             drain: mark the agent gone once drained\n");
}

int mz_cli_maintenance(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    mz_cli_maintenance_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? MZ_CLI_EXIT_USAGE : MZ_CLI_EXIT_OK;
  }
  const char *sub = argv[1];
  const char *type = !strcmp(sub, "drain")        ? "DRAIN_AGENT"
                     : !strcmp(sub, "deactivate") ? "DEACTIVATE_AGENT"
                     : !strcmp(sub, "reactivate") ? "REACTIVATE_AGENT"
                     : !strcmp(sub, "gone")       ? "MARK_AGENT_GONE"
                                                  : NULL;
  if (!type) {
    fprintf(stderr, "mezzo maintenance: unknown subcommand '%s' (drain, deactivate, reactivate, gone)\n", sub);
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
