/* files_http: Mesos's /files endpoints over the files a daemon serves (the agent: its
 * sandboxes and its log; the master: its log). The daemon's resolver maps a requested
 * path to a real one or refuses it; the rest is here:
 *   GET /files/browse?path=P         [{path, nlink, size, mtime, mode, uid, gid}]: the entries
 *                                    of a directory (or the file itself), shown under P as asked
 *   GET /files/read?path=P&offset=O&length=L  {"data": ..., "offset": O} (offset -1: the size)
 *   GET /files/download?path=P       the file's bytes, as an attachment named after it
 *   GET /files/debug                 {served path: real path}, from the daemon
 * and their .json forms; JSON replies honour ?jsonp=. */
#ifndef MZ_COMMON_FILES_HTTP_H
#define MZ_COMMON_FILES_HTTP_H

#include <stddef.h>

#include "common/http.h"

struct json_t;
struct stat;

#define MZ_FILES_MAX_ENTRIES 10000 /* entries one listing gives at most */

typedef struct {
  /* path as asked -> real (PATH_MAX bytes): 0, or an HTTP status (400 bad path, 403 refused,
   * 404 missing) with err. */
  int (*resolve)(void *arg, const char *path, char *real, char *err, size_t errlen);
  struct json_t *(*debug)(void *arg); /* {served path: real path} (new reference) */
  void *arg;
} mz_files_ops;

/* Routes the endpoints to ops, which must outlive the server. */
void mz_files_routes(mz_http_server *s, const mz_files_ops *ops);
/* Lists path as ops resolves it: each(shown, stat, arg) for the file itself, or for each entry
 * of the directory (lstat; at most MZ_FILES_MAX_ENTRIES), shown under the path as asked, not
 * as resolved (as Mesos shows it). 0, or an HTTP status with err. */
int mz_files_list(const mz_files_ops *ops, const char *path,
                  void (*each)(const char *shown, const struct stat *sb, void *arg), void *arg, char *err,
                  size_t errlen);

#endif
