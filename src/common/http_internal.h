/* http_internal: pieces shared by http_server.c and http_client.c (not part of
 * the public contract): a growable byte buffer, a header list filled from
 * http-parser's split field/value callbacks, percent decoding, and the direct
 * write of a connection's output that both do instead of waiting for EV_WRITE. */
#ifndef MZ_HTTP_INTERNAL_H
#define MZ_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#define MZ_HTTP_MAX_HEADERS 128

typedef struct {
  char *data;
  size_t len, cap;
} mz_hbuf;

void mz_hbuf_append(mz_hbuf *b, const char *data, size_t len); /* keeps data NUL-terminated */
void mz_hbuf_free(mz_hbuf *b);

typedef struct {
  char *name, *value;
} mz_hheader;

typedef struct {
  mz_hheader *v;
  size_t n;
  mz_hbuf field, value; /* the header being parsed */
  bool in_value;
} mz_hheaders;

/* Parser feed: field bytes (possibly split), value bytes (possibly split). -1 past MZ_HTTP_MAX_HEADERS. */
int mz_hheaders_field(mz_hheaders *h, const char *at, size_t len);
void mz_hheaders_value(mz_hheaders *h, const char *at, size_t len);
void mz_hheaders_finish(mz_hheaders *h); /* after the last header */
void mz_hheaders_add(mz_hheaders *h, const char *name, const char *value);
const char *mz_hheaders_get(const mz_hheaders *h, const char *name); /* case-insensitive */
void mz_hheaders_free(mz_hheaders *h);

/* Decodes %XX (and '+' as space when plus_is_space) from in[0..len) into out. 0, or -1 if malformed or too long. */
int mz_http_percent_decode(const char *in, size_t len, char *out, size_t outlen, bool plus_is_space);

struct bufferevent;
/* Writes what bev's output holds to its socket now, as much as the socket takes.
 * -1: there was nothing to write; 0: all of it went out; 1: the rest (or an error,
 * which libevent then reports) is left to libevent: EV_WRITE is enabled for it. */
int mz_http_write_now(struct bufferevent *bev);

#endif
