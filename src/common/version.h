/* version: what the master and the agent report as their version (/version, /state,
 * GET_VERSION, registration). It is the Mesos release whose v1 APIs mezzo speaks:
 * clients compare it with the Mesos version they need. */
#ifndef MZ_COMMON_VERSION_H
#define MZ_COMMON_VERSION_H

#define MZ_VERSION "1.11.0"
#define MZ_BUILD_DATE __DATE__ " " __TIME__
#define MZ_BUILD_USER "mezzo"

#endif
