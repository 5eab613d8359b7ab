/* idindex: a lookup index from a string id to the object that holds it, for
 * the master's hottest lookups (agents by id, tasks by id: several per task
 * launched). Open addressing with linear probing over an array of (hash,
 * object) pairs at most half full, so a lookup reads one or two adjacent slots
 * and then the one object it compares the key of; uthash's chained buckets,
 * which the objects keep for iteration, cost a cache miss per chained node.
 * Deletion shifts the following entries back (no tombstones).
 *
 * The index stores pointers only: key(obj) gives an object's id, which must
 * not change while the object is indexed. Ownership: the index owns its
 * arrays, never the objects. */
#ifndef MZ_COMMON_IDINDEX_H
#define MZ_COMMON_IDINDEX_H

#include <stddef.h>
#include <stdint.h>

typedef const char *(*mz_idx_key)(const void *obj);

typedef struct {
  uint64_t *hash; /* 0: empty slot */
  void **obj;
  size_t cap; /* a power of two, or 0 */
  size_t n;
  mz_idx_key key;
} mz_idx;

void mz_idx_init(mz_idx *x, mz_idx_key key);
void mz_idx_free(mz_idx *x); /* the arrays; the index is empty and usable again */
/* Indexes obj under key(obj), replacing an object with the same key. */
void mz_idx_put(mz_idx *x, void *obj);
void *mz_idx_get(const mz_idx *x, const char *key);
/* Removes the object indexed under key; returns it (NULL if none). */
void *mz_idx_del(mz_idx *x, const char *key);

#endif
