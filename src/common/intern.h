/* intern: shared, reference-counted copies of the short strings that every
 * resource entry repeats (names such as "cpus", roles, principals).
 *
 * A master holds hundreds of thousands of resource entries naming a handful
 * of distinct strings. Interning makes copying an entry a reference count
 * instead of a malloc and memcpy per string, and comparing two interned
 * strings a pointer comparison on a string that is already in cache.
 *
 * mz_intern returns the shared copy of s with one more reference; each
 * reference is given back with mz_intern_release, and the copy is freed with
 * its last. Equal strings interned at the same time share one pointer, so
 * a != b for two interned strings means they differ; callers that may hold a
 * string that was not interned compare with mz_intern_eq.
 *
 * Not thread-safe: one table per process, used from the thread that owns the
 * resources (every mezzo process keeps its resources on its event loop thread). */
#ifndef MZ_INTERN_H
#define MZ_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

const char *mz_intern(const char *s);
/* One more reference to s, which must be interned: no lookup. Returns s. */
const char *mz_intern_ref(const char *s);
void mz_intern_release(const char *s);
/* Distinct strings now interned (for tests and leak checks). */
size_t mz_intern_count(void);

static inline bool mz_intern_eq(const char *a, const char *b) { return a == b || strcmp(a, b) == 0; }

#endif
