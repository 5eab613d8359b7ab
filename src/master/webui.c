/* webui: see webui.h. */
#include "master/webui.h"

#include <string.h>

#define WEBUI_MAX_PATH 512

const mz_webui_asset *mz_webui_find(const char *path) {
  for (const mz_webui_asset *a = mz_webui_assets; a->path; a++)
    if (!strcmp(a->path, path)) return a;
  return NULL;
}

static const char *content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
               {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
               {".png", "image/png"},                 {".ico", "image/x-icon"},
               {".json", "application/json"},        {".txt", "text/plain; charset=utf-8"}};
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(dot, types[i].ext)) return types[i].type;
  return "application/octet-stream";
}

static void serve(mz_http_req *req, const char *path) {
  const char *meth = mz_http_req_method(req);
  if (strcmp(meth, "GET") && strcmp(meth, "HEAD")) {
    mz_http_req_add_header(req, "Allow", "GET");
    mz_http_reply_error(req, 405, "Expecting 'GET', received '%s'", meth);
    return;
  }
  const mz_webui_asset *a = strlen(path) < WEBUI_MAX_PATH ? mz_webui_find(path) : NULL;
  if (!a) {
    mz_http_reply_error(req, 404, "No such file in the web UI: %.200s", path);
    return;
  }
  /* The UI is rebuilt with the master: let browsers revalidate on each load. */
  mz_http_req_add_header(req, "Cache-Control", "no-cache");
  mz_http_req_add_header(req, "X-Content-Type-Options", "nosniff");
  mz_http_reply(req, 200, content_type(a->path), a->data, a->size);
}

static void handle_index(mz_http_req *req, void *arg) { serve(req, "/index.html"); }

static void handle_static(mz_http_req *req, void *arg) { serve(req, mz_http_req_path(req)); }

void mz_webui_route(mz_master *m) {
  mz_http_server_route(m->http, "/", 0, handle_index, m);
  mz_http_server_route(m->http, "/index.html", 0, handle_index, m);
  mz_http_server_route(m->http, "/static/", MZ_HTTP_ROUTE_PREFIX, handle_static, m);
}
