// SPDX-License-Identifier: GPL-2.0-only
/* t_io.c - data: read/write, holes, truncate, fallocate, concurrency. */
#include <linux/falloc.h>
#include <sys/sendfile.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "fstest.h"

static off_t size_of(int fd)
{
	struct stat st;

	SYS(fstat(fd, &st));
	return st.st_size;
}

static blkcnt_t blocks_of(int fd)
{
	struct stat st;

	SYS(fstat(fd, &st));
	return st.st_blocks;
}

/* The range reads back as zeroes. */
static void expect_zero(int fd, off_t off, size_t len)
{
	char *buf = xmalloc(len);

	pread_full(fd, buf, len, off);
	for (size_t i = 0; i < len; i++)
		CHECK(!buf[i], "byte %lld is 0x%02x, want 0", (long long)(off + i),
		      (unsigned char)buf[i]);
	free(buf);
}

static void expect_pattern(int fd, off_t off, size_t len, uint64_t seed)
{
	char *buf = xmalloc(len);
	long bad;

	pread_full(fd, buf, len, off);
	bad = pattern_check(buf, len, seed, off);
	CHECK(bad < 0, "wrong byte at offset %lld (seed %llu)", (long long)off + bad,
	      (unsigned long long)seed);
	free(buf);
}

static void write_pattern(int fd, off_t off, size_t len, uint64_t seed)
{
	char *buf = xmalloc(len);

	pattern_fill(buf, len, seed, off);
	pwrite_full(fd, buf, len, off);
	free(buf);
}

DECLARE_CASE(rw_offsets)
{
	int fd = SYS(open(P("%s/f", dir), O_CREAT | O_RDWR, 0644));
	static const struct { off_t off; size_t len; } w[] = {
		{ 0, 1 }, { 1, 4095 }, { 4095, 2 }, { 8191, 8193 }, { 12345, 777 },
		{ 65536 - 3, 6 }, { 100000, 3 * 4096 + 5 }, { 1 << 20, 1 << 20 },
	};
	char buf[64];
	ssize_t n;

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		write_pattern(fd, w[i].off, w[i].len, 7);
	CHECK(size_of(fd) == (2 << 20), "size %lld, want %d", (long long)size_of(fd), 2 << 20);
	/* every write wrote the same stream, so all written ranges match it */
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		expect_pattern(fd, w[i].off, w[i].len, 7);
	/* the unwritten gaps are zero */
	expect_zero(fd, 4097, 8191 - 4097);
	expect_zero(fd, 16384, 65533 - 16384);
	expect_zero(fd, 65536 + 3, 100000 - 65539);
	expect_zero(fd, 100000 + 3 * 4096 + 5, (1 << 20) - (100000 + 3 * 4096 + 5));
	/* reads at and past EOF */
	n = SYS(pread(fd, buf, sizeof(buf), 2 << 20));
	CHECK(n == 0, "read at EOF gave %zd", n);
	n = SYS(pread(fd, buf, sizeof(buf), (2 << 20) + 100));
	CHECK(n == 0, "read past EOF gave %zd", n);
	n = SYS(pread(fd, buf, sizeof(buf), (2 << 20) - 10));
	CHECK(n == 10, "read across EOF gave %zd, want 10", n);
	/* read()/write() use and move the file offset */
	SYS(lseek(fd, 4096, SEEK_SET));
	write_full(fd, "abc", 3);
	CHECK(lseek(fd, 0, SEEK_CUR) == 4099, "offset %lld after write",
	      (long long)lseek(fd, 0, SEEK_CUR));
	SYS(lseek(fd, 4096, SEEK_SET));
	read_full(fd, buf, 3);
	CHECK(!memcmp(buf, "abc", 3), "read back after lseek");
	CHECK(lseek(fd, 0, SEEK_END) == (2 << 20), "SEEK_END");
	/* the data survives close and reopen */
	SYS(close(fd));
	fd = SYS(open(P("%s/f", dir), O_RDONLY));
	expect_pattern(fd, 1 << 20, 1 << 20, 7);
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(sparse)
{
	int fd = SYS(open(P("%s/sparse", dir), O_CREAT | O_RDWR, 0644));
	const off_t far = 1LL << 30;	/* 1 GiB */
	struct stat st;

	write_pattern(fd, 0, 4096, 1);
	write_pattern(fd, far, 4096, 2);
	SYS(fsync(fd));
	SYS(fstat(fd, &st));
	CHECK(st.st_size == far + 4096, "size %lld", (long long)st.st_size);
	CHECK(st.st_blocks > 0 && st.st_blocks <= 64,
	      "st_blocks %lld for two written pages of a 1 GiB file",
	      (long long)st.st_blocks);
	expect_zero(fd, 4096, 1 << 20);
	expect_zero(fd, far - (1 << 20), 1 << 20);
	expect_pattern(fd, 0, 4096, 1);
	expect_pattern(fd, far, 4096, 2);
	/* a huge sparse size is fine (or EFBIG), and never allocates */
	if (ftruncate(fd, 1LL << 40) == 0) {
		SYS(fstat(fd, &st));
		CHECK(st.st_size == 1LL << 40, "size after 1 TiB truncate");
		CHECK(st.st_blocks <= 64, "1 TiB truncate allocated %lld blocks",
		      (long long)st.st_blocks);
		expect_zero(fd, (1LL << 40) - 8192, 8192);
	} else {
		CHECK(errno == EFBIG, "ftruncate 1 TiB: %s", errname(errno));
	}
	ERR(ftruncate(fd, -1), EINVAL);
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(truncate)
{
	int fd = SYS(open(P("%s/t", dir), O_CREAT | O_RDWR, 0644));

	write_pattern(fd, 0, 5 * 4096, 3);
	/* shrink into the middle of a page, then grow: the tail must be zero */
	SYS(ftruncate(fd, 2 * 4096 + 100));
	CHECK(size_of(fd) == 2 * 4096 + 100, "size after shrink");
	expect_pattern(fd, 0, 2 * 4096 + 100, 3);
	SYS(ftruncate(fd, 5 * 4096));
	expect_pattern(fd, 0, 2 * 4096 + 100, 3);
	expect_zero(fd, 2 * 4096 + 100, 3 * 4096 - 100);
	/* to zero and back: nothing stale */
	SYS(ftruncate(fd, 0));
	CHECK(size_of(fd) == 0, "size after truncate to 0");
	SYS(ftruncate(fd, 8 * 4096));
	expect_zero(fd, 0, 8 * 4096);
	/* truncate(2) by path, growing */
	SYS(truncate(P("%s/t", dir), 1 << 20));
	CHECK(size_of(fd) == 1 << 20, "truncate by path");
	expect_zero(fd, 0, 1 << 20);
	/* write past EOF after shrink leaves a zero gap */
	SYS(ftruncate(fd, 10));
	pwrite_full(fd, "end", 3, 3 * 4096);
	expect_zero(fd, 0, 10);
	expect_zero(fd, 10, 3 * 4096 - 10);
	CHECK(size_of(fd) == 3 * 4096 + 3, "size after write past EOF");
	/* blocks are released by a shrink */
	write_pattern(fd, 0, 1 << 20, 4);
	SYS(fsync(fd));
	{
		blkcnt_t before = blocks_of(fd);

		SYS(ftruncate(fd, 4096));
		SYS(fsync(fd));
		CHECK(blocks_of(fd) < before, "st_blocks %lld not reduced by shrink (was %lld)",
		      (long long)blocks_of(fd), (long long)before);
	}
	/* O_TRUNC on open */
	SYS(close(fd));
	fd = SYS(open(P("%s/t", dir), O_RDWR | O_TRUNC));
	CHECK(size_of(fd) == 0, "O_TRUNC");
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(fallocate)
{
	int fd = SYS(open(P("%s/fa", dir), O_CREAT | O_RDWR, 0644));
	blkcnt_t b0, b1;

	if (fallocate(fd, 0, 0, 4096) < 0 && errno == EOPNOTSUPP)
		FAIL("fallocate not supported (required)");
	/* mode 0 grows size and allocates */
	SYS(fallocate(fd, 0, 0, 1 << 20));
	CHECK(size_of(fd) == 1 << 20, "size %lld after fallocate", (long long)size_of(fd));
	CHECK(blocks_of(fd) >= (1 << 20) / 512, "st_blocks %lld after fallocate 1M",
	      (long long)blocks_of(fd));
	expect_zero(fd, 0, 1 << 20);
	/* KEEP_SIZE: size unchanged, blocks grow, reads past EOF still 0 bytes */
	b0 = blocks_of(fd);
	SYS(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20));
	CHECK(size_of(fd) == 1 << 20, "KEEP_SIZE changed the size to %lld",
	      (long long)size_of(fd));
	b1 = blocks_of(fd);
	CHECK(b1 > b0, "KEEP_SIZE did not allocate (blocks %lld -> %lld)",
	      (long long)b0, (long long)b1);
	{
		char c;

		CHECK(pread(fd, &c, 1, 1 << 20) == 0, "read past EOF after KEEP_SIZE");
	}
	/* PUNCH_HOLE: zeroes, size kept, blocks freed */
	write_pattern(fd, 0, 1 << 20, 5);
	SYS(fsync(fd));
	b0 = blocks_of(fd);
	SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8 * 4096));
	CHECK(size_of(fd) == 1 << 20, "punch changed the size");
	expect_pattern(fd, 0, 4096, 5);
	expect_zero(fd, 4096, 8 * 4096);
	expect_pattern(fd, 9 * 4096, (1 << 20) - 9 * 4096, 5);
	SYS(fsync(fd));
	CHECK(blocks_of(fd) < b0, "punch did not free blocks (%lld -> %lld)",
	      (long long)b0, (long long)blocks_of(fd));
	/* unaligned punch zeroes partial pages */
	SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100000, 5000));
	expect_pattern(fd, 9 * 4096, 100000 - 9 * 4096, 5);
	expect_zero(fd, 100000, 5000);
	expect_pattern(fd, 105000, 4096, 5);
	/* punch without KEEP_SIZE is invalid */
	ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP);
	/* fallocate over existing data keeps it */
	SYS(fallocate(fd, 0, 0, 2 << 20));
	expect_pattern(fd, 0, 4096, 5);
	CHECK(size_of(fd) == 2 << 20, "size after fallocate over data");
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(seek_data_hole)
{
	int fd = SYS(open(P("%s/sh", dir), O_CREAT | O_RDWR, 0644));
	off_t r;

	write_pattern(fd, 0, 4096, 1);
	write_pattern(fd, 1 << 20, 8192, 2);
	SYS(ftruncate(fd, 4 << 20));
	SYS(fsync(fd));
	r = lseek(fd, 0, SEEK_DATA);
	if (r < 0 && errno == EINVAL)
		FAIL("SEEK_DATA not supported");
	CHECK(r == 0, "SEEK_DATA(0) = %lld, want 0", (long long)r);
	r = SYS(lseek(fd, 0, SEEK_HOLE));
	CHECK(r == 4096, "SEEK_HOLE(0) = %lld, want 4096", (long long)r);
	r = SYS(lseek(fd, 4096, SEEK_DATA));
	CHECK(r == 1 << 20, "SEEK_DATA(4096) = %lld, want %d", (long long)r, 1 << 20);
	r = SYS(lseek(fd, (1 << 20) + 100, SEEK_DATA));
	CHECK(r == (1 << 20) + 100, "SEEK_DATA inside data = %lld", (long long)r);
	r = SYS(lseek(fd, 1 << 20, SEEK_HOLE));
	CHECK(r == (1 << 20) + 8192, "SEEK_HOLE(1M) = %lld, want %d", (long long)r,
	      (1 << 20) + 8192);
	ERR(lseek(fd, (1 << 20) + 8192, SEEK_DATA), ENXIO);
	r = SYS(lseek(fd, 3 << 20, SEEK_HOLE));
	CHECK(r == 3 << 20, "SEEK_HOLE in trailing hole = %lld", (long long)r);
	ERR(lseek(fd, 4 << 20, SEEK_DATA), ENXIO);
	ERR(lseek(fd, 4 << 20, SEEK_HOLE), ENXIO);
	/* a punched hole shows up */
	SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	r = SYS(lseek(fd, 0, SEEK_DATA));
	CHECK(r == 1 << 20, "SEEK_DATA after punch = %lld", (long long)r);
	SYS(close(fd));
	return 0;
}

#define APP_WRITERS	4
#define APP_RECORDS	2000
#define APP_RECLEN	64

DECLARE_CASE(append_concurrent)
{
	const char *f = P("%s/log", dir);
	pid_t pids[APP_WRITERS];
	int fd;
	char *buf;
	int last[APP_WRITERS];
	off_t size;

	put_file(f, "", 0, 0644);
	for (int w = 0; w < APP_WRITERS; w++) {
		pids[w] = SYS(fork());
		if (pids[w] == 0) {
			int afd = SYS(open(f, O_WRONLY | O_APPEND));
			char rec[APP_RECLEN];

			for (int i = 0; i < APP_RECORDS; i++) {
				memset(rec, 'a' + w, sizeof(rec));
				snprintf(rec, sizeof(rec), "w%d r%06d ", w, i);
				rec[strlen(rec)] = '.';
				rec[APP_RECLEN - 1] = '\n';
				CHECK(write(afd, rec, sizeof(rec)) == sizeof(rec),
				      "short O_APPEND write");
			}
			SYS(close(afd));
			_exit(0);
		}
	}
	for (int w = 0; w < APP_WRITERS; w++)
		CHECK(wait_status(pids[w]) == 0, "writer %d failed", w);
	fd = SYS(open(f, O_RDONLY));
	size = size_of(fd);
	CHECK(size == (off_t)APP_WRITERS * APP_RECORDS * APP_RECLEN,
	      "size %lld, want %d: lost or overlapping appends", (long long)size,
	      APP_WRITERS * APP_RECORDS * APP_RECLEN);
	buf = xmalloc(size);
	pread_full(fd, buf, size, 0);
	for (int w = 0; w < APP_WRITERS; w++)
		last[w] = -1;
	for (off_t o = 0; o < size; o += APP_RECLEN) {
		int w, i;

		CHECK(sscanf(buf + o, "w%d r%d ", &w, &i) == 2 && w >= 0 && w < APP_WRITERS,
		      "garbled record at %lld", (long long)o);
		CHECK(buf[o + APP_RECLEN - 1] == '\n' && buf[o + APP_RECLEN - 2] == 'a' + w,
		      "torn record at %lld", (long long)o);
		CHECK(i == last[w] + 1, "writer %d: record %d after %d", w, i, last[w]);
		last[w] = i;
	}
	for (int w = 0; w < APP_WRITERS; w++)
		CHECK(last[w] == APP_RECORDS - 1, "writer %d: last record %d", w, last[w]);
	free(buf);
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(statfs)
{
	struct statfs sf;
	struct statvfs sv;
	struct stat st;
	int fd;

	SYS(statfs(dir, &sf));
	CHECK(sf.f_bsize == 4096, "f_bsize %ld, want 4096", (long)sf.f_bsize);
	CHECK(sf.f_blocks > 0, "f_blocks is 0 (df hides the filesystem)");
	CHECK(sf.f_bfree <= sf.f_blocks && sf.f_bavail <= sf.f_blocks,
	      "bfree %llu bavail %llu > blocks %llu", (unsigned long long)sf.f_bfree,
	      (unsigned long long)sf.f_bavail, (unsigned long long)sf.f_blocks);
	CHECK(sf.f_files > 0, "f_files is 0");
	CHECK(sf.f_ffree <= sf.f_files, "f_ffree > f_files");
	CHECK(sf.f_namelen >= 255, "f_namelen %ld", (long)sf.f_namelen);
	SYS(statvfs(dir, &sv));
	CHECK(sv.f_blocks > 0 && sv.f_frsize > 0, "statvfs totals are 0");
	if (!strcmp(frontend(), "fuse") || !strcmp(frontend(), "kmod")) {
		uint64_t size = env_bytes("USMFS_SIZE", 0);

		if (size)
			CHECK((uint64_t)sf.f_blocks * sf.f_bsize >= size / 2,
			      "f_blocks*f_bsize %llu is far below size= %llu",
			      (unsigned long long)sf.f_blocks * sf.f_bsize,
			      (unsigned long long)size);
	}
	/* used space grows with data */
	fd = SYS(open(P("%s/f", dir), O_CREAT | O_RDWR, 0644));
	write_pattern(fd, 0, 8 << 20, 9);
	SYS(fsync(fd));
	SYS(fstat(fd, &st));
	CHECK(st.st_blksize == 4096, "st_blksize %ld, want 4096", (long)st.st_blksize);
	CHECK(st.st_blocks >= (8 << 20) / 512, "st_blocks %lld for 8 MiB",
	      (long long)st.st_blocks);
	{
		struct statfs sf2;

		SYS(statfs(dir, &sf2));
		CHECK(sf2.f_bfree < sf.f_bfree || sf2.f_blocks != sf.f_blocks,
		      "f_bfree did not drop after writing 8 MiB (%llu -> %llu)",
		      (unsigned long long)sf.f_bfree, (unsigned long long)sf2.f_bfree);
	}
	SYS(close(fd));
	return 0;
}

#define CW_PROCS	4
#define CW_SIZE		(4 << 20)

DECLARE_CASE(concurrent_files)
{
	pid_t pids[CW_PROCS];

	for (int w = 0; w < CW_PROCS; w++) {
		pids[w] = SYS(fork());
		if (pids[w] == 0) {
			int fd = SYS(open(P("%s/cw%d", dir, w), O_CREAT | O_RDWR, 0644));
			char *buf = xmalloc(65536);

			for (off_t o = 0; o < CW_SIZE; o += 65536) {
				pattern_fill(buf, 65536, 100 + w, o);
				pwrite_full(fd, buf, 65536, o);
			}
			for (off_t o = 0; o < CW_SIZE; o += 65536) {
				pread_full(fd, buf, 65536, o);
				CHECK(pattern_check(buf, 65536, 100 + w, o) < 0,
				      "writer %d: bad data at %lld", w, (long long)o);
			}
			SYS(close(fd));
			_exit(0);
		}
	}
	for (int w = 0; w < CW_PROCS; w++)
		CHECK(wait_status(pids[w]) == 0, "writer %d failed", w);
	for (int w = 0; w < CW_PROCS; w++) {
		int fd = SYS(open(P("%s/cw%d", dir, w), O_RDONLY));

		CHECK(size_of(fd) == CW_SIZE, "cw%d size", w);
		expect_pattern(fd, 0, CW_SIZE, 100 + w);
		SYS(close(fd));
	}
	return 0;
}

#define SP_PROCS	4
#define SP_BLOCKS	512	/* per process */
#define SP_BLOCK	4096

DECLARE_CASE(shared_pwrite)
{
	const char *f = P("%s/shared", dir);
	pid_t pids[SP_PROCS];
	int fd;

	put_file(f, "", 0, 0644);
	for (int w = 0; w < SP_PROCS; w++) {
		pids[w] = SYS(fork());
		if (pids[w] == 0) {
			int wfd = SYS(open(f, O_WRONLY));
			char buf[SP_BLOCK];

			/* block b belongs to writer b % SP_PROCS; unaligned
			 * sub-writes too, so neighbours share pages */
			for (int i = 0; i < SP_BLOCKS; i++) {
				off_t o = (off_t)(i * SP_PROCS + w) * SP_BLOCK;

				pattern_fill(buf, SP_BLOCK, 42, o);
				pwrite_full(wfd, buf, 1000, o);
				pwrite_full(wfd, buf + 1000, SP_BLOCK - 1000, o + 1000);
			}
			SYS(close(wfd));
			_exit(0);
		}
	}
	for (int w = 0; w < SP_PROCS; w++)
		CHECK(wait_status(pids[w]) == 0, "writer %d failed", w);
	fd = SYS(open(f, O_RDONLY));
	CHECK(size_of(fd) == (off_t)SP_PROCS * SP_BLOCKS * SP_BLOCK, "size %lld",
	      (long long)size_of(fd));
	expect_pattern(fd, 0, SP_PROCS * SP_BLOCKS * SP_BLOCK, 42);
	SYS(close(fd));
	return 0;
}

DECLARE_CASE(splice)
{
	const size_t len = 3 * MIB + 1234;
	int src = SYS(open(P("%s/src", dir), O_CREAT | O_RDWR, 0644));
	int dst, p[2];
	off_t off;
	size_t done;

	write_pattern(src, 0, len, 77);
	/* sendfile */
	dst = SYS(open(P("%s/sendfile", dir), O_CREAT | O_RDWR, 0644));
	off = 0;
	for (done = 0; done < len;) {
		ssize_t n = SYS(sendfile(dst, src, &off, len - done));

		CHECK(n > 0, "sendfile returned 0 at %zu", done);
		done += n;
	}
	CHECK(size_of(dst) == (off_t)len, "sendfile size");
	expect_pattern(dst, 0, len, 77);
	SYS(close(dst));
	/* splice through a pipe */
	dst = SYS(open(P("%s/splice", dir), O_CREAT | O_RDWR, 0644));
	SYS(pipe(p));
	{
		loff_t in = 0, out = 0;

		while ((size_t)in < len) {
			ssize_t n = SYS(splice(src, &in, p[1], NULL, 65536, 0));

			CHECK(n > 0, "splice in returned 0");
			while (n > 0) {
				ssize_t m = SYS(splice(p[0], NULL, dst, &out, n, 0));

				CHECK(m > 0, "splice out returned 0");
				n -= m;
			}
		}
	}
	SYS(close(p[0]));
	SYS(close(p[1]));
	expect_pattern(dst, 0, len, 77);
	SYS(close(dst));
	/* copy_file_range, with offsets */
	dst = SYS(open(P("%s/cfr", dir), O_CREAT | O_RDWR, 0644));
	{
		loff_t in = 4096, out = 8192;
		size_t want = len - 4096;

		for (done = 0; done < want;) {
			ssize_t n = copy_file_range(src, &in, dst, &out, want - done, 0);

			if (n < 0 && (errno == ENOSYS || errno == EOPNOTSUPP))
				FAIL("copy_file_range: %s", errname(errno));
			CHECK(n > 0, "copy_file_range: %s", n < 0 ? errname(errno) : "0");
			done += n;
		}
		CHECK(size_of(dst) == (off_t)(8192 + want), "copy_file_range size %lld",
		      (long long)size_of(dst));
		expect_zero(dst, 0, 8192);
		{
			char *buf = xmalloc(want);

			pread_full(dst, buf, want, 8192);
			CHECK(pattern_check(buf, want, 77, 4096) < 0, "copy_file_range data");
			free(buf);
		}
	}
	SYS(close(dst));
	/* the source is unchanged */
	expect_pattern(src, 0, len, 77);
	SYS(close(src));
	return 0;
}

DECLARE_CASE(odirect)
{
	int fd = open(P("%s/direct", dir), O_CREAT | O_RDWR | O_DIRECT, 0644);
	void *buf;

	if (fd < 0 && errno == EINVAL)
		skip("O_DIRECT refused (%s) on this %s", errname(errno), frontend());
	CHECK(fd >= 0, "open O_DIRECT: %s", errname(errno));
	CHECK(posix_memalign(&buf, 4096, 65536) == 0, "posix_memalign");
	pattern_fill(buf, 65536, 11, 0);
	pwrite_full(fd, buf, 65536, 0);
	memset(buf, 0, 65536);
	pread_full(fd, buf, 65536, 0);
	CHECK(pattern_check(buf, 65536, 11, 0) < 0, "O_DIRECT read back");
	SYS(close(fd));
	fd = SYS(open(P("%s/direct", dir), O_RDONLY));
	expect_pattern(fd, 0, 65536, 11);
	SYS(close(fd));
	free(buf);
	return 0;
}

DECLARE_CASE(fsync)
{
	int fd = SYS(open(P("%s/fs", dir), O_CREAT | O_RDWR, 0644));
	int dfd = SYS(open(dir, O_RDONLY | O_DIRECTORY));

	write_pattern(fd, 0, 65536, 8);
	SYS(fsync(fd));
	SYS(fdatasync(fd));
	SYS(fsync(dfd));
	SYS(syncfs(fd));
	SYS(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	expect_pattern(fd, 0, 65536, 8);
	SYS(close(dfd));
	SYS(close(fd));
	return 0;
}

/* The call either works or fails with one of the listed errnos (0-ended). */
#define ONE_OF(call, ...)						\
	do {								\
		static const int _ok[] = { __VA_ARGS__, 0 };		\
		errno = 0;						\
		long _r = (long)(call);					\
		int _e = errno, _hit = _r >= 0;				\
		for (int _i = 0; !_hit && _ok[_i]; _i++)		\
			_hit = _e == _ok[_i];				\
		CHECK(_hit, "%s: unexpected %s", #call, errname(_e));	\
	} while (0)

/*
 * Odd but legal requests: the filesystem answers each (success or a proper
 * error) and is still alive afterwards.  A FUSE daemon must not crash on
 * any of them.
 */
DECLARE_CASE(odd_requests)
{
	const char *f = P("%s/odd", dir);
	int fd = SYS(open(f, O_CREAT | O_RDWR, 0644));
	char c = 'x', buf[16];
	struct stat st;
	ssize_t n;

	/* far offsets */
	note("step: writes and truncates at far offsets");
	ONE_OF(pwrite(fd, &c, 1, 1LL << 62), EFBIG, EINVAL, ENOSPC);
	n = SYS(pread(fd, buf, sizeof(buf), (1LL << 62) + 4096));
	CHECK(n == 0, "read past a far EOF gave %zd", n);
	ONE_OF(pwrite(fd, &c, 1, 0x7fffffffffffefffLL), EFBIG, EINVAL, ENOSPC);
	ERR(pwrite(fd, &c, 1, -1), EINVAL);
	ONE_OF(ftruncate(fd, 0x7fffffffffffffffLL), EFBIG, EINVAL);
	SYS(ftruncate(fd, 0));
	ONE_OF(lseek(fd, 0x7fffffffffffffffLL, SEEK_SET), EINVAL);
	/* an allocation far beyond any pool: refused quickly, not attempted */
	note("step: fallocate of 1 TiB (must fail with ENOSPC at once)");
	ONE_OF(fallocate(fd, 0, 0, 1LL << 40), ENOSPC, EFBIG);
	ONE_OF(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1LL << 50, 1LL << 40), ENOSPC, EFBIG);
	ONE_OF(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1LL << 62), EFBIG);
	ERR(fallocate(fd, 0, 0, 0), EINVAL);
	ONE_OF(fallocate(fd, 0x40 /* unknown mode bits */, 0, 4096), EOPNOTSUPP, EINVAL);
	SYS(fstat(fd, &st));
	CHECK(st.st_size <= (1LL << 40), "size %lld after refused allocations",
	      (long long)st.st_size);
	SYS(ftruncate(fd, 0));
	/* xattr sizes at and past the kernel's limits */
	note("step: xattr limits");
	{
		char *v = xmalloc(65537), name[300];

		memset(v, 'v', 65537);
		ONE_OF(setxattr(f, "user.max", v, 65536, 0), ENOSPC, E2BIG);
		ERR(setxattr(f, "user.over", v, 65537, 0), E2BIG);
		memset(name, 'n', sizeof(name));
		memcpy(name, "user.", 5);
		name[255] = 0;
		ONE_OF(setxattr(f, name, "v", 1, 0), ENOSPC, E2BIG, ERANGE);
		name[255] = 'n';
		name[256] = 0;
		ERR(setxattr(f, name, "v", 1, 0), ERANGE);
		for (int i = 0; i < 100; i++)
			ONE_OF(setxattr(f, P("user.many%03d", i), "v", 1, 0), ENOSPC);
		n = SYS(listxattr(f, NULL, 0));
		CHECK(n > 0, "listxattr size after 100 names: %zd", n);
		free(v);
	}
	/* copy_file_range within one file, overlapping: EINVAL */
	note("step: overlapping copy_file_range");
	{
		char data[8192];
		loff_t in = 0, out = 100;

		pattern_fill(data, sizeof(data), 1, 0);
		pwrite_full(fd, data, sizeof(data), 0);
		ERR(copy_file_range(fd, &in, fd, &out, 4096, 0), EINVAL);
		ERR(copy_file_range(fd, &in, fd, &out, 4096, 1 /* flags */), EINVAL);
	}
	/* the longest symlink target, and one byte more */
	note("step: symlink target limits");
	{
		char *t = xmalloc(4097);

		memset(t, 't', 4096);
		t[4095] = 0;
		ONE_OF(symlink(t, P("%s/longest", dir)), ENAMETOOLONG);
		t[4095] = 't';
		t[4096] = 0;
		ERR(symlink(t, P("%s/toolong", dir)), ENAMETOOLONG);
		free(t);
	}
	/* O_TMPFILE, device nodes, many descriptors of one file */
	note("step: O_TMPFILE, mknod, 256 descriptors");
	{
		int t = open(dir, O_TMPFILE | O_RDWR, 0600);

		if (t >= 0) {
			write_full(t, "tmp", 3);
			SYS(close(t));
		} else {
			CHECK(errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL,
			      "O_TMPFILE: %s", errname(errno));
		}
		if (geteuid() == 0) {
			ONE_OF(mknod(P("%s/null", dir), S_IFCHR | 0666, makedev(1, 3)), EPERM);
			unlink(P("%s/null", dir));
		}
		ONE_OF(mknod(P("%s/sock", dir), S_IFSOCK | 0644, 0), EPERM);
		int fds[256];

		for (int i = 0; i < 256; i++)
			fds[i] = SYS(open(f, O_RDONLY));
		for (int i = 0; i < 256; i++)
			SYS(close(fds[i]));
	}
	/* rename onto itself through a hard link, rename of '.' */
	SYS(link(f, P("%s/odd2", dir)));
	SYS(rename(f, P("%s/odd2", dir)));	/* same inode: a no-op */
	SYS(stat(f, &st));
	ONE_OF(rename(P("%s/.", dir), P("%s/x", dir)), EBUSY, EINVAL);
	/* still alive and sane */
	SYS(close(fd));
	SYS(stat(dir, &st));
	fd = SYS(open(P("%s/after", dir), O_CREAT | O_RDWR, 0644));
	write_full(fd, "alive", 5);
	SYS(close(fd));
	return 0;
}
