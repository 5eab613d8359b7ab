/* stats: the sim's measurements. Latencies go into log-spaced histograms
 * (buckets 2% wide from 0.01 ms to about 4e6 ms), so memory stays fixed however
 * long the run; a percentile is reported as the geometric middle of its bucket
 * (within 1%). Counters and histograms cover the current window, which starts
 * at start-up and again on SIGUSR1 (main.c), so that a driver can measure a
 * steady state only. Rates are per second of the
 * window. The summary is one line on stdout; the report is a JSON object.
 * Nothing here owns memory beyond the sim struct. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "sim/sim.h"

#define HIST_MIN_MS 0.01
#define HIST_GROWTH 1.02

static const double LOG_GROWTH = 0.0198026272961797; /* log(1.02) */

void sim_hist_add(sim_hist *h, double ms) {
  if (!(ms >= 0)) ms = 0;
  h->count++;
  h->sum += ms;
  if (ms > h->max) h->max = ms;
  int i = ms <= HIST_MIN_MS ? 0 : (int)(log(ms / HIST_MIN_MS) / LOG_GROWTH) + 1;
  if (i >= SIM_HIST_BUCKETS) i = SIM_HIST_BUCKETS - 1;
  h->b[i]++;
}

/* Bucket i > 0 holds (MIN * G^(i-1), MIN * G^i]. */
double sim_hist_pct(const sim_hist *h, double p) {
  if (!h->count) return 0;
  uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < SIM_HIST_BUCKETS; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      if (i == 0) return HIST_MIN_MS;
      double v = HIST_MIN_MS * pow(HIST_GROWTH, (double)i - 0.5);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}

void sim_window_reset(sim *s) {
  memset(&s->win, 0, sizeof s->win);
  s->win.start = mz_monotonic();
}

static double window_s(const sim *s) {
  double w = mz_monotonic() - s->win.start;
  return w > 1e-6 ? w : 1e-6;
}

void sim_print_progress(sim *s) {
  double w = window_s(s);
  fprintf(stderr,
          "sim progress: t=%.0fs agents_registered=%zu/%ld links_up=%zu/%zu frameworks=%zu/%zu launched=%" PRIu64
          " running_now=%zu finished=%" PRIu64 " launched_per_s=%.0f launch_p99_ms=%.1f offer_p99_ms=%.1f\n",
          mz_monotonic() - s->started, s->registered, s->f.agents, s->links_up, s->nlinks, s->subscribed, s->nfws,
          s->win.launched, s->live_tasks, s->win.finished, (double)s->win.launched / w,
          sim_hist_pct(&s->win.launch, 99), sim_hist_pct(&s->win.offer, 99));
}

void sim_print_summary(sim *s) {
  double w = window_s(s);
  printf("sim agents=%ld registered=%zu links=%zu frameworks=%zu window_s=%.1f launched=%" PRIu64 " running=%" PRIu64
         " finished=%" PRIu64 " failed=%" PRIu64 " killed=%" PRIu64 " lost=%" PRIu64
         " launched_per_s=%.1f finished_per_s=%.1f launch_p50_ms=%.2f launch_p99_ms=%.2f launch_max_ms=%.2f"
         " offer_p50_ms=%.2f offer_p99_ms=%.2f offers=%" PRIu64 " declines=%" PRIu64 "\n",
         s->f.agents, s->registered, s->nlinks, s->nfws, w, s->win.launched, s->win.running, s->win.finished,
         s->win.failed, s->win.killed, s->win.lost, (double)s->win.launched / w, (double)s->win.finished / w,
         sim_hist_pct(&s->win.launch, 50), sim_hist_pct(&s->win.launch, 99), s->win.launch.max,
         sim_hist_pct(&s->win.offer, 50), sim_hist_pct(&s->win.offer, 99), s->win.offers, s->win.declines);
  fflush(stdout);
}

static json_t *hist_json(const sim_hist *h) {
  json_t *o = json_object();
  json_object_set_new(o, "count", json_integer((json_int_t)h->count));
  json_object_set_new(o, "p50", json_real(sim_hist_pct(h, 50)));
  json_object_set_new(o, "p90", json_real(sim_hist_pct(h, 90)));
  json_object_set_new(o, "p99", json_real(sim_hist_pct(h, 99)));
  json_object_set_new(o, "p999", json_real(sim_hist_pct(h, 99.9)));
  json_object_set_new(o, "max", json_real(h->max));
  json_object_set_new(o, "mean", json_real(h->count ? h->sum / (double)h->count : 0));
  return o;
}

int sim_write_report(sim *s, const char *path, char *err, size_t errlen) {
  double w = window_s(s);
  json_t *o = json_object();
  json_object_set_new(o, "agents", json_integer(s->f.agents));
  json_object_set_new(o, "agents_registered", json_integer((json_int_t)s->registered));
  json_object_set_new(o, "agents_ever_registered", json_integer((json_int_t)s->ever_registered));
  json_object_set_new(o, "links", json_integer((json_int_t)s->nlinks));
  json_object_set_new(o, "agents_per_link", json_integer(s->f.agents_per_link));
  json_object_set_new(o, "frameworks", json_integer((json_int_t)s->nfws));
  json_object_set_new(o, "frameworks_subscribed", json_integer((json_int_t)s->subscribed));
  json_object_set_new(o, "window_s", json_real(w));
  json_object_set_new(o, "launched", json_integer((json_int_t)s->win.launched));
  json_object_set_new(o, "running", json_integer((json_int_t)s->win.running));
  json_object_set_new(o, "finished", json_integer((json_int_t)s->win.finished));
  json_object_set_new(o, "failed", json_integer((json_int_t)s->win.failed));
  json_object_set_new(o, "killed", json_integer((json_int_t)s->win.killed));
  json_object_set_new(o, "lost", json_integer((json_int_t)s->win.lost));
  json_object_set_new(o, "other_terminal", json_integer((json_int_t)s->win.other_terminal));
  json_object_set_new(o, "offers", json_integer((json_int_t)s->win.offers));
  json_object_set_new(o, "accepts", json_integer((json_int_t)s->win.accepts));
  json_object_set_new(o, "declines", json_integer((json_int_t)s->win.declines));
  json_object_set_new(o, "launched_per_s", json_real((double)s->win.launched / w));
  json_object_set_new(o, "finished_per_s", json_real((double)s->win.finished / w));
  json_object_set_new(o, "launch_ms", hist_json(&s->win.launch));
  json_object_set_new(o, "offer_ms", hist_json(&s->win.offer));
  json_t *tot = json_object();
  json_object_set_new(tot, "launched", json_integer((json_int_t)s->total_launched));
  json_object_set_new(tot, "terminal", json_integer((json_int_t)s->total_terminal));
  json_object_set_new(tot, "live_tasks_on_agents", json_integer((json_int_t)s->live_tasks));
  json_object_set_new(tot, "updates_sent", json_integer((json_int_t)s->updates_sent));
  json_object_set_new(tot, "acks_received", json_integer((json_int_t)s->acks_received));
  json_object_set_new(tot, "link_losses", json_integer((json_int_t)s->link_losses));
  json_object_set_new(tot, "master_errors", json_integer((json_int_t)s->reg_errors));
  json_object_set_new(tot, "framework_errors", json_integer((json_int_t)s->fw_errors));
  json_object_set_new(tot, "uptime_s", json_real(mz_monotonic() - s->started));
  json_object_set_new(o, "totals", tot);
  int rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(o);
  if (rc != 0) {
    snprintf(err, errlen, "flag --report: cannot write '%s'", path);
    return -1;
  }
  return 0;
}
