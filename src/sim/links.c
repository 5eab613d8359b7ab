/* links: the emulated agents' links to the master, in the real link protocol
 * (proto/mezzo/agent.proto): POST /api/v1/mezzo/agent with a chunked RecordIO
 * body of AgentCall records, the AgentEvent stream read from the answer on the
 * same connection. A link carries the contiguous agents [first, first + n):
 * n == 1 is one connection per agent (what mezzo-agent does), n > 1 is a
 * multiplexed link (what a relay does); every record names its agent (agent_id,
 * or link_key "a<index>" before the agent has an id), so both look the same
 * to the master per agent.
 *
 * A link opens when the ramp reaches its first agent; its agents are then
 * queued for (re-)registration, which the ramp paces. A lost link (connection
 * closed or refused, a non-200 answer, a framing error, or no record for
 * 5 ping intervals) disconnects its agents and reconnects after a jittered
 * backoff doubling from 0.5 s up to 10 s (with a zk:// master, a 307 or 503
 * from a master that is not leading yet is retried after 50-100 ms). Once a
 * link is accepted, its agents that had registered before re-register at once;
 * only first registrations follow the ramp's pace.
 *
 * Connections are spread over the source addresses in s->sources (127.0.0.2,
 * 127.0.0.3, ...: each has its own ~28,000 ephemeral ports on loopback).
 *
 * Ownership: s->links is an array owned by the sim; each link owns its HTTP
 * client (which owns the call in flight) and its decoder. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"
#include "common/log.h"
#include "common/recordio.h"
#include "common/util.h"
#include "sim/sim.h"

#define LINK_PATH "/api/v1/mezzo/agent"
#define LINK_MAX_EVENT_BYTES (16u << 20)
#define LINK_BACKOFF_MIN 0.5
#define LINK_BACKOFF_MAX 10.0
#define LINK_SILENT_PINGS 5
#define LINK_NOT_LEADER_RETRY 0.05 /* seconds (zk://): retry of a master that answered 307 / 503 */

static void link_lost(sim_link *l, const char *why);

sim_link *sim_link_of(sim *s, uint32_t agent_index) {
  return &s->links[agent_index / (uint32_t)s->f.agents_per_link];
}

int sim_link_send(sim_link *l, Mezzo__Internal__AgentCall *call) {
  if (!l->call) return -1;
  size_t len = 0;
  uint8_t *buf = mz_pb_encode(&call->base, l->s->link_ct, &len);
  if (!buf) return -1;
  int rc = mz_http_call_write_record(l->call, buf, len);
  free(buf);
  return rc;
}

static int on_record(void *arg, const uint8_t *rec, size_t len) {
  sim_link *l = arg;
  char err[256];
  Mezzo__Internal__AgentEvent *ev = (Mezzo__Internal__AgentEvent *)mz_pb_decode(
      &mezzo__internal__agent_event__descriptor, l->s->link_ct, rec, len, err, sizeof err);
  if (!ev) {
    MZ_WARN("sim", "link %u: undecodable AgentEvent: %s", l->index, err);
    return 0;
  }
  l->last_event = mz_monotonic();
  struct mz_http_call *before = l->call;
  sim_agent_event(l, ev);
  protobuf_c_message_free_unpacked(&ev->base, NULL);
  return l->call == before ? 0 : 1;
}

static void on_headers(struct mz_http_call *c, int status, void *arg) {
  (void)c;
  sim_link *l = arg;
  l->status = status;
  if (status == 200) {
    l->up = true;
    l->s->links_up++;
    l->backoff = LINK_BACKOFF_MIN;
    l->last_event = mz_monotonic();
    sim_agents_reregister_link(l); /* agents that were registered before: at once, not at the ramp's pace */
  }
}

static void on_data(struct mz_http_call *c, const uint8_t *data, size_t len, void *arg) {
  (void)c;
  sim_link *l = arg;
  if (l->status != 200) {
    size_t room = sizeof l->errtext - 1 - l->errlen;
    if (len > room) len = room;
    memcpy(l->errtext + l->errlen, data, len);
    l->errlen += len;
    l->errtext[l->errlen] = 0;
    return;
  }
  char err[256];
  if (mz_recordio_feed(l->dec, data, len, on_record, l, err, sizeof err) < 0) link_lost(l, err);
}

static void on_complete(struct mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err,
                        void *arg) {
  (void)c;
  (void)body;
  (void)len;
  sim_link *l = arg;
  char why[400];
  if (status == 0) snprintf(why, sizeof why, "%s", err ? err : "connection closed");
  else if (status != 200) snprintf(why, sizeof why, "the master answered %d: %s", status, l->errtext);
  else snprintf(why, sizeof why, "the master ended the stream");
  l->call = NULL; /* the client frees it after this returns */
  link_lost(l, why);
}

void sim_link_open(sim_link *l) {
  sim *s = l->s;
  if (l->call || s->stopping || !l->client) return; /* no client: no leader known yet (zk://) */
  sim_tq_remove(&s->link_retries, &l->retry);
  if (l->dec) mz_recordio_decoder_free(l->dec);
  l->dec = mz_recordio_decoder_new(LINK_MAX_EVENT_BYTES);
  l->status = 0;
  l->up = false;
  l->errlen = 0;
  l->errtext[0] = 0;
  l->ping_interval = 0;
  const char *ct = mz_content_type_name(s->link_ct);
  const char *headers[] = {"Content-Type", ct, "Accept", ct, NULL};
  static const mz_http_call_cbs cbs = {on_complete, on_headers, on_data};
  l->call = mz_http_client_request(l->client, "POST", LINK_PATH, headers, NULL, -1, &cbs, l);
  if (!l->call) {
    link_lost(l, "cannot start the request");
    return;
  }
  l->last_event = mz_monotonic();
  for (uint32_t i = 0; i < l->n; i++) sim_agent_link_up(&s->agents[l->first + i]);
}

static void link_lost(sim_link *l, const char *why) {
  sim *s = l->s;
  if (l->call) {
    struct mz_http_call *c = l->call;
    l->call = NULL;
    mz_http_call_cancel(c);
  }
  if (l->up) s->links_up--;
  l->up = false;
  s->link_losses++;
  for (uint32_t i = 0; i < l->n; i++) sim_agent_link_down(&s->agents[l->first + i]);
  if (s->stopping) return;
  double b = l->backoff > 0 ? l->backoff : LINK_BACKOFF_MIN;
  double delay = b / 2 + sim_rand01(s) * b / 2;
  if (s->zk && (l->status == 307 || l->status == 503)) {
    /* A master the detector named leader that has not taken over yet (or has just
     * lost it): try again soon; the detector retargets the links on a change. */
    delay = LINK_NOT_LEADER_RETRY * (1 + sim_rand01(s));
  } else {
    l->backoff = b * 2 > LINK_BACKOFF_MAX ? LINK_BACKOFF_MAX : b * 2;
  }
  /* One line per loss would flood the log when thousands of links drop together. */
  if (s->link_losses <= 20 || s->link_losses % 1000 == 0)
    MZ_WARN("sim", "link %u (%u agent(s)) lost: %s; reconnecting in %.2fs (%llu losses so far)", l->index, l->n, why,
            delay, (unsigned long long)s->link_losses);
  sim_tq_add(&s->link_retries, &l->retry, delay);
}

static void on_link_retry(sim_tq_node *n, void *arg) {
  (void)arg;
  sim_link_open(SIM_CONTAINER(n, sim_link, retry));
}

void sim_links_check(sim *s) {
  double now = mz_monotonic();
  for (size_t i = 0; i < s->nlinks; i++) {
    sim_link *l = &s->links[i];
    if (!l->call || l->ping_interval <= 0) continue;
    if (now - l->last_event > LINK_SILENT_PINGS * l->ping_interval) link_lost(l, "no PING from the master");
  }
}

static struct mz_http_client *client_for(sim *s, size_t i) {
  struct mz_http_client *c = mz_http_client_new(s->base, s->host, s->port);
  if (!c) return NULL;
  mz_http_client_set_timeout(c, 0); /* the link lives on; liveness comes from PINGs */
  if (s->nsources) mz_http_client_set_source(c, s->sources[i * s->nsources / s->nlinks]);
  return c;
}

void sim_links_retarget(sim *s) {
  for (size_t i = 0; i < s->nlinks; i++) {
    sim_link *l = &s->links[i];
    bool opened = l->client && (l->call || l->retry.queued);
    if (l->client) mz_http_client_free(l->client); /* drops the call without callbacks */
    l->client = NULL;
    l->call = NULL;
    sim_tq_remove(&s->link_retries, &l->retry);
    if (l->up) s->links_up--;
    l->up = false;
    for (uint32_t k = 0; k < l->n; k++) sim_agent_link_down(&s->agents[l->first + k]);
    l->client = client_for(s, i);
    l->backoff = LINK_BACKOFF_MIN;
    if (!l->client) {
      MZ_ERROR("sim", "link %u: cannot create an HTTP client for %s:%d", l->index, s->host, s->port);
      continue;
    }
    if (opened || i < s->next_link) sim_link_open(l); /* at once: its agents re-register with the new leader */
  }
  /* Agents that had registered go back to the new leader together, not at the ramp's pace: each of
   * them would re-register on its own the moment it learns of the new leader. */
  sim_agents_register_queued(s);
}

int sim_links_init(sim *s, char *err, size_t errlen) {
  s->nlinks = (size_t)((s->f.agents + s->f.agents_per_link - 1) / s->f.agents_per_link);
  s->links = mz_calloc(s->nlinks ? s->nlinks : 1, sizeof *s->links);
  if (sim_tq_init(&s->link_retries, s->base, on_link_retry, s) != 0) {
    snprintf(err, errlen, "cannot create a timer");
    return -1;
  }
  for (size_t i = 0; i < s->nlinks; i++) {
    sim_link *l = &s->links[i];
    l->s = s;
    l->index = (uint32_t)i;
    l->first = (uint32_t)(i * (size_t)s->f.agents_per_link);
    l->n = (uint32_t)((size_t)s->f.agents - l->first < (size_t)s->f.agents_per_link ? (size_t)s->f.agents - l->first
                                                                                      : (size_t)s->f.agents_per_link);
    l->backoff = LINK_BACKOFF_MIN;
    if (s->zk && !s->port) continue; /* created when the detector reports the leader */
    l->client = client_for(s, i);
    if (!l->client) {
      snprintf(err, errlen, "cannot create an HTTP client for %s:%d", s->host, s->port);
      return -1;
    }
  }
  return 0;
}

void sim_links_free(sim *s) {
  for (size_t i = 0; s->links && i < s->nlinks; i++) {
    sim_link *l = &s->links[i];
    if (l->client) mz_http_client_free(l->client); /* drops the call without callbacks */
    if (l->dec) mz_recordio_decoder_free(l->dec);
  }
  sim_tq_free(&s->link_retries);
  free(s->links);
  s->links = NULL;
}
