/* idindex: see idindex.h. */
#include "common/idindex.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* 64-bit FNV-1a with a final mix; never 0 (0 marks an empty slot). */
static uint64_t hash_of(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h ? h : 1;
}

void mz_idx_init(mz_idx *x, mz_idx_key key) {
  memset(x, 0, sizeof *x);
  x->key = key;
}

void mz_idx_free(mz_idx *x) {
  free(x->hash);
  free(x->obj);
  x->hash = NULL;
  x->obj = NULL;
  x->cap = x->n = 0;
}

/* The slot holding key (hash h), or the empty slot where it would go. */
static size_t slot_of(const mz_idx *x, uint64_t h, const char *key) {
  size_t mask = x->cap - 1, i = (size_t)h & mask;
  while (x->hash[i] && !(x->hash[i] == h && strcmp(x->key(x->obj[i]), key) == 0)) i = (i + 1) & mask;
  return i;
}

static void grow(mz_idx *x) {
  size_t old_cap = x->cap;
  uint64_t *old_hash = x->hash;
  void **old_obj = x->obj;
  x->cap = old_cap ? old_cap * 2 : 16;
  x->hash = mz_calloc(x->cap, sizeof *x->hash);
  x->obj = mz_calloc(x->cap, sizeof *x->obj);
  size_t mask = x->cap - 1;
  for (size_t k = 0; k < old_cap; k++) {
    if (!old_hash[k]) continue;
    size_t i = (size_t)old_hash[k] & mask;
    while (x->hash[i]) i = (i + 1) & mask;
    x->hash[i] = old_hash[k];
    x->obj[i] = old_obj[k];
  }
  free(old_hash);
  free(old_obj);
}

void mz_idx_put(mz_idx *x, void *obj) {
  if ((x->n + 1) * 2 > x->cap) grow(x);
  const char *key = x->key(obj);
  uint64_t h = hash_of(key);
  size_t i = slot_of(x, h, key);
  if (!x->hash[i]) x->n++;
  x->hash[i] = h;
  x->obj[i] = obj;
}

void *mz_idx_get(const mz_idx *x, const char *key) {
  if (!x->cap || !key) return NULL;
  size_t i = slot_of(x, hash_of(key), key);
  return x->hash[i] ? x->obj[i] : NULL;
}

void *mz_idx_del(mz_idx *x, const char *key) {
  if (!x->cap || !key) return NULL;
  size_t mask = x->cap - 1, i = slot_of(x, hash_of(key), key);
  if (!x->hash[i]) return NULL;
  void *obj = x->obj[i];
  /* Backward shift: move later entries of the run into the hole when their home allows. */
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!x->hash[j]) break;
    size_t home = (size_t)x->hash[j] & mask;
    /* j's entry may move to i unless its home lies cyclically in (i, j]. */
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    x->hash[i] = x->hash[j];
    x->obj[i] = x->obj[j];
    i = j;
  }
  x->hash[i] = 0;
  x->obj[i] = NULL;
  x->n--;
  return obj;
}
