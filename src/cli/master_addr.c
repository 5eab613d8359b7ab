/* master_addr: parsing of the --master flag shared by every mezzo command.
 * A zk://host:port,.../path master is resolved to the leading master's address
 * through ZooKeeper (waiting up to MZ_CLI_ZK_TIMEOUT seconds for one). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"
#include "common/zk_detector.h"

#define MZ_CLI_ZK_TIMEOUT 15.0

int mz_cli_parse_master(const char *text, char *host, size_t hostlen, int *port, char *err, size_t errlen) {
  if (!text || !*text) {
    snprintf(err, errlen, "flag --master is required (HOST:PORT, or MEZZO_MASTER in the environment)");
    return -1;
  }
  if (mz_zk_is_url(text)) {
    char zerr[512];
    if (mz_zk_detect_leader(text, MZ_CLI_ZK_TIMEOUT, host, hostlen, port, zerr, sizeof zerr) != 0) {
      snprintf(err, errlen, "flag --master: %s", zerr);
      return -1;
    }
    return 0;
  }
  const char *p = text;
  if (!strncmp(p, "http://", 7)) p += 7;
  size_t len = strlen(p);
  while (len && p[len - 1] == '/') len--;
  char buf[MZ_CLI_HOST_MAX + 16];
  if (len == 0 || len >= sizeof buf) goto bad;
  memcpy(buf, p, len);
  buf[len] = 0;
  char *colon = strrchr(buf, ':');
  if (!colon || colon == buf || strchr(buf, '/')) goto bad;
  *colon = 0;
  char *end;
  errno = 0;
  long v = strtol(colon + 1, &end, 10);
  if (errno || end == colon + 1 || *end || v <= 0 || v > 65535) goto bad;
  if (mz_strlcpy(host, buf, hostlen) < 0) goto bad;
  *port = (int)v;
  return 0;
bad:
  snprintf(err, errlen, "flag --master: expected HOST:PORT, got '%s'", text);
  return -1;
}
