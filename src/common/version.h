/* version: what the master and the agent report as their version (/version, /state,
 * GET_VERSION, registration). It is the Mesos release whose v1 APIs mezzo speaks:
 * clients compare it with the Mesos version they need. */
#ifndef MZ_COMMON_VERSION_H
#define MZ_COMMON_VERSION_H

#define MZ_VERSION "1.11.0"
#define MZ_BUILD_DATE __DATE__ " " __TIME__
#define MZ_BUILD_USER "mezzo"

/* The body of GET /version, the master's and the agent's: {version, build_date, build_user}
 * (new reference). */
struct json_t;
struct json_t *mz_version_json(void);

#endif
