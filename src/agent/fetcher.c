/* fetcher: see fetcher.h. One URI at a time: source -> (cache ->) sandbox file ->
 * executable bit or extraction. Progress lines go to stderr (the sandbox's stderr
 * file, since this runs in the container's child). */
#include "agent/fetcher.h"
#include "agent/fetch_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>

#define FETCH_CONNECT_TIMEOUT 30L
#define FETCH_LOW_SPEED_TIME 60L /* abort a transfer slower than 1 byte/s for this long (Mesos's
                                  * --fetcher_stall_timeout default) unless the request says */
#define FETCH_MAX_NAME 255

/* Copies what fd `in` holds (named `from` in errors) to the file `to`; closes in. */
static int copy_fd(int in, const char *from, const char *to, char *err, size_t errlen) {
  struct stat sb;
  if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    snprintf(err, errlen, "%s is not a regular file", from);
    close(in);
    return -1;
  }
  int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    snprintf(err, errlen, "create %s: %s", to, strerror(errno));
    close(in);
    return -1;
  }
  char buf[65536];
  int rc = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0 || write(out, buf, (size_t)n) != n) {
      snprintf(err, errlen, "copy %s to %s: %s", from, to, strerror(errno));
      rc = -1;
      break;
    }
  }
  close(in);
  if (close(out) != 0 && rc == 0) {
    snprintf(err, errlen, "write %s: %s", to, strerror(errno));
    rc = -1;
  }
  return rc;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    snprintf(err, errlen, "open %s: %s", from, strerror(errno));
    return -1;
  }
  return copy_fd(in, from, to, err, errlen);
}

static int is_remote(const char *uri) {
  return !strncmp(uri, "http://", 7) || !strncmp(uri, "https://", 8) || !strncmp(uri, "ftp://", 6) ||
         !strncmp(uri, "ftps://", 7);
}

/* ctx: the mz_fetch_request (its stall timeout). */
static int download(void *ctx, const char *uri, const char *to, char *err, size_t errlen) {
  const mz_fetch_request *req = ctx;
  long stall = req->stall_timeout > 0 ? (long)ceil(req->stall_timeout) : FETCH_LOW_SPEED_TIME;
  FILE *f = fopen(to, "we");
  if (!f) {
    snprintf(err, errlen, "create %s: %s", to, strerror(errno));
    return -1;
  }
  CURL *c = curl_easy_init();
  if (!c) {
    fclose(f);
    snprintf(err, errlen, "cannot start libcurl");
    return -1;
  }
  char cerr[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, uri);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, FETCH_CONNECT_TIMEOUT);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  int bad = fclose(f) != 0;
  if (rc != CURLE_OK) {
    snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
    unlink(to);
    return -1;
  }
  if (bad) {
    snprintf(err, errlen, "write %s: %s", to, strerror(errno));
    return -1;
  }
  return 0;
}

/* The file name a URI gets in the sandbox: output_file, else the last path segment. */
static int target_name(const Mesos__V1__CommandInfo__URI *u, char *out, size_t len, char *err, size_t errlen) {
  if (u->output_file && *u->output_file) {
    const char *o = u->output_file;
    if (o[0] == '/' || !strcmp(o, "..") || !strncmp(o, "../", 3) || strstr(o, "/../") ||
        (strlen(o) >= 3 && !strcmp(o + strlen(o) - 3, "/.."))) {
      snprintf(err, errlen, "output_file '%s' must be a relative path inside the sandbox", o);
      return -1;
    }
    snprintf(out, len, "%s", o);
    return 0;
  }
  const char *v = u->value;
  const char *scheme = strstr(v, "://");
  const char *path = scheme ? strchr(scheme + 3, '/') : v;
  if (!path) path = "";
  size_t plen = strcspn(path, "?#");
  while (plen > 0 && path[plen - 1] == '/') plen--;
  size_t start = plen;
  while (start > 0 && path[start - 1] != '/') start--;
  size_t n = plen - start;
  if (n == 0 || n > FETCH_MAX_NAME || (n == 2 && !strncmp(path + start, "..", 2)) ||
      (n == 1 && path[start] == '.')) {
    snprintf(err, errlen, "cannot name the file (give output_file)");
    return -1;
  }
  snprintf(out, len, "%.*s", (int)n, path + start);
  return 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcasecmp(s + a - b, suffix);
}

static int is_archive(const char *name) {
  static const char *const ext[] = {".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip"};
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
    if (ends_with(name, ext[i])) return 1;
  return 0;
}

static int extract(const char *file, char *err, size_t errlen) {
  struct archive *in = archive_read_new();
  struct archive *out = archive_write_disk_new();
  archive_read_support_format_all(in);
  archive_read_support_filter_all(in);
  archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  archive_write_disk_set_standard_lookup(out);
  int rc = -1;
  if (archive_read_open_filename(in, file, 65536) != ARCHIVE_OK) {
    snprintf(err, errlen, "cannot open the archive: %s", archive_error_string(in));
    goto out;
  }
  for (;;) {
    struct archive_entry *e;
    int r = archive_read_next_header(in, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      snprintf(err, errlen, "cannot read the archive: %s", archive_error_string(in));
      goto out;
    }
    /* Entries land in the working directory, which is the sandbox (relative paths only). */
    const char *orig = archive_entry_pathname(e);
    char name[4096];
    snprintf(name, sizeof name, "%s", orig ? orig : "");
    if (archive_write_header(out, e) < ARCHIVE_WARN) {
      snprintf(err, errlen, "cannot extract '%s': %s", name, archive_error_string(out));
      goto out;
    }
    const void *buf;
    size_t size;
    la_int64_t off;
    while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK) {
      if (archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN) {
        snprintf(err, errlen, "cannot write '%s': %s", name, archive_error_string(out));
        goto out;
      }
    }
    if (r < ARCHIVE_WARN && r != ARCHIVE_EOF) {
      snprintf(err, errlen, "cannot read '%s': %s", name, archive_error_string(in));
      goto out;
    }
    archive_write_finish_entry(out);
  }
  rc = 0;
out:
  archive_read_free(in);
  archive_write_free(out);
  return rc;
}

static int fetch_one(const mz_fetch_request *req, const Mesos__V1__CommandInfo__URI *u, char *err, size_t errlen) {
  char name[FETCH_MAX_NAME + 1024], dest[4600];
  if (!u->value || !*u->value) {
    snprintf(err, errlen, "empty URI");
    return -1;
  }
  if (target_name(u, name, sizeof name, err, errlen) != 0) return -1;
  snprintf(dest, sizeof dest, "%s/%s", req->sandbox, name);
  /* output_file may name a subdirectory */
  for (char *p = dest + strlen(req->sandbox) + 1; (p = strchr(p, '/')); p++) {
    *p = '\0';
    mkdir(dest, 0755);
    *p = '/';
  }
  fprintf(stderr, "mezzo-fetcher: fetching '%s' to '%s'\n", u->value, dest);
  const char *v = u->value;
  if (is_remote(v)) {
    int fd = -2, cached = 0;
    if (u->has_cache && u->cache && req->cache_dir && *req->cache_dir) {
      fd = mz_fetch_cache_open(req->cache_root, req->cache_dir, req->cache_size, v, download, (void *)req, &cached,
                               err, errlen);
      if (fd == -1) return -1;
      if (fd == -2) fprintf(stderr, "mezzo-fetcher: fetching without the cache: %s\n", err);
    }
    if (fd >= 0 ? copy_fd(fd, cached ? "the cached copy" : "the download", dest, err, errlen) != 0
                : download((void *)req, v, dest, err, errlen) != 0)
      return -1;
  } else {
    const char *path = !strncmp(v, "file://", 7) ? v + 7 : v;
    if (path[0] != '/') {
      snprintf(err, errlen, "a local URI must be an absolute path (or file:///path)");
      return -1;
    }
    if (strstr(v, "://") && strncmp(v, "file://", 7) != 0) {
      snprintf(err, errlen, "unsupported scheme");
      return -1;
    }
    if (copy_file(path, dest, err, errlen) != 0) return -1;
  }
  int executable = u->has_executable && u->executable;
  int do_extract = !u->has_extract || u->extract;
  if (executable) {
    if (chmod(dest, 0755) != 0) {
      snprintf(err, errlen, "chmod %s: %s", dest, strerror(errno));
      return -1;
    }
  } else if (do_extract && is_archive(name)) {
    fprintf(stderr, "mezzo-fetcher: extracting '%s' into '%s'\n", dest, req->sandbox);
    if (extract(dest, err, errlen) != 0) return -1;
  }
  return 0;
}

int mz_fetch_wants_cache(const mz_fetch_request *req) {
  for (size_t c = 0; c <= req->nmore; c++) {
    const Mesos__V1__CommandInfo *cmd = c == 0 ? req->cmd : req->more[c - 1];
    for (size_t i = 0; cmd && i < cmd->n_uris; i++)
      if (cmd->uris[i]->has_cache && cmd->uris[i]->cache) return 1;
  }
  return 0;
}

int mz_fetch_prepare(void *arg, char *err, size_t errlen) {
  const mz_fetch_request *req = arg;
  size_t n = 0;
  for (size_t c = 0; c <= req->nmore; c++) {
    const Mesos__V1__CommandInfo *cmd = c == 0 ? req->cmd : req->more[c - 1];
    for (size_t i = 0; cmd && i < cmd->n_uris; i++, n++) {
      const Mesos__V1__CommandInfo__URI *u = cmd->uris[i];
      char why[1024] = "";
      if (fetch_one(req, u, why, sizeof why) != 0) {
        snprintf(err, errlen, "Failed to fetch '%s': %s", u->value ? u->value : "", why);
        fprintf(stderr, "mezzo-fetcher: %s\n", err);
        return -1;
      }
    }
  }
  fprintf(stderr, "mezzo-fetcher: fetched %zu URI%s\n", n, n == 1 ? "" : "s");
  return 0;
}
