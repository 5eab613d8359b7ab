/* log: one line per event, "LEVEL timestamp module: message", to stderr or to a
 * file under --log_dir. Owned by the process; not thread safe (one loop thread). */
#ifndef MZ_LOG_H
#define MZ_LOG_H

typedef enum { MZ_LOG_DEBUG = 0, MZ_LOG_INFO = 1, MZ_LOG_WARNING = 2, MZ_LOG_ERROR = 3 } mz_log_level;

/* Sets the minimum level printed (default INFO). */
void mz_log_set_level(mz_log_level level);
mz_log_level mz_log_get_level(void);
/* Parses "DEBUG", "INFO", "WARNING", "ERROR" (any case); returns -1 if unknown. */
int mz_log_level_parse(const char *s, mz_log_level *out);
const char *mz_log_level_name(mz_log_level level);
/* Sends the log to <dir>/<name>.log (appending) instead of stderr; -1 on failure (log stays on stderr). */
int mz_log_set_dir(const char *dir, const char *name);
/* The file the log goes to; NULL while it goes to stderr. */
const char *mz_log_path(void);

void mz_log(mz_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define MZ_DEBUG(mod, ...) mz_log(MZ_LOG_DEBUG, mod, __VA_ARGS__)
#define MZ_INFO(mod, ...) mz_log(MZ_LOG_INFO, mod, __VA_ARGS__)
#define MZ_WARN(mod, ...) mz_log(MZ_LOG_WARNING, mod, __VA_ARGS__)
#define MZ_ERROR(mod, ...) mz_log(MZ_LOG_ERROR, mod, __VA_ARGS__)

#endif
