/* intern: see intern.h. An open-addressing table (linear probing, at most
 * half full) of pointers to entries; each entry holds its hash, its count of
 * references and the string itself, which is what callers point at. */
#include "common/intern.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/util.h"

typedef struct {
  uint64_t hash;
  size_t refs;
  char s[];
} istr;

static istr **table;
static size_t cap, count;

static uint64_t hash_of(const char *s, size_t *len) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
  const unsigned char *p = (const unsigned char *)s;
  for (; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ull;
  }
  *len = (size_t)(p - (const unsigned char *)s);
  return h ^ (h >> 29);
}

static istr *entry_of(const char *s) { return (istr *)(void *)(s - offsetof(istr, s)); }

static void grow(void) {
  size_t old_cap = cap;
  istr **old = table;
  cap = old_cap ? old_cap * 2 : 64;
  table = mz_calloc(cap, sizeof *table);
  for (size_t k = 0; k < old_cap; k++) {
    if (!old[k]) continue;
    size_t i = (size_t)old[k]->hash & (cap - 1);
    while (table[i]) i = (i + 1) & (cap - 1);
    table[i] = old[k];
  }
  free(old);
}

const char *mz_intern(const char *s) {
  if ((count + 1) * 2 > cap) grow();
  size_t len;
  uint64_t h = hash_of(s, &len);
  size_t i = (size_t)h & (cap - 1);
  for (; table[i]; i = (i + 1) & (cap - 1)) {
    if (table[i]->hash == h && strcmp(table[i]->s, s) == 0) {
      table[i]->refs++;
      return table[i]->s;
    }
  }
  istr *e = mz_malloc(sizeof *e + len + 1);
  e->hash = h;
  e->refs = 1;
  memcpy(e->s, s, len + 1);
  table[i] = e;
  count++;
  return e->s;
}

const char *mz_intern_ref(const char *s) {
  entry_of(s)->refs++;
  return s;
}

void mz_intern_release(const char *s) {
  if (!s) return;
  istr *e = entry_of(s);
  if (--e->refs > 0) return;
  size_t mask = cap - 1, i = (size_t)e->hash & mask;
  while (table[i] != e) i = (i + 1) & mask;
  /* Backward shift: later entries of the run move into the hole unless their home lies cyclically in (i, j]. */
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!table[j]) break;
    size_t home = (size_t)table[j]->hash & mask;
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    table[i] = table[j];
    i = j;
  }
  table[i] = NULL;
  count--;
  free(e);
}

size_t mz_intern_count(void) { return count; }
