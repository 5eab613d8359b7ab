/* role_cmd: `mezzo role list` (GET /master/roles) and `mezzo quota get [ROLE]`
 * / `mezzo quota set ROLE --guarantee=... [--limit=...] [--force]` (the
 * operator API's GET_QUOTA and UPDATE_QUOTA). Quota figures are validated by
 * the master; the CLI only checks that they are "name:number" lists. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ops.h"

#define QUOTA_MAX_TEXT 1024

void mz_cli_role_usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo role list [--json] [--master=HOST:PORT]\n"
          "\n"
          "Lists the roles the master knows (those of frameworks, weights, quota and reservations)\n"
          "with their weight, frameworks, allocated/offered/reserved resources and quota.\n"
          "\n"
          "  --master=HOST:PORT      the master (or MEZZO_MASTER)\n"
          "  --json                  print the master's JSON\n");
}

void mz_cli_quota_usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo quota get [ROLE] [--json] [--master=HOST:PORT]\n"
          "       mezzo quota set ROLE [--guarantee=RES] [--limit=RES] [--force] [--master=HOST:PORT]\n"
          "\n"
          "Shows the quota of every role (or one), or sets a role's quota. RES is a list like\n"
          "'cpus:2;mem:1024'; --limit defaults to --guarantee; neither clears the role's quota.\n"
          "\n"
          "  --master=HOST:PORT      the master (or MEZZO_MASTER)\n"
          "  --guarantee=RES         resources guaranteed to the role\n"
          "  --limit=RES             most resources the role may get\n"
          "  --force                 set guarantees beyond the cluster's current resources\n"
          "  --json                  print JSON\n");
}

static void res_text(const json_t *o, char *out, size_t len) {
  const char *k;
  json_t *v;
  size_t n = 0;
  out[0] = 0;
  json_object_foreach((json_t *)o, k, v) {
    if (!json_is_number(v) || json_number_value(v) == 0) continue;
    int w = snprintf(out + n, len - n, "%s%s:%g", n ? ";" : "", k, json_number_value(v));
    if (w < 0 || (size_t)w >= len - n) break;
    n += (size_t)w;
  }
  if (!n) snprintf(out, len, "-");
}

int mz_cli_role(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    mz_cli_role_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? MZ_CLI_EXIT_USAGE : MZ_CLI_EXIT_OK;
  }
  if (strcmp(argv[1], "list")) {
    fprintf(stderr, "mezzo role: unknown subcommand '%s' (list)\n", argv[1]);
    return MZ_CLI_EXIT_USAGE;
  }
  mz_cli_ctx c;
  int rc = mz_cli_ops_parse(&c, "mezzo role list", NULL, 0, argc - 1, argv + 1, 0, 0, mz_cli_role_usage);
  if (rc >= 0) return rc;
  json_t *doc;
  if ((rc = mz_cli_get_json(&c, "/master/roles", &doc)) != 0) return rc;
  json_t *roles = json_object_get(doc, "roles");
  if (c.json) {
    mz_cli_print_json(roles);
  } else {
    const char *h[] = {"ROLE", "WEIGHT", "FRAMEWORKS", "ALLOCATED", "OFFERED", "RESERVED", "QUOTA GUARANTEE", "QUOTA LIMIT"};
    mz_cli_table *t = mz_cli_table_new(8, h);
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r) {
      char w[32], nf[32], al[256], of[256], rs[256], qg[256], ql[256];
      snprintf(w, sizeof w, "%g", mz_cli_num(r, "weight"));
      snprintf(nf, sizeof nf, "%zu", json_array_size(json_object_get(r, "frameworks")));
      res_text(json_object_get(r, "allocated"), al, sizeof al);
      res_text(json_object_get(r, "offered"), of, sizeof of);
      res_text(json_object_get(r, "reserved"), rs, sizeof rs);
      json_t *q = json_object_get(r, "quota");
      res_text(json_object_get(q, "guarantee"), qg, sizeof qg);
      res_text(json_object_get(q, "limit"), ql, sizeof ql);
      const char *row[] = {mz_cli_str(r, "name"), w, nf, al, of, rs, qg, ql};
      mz_cli_table_add(t, row);
    }
    mz_cli_table_print(t, stdout);
  }
  json_decref(doc);
  return MZ_CLI_EXIT_OK;
}

/* "cpus:2;mem:1024" -> {"cpus": {"value": 2}, "mem": {"value": 1024}}. NULL with err. */
static json_t *parse_res(const char *flag, const char *text, char *err, size_t errlen) {
  if (strlen(text) > QUOTA_MAX_TEXT) {
    snprintf(err, errlen, "%s: longer than %d characters", flag, QUOTA_MAX_TEXT);
    return NULL;
  }
  json_t *o = json_object();
  char buf[QUOTA_MAX_TEXT + 1];
  snprintf(buf, sizeof buf, "%s", text);
  char *save = NULL;
  for (char *item = strtok_r(buf, ";,", &save); item; item = strtok_r(NULL, ";,", &save)) {
    char *colon = strchr(item, ':');
    char *end;
    errno = 0;
    double v = colon ? strtod(colon + 1, &end) : 0;
    if (!colon || colon == item || errno || end == colon + 1 || *end) {
      snprintf(err, errlen, "%s: expected NAME:NUMBER items separated by ';', got '%s'", flag, item);
      json_decref(o);
      return NULL;
    }
    *colon = 0;
    json_object_set_new(o, item, json_pack("{s:f}", "value", v));
  }
  return o;
}

static int quota_get(mz_cli_ctx *c) {
  json_t *call = json_pack("{s:s}", "type", "GET_QUOTA"), *resp = NULL;
  int rc = mz_cli_api(c, call, &resp);
  json_decref(call);
  if (rc) return rc;
  json_t *configs = json_object_get(json_object_get(json_object_get(resp, "get_quota"), "status"), "configs");
  json_t *shown = json_array();
  size_t i;
  json_t *q;
  json_array_foreach(configs, i, q) if (!c->nargs || !strcmp(mz_cli_str(q, "role"), c->args[0])) json_array_append(shown, q);
  if (c->nargs && json_array_size(shown) == 0 && !c->json) {
    printf("Role %s has no quota\n", c->args[0]);
  } else if (c->json) {
    mz_cli_print_json(shown);
  } else {
    const char *h[] = {"ROLE", "GUARANTEE", "LIMIT"};
    mz_cli_table *t = mz_cli_table_new(3, h);
    json_array_foreach(shown, i, q) {
      char g[512], l[512];
      json_t *flat[2] = {json_object(), json_object()};
      const char *keys[] = {"guarantees", "limits"};
      for (int k = 0; k < 2; k++) {
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(q, keys[k]), name, v)
            json_object_set_new(flat[k], name, json_real(mz_cli_num(v, "value")));
      }
      res_text(flat[0], g, sizeof g);
      res_text(flat[1], l, sizeof l);
      json_decref(flat[0]);
      json_decref(flat[1]);
      const char *row[] = {mz_cli_str(q, "role"), g, l};
      mz_cli_table_add(t, row);
    }
    mz_cli_table_print(t, stdout);
  }
  json_decref(shown);
  json_decref(resp);
  return MZ_CLI_EXIT_OK;
}

static int quota_set(mz_cli_ctx *c, const char *guarantee, const char *limit, int force) {
  char err[512];
  json_t *g = parse_res("--guarantee", guarantee ? guarantee : "", err, sizeof err);
  json_t *l = g ? parse_res("--limit", limit ? limit : guarantee ? guarantee : "", err, sizeof err) : NULL;
  if (!g || !l) {
    fprintf(stderr, "%s: %s\n", c->prog, err);
    json_decref(g);
    return MZ_CLI_EXIT_USAGE;
  }
  json_t *call = json_pack("{s:s, s:{s:b, s:[{s:s, s:o, s:o}]}}", "type", "UPDATE_QUOTA", "update_quota", "force",
                           force, "quota_configs", "role", c->args[0], "guarantees", g, "limits", l);
  int rc = mz_cli_api(c, call, NULL);
  json_decref(call);
  if (rc == 0) printf("Quota of role %s updated\n", c->args[0]);
  return rc;
}

int mz_cli_quota(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    mz_cli_quota_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? MZ_CLI_EXIT_USAGE : MZ_CLI_EXIT_OK;
  }
  mz_cli_ctx c;
  int rc;
  if (!strcmp(argv[1], "get")) {
    if ((rc = mz_cli_ops_parse(&c, "mezzo quota get", NULL, 0, argc - 1, argv + 1, 0, 1, mz_cli_quota_usage)) >= 0)
      return rc;
    return quota_get(&c);
  }
  if (!strcmp(argv[1], "set")) {
    const char *guarantee = NULL, *limit = NULL;
    int force = 0;
    const mz_flag extra[] = {{"guarantee", MZ_FLAG_STRING, &guarantee, "guaranteed resources"},
                             {"limit", MZ_FLAG_STRING, &limit, "resource limits"},
                             {"force", MZ_FLAG_BOOL, &force, "force"}};
    if ((rc = mz_cli_ops_parse(&c, "mezzo quota set", extra, 3, argc - 1, argv + 1, 1, 1, mz_cli_quota_usage)) >= 0)
      return rc;
    return quota_set(&c, guarantee, limit, force);
  }
  fprintf(stderr, "mezzo quota: unknown subcommand '%s' (get, set)\n", argv[1]);
  return MZ_CLI_EXIT_USAGE;
}
