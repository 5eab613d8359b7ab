/* recordio: the framing of every mezzo stream, as in Mesos: each record is
 * "<decimal length>\n<length bytes>". The decoder is incremental: feed it
 * whatever bytes arrived (any split, down to one byte at a time) and it calls
 * back once per complete record. Records longer than max_record_len, a length
 * that is not a decimal number, or one with too many digits are framing errors. */
#ifndef MZ_RECORDIO_H
#define MZ_RECORDIO_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

typedef struct mz_recordio_decoder mz_recordio_decoder;

/* Return 0 to go on, non-zero to stop feeding (mz_recordio_feed then returns 1). */
typedef int (*mz_recordio_cb)(void *arg, const uint8_t *record, size_t len);

mz_recordio_decoder *mz_recordio_decoder_new(size_t max_record_len);
void mz_recordio_decoder_free(mz_recordio_decoder *d);
/* 0: all bytes consumed; 1: the callback asked to stop (the remaining bytes are kept
 * and delivered on the next feed); -1: framing error, message in err (the decoder
 * stays failed). */
int mz_recordio_feed(mz_recordio_decoder *d, const uint8_t *data, size_t len, mz_recordio_cb cb, void *arg,
                     char *err, size_t errlen);

/* Appends one framed record to out. 0 or -1. */
int mz_recordio_append(struct evbuffer *out, const void *data, size_t len);
/* Returns a malloc'd framed copy of data (length in *out_len), or NULL. */
uint8_t *mz_recordio_frame(const void *data, size_t len, size_t *out_len);

#endif
