/* status_updates: see status_updates.h. Streams live in a uthash table keyed by
 * "<framework_id>\n<task_id>" (ids never hold '\n'); each stream's queue is a
 * utlist list of owned TaskStatus copies, and it has one retry timer. */
#include "agent/status_updates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <uthash.h>
#include <utlist.h>

#include "common/log.h"
#include "common/task_state.h"
#include "common/util.h"

#define MOD "status-updates"
#define SU_MAX_QUEUE 1024 /* updates queued per task; more is an executor gone wrong */

typedef struct su_entry {
  Mesos__V1__TaskStatus *st; /* owned */
  struct su_entry *prev, *next;
} su_entry;

typedef struct su_stream {
  char *key;
  char *fw_id, *task_id, *executor_id;
  su_entry *queue;
  size_t n;
  int terminal_queued;
  double backoff;
  struct event *timer;
  mz_su_manager *m;
  UT_hash_handle hh;
} su_stream;

struct mz_su_manager {
  struct event_base *base;
  mz_su_callbacks cbs;
  void *arg;
  double min, max;
  su_stream *streams;
};

static char *make_key(const char *fw, const char *task) {
  size_t n = strlen(fw) + strlen(task) + 2;
  char *k = mz_malloc(n);
  snprintf(k, n, "%s\n%s", fw, task);
  return k;
}

static su_stream *find(const mz_su_manager *m, const char *fw, const char *task) {
  char *k = make_key(fw, task);
  su_stream *s;
  HASH_FIND_STR(m->streams, k, s);
  free(k);
  return s;
}

static void stream_free(mz_su_manager *m, su_stream *s) {
  HASH_DEL(m->streams, s);
  su_entry *e, *t;
  DL_FOREACH_SAFE(s->queue, e, t) {
    DL_DELETE(s->queue, e);
    protobuf_c_message_free_unpacked(&e->st->base, NULL);
    free(e);
  }
  event_free(s->timer);
  free(s->key);
  free(s->fw_id);
  free(s->task_id);
  free(s->executor_id);
  free(s);
}

static void arm(su_stream *s) {
  struct timeval tv = {(time_t)s->backoff, (suseconds_t)((s->backoff - (double)(time_t)s->backoff) * 1e6)};
  evtimer_add(s->timer, &tv);
}

/* Sends the head and arms the retry. */
static void send_head(su_stream *s) {
  if (!s->queue) return;
  const su_entry *tail = s->queue->prev; /* utlist DL: head->prev is the tail */
  int rc = s->m->cbs.forward(s->fw_id, s->executor_id, s->queue->st, tail->st->state, s->m->arg);
  if (rc == 0) {
    char u[MZ_UUID_STR];
    mz_uuid_format(s->queue->st->uuid.data, u);
    MZ_DEBUG(MOD, "forwarded %s (%s) for task %s of framework %s",
             protobuf_c_enum_descriptor_get_value(&mesos__v1__task_state__descriptor, s->queue->st->state)->name,
             u, s->task_id, s->fw_id);
  }
  evtimer_del(s->timer);
  arm(s);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
  su_stream *s = arg;
  s->backoff *= 2;
  if (s->backoff > s->m->max) s->backoff = s->m->max;
  if (s->queue) {
    MZ_INFO(MOD, "retrying the unacknowledged update for task %s of framework %s", s->task_id, s->fw_id);
    send_head(s);
  }
}

mz_su_manager *mz_su_new(struct event_base *base, const mz_su_callbacks *cbs, void *arg) {
  mz_su_manager *m = mz_calloc(1, sizeof *m);
  m->base = base;
  m->cbs = *cbs;
  m->arg = arg;
  m->min = 10.0;
  m->max = 600.0;
  return m;
}

void mz_su_set_backoff(mz_su_manager *m, double min, double max) {
  if (min <= 0) min = 0.001;
  if (max < min) max = min;
  m->min = min;
  m->max = max;
}

void mz_su_free(mz_su_manager *m) {
  if (!m) return;
  su_stream *s, *t;
  HASH_ITER(hh, m->streams, s, t) stream_free(m, s);
  free(m);
}

int mz_su_update(mz_su_manager *m, const char *fw_id, const char *executor_id, const Mesos__V1__TaskStatus *st,
                 char *err, size_t errlen) {
  if (!st->has_uuid || st->uuid.len != MZ_UUID_BYTES) {
    snprintf(err, errlen, "a status update needs a 16-byte uuid");
    return -1;
  }
  su_stream *s = find(m, fw_id, st->task_id->value);
  if (s) {
    su_entry *e;
    DL_FOREACH(s->queue, e) {
      if (!memcmp(e->st->uuid.data, st->uuid.data, MZ_UUID_BYTES)) return 1;
    }
    if (s->terminal_queued) {
      snprintf(err, errlen, "task %s already has a terminal update", st->task_id->value);
      return -1;
    }
    if (s->n >= SU_MAX_QUEUE) {
      snprintf(err, errlen, "too many unacknowledged updates for task %s", st->task_id->value);
      return -1;
    }
  } else {
    s = mz_calloc(1, sizeof *s);
    s->m = m;
    s->key = make_key(fw_id, st->task_id->value);
    s->fw_id = mz_strdup(fw_id);
    s->task_id = mz_strdup(st->task_id->value);
    s->executor_id = executor_id ? mz_strdup(executor_id) : NULL;
    s->backoff = m->min;
    s->timer = evtimer_new(m->base, on_retry, s);
    HASH_ADD_KEYPTR(hh, m->streams, s->key, strlen(s->key), s);
  }
  size_t n = protobuf_c_message_get_packed_size(&st->base);
  uint8_t *buf = mz_malloc(n ? n : 1);
  protobuf_c_message_pack(&st->base, buf);
  Mesos__V1__TaskStatus *copy = mesos__v1__task_status__unpack(NULL, n, buf);
  free(buf);
  if (!copy) {
    snprintf(err, errlen, "cannot copy the status update");
    if (!s->queue) stream_free(m, s);
    return -1;
  }
  su_entry *e = mz_calloc(1, sizeof *e);
  e->st = copy;
  int was_empty = s->queue == NULL;
  DL_APPEND(s->queue, e);
  s->n++;
  if (mz_task_state_terminal(copy->state)) s->terminal_queued = 1;
  if (was_empty) {
    s->backoff = m->min;
    send_head(s);
  }
  return 0;
}

int mz_su_acknowledge(mz_su_manager *m, const char *fw_id, const char *task_id, const uint8_t *uuid, size_t len,
                      char *err, size_t errlen) {
  su_stream *s = find(m, fw_id, task_id);
  if (!s || !s->queue) {
    snprintf(err, errlen, "no pending status update for task %s of framework %s", task_id, fw_id);
    return -1;
  }
  su_entry *head = s->queue;
  if (len != MZ_UUID_BYTES || memcmp(head->st->uuid.data, uuid, MZ_UUID_BYTES) != 0) {
    snprintf(err, errlen, "acknowledgement for task %s of framework %s does not match the pending update", task_id,
             fw_id);
    return -1;
  }
  int was_terminal = mz_task_state_terminal(head->st->state);
  DL_DELETE(s->queue, head);
  s->n--;
  protobuf_c_message_free_unpacked(&head->st->base, NULL);
  free(head);
  evtimer_del(s->timer);
  if (was_terminal || !s->queue) {
    if (was_terminal) {
      char *fw = mz_strdup(s->fw_id), *task = mz_strdup(s->task_id);
      stream_free(m, s);
      m->cbs.terminal_acked(fw, task, m->arg);
      free(fw);
      free(task);
    }
    /* A non-terminal head acknowledged with nothing behind it: the stream stays, idle. */
    return 0;
  }
  s->backoff = m->min;
  send_head(s);
  return 0;
}

void mz_su_resend_all(mz_su_manager *m) {
  su_stream *s, *t;
  HASH_ITER(hh, m->streams, s, t) {
    if (!s->queue) continue;
    s->backoff = m->min;
    send_head(s);
  }
}

void mz_su_drop_framework(mz_su_manager *m, const char *fw_id) {
  su_stream *s, *t;
  HASH_ITER(hh, m->streams, s, t) {
    if (!fw_id || !strcmp(s->fw_id, fw_id)) stream_free(m, s);
  }
}

const Mesos__V1__TaskStatus *mz_su_head(const mz_su_manager *m, const char *fw_id, const char *task_id) {
  const su_stream *s = find(m, fw_id, task_id);
  return s && s->queue ? s->queue->st : NULL;
}

size_t mz_su_pending(const mz_su_manager *m) {
  size_t n = 0;
  const su_stream *s, *t;
  HASH_ITER(hh, m->streams, s, t) n += s->n;
  return n;
}
