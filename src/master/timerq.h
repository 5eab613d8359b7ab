/* timerq: a deadline queue driven by one libevent timer. Nodes are embedded in
 * the objects they time (offers, disconnected agents, decline filters), kept in
 * deadline order, and the single timer is armed for the earliest one, so expiry
 * costs O(1) per expired node and nothing ever scans all objects. Insertion walks
 * from the tail, which is O(1) when every node of a queue uses the same delay
 * (the common case: offer timeouts, agent re-registration timeouts).
 *
 * The queue owns only its event; nodes belong to their objects. The callback runs
 * once per expired node, after the node is unlinked; it may add or remove nodes. */
#ifndef MZ_MASTER_TIMERQ_H
#define MZ_MASTER_TIMERQ_H

#include <stdbool.h>

struct event_base;
struct event;

typedef struct mz_timerq_node {
  double deadline; /* mz_monotonic() seconds */
  struct mz_timerq_node *prev, *next;
  bool queued;
} mz_timerq_node;

typedef void (*mz_timerq_cb)(mz_timerq_node *node, void *arg);

typedef struct mz_timerq {
  struct event *ev;
  mz_timerq_node *head, *tail;
  mz_timerq_cb cb;
  void *arg;
  double armed_for; /* deadline the event is armed for; <0 when not armed */
} mz_timerq;

/* 0 or -1 (event allocation failed). */
int mz_timerq_init(mz_timerq *q, struct event_base *base, mz_timerq_cb cb, void *arg);
/* Frees the event; queued nodes are simply forgotten. */
void mz_timerq_free(mz_timerq *q);
/* Queues (or re-queues) node to expire at mz_monotonic() + delay. */
void mz_timerq_add(mz_timerq *q, mz_timerq_node *node, double delay);
/* Unlinks node if queued; harmless otherwise. */
void mz_timerq_remove(mz_timerq *q, mz_timerq_node *node);

#endif
