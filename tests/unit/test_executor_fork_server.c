/* Unit tests for the executor fork server and its wire format: requests encode and
 * decode (and malformed ones are refused), descriptors travel over the socket, and a
 * real server (mz_executor_fork_server in a forked process) starts children that are
 * this process's (CLONE_PARENT), in the requested directory, with the requested argv
 * (also written over the server's argv strings), environment and stdio, with the cgroup.procs stand-ins
 * written and every other descriptor closed (also when the descriptors arrive at fds 0-3);
 * a child that cannot enter its directory
 * reports it on the error pipe; the server exits when its socket is closed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fork_wire.h"
#include "common/task_command.h"
#include "executor/fork_server.h"

static void test_request_round_trip(void **state) {
  char *argv[] = {"/bin/x", "--default", "", NULL};
  char *envp[] = {"A=1", "EMPTY=", "MESOS_SANDBOX=/s b", NULL};
  size_t len;
  /* An empty string would end its list on the wire: such a request is not encoded. */
  assert_null(mz_fork_request_encode(NULL, "/some dir", argv, envp, &len));
  char *x, *cwd, **a, **e;
  argv[2] = NULL;
  uint8_t *msg = mz_fork_request_encode(NULL, "/some dir", argv, envp, &len);
  assert_non_null(msg);
  assert_int_equal(mz_fork_request_decode(msg, len, &x, &cwd, &a, &e), 0);
  assert_null(x); /* no program: the child runs the server's entry */
  assert_string_equal(cwd, "/some dir");
  assert_string_equal(a[0], "/bin/x");
  assert_string_equal(a[1], "--default");
  assert_null(a[2]);
  assert_string_equal(e[0], "A=1");
  assert_string_equal(e[1], "EMPTY=");
  assert_string_equal(e[2], "MESOS_SANDBOX=/s b");
  assert_null(e[3]);
  free(a);
  free(e);
  free(msg);
  /* A program to exec. */
  msg = mz_fork_request_encode("mz-prog", "/d", argv, envp, &len);
  assert_int_equal(mz_fork_request_decode(msg, len, &x, &cwd, &a, &e), 0);
  assert_string_equal(x, "mz-prog");
  assert_string_equal(cwd, "/d");
  assert_string_equal(a[1], "--default");
  free(a);
  free(e);
  free(msg);
  /* An empty environment. */
  char *none[] = {NULL};
  msg = mz_fork_request_encode(NULL, "/", argv, none, &len);
  assert_int_equal(mz_fork_request_decode(msg, len, &x, &cwd, &a, &e), 0);
  assert_null(e[0]);
  free(a);
  free(e);
  free(msg);
}

static void test_malformed_requests_are_refused(void **state) {
  char *argv[] = {"/bin/x", NULL};
  char *envp[] = {"A=1", NULL};
  size_t len;
  uint8_t *msg = mz_fork_request_encode(NULL, "/d", argv, envp, &len);
  char *x, *cwd, **a, **e;
  /* Every cut of a valid request is refused, and so is a wrong magic or a trailing byte. */
  for (size_t cut = 0; cut < len; cut++) {
    uint8_t *copy = malloc(len);
    memcpy(copy, msg, len);
    assert_int_equal(mz_fork_request_decode(copy, cut, &x, &cwd, &a, &e), -1);
    free(copy);
  }
  uint8_t *longer = malloc(len + 1);
  memcpy(longer, msg, len);
  longer[len] = 'x';
  assert_int_equal(mz_fork_request_decode(longer, len + 1, &x, &cwd, &a, &e), -1);
  longer[0] ^= 1;
  assert_int_equal(mz_fork_request_decode(longer, len, &x, &cwd, &a, &e), -1);
  free(longer);
  free(msg);
  /* No argv at all, an empty cwd, and a request past the limit are not encoded or decoded. */
  char *noargs[] = {NULL};
  assert_null(mz_fork_request_encode(NULL, "/d", noargs, envp, &len));
  uint8_t empty_cwd[] = "MZFS2\0\0\0x\0\0\0";
  assert_int_equal(mz_fork_request_decode(empty_cwd, sizeof empty_cwd - 1, &x, &cwd, &a, &e), -1);
  char *big = malloc(MZ_FORK_MAX_MSG + 1);
  memset(big, 'a', MZ_FORK_MAX_MSG);
  big[MZ_FORK_MAX_MSG] = '\0';
  char *bigenv[] = {big, NULL};
  assert_null(mz_fork_request_encode(NULL, "/d", argv, bigenv, &len));
  free(big);
}

static void test_descriptors_travel(void **state) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  int p[2];
  assert_int_equal(pipe(p), 0);
  int fds[2] = {p[1], p[0]};
  assert_int_equal(mz_fork_send(sv[0], "hi", 2, fds, 2), 0);
  char buf[16];
  int got[MZ_FORK_MAX_FDS];
  size_t n;
  assert_int_equal(mz_fork_recv(sv[1], buf, sizeof buf, got, &n), 2);
  assert_int_equal(n, 2);
  assert_int_equal(write(got[0], "z", 1), 1); /* the received write end feeds our read end */
  char c;
  assert_int_equal(read(p[0], &c, 1), 1);
  assert_int_equal(c, 'z');
  assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
  close(got[0]);
  close(got[1]);
  /* Too many descriptors are not sent; a datagram larger than the buffer is an error. */
  int many[MZ_FORK_MAX_FDS + 1];
  for (int i = 0; i <= MZ_FORK_MAX_FDS; i++) many[i] = p[0];
  assert_int_equal(mz_fork_send(sv[0], "x", 1, many, MZ_FORK_MAX_FDS + 1), -1);
  assert_int_equal(mz_fork_send(sv[0], "0123456789abcdefXYZ", 19, fds, 1), 0);
  assert_int_equal(mz_fork_recv(sv[1], buf, sizeof buf, got, &n), -1);
  assert_int_equal(errno, EMSGSIZE);
  assert_int_equal(n, 0);
  /* The peer's close reads as 0. */
  close(sv[0]);
  assert_int_equal(mz_fork_recv(sv[1], buf, sizeof buf, got, &n), 0);
  close(sv[1]);
  close(p[0]);
  close(p[1]);
}

/* ------------------------------------------------------------------ a real server */

/* The server's "argv" (contiguous strings, as a real one's are), which each child rewrites. */
static char self_area[] = "/x/mezzo-executor\0--fork-server";

/* What a started child runs: reports what it sees on its stdout. */
static int report_entry(int argc, char **argv) {
  char cwd[512], cmdline[sizeof self_area + 1];
  if (!getcwd(cwd, sizeof cwd)) return 3;
  size_t n = sizeof self_area;
  for (size_t i = 0; i < n; i++) cmdline[i] = self_area[i] ? self_area[i] : ' ';
  while (n > 0 && cmdline[n - 1] == ' ') n--;
  cmdline[n] = '\0';
  const char *foo = getenv("FOO");
  int defaults = 1; /* every signal at its default action, none blocked */
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) defaults = 0;
  }
  sigset_t blocked;
  sigprocmask(SIG_SETMASK, NULL, &blocked);
  if (!sigisemptyset(&blocked)) defaults = 0;
  printf("argc=%d argv1=%s cwd=%s foo=%s home=%s fd3=%s fd4=%s cmdline=[%s] signals=%s\n", argc,
         argc > 1 ? argv[1] : "-", cwd, foo ? foo : "-", getenv("HOME") ? "set" : "unset",
         fcntl(3, F_GETFD) < 0 ? "closed" : "open", fcntl(4, F_GETFD) < 0 ? "closed" : "open", cmdline,
         defaults ? "default" : "changed");
  fflush(stdout);
  fprintf(stderr, "and stderr\n"); /* the same file in these tests */
  return 7;
}

static void on_signal(int sig) { (void)sig; }

typedef struct {
  pid_t server;
  int sock;
  char dir[64];
} server;

static void server_start(server *s) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  strcpy(s->dir, "/tmp/mz-forksrv-XXXXXX");
  assert_non_null(mkdtemp(s->dir));
  s->server = fork();
  assert_true(s->server >= 0);
  if (s->server == 0) {
    /* The socket high and fds 0-3 free: the requests' descriptors arrive where the child's
     * dup2s would overwrite them unless it moves them first. */
    int sock = fcntl(sv[1], F_DUPFD_CLOEXEC, 20);
    for (int fd = 0; fd <= 3; fd++) close(fd);
    close(sv[0]);
    close(sv[1]);
    /* Dispositions of the server's own (an ignored one, as inherited, a handler, a blocked
     * signal): its children start with none of them. */
    signal(SIGUSR1, SIG_IGN);
    signal(SIGTERM, on_signal);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, NULL);
    char *self[] = {self_area, self_area + strlen(self_area) + 1, NULL};
    _exit(mz_executor_fork_server(sock, self, report_entry));
  }
  close(sv[1]);
  s->sock = sv[0];
  int32_t hello = -1;
  assert_int_equal(recv(s->sock, &hello, sizeof hello, 0), (ssize_t)sizeof hello);
  assert_int_equal(hello, 0);
}

/* Asks s for a child in cwd (running exec, or the entry when NULL, with argv and envp or
 * the defaults below); returns its pid (or the negative reply); *errr: the error pipe's read end. */
static int32_t request_full(server *s, const char *exec, char **argv, char **envp, const char *cwd,
                            const char *out_path, int *errr, int njoin, int *join) {
  char *dargv[] = {"/x/mezzo-executor", "--default", NULL};
  char *denvp[] = {"FOO=bar baz", "MESOS_SANDBOX=/sandbox", NULL};
  size_t len;
  uint8_t *msg = mz_fork_request_encode(exec, cwd, argv ? argv : dargv, envp ? envp : denvp, &len);
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int fds[MZ_FORK_MAX_FDS] = {p[1], in, out, out};
  for (int i = 0; i < njoin; i++) fds[MZ_FORK_FIXED_FDS + i] = join[i];
  assert_int_equal(mz_fork_send(s->sock, msg, len, fds, MZ_FORK_FIXED_FDS + (size_t)njoin), 0);
  free(msg);
  close(p[1]);
  close(in);
  close(out);
  int32_t reply = 0;
  assert_int_equal(recv(s->sock, &reply, sizeof reply, 0), (ssize_t)sizeof reply);
  *errr = p[0];
  return reply;
}

static int32_t request(server *s, const char *cwd, const char *out_path, int *errr, int njoin, int *join) {
  return request_full(s, NULL, NULL, NULL, cwd, out_path, errr, njoin, join);
}

static char *slurp(const char *path) {
  static char buf[2048];
  int fd = open(path, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return buf;
}

static void test_server_starts_our_children(void **state) {
  server s;
  server_start(&s);
  char out[128], join1[128], join2[128];
  snprintf(out, sizeof out, "%s/stdout", s.dir);
  snprintf(join1, sizeof join1, "%s/cgroup.procs.1", s.dir);
  snprintf(join2, sizeof join2, "%s/cgroup.procs.2", s.dir);
  int join[2] = {open(join1, O_WRONLY | O_CREAT | O_CLOEXEC, 0644), open(join2, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)};
  int errr;
  int32_t pid = request(&s, s.dir, out, &errr, 2, join);
  close(join[0]);
  close(join[1]);
  assert_true(pid > 0);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid); /* CLONE_PARENT: ours, not the server's */
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 7);
  char e[64];
  assert_int_equal(read(errr, e, sizeof e), 0); /* started: nothing on the error pipe */
  close(errr);
  char want[1024];
  snprintf(want, sizeof want,
           "argc=2 argv1=--default cwd=%s foo=bar baz home=unset fd3=closed fd4=closed "
           "cmdline=[/x/mezzo-executor --default] signals=default\nand stderr\n",
           s.dir);
  assert_string_equal(slurp(out), want);
  assert_string_equal(slurp(join1), "0");
  assert_string_equal(slurp(join2), "0");

  /* A directory it cannot enter: exit 127 and the reason on the error pipe. */
  char missing[128];
  snprintf(missing, sizeof missing, "%s/nope", s.dir);
  pid = request(&s, missing, out, &errr, 0, NULL);
  assert_true(pid > 0);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 127);
  char why[256] = "";
  ssize_t n = read(errr, why, sizeof why - 1);
  close(errr);
  assert_true(n > 0);
  assert_non_null(strstr(why, "cannot enter the sandbox"));

  /* A malformed request and one without its descriptors are refused, and the server goes on. */
  int32_t reply = 0;
  assert_int_equal(mz_fork_send(s.sock, "garbage", 7, NULL, 0), 0);
  assert_int_equal(recv(s.sock, &reply, sizeof reply, 0), (ssize_t)sizeof reply);
  assert_int_equal(reply, -EINVAL);
  char *argv[] = {"/x", NULL};
  size_t len;
  uint8_t *msg = mz_fork_request_encode(NULL, "/", argv, argv + 1, &len);
  assert_int_equal(mz_fork_send(s.sock, msg, len, NULL, 0), 0);
  free(msg);
  assert_int_equal(recv(s.sock, &reply, sizeof reply, 0), (ssize_t)sizeof reply);
  assert_int_equal(reply, -EINVAL);
  pid = request(&s, s.dir, out, &errr, 0, NULL);
  assert_true(pid > 0);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_int_equal(WEXITSTATUS(st), 7);
  close(errr);

  /* Closing the socket ends the server. */
  close(s.sock);
  assert_int_equal(waitpid(s.server, &st, 0), s.server);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  unlink(out);
  unlink(join1);
  unlink(join2);
  rmdir(s.dir);
}

/* A direct command task's command: the child execs the program, looked up in the request's
 * PATH; one that is not there is reported on the error pipe. */
static void test_server_execs_programs_from_the_requests_path(void **state) {
  server s;
  server_start(&s);
  char out[128], prog[128], path[160];
  snprintf(out, sizeof out, "%s/stdout", s.dir);
  snprintf(prog, sizeof prog, "%s/mz-hello", s.dir);
  FILE *f = fopen(prog, "w");
  assert_non_null(f);
  fputs("#!/bin/sh\necho \"$0 $1 $FOO $PPID\"\nexit 5\n", f);
  fclose(f);
  assert_int_equal(chmod(prog, 0755), 0);
  snprintf(path, sizeof path, "PATH=/nowhere:%s", s.dir);
  char *argv[] = {"mz-hello", "arg", NULL};
  char *envp[] = {path, "FOO=x", NULL};
  int errr, st;
  int32_t pid = request_full(&s, "mz-hello", argv, envp, s.dir, out, &errr, 0, NULL);
  assert_true(pid > 0);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 5);
  char e[256];
  assert_int_equal(read(errr, e, sizeof e), 0); /* the exec closed it */
  close(errr);
  char want[256];
  snprintf(want, sizeof want, "%s arg x %d\n", prog, (int)getpid()); /* our child (CLONE_PARENT) */
  assert_string_equal(slurp(out), want);
  /* Not in that PATH. */
  char *argv2[] = {"mz-missing", NULL};
  pid = request_full(&s, "mz-missing", argv2, envp, s.dir, out, &errr, 0, NULL);
  assert_true(pid > 0);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_int_equal(WEXITSTATUS(st), 127);
  ssize_t n = read(errr, e, sizeof e - 1);
  close(errr);
  assert_true(n > 0);
  e[n] = '\0';
  assert_string_equal(e, MZ_COMMAND_EXEC_FAILED ": mz-missing: No such file or directory");
  close(s.sock);
  assert_int_equal(waitpid(s.server, &st, 0), s.server);
  unlink(out);
  unlink(prog);
  rmdir(s.dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_round_trip),
      cmocka_unit_test(test_malformed_requests_are_refused),
      cmocka_unit_test(test_descriptors_travel),
      cmocka_unit_test(test_server_starts_our_children),
      cmocka_unit_test(test_server_execs_programs_from_the_requests_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
