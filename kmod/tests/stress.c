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
 *   stress huge DIR STATS N   a file with contiguous placement mapped shared:
 *                             N=1: each 2 MiB window is mapped whole by one
 *                             fault (window_maps in STATS), N=0: never; data,
 *                             fork, mprotect, truncation under the mapping,
 *                             vmsplice
 *   stress hugeevict DIR STATS MIB  a contiguous file of MIB MiB (more than
 *                             the share) written and read back through one
 *                             shared mapping while the server evicts; prints
 *                             the window maps seen
 *   stress hugerace DIR SECONDS  the race above on a 4 MiB contiguous file
 *                             mapped whole (2 MiB faults against truncation)
 *
 * Exit 0 on success; a message on stderr and exit 1 on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "poolstat.h"

#define PG	4096
#define NPG	64
#define HUGE	(2UL << 20)
#define HNPG	1024	/* pages of the hugerace file: two 2 MiB windows */

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
static int npg = NPG;	/* pages of the race file */

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
		p = mmap(NULL, (size_t)npg * PG, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			die("mapper: mmap: %s", strerror(errno));
		for (volatile int i = 0; i < npg;
		     i += npg > NPG ? 1 + rand() % 32 : 1) {
			if (sigsetjmp(jb, 1))
				continue;
			if (i & 1)
				p[i * PG + (i % PG)] = (char)i;
			else
				sum += (unsigned char)p[i * PG];
		}
		munmap(p, (size_t)npg * PG);
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
		if (ftruncate(fd, (rand() % (npg + 1)) * PG - (rand() & 1) * 100 + 100))
			die("truncater: ftruncate: %s", strerror(errno));
		usleep(rand() % 2000);
		if (ftruncate(fd, (off_t)npg * PG))
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
		off_t off = (rand() % npg) * PG + rand() % PG;

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
		off_t off = (rand() % npg) * PG + rand() % 100;

		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			      (rand() % 8 + 1) * PG) && errno != ENOSPC)
			die("puncher: fallocate: %s", strerror(errno));
		if (fallocate(fd, 0, off, PG) && errno != ENOSPC)
			die("puncher: fallocate: %s", strerror(errno));
		(void)lseek(fd, off, (rand() & 1) ? SEEK_DATA : SEEK_HOLE);
	}
	exit(0);
}

static int race(const char *dir, int seconds, bool contiguous)
{
	void (*fn[])(const char *, time_t) = { mapper, mapper, truncater,
					       writer, puncher };
	time_t end = time(NULL) + seconds;
	char path[4096];
	int fd, bad = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/race", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (contiguous &&
		       fsetxattr(fd, "user.usm.alloc", "contiguous", 10, 0)) ||
	    ftruncate(fd, (off_t)npg * PG))
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

/* Faults that mapped a whole 2 MiB window, all mounts (window_maps= in STATS). */
static long window_maps(const char *stats)
{
	char line[512];
	long sum = 0;
	FILE *f = fopen(stats, "r");
	const char *k;

	if (!f)
		die("open %s: %s", stats, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if ((k = strstr(line, " window_maps=")))
			sum += atol(k + 13);
	fclose(f);
	return sum;
}

static unsigned char pat(size_t page, int round)
{
	return (unsigned char)(page * 7 + round * 13 + 1);
}

/* Every page of the mapping holds its pattern (first and last byte). */
static void check_pages(const unsigned char *p, size_t npages, int round,
			const char *what)
{
	for (size_t i = 0; i < npages; i++)
		if (p[i * PG] != pat(i, round) || p[i * PG + PG - 1] != pat(i, round))
			die("huge: %s: page %zu holds %#x, not %#x", what, i,
			    p[i * PG], pat(i, round));
}

static unsigned char *map_file(int fd, size_t len)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
				fd, 0);

	if (p == MAP_FAILED)
		die("huge: mmap: %s", strerror(errno));
	/* For a kernel whose THP setting is "madvise". */
	(void)madvise(p, len, MADV_HUGEPAGE);
	return p;
}

static int huge(const char *dir, const char *stats, int expect)
{
	const size_t len = 4 * HUGE, npages = len / PG;
	long used0 = settled_used(stats), m0, m1, m2, mf;
	struct sigaction sa = { .sa_handler = on_sigbus };
	char path[4096], buf[PG];
	struct iovec iov;
	unsigned char *p;
	int fd, pfd[2], st;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/huge", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fsetxattr(fd, "user.usm.alloc", "contiguous", 10, 0) ||
	    ftruncate(fd, len))
		die("huge: create %s: %s", path, strerror(errno));

	/* First touch: one fault per 2 MiB window. */
	m0 = window_maps(stats);
	p = map_file(fd, len);
	if (expect && ((uintptr_t)p & (HUGE - 1)))
		die("huge: mapping at %p is not 2 MiB aligned", (void *)p);
	for (size_t i = 0; i < npages; i++)
		memset(p + i * PG, pat(i, 0), PG);
	m1 = window_maps(stats);
	if (expect ? m1 - m0 != 4 : m1 != m0)
		die("huge: first touch: %ld window maps, expected %d", m1 - m0,
		    expect ? 4 : 0);
	for (size_t i = 0; i < npages; i += 97) {
		if (pread(fd, buf, PG, (off_t)i * PG) != PG || buf[0] != (char)pat(i, 0))
			die("huge: pread page %zu: not what the mapping wrote", i);
	}

	/* Refault: a new mapping finds the resident run. */
	munmap(p, len);
	p = map_file(fd, len);
	check_pages(p, npages, 0, "refault");
	m2 = window_maps(stats);
	if (expect ? m2 - m1 != 4 : m2 != m1)
		die("huge: refault: %ld window maps, expected %d", m2 - m1,
		    expect ? 4 : 0);

	/* A read-only shared mapping of the file opened read-only too. */
	{
		int rfd = open(path, O_RDONLY);
		const unsigned char *r;
		long before = window_maps(stats);

		if (rfd < 0)
			die("huge: open O_RDONLY: %s", strerror(errno));
		r = mmap(NULL, len, PROT_READ, MAP_SHARED, rfd, 0);
		if (r == MAP_FAILED)
			die("huge: mmap read-only: %s", strerror(errno));
		check_pages(r, npages, 0, "read-only mapping");
		if (expect ? window_maps(stats) - before != 4 :
			     window_maps(stats) != before)
			die("huge: read-only mapping: %ld window maps",
			    window_maps(stats) - before);
		munmap((void *)r, len);
		close(rfd);
	}

	/* write() through the file shows in the mapping. */
	memset(buf, pat(5, 1), PG);
	if (pwrite(fd, buf, PG, 5 * PG) != PG)
		die("huge: pwrite: %s", strerror(errno));
	if (p[5 * PG] != pat(5, 1))
		die("huge: pwrite not seen through the mapping");
	memset(p + 5 * PG, pat(5, 0), PG);

	/* mprotect of one page splits the 2 MiB mapping. */
	if (mprotect(p + 3 * PG, PG, PROT_READ))
		die("huge: mprotect: %s", strerror(errno));
	check_pages(p, npages, 0, "after mprotect");
	if (mprotect(p + 3 * PG, PG, PROT_READ | PROT_WRITE))
		die("huge: mprotect back: %s", strerror(errno));

	/* A child shares the mapping both ways. */
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		check_pages(p, npages, 0, "in a child");
		p[HUGE + 9] = 0xee;
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("huge: child failed (status %#x)", st);
	if (p[HUGE + 9] != 0xee)
		die("huge: the child's write is not in the parent's mapping");
	p[HUGE + 9] = pat(HUGE / PG, 0);

	/*
	 * vmsplice() pins pages through GUP (kmod/tests/gup.c has the rest
	 * of them); no reference may leak (checked by the pool's used count
	 * at the end).
	 */
	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	iov.iov_base = p + 2 * HUGE;
	iov.iov_len = PG;
	if (vmsplice(pfd[1], &iov, 1, 0) != PG)
		die("huge: vmsplice: %s", strerror(errno));
	if (read(pfd[0], buf, PG) != PG || buf[0] != (char)pat(2 * HUGE / PG, 0))
		die("huge: vmsplice gave the wrong data");
	close(pfd[0]);
	close(pfd[1]);

	/* Truncation under the mapping: what is left stays, past it SIGBUS. */
	if (ftruncate(fd, 3 * HUGE))
		die("huge: ftruncate: %s", strerror(errno));
	check_pages(p, 3 * HUGE / PG, 0, "after truncate");
	sigaction(SIGBUS, &sa, NULL);
	if (!sigsetjmp(jb, 1)) {
		(void)*(volatile unsigned char *)(p + 3 * HUGE + PG);
		die("huge: no SIGBUS past the end of the file");
	}
	/* A hole punched in a window: the rest of it still maps. */
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, HUGE + PG, PG))
		die("huge: punch: %s", strerror(errno));
	if (p[HUGE + PG] != 0 || p[HUGE] != pat(HUGE / PG, 0) ||
	    p[HUGE + 2 * PG] != pat(HUGE / PG + 2, 0))
		die("huge: a punched window reads wrong");
	munmap(p, len);
	close(fd);
	if (unlink(path))
		die("unlink %s: %s", path, strerror(errno));
	if (settled_used(stats) != used0)
		die("huge: used=%ld (was %ld) after the file went",
		    stat_of(stats, "used"), used0);

	/* fallocate takes whole windows aligned too: each maps at one fault. */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fsetxattr(fd, "user.usm.alloc", "contiguous", 10, 0) ||
	    fallocate(fd, 0, 0, 2 * HUGE))
		die("huge: fallocate %s: %s", path, strerror(errno));
	mf = window_maps(stats);
	p = map_file(fd, 2 * HUGE);
	for (size_t i = 0; i < 2 * HUGE / PG; i++)
		if (p[i * PG])
			die("huge: fallocated page %zu is not zero", i);
	mf = window_maps(stats) - mf;
	if (expect ? mf != 2 : mf != 0)
		die("huge: fallocated: %ld window maps, expected %d", mf,
		    expect ? 2 : 0);
	munmap(p, 2 * HUGE);
	close(fd);
	if (unlink(path) || settled_used(stats) != used0)
		die("huge: used=%ld (was %ld) after the fallocated file went",
		    stat_of(stats, "used"), used0);
	printf("window maps: %ld first touch, %ld refault, %ld fallocated\n",
	       m1 - m0, m2 - m1, mf);
	return 0;
}

/*
 * A contiguous file bigger than the mount's share, written and read back
 * through one shared mapping while the server evicts: the windows that fit
 * map a window per fault, eviction takes them down, every page reads back
 * right.  Prints the window maps seen.
 */
static int hugeevict(const char *dir, const char *stats, int mib)
{
	const size_t len = (size_t)mib << 20, npages = len / PG;
	char path[4096];
	unsigned char *p;
	long m0 = window_maps(stats);
	int fd;

	snprintf(path, sizeof(path), "%s/hugeevict", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fsetxattr(fd, "user.usm.alloc", "contiguous", 10, 0) ||
	    ftruncate(fd, len))
		die("hugeevict: create %s: %s", path, strerror(errno));
	p = map_file(fd, len);
	for (size_t i = 0; i < npages; i++)
		memset(p + i * PG, pat(i, 2), PG);
	for (int round = 0; round < 2; round++) {
		check_pages(p, npages, 2, "hugeevict");
		munmap(p, len);
		p = map_file(fd, len);
	}
	munmap(p, len);
	close(fd);
	if (unlink(path))
		die("unlink %s: %s", path, strerror(errno));
	printf("%ld\n", window_maps(stats) - m0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "race"))
		return race(argv[2], atoi(argv[3]), false);
	if (argc == 4 && !strcmp(argv[1], "hugerace")) {
		npg = HNPG;
		return race(argv[2], atoi(argv[3]), true);
	}
	if (argc == 5 && !strcmp(argv[1], "huge"))
		return huge(argv[2], argv[3], atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "hugeevict"))
		return hugeevict(argv[2], argv[3], atoi(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "settle"))
		return printf("%ld\n", settled_used(argv[2])) < 0;
	if (argc == 4 && !strcmp(argv[1], "pin"))
		return pin(argv[2], argv[3]);
	fprintf(stderr, "usage: stress race|hugerace DIR SECONDS | settle STATS | pin DIR STATS | huge DIR STATS 0|1 | hugeevict DIR STATS MIB\n");
	return 2;
}
