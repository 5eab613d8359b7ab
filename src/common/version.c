/* version: see version.h. */
#include "common/version.h"

#include <jansson.h>

json_t *mz_version_json(void) {
  json_t *j = json_object();
  json_object_set_new(j, "version", json_string(MZ_VERSION));
  json_object_set_new(j, "build_date", json_string(MZ_BUILD_DATE));
  json_object_set_new(j, "build_user", json_string(MZ_BUILD_USER));
  return j;
}
