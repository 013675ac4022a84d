// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_swap.c - backing stores: none, file (allocator, batched I/O, KEEP,
 * refusals). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <usm/swap.h>

#define PG USM_PAGE_SIZE

static char tmpdir[] = "/tmp/usm-test-swap.XXXXXX";
static char spec[512];
static unsigned int rng = 12345;

static unsigned int rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *mkspec(const char *file)
{
	snprintf(spec, sizeof(spec), "file:%s/%s", tmpdir, file);
	return spec;
}

static const char *path_of(const char *file)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, file);
	return p;
}

static struct usm_store *open_ok(const char *file, unsigned int flags)
{
	struct usm_store *st = NULL;
	char err[256] = "";

	if (usm_store_open("default", mkspec(file), flags, &st, err, sizeof(err)))
		fail_msg("open %s: %s", file, err);
	return st;
}

/* Page contents that depend on (seed, i). */
static void fill(unsigned char *p, unsigned int seed, size_t i)
{
	size_t k;
	uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u + 1;

	for (k = 0; k < PG; k += 4) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		memcpy(p + k, &x, 4);
	}
}

static void test_none_store(void **state)
{
	struct usm_store *st = NULL;
	usm_slot_t slot = 7, slots[1] = { 0 };
	char buf[PG], err[128];
	void *bufs[1] = { buf };

	(void)state;
	assert_int_equal(usm_store_open("off", "none", 0, &st, err, sizeof(err)), 0);
	assert_string_equal(usm_store_name(st), "off");
	assert_string_equal(usm_store_spec(st), "none");
	assert_int_equal(usm_store_writable(st), 0);
	assert_int_equal(usm_store_alloc(st, &slot), -ENOSPC);
	assert_int_equal(slot, 7);
	assert_int_equal(usm_store_claim(st, 0), -ERANGE);
	assert_int_equal(usm_store_free(st, 0), -EINVAL);
	assert_int_equal(usm_store_write(st, slots, bufs, 1), -ENOSPC);
	assert_int_equal(usm_store_read(st, slots, bufs, 1), -EINVAL);
	assert_int_equal(usm_store_sync(st), 0);
	assert_int_equal(usm_store_slots_used(st), 0);
	usm_store_close(st);
	usm_store_close(NULL);
}

static void test_bad_specs(void **state)
{
	static const struct { const char *spec; int ret; const char *msg; } c[] = {
		{ "bogus", -EINVAL, "bogus: unknown store type" },
		{ "", -EINVAL, "unknown store type" },
		{ "file:", -EINVAL, "must be absolute" },
		{ "file:relative.swap", -EINVAL, "file:relative.swap: the path must be absolute" },
		{ "NONE", -EINVAL, "unknown store type" },
		{ "file:/nonexistent-dir-usm/x.swap", -ENOENT, "file:/nonexistent-dir-usm/x.swap: " },
		/* rados: refused before any cluster is asked */
		{ "rados:", -EINVAL, "expected rados:POOL[/NAMESPACE]" },
		{ "rados:/ns", -EINVAL, "expected rados:POOL[/NAMESPACE]" },
		{ "rados:p:colour=blue", -EINVAL, "bad option 'colour=blue'" },
		{ "rados:p:timeout=0", -EINVAL, "bad timeout '0'" },
		{ "rados:p:id=a.b", -EINVAL, "bad id 'a.b'" },
		{ "rados:p:conf=/nonexistent-usm/ceph.conf", -ENOENT,
		  "cluster config /nonexistent-usm/ceph.conf" },
	};
	struct usm_store *st = (struct usm_store *)0x1;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		err[0] = '\0';
		assert_int_equal(usm_store_open("x", c[i].spec, 0, &st, err, sizeof(err)),
				 c[i].ret);
		if (!strstr(err, c[i].msg))
			fail_msg("%s: \"%s\"", c[i].spec, err);
		assert_ptr_equal(st, (struct usm_store *)0x1);
	}
	assert_int_equal(usm_store_open("x", "none", 0x100, &st, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(usm_store_open(NULL, "none", 0, &st, NULL, 0), -EINVAL);
}

static void test_file_create_mode(void **state)
{
	struct usm_store *st;
	struct stat sb;
	char path[600];
	mode_t old = umask(0);

	(void)state;
	st = open_ok("mode.swap", 0);
	umask(old);
	snprintf(path, sizeof(path), "%s/mode.swap", tmpdir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(usm_store_writable(st), 1);
	usm_store_close(st);

	/* an existing file of ours with a loose mode is tightened */
	assert_int_equal(chmod(path, 0644), 0);
	st = open_ok("mode.swap", USM_STORE_KEEP);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	usm_store_close(st);
}

/* Lowest free slot first, checked against a plain model. */
static void test_alloc_lowest_first(void **state)
{
	enum { N = 20000 };
	struct usm_store *st = open_ok("alloc.swap", 0);
	unsigned char *model = calloc(N + 64, 1);
	usm_slot_t s;
	size_t i, used = 0, lo = 0;	/* model: nothing free below lo */

	(void)state;
	assert_non_null(model);
	for (i = 0; i < 10; i++) {
		assert_int_equal(usm_store_alloc(st, &s), 0);
		assert_int_equal(s, i);
		model[s] = 1;
		used++;
	}
	assert_int_equal(usm_store_free(st, 5), 0);
	assert_int_equal(usm_store_free(st, 3), 0);
	model[5] = model[3] = 0;
	used -= 2;
	assert_int_equal(usm_store_free(st, 3), -EINVAL);	/* twice */
	assert_int_equal(usm_store_free(st, 10), -EINVAL);	/* never */
	assert_int_equal(usm_store_free(st, 1ULL << 40), -EINVAL);
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, 3);
	model[s] = 1;
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, 5);
	model[s] = 1;
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, 10);
	model[s] = 1;
	used += 3;

	/* random alloc/free, across several 4096-slot groups and growth */
	for (i = 0; i < 200000; i++) {
		if (used < N - 64 && (rnd() % 100 < 55 || used == 0)) {
			size_t want = lo;

			while (model[want])
				want++;
			lo = want;
			assert_int_equal(usm_store_alloc(st, &s), 0);
			if (s != want)
				fail_msg("op %zu: alloc gave %llu, lowest free is %zu",
					 i, (unsigned long long)s, want);
			model[s] = 1;
			used++;
		} else {
			size_t k = rnd() % N;

			while (!model[k])
				k = (k + 1) % N;
			assert_int_equal(usm_store_free(st, k), 0);
			model[k] = 0;
			if (k < lo)
				lo = k;
			used--;
		}
		if (usm_store_slots_used(st) != used)
			fail_msg("op %zu: used %llu want %zu", i,
				 (unsigned long long)usm_store_slots_used(st), used);
	}
	free(model);
	usm_store_close(st);
}

static void test_claim(void **state)
{
	struct usm_store *st = open_ok("claim.swap", 0);
	usm_slot_t s;

	(void)state;
	assert_int_equal(usm_store_claim(st, 1), 0);
	assert_int_equal(usm_store_claim(st, 1), -EBUSY);
	assert_int_equal(usm_store_claim(st, 100000), 0);	/* grows */
	assert_int_equal(usm_store_claim(st, 1ULL << 40), -ERANGE);
	assert_int_equal(usm_store_claim(st, UINT64_MAX), -ERANGE);
	assert_int_equal(usm_store_slots_used(st), 2);
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, 2);
	assert_int_equal(usm_store_free(st, 100000), 0);
	assert_int_equal(usm_store_slots_used(st), 3);
	usm_store_close(st);
}

/* Many pages of random data through batched writes and reads. */
static void test_round_trip(void **state)
{
	enum { N = 3000 };	/* > IOV_MAX adjacent slots in one batch */
	struct usm_store *st = open_ok("rt.swap", 0);
	unsigned char *data = malloc((size_t)N * PG), *back = malloc((size_t)N * PG);
	usm_slot_t *slots = malloc(N * sizeof(*slots)), *perm = malloc(N * sizeof(*perm));
	void **bufs = malloc(N * sizeof(*bufs));
	size_t i, done, batch;

	(void)state;
	assert_non_null(data);
	assert_non_null(back);
	assert_non_null(slots);
	assert_non_null(perm);
	assert_non_null(bufs);
	for (i = 0; i < N; i++) {
		assert_int_equal(usm_store_alloc(st, &slots[i]), 0);
		fill(data + i * PG, 1, i);
	}
	/* a few gaps so that runs break */
	for (i = 0; i < N; i += 97)
		assert_int_equal(usm_store_free(st, slots[i]), 0);
	for (i = 0; i < N; i += 97)
		assert_int_equal(usm_store_alloc(st, &slots[i]), 0);

	/* write everything in one batch, in a shuffled order */
	for (i = 0; i < N; i++)
		perm[i] = i;
	for (i = N - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		usm_slot_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	{
		usm_slot_t *ws = malloc(N * sizeof(*ws));

		assert_non_null(ws);
		for (i = 0; i < N; i++) {
			ws[i] = slots[perm[i]];
			bufs[i] = data + perm[i] * PG;
		}
		assert_int_equal(usm_store_write(st, ws, bufs, N), 0);
		free(ws);
	}
	assert_int_equal(usm_store_sync(st), 0);

	/* read back in batches of random size, in order */
	memset(back, 0xee, (size_t)N * PG);
	for (done = 0; done < N; done += batch) {
		batch = 1 + rnd() % 700;
		if (batch > N - done)
			batch = N - done;
		for (i = 0; i < batch; i++)
			bufs[i] = back + (done + i) * PG;
		assert_int_equal(usm_store_read(st, slots + done, bufs, batch), 0);
	}
	for (i = 0; i < N; i++)
		if (memcmp(back + i * PG, data + i * PG, PG))
			fail_msg("page %zu (slot %llu) differs", i,
				 (unsigned long long)slots[i]);

	/* rewrite half with new data in small batches, reread all at once */
	for (i = 0; i < N; i += 2) {
		fill(data + i * PG, 2, i);
		bufs[0] = data + i * PG;
		assert_int_equal(usm_store_write(st, &slots[i], bufs, 1), 0);
	}
	for (i = 0; i < N; i++)
		bufs[i] = back + i * PG;
	assert_int_equal(usm_store_read(st, slots, bufs, N), 0);
	assert_memory_equal(back, data, (size_t)N * PG);

	free(data);
	free(back);
	free(slots);
	free(perm);
	free(bufs);
	usm_store_close(st);
}

static void test_io_errors_and_zeroes(void **state)
{
	struct usm_store *st = open_ok("z.swap", 0);
	unsigned char a[PG], b[PG], zero[PG];
	void *bufs[2] = { a, b };
	usm_slot_t s[2], dup[2];
	char path[600];

	(void)state;
	memset(zero, 0, sizeof(zero));
	assert_int_equal(usm_store_alloc(st, &s[0]), 0);
	assert_int_equal(usm_store_alloc(st, &s[1]), 0);
	assert_int_equal(usm_store_read(st, s, bufs, 0), 0);

	/* never written: zeroes, past the end of the file and in a hole */
	memset(a, 1, PG);
	memset(b, 1, PG);
	assert_int_equal(usm_store_read(st, s, bufs, 2), 0);
	assert_memory_equal(a, zero, PG);
	assert_memory_equal(b, zero, PG);
	fill(b, 3, 0);
	assert_int_equal(usm_store_write(st, &s[1], &bufs[1], 1), 0);
	memset(a, 1, PG);
	assert_int_equal(usm_store_read(st, &s[0], &bufs[0], 1), 0);
	assert_memory_equal(a, zero, PG);

	/* unallocated slot, the same slot twice, missing buffers */
	s[0] = 55;
	assert_int_equal(usm_store_write(st, s, bufs, 2), -EINVAL);
	assert_int_equal(usm_store_read(st, s, bufs, 2), -EINVAL);
	dup[0] = dup[1] = 1;
	assert_int_equal(usm_store_write(st, dup, bufs, 2), -EINVAL);
	bufs[1] = NULL;
	assert_int_equal(usm_store_write(st, &dup[0], &bufs[1], 1), -EINVAL);
	bufs[1] = b;
	assert_int_equal(usm_store_write(st, NULL, bufs, 1), -EINVAL);

	/* a slot freed and allocated again reads as zeroes when the
	 * filesystem can punch holes */
	fill(a, 4, 0);
	s[0] = 0;
	assert_int_equal(usm_store_write(st, &s[0], &bufs[0], 1), 0);
	assert_int_equal(usm_store_free(st, 0), 0);
	assert_int_equal(usm_store_alloc(st, &s[0]), 0);
	assert_int_equal(s[0], 0);
	{
		int fd;

		snprintf(path, sizeof(path), "%s/punch-probe", tmpdir);
		fd = open(path, O_RDWR | O_CREAT, 0600);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, 2 * PG), 0);
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PG) == 0) {
			assert_int_equal(usm_store_read(st, &s[0], &bufs[0], 1), 0);
			assert_memory_equal(a, zero, PG);
		}
		close(fd);
	}

	/* a file cut behind the store's back: -EIO, not zeroes */
	snprintf(path, sizeof(path), "%s/z.swap", tmpdir);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(usm_store_read(st, &s[1], &bufs[1], 1), -EIO);
	usm_store_close(st);
}

/* A restarted server reopens with KEEP, claims its slots, reads them. */
static void test_keep_reopen(void **state)
{
	enum { N = 64 };
	struct usm_store *st = open_ok("keep.swap", 0);
	static unsigned char data[N][PG], back[N][PG];
	usm_slot_t slots[N], s;
	void *bufs[N];
	struct stat sb;
	char path[600];
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		assert_int_equal(usm_store_alloc(st, &slots[i]), 0);
		fill(data[i], 5, (size_t)i);
		bufs[i] = data[i];
	}
	assert_int_equal(usm_store_write(st, slots, bufs, N), 0);
	assert_int_equal(usm_store_sync(st), 0);
	usm_store_close(st);

	/* KEEP: the data is still there once the slots are claimed */
	st = open_ok("keep.swap", USM_STORE_KEEP);
	assert_int_equal(usm_store_slots_used(st), 0);
	for (i = 0; i < N; i += 2) {
		assert_int_equal(usm_store_claim(st, slots[i]), 0);
		bufs[i / 2] = back[i];
	}
	for (i = 0; i < N / 2; i++)
		slots[i] = slots[2 * i];
	assert_int_equal(usm_store_read(st, slots, bufs, N / 2), 0);
	for (i = 0; i < N; i += 2)
		assert_memory_equal(back[i], data[i], PG);
	/* unclaimed slots are free again, lowest first */
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, 1);
	usm_store_close(st);

	/* the file lost a claimed slot while the server was away: -EIO */
	assert_int_equal(truncate(path_of("keep.swap"), 0), 0);
	st = open_ok("keep.swap", USM_STORE_KEEP);
	assert_int_equal(usm_store_claim(st, 3), 0);
	assert_int_equal(usm_store_read(st, &slots[1], &bufs[0], 0), 0);
	s = 3;
	assert_int_equal(usm_store_read(st, &s, &bufs[0], 1), -EIO);
	/* a slot allocated afresh below it is fine once written */
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(usm_store_write(st, &s, &bufs[1], 1), 0);
	assert_int_equal(usm_store_read(st, &s, &bufs[0], 1), 0);
	usm_store_close(st);

	/* without KEEP the file starts empty: its header only */
	st = open_ok("keep.swap", 0);
	snprintf(path, sizeof(path), "%s/keep.swap", tmpdir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, PG);
	usm_store_close(st);
}

static void test_refusals(void **state)
{
	struct usm_store *st = NULL, *st2 = NULL;
	char target[600], link[600], err[256];

	(void)state;
	/* a symlink to a file of ours, and a dangling one */
	st = open_ok("target.swap", 0);
	usm_store_close(st);
	st = NULL;
	snprintf(target, sizeof(target), "%s/target.swap", tmpdir);
	snprintf(link, sizeof(link), "%s/link.swap", tmpdir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(usm_store_open("l", mkspec("link.swap"), 0, &st, err,
					sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "link.swap: is a symbolic link"));
	assert_null(st);
	snprintf(link, sizeof(link), "%s/dangling.swap", tmpdir);
	snprintf(target, sizeof(target), "%s/nowhere", tmpdir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(usm_store_open("l", mkspec("dangling.swap"), 0, &st, err,
					sizeof(err)), -EPERM);
	assert_int_equal(access(target, F_OK), -1);	/* not created */

	/* not regular: a directory, a FIFO (must not hang) */
	snprintf(target, sizeof(target), "%s/dir.swap", tmpdir);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(usm_store_open("d", mkspec("dir.swap"), 0, &st, err,
					sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(target, sizeof(target), "%s/fifo.swap", tmpdir);
	assert_int_equal(mkfifo(target, 0600), 0);
	assert_int_equal(usm_store_open("f", mkspec("fifo.swap"), 0, &st, err,
					sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not a regular file"));

	/* the same file twice */
	st = open_ok("busy.swap", 0);
	assert_int_equal(usm_store_open("b", mkspec("busy.swap"), USM_STORE_KEEP,
					&st2, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "busy.swap"));
	usm_store_close(st);
	st = NULL;
}

static void test_not_owner(void **state)
{
	struct usm_store *st = NULL;
	char path[600], err[256], want[64];
	struct stat sb;
	int fd;

	(void)state;
	if (geteuid() != 0)
		skip();	/* needs root to give a file away */
	snprintf(path, sizeof(path), "%s/other.swap", tmpdir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep me", 7), 7);
	close(fd);
	assert_int_equal(chown(path, 1, 1), 0);
	assert_int_equal(usm_store_open("o", mkspec("other.swap"), 0, &st, err,
					sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "not owned by uid %u", (unsigned int)geteuid());
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "other.swap"));
	/* refused before anything was changed */
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 7);
	assert_int_equal(sb.st_uid, 1);
}

/* A store keeps a reserve free on its filesystem: past it, -ENOSPC. */
static void test_fs_reserve(void **state)
{
	struct usm_store *st = open_ok("r.swap", 0);
	usm_slot_t slot;

	(void)state;
	assert_true(usm_store_room(st) > 0);
	assert_int_equal(usm_store_alloc(st, &slot), 0);
	/* a reserve larger than any filesystem here: nothing fits */
	usm_store_set_reserve(st, UINT64_MAX / 2);
	assert_int_equal(usm_store_room(st), 0);
	assert_int_equal(usm_store_alloc(st, &slot), -ENOSPC);
	/* freeing still works, and the default reserve lets it grow again */
	assert_int_equal(usm_store_free(st, 0), 0);
	usm_store_set_reserve(st, 0);
	assert_int_equal(usm_store_alloc(st, &slot), 0);
	assert_int_equal(slot, 0);
	usm_store_close(st);
}

/*
 * A slot freed and handed out again reads as zeroes until written, with or
 * without its hole punched (the punch comes in batches, not on alloc), and
 * its neighbours in the same read keep their data.
 */
static void test_reuse_reads_zeroes(void **state)
{
	enum { N = 8 };
	struct usm_store *st = open_ok("reuse.swap", 0);
	static unsigned char data[N][PG], back[N][PG], zero[PG];
	usm_slot_t slots[N], s;
	void *bufs[N], *rbufs[N];
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		assert_int_equal(usm_store_alloc(st, &slots[i]), 0);
		fill(data[i], 9, (size_t)i);
		bufs[i] = data[i];
		rbufs[i] = back[i];
	}
	assert_int_equal(usm_store_write(st, slots, bufs, N), 0);
	assert_int_equal(usm_store_free(st, slots[3]), 0);
	assert_int_equal(usm_store_free(st, slots[4]), 0);
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, slots[3]);
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, slots[4]);
	memset(back, 0xa5, sizeof(back));
	assert_int_equal(usm_store_read(st, slots, rbufs, N), 0);
	for (i = 0; i < N; i++)
		if (i == 3 || i == 4)
			assert_memory_equal(back[i], zero, PG);
		else
			assert_memory_equal(back[i], data[i], PG);
	/* written again: the new data, and the run reads whole */
	fill(data[4], 10, 4);
	assert_int_equal(usm_store_write(st, &slots[4], &bufs[4], 1), 0);
	memset(back, 0xa5, sizeof(back));
	assert_int_equal(usm_store_read(st, slots, rbufs, N), 0);
	assert_memory_equal(back[3], zero, PG);
	assert_memory_equal(back[4], data[4], PG);
	assert_memory_equal(back[5], data[5], PG);
	usm_store_close(st);
}

/*
 * usm_store_alloc_run(): runs of free slots, next-fit from a cursor; at the
 * top of the used area it wraps when an eighth of it is free, else appends.
 * A randomised part checks against a model that every run is free, in
 * range and not longer than asked, that it appends only when less than an
 * eighth of the area is free, and so that the file never needs more than
 * about 8/7 of the most slots used at once (plus a batch).
 */
static void test_alloc_run(void **state)
{
	enum { N = 40000, B = 64 };
	struct usm_store *st = open_ok("run.swap", 0);
	unsigned char *model = calloc(N * 2, 1);
	usm_slot_t first, s;
	uint64_t nr, i, j, used = 0, top = 0, peak = 0, ops;
	static unsigned char data[B][PG], back[B][PG];
	usm_slot_t slots[B];
	void *bufs[B], *rbufs[B];

	(void)state;
	assert_non_null(model);
	assert_int_equal(usm_store_alloc_run(st, 0, &first, &nr), -EINVAL);
	/* an empty store: one run from 0, then the next right after it */
	assert_int_equal(usm_store_alloc_run(st, 100, &first, &nr), 0);
	assert_int_equal(first, 0);
	assert_int_equal(nr, 100);
	assert_int_equal(usm_store_alloc_run(st, 28, &first, &nr), 0);
	assert_int_equal(first, 100);
	assert_int_equal(nr, 28);
	/* a hole behind the cursor is not taken while little is free:
	 * appended instead */
	for (s = 10; s < 14; s++)
		assert_int_equal(usm_store_free(st, s), 0);
	assert_int_equal(usm_store_alloc_run(st, 8, &first, &nr), 0);
	assert_int_equal(first, 128);
	assert_int_equal(nr, 8);
	/* an eighth free (18 of 136): wraps, and the run stops at the
	 * first used slot */
	for (s = 40; s < 54; s++)
		assert_int_equal(usm_store_free(st, s), 0);
	assert_int_equal(usm_store_alloc_run(st, 8, &first, &nr), 0);
	assert_int_equal(first, 10);
	assert_int_equal(nr, 4);
	assert_int_equal(usm_store_alloc_run(st, 64, &first, &nr), 0);
	assert_int_equal(first, 40);
	assert_int_equal(nr, 14);
	assert_int_equal(usm_store_slots_used(st), 136);
	/* a run is written in one go and reads back; its slots are ordinary
	 * slots for read, write and free */
	for (s = 0; s < 136; s++)
		assert_int_equal(usm_store_free(st, s), 0);
	assert_int_equal(usm_store_slots_used(st), 0);
	assert_int_equal(usm_store_alloc_run(st, B, &first, &nr), 0);
	assert_int_equal(first, 0);	/* empty again: from the start */
	assert_int_equal(nr, B);
	for (i = 0; i < B; i++) {
		slots[i] = first + i;
		fill(data[i], 21, i);
		bufs[i] = data[i];
		rbufs[i] = back[i];
	}
	assert_int_equal(usm_store_write(st, slots, bufs, B), 0);
	assert_int_equal(usm_store_read(st, slots, rbufs, B), 0);
	assert_memory_equal(back, data, sizeof(data));
	for (i = 0; i < B; i++)
		assert_int_equal(usm_store_free(st, first + i), 0);

	/* random batches and frees against a model */
	for (ops = 0; ops < 60000; ops++) {
		if (used + B < N && (rnd() % 100 < 52 || used == 0)) {
			uint64_t want = 1 + rnd() % B, got = 0;

			while (got < want) {
				assert_int_equal(usm_store_alloc_run(st, want - got,
								     &first, &nr), 0);
				if (nr < 1 || nr > want - got || first + nr > 2 * N)
					fail_msg("op %llu: run %llu+%llu for %llu",
						 (unsigned long long)ops,
						 (unsigned long long)first,
						 (unsigned long long)nr,
						 (unsigned long long)(want - got));
				/* the area grows only when less than an
				 * eighth of it was free */
				if (first + nr > top && top &&
				    (top - used) * 8 >= top)
					fail_msg("op %llu: appended at %llu with %llu of %llu free",
						 (unsigned long long)ops,
						 (unsigned long long)first,
						 (unsigned long long)(top - used),
						 (unsigned long long)top);
				for (j = first; j < first + nr; j++) {
					if (model[j])
						fail_msg("op %llu: slot %llu given twice",
							 (unsigned long long)ops,
							 (unsigned long long)j);
					model[j] = 1;
				}
				if (first + nr > top)
					top = first + nr;
				used += nr;
				got += nr;
			}
		} else {
			uint64_t k = rnd() % (top ? top : 1);

			while (!model[k])
				k = (k + 1) % top;
			assert_int_equal(usm_store_free(st, k), 0);
			model[k] = 0;
			used--;
			if (!used)
				top = 0;
		}
		if (usm_store_slots_used(st) != used)
			fail_msg("op %llu: used %llu want %llu",
				 (unsigned long long)ops,
				 (unsigned long long)usm_store_slots_used(st),
				 (unsigned long long)used);
		if (used > peak)
			peak = used;
		if (top > peak + peak / 7 + B + 1)
			fail_msg("op %llu: top %llu for at most %llu used",
				 (unsigned long long)ops,
				 (unsigned long long)top,
				 (unsigned long long)peak);
	}
	/* the single-slot allocator still gives the lowest free slot */
	for (s = 0; model[s]; s++)
		;
	assert_int_equal(usm_store_alloc(st, &first), 0);
	assert_int_equal(first, s);
	free(model);
	usm_store_close(st);
}

/*
 * USM_STORE_DIRECT: page-aligned buffers (the frontends' frames) are
 * written around the page cache where the filesystem allows it, others
 * through it: whichever way a
 * slot was last written, a read gives that data, also after a reopen.
 */
static void test_direct_and_buffered(void **state)
{
	enum { N = 48 };
	struct usm_store *st = open_ok("direct.swap", USM_STORE_DIRECT);
	unsigned char *al = aligned_alloc(PG, (N + 1) * PG);
	unsigned char *odd = malloc((N + 1) * PG + 8);
	static unsigned char back[N][PG];
	usm_slot_t slots[N], first;
	void *bufs[N], *rbufs[N];
	uint64_t nr;
	size_t i;

	(void)state;
	assert_non_null(al);
	assert_non_null(odd);
	assert_int_equal(usm_store_alloc_run(st, N, &first, &nr), 0);
	assert_int_equal(nr, N);
	for (i = 0; i < N; i++) {
		slots[i] = first + i;
		rbufs[i] = back[i];
	}
	/* all aligned: one direct write */
	for (i = 0; i < N; i++) {
		fill(al + i * PG, 31, i);
		bufs[i] = al + i * PG;
	}
	assert_int_equal(usm_store_write(st, slots, bufs, N), 0);
	assert_int_equal(usm_store_read(st, slots, rbufs, N), 0);
	for (i = 0; i < N; i++)
		assert_memory_equal(back[i], al + i * PG, PG);
	/* every other page from a misaligned buffer (then the run goes
	 * through the page cache), over the direct data */
	for (i = 0; i < N; i += 2) {
		fill(odd + 8 + i * PG, 32, i);
		bufs[i] = odd + 8 + i * PG;
	}
	assert_int_equal(usm_store_write(st, slots, bufs, N), 0);
	assert_int_equal(usm_store_read(st, slots, rbufs, N), 0);
	for (i = 0; i < N; i++)
		assert_memory_equal(back[i], bufs[i], PG);
	/* aligned again (direct) over what the page cache holds: the
	 * reads must not see the cached copies */
	for (i = 0; i < N; i++) {
		fill(al + i * PG, 33, i);
		bufs[i] = al + i * PG;
	}
	assert_int_equal(usm_store_write(st, slots, bufs, N), 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(usm_store_read(st, slots, rbufs, N), 0);
	for (i = 0; i < N; i++)
		assert_memory_equal(back[i], bufs[i], PG);
	assert_int_equal(usm_store_sync(st), 0);
	usm_store_close(st);
	/* what is in the file after a reopen */
	st = open_ok("direct.swap", USM_STORE_KEEP | USM_STORE_DIRECT);
	for (i = 0; i < N; i++)
		assert_int_equal(usm_store_claim(st, slots[i]), 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(usm_store_read(st, slots, rbufs, N), 0);
	for (i = 0; i < N; i++)
		assert_memory_equal(back[i], bufs[i], PG);
	usm_store_close(st);
	free(al);
	free(odd);
}

/* Freed space goes back to the filesystem: the holes left while the store
 * was busy are punched at a sync, and a store that empties is cut back to
 * its header. */
static void test_space_given_back(void **state)
{
	enum { N = 2048 };
	struct usm_store *st = open_ok("space.swap", 0);
	unsigned char *buf = aligned_alloc(PG, PG);
	usm_slot_t first, s;
	uint64_t nr, got = 0;
	struct stat sb;
	void *b;

	(void)state;
	assert_non_null(buf);
	memset(buf, 0x5a, PG);
	b = buf;
	while (got < N) {
		assert_int_equal(usm_store_alloc_run(st, N - got, &first, &nr), 0);
		for (s = first; s < first + nr; s++)
			assert_int_equal(usm_store_write(st, &s, &b, 1), 0);
		got += nr;
	}
	assert_int_equal(stat(path_of("space.swap"), &sb), 0);
	assert_true(sb.st_blocks * 512 >= (off_t)N * PG);
	for (s = 0; s < N - 8; s++)
		assert_int_equal(usm_store_free(st, s), 0);
	assert_int_equal(usm_store_sync(st), 0);
	assert_int_equal(stat(path_of("space.swap"), &sb), 0);
	assert_true(sb.st_blocks * 512 <= 64 * PG);	/* 8 pages and change */
	assert_int_equal(sb.st_size, (off_t)(N + 1) * PG);	/* and the header */
	for (; s < N; s++)
		assert_int_equal(usm_store_free(st, s), 0);
	assert_int_equal(stat(path_of("space.swap"), &sb), 0);
	assert_int_equal(sb.st_size, PG);	/* cut back to its header */
	usm_store_close(st);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_store),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_file_create_mode),
		cmocka_unit_test(test_alloc_lowest_first),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_io_errors_and_zeroes),
		cmocka_unit_test(test_keep_reopen),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_not_owner),
		cmocka_unit_test(test_fs_reserve),
		cmocka_unit_test(test_reuse_reads_zeroes),
		cmocka_unit_test(test_alloc_run),
		cmocka_unit_test(test_direct_and_buffered),
		cmocka_unit_test(test_space_given_back),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
