// SPDX-License-Identifier: GPL-2.0-only
/*
 * t_dio.c - a buffered read after an asynchronous O_DIRECT write sees the
 * new bytes while other processes keep reading the same range buffered
 * (issue 14 item 4).
 *
 * The window: the kernel drops the cached pages of the range before it
 * sends the direct write, and (FUSE) nothing drops them after an async
 * write completes.  A buffered reader that faults a page back in between
 * (its read reaching the filesystem before the write) leaves the old bytes
 * cached for good.  Raw aio syscalls: no libaio needed in the guests.
 */
#include <linux/aio_abi.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fstest.h"

#define DIO_FILE	(16 * MIB)
#define DIO_CHUNK	(512 * KIB)
#define DIO_READERS	4
#define DIO_DEPTH	4

static void reader_loop(const char *path)
{
	int fd = SYS(open(path, O_RDONLY));
	char *buf = xmalloc(DIO_CHUNK);
	unsigned long i = (unsigned long)getpid();

	for (;;) {
		off_t off = (off_t)((i++ * 7919) % (DIO_FILE / DIO_CHUNK)) *
			    (off_t)DIO_CHUNK;

		if (pread(fd, buf, DIO_CHUNK, off) < 0)
			_exit(1);
	}
}

static long aio_call(long nr, long a, long b, long c, long d)
{
	return syscall(nr, a, b, c, d, 0L);
}

/* @iters rounds of DIO_DEPTH async O_DIRECT writes, each checked buffered. */
DECLARE_CASE(dio_coherent)
{
	const char *path = P("%s/dio", dir);
	int iters = argc > 0 ? atoi(argv[0]) : 200, dfd, bfd, n;
	pid_t readers[DIO_READERS];
	aio_context_t ctx = 0;
	char *wbuf[DIO_DEPTH], *rbuf = xmalloc(DIO_CHUNK);
	long bad = -1;

	bfd = SYS(open(path, O_CREAT | O_RDWR | O_TRUNC, 0644));
	memset(rbuf, 0xaa, DIO_CHUNK);
	for (off_t o = 0; o < (off_t)DIO_FILE; o += DIO_CHUNK)
		pwrite_full(bfd, rbuf, DIO_CHUNK, o);
	SYS(fsync(bfd));
	dfd = open(path, O_RDWR | O_DIRECT);
	if (dfd < 0 && errno == EINVAL)
		skip("O_DIRECT refused on this %s", frontend());
	CHECK(dfd >= 0, "open O_DIRECT: %s", errname(errno));
	if (aio_call(SYS_io_setup, DIO_DEPTH, (long)&ctx, 0, 0) < 0)
		skip("io_setup: %s", errname(errno));
	for (int k = 0; k < DIO_DEPTH; k++)
		CHECK(!posix_memalign((void **)&wbuf[k], PAGE, DIO_CHUNK),
		      "posix_memalign");
	for (int r = 0; r < DIO_READERS; r++) {
		readers[r] = SYS(fork());
		if (!readers[r])
			reader_loop(path);
	}

	for (n = 0; n < iters && bad < 0; n++) {
		struct iocb cb[DIO_DEPTH], *cbp[DIO_DEPTH];
		struct io_event ev[DIO_DEPTH];
		int got = 0;

		for (int k = 0; k < DIO_DEPTH; k++) {
			off_t off = (off_t)(((unsigned)n * DIO_DEPTH + k) %
				    (DIO_FILE / DIO_CHUNK)) * (off_t)DIO_CHUNK;

			memset(wbuf[k], 0x55 ^ (n & 0x7f), DIO_CHUNK);
			memset(&cb[k], 0, sizeof(cb[k]));
			cb[k].aio_fildes = (uint32_t)dfd;
			cb[k].aio_lio_opcode = IOCB_CMD_PWRITE;
			cb[k].aio_buf = (uint64_t)(uintptr_t)wbuf[k];
			cb[k].aio_nbytes = DIO_CHUNK;
			cb[k].aio_offset = off;
			cbp[k] = &cb[k];
		}
		CHECK(aio_call(SYS_io_submit, (long)ctx, DIO_DEPTH, (long)cbp,
			       0) == DIO_DEPTH, "io_submit: %s", errname(errno));
		while (got < DIO_DEPTH) {
			long r = aio_call(SYS_io_getevents, (long)ctx,
					  DIO_DEPTH - got, DIO_DEPTH - got,
					  (long)ev);

			CHECK(r > 0, "io_getevents: %s", errname(errno));
			for (long e = 0; e < r; e++)
				CHECK(ev[e].res == (long long)DIO_CHUNK,
				      "async write: %lld", (long long)ev[e].res);
			got += (int)r;
		}
		for (int k = 0; k < DIO_DEPTH && bad < 0; k++) {
			unsigned char want = 0x55 ^ (n & 0x7f);

			pread_full(bfd, rbuf, DIO_CHUNK, cb[k].aio_offset);
			for (size_t i = 0; i < DIO_CHUNK; i++)
				if ((unsigned char)rbuf[i] != want) {
					bad = (long)(cb[k].aio_offset + (off_t)i);
					note("offset %#lx: %#x, expected %#x "
					     "(round %d)", bad,
					     (unsigned char)rbuf[i], want, n);
					break;
				}
		}
	}
	for (int r = 0; r < DIO_READERS; r++) {
		kill(readers[r], SIGKILL);
		waitpid(readers[r], NULL, 0);
	}
	aio_call(SYS_io_destroy, (long)ctx, 0, 0, 0);
	CHECK(bad < 0, "stale buffered read after an async O_DIRECT write at "
	      "%#lx (%d rounds of %d x %lu KiB)", bad, n, DIO_DEPTH,
	      DIO_CHUNK / KIB);
	return 0;
}
