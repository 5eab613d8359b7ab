/* cli: shared pieces of the `mezzo` command line: one entry point per
 * command (each in its own file), the master address parser and the usage
 * texts. Nothing here owns memory beyond a call. Commands return the process
 * exit status: 0 success, 1 failure at run time, 2 bad usage. */
#ifndef MZ_CLI_H
#define MZ_CLI_H

#include <stddef.h>
#include <stdio.h>

#define MZ_CLI_EXIT_OK 0
#define MZ_CLI_EXIT_FAIL 1
#define MZ_CLI_EXIT_USAGE 2
#define MZ_CLI_HOST_MAX 256

/* argv[0] is the command name ("execute"); flags follow. */
int mz_cli_execute(int argc, char **argv);
int mz_cli_state(int argc, char **argv);

void mz_cli_execute_usage(FILE *out);
void mz_cli_state_usage(FILE *out);

/* "HOST:PORT" (an "http://" prefix and a trailing "/" allowed) -> host, port.
 * 0, or -1 with a message naming --master in err. */
int mz_cli_parse_master(const char *text, char *host, size_t hostlen, int *port, char *err, size_t errlen);

#endif
