/* fork_wire: the messages between the agent and its executor fork server
 * (`mezzo-executor --fork-server`, src/executor/fork_server.c; the agent's side is
 * src/agent/fork_server.c), over a SOCK_SEQPACKET socketpair.
 *
 * A request is one datagram: the magic, then NUL-terminated strings: the program to
 * exec (empty: none, the child runs mezzo-executor's main), the working directory,
 * the argv strings and an empty string, the environment strings and an empty string. It carries (SCM_RIGHTS) the new executor's descriptors, in order:
 * the launch error pipe's write end, stdin, stdout, stderr, then the cgroup.procs
 * files it joins (at most MZ_CGROUP_FDS_MAX). The reply is one int32: the new
 * process's pid (a child of the agent, not of the server) or -errno. The server's
 * first datagram, before any request, is an int32 0: its hello. */
#ifndef MZ_FORK_WIRE_H
#define MZ_FORK_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

#define MZ_FORK_SERVER_FD 3 /* where the agent puts the server's end of the socket */
#define MZ_FORK_MAGIC "MZFS2"
#define MZ_FORK_MAX_MSG (256 * 1024) /* a request past it is not sent: the agent execs instead */
#define MZ_FORK_FIXED_FDS 4          /* error pipe, stdin, stdout, stderr */
#define MZ_FORK_MAX_FDS (MZ_FORK_FIXED_FDS + MZ_CGROUP_FDS_MAX)

/* The request for exec (the program the child execs, looked up in envp's PATH when it
 * has no '/'; NULL: the child runs the server's entry), cwd, argv and envp
 * (NULL-terminated) as a malloc'd buffer; its length in *len. NULL when it cannot be
 * one: past MZ_FORK_MAX_MSG, no argv, an empty cwd, or an empty argv or envp string
 * (the caller launches it itself). */
uint8_t *mz_fork_request_encode(const char *exec, const char *cwd, char *const *argv, char *const *envp,
                                size_t *len);
/* Parses a request in buf (len bytes; the strings stay in buf): 0 with *exec (NULL for
 * none), *cwd and the malloc'd NULL-terminated arrays *argv (at least one string) and
 * *envp, -1 if malformed. */
int mz_fork_request_decode(uint8_t *buf, size_t len, char **exec, char **cwd, char ***argv, char ***envp);

/* Sends msg with nfds descriptors (at most MZ_FORK_MAX_FDS). 0, or -1 with errno. */
int mz_fork_send(int sock, const void *msg, size_t len, const int *fds, size_t nfds);
/* Receives one datagram into buf (cap bytes) and up to MZ_FORK_MAX_FDS descriptors
 * (close-on-exec) into fds, their count in *nfds. Its length (0: the peer closed), or -1
 * with errno (EMSGSIZE when the datagram or its descriptors were cut; those received are
 * closed). */
ssize_t mz_fork_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds);

#endif
