// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * supervise.c - the process that mounted: it keeps the mount's /dev/fuse
 * descriptor, the pool's memfd and the state's memfd (state.h), and runs
 * the daemon that serves the mount as a child, again when it dies:
 *
 *   - a child that exits or is killed while the mount is still there is
 *     started again, at once after one that was serving, else after a
 *     backoff (0.1 s doubling up to 5 s); more than RESTARTS_PER_MIN
 *     starts in a minute, or START_FAILS_MAX in a row that end before
 *     they serve (a store that cannot be opened, say), and the supervisor
 *     gives up: it unmounts and exits 1 (clients then get ENOTCONN, as
 *     when it is killed);
 *   - the gap is bounded: from the moment a daemon stops serving (killed,
 *     ended, or asked to stop for an upgrade) a next one must serve within
 *     the mount's swapin_timeout (at least GAP_MIN_MS), the bound clients
 *     already know for a page being brought back.  An upgrade's binary
 *     that does not is killed and the binary that served before is started
 *     again (counted as refused); any other daemon that does not, and the
 *     supervisor gives up as above, so that no client waits longer;
 *   - SIGHUP (usmctl restart) replaces the child with the binary now
 *     installed at the path this one was started from: SIGTERM (SIGKILL
 *     after UPGRADE_WAIT_MS), then that binary; if it refuses the state
 *     (USMFS_EXIT_REFUSED: another layout) the binary that made the state
 *     goes on serving and the refusal is counted (usmctl status);
 *   - SIGTERM/SIGINT unmount the mount; an unmount (umount, fusermount -u)
 *     ends the child and then the supervisor, with status 0.
 *
 * A child is told its descriptors on its command line (--serve=) and says
 * it serves by writing a byte to a pipe: the restart is counted then, and
 * a new binary becomes the one to start again after a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "usmfs.h"

#define RESTARTS_PER_MIN	20
#define BACKOFF_MAX_MS		5000
#define START_FAILS_MAX		8	/* in a row, none serving: ~11 s */
#define UPGRADE_WAIT_MS		10000
#define DYING_CHECK_MS		100
#define GAP_MIN_MS		1000

struct sup {
	char **argv;			/* the child's command line */
	char serve_arg[128];
	int fuse, pool, state, sigfd;
	int exe;			/* the binary serving now */
	char installed[PATH_MAX];	/* where an upgrade is looked for */
	pid_t child;
	int ready_rd;			/* the child's "serving" pipe */
	int cand;			/* an upgrade's binary, until it serves */
	unsigned int restarts, refused, fails;
	pid_t dying[8];			/* killed, a thread stuck in the kernel */
	bool stopping, upgrading;
	int exit_code;
	long long up_deadline;		/* SIGKILL an upgraded child then */
	long long gap_since;		/* no daemon serves since; 0: one does */
	long long gap_ms;		/* the bound on a gap */
	long long starts[RESTARTS_PER_MIN];
	unsigned int nstarts;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int start_child(struct sup *s, int exe)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	snprintf(s->serve_arg, sizeof(s->serve_arg), "--serve=%d,%d,%d,%u,%u,%d",
		 s->fuse, s->pool, s->state, s->restarts, s->refused, pfd[1]);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t all;

		/* its own process group: a terminal's ^C is for us */
		setpgid(0, 0);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		fcntl(s->fuse, F_SETFD, 0);
		fcntl(s->pool, F_SETFD, 0);
		fcntl(s->state, F_SETFD, 0);
		fcntl(pfd[1], F_SETFD, 0);
		fexecve(exe, s->argv, environ);
		fprintf(stderr, "usmfs: supervisor: cannot start the daemon: %s\n",
			strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	s->child = pid;
	s->ready_rd = pfd[0];
	if (s->nstarts < RESTARTS_PER_MIN)
		s->starts[s->nstarts++] = now_ms();
	else {
		memmove(s->starts, s->starts + 1,
			(RESTARTS_PER_MIN - 1) * sizeof(s->starts[0]));
		s->starts[RESTARTS_PER_MIN - 1] = now_ms();
	}
	return 0;
}

/* The child says it serves: a restart done. */
static void child_ready(struct sup *s)
{
	char c;

	if (read(s->ready_rd, &c, 1) != 1)
		return;
	close(s->ready_rd);
	s->ready_rd = -1;
	s->fails = 0;
	s->gap_since = 0;
	if (s->cand >= 0) {	/* an upgrade that took */
		close(s->exe);
		s->exe = s->cand;
		s->cand = -1;
		fprintf(stderr, "usmfs: supervisor: %s serves now\n", s->installed);
	}
}

static void stop_child(struct sup *s, int sig)
{
	if (s->child > 0)
		kill(s->child, sig);
}

/* Wait for the child (bounded), SIGKILL at the end. */
static int reap(struct sup *s, int ms)
{
	long long end = now_ms() + ms;
	int status = 0;

	while (waitpid(s->child, &status, WNOHANG) == 0) {
		if (now_ms() >= end) {
			kill(s->child, SIGKILL);
			waitpid(s->child, &status, 0);
			break;
		}
		poll(NULL, 0, 20);
	}
	s->child = 0;
	if (s->ready_rd >= 0) {
		close(s->ready_rd);
		s->ready_rd = -1;
	}
	return status;
}

/*
 * A daemon killed while one of its threads waits in the kernel for its own
 * mount (an invalidation waiting for the write-back of a dirty page, which
 * only a daemon can answer) never finishes exiting by itself: its main
 * thread is a zombie (or has SIGKILL pending) while that thread waits.
 * The next daemon must start now; it answers that write-back (resent),
 * and the old one's last thread then ends.
 */
static bool child_dying(pid_t pid)
{
	char path[64], line[256], *p;
	bool dying = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')) &&
	    p[1] == ' ' && p[2] == 'Z')
		dying = true;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (!dying && f && fgets(line, sizeof(line), f)) {
		unsigned long long pend;

		if (sscanf(line, "ShdPnd: %llx", &pend) == 1)
			dying = pend & (1ULL << (SIGKILL - 1));
	}
	if (f)
		fclose(f);
	return dying;
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (status < 0)
		snprintf(buf, len, "killed, exiting");
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
}

/* Start a daemon again after @status; false when we give up. */
static bool restart(struct sup *s, int status)
{
	char why[64];
	int exe = s->exe;
	long long delay = 0;

	describe_exit(status, why, sizeof(why));
	if (s->cand >= 0 && status >= 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == USMFS_EXIT_REFUSED) {
		fprintf(stderr, "usmfs: supervisor: %s refused the mount's "
			"state: the daemon that made it goes on\n", s->installed);
		s->refused++;
		close(s->cand);
		s->cand = -1;
	} else if (s->upgrading) {
		s->upgrading = false;
		s->cand = open(s->installed, O_RDONLY | O_CLOEXEC);
		if (s->cand < 0)
			fprintf(stderr, "usmfs: supervisor: cannot open %s: %s; "
				"the same binary goes on\n", s->installed,
				strerror(errno));
		else
			exe = s->cand;
	} else {
		fprintf(stderr, "usmfs: supervisor: the daemon (pid %d) ended "
			"(%s) with the mount in place: starting it again\n",
			(int)s->child, why);
		if (s->fails >= START_FAILS_MAX) {
			fprintf(stderr, "usmfs: supervisor: %d daemons in a row "
				"ended before serving: giving up, unmounting\n",
				START_FAILS_MAX);
			return false;
		}
		if (s->fails++)
			delay = 100LL << (s->fails - 2 < 6 ? s->fails - 2 : 6);
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
	}
	if (s->nstarts == RESTARTS_PER_MIN &&
	    now_ms() - s->starts[0] < 60000) {
		fprintf(stderr, "usmfs: supervisor: %d daemons started in the "
			"last minute: giving up, unmounting\n", RESTARTS_PER_MIN);
		return false;
	}
	if (delay)
		poll(NULL, 0, (int)delay);
	s->restarts++;
	if (start_child(s, exe)) {
		fprintf(stderr, "usmfs: supervisor: fork: %s\n", strerror(errno));
		return false;
	}
	return true;
}

/*
 * The daemon @pid ended (@status) or is dying (-1: still to be reaped).
 * False when the supervisor is done: unmounted (s->exit_code set), or it
 * gives up (restart).
 */
static bool child_gone(struct sup *s, pid_t pid, int status)
{
	if (!s->gap_since)
		s->gap_since = now_ms();
	if (s->ready_rd >= 0) {
		close(s->ready_rd);
		s->ready_rd = -1;
	}
	if (status < 0) {
		for (unsigned int i = 0; i < 8; i++) {
			if (!s->dying[i]) {
				s->dying[i] = pid;
				break;
			}
		}
	}
	if (fuse_conn_gone(s->fuse)) {	/* unmounted: done */
		char why[64];

		if (status < 0)		/* its last threads are ending */
			status = reap(s, UPGRADE_WAIT_MS);
		describe_exit(status, why, sizeof(why));
		if (fs.debug || status)
			fprintf(stderr, "usmfs: supervisor: unmounted, the "
				"daemon ended (%s)\n", why);
		s->child = 0;
		s->exit_code = status >= 0 && WIFEXITED(status) &&
			       WEXITSTATUS(status) == 0 ? 0 : 1;
		return false;
	}
	if (!restart(s, status)) {
		s->child = 0;
		s->exit_code = 1;
		return false;
	}
	return true;
}

/*
 * No daemon has served for s->gap_ms and the one started has not said it
 * serves: an upgrade's binary is killed and the one that served before
 * starts again; otherwise the supervisor gives up (false).
 */
static bool gap_over(struct sup *s)
{
	char t[32];

	snprintf(t, sizeof(t), "%lld.%03llds", s->gap_ms / 1000,
		 s->gap_ms % 1000);
	stop_child(s, SIGKILL);
	reap(s, UPGRADE_WAIT_MS);
	if (s->cand >= 0) {
		fprintf(stderr, "usmfs: supervisor: %s did not serve within "
			"%s (swapin_timeout): killed, the daemon that served "
			"before goes on\n", s->installed, t);
		close(s->cand);
		s->cand = -1;
		s->refused++;
		s->restarts++;
		s->gap_since = now_ms();
		if (!start_child(s, s->exe))
			return true;
		fprintf(stderr, "usmfs: supervisor: fork: %s\n",
			strerror(errno));
	} else {
		fprintf(stderr, "usmfs: supervisor: no daemon served for %s "
			"(swapin_timeout): giving up, unmounting\n", t);
	}
	s->exit_code = 1;
	return false;
}

static int make_memfd(const char *name, uint64_t bytes)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)bytes)) {
		fprintf(stderr, "usmfs: %s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The child's command line: ours, with the mount point made absolute
 * (argv[@mp]), then -f and --serve= (filled by start_child). */
static char **child_argv(struct sup *s, int argc, char **argv, int mp,
			 const char *mnt)
{
	char **a = calloc((size_t)argc + 3, sizeof(*a));
	int i, k = 0;

	if (!a)
		return NULL;
	a[k++] = argv[0];
	for (i = 1; i < argc; i++)
		a[k++] = i == mp ? (char *)mnt : argv[i];
	a[k++] = "-f";
	a[k++] = s->serve_arg;
	a[k] = NULL;
	return a;
}

int supervise(int argc, char **argv, int mp, const char *mnt, int fuse_fd,
	      uint64_t pool_bytes)
{
	struct sup s = { .fuse = fuse_fd, .ready_rd = -1, .cand = -1, .exe = -1 };
	struct signalfd_siginfo si;
	sigset_t set;
	ssize_t len;
	int status, ret = 1;

	s.argv = child_argv(&s, argc, argv, mp, mnt);
	len = readlink("/proc/self/exe", s.installed, sizeof(s.installed) - 1);
	if (!s.argv || len <= 0) {
		fprintf(stderr, "usmfs: supervisor: cannot find our binary\n");
		return 1;
	}
	s.installed[len] = '\0';
	s.gap_ms = fs.mo.swapin_timeout_ms > GAP_MIN_MS ?
		   (long long)fs.mo.swapin_timeout_ms : GAP_MIN_MS;
	s.gap_since = now_ms();	/* the first daemon must serve in time too */
	s.exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	s.pool = make_memfd("usmfs-pool", pool_bytes);
	s.state = make_memfd("usmfs-state", STATE_SPAN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s.sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (s.exe < 0 || s.pool < 0 || s.state < 0 || s.sigfd < 0 ||
	    start_child(&s, s.exe)) {
		fprintf(stderr, "usmfs: supervisor: cannot start: %s\n",
			strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = s.sigfd, .events = POLLIN },
			{ .fd = s.ready_rd, .events = POLLIN },
		};
		int wait = s.child > 0 ? DYING_CHECK_MS : -1;

		if (s.upgrading && s.child > 0 && now_ms() >= s.up_deadline) {
			stop_child(&s, SIGKILL);
			s.up_deadline = now_ms() + UPGRADE_WAIT_MS;
		}
		/* a started daemon that has not said it serves, too late */
		if (s.child > 0 && s.ready_rd >= 0 && s.gap_since &&
		    now_ms() - s.gap_since >= s.gap_ms && !gap_over(&s)) {
			ret = s.exit_code;
			break;
		}
		if (poll(p, 2, wait) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			child_ready(&s);
		if (s.child > 0 && child_dying(s.child)) {
			/* most are gone a moment later: their exit status
			 * matters (USMFS_EXIT_REFUSED) */
			for (int i = 0; i < 20; i++) {
				pid_t w = waitpid(s.child, &status, WNOHANG);

				if (w == s.child)
					break;
				status = -1;
				if (w < 0)
					break;
				poll(NULL, 0, 10);
			}
			if (!child_gone(&s, s.child, status)) {
				ret = s.exit_code;
				break;
			}
			continue;
		}
		if (!(p[0].revents & POLLIN))
			continue;
		if (read(s.sigfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			s.stopping = true;
			ret = 0;
			break;
		}
		if (si.ssi_signo == SIGHUP) {
			if (!s.upgrading && s.child > 0) {
				fprintf(stderr, "usmfs: supervisor: replacing "
					"the daemon with %s\n", s.installed);
				s.upgrading = true;
				s.up_deadline = now_ms() + UPGRADE_WAIT_MS;
				if (!s.gap_since)
					s.gap_since = now_ms();
				stop_child(&s, SIGTERM);
			}
			continue;
		}
		/* SIGCHLD: the current daemon, or one that was dying */
		for (;;) {
			pid_t pid = waitpid(-1, &status, WNOHANG);

			if (pid <= 0)
				break;
			if (pid == s.child && !child_gone(&s, pid, status)) {
				ret = s.exit_code;
				goto out;
			}
			for (unsigned int i = 0; i < 8; i++)
				if (s.dying[i] == pid)
					s.dying[i] = 0;
		}
	}
out:
	/* the caller unmounts; a child still serving ends with the mount */
	if (s.child > 0) {
		fuse_session_unmount(fs.se);
		reap(&s, UPGRADE_WAIT_MS);
	}
	free(s.argv);
	return ret;
}
