// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * t_limits.c - a full mount refuses what it cannot keep: write(2) into a
 * full swap=none mount gets ENOSPC (not only fsync/close), an xattr flood
 * by an unprivileged user ends in ENOSPC with the memory it took bounded
 * by the mount, and a mmap writer into a full mount is told (msync, close
 * or SIGBUS) or keeps every page.  All run on the swap=none mount
 * (USMFS_NOSWAP_DIR, USMFS_NOSWAP_SIZE) and clean up after themselves:
 * other cases fill that mount too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fstest.h"

static const char *noswap_dir(uint64_t *size)
{
	const char *nd = getenv("USMFS_NOSWAP_DIR");
	struct statfs sf;

	if (!nd || !*nd)
		skip("needs USMFS_NOSWAP_DIR (a mount with swap=none)");
	SYS(statfs(nd, &sf));
	*size = (uint64_t)sf.f_blocks * sf.f_bsize;
	CHECK(*size > 0 && *size <= (1ULL << 30),
	      "the swap=none mount has %llu bytes: want 1..1024 MiB",
	      (unsigned long long)*size);
	return nd;
}

/* Resident set of pid @env's value in bytes, or 0 when not given. */
static uint64_t daemon_rss(const char *env)
{
	const char *p = getenv(env);
	char line[256];
	uint64_t kb = 0;
	FILE *f;

	if (!p || !*p)
		return 0;
	f = fopen(P("/proc/%s/status", p), "re");
	CHECK(f, "daemon pid %s: %s", p, errname(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %llu", (unsigned long long *)&kb) == 1)
			break;
	fclose(f);
	return kb * KIB;
}

/*
 * dd if=/dev/zero of=MNT/f bs=1M: write(2) must fail with ENOSPC once the
 * mount cannot keep the data, at most LIMIT_SLACK past its size, and what
 * write(2) accepted is either all there after fsync or fsync says ENOSPC.
 */
#define LIMIT_SLACK	(2 * MIB)

DECLARE_CASE(full_write)
{
	uint64_t size, done = 0, cap;
	const char *nd = noswap_dir(&size), *f;
	char *buf = xmalloc(MIB), *rd = xmalloc(MIB);
	int fd, err = 0, fsync_err = 0;

	(void)dir;
	cap = 4 * size;
	f = P("%s/dd-%d", nd, (int)getpid());
	fd = SYS(open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644));
	while (done < cap) {
		ssize_t n;

		pattern_fill(buf, MIB, 41, done);
		n = write(fd, buf, MIB);
		if (n < 0) {
			err = errno;
			break;
		}
		done += (uint64_t)n;
		if ((size_t)n < MIB) {
			err = ENOSPC;	/* a short write: full */
			break;
		}
	}
	if (fsync(fd) < 0)
		fsync_err = errno;
	SYS(close(fd) < 0 && errno != ENOSPC ? -1 : 0);
	note("write(2): %s after %llu MiB on a %llu MiB mount; fsync: %s",
	     err ? errname(err) : "no error", (unsigned long long)(done >> 20),
	     (unsigned long long)(size >> 20), fsync_err ? errname(fsync_err) : "ok");
	if (err != ENOSPC) {
		unlink(f);
		FAIL("write(2) accepted %llu MiB into a %llu MiB swap=none mount (%s), "
		     "no ENOSPC", (unsigned long long)(done >> 20),
		     (unsigned long long)(size >> 20), err ? errname(err) : "no error");
	}
	if (done > size + LIMIT_SLACK) {
		unlink(f);
		FAIL("write(2) accepted %llu bytes, more than size %llu + %lu",
		     (unsigned long long)done, (unsigned long long)size, LIMIT_SLACK);
	}
	if (!fsync_err) {
		/* nothing accepted was dropped */
		fd = SYS(open(f, O_RDONLY));
		for (uint64_t off = 0; off < done; off += MIB) {
			size_t len = done - off < MIB ? done - off : MIB;
			long bad;

			pread_full(fd, rd, len, off);
			bad = pattern_check(rd, len, 41, off);
			if (bad >= 0) {
				unlink(f);
				FAIL("byte %llu accepted by write(2) and fsync'ed is wrong",
				     (unsigned long long)(off + bad));
			}
		}
		SYS(close(fd));
	} else {
		CHECK(fsync_err == ENOSPC, "fsync: %s", errname(fsync_err));
	}
	SYS(unlink(f));
	free(buf);
	free(rd);
	return EXIT_PASS;
}

/*
 * An unprivileged user sets user.* xattrs on files of the swap=none mount
 * until ENOSPC.  The xattrs a mount keeps are bounded by its size (as
 * tmpfs bounds them by its inode space): ENOSPC must come before 2 x size,
 * df -i shows them, and the FUSE daemon's resident set (USMFS_NOSWAP_PID)
 * grows by at most 2 x size + 8 MiB.
 */
struct flood {
	const char *dir;
	uint64_t cap;
};

static int flood_child(void *arg)
{
	const struct flood *fl = arg;
	char *val = xmalloc(60000);
	uint64_t total = 0;

	memset(val, 'x', 60000);
	for (int i = 0; total < fl->cap; i++) {
		const char *f = P("%s/xf-%d", fl->dir, i);
		int fd = open(f, O_CREAT | O_WRONLY, 0644);

		if (fd < 0) {
			if (errno == ENOSPC)
				break;
			fprintf(stderr, "create %s: %s\n", f, errname(errno));
			return 2;
		}
		close(fd);
		for (int j = 0; j < 8; j++) {
			if (setxattr(f, P("user.flood%d", j), val, 60000, 0) < 0) {
				/* the inode's own bound: on to the next file */
				if (errno == ENOSPC && j > 0)
					break;
				/* not even one on a new inode: the mount's */
				if (errno == ENOSPC) {
					printf("%llu\n", (unsigned long long)total);
					return 0;
				}
				fprintf(stderr, "setxattr %s: %s\n", f, errname(errno));
				return 2;
			}
			total += 60000;
		}
	}
	printf("%llu\n", (unsigned long long)total);
	return total < fl->cap ? 0 : 1;
}

DECLARE_CASE(xattr_flood)
{
	uint64_t size, rss0, rss1, ffree0;
	struct flood fl;
	struct statfs sf;
	const char *sub;
	int st;

	(void)dir;
	need_root();
	fl.dir = noswap_dir(&size);
	sub = P("%s/flood-%d", fl.dir, (int)getpid());
	SYS(mkdir(sub, 0777));
	SYS(chmod(sub, 0777));
	fl.dir = sub;
	fl.cap = 2 * size;
	SYS(statfs(sub, &sf));
	ffree0 = sf.f_ffree;
	rss0 = daemon_rss("USMFS_NOSWAP_PID");
	fflush(stdout);
	st = run_as(1001, 1001, flood_child, &fl);
	rss1 = daemon_rss("USMFS_NOSWAP_PID");
	SYS(statfs(sub, &sf));
	note("flood by uid 1001: exit %d; f_ffree %llu -> %llu; daemon RSS %llu -> %llu MiB",
	     st, (unsigned long long)ffree0, (unsigned long long)sf.f_ffree,
	     (unsigned long long)(rss0 >> 20), (unsigned long long)(rss1 >> 20));
	/* clean up first: other cases fill this mount */
	for (int i = 0;; i++)
		if (unlink(P("%s/xf-%d", sub, i)) < 0)
			break;
	SYS(rmdir(sub));
	CHECK(st != 1, "uid 1001 set %llu MiB of xattrs on a %llu MiB mount without ENOSPC",
	      (unsigned long long)(fl.cap >> 20), (unsigned long long)(size >> 20));
	CHECK(st == 0, "the flood failed (exit %d)", st);
	CHECK(sf.f_ffree < ffree0, "df -i does not show the xattrs (f_ffree %llu -> %llu)",
	      (unsigned long long)ffree0, (unsigned long long)sf.f_ffree);
	if (rss0)
		CHECK(rss1 <= rss0 + 2 * size + 8 * MIB,
		      "the daemon's RSS grew %llu MiB for a %llu MiB mount",
		      (unsigned long long)((rss1 - rss0) >> 20),
		      (unsigned long long)(size >> 20));
	return EXIT_PASS;
}

/*
 * A writer fills a shared mapping of a file twice the size of a mount that
 * cannot keep it (USMFS_STOREFULL_DIR: a mount whose store's filesystem is
 * nearly full; else the swap=none mount), never calling msync, then
 * munmap and close.  It must be told (SIGBUS at a fault, ENOSPC/EIO from
 * close), and unless close said so, every page it wrote before a SIGBUS
 * (all of them without one) must read back.
 */
DECLARE_CASE(mmap_full)
{
	const char *sd = getenv("USMFS_STOREFULL_DIR");
	uint64_t size, len, pages, lost = 0, unreadable = 0, sigbus_at = UINT64_MAX;
	const char *nd, *f;
	int fd, close_err = 0, unreadable_err = 0;
	char *map, *rd;

	(void)dir;
	nd = noswap_dir(&size);
	if (sd && *sd) {
		struct statfs sf;

		nd = sd;
		SYS(statfs(nd, &sf));
		size = (uint64_t)sf.f_blocks * sf.f_bsize;
	}
	len = 2 * size + 8 * MIB;
	pages = len / PAGE;
	f = P("%s/mmap-full-%d", nd, (int)getpid());
	fd = SYS(open(f, O_CREAT | O_RDWR | O_TRUNC, 0644));
	SYS(ftruncate(fd, (off_t)len));
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED, "mmap: %s", errname(errno));
	for (uint64_t i = 0; i < pages; i++) {
		char *p = map + i * PAGE;

		pattern_fill(rd = xmalloc(PAGE), PAGE, 51, i * PAGE);
		if (probe_write(p, rd[0])) {
			free(rd);
			sigbus_at = i;
			break;
		}
		memcpy(p + 1, rd + 1, PAGE - 1);
		free(rd);
	}
	SYS(munmap(map, len));
	if (close(fd) < 0)
		close_err = errno;
	note("%llu pages of %llu written (SIGBUS: %s); close: %s",
	     (unsigned long long)(sigbus_at == UINT64_MAX ? pages : sigbus_at),
	     (unsigned long long)pages, sigbus_at == UINT64_MAX ? "no" : "yes",
	     close_err ? errname(close_err) : "ok");
	if (!close_err) {
		/* every page written before a SIGBUS (all, without one) must
		 * be there: close said nothing */
		uint64_t upto = sigbus_at == UINT64_MAX ? pages : sigbus_at;

		rd = xmalloc(PAGE);
		fd = SYS(open(f, O_RDONLY));
		for (uint64_t i = 0; i < upto; i++) {
			ssize_t n = pread(fd, rd, PAGE, (off_t)(i * PAGE));

			if (n < 0 && !unreadable_err)
				unreadable_err = errno;
			if (n < 0)
				unreadable++;
			else if (n != PAGE || pattern_check(rd, PAGE, 51, i * PAGE) >= 0)
				lost++;
		}
		SYS(close(fd));
		free(rd);
	}
	SYS(unlink(f));
	CHECK(!lost && !unreadable, "%llu of %llu pages written through the mapping "
	      "are lost and %llu cannot be read back (%s), and neither a fault nor "
	      "close said so", (unsigned long long)lost, (unsigned long long)pages,
	      (unsigned long long)unreadable,
	      unreadable_err ? errname(unreadable_err) : "-");
	CHECK(!close_err || close_err == ENOSPC || close_err == EIO,
	      "close: %s", errname(close_err));
	return EXIT_PASS;
}
