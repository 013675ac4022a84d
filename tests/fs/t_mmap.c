// SPDX-License-Identifier: GPL-2.0-only
/* t_mmap.c - mmap: coherence, sharing, COW, SIGBUS, truncate, exec. */
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "fstest.h"

extern const char *self_exe(void);

static void *map(int fd, size_t len, int prot, int flags, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	CHECK(p != MAP_FAILED, "mmap(%zu): %s", len, errname(errno));
	return p;
}

static int open_sized(const char *path, off_t size)
{
	int fd = SYS(open(path, O_CREAT | O_RDWR | O_TRUNC, 0644));

	SYS(ftruncate(fd, size));
	return fd;
}

static void check_mem(const void *p, size_t len, uint64_t seed, uint64_t off,
		      const char *what)
{
	long bad = pattern_check(p, len, seed, off);

	CHECK(bad < 0, "%s: wrong byte at offset %llu", what,
	      (unsigned long long)off + bad);
}

static void check_file(int fd, off_t off, size_t len, uint64_t seed, const char *what)
{
	char *buf = xmalloc(len);

	pread_full(fd, buf, len, off);
	check_mem(buf, len, seed, off, what);
	free(buf);
}

DECLARE_CASE(mmap_coherent)
{
	const size_t len = 16 * PAGE;
	int fd = open_sized(P("%s/m", dir), len);
	char *a, *b, *buf = xmalloc(len);

	a = map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	b = map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	CHECK(all_zero(a, len), "new mapping of a truncated file is not zero");
	/* write() then loads */
	pattern_fill(buf, len, 1, 0);
	pwrite_full(fd, buf, len, 0);
	check_mem(a, len, 1, 0, "mapping after write()");
	/* stores then read() */
	pattern_fill(a + 3 * PAGE, 5 * PAGE + 17, 2, 3 * PAGE);
	check_file(fd, 3 * PAGE, 5 * PAGE + 17, 2, "read() after stores");
	/* two mappings in one process */
	check_mem(b + 3 * PAGE, 5 * PAGE + 17, 2, 3 * PAGE, "second mapping");
	/* offset mapping */
	{
		char *c = map(fd, 4 * PAGE, PROT_READ, MAP_SHARED, 8 * PAGE);

		pread_full(fd, buf, 4 * PAGE, 8 * PAGE);
		CHECK(!memcmp(c, buf, 4 * PAGE), "mapping at offset 8 pages differs from read()");
		SYS(munmap(c, 4 * PAGE));
	}
	/* a store into a page past the old size after ftruncate grow */
	SYS(ftruncate(fd, len + PAGE));
	{
		char *d = map(fd, len + PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);

		pattern_fill(d + len, PAGE, 3, len);
		check_file(fd, len, PAGE, 3, "read() of a page stored after grow");
		SYS(munmap(d, len + PAGE));
	}
	SYS(munmap(a, len));
	SYS(munmap(b, len));
	/* data stored through a mapping survives munmap and close */
	SYS(close(fd));
	fd = SYS(open(P("%s/m", dir), O_RDONLY));
	check_file(fd, 3 * PAGE, 5 * PAGE + 17, 2, "after munmap and close");
	SYS(close(fd));
	free(buf);
	return 0;
}

DECLARE_CASE(mmap_fork)
{
	const size_t len = 8 * PAGE;
	int fd = open_sized(P("%s/m", dir), len);
	char *p = map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	pid_t pid;

	pattern_fill(p, len, 1, 0);
	pid = SYS(fork());
	if (pid == 0) {
		/* the child sees the parent's stores and writes its own */
		check_mem(p, len, 1, 0, "child's inherited mapping");
		pattern_fill(p + 2 * PAGE, 2 * PAGE, 2, 2 * PAGE);
		_exit(0);
	}
	CHECK(wait_status(pid) == 0, "child failed");
	check_mem(p + 2 * PAGE, 2 * PAGE, 2, 2 * PAGE, "parent after child's stores");
	check_file(fd, 2 * PAGE, 2 * PAGE, 2, "read() after child's stores");
	check_mem(p, 2 * PAGE, 1, 0, "untouched pages");
	/* a child that maps the file itself (not inherited) */
	pid = SYS(fork());
	if (pid == 0) {
		int cfd = SYS(open(P("%s/m", dir), O_RDWR));
		char *q = map(cfd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);

		check_mem(q + 2 * PAGE, 2 * PAGE, 2, 2 * PAGE, "child's own mapping");
		pattern_fill(q + 6 * PAGE, PAGE, 3, 6 * PAGE);
		_exit(0);
	}
	CHECK(wait_status(pid) == 0, "second child failed");
	check_mem(p + 6 * PAGE, PAGE, 3, 6 * PAGE, "parent after second child's stores");
	SYS(munmap(p, len));
	SYS(close(fd));
	return 0;
}

/* The exec'd half of mmap_exec: fstest mmap_peer DIR FILE RFD WFD */
DECLARE_CASE(mmap_peer)
{
	int fd, rfd, wfd;
	char *p, c = 0;

	(void)dir;
	CHECK(argc == 3, "usage: mmap_peer DIR FILE RFD WFD");
	rfd = atoi(argv[1]);
	wfd = atoi(argv[2]);
	fd = SYS(open(argv[0], O_RDWR));
	p = map(fd, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	CHECK(read(rfd, &c, 1) == 1, "peer: no go from parent");
	check_mem(p, PAGE, 1, 0, "peer sees parent's stores");
	pattern_fill(p + PAGE, PAGE, 2, PAGE);
	CHECK(write(wfd, "1", 1) == 1, "peer: pipe write");
	CHECK(read(rfd, &c, 1) == 1, "peer: no second go");
	check_mem(p, PAGE, 3, 0, "peer sees parent's pwrite");
	check_mem(p + 2 * PAGE, PAGE, 4, 2 * PAGE, "peer sees parent's second stores");
	CHECK(write(wfd, "2", 1) == 1, "peer: pipe write");
	return 0;
}

DECLARE_CASE(mmap_exec)
{
	const char *f = P("%s/m", dir);
	int fd = open_sized(f, 4 * PAGE);
	char *p = map(fd, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	int down[2], up[2];
	char c, buf[PAGE];
	pid_t pid;

	SYS(pipe(down));
	SYS(pipe(up));
	pid = SYS(fork());
	if (pid == 0) {
		char rfd[16], wfd[16];

		SYS(close(down[1]));
		SYS(close(up[0]));
		snprintf(rfd, sizeof(rfd), "%d", down[0]);
		snprintf(wfd, sizeof(wfd), "%d", up[1]);
		execl(self_exe(), "fstest", "mmap_peer", dir, f, rfd, wfd, (char *)NULL);
		FAIL("exec %s: %s", self_exe(), errname(errno));
	}
	SYS(close(down[0]));
	SYS(close(up[1]));
	pattern_fill(p, PAGE, 1, 0);
	CHECK(write(down[1], "g", 1) == 1, "pipe write");
	CHECK(read(up[0], &c, 1) == 1, "peer died before answering");
	check_mem(p + PAGE, PAGE, 2, PAGE, "parent sees peer's stores");
	pattern_fill(buf, PAGE, 3, 0);
	pwrite_full(fd, buf, PAGE, 0);
	pattern_fill(p + 2 * PAGE, PAGE, 4, 2 * PAGE);
	CHECK(write(down[1], "g", 1) == 1, "pipe write");
	CHECK(read(up[0], &c, 1) == 1, "peer died before answering");
	CHECK(wait_status(pid) == 0, "peer failed");
	SYS(munmap(p, 4 * PAGE));
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(mmap_private)
{
	const size_t len = 4 * PAGE;
	int fd = open_sized(P("%s/m", dir), len);
	char *sh, *pr, *buf = xmalloc(len);
	pid_t pid;

	pattern_fill(buf, len, 1, 0);
	pwrite_full(fd, buf, len, 0);
	pr = map(fd, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	sh = map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	check_mem(pr, len, 1, 0, "private mapping reads the file");
	pattern_fill(pr, PAGE + 10, 2, 0);
	check_mem(pr, PAGE + 10, 2, 0, "private stores");
	check_file(fd, 0, len, 1, "file after private stores");
	check_mem(sh, len, 1, 0, "shared mapping after private stores");
	/* a store through the shared mapping to a COWed page is not seen privately */
	pattern_fill(sh, PAGE, 3, 0);
	check_mem(pr, PAGE, 2, 0, "private copy after shared store");
	/* fork: the child's private stores are its own */
	pid = SYS(fork());
	if (pid == 0) {
		pattern_fill(pr + 3 * PAGE, PAGE, 5, 3 * PAGE);
		check_mem(pr + 3 * PAGE, PAGE, 5, 3 * PAGE, "child's private stores");
		_exit(0);
	}
	CHECK(wait_status(pid) == 0, "child failed");
	check_mem(pr + 3 * PAGE, PAGE, 1, 3 * PAGE, "parent's private page after child's COW");
	check_file(fd, 3 * PAGE, PAGE, 1, "file after child's private stores");
	/* read-only private mapping of a read-only fd */
	{
		int rfd = SYS(open(P("%s/m", dir), O_RDONLY));
		char *r = map(rfd, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);

		check_mem(r, PAGE, 3, 0, "private mapping of O_RDONLY fd");
		r[0] ^= 1;
		SYS(munmap(r, len));
		ERR(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0), EACCES);
		SYS(close(rfd));
	}
	check_file(fd, 0, PAGE, 3, "file after private store via O_RDONLY fd");
	SYS(munmap(pr, len));
	SYS(munmap(sh, len));
	SYS(close(fd));
	free(buf);
	return 0;
}

DECLARE_CASE(mmap_sigbus)
{
	int fd = open_sized(P("%s/m", dir), PAGE + 100);
	char *p, c;

	for (int flags = MAP_SHARED; ; flags = MAP_PRIVATE) {
		p = map(fd, 3 * PAGE, PROT_READ | PROT_WRITE, flags, 0);
		CHECK(!probe_read(p + 10, &c) && c == 0, "read within EOF");
		CHECK(!probe_read(p + PAGE + 99, &c) && c == 0, "read of last byte");
		CHECK(!probe_read(p + PAGE + 200, &c) && c == 0,
		      "read past EOF within the last page: SIGBUS or non-zero");
		CHECK(!probe_write(p + PAGE + 50, 'x'), "store within EOF");
		CHECK(probe_read(p + 2 * PAGE, &c), "read a page past EOF: no SIGBUS (%s)",
		      flags == MAP_SHARED ? "shared" : "private");
		CHECK(probe_write(p + 2 * PAGE + 5, 'y'), "store a page past EOF: no SIGBUS");
		SYS(munmap(p, 3 * PAGE));
		if (flags == MAP_PRIVATE)
			break;
	}
	{
		struct stat st;

		SYS(fstat(fd, &st));
		CHECK(st.st_size == PAGE + 100, "stores past EOF changed the size to %lld",
		      (long long)st.st_size);
	}
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(mmap_truncate)
{
	const size_t len = 4 * PAGE;
	int fd = open_sized(P("%s/m", dir), len);
	char *p = map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0), c;

	pattern_fill(p, len, 5, 0);
	SYS(ftruncate(fd, PAGE + 100));
	CHECK(probe_read(p + 2 * PAGE, &c), "no SIGBUS on a page cut off by truncate");
	CHECK(probe_read(p + 3 * PAGE + 7, &c), "no SIGBUS on the last page after shrink");
	check_mem(p, PAGE + 100, 5, 0, "data before the cut");
	CHECK(!probe_read(p + PAGE + 200, &c) && c == 0,
	      "tail of the partial page not zeroed by truncate");
	SYS(ftruncate(fd, len));
	CHECK(!probe_read(p + 2 * PAGE, &c), "SIGBUS after regrow");
	CHECK(all_zero(p + PAGE + 100, len - PAGE - 100), "stale data after shrink and regrow");
	check_mem(p, PAGE + 100, 5, 0, "data before the cut after regrow");
	{
		char *buf = xmalloc(len);

		pread_full(fd, buf, len, 0);
		CHECK(all_zero(buf + PAGE + 100, len - PAGE - 100), "read(): stale data");
		free(buf);
	}
	/* stores after regrow land in the file */
	pattern_fill(p + 3 * PAGE, PAGE, 6, 3 * PAGE);
	check_file(fd, 3 * PAGE, PAGE, 6, "store after regrow");
	/* truncate to zero under a mapping, then regrow */
	SYS(ftruncate(fd, 0));
	CHECK(probe_read(p, &c), "no SIGBUS after truncate to 0");
	SYS(ftruncate(fd, len));
	CHECK(all_zero(p, len), "stale data after truncate to 0");
	/* punch under a mapping */
	pattern_fill(p, len, 7, 0);
	SYS(fallocate(fd, 3 /* PUNCH_HOLE | KEEP_SIZE */, PAGE, PAGE));
	CHECK(all_zero(p + PAGE, PAGE), "mapping not zero after punch");
	check_mem(p + 2 * PAGE, 2 * PAGE, 7, 2 * PAGE, "pages after the punch");
	SYS(munmap(p, len));
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(mremap_grow)
{
	int fd = open_sized(P("%s/m", dir), PAGE);
	char *p = map(fd, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0), *q;

	pattern_fill(p, PAGE, 1, 0);
	SYS(ftruncate(fd, 64 * PAGE));
	q = mremap(p, PAGE, 64 * PAGE, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED, "mremap: %s", errname(errno));
	check_mem(q, PAGE, 1, 0, "first page after mremap");
	CHECK(all_zero(q + PAGE, 63 * PAGE), "grown part not zero");
	pattern_fill(q + 63 * PAGE, PAGE, 2, 63 * PAGE);
	check_file(fd, 63 * PAGE, PAGE, 2, "store to the grown part");
	/* and shrink */
	p = mremap(q, 64 * PAGE, 2 * PAGE, 0);
	CHECK(p == q, "mremap shrink: %s", errname(errno));
	check_mem(p, PAGE, 1, 0, "first page after shrink");
	SYS(munmap(p, 2 * PAGE));
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(madvise)
{
	const size_t len = 32 * PAGE;
	int fd = open_sized(P("%s/m", dir), len);
	char *p = map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);

	pattern_fill(p, len, 1, 0);
	SYS(madvise(p, len, MADV_DONTNEED));
	check_mem(p, len, 1, 0, "shared mapping after MADV_DONTNEED");
	check_file(fd, 0, len, 1, "file after MADV_DONTNEED");
	SYS(madvise(p, len, MADV_WILLNEED));
	SYS(madvise(p, len, MADV_SEQUENTIAL));
	SYS(madvise(p, len, MADV_RANDOM));
	SYS(madvise(p, len, MADV_NORMAL));
	check_mem(p, len, 1, 0, "after other advice");
	SYS(munmap(p, len));
	/* private mapping: DONTNEED drops private copies, file data comes back */
	p = map(fd, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	pattern_fill(p, len, 2, 0);
	SYS(madvise(p, len, MADV_DONTNEED));
	check_mem(p, len, 1, 0, "private mapping after MADV_DONTNEED");
	SYS(munmap(p, len));
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(msync)
{
	const size_t len = 16 * PAGE;
	int fd = open_sized(P("%s/m", dir), len);
	char *p = map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);

	pattern_fill(p, len, 1, 0);
	SYS(msync(p, len, MS_SYNC));
	check_file(fd, 0, len, 1, "after MS_SYNC");
	pattern_fill(p, PAGE, 2, 0);
	SYS(msync(p, PAGE, MS_ASYNC));
	SYS(msync(p, len, MS_INVALIDATE));
	SYS(msync(p, len, MS_SYNC | MS_INVALIDATE));
	check_file(fd, 0, PAGE, 2, "after MS_ASYNC");
	ERR(msync(p + 1, PAGE, MS_SYNC), EINVAL);
	ERR(msync(p, PAGE, MS_SYNC | MS_ASYNC), EINVAL);
	SYS(munmap(p, len));
	/* data survives munmap without msync, and reopening */
	p = map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	pattern_fill(p + 4 * PAGE, PAGE, 3, 4 * PAGE);
	SYS(munmap(p, len));
	SYS(close(fd));
	fd = SYS(open(P("%s/m", dir), O_RDONLY));
	check_file(fd, 4 * PAGE, PAGE, 3, "after munmap without msync");
	SYS(close(fd));
	return 0;
}

#define EXEC_MAGIC	42

DECLARE_CASE(exec_probe)
{
	(void)dir; (void)argc; (void)argv;
	return EXEC_MAGIC;
}

DECLARE_CASE(exec)
{
	const char *copy = P("%s/fstest-copy", dir);
	struct statvfs sv;
	int in, out, st;
	char buf[65536];
	ssize_t n;
	pid_t pid;

	SYS(statvfs(dir, &sv));
	if (sv.f_flag & ST_NOEXEC)
		skip("mounted noexec");
	in = open(self_exe(), O_RDONLY);
	CHECK(in >= 0, "open %s: %s", self_exe(), errname(errno));
	out = SYS(open(copy, O_CREAT | O_WRONLY | O_TRUNC, 0755));
	while ((n = SYS(read(in, buf, sizeof(buf)))) > 0)
		write_full(out, buf, n);
	SYS(close(in));
	SYS(close(out));
	/* while a writer holds it open, exec must fail with ETXTBSY */
	out = SYS(open(copy, O_WRONLY));
	pid = SYS(fork());
	if (pid == 0) {
		execl(copy, "fstest", "exec_probe", dir, (char *)NULL);
		_exit(errno == ETXTBSY ? 0 : 1);
	}
	CHECK(wait_status(pid) == 0, "exec of a file open for writing did not give ETXTBSY");
	SYS(close(out));
	for (int i = 0; i < 2; i++) {
		pid = SYS(fork());
		if (pid == 0) {
			execl(copy, "fstest", "exec_probe", dir, (char *)NULL);
			fprintf(stderr, "exec %s: %s\n", copy, errname(errno));
			_exit(3);
		}
		st = wait_status(pid);
		CHECK(st == EXEC_MAGIC, "binary copied onto the mount: exit %d, want %d",
		      st, EXEC_MAGIC);
	}
	return 0;
}
