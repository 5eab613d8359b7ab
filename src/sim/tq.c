/* tq: the sim's deadline queues (see sim.h). One libevent timer per queue,
 * armed for the earliest deadline; the callback runs once per expired node,
 * after the node is unlinked, and may add or remove nodes (of any queue).
 * The queue owns its event only; nodes belong to the objects they time. */
#include <event2/event.h>
#include <math.h>

#include "common/util.h"
#include "sim/sim.h"

#define TQ_MAX_PER_RUN 20000 /* nodes expired per callback before yielding to the loop */

static void arm(sim_tq *q) {
  if (!q->head) {
    if (q->armed_for >= 0) event_del(q->ev);
    q->armed_for = -1;
    return;
  }
  if (q->armed_for >= 0 && q->armed_for <= q->head->deadline) return;
  double d = q->head->deadline - mz_monotonic();
  if (d < 0) d = 0;
  struct timeval tv = {(time_t)d, (suseconds_t)((d - floor(d)) * 1e6)};
  event_add(q->ev, &tv);
  q->armed_for = q->head->deadline;
}

static void unlink_node(sim_tq *q, sim_tq_node *n) {
  if (n->prev) n->prev->next = n->next;
  else q->head = n->next;
  if (n->next) n->next->prev = n->prev;
  else q->tail = n->prev;
  n->prev = n->next = NULL;
  n->queued = false;
  q->n--;
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sim_tq *q = arg;
  q->armed_for = -1;
  double now = mz_monotonic();
  int done = 0;
  while (q->head && q->head->deadline <= now && done < TQ_MAX_PER_RUN) {
    sim_tq_node *n = q->head;
    unlink_node(q, n);
    q->cb(n, q->arg);
    done++;
  }
  if (q->head && q->head->deadline <= now) {
    /* More are due: come back at once, after other events had their turn. */
    struct timeval tv = {0, 0};
    event_add(q->ev, &tv);
    q->armed_for = q->head->deadline;
    return;
  }
  arm(q);
}

int sim_tq_init(sim_tq *q, struct event_base *base, sim_tq_cb cb, void *arg) {
  q->head = q->tail = NULL;
  q->cb = cb;
  q->arg = arg;
  q->armed_for = -1;
  q->n = 0;
  q->ev = evtimer_new(base, on_timer, q);
  return q->ev ? 0 : -1;
}

void sim_tq_free(sim_tq *q) {
  if (q->ev) event_free(q->ev);
  q->ev = NULL;
  q->head = q->tail = NULL;
}

void sim_tq_add(sim_tq *q, sim_tq_node *n, double delay) {
  if (n->queued) unlink_node(q, n);
  n->deadline = mz_monotonic() + (delay > 0 ? delay : 0);
  sim_tq_node *after = q->tail;
  while (after && after->deadline > n->deadline) after = after->prev;
  n->prev = after;
  n->next = after ? after->next : q->head;
  if (n->next) n->next->prev = n;
  else q->tail = n;
  if (after) after->next = n;
  else q->head = n;
  n->queued = true;
  q->n++;
  arm(q);
}

void sim_tq_remove(sim_tq *q, sim_tq_node *n) {
  if (!n->queued) return;
  unlink_node(q, n);
  /* The timer may fire early for a removed head: harmless, it re-arms. */
}
