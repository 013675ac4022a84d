// SPDX-License-Identifier: GPL-2.0-only
/* t_evict.c - eviction to a swap store, and a full pool without one. */
#include <signal.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "fstest.h"

#define CHUNK	(1UL << 20)

static uint64_t need_swap_mount(const char *probe)
{
	const char *swap = getenv("USMFS_SWAP");
	uint64_t size = env_bytes("USMFS_SIZE", 0);

	if (!swap || strcmp(swap, "file"))
		skip("needs a mount with a swap store (USMFS_SWAP=file)");
	if (!size)
		skip("needs USMFS_SIZE");
	need_usm(probe);
	return size;
}

static void write_stream(int fd, uint64_t len, uint64_t seed)
{
	char *buf = xmalloc(CHUNK);

	for (uint64_t o = 0; o < len; o += CHUNK) {
		size_t n = len - o < CHUNK ? len - o : CHUNK;

		pattern_fill(buf, n, seed, o);
		pwrite_full(fd, buf, n, o);
	}
	free(buf);
}

/* Seed of chunk @o: every @every-th chunk was rewritten with seed2. */
static uint64_t seed_of(uint64_t o, uint64_t seed, uint64_t seed2, uint64_t every)
{
	return every && (o / CHUNK) % every == 0 ? seed2 : seed;
}

static void verify_read(int fd, uint64_t len, uint64_t seed, uint64_t seed2,
			uint64_t every, const char *what)
{
	char *buf = xmalloc(CHUNK);

	for (uint64_t o = 0; o < len; o += CHUNK) {
		size_t n = len - o < CHUNK ? len - o : CHUNK;
		long bad;

		pread_full(fd, buf, n, o);
		bad = pattern_check(buf, n, seed_of(o, seed, seed2, every), o);
		CHECK(bad < 0, "%s: wrong byte at offset %llu of %llu", what,
		      (unsigned long long)(o + bad), (unsigned long long)len);
	}
	free(buf);
}

DECLARE_CASE(evict_verify)
{
	const char *f = P("%s/big", dir);
	uint64_t size, len, mult = argc > 0 ? strtoull(argv[0], NULL, 10) : 4;
	uint64_t ev, si;
	char *p;
	int fd;

	put_file(f, "", 0, 0644);
	size = need_swap_mount(f);
	CHECK(mult >= 2 && mult <= 64, "bad multiplier");
	len = mult * size;
	fd = SYS(open(f, O_RDWR));
	write_stream(fd, len, 11);
	SYS(fsync(fd));
	note("wrote %llu MiB; %s", (unsigned long long)(len >> 20), "verifying with read()");
	verify_read(fd, len, 11, 0, 0, "read()");
	/* through a shared mapping: loads, then stores to every 4th chunk */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap %llu: %s", (unsigned long long)len, errname(errno));
	for (uint64_t o = 0; o < len; o += CHUNK) {
		long bad = pattern_check(p + o, CHUNK, 11, o);

		CHECK(bad < 0, "mmap load: wrong byte at offset %llu",
		      (unsigned long long)(o + bad));
	}
	for (uint64_t o = 0; o < len; o += 4 * CHUNK)
		pattern_fill(p + o, CHUNK, 12, o);
	SYS(msync(p, len, MS_SYNC));
	for (uint64_t o = 0; o < len; o += CHUNK) {
		long bad = pattern_check(p + o, CHUNK, seed_of(o, 11, 12, 4), o);

		CHECK(bad < 0, "mmap after stores: wrong byte at offset %llu",
		      (unsigned long long)(o + bad));
	}
	SYS(munmap(p, len));
	verify_read(fd, len, 11, 12, 4, "read() after mmap stores");
	ev = usm_stat(f, "evictions");
	si = usm_stat(f, "swapins");
	note("evictions=%llu swapins=%llu", (unsigned long long)ev, (unsigned long long)si);
	CHECK(ev > 0, "a file %llux the mount's size had no evictions",
	      (unsigned long long)mult);
	CHECK(si > 0, "reading back a file %llux the mount's size needed no swap-ins",
	      (unsigned long long)mult);
	/* not more resident than the mount may keep */
	CHECK(usm_stat(f, "resident") <= size, "resident %llu > size %llu",
	      (unsigned long long)usm_stat(f, "resident"), (unsigned long long)size);
	/* freeing: truncate releases resident and swapped pages */
	SYS(ftruncate(fd, 0));
	SYS(fsync(fd));
	CHECK(usm_stat(f, "resident") == 0 && usm_stat(f, "swapped") == 0,
	      "truncate to 0 left resident=%llu swapped=%llu",
	      (unsigned long long)usm_stat(f, "resident"),
	      (unsigned long long)usm_stat(f, "swapped"));
	SYS(close(fd));
	return 0;
}

/* The main use: a file created with ftruncate and filled only through a
 * shared mapping (a heap), twice the mount's size. */
DECLARE_CASE(evict_mmap)
{
	const char *f = P("%s/heap", dir);
	uint64_t size, len;
	char *p;
	int fd;

	put_file(f, "", 0, 0644);
	size = need_swap_mount(f);
	len = 2 * size;
	fd = SYS(open(f, O_RDWR));
	SYS(ftruncate(fd, len));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap %llu: %s", (unsigned long long)len, errname(errno));
	for (uint64_t o = 0; o < len; o += CHUNK)
		pattern_fill(p + o, CHUNK, 51, o);
	/* loads in reverse order: the first chunks are the ones evicted */
	for (uint64_t o = len; o > 0; o -= CHUNK) {
		long bad = pattern_check(p + o - CHUNK, CHUNK, 51, o - CHUNK);

		CHECK(bad < 0, "mapping: wrong byte at offset %llu",
		      (unsigned long long)(o - CHUNK + bad));
	}
	SYS(msync(p, len, MS_SYNC));
	SYS(munmap(p, len));
	verify_read(fd, len, 51, 0, 0, "read() of a file filled through a mapping");
	note("evictions=%llu swapins=%llu", (unsigned long long)usm_stat(f, "evictions"),
	     (unsigned long long)usm_stat(f, "swapins"));
	CHECK(usm_stat(f, "evictions") > 0, "a mapping twice the mount's size had no evictions");
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(evict_policy_change)
{
	static const char *const pols[] = { "lru", "fifo", "clock", "sieve", "s3fifo" };
	const char *f = P("%s/busy", dir);
	uint64_t size, len;
	int fd, changes = 0, st;
	pid_t pid;

	put_file(f, "", 0, 0644);
	size = need_swap_mount(f);
	len = 2 * size;
	pid = SYS(fork());
	if (pid == 0) {
		int wfd = SYS(open(f, O_RDWR));

		write_stream(wfd, len, 21);
		SYS(fsync(wfd));
		verify_read(wfd, len, 21, 0, 0, "writer's read-back");
		_exit(0);
	}
	for (;;) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		const char *pol = pols[changes % 5];
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		CHECK(r == 0, "waitpid: %s", errname(errno));
		CHECK(setxattr(f, "user.usm.evict", pol, strlen(pol), 0) == 0,
		      "setxattr evict=%s while writing: %s", pol, errname(errno));
		changes++;
		nanosleep(&ts, NULL);
	}
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer failed (status %#x)", st);
	note("%d policy changes during the write", changes);
	CHECK(changes >= 2, "the writer ended before the policy could change");
	fd = SYS(open(f, O_RDONLY));
	verify_read(fd, len, 21, 0, 0, "read() after policy changes");
	SYS(close(fd));
	CHECK(usm_stat(f, "evictions") > 0, "no evictions in a file twice the mount's size");
	return 0;
}

static uint64_t free_bytes(const char *dir)
{
	struct statfs sf;

	SYS(statfs(dir, &sf));
	return (uint64_t)sf.f_bfree * sf.f_bsize;
}

/* Write @seed's stream to @fd until ENOSPC (from write or fsync); returns
 * the bytes known stored (chunks whose fsync succeeded). */
static uint64_t fill(int fd, uint64_t cap, uint64_t seed, int *hit)
{
	char *buf = xmalloc(CHUNK);
	uint64_t good = 0;

	*hit = 0;
	while (good < cap) {
		ssize_t n;

		pattern_fill(buf, CHUNK, seed, good);
		n = pwrite(fd, buf, CHUNK, good);
		if (n < 0 && errno == ENOSPC) {
			*hit = 1;
			break;
		}
		CHECK(n > 0, "write at %llu: %s", (unsigned long long)good,
		      n < 0 ? errname(errno) : "0");
		if (fsync(fd) < 0) {
			CHECK(errno == ENOSPC, "fsync at %llu: %s", (unsigned long long)good,
			      errname(errno));
			*hit = 1;
			break;
		}
		if ((size_t)n < CHUNK) {	/* short write: full */
			*hit = 1;
			break;
		}
		good += CHUNK;
	}
	free(buf);
	return good;
}

DECLARE_CASE(full_pool)
{
	const char *nd = getenv("USMFS_NOSWAP_DIR");
	const char *a, *c;
	uint64_t total, good, fb0, fb1, cap;
	struct statfs sf;
	int fd, hit;

	(void)dir;
	if (!nd || !*nd)
		skip("needs USMFS_NOSWAP_DIR (a mount with swap=none)");
	a = P("%s/fill-%d", nd, (int)getpid());
	c = P("%s/after-%d", nd, (int)getpid());
	SYS(statfs(nd, &sf));
	total = (uint64_t)sf.f_blocks * sf.f_bsize;
	CHECK(total > 0, "statfs of %s reports no blocks", nd);
	cap = env_bytes("USMFS_NOSWAP_SIZE", 0);
	cap = 2 * (cap > total ? cap : total) + 64 * MIB;
	CHECK(cap <= (4ULL << 30), "the swap=none mount is too big (%llu bytes) to fill",
	      (unsigned long long)total);
	fd = SYS(open(a, O_CREAT | O_RDWR | O_TRUNC, 0644));
	good = fill(fd, cap, 31, &hit);
	if (!hit) {
		unlink(a);
		FAIL("wrote %llu bytes to a %llu-byte swap=none mount without ENOSPC",
		     (unsigned long long)good, (unsigned long long)total);
	}
	note("ENOSPC after %llu MiB (statfs total %llu MiB)", (unsigned long long)(good >> 20),
	     (unsigned long long)(total >> 20));
	/* what was stored before the pool filled is intact */
	verify_read(fd, good, 31, 0, 0, "data stored before ENOSPC");
	/* fallocate of more than is left fails too */
	{
		int fd2 = SYS(open(c, O_CREAT | O_RDWR | O_TRUNC, 0644));
		int r = fallocate(fd2, 0, 0, total);

		if (!(r < 0 && errno == ENOSPC)) {
			unlink(a);
			unlink(c);
			FAIL("fallocate of %llu bytes on a full mount: %s",
			     (unsigned long long)total, r ? errname(errno) : "succeeded");
		}
		SYS(close(fd2));
	}
	/* deleting the file frees its space */
	fb0 = free_bytes(nd);
	SYS(close(fd));
	SYS(unlink(a));
	/* FUSE frees at FORGET, which the kernel sends a moment later */
	for (int i = 0; i < 100; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		fb1 = free_bytes(nd);
		if (fb1 >= fb0 + good / 2)
			break;
		nanosleep(&ts, NULL);
	}
	CHECK(fb1 >= fb0 + good / 2, "unlink freed %llu bytes of %llu stored",
	      (unsigned long long)(fb1 - fb0), (unsigned long long)good);
	fd = SYS(open(c, O_CREAT | O_RDWR | O_TRUNC, 0644));
	{
		uint64_t again = good / 2 & ~(CHUNK - 1);
		uint64_t got = fill(fd, again, 32, &hit);

		CHECK(!hit && got == again, "after unlink, ENOSPC at %llu of %llu bytes",
		      (unsigned long long)got, (unsigned long long)again);
		verify_read(fd, again, 32, 0, 0, "data written after freeing");
	}
	SYS(close(fd));
	SYS(unlink(c));
	return 0;
}

/*
 * The policy server dies and restarts while pages are swapped out: no data
 * may be lost (kernel frontend).  The lane that knows how its server runs
 * gives the restart as a command in USMFS_RESTART_CMD (run with /bin/sh -c).
 */
DECLARE_CASE(server_restart)
{
	const char *cmd = getenv("USMFS_RESTART_CMD");
	const char *f = P("%s/kept", dir);
	uint64_t size, len, swapped;
	int fd, st;
	pid_t pid;

	put_file(f, "", 0, 0644);
	size = need_swap_mount(f);
	if (!cmd || !*cmd)
		skip("needs USMFS_RESTART_CMD (how to restart the policy server)");
	len = 3 * size;
	fd = SYS(open(f, O_RDWR));
	write_stream(fd, len, 41);
	SYS(fsync(fd));
	swapped = usm_stat(f, "swapped");
	CHECK(swapped > 0, "nothing swapped out of a file 3x the mount's size");
	note("swapped=%llu before the restart", (unsigned long long)swapped);
	pid = SYS(fork());
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		FAIL("exec /bin/sh: %s", errname(errno));
	}
	st = wait_status(pid);
	CHECK(st == 0, "USMFS_RESTART_CMD '%s' exited with %d", cmd, st);
	verify_read(fd, len, 41, 0, 0, "read() after the server restarted");
	CHECK(usm_stat(f, "swapins") > 0, "no swap-ins after the restart");
	SYS(close(fd));
	return 0;
}
