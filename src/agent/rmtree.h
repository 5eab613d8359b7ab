/* rmtree: removes a directory tree, all at once or a few entries per step (so that
 * the agent's loop can remove a large sandbox without stalling its other work).
 *
 * Symbolic links are removed, never followed. A directory that is a mount point
 * (another mount than the tree's root: a volume or a bind mount inside a sandbox) is
 * not entered and not removed: that is an error, and the rest of the tree is still
 * removed, as every other error leaves the rest going (Mesos's continueOnError). A
 * missing path is removed already (no error). At most MZ_RMTREE_MAX_DEPTH directories
 * are open at once; a deeper directory is left, with an error. */
#ifndef MZ_AGENT_RMTREE_H
#define MZ_AGENT_RMTREE_H

#include <stddef.h>

#define MZ_RMTREE_MAX_DEPTH 256
#define MZ_RMTREE_MAX_ERROR 512 /* bytes of the first error's message kept */

typedef struct mz_rmtree mz_rmtree;

/* Starts removing path (a directory, a file or a link). Never NULL. */
mz_rmtree *mz_rmtree_start(const char *path);
/* Removes up to budget entries: 1 while more is left, 0 when done with everything
 * removed, -1 when done with errors (mz_rmtree_error says the first). */
int mz_rmtree_step(mz_rmtree *t, int budget);
/* The first error ("" while none), e.g. "unlink /x/y: Permission denied". */
const char *mz_rmtree_error(const mz_rmtree *t);
/* The errno of the first error (0 while none). */
int mz_rmtree_errno(const mz_rmtree *t);
/* Stops (what is left stays) and frees. NULL-safe. */
void mz_rmtree_free(mz_rmtree *t);

/* The whole tree now: 0, or -1 with errno set and err (when not NULL) saying the first error. */
int mz_rmtree_now(const char *path, char *err, size_t errlen);

#endif
