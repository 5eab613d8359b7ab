/* webui: the web UI's files (webui/ in the source tree), embedded into the
 * master at build time (cmake/webui.cmake generates mz_webui_assets[]) and
 * served read-only: GET / is webui/index.html, GET /static/<file> is
 * webui/static/<file>, with a Content-Type from the extension. The assets are
 * static const data; nothing is allocated. */
#ifndef MZ_MASTER_WEBUI_H
#define MZ_MASTER_WEBUI_H

#include <stddef.h>

#include "master/master.h"

typedef struct {
  const char *path; /* "/index.html", "/static/app.js"; NULL ends the table */
  const unsigned char *data;
  size_t size;
} mz_webui_asset;

extern const mz_webui_asset mz_webui_assets[];

/* The asset at path (exact match), or NULL. */
const mz_webui_asset *mz_webui_find(const char *path);
/* Registers GET / and /static/ (prefix). */
void mz_webui_route(mz_master *m);

#endif
