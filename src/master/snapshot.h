/* snapshot: serving a large read-only document (/master/state) from a forked,
 * copy-on-write snapshot of the master, so that building and writing tens of
 * megabytes of JSON never blocks the event loop: the child closes every other
 * descriptor, writes the document from its frozen copy of the state straight
 * to the request's socket as it is produced (a streaming JSON writer, chunked
 * transfer encoding: no tree, no whole-document buffer) and exits; the master forgets the
 * connection at once and goes on serving (/health stays fast). At most
 * MZ_SNAPSHOT_MAX_CHILDREN run at once; past that (or if fork fails) the
 * document is built in the loop as before. */
#ifndef MZ_MASTER_SNAPSHOT_H
#define MZ_MASTER_SNAPSHOT_H

#include "common/jsonw.h"
#include "master/master.h"

#define MZ_SNAPSHOT_MAX_CHILDREN 4
#define MZ_SNAPSHOT_CHUNK (256u << 10) /* bytes per HTTP chunk the child writes */
#define MZ_SNAPSHOT_NICE 5             /* the child's nice value: the master's loop goes first */

/* Writes the document (one JSON value) for m. */
typedef void (*mz_snapshot_writer)(const mz_master *m, mz_jw *w);

/* Replies to req with the document write produces (200, application/json). */
void mz_snapshot_reply(mz_master *m, mz_http_req *req, mz_snapshot_writer write);

#endif
