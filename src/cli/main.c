/* main: the `mezzo` command line. Dispatches to one command per file
 * (execute.c, state.c, agent_cmd.c, framework_cmd.c, task_cmd.c, role_cmd.c); `mezzo --help`, `mezzo help [COMMAND]` and
 * `mezzo COMMAND --help` print usage. Exit status: 0 success, 1 failure,
 * 2 bad usage. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/ops.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo COMMAND [flags]\n"
          "\n"
          "Commands:\n"
          "  execute   run a command as one or more tasks on the cluster and wait for them\n"
          "  state     show the cluster: agents, frameworks and tasks (from /master/state)\n"
          "  agent     list|show the agents\n"
          "  framework list|show|teardown the frameworks\n"
          "  task      list|show|log [--follow] the tasks\n"
          "  role      list the roles with weights, allocations and quota\n"
          "  quota     get|set the quota of roles\n"
          "  maintenance drain|deactivate|reactivate|gone AGENT\n"
          "  maintenance schedule|status|down|up [MACHINE]\n"
          "  help      show this help, or `mezzo help COMMAND` for a command's flags\n"
          "\n"
          "Every flag can also be set in the environment as MEZZO_<FLAG>, e.g. MEZZO_MASTER=127.0.0.1:5050.\n");
}

static int command_help(const char *cmd, FILE *out) {
  if (!strcmp(cmd, "execute")) {
    mz_cli_execute_usage(out);
  } else if (!strcmp(cmd, "state")) {
    mz_cli_state_usage(out);
  } else if (!strcmp(cmd, "agent")) {
    mz_cli_agent_usage(out);
  } else if (!strcmp(cmd, "framework")) {
    mz_cli_framework_usage(out);
  } else if (!strcmp(cmd, "task")) {
    mz_cli_task_usage(out);
  } else if (!strcmp(cmd, "role")) {
    mz_cli_role_usage(out);
  } else if (!strcmp(cmd, "maintenance")) {
    mz_cli_maintenance_usage(out);
  } else if (!strcmp(cmd, "quota")) {
    mz_cli_quota_usage(out);
  } else if (!strcmp(cmd, "help")) {
    usage(out);
  } else {
    fprintf(stderr, "mezzo: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return MZ_CLI_EXIT_USAGE;
  }
  return MZ_CLI_EXIT_OK;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return MZ_CLI_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return MZ_CLI_EXIT_OK;
  }
  if (!strcmp(cmd, "help")) {
    if (argc < 3) {
      usage(stdout);
      return MZ_CLI_EXIT_OK;
    }
    return command_help(argv[2], stdout);
  }
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return command_help(cmd, stdout);
  }
  if (!strcmp(cmd, "execute")) return mz_cli_execute(argc - 1, argv + 1);
  if (!strcmp(cmd, "state")) return mz_cli_state(argc - 1, argv + 1);
  if (!strcmp(cmd, "agent")) return mz_cli_agent(argc - 1, argv + 1);
  if (!strcmp(cmd, "framework")) return mz_cli_framework(argc - 1, argv + 1);
  if (!strcmp(cmd, "task")) return mz_cli_task(argc - 1, argv + 1);
  if (!strcmp(cmd, "role")) return mz_cli_role(argc - 1, argv + 1);
  if (!strcmp(cmd, "quota")) return mz_cli_quota(argc - 1, argv + 1);
  if (!strcmp(cmd, "maintenance")) return mz_cli_maintenance(argc - 1, argv + 1);
  if (cmd[0] == '-')
    fprintf(stderr, "mezzo: expected a command before the flags (got '%s')\n\n", cmd);
  else
    fprintf(stderr, "mezzo: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return MZ_CLI_EXIT_USAGE;
}
