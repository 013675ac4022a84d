// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmod/tests/gup.c - get_user_pages on a 2 MiB-mapped usmfs file (issue 19),
 * run in the guest by kmod/tests/guest.sh (built -static on the host).
 *
 *   gup DIR STATS PMD [BLOCKDEV]
 *
 * A 4 MiB file with contiguous placement, mapped shared and written through
 * the mapping, is then the buffer of every kernel path that pins user pages
 * instead of copying through them: vmsplice() (GUP-fast), process_vm_readv
 * and process_vm_writev (remote GUP), reads and writes of /proc/self/mem
 * (what ptrace's PEEKDATA/POKEDATA do) and, with BLOCKDEV (a ramdisk),
 * O_DIRECT writes from and reads into the mapping.  Each must move the right
 * bytes; none may fail (before issue 19 they failed with EFAULT).
 * PMD=1: the file must also be mapped with PMDs the kernel counts as page
 * mappings (FilePmdMapped in /proc/self/smaps_rollup), i.e. ones GUP can pin.
 * Then a page pinned by vmsplice() keeps its data while its file is
 * truncated and the pool is filled again, and every frame comes back once
 * the pipe lets go.
 *
 * Exit 0 on success (one summary line on stdout); a message on stderr and
 * exit 1 on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "poolstat.h"

#define PG	4096UL
#define HUGE	(2UL << 20)
#define LEN	(2 * HUGE)
#define IOLEN	(64 * 1024UL)

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("gup: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* FilePmdMapped of this process, in kB (-1: no such line). */
static long file_pmd_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		die("open smaps_rollup: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static unsigned char pat(size_t off, int round)
{
	return (unsigned char)((off / PG) * 7 + (off % PG) / 512 + round * 13 + 1);
}

static void fill(unsigned char *b, size_t off, size_t len, int round)
{
	for (size_t i = 0; i < len; i++)
		b[i] = pat(off + i, round);
}

static void expect(const unsigned char *b, size_t off, size_t len, int round,
		   const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (b[i] != pat(off + i, round))
			die("%s: byte %zu of the file holds %#x, not %#x", what,
			    off + i, b[i], pat(off + i, round));
}

/* The file's bytes [off, +len), read with pread. */
static void expect_file(int fd, size_t off, size_t len, int round,
			const char *what)
{
	unsigned char *b = malloc(len);

	if (!b || pread(fd, b, len, (off_t)off) != (ssize_t)len)
		die("%s: pread: %s", what, strerror(errno));
	expect(b, off, len, round, what);
	free(b);
}

static void splice_out(unsigned char *p, size_t off)
{
	unsigned char got[4 * PG];
	struct iovec iov = { p + off, sizeof(got) };
	int pfd[2];
	ssize_t n;

	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	n = vmsplice(pfd[1], &iov, 1, 0);
	if (n != (ssize_t)sizeof(got))
		die("vmsplice from the mapping: %zd (%s)", n, strerror(errno));
	if (read(pfd[0], got, sizeof(got)) != (ssize_t)sizeof(got))
		die("vmsplice: read pipe: %s", strerror(errno));
	expect(got, off, sizeof(got), 0, "vmsplice");
	close(pfd[0]);
	close(pfd[1]);
}

static void remote_rw(int fd, unsigned char *p, size_t off)
{
	unsigned char buf[3 * PG];
	struct iovec l = { buf, sizeof(buf) }, r = { p + off, sizeof(buf) };
	ssize_t n;

	n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (n != (ssize_t)sizeof(buf))
		die("process_vm_readv from the mapping: %zd (%s)", n,
		    strerror(errno));
	expect(buf, off, sizeof(buf), 0, "process_vm_readv");
	fill(buf, off, sizeof(buf), 1);
	n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	if (n != (ssize_t)sizeof(buf))
		die("process_vm_writev into the mapping: %zd (%s)", n,
		    strerror(errno));
	expect_file(fd, off, sizeof(buf), 1, "process_vm_writev");
	fill(p + off, off, sizeof(buf), 0);
}

/* /proc/self/mem: access_remote_vm(), as ptrace PEEKDATA/POKEDATA. */
static void proc_mem(int fd, unsigned char *p, size_t off)
{
	unsigned char buf[2 * PG];
	int m = open("/proc/self/mem", O_RDWR);
	ssize_t n;

	if (m < 0)
		die("open /proc/self/mem: %s", strerror(errno));
	n = pread(m, buf, sizeof(buf), (off_t)(uintptr_t)(p + off));
	if (n != (ssize_t)sizeof(buf))
		die("/proc/self/mem read of the mapping: %zd (%s)", n,
		    strerror(errno));
	expect(buf, off, sizeof(buf), 0, "/proc/self/mem read");
	fill(buf, off, sizeof(buf), 2);
	n = pwrite(m, buf, sizeof(buf), (off_t)(uintptr_t)(p + off));
	if (n != (ssize_t)sizeof(buf))
		die("/proc/self/mem write into the mapping: %zd (%s)", n,
		    strerror(errno));
	expect_file(fd, off, sizeof(buf), 2, "/proc/self/mem write");
	fill(p + off, off, sizeof(buf), 0);
	close(m);
}

/* O_DIRECT write from the mapping to DEV, then read back into it. */
static void direct_io(int fd, unsigned char *p, const char *dev)
{
	size_t from = HUGE + 5 * PG, to = 3 * PG;
	unsigned char *b;
	ssize_t n;
	int d = open(dev, O_RDWR | O_DIRECT);

	if (d < 0)
		die("open %s O_DIRECT: %s", dev, strerror(errno));
	n = pwrite(d, p + from, IOLEN, 0);
	if (n != (ssize_t)IOLEN)
		die("O_DIRECT write from the mapping: %zd (%s)", n,
		    strerror(errno));
	if (posix_memalign((void **)&b, PG, IOLEN) ||
	    pread(d, b, IOLEN, 0) != (ssize_t)IOLEN)
		die("O_DIRECT read into memory: %s", strerror(errno));
	expect(b, from, IOLEN, 0, "O_DIRECT write");
	n = pread(d, p + to, IOLEN, 0);
	if (n != (ssize_t)IOLEN)
		die("O_DIRECT read into the mapping: %zd (%s)", n,
		    strerror(errno));
	memcpy(b, p + to, IOLEN);
	expect(b, from, IOLEN, 0, "O_DIRECT read (mapping)");
	if (pread(fd, b, IOLEN, (off_t)to) != (ssize_t)IOLEN)
		die("pread: %s", strerror(errno));
	expect(b, from, IOLEN, 0, "O_DIRECT read (file)");
	fill(p + to, to, IOLEN, 0);
	free(b);
	close(d);
}

/* PATH, new, with contiguous placement, LEN bytes; its descriptor. */
static int create_contig(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || fsetxattr(fd, "user.usm.alloc", "contiguous", 10, 0) ||
	    ftruncate(fd, LEN))
		die("create %s: %s", path, strerror(errno));
	return fd;
}

/*
 * A page of a 2 MiB window pinned by a pipe keeps its data while the file
 * goes and the pool is filled with new pages; its frames come back after.
 */
static void pinned_truncate(const char *dir, int fd, unsigned char *p)
{
	unsigned char got[PG], *q;
	struct iovec iov = { p + HUGE + 9 * PG, PG };
	char path[4096];
	int pfd[2], fd2;

	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	if (vmsplice(pfd[1], &iov, 1, 0) != (ssize_t)PG)
		die("vmsplice: %s", strerror(errno));
	munmap(p, LEN);
	if (ftruncate(fd, 0))
		die("ftruncate: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/gup2", dir);
	fd2 = create_contig(path);
	q = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	if (q == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	memset(q, 0x5a, LEN);
	if (read(pfd[0], got, PG) != (ssize_t)PG)
		die("read pipe: %s", strerror(errno));
	expect(got, HUGE + 9 * PG, PG, 0, "pinned page after truncate (frame reused?)");
	munmap(q, LEN);
	close(fd2);
	unlink(path);
	close(pfd[0]);
	close(pfd[1]);
}

int main(int argc, char **argv)
{
	long used0, pmd_kb;
	char path[4096];
	unsigned char *p;
	int fd, want_pmd;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: gup DIR STATS 0|1 [BLOCKDEV]\n");
		return 2;
	}
	want_pmd = atoi(argv[3]);
	used0 = settled_used(argv[2]);
	snprintf(path, sizeof(path), "%s/gup", argv[1]);
	fd = create_contig(path);
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	(void)madvise(p, LEN, MADV_HUGEPAGE);
	fill(p, 0, LEN, 0);
	pmd_kb = file_pmd_kb();
	if (want_pmd && pmd_kb < (long)(LEN >> 10))
		die("FilePmdMapped %ld kB, expected %lu (the file mapped with page PMDs)",
		    pmd_kb, LEN >> 10);

	splice_out(p, HUGE - 2 * PG);	/* across the two windows */
	remote_rw(fd, p, 7 * PG);
	proc_mem(fd, p, HUGE + 3 * PG);
	if (argc == 5)
		direct_io(fd, p, argv[4]);
	expect_file(fd, 0, LEN, 0, "the file at the end");
	pinned_truncate(argv[1], fd, p);
	close(fd);
	if (unlink(path))
		die("unlink: %s", strerror(errno));
	if (settled_used(argv[2]) != used0)
		die("used=%ld (was %ld) after the files and the pipe went",
		    stat_of(argv[2], "used"), used0);
	printf("vmsplice, process_vm_readv/writev, /proc/self/mem%s: ok; FilePmdMapped %ld kB\n",
	       argc == 5 ? ", O_DIRECT" : "", pmd_kb);
	return 0;
}
