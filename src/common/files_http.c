/* files_http: see files_http.h. */
#include "common/files_http.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/util.h"

#define FILES_MAX_READ (1024 * 1024) /* bytes per /files/read */
#define FILES_DEFAULT_READ (64 * 1024)

/* The path a listing shows: the requested path as asked (not resolved, as Mesos shows it),
 * without trailing slashes, then "/" name when name is not NULL (into out, n bytes). */
static void entry_path(const char *requested, const char *name, char *out, size_t n) {
  size_t len = strlen(requested);
  while (len > 1 && requested[len - 1] == '/') len--;
  if (name)
    snprintf(out, n, "%.*s/%s", (int)len, requested, name);
  else
    snprintf(out, n, "%.*s", (int)len, requested);
}

int mz_files_list(const mz_files_ops *ops, const char *path,
                  void (*each)(const char *shown, const struct stat *sb, void *arg), void *arg, char *err,
                  size_t errlen) {
  char real[PATH_MAX], shown[PATH_MAX + 256];
  int st = ops->resolve(ops->arg, path, real, err, errlen);
  if (st) return st;
  struct stat sb;
  if (stat(real, &sb) != 0) {
    snprintf(err, errlen, "No such file or directory");
    return 404;
  }
  if (!S_ISDIR(sb.st_mode)) {
    entry_path(path, NULL, shown, sizeof shown);
    each(shown, &sb, arg);
    return 0;
  }
  DIR *d = opendir(real);
  if (!d) {
    snprintf(err, errlen, "Cannot open the directory: %s", strerror(errno));
    return 403;
  }
  struct dirent *e;
  size_t n = 0;
  while ((e = readdir(d)) && n < MZ_FILES_MAX_ENTRIES) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[PATH_MAX + 256];
    snprintf(p, sizeof p, "%s/%s", real, e->d_name);
    struct stat esb;
    if (lstat(p, &esb) != 0) continue;
    entry_path(path, e->d_name, shown, sizeof shown);
    each(shown, &esb, arg);
    n++;
  }
  closedir(d);
  return 0;
}

/* Resolves the request's path into real (PATH_MAX); replies and returns -1 when refused. */
static int confined_path(const mz_files_ops *ops, mz_http_req *r, char *real) {
  char path[PATH_MAX];
  if (mz_http_query_get(mz_http_req_query(r), "path", path, sizeof path) != 0 || !path[0]) {
    mz_http_reply_error(r, 400, "Expecting 'path' in the query");
    return -1;
  }
  char err[700];
  int st = ops->resolve(ops->arg, path, real, err, sizeof err);
  if (st != 0) {
    mz_http_reply_error(r, st, "%s", err);
    return -1;
  }
  return 0;
}

static json_t *entry_json(const char *path, const struct stat *sb) {
  json_t *j = json_object();
  char mode[11];
  mode[0] = S_ISDIR(sb->st_mode) ? 'd' : S_ISLNK(sb->st_mode) ? 'l' : '-';
  const char *rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; i++) mode[1 + i] = (sb->st_mode & (1 << (8 - i))) ? rwx[i] : '-';
  mode[10] = '\0';
  json_object_set_new(j, "path", json_string(path));
  json_object_set_new(j, "nlink", json_integer((json_int_t)sb->st_nlink));
  json_object_set_new(j, "size", json_integer((json_int_t)sb->st_size));
  json_object_set_new(j, "mtime", json_integer((json_int_t)sb->st_mtime));
  json_object_set_new(j, "mode", json_string(mode));
  struct passwd *pw = getpwuid(sb->st_uid);
  struct group *gr = getgrgid(sb->st_gid);
  char num[32];
  snprintf(num, sizeof num, "%u", (unsigned)sb->st_uid);
  json_object_set_new(j, "uid", json_string(pw ? pw->pw_name : num));
  snprintf(num, sizeof num, "%u", (unsigned)sb->st_gid);
  json_object_set_new(j, "gid", json_string(gr ? gr->gr_name : num));
  return j;
}

static void browse_entry(const char *shown, const struct stat *sb, void *arr) {
  json_array_append_new(arr, entry_json(shown, sb));
}

static void handle_browse(mz_http_req *r, void *arg) {
  const mz_files_ops *ops = arg;
  if (!mz_http_only_get(r)) return;
  char path[PATH_MAX], err[700];
  if (mz_http_query_get(mz_http_req_query(r), "path", path, sizeof path) != 0 || !path[0]) {
    mz_http_reply_error(r, 400, "Expecting 'path' in the query");
    return;
  }
  json_t *arr = json_array();
  int st = mz_files_list(ops, path, browse_entry, arr, err, sizeof err);
  if (st) {
    json_decref(arr);
    mz_http_reply_error(r, st, "%s", err);
    return;
  }
  mz_http_reply_jsonp(r, arr);
}

static int query_long(mz_http_req *r, const char *key, long long def, long long *out) {
  char buf[32];
  if (mz_http_query_get(mz_http_req_query(r), key, buf, sizeof buf) != 0 || !buf[0]) {
    *out = def;
    return 0;
  }
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

/* Opens the file the request's path names, confined (the real path into real, PATH_MAX);
 * -1 when refused or missing, replied. */
static int open_confined(const mz_files_ops *ops, mz_http_req *r, char *real, struct stat *sb) {
  if (confined_path(ops, r, real) != 0) return -1;
  int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 || fstat(fd, sb) != 0) {
    if (fd >= 0) close(fd);
    mz_http_reply_error(r, 404, "No such file");
    return -1;
  }
  return fd;
}

static void handle_read(mz_http_req *r, void *arg) {
  const mz_files_ops *ops = arg;
  if (!mz_http_only_get(r)) return;
  long long offset, length;
  if (query_long(r, "offset", -1, &offset) != 0 || query_long(r, "length", FILES_DEFAULT_READ, &length) != 0 ||
      offset < -1 || length < 0) {
    mz_http_reply_error(r, 400, "Failed to parse 'offset' or 'length' (integers; offset >= -1, length >= 0)");
    return;
  }
  char real[PATH_MAX];
  struct stat sb;
  int fd = open_confined(ops, r, real, &sb);
  if (fd < 0) return;
  if (S_ISDIR(sb.st_mode)) {
    close(fd);
    mz_http_reply_error(r, 400, "Cannot read a directory");
    return;
  }
  json_t *j = json_object();
  if (offset == -1) {
    json_object_set_new(j, "data", json_string(""));
    json_object_set_new(j, "offset", json_integer((json_int_t)sb.st_size));
    close(fd);
    mz_http_reply_jsonp(r, j);
    return;
  }
  if (length > FILES_MAX_READ) length = FILES_MAX_READ;
  char *buf = mz_malloc((size_t)length + 1);
  ssize_t got = length > 0 ? pread(fd, buf, (size_t)length, (off_t)offset) : 0;
  close(fd);
  if (got < 0) got = 0;
  json_t *data = json_stringn(buf, (size_t)got);
  if (!data) { /* not UTF-8: bytes outside ASCII are shown as '?' */
    for (ssize_t i = 0; i < got; i++)
      if ((unsigned char)buf[i] >= 0x80) buf[i] = '?';
    data = json_stringn(buf, (size_t)got);
  }
  json_object_set_new(j, "data", data ? data : json_string(""));
  json_object_set_new(j, "offset", json_integer((json_int_t)offset));
  free(buf);
  mz_http_reply_jsonp(r, j);
}

/* The Content-Type of a download, by the file's extension (Mesos's table), else
 * application/octet-stream. */
static const char *download_type(const char *name) {
  static const char *const types[][2] = {
      {".txt", "text/plain"},      {".html", "text/html"},        {".htm", "text/html"},
      {".css", "text/css"},        {".xml", "text/xml"},          {".py", "text/x-python"},
      {".sh", "application/x-sh"}, {".js", "application/x-javascript"}, {".pdf", "application/pdf"},
      {".zip", "application/zip"}, {".tar", "application/x-tar"}, {".png", "image/png"},
      {".gif", "image/gif"},       {".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"},
  };
  const char *dot = strrchr(name, '.');
  if (dot && dot != name)
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (!strcmp(dot, types[i][0])) return types[i][1];
  return "application/octet-stream";
}

static void handle_download(mz_http_req *r, void *arg) {
  const mz_files_ops *ops = arg;
  if (!mz_http_only_get(r)) return;
  char real[PATH_MAX];
  struct stat sb;
  int fd = open_confined(ops, r, real, &sb);
  if (fd < 0) return;
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    mz_http_reply_error(r, 400, S_ISDIR(sb.st_mode) ? "Cannot download a directory" : "Not a regular file");
    return;
  }
  const char *base = strrchr(real, '/');
  base = base ? base + 1 : real;
  char disposition[PATH_MAX + 32];
  snprintf(disposition, sizeof disposition, "attachment; filename=%s", base);
  mz_http_req_add_header(r, "Content-Disposition", disposition);
  /* The size when asked: a file still being written is sent as it was then. */
  mz_http_reply_file(r, 200, download_type(base), fd, sb.st_size);
}

static void handle_debug(mz_http_req *r, void *arg) {
  const mz_files_ops *ops = arg;
  if (mz_http_only_get(r)) mz_http_reply_jsonp(r, ops->debug ? ops->debug(ops->arg) : json_object());
}

void mz_files_routes(mz_http_server *s, const mz_files_ops *ops) {
  void *arg = (void *)ops; /* the handlers only read it */
  mz_http_server_route(s, "/files/browse", 0, handle_browse, arg);
  mz_http_server_route(s, "/files/browse.json", 0, handle_browse, arg);
  mz_http_server_route(s, "/files/read", 0, handle_read, arg);
  mz_http_server_route(s, "/files/read.json", 0, handle_read, arg);
  mz_http_server_route(s, "/files/download", 0, handle_download, arg);
  mz_http_server_route(s, "/files/download.json", 0, handle_download, arg);
  mz_http_server_route(s, "/files/debug", 0, handle_debug, arg);
  mz_http_server_route(s, "/files/debug.json", 0, handle_debug, arg);
}
