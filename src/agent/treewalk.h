/* treewalk: walks a directory tree a few entries per step (so that the agent's loop
 * can go through a large sandbox without stalling its other work), to remove it
 * (MZ_WALK_REMOVE, the garbage collector's) or to measure it (MZ_WALK_MEASURE, the
 * disk/du isolator's: the bytes its entries take on disk, st_blocks * 512, as du).
 *
 * Symbolic links are removed or measured, never followed. A directory that is a mount
 * point (another mount than the tree's root: a volume or a bind mount inside a sandbox)
 * is not entered: when removing that is an error and it stays, when measuring it is
 * not counted. Every error leaves the rest of the walk going (Mesos's continueOnError).
 * A missing path is removed already (no error) and measures 0. At most
 * MZ_TREEWALK_MAX_DEPTH directories are open at once; a deeper directory is left,
 * with an error. */
#ifndef MZ_AGENT_TREEWALK_H
#define MZ_AGENT_TREEWALK_H

#include <stddef.h>
#include <stdint.h>

#define MZ_TREEWALK_MAX_DEPTH 256
#define MZ_TREEWALK_MAX_ERROR 512 /* bytes of the first error's message kept */

typedef struct mz_treewalk mz_treewalk;
typedef enum { MZ_WALK_REMOVE, MZ_WALK_MEASURE } mz_walk_op;

/* Starts walking path (a directory, a file or a link). Never NULL. */
mz_treewalk *mz_treewalk_start(const char *path, mz_walk_op op);
/* Goes through up to budget entries: 1 while more is left, 0 when done without an
 * error, -1 when done with errors (mz_treewalk_error says the first). */
int mz_treewalk_step(mz_treewalk *t, int budget);
/* MZ_WALK_MEASURE: the bytes counted so far (all of them once done). */
uint64_t mz_treewalk_bytes(const mz_treewalk *t);
/* The first error ("" while none), e.g. "unlink /x/y: Permission denied". */
const char *mz_treewalk_error(const mz_treewalk *t);
/* The errno of the first error (0 while none). */
int mz_treewalk_errno(const mz_treewalk *t);
/* Stops (what is left stays) and frees. NULL-safe. */
void mz_treewalk_free(mz_treewalk *t);

/* The whole tree now: 0, or -1 with errno set and err (when not NULL) saying the first error. */
int mz_rmtree_now(const char *path, char *err, size_t errlen);

#endif
