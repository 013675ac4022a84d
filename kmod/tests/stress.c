// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmod/tests/stress.c - races and references on a usmfs mount, run in the
 * guest by kmod/tests/guest.sh (built -static on the host).
 *
 *   stress race DIR SECONDS   faults, writes, truncates and hole punches on
 *                             one file from four processes at once
 *   stress settle STATS       frames deferred come back; prints "used"
 *   stress pin DIR STATS      a page pinned by vmsplice() survives its file's
 *                             truncation (its frame is deferred, not reused),
 *                             and comes back to the pool once the pipe drops it
 *
 * Exit 0 on success; a message on stderr and exit 1 on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG	4096
#define NPG	64

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("stress: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static sigjmp_buf jb;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

/* Touch every page of a shared mapping; SIGBUS (truncated under us) is fine. */
static void mapper(const char *path, time_t end)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	volatile unsigned long sum = 0;

	sigaction(SIGBUS, &sa, NULL);
	while (time(NULL) < end) {
		int fd = open(path, O_RDWR);
		char *p;

		if (fd < 0)
			die("mapper: open: %s", strerror(errno));
		p = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			die("mapper: mmap: %s", strerror(errno));
		for (volatile int i = 0; i < NPG; i++) {
			if (sigsetjmp(jb, 1))
				continue;
			if (i & 1)
				p[i * PG + (i % PG)] = (char)i;
			else
				sum += (unsigned char)p[i * PG];
		}
		munmap(p, NPG * PG);
		close(fd);
	}
	(void)sum;
	exit(0);
}

static void truncater(const char *path, time_t end)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		die("truncater: open: %s", strerror(errno));
	while (time(NULL) < end) {
		if (ftruncate(fd, (rand() % (NPG + 1)) * PG - (rand() & 1) * 100 + 100))
			die("truncater: ftruncate: %s", strerror(errno));
		usleep(rand() % 2000);
		if (ftruncate(fd, NPG * PG))
			die("truncater: ftruncate: %s", strerror(errno));
	}
	exit(0);
}

static void writer(const char *path, time_t end)
{
	char buf[3 * PG];
	int fd = open(path, O_RDWR);

	if (fd < 0)
		die("writer: open: %s", strerror(errno));
	memset(buf, 0x5a, sizeof(buf));
	while (time(NULL) < end) {
		off_t off = (rand() % NPG) * PG + rand() % PG;

		if (pwrite(fd, buf, sizeof(buf), off) < 0 && errno != ENOSPC)
			die("writer: pwrite: %s", strerror(errno));
		if (pread(fd, buf, sizeof(buf), off) < 0)
			die("writer: pread: %s", strerror(errno));
		memset(buf, 0x5a, sizeof(buf));
	}
	exit(0);
}

static void puncher(const char *path, time_t end)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		die("puncher: open: %s", strerror(errno));
	while (time(NULL) < end) {
		off_t off = (rand() % NPG) * PG + rand() % 100;

		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			      (rand() % 8 + 1) * PG) && errno != ENOSPC)
			die("puncher: fallocate: %s", strerror(errno));
		if (fallocate(fd, 0, off, PG) && errno != ENOSPC)
			die("puncher: fallocate: %s", strerror(errno));
		(void)lseek(fd, off, (rand() & 1) ? SEEK_DATA : SEEK_HOLE);
	}
	exit(0);
}

static int race(const char *dir, int seconds)
{
	void (*fn[])(const char *, time_t) = { mapper, mapper, truncater,
					       writer, puncher };
	time_t end = time(NULL) + seconds;
	char path[4096];
	int fd, bad = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/race", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, NPG * PG))
		die("race: create %s: %s", path, strerror(errno));
	close(fd);
	for (size_t i = 0; i < sizeof(fn) / sizeof(fn[0]); i++) {
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (!pid) {
			srand(getpid());
			fn[i](path, end);
		}
	}
	for (;;) {
		int st;

		pid = wait(&st);
		if (pid < 0)
			break;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "stress: child %d: status 0x%x\n", pid, st);
			bad = 1;
		}
	}
	if (unlink(path))
		die("unlink %s: %s", path, strerror(errno));
	return bad;
}

static long stat_of(const char *stats, const char *key)
{
	char line[512], k[64];
	long v, found = -1;
	FILE *f = fopen(stats, "r");

	if (!f)
		die("open %s: %s", stats, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", k, &v) == 2 && !strcmp(k, key))
			found = v;
	fclose(f);
	return found;
}

/* Frames freed while still referenced come back within a few rescans. */
static long settled_used(const char *stats)
{
	for (int i = 0; i < 50 && stat_of(stats, "deferred"); i++)
		usleep(100 * 1000);
	if (stat_of(stats, "deferred"))
		die("deferred=%ld for 5 s", stat_of(stats, "deferred"));
	return stat_of(stats, "used");
}

static int pin(const char *dir, const char *stats)
{
	long used0 = settled_used(stats), deferred;
	char path[4096], got[PG];
	struct iovec iov;
	int fd, pfd[2];
	char *p;

	snprintf(path, sizeof(path), "%s/pin", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, PG))
		die("pin: create: %s", strerror(errno));
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("pin: mmap: %s", strerror(errno));
	memset(p, 'P', PG);
	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	iov.iov_base = p;
	iov.iov_len = PG;
	/* The pipe now holds a reference to the page itself. */
	if (vmsplice(pfd[1], &iov, 1, 0) != PG)
		die("vmsplice: %s", strerror(errno));
	munmap(p, PG);
	if (ftruncate(fd, 0))
		die("pin: ftruncate: %s", strerror(errno));
	deferred = stat_of(stats, "deferred");
	if (deferred < 1)
		fprintf(stderr, "stress: pin: nothing deferred: this kernel's vmsplice copied\n");
	/* Its frame must not be handed out while the pipe has it. */
	if (ftruncate(fd, 64 * PG))
		die("pin: ftruncate: %s", strerror(errno));
	for (int i = 0; i < 64; i++)
		if (pwrite(fd, "Q", 1, (off_t)i * PG) != 1)
			die("pin: pwrite: %s", strerror(errno));
	if (read(pfd[0], got, PG) != PG)
		die("pin: read pipe: %s", strerror(errno));
	for (int i = 0; i < PG; i++)
		if (got[i] != 'P')
			die("pin: pipe data changed at %d: %#x (frame reused?)", i,
			    (unsigned char)got[i]);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	unlink(path);
	if (settled_used(stats) != used0)
		die("pin: used=%ld (was %ld) after the pipe let go",
		    stat_of(stats, "used"), used0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "race"))
		return race(argv[2], atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "settle"))
		return printf("%ld\n", settled_used(argv[2])) < 0;
	if (argc == 4 && !strcmp(argv[1], "pin"))
		return pin(argv[2], argv[3]);
	fprintf(stderr, "usage: stress race DIR SECONDS | settle STATS | pin DIR STATS\n");
	return 2;
}
