// SPDX-License-Identifier: GPL-2.0
/*
 * fsx.c - a seeded random file exerciser in the manner of fsx: one file,
 * a random sequence of write / pwrite / read / truncate / fallocate (plain,
 * KEEP_SIZE, PUNCH_HOLE) / mmap read / mmap write + msync / SEEK_DATA and
 * SEEK_HOLE / fsync / close+reopen / O_DIRECT read and write (through a
 * second descriptor) / MAP_PRIVATE copy-on-write / copy_file_range within
 * the file, every operation mirrored in a memory buffer and every read
 * (read(2), a mapping, the whole file after a reopen) checked against that
 * mirror.  The file size is checked after every step.
 *
 *   fsx [-N ops] [-S seed] [-l maxlen] [-o maxop] [-x op]... [-v] [-Z n] FILE
 *
 *   -N ops     number of operations (default 20000)
 *   -S seed    random seed (default 1); the same seed gives the same run
 *   -l maxlen  largest file size in bytes (default 1 MiB)
 *   -o maxop   largest single transfer in bytes (default 64 KiB)
 *   -x op      leave out an operation (read, write, pwrite, truncate,
 *              falloc, falloc_keep, punch, mapread, mapwrite, seek, fsync,
 *              reopen, dread, dwrite, privwrite, copyrange); may be given
 *              several times
 *   -v         print every operation
 *   -Z n       self-test: after operation n, change one byte of the file
 *              behind the mirror's back and compare the whole file; the
 *              run must then fail
 *
 * On a mismatch it prints the last operations, the first bad offset and
 * the expected and actual bytes, and exits 1; run again with -v -N n to
 * see the sequence up to the failing operation n.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum op {
	OP_READ, OP_WRITE, OP_PWRITE, OP_TRUNCATE, OP_FALLOC, OP_FALLOC_KEEP,
	OP_PUNCH, OP_MAPREAD, OP_MAPWRITE, OP_SEEK, OP_FSYNC, OP_REOPEN,
	OP_DREAD, OP_DWRITE, OP_PRIVWRITE, OP_COPYRANGE,
	OP_NR
};

static const char *const op_names[OP_NR] = {
	[OP_READ] = "read", [OP_WRITE] = "write", [OP_PWRITE] = "pwrite",
	[OP_TRUNCATE] = "truncate", [OP_FALLOC] = "falloc",
	[OP_FALLOC_KEEP] = "falloc_keep", [OP_PUNCH] = "punch",
	[OP_MAPREAD] = "mapread", [OP_MAPWRITE] = "mapwrite",
	[OP_SEEK] = "seek", [OP_FSYNC] = "fsync", [OP_REOPEN] = "reopen",
	[OP_DREAD] = "dread", [OP_DWRITE] = "dwrite",
	[OP_PRIVWRITE] = "privwrite", [OP_COPYRANGE] = "copyrange",
};

/* relative frequency of each operation */
static const unsigned int op_weight[OP_NR] = {
	[OP_READ] = 20, [OP_WRITE] = 12, [OP_PWRITE] = 12, [OP_TRUNCATE] = 5,
	[OP_FALLOC] = 4, [OP_FALLOC_KEEP] = 3, [OP_PUNCH] = 6,
	[OP_MAPREAD] = 12, [OP_MAPWRITE] = 12, [OP_SEEK] = 6, [OP_FSYNC] = 2,
	[OP_REOPEN] = 1, [OP_DREAD] = 4, [OP_DWRITE] = 4, [OP_PRIVWRITE] = 4,
	[OP_COPYRANGE] = 4,
};

#define LOG_KEEP 32

struct logent {
	unsigned long n;
	enum op op;
	uint64_t off, len, size_after;
	uint64_t to;		/* copyrange: the destination */
	int flag;
};

static struct {
	const char *path;
	int fd;
	int dfd;		/* the same file opened O_DIRECT */
	uint8_t *mirror;	/* the file as it must be */
	uint8_t *buf;		/* scratch for reads and writes */
	uint8_t *abuf;		/* page-aligned scratch for O_DIRECT */
	uint64_t size;		/* the file size as it must be */
	uint64_t maxlen, maxop;
	uint64_t rng;
	unsigned long n;	/* the current operation number, from 1 */
	bool excluded[OP_NR], verbose;
	unsigned long corrupt_at;	/* -Z */
	uint64_t copy_to;		/* the destination of the copyrange being logged */
	long page;
	struct logent log[LOG_KEEP];
	unsigned long counts[OP_NR];
} fx;

/* xorshift64*: small, seeded, the same everywhere */
static uint64_t rnd(void)
{
	fx.rng ^= fx.rng >> 12;
	fx.rng ^= fx.rng << 25;
	fx.rng ^= fx.rng >> 27;
	return fx.rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void log_op(enum op op, uint64_t off, uint64_t len, int flag)
{
	struct logent *e = &fx.log[fx.n % LOG_KEEP];

	e->n = fx.n;
	e->op = op;
	e->off = off;
	e->len = len;
	e->flag = flag;
	e->size_after = fx.size;
	e->to = op == OP_COPYRANGE ? fx.copy_to : 0;
	fx.counts[op]++;
	if (!fx.verbose)
		return;
	printf("%lu %s 0x%" PRIx64 " 0x%" PRIx64 " size 0x%" PRIx64 "%s", fx.n,
	       op_names[op], off, len, fx.size, flag ? " (+msync)" : "");
	if (op == OP_COPYRANGE)
		printf(" to 0x%" PRIx64, e->to);
	putchar('\n');
}

static void dump_log(void)
{
	unsigned long first = fx.n >= LOG_KEEP ? fx.n - LOG_KEEP + 1 : 1;

	fprintf(stderr, "fsx: last operations (n op offset length size-after):\n");
	for (unsigned long i = first; i <= fx.n; i++) {
		const struct logent *e = &fx.log[i % LOG_KEEP];

		if (e->n != i)
			continue;
		fprintf(stderr, "  %lu %s 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "%s",
			e->n, op_names[e->op], e->off, e->len, e->size_after,
			e->flag ? " (+msync)" : "");
		if (e->op == OP_COPYRANGE)
			fprintf(stderr, " to 0x%" PRIx64, e->to);
		fputc('\n', stderr);
	}
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fsx: op %lu: ", fx.n);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	dump_log();
	fprintf(stderr, "fsx: FAILED at op %lu (seed as given with -S; rerun with -v -N %lu)\n",
		fx.n, fx.n);
	exit(1);
}

/* the byte a write at @off by operation @n puts there */
static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + fx.n * 13 + 1);
}

static void check_bytes(const char *what, const uint8_t *got, uint64_t off, uint64_t len)
{
	const uint8_t *want = fx.mirror + off;
	uint64_t i, bad = 0, first;

	if (!memcmp(got, want, len))
		return;
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	first = i;
	for (; i < len; i++)
		bad += got[i] != want[i];
	fprintf(stderr, "fsx: %s of 0x%" PRIx64 "+0x%" PRIx64 ": first bad byte at 0x%"
		PRIx64 " (%" PRIu64 " bad bytes)\n", what, off, len, off + first, bad);
	fprintf(stderr, "  offset      want got\n");
	for (i = first; i < len && i < first + 16; i++)
		fprintf(stderr, "  0x%08" PRIx64 "  %02x   %02x%s\n", off + i, want[i],
			got[i], want[i] != got[i] ? "  <" : "");
	die("%s returned wrong data", what);
}

static void check_size(const char *when)
{
	struct stat st;

	if (fstat(fx.fd, &st))
		die("fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size != fx.size)
		die("after %s: st_size 0x%" PRIx64 ", want 0x%" PRIx64, when,
		    (uint64_t)st.st_size, fx.size);
}

/* a random [off, off+len) with len in 1..maxop and off+len <= limit */
static void pick_range(uint64_t limit, uint64_t *off, uint64_t *len)
{
	uint64_t l = 1 + rnd_below(fx.maxop);

	if (rnd_below(4) == 0)	/* now and then page aligned */
		l = (l + fx.page - 1) / fx.page * fx.page;
	if (l > limit)
		l = limit;
	*len = l;
	*off = rnd_below(limit - l + 1);
	if (rnd_below(4) == 0)
		*off -= *off % fx.page;
}

static void set_size(uint64_t newsize)
{
	if (newsize > fx.size)
		memset(fx.mirror + fx.size, 0, newsize - fx.size);
	fx.size = newsize;
}

static void do_read(void)
{
	uint64_t off, len, want;
	ssize_t r, got = 0;

	pick_range(fx.maxlen, &off, &len);
	want = off >= fx.size ? 0 : (fx.size - off < len ? fx.size - off : len);
	log_op(OP_READ, off, len, 0);
	while ((uint64_t)got < len) {
		r = pread(fx.fd, fx.buf + got, len - got, off + got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("pread: %s", strerror(errno));
		}
		if (r == 0)
			break;
		got += r;
	}
	if ((uint64_t)got != want)
		die("pread 0x%" PRIx64 "+0x%" PRIx64 " returned %zd, want %" PRIu64,
		    off, len, got, want);
	check_bytes("pread", fx.buf, off, want);
}

static void fill_and_mirror(uint64_t off, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		fx.buf[i] = pattern(off + i);
	if (off + len > fx.size)
		set_size(off + len);
	memcpy(fx.mirror + off, fx.buf, len);
}

static void write_all(uint64_t off, uint64_t len, bool positional)
{
	uint64_t done = 0;
	ssize_t r;

	if (!positional && lseek(fx.fd, off, SEEK_SET) != (off_t)off)
		die("lseek: %s", strerror(errno));
	while (done < len) {
		if (positional)
			r = pwrite(fx.fd, fx.buf + done, len - done, off + done);
		else
			r = write(fx.fd, fx.buf + done, len - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("%s: %s", positional ? "pwrite" : "write", strerror(errno));
		}
		if (r == 0)
			die("%s wrote nothing", positional ? "pwrite" : "write");
		done += r;
	}
}

static void do_write(bool positional)
{
	uint64_t off, len;

	pick_range(fx.maxlen, &off, &len);
	if (!positional && rnd_below(8) == 0)	/* appends */
		off = fx.size + len <= fx.maxlen ? fx.size : off;
	fill_and_mirror(off, len);
	log_op(positional ? OP_PWRITE : OP_WRITE, off, len, 0);
	write_all(off, len, positional);
	if (!positional) {
		off_t pos = lseek(fx.fd, 0, SEEK_CUR);

		if (pos != (off_t)(off + len))
			die("file offset after write 0x%jx, want 0x%" PRIx64,
			    (intmax_t)pos, off + len);
	}
}

static void do_truncate(void)
{
	uint64_t newsize = rnd_below(fx.maxlen + 1);

	if (rnd_below(2))
		newsize -= newsize % fx.page;
	set_size(newsize);
	log_op(OP_TRUNCATE, newsize, 0, 0);
	if (ftruncate(fx.fd, newsize))
		die("ftruncate 0x%" PRIx64 ": %s", newsize, strerror(errno));
}

static void do_fallocate(enum op op)
{
	uint64_t off, len;
	int mode = 0;

	pick_range(fx.maxlen, &off, &len);
	if (op == OP_FALLOC_KEEP) {
		mode = FALLOC_FL_KEEP_SIZE;
	} else if (op == OP_PUNCH) {
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		if (off < fx.size)
			memset(fx.mirror + off, 0,
			       (off + len > fx.size ? fx.size : off + len) - off);
	} else if (off + len > fx.size) {
		set_size(off + len);
	}
	log_op(op, off, len, 0);
	if (fallocate(fx.fd, mode, off, len))
		die("fallocate(%s) 0x%" PRIx64 "+0x%" PRIx64 ": %s", op_names[op],
		    off, len, strerror(errno));
}

/* maps the pages covering [off, off+len) of the file; *delta is off's place in the map */
static uint8_t *map_range(uint64_t off, uint64_t len, int prot, uint64_t *delta,
			  uint64_t *maplen)
{
	uint64_t start = off - off % fx.page;
	void *p;

	*delta = off - start;
	*maplen = *delta + len;
	p = mmap(NULL, *maplen, prot, MAP_SHARED, fx.fd, start);
	if (p == MAP_FAILED)
		die("mmap 0x%" PRIx64 "+0x%" PRIx64 ": %s", start, *maplen, strerror(errno));
	return p;
}

static void do_mapread(void)
{
	uint64_t off, len, delta, maplen;
	uint8_t *p;

	if (fx.size == 0)
		return do_read();
	pick_range(fx.size, &off, &len);
	log_op(OP_MAPREAD, off, len, 0);
	p = map_range(off, len, PROT_READ, &delta, &maplen);
	memcpy(fx.buf, p + delta, len);
	if (munmap(p, maplen))
		die("munmap: %s", strerror(errno));
	check_bytes("mmap read", fx.buf, off, len);
}

static void do_mapwrite(void)
{
	uint64_t off, len, delta, maplen;
	int sync = (int)rnd_below(2);
	uint8_t *p;

	if (fx.size == 0)
		return do_write(true);
	pick_range(fx.size, &off, &len);
	fill_and_mirror(off, len);
	log_op(OP_MAPWRITE, off, len, sync);
	p = map_range(off, len, PROT_READ | PROT_WRITE, &delta, &maplen);
	memcpy(p + delta, fx.buf, len);
	if (sync && msync(p, maplen, MS_SYNC))
		die("msync: %s", strerror(errno));
	/* what the mapping shows now, before unmapping */
	check_bytes("mmap read-back", p + delta, off, len);
	if (munmap(p, maplen))
		die("munmap: %s", strerror(errno));
}

/* the first byte in [from, to) of the mirror that is not zero, or UINT64_MAX */
static uint64_t first_nonzero(uint64_t from, uint64_t to)
{
	static const uint8_t zero[4096];

	while (from < to) {
		uint64_t n = to - from < sizeof(zero) ? to - from : sizeof(zero);

		if (memcmp(fx.mirror + from, zero, n)) {
			while (!fx.mirror[from])
				from++;
			return from;
		}
		from += n;
	}
	return UINT64_MAX;
}

/*
 * SEEK_DATA/SEEK_HOLE may report holes as data (a file may be all data),
 * but no byte that is not zero can be in a hole: SEEK_DATA(off) = d means
 * [off, d) reads as zeros, and SEEK_HOLE(off) lies in [off, size].
 */
static void do_seek(void)
{
	uint64_t off = rnd_below(fx.maxlen), nz;
	off_t d, h;

	log_op(OP_SEEK, off, 0, 0);
	d = lseek(fx.fd, off, SEEK_DATA);
	if (d < 0 && errno != ENXIO)
		die("SEEK_DATA 0x%" PRIx64 ": %s", off, strerror(errno));
	if (off >= fx.size) {
		if (d >= 0)
			die("SEEK_DATA 0x%" PRIx64 " at/after EOF 0x%" PRIx64 " gave 0x%jx, want ENXIO",
			    off, fx.size, (intmax_t)d);
		return;
	}
	if (d >= 0 && ((uint64_t)d < off || (uint64_t)d >= fx.size))
		die("SEEK_DATA 0x%" PRIx64 " gave 0x%jx, size 0x%" PRIx64, off,
		    (intmax_t)d, fx.size);
	nz = first_nonzero(off, d < 0 ? fx.size : (uint64_t)d);
	if (nz != UINT64_MAX)
		die("SEEK_DATA 0x%" PRIx64 " gave %jd but byte 0x%" PRIx64
		    " is 0x%02x, not a hole", off, (intmax_t)d, nz, fx.mirror[nz]);
	h = lseek(fx.fd, off, SEEK_HOLE);
	if (h < 0)
		die("SEEK_HOLE 0x%" PRIx64 ": %s", off, strerror(errno));
	if ((uint64_t)h < off || (uint64_t)h > fx.size)
		die("SEEK_HOLE 0x%" PRIx64 " gave 0x%jx, size 0x%" PRIx64, off,
		    (intmax_t)h, fx.size);
	/* a hole reads as zeros, at least where it starts */
	if ((uint64_t)h < fx.size && fx.mirror[h])
		die("SEEK_HOLE 0x%" PRIx64 " gave 0x%jx but that byte is 0x%02x, not a hole",
		    off, (intmax_t)h, fx.mirror[h]);
}

static void open_file(int extra)
{
	fx.fd = open(fx.path, O_RDWR | O_CREAT | extra, 0644);
	if (fx.fd < 0)
		die("open %s: %s", fx.path, strerror(errno));
	/* without dread and dwrite, no O_DIRECT descriptor: fsx then also
	 * runs where O_DIRECT is refused (tmpfs before Linux 6.6) */
	fx.dfd = -1;
	if (fx.excluded[OP_DREAD] && fx.excluded[OP_DWRITE])
		return;
	fx.dfd = open(fx.path, O_RDWR | O_DIRECT);
	if (fx.dfd < 0)
		die("open %s O_DIRECT: %s", fx.path, strerror(errno));
}

/* a page-aligned [off, off+len) with off+len <= limit, or len 0 */
static void pick_aligned(uint64_t limit, uint64_t *off, uint64_t *len)
{
	uint64_t pages = limit / fx.page, max = fx.maxop / fx.page, n;

	*off = *len = 0;
	if (pages == 0 || max == 0)
		return;
	n = 1 + rnd_below(max < pages ? max : pages);
	*len = n * fx.page;
	*off = rnd_below(pages - n + 1) * fx.page;
}

/* O_DIRECT pread through the second descriptor (page-aligned everything) */
static void do_dread(void)
{
	uint64_t off, len, want;
	ssize_t r;

	pick_aligned(fx.maxlen, &off, &len);
	if (len == 0)
		return do_read();
	want = off >= fx.size ? 0 : (fx.size - off < len ? fx.size - off : len);
	log_op(OP_DREAD, off, len, 0);
	r = pread(fx.dfd, fx.abuf, len, off);
	if (r < 0)
		die("O_DIRECT pread 0x%" PRIx64 "+0x%" PRIx64 ": %s", off, len, strerror(errno));
	/* a short direct read is legal; a long one or a wrong byte is not */
	if ((uint64_t)r > want || ((uint64_t)r < want && r % fx.page))
		die("O_DIRECT pread 0x%" PRIx64 "+0x%" PRIx64 " returned %zd, want %" PRIu64,
		    off, len, r, want);
	check_bytes("O_DIRECT pread", fx.abuf, off, r);
}

static void do_dwrite(void)
{
	uint64_t off, len, done = 0;
	ssize_t r;

	pick_aligned(fx.maxlen, &off, &len);
	if (len == 0)
		return do_write(true);
	fill_and_mirror(off, len);
	memcpy(fx.abuf, fx.buf, len);
	log_op(OP_DWRITE, off, len, 0);
	while (done < len) {
		r = pwrite(fx.dfd, fx.abuf + done, len - done, off + done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("O_DIRECT pwrite 0x%" PRIx64 "+0x%" PRIx64 ": %s", off, len,
			    r < 0 ? strerror(errno) : "wrote nothing");
		done += r;
	}
}

/* MAP_PRIVATE: writes show in the mapping only, never in the file */
static void do_privwrite(void)
{
	uint64_t off, len, delta, maplen, start;
	uint8_t *p;

	if (fx.size == 0)
		return do_read();
	pick_range(fx.size, &off, &len);
	log_op(OP_PRIVWRITE, off, len, 0);
	start = off - off % fx.page;
	delta = off - start;
	maplen = delta + len;
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE, fx.fd, start);
	if (p == MAP_FAILED)
		die("mmap(MAP_PRIVATE) 0x%" PRIx64 "+0x%" PRIx64 ": %s", start, maplen,
		    strerror(errno));
	check_bytes("MAP_PRIVATE read", p + delta, off, len);
	for (uint64_t i = 0; i < len; i++)
		p[delta + i] = fx.mirror[off + i] ^ 0xff;
	if (pread(fx.fd, fx.buf, len, off) != (ssize_t)len)
		die("pread after a MAP_PRIVATE write: %s", strerror(errno));
	check_bytes("pread after a MAP_PRIVATE write", fx.buf, off, len);
	for (uint64_t i = 0; i < len; i++) {
		uint8_t want = fx.mirror[off + i] ^ 0xff;

		if (p[delta + i] != want)
			die("MAP_PRIVATE mapping lost its own write at 0x%" PRIx64, off + i);
	}
	if (munmap(p, maplen))
		die("munmap: %s", strerror(errno));
}

/* copy_file_range within the file, between two ranges that do not overlap */
static void do_copyrange(void)
{
	uint64_t in, out, len, want, done = 0;
	loff_t a, b;
	ssize_t r;

	if (fx.size == 0)
		return do_write(true);
	pick_range(fx.size, &in, &len);
	out = rnd_below(fx.maxlen - len + 1);
	if (out < in + len && in < out + len)	/* overlap: not allowed */
		return do_read();
	want = len;
	memcpy(fx.buf, fx.mirror + in, len);
	if (out + len > fx.size)
		set_size(out + len);
	memcpy(fx.mirror + out, fx.buf, len);
	fx.copy_to = out;
	log_op(OP_COPYRANGE, in, len, 0);
	a = in;
	b = out;
	while (done < want) {
		r = copy_file_range(fx.fd, &a, fx.fd, &b, want - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("copy_file_range 0x%" PRIx64 "->0x%" PRIx64 "+0x%" PRIx64 ": %s",
			    in, out, len, strerror(errno));
		if (r == 0)
			die("copy_file_range 0x%" PRIx64 "->0x%" PRIx64 "+0x%" PRIx64
			    " stopped after 0x%" PRIx64 " bytes", in, out, len, done);
		done += r;
	}
}

/* close, reopen, and compare the whole file with the mirror */
static void do_reopen(void)
{
	uint64_t done = 0;
	ssize_t r;

	log_op(OP_REOPEN, 0, fx.size, 0);
	if (close(fx.fd) || (fx.dfd >= 0 && close(fx.dfd)))
		die("close: %s", strerror(errno));
	open_file(0);
	while (done < fx.size) {
		uint64_t chunk = fx.size - done < fx.maxop ? fx.size - done : fx.maxop;

		r = pread(fx.fd, fx.buf, chunk, done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("pread after reopen at 0x%" PRIx64 ": %s", done,
			    r < 0 ? strerror(errno) : "early EOF");
		check_bytes("read after reopen", fx.buf, done, r);
		done += r;
	}
}

/* -Z: flip one byte of the file (a written one if there is any); false
 * when the file is empty (then it tries after the next operation) */
static bool corrupt(void)
{
	uint64_t off, nz;
	uint8_t b;

	if (fx.size == 0) {
		fx.corrupt_at++;
		return false;
	}
	nz = first_nonzero(0, fx.size);
	off = nz == UINT64_MAX ? fx.size / 2 : nz;
	b = fx.mirror[off] ^ 0x5a;
	if (pwrite(fx.fd, &b, 1, off) != 1)
		die("-Z pwrite: %s", strerror(errno));
	fprintf(stderr, "fsx: -Z: flipped the byte at 0x%" PRIx64 " after op %lu\n", off, fx.n);
	return true;
}

static enum op pick_op(void)
{
	unsigned int total = 0, r;
	enum op op;

	for (op = 0; op < OP_NR; op++)
		total += op_weight[op];
	for (;;) {
		r = (unsigned int)rnd_below(total);
		for (op = 0; op < OP_NR; op++) {
			if (r < op_weight[op])
				break;
			r -= op_weight[op];
		}
		if (!fx.excluded[op])
			return op;
	}
}

static uint64_t parse_num(const char *s, char opt)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "fsx: bad number for -%c: %s\n", opt, s);
		exit(2);
	}
	return v;
}

static void exclude(const char *name)
{
	for (enum op op = 0; op < OP_NR; op++) {
		if (!strcmp(name, op_names[op])) {
			fx.excluded[op] = true;
			return;
		}
	}
	fprintf(stderr, "fsx: no operation named %s\n", name);
	exit(2);
}

static void usage(void)
{
	fprintf(stderr, "usage: fsx [-N ops] [-S seed] [-l maxlen] [-o maxop] [-x op]... [-v] [-Z n] FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long nops = 20000;
	uint64_t seed = 1;
	int c;

	fx.maxlen = 1 << 20;
	fx.maxop = 64 << 10;
	while ((c = getopt(argc, argv, "N:S:l:o:x:vZ:")) != -1) {
		switch (c) {
		case 'N': nops = parse_num(optarg, c); break;
		case 'S': seed = parse_num(optarg, c); break;
		case 'l': fx.maxlen = parse_num(optarg, c); break;
		case 'o': fx.maxop = parse_num(optarg, c); break;
		case 'x': exclude(optarg); break;
		case 'v': fx.verbose = true; break;
		case 'Z': fx.corrupt_at = parse_num(optarg, c); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || fx.maxlen == 0 || fx.maxop == 0)
		usage();
	for (c = 0; c < OP_NR && fx.excluded[c]; c++)
		;
	if (c == OP_NR) {
		fprintf(stderr, "fsx: every operation left out\n");
		return 2;
	}
	if (fx.maxop > fx.maxlen)
		fx.maxop = fx.maxlen;
	fx.path = argv[optind];
	fx.page = sysconf(_SC_PAGESIZE);
	fx.rng = seed * 0x9E3779B97F4A7C15ULL + 1;	/* never 0 */
	fx.mirror = calloc(1, fx.maxlen);
	fx.buf = malloc(fx.maxop > fx.maxlen ? fx.maxop : fx.maxlen);
	if (posix_memalign((void **)&fx.abuf, fx.page, fx.maxop + fx.page))
		fx.abuf = NULL;
	if (!fx.mirror || !fx.buf || !fx.abuf) {
		fprintf(stderr, "fsx: out of memory\n");
		return 2;
	}
	open_file(O_TRUNC);
	check_size("open");
	for (fx.n = 1; fx.n <= nops; fx.n++) {
		enum op op = pick_op();

		switch (op) {
		case OP_READ: do_read(); break;
		case OP_WRITE: do_write(false); break;
		case OP_PWRITE: do_write(true); break;
		case OP_TRUNCATE: do_truncate(); break;
		case OP_FALLOC:
		case OP_FALLOC_KEEP:
		case OP_PUNCH: do_fallocate(op); break;
		case OP_MAPREAD: do_mapread(); break;
		case OP_MAPWRITE: do_mapwrite(); break;
		case OP_SEEK: do_seek(); break;
		case OP_FSYNC:
			log_op(op, 0, 0, 0);
			if (fsync(fx.fd))
				die("fsync: %s", strerror(errno));
			break;
		case OP_REOPEN: do_reopen(); break;
		case OP_DREAD: do_dread(); break;
		case OP_DWRITE: do_dwrite(); break;
		case OP_PRIVWRITE: do_privwrite(); break;
		case OP_COPYRANGE: do_copyrange(); break;
		case OP_NR: break;
		}
		check_size(op_names[op]);
		if (fx.n == fx.corrupt_at && corrupt())
			do_reopen();	/* compares the whole file: must fail */
	}
	fx.n--;
	do_reopen();
	if (close(fx.fd) || (fx.dfd >= 0 && close(fx.dfd)) || unlink(fx.path))
		die("close/unlink %s: %s", fx.path, strerror(errno));
	printf("fsx: %lu ops OK, seed %" PRIu64 ", final size %" PRIu64 " (", nops, seed, fx.size);
	for (enum op op = 0; op < OP_NR; op++)
		printf("%s%s %lu", op ? ", " : "", op_names[op], fx.counts[op]);
	printf(")\n");
	free(fx.mirror);
	free(fx.buf);
	free(fx.abuf);
	return 0;
}
