/* jsonw: a streaming JSON writer. Text is appended to a buffer as the values
 * are written (commas and nesting handled by the writer) and handed to a sink
 * each time the buffer passes a threshold, so a document of any size (the
 * master's /master/state at 100,000 agents is over 100 MiB) is produced in a
 * bounded amount of memory, without first building a tree of json_t values.
 * Without a sink the whole text stays in memory (mz_jw_text).
 *
 * Output is compact and byte-compatible with jansson's JSON_COMPACT dumps:
 * strings escaped the same way, reals as "%.17g" with ".0" added to integral
 * values, so a json_t view and a written view of the same object agree.
 *
 * Misuse (a value where a key is due, unbalanced ends, nesting deeper than
 * MZ_JW_MAX_DEPTH) and sink failures mark the writer failed: later calls do
 * nothing and mz_jw_finish() returns -1.
 *
 * Ownership: the writer owns its buffer; strings passed in are borrowed. */
#ifndef MZ_COMMON_JSONW_H
#define MZ_COMMON_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

#define MZ_JW_MAX_DEPTH 64

typedef struct mz_jw mz_jw;

/* Receives the next piece of text; 0, or -1 to stop the writer. */
typedef int (*mz_jw_sink)(const char *data, size_t len, void *arg);

/* sink NULL: keep everything (mz_jw_text); else flush whenever flush_at bytes are buffered. */
mz_jw *mz_jw_new(mz_jw_sink sink, void *arg, size_t flush_at);
void mz_jw_free(mz_jw *w);
/* Flushes what is buffered; 0, or -1 if the writer failed or the document is unfinished. */
int mz_jw_finish(mz_jw *w);
/* Memory mode: the text so far (NUL-terminated, owned by the writer). */
const char *mz_jw_text(mz_jw *w, size_t *len);
bool mz_jw_failed(const mz_jw *w);

void mz_jw_object(mz_jw *w);
void mz_jw_object_end(mz_jw *w);
void mz_jw_array(mz_jw *w);
void mz_jw_array_end(mz_jw *w);
void mz_jw_key(mz_jw *w, const char *key);
void mz_jw_string(mz_jw *w, const char *s); /* NULL writes "" */
void mz_jw_int(mz_jw *w, int64_t v);
void mz_jw_real(mz_jw *w, double v);
void mz_jw_bool(mz_jw *w, bool v);
void mz_jw_null(mz_jw *w);
/* A jansson value, dumped in place (NULL writes null). */
void mz_jw_json(mz_jw *w, const struct json_t *v);
/* As mz_jw_json, then json_decref(v): for views still built as json_t. */
void mz_jw_json_new(mz_jw *w, struct json_t *v);

/* key + value in one call. */
void mz_jw_kstring(mz_jw *w, const char *key, const char *s);
void mz_jw_kint(mz_jw *w, const char *key, int64_t v);
void mz_jw_kreal(mz_jw *w, const char *key, double v);
void mz_jw_kbool(mz_jw *w, const char *key, bool v);

/* A json_t from a writer function (for callers that need a tree of what is
 * otherwise written directly); NULL if the writer failed. */
struct json_t *mz_jw_to_json(void (*write)(mz_jw *w, const void *obj), const void *obj);

#endif
