/* timerq: see timerq.h. */
#include "master/timerq.h"

#include <event2/event.h>
#include <math.h>
#include <stddef.h>

#include "common/util.h"

static void arm(mz_timerq *q) {
  if (!q->head) {
    if (q->armed_for >= 0) {
      event_del(q->ev);
      q->armed_for = -1;
    }
    return;
  }
  if (q->armed_for == q->head->deadline) return;
  double delay = q->head->deadline - mz_monotonic();
  if (delay < 0) delay = 0;
  struct timeval tv = {(time_t)delay, (suseconds_t)((delay - floor(delay)) * 1e6)};
  event_add(q->ev, &tv);
  q->armed_for = q->head->deadline;
}

static void unlink_node(mz_timerq *q, mz_timerq_node *n) {
  if (n->prev) n->prev->next = n->next; else q->head = n->next;
  if (n->next) n->next->prev = n->prev; else q->tail = n->prev;
  n->prev = n->next = NULL;
  n->queued = false;
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  mz_timerq *q = arg;
  q->armed_for = -1;
  double now = mz_monotonic();
  /* Bounded batch per wakeup keeps the loop responsive; the rest fire next turn. */
  int budget = 10000;
  while (q->head && q->head->deadline <= now && budget-- > 0) {
    mz_timerq_node *n = q->head;
    unlink_node(q, n);
    q->cb(n, q->arg);
  }
  if (q->head && q->head->deadline <= now) {
    struct timeval zero = {0, 0};
    event_add(q->ev, &zero);
    q->armed_for = q->head->deadline;
    return;
  }
  arm(q);
}

int mz_timerq_init(mz_timerq *q, struct event_base *base, mz_timerq_cb cb, void *arg) {
  q->head = q->tail = NULL;
  q->cb = cb;
  q->arg = arg;
  q->armed_for = -1;
  q->ev = event_new(base, -1, 0, on_timer, q);
  return q->ev ? 0 : -1;
}

void mz_timerq_free(mz_timerq *q) {
  if (q->ev) event_free(q->ev);
  q->ev = NULL;
  q->head = q->tail = NULL; /* the nodes belong to objects that may be gone already */
}

void mz_timerq_add(mz_timerq *q, mz_timerq_node *n, double delay) {
  if (n->queued) unlink_node(q, n);
  if (!(delay >= 0)) delay = 0;
  n->deadline = mz_monotonic() + delay;
  mz_timerq_node *after = q->tail;
  while (after && after->deadline > n->deadline) after = after->prev;
  n->prev = after;
  n->next = after ? after->next : q->head;
  if (n->next) n->next->prev = n; else q->tail = n;
  if (after) after->next = n; else q->head = n;
  n->queued = true;
  arm(q);
}

void mz_timerq_remove(mz_timerq *q, mz_timerq_node *n) {
  if (!n->queued) return;
  unlink_node(q, n);
  arm(q);
}
