/* cgroup_files: the files of containers' v1 cgroups that the agent reads or writes
 * for every container, kept open for as long as the set of cgroups lives.
 *
 * A container costs the agent about fifteen cgroup files: each hierarchy's
 * cgroup.procs (which its first process joins), its limits, the counters reset on
 * reuse, the OOM control file, and what tells at its end whether the set can be
 * reused (pids.current, freezer.state, memory.usage_in_bytes). An open of
 * one is a path walk through kernfs and an allocation of an open file: about a
 * fifth of the agent's CPU per task in `make bench-launch`. A reused set of
 * cgroups (isolation.c, "reuse") is renamed from one container to the next, and
 * an open file of a cgroup stays that cgroup's across a rename: so a set's files
 * are opened once, kept here, and read with pread at offset 0 (a cgroup file is
 * generated afresh when read from its start) or written again.
 *
 * Sets are found by the name their cgroups have now: a container's id while it
 * lives, none while they wait in the pool (detached). At most max_sets sets keep
 * files (each holds up to MZ_CG_FILES_PER_SET fds; the agent runs under a limit on
 * open files): other containers open their files as they need them. Kept fds are
 * close-on-exec and at MZ_CG_FILES_FD_MIN or above, clear of the low fds that a
 * launched child rearranges.
 *
 * A set also remembers the value last written to each of its settings (limits: a
 * value written again changes nothing), so that a reused set whose next container
 * has the same limits is not written to again.
 *
 * A set also keeps the eventfd that its memory cgroup signals on an OOM (registered
 * once through cgroup.event_control, under the name MZ_CG_FILES_OOM_EVENTFD): the
 * registration follows the cgroup through its renames, and ends when the fd is
 * closed with the set.
 *
 * Only the names listed in cgroup_files.c are kept. Ownership: mz_cg_files owns
 * every set and fd; callers borrow fds and never close them. */
#ifndef MZ_AGENT_CGROUP_FILES_H
#define MZ_AGENT_CGROUP_FILES_H

#include <stddef.h>

#define MZ_CG_FILES_FD_MIN 16
#define MZ_CG_FILES_HIERARCHIES 8 /* hierarchy indexes 0..7 (isolation.h's MZ_CGC_*) */
#define MZ_CG_FILES_PER_SET 16    /* the most fds one set holds (isolation's v1 files) */
#define MZ_CG_FILES_OOM_EVENTFD "(eventfd of memory.oom_control)" /* no cgroup file has that name */

typedef struct mz_cg_files mz_cg_files;
typedef struct mz_cg_fileset mz_cg_fileset;

mz_cg_files *mz_cg_files_new(size_t max_sets);
/* Closes every kept fd. */
void mz_cg_files_free(mz_cg_files *f);
/* How many sets may keep files when the agent may have `nofile` open files. */
size_t mz_cg_files_max_sets(unsigned long long nofile);

/* The open flags of kept files of this name (O_RDONLY, O_WRONLY or O_RDWR), or -1
 * when files of that name are not kept. */
int mz_cg_files_mode(const char *name);

/* The set of the container `id`; when there is none and `make`, a new empty one
 * if fewer than max_sets exist. NULL otherwise. */
mz_cg_fileset *mz_cg_files_of(mz_cg_files *f, const char *id, int make);
/* The kept fd of file `name` of hierarchy c in set s, or -1 when not open yet. */
int mz_cg_fileset_fd(const mz_cg_fileset *s, int c, const char *name);
/* Keeps fd, just opened with mz_cg_files_mode(name), as file `name` of hierarchy c
 * of set s. Returns the fd to use: kept (*kept = 1; fd itself is then closed or
 * kept), or fd when it could not be kept (*kept = 0: the caller closes it). */
int mz_cg_fileset_keep(mz_cg_fileset *s, int c, const char *name, int fd, int *kept);

/* Whether `value` is what was last written to setting `name` of hierarchy c of s
 * (0 when unknown, and for files that are not settings). */
int mz_cg_fileset_holds(const mz_cg_fileset *s, int c, const char *name, const char *value);
/* Records the value written to a setting (NULL: unknown, after a failed write). */
void mz_cg_fileset_wrote(mz_cg_fileset *s, int c, const char *name, const char *value);

/* Takes the container's set out of the index (its cgroups now have another name);
 * NULL when it has none. */
mz_cg_fileset *mz_cg_files_detach(mz_cg_files *f, const char *id);
/* Gives a detached set (NULL: nothing) to container `id`, whose cgroups they now are;
 * a set the container had before is dropped. */
void mz_cg_files_attach(mz_cg_files *f, mz_cg_fileset *s, const char *id);
/* Closes the files of a set, attached or detached, and forgets it (NULL: nothing). */
void mz_cg_files_drop(mz_cg_files *f, mz_cg_fileset *s);
/* How many sets keep files, and how many fds they hold. */
size_t mz_cg_files_sets(const mz_cg_files *f);
size_t mz_cg_files_fds(const mz_cg_files *f);

#endif
