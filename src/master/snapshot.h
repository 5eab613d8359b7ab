/* snapshot: serving a large read-only document (/master/state) from a forked,
 * copy-on-write snapshot of the master, so that building and writing tens of
 * megabytes of JSON never blocks the event loop: the child closes every other
 * descriptor, builds the document from its frozen copy of the state, writes
 * the HTTP reply on the request's socket and exits; the master forgets the
 * connection at once and goes on serving (/health stays fast). At most
 * MZ_SNAPSHOT_MAX_CHILDREN run at once; past that (or if fork fails) the
 * document is built in the loop as before. */
#ifndef MZ_MASTER_SNAPSHOT_H
#define MZ_MASTER_SNAPSHOT_H

#include <jansson.h>

#include "master/master.h"

#define MZ_SNAPSHOT_MAX_CHILDREN 4

/* Replies to req with the JSON object build(m) returns (200, application/json). */
void mz_snapshot_reply_json(mz_master *m, mz_http_req *req, json_t *(*build)(const mz_master *m));

#endif
