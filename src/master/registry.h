/* registry: the master's durable state behind one interface, a table of
 * functions, so that a second backend (ZooKeeper, split by entry and changed
 * with multi-ops) can sit beside the SQLite file of a standalone master.
 *
 * What is kept (as Mesos's registry): every agent the master admitted, with its
 * state (admitted, unreachable, gone) and the time it entered that state, and an
 * opaque record the registrar defines (a packed mesos.v1.AgentInfo whose
 * resources are the agent's total, dynamic reservations included); the weight
 * of each role; the quota of each role (a QuotaConfig in JSON text); and named
 * values (text under a key, e.g. "maintenance/schedule" or
 * "maintenance/agent/<id>") for state the registrar keeps whole, such as the
 * maintenance schedule and each agent's drain or deactivation.
 *
 * A change is a list of operations applied all or nothing (one transaction in
 * SQLite, one multi-op in ZooKeeper): apply() returns only once it is durable.
 * The registrar (registry_master.c) writes BEFORE the master acts: an agent is
 * recorded before it is told REGISTERED, marked unreachable or gone before that
 * is announced.
 *
 * Ownership: a backend handle is owned by whoever opened it (close() frees it);
 * operations borrow their strings and bytes; a loaded mz_reg_state is owned by
 * the caller and freed with mz_reg_state_free(). */
#ifndef MZ_MASTER_REGISTRY_H
#define MZ_MASTER_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define MZ_REG_MAX_RECORD (1u << 20) /* largest agent record or value (ZooKeeper's znode limit) */
#define MZ_REG_MAX_KEY 256           /* longest value key */

typedef enum {
  MZ_REG_AGENT_ADMITTED = 1,    /* registered with the master (may be disconnected) */
  MZ_REG_AGENT_UNREACHABLE = 2, /* failed health checks / did not re-register; may come back */
  MZ_REG_AGENT_GONE = 3,        /* unregistered or removed for good; told to shut down if it comes back */
} mz_reg_agent_state;

typedef struct {
  char *id;
  mz_reg_agent_state state;
  double time; /* wall clock seconds when it entered state */
  uint8_t *data; /* the registrar's record */
  size_t len;
} mz_reg_agent;

typedef struct {
  char *role;
  double weight;
} mz_reg_weight;

typedef struct {
  char *role;
  char *config; /* JSON text */
} mz_reg_quota;

/* Everything a backend holds. */
typedef struct {
  char *key;
  char *text;
} mz_reg_value;

typedef struct {
  mz_reg_agent *agents;
  size_t nagents;
  mz_reg_weight *weights;
  size_t nweights;
  mz_reg_quota *quotas;
  size_t nquotas;
  mz_reg_value *values; /* ordered by key */
  size_t nvalues;
} mz_reg_state;

typedef enum {
  MZ_REG_PUT_AGENT,    /* insert or replace: id, state, time, data/len */
  MZ_REG_DELETE_AGENT, /* forget id (expiry of unreachable / gone agents) */
  MZ_REG_PUT_WEIGHT,   /* role (id), weight */
  MZ_REG_PUT_QUOTA,    /* role (id), text; text NULL removes the role's quota */
  MZ_REG_PUT_VALUE,    /* key (id), text; text NULL removes the key */
} mz_reg_op_type;

/* One operation; every pointer is borrowed for the duration of apply(). */
typedef struct {
  mz_reg_op_type type;
  const char *id; /* agent id or role */
  mz_reg_agent_state state;
  double time;
  const uint8_t *data;
  size_t len;
  double weight;
  const char *text;
} mz_reg_op;

typedef struct mz_registry_backend {
  const char *name;
  /* Opens (creating if needed) the registry at location (SQLite: a file path). NULL with err. */
  void *(*open)(const char *location, char *err, size_t errlen);
  void (*close)(void *b);
  /* Reads everything into *out (zeroed first). 0, or -1 with err (then *out is empty). */
  int (*load)(void *b, mz_reg_state *out, char *err, size_t errlen);
  /* Applies ops atomically and durably: 0, or -1 with err and nothing changed. */
  int (*apply)(void *b, const mz_reg_op *ops, size_t n, char *err, size_t errlen);
} mz_registry_backend;

/* The SQLite backend: <location> is the database file (WAL, synchronous=FULL). */
extern const mz_registry_backend mz_registry_sqlite;
/* A backend that keeps nothing across restarts (--registry=in_memory). */
extern const mz_registry_backend mz_registry_in_memory;

/* Backend by name ("sqlite", "in_memory"); NULL if unknown. */
const mz_registry_backend *mz_registry_backend_find(const char *name);

void mz_reg_state_free(mz_reg_state *s);

#endif
