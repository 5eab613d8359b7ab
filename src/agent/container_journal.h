/* container_journal: the agent's record of the containers it started, so that a
 * restarted agent finds (and destroys, or leaves to recovery) what an earlier run
 * left behind.
 *
 * One append-only file, <dir>/journal, with a line per event:
 *   "+ <container id> <leader pid> <leader starttime>\n"   the container started
 *                        (pid 0: launched, its first process not known yet; a later
 *                        line with the same id gives it)
 *   "- <container id>\n"                                    it is gone
 * An append costs no new inode. A file per container (what this replaced) cost a
 * create and an unlink per task, and on an ext4 without a journal whose block group
 * saw many recent deletions an inode allocation took 0.3-0.5 ms of the agent's time.
 *
 * Opening replays the file (a torn last line, from a crash mid-write, is ignored;
 * so is any line that does not parse), takes in the one-file-per-container records
 * of earlier versions (<dir>/<id> holding "<pid> <starttime>"), and rewrites the file
 * with just the live records (journal.tmp, then rename). The file is rewritten the
 * same way whenever it holds MZ_CJOURNAL_SLACK lines more than twice the live ones.
 * Nothing is fsynced, as before: a record lost to a power cut leaves a container
 * whose cgroups the agent still finds at start (mz_cg_list; recover.c destroys the
 * unrecorded ones when no other agent uses the cgroups root, cgroups_lock.h).
 *
 * Limits: container ids of 1..MZ_CJOURNAL_ID_MAX characters without blanks (the
 * agent's are UUIDs); longer or blank-holding ids are refused by add().
 * Ownership: the journal owns its entries and its fd. */
#ifndef MZ_AGENT_CONTAINER_JOURNAL_H
#define MZ_AGENT_CONTAINER_JOURNAL_H

#include <stddef.h>
#include <sys/types.h>

#define MZ_CJOURNAL_ID_MAX 255
#define MZ_CJOURNAL_SLACK 1024

typedef struct mz_cjournal mz_cjournal;

/* Opens (creating) <dir>/journal, loading what is recorded. NULL with err. */
mz_cjournal *mz_cjournal_open(const char *dir, char *err, size_t errlen);
void mz_cjournal_free(mz_cjournal *j);

/* Records a started container. 0, or -1 (bad id, or the write failed: logged). */
int mz_cjournal_add(mz_cjournal *j, const char *id, pid_t pid, unsigned long long starttime);
/* Records that the container is gone (nothing when it is not recorded). */
void mz_cjournal_remove(mz_cjournal *j, const char *id);

/* The live records, in the order they were added: fills up to max entries of ids
 * (pointers owned by the journal, valid until the next call that changes it) and the
 * matching pids and starttimes (either may be NULL); returns how many are live. */
size_t mz_cjournal_list(const mz_cjournal *j, const char **ids, pid_t *pids, unsigned long long *starts, size_t max);
/* 1 when id is recorded, with its pid and starttime (either may be NULL). */
int mz_cjournal_get(const mz_cjournal *j, const char *id, pid_t *pid, unsigned long long *starttime);
/* Lines in the file now (live ones and history): for tests of the compaction. */
size_t mz_cjournal_lines(const mz_cjournal *j);

#endif
