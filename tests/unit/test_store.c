// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_store.c - what a file store may touch (DESIGN.md §10): it creates its
 * file exclusively with a header, adopts an empty file, reuses a file with
 * its header, and refuses any other existing file, leaving it as it was
 * (bytes, mode, mtime); usm_store_check() (usm-policyd --check) says the
 * same without opening.  Then the reserve: a store whose filesystem is at
 * its reserve still reuses the free slots inside its file, and says how
 * much it can take (usm_store_room).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <usm/swap.h>

#include "fake_backend.h"
#include "internal.h"	/* the ctx's default store, to set its reserve */

#define PG USM_PAGE_SIZE

static char tmpdir[] = "/tmp/usm-test-store.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s/small", tmpdir);
	(void)umount(cmd);	/* left mounted by a failed test */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *file)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, file);
	return p;
}

static const char *spec_of(const char *file)
{
	static char s[620];

	snprintf(s, sizeof(s), "file:%s/%s", tmpdir, file);
	return s;
}

/* A file that is not a store: @len bytes of text, mode 0644, an old mtime. */
static void make_victim(const char *file, size_t len)
{
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char line[] = "root:$6$precious:19000:0:99999:7:::\n";
	size_t i;
	int fd;

	fd = open(path_of(file), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	for (i = 0; i < len; i++)
		assert_int_equal(write(fd, &line[i % (sizeof(line) - 1)], 1), 1);
	assert_int_equal(fchmod(fd, 0644), 0);
	assert_int_equal(futimens(fd, ts), 0);
	close(fd);
}

/* The victim is exactly as make_victim() left it. */
static void victim_untouched(const char *file, size_t len)
{
	char line[] = "root:$6$precious:19000:0:99999:7:::\n";
	char *buf = malloc(len + 1);
	struct stat sb;
	size_t i;
	int fd;

	assert_non_null(buf);
	assert_int_equal(stat(path_of(file), &sb), 0);
	assert_int_equal(sb.st_size, (off_t)len);
	assert_int_equal(sb.st_mode & 07777, 0644);
	assert_int_equal(sb.st_mtim.tv_sec, 1000000000);
	fd = open(path_of(file), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, len + 1), (ssize_t)len);
	close(fd);
	for (i = 0; i < len; i++)
		if (buf[i] != line[i % (sizeof(line) - 1)])
			fail_msg("%s: byte %zu changed", file, i);
	free(buf);
}

static struct usm_store *open_ok(const char *file, unsigned int flags)
{
	struct usm_store *st = NULL;
	char err[256] = "";

	if (usm_store_open("default", spec_of(file), flags, &st, err, sizeof(err)))
		fail_msg("open %s: %s", file, err);
	return st;
}

/* An existing file that is not a store is refused, with or without KEEP,
 * by open and by check, and stays as it was. */
static void test_foreign_file_refused(void **state)
{
	static const size_t lens[] = { 1, 37, PG, 3 * PG + 5 };
	struct usm_store *st = NULL;
	char err[512], file[32];
	unsigned int flags;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		snprintf(file, sizeof(file), "shadow%zu", i);
		make_victim(file, lens[i]);
		for (flags = 0; flags <= USM_STORE_KEEP; flags += USM_STORE_KEEP) {
			err[0] = '\0';
			assert_int_equal(usm_store_open("x", spec_of(file), flags,
							&st, err, sizeof(err)),
					 -EEXIST);
			assert_null(st);
			if (!strstr(err, path_of(file)) ||
			    !strstr(err, "not a usmfs store"))
				fail_msg("message: \"%s\"", err);
			victim_untouched(file, lens[i]);
		}
		err[0] = '\0';
		assert_int_equal(usm_store_check(spec_of(file), err, sizeof(err)),
				 -EEXIST);
		assert_non_null(strstr(err, "not a usmfs store"));
		victim_untouched(file, lens[i]);
	}
}

/* A new store file carries a header in its first page; the slots follow. */
static void test_new_file_has_header(void **state)
{
	struct usm_store *st = open_ok("new.swap", 0);
	unsigned char page[PG], back[PG];
	void *b = page;
	usm_slot_t s;
	struct stat sb;
	char head[8];
	int fd;

	(void)state;
	assert_int_equal(stat(path_of("new.swap"), &sb), 0);
	assert_int_equal(sb.st_size, PG);
	assert_int_equal(sb.st_mode & 07777, 0600);
	memset(page, 0xab, PG);
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(usm_store_write(st, &s, &b, 1), 0);
	assert_int_equal(usm_store_sync(st), 0);
	fd = open(path_of("new.swap"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, head, sizeof(head), 0), (ssize_t)sizeof(head));
	assert_memory_equal(head, USM_STORE_MAGIC, sizeof(head));
	assert_int_equal(pread(fd, back, PG, PG), PG);	/* slot 0 */
	assert_memory_equal(back, page, PG);
	close(fd);
	usm_store_close(st);

	/* the same file again: accepted, by check and by open; without KEEP
	 * its old slots are gone (cut back to the header) */
	assert_int_equal(usm_store_check(spec_of("new.swap"), NULL, 0), 0);
	st = open_ok("new.swap", 0);
	assert_int_equal(stat(path_of("new.swap"), &sb), 0);
	assert_int_equal(sb.st_size, PG);
	usm_store_close(st);

	/* a header of a future version, or for another page size: refused */
	fd = open(path_of("new.swap"), O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x63\0\0\0", 4, 8), 4);	/* version 99 */
	close(fd);
	assert_int_equal(usm_store_check(spec_of("new.swap"), NULL, 0), -EEXIST);
	assert_int_equal(usm_store_open("x", spec_of("new.swap"), 0, &st, NULL, 0),
			 -EEXIST);
	assert_int_equal(stat(path_of("new.swap"), &sb), 0);
	assert_int_equal(sb.st_size, PG);
}

/* An empty file (size 0) of ours is adopted: it gets the header. */
static void test_empty_file_adopted(void **state)
{
	struct usm_store *st;
	struct stat sb;
	char head[8];
	int fd;

	(void)state;
	fd = open(path_of("empty.swap"), O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(usm_store_check(spec_of("empty.swap"), NULL, 0), 0);
	st = open_ok("empty.swap", USM_STORE_KEEP);
	assert_int_equal(stat(path_of("empty.swap"), &sb), 0);
	assert_int_equal(sb.st_size, PG);
	assert_int_equal(sb.st_mode & 07777, 0600);
	fd = open(path_of("empty.swap"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, head, sizeof(head), 0), (ssize_t)sizeof(head));
	assert_memory_equal(head, USM_STORE_MAGIC, sizeof(head));
	close(fd);
	usm_store_close(st);
}

/*
 * Two opens of one store: the second is refused while the first holds it
 * (-EBUSY: two servers would corrupt each other), unless it says that its
 * caller holds the lock through the first (USM_STORE_UNLOCKED: the FUSE
 * daemon's supervisor keeps its stores open while daemons come and go);
 * with KEEP it then reads what the first wrote.
 */
static void test_unlocked_for_a_holder(void **state)
{
	struct usm_store *a = open_ok("held.swap", 0), *b = NULL;
	unsigned char page[PG], back[PG];
	void *pb = page, *bb = back;
	usm_slot_t s;

	(void)state;
	memset(page, 0x5a, PG);
	assert_int_equal(usm_store_alloc(a, &s), 0);
	assert_int_equal(usm_store_write(a, &s, &pb, 1), 0);
	assert_int_equal(usm_store_sync(a), 0);
	assert_int_equal(usm_store_open("default", spec_of("held.swap"),
					USM_STORE_KEEP, &b, NULL, 0), -EBUSY);
	b = open_ok("held.swap", USM_STORE_KEEP | USM_STORE_UNLOCKED);
	assert_int_equal(usm_store_claim(b, s), 0);
	assert_int_equal(usm_store_read(b, &s, &bb, 1), 0);
	assert_memory_equal(back, page, PG);
	usm_store_close(b);
	usm_store_close(a);
}

/* check: a path to be created is fine where its directory exists. */
static void test_check_paths(void **state)
{
	char err[512] = "";

	(void)state;
	assert_int_equal(usm_store_check("none", NULL, 0), 0);
	assert_int_equal(usm_store_check(spec_of("later.swap"), err, sizeof(err)), 0);
	assert_int_equal(access(path_of("later.swap"), F_OK), -1);
	assert_int_equal(usm_store_check(spec_of("no-dir/x.swap"), err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "no-dir"));
	assert_int_equal(usm_store_check("file:rel.swap", err, sizeof(err)), -EINVAL);
	assert_int_equal(usm_store_check("bogus", err, sizeof(err)), -EINVAL);
	assert_int_equal(mkdir(path_of("adir"), 0700), 0);
	assert_int_equal(usm_store_check(spec_of("adir"), err, sizeof(err)), -EPERM);
	snprintf(err, sizeof(err), "%s", path_of("later.swap"));
	assert_int_equal(symlink(err, path_of("ln.swap")), 0);
	assert_int_equal(usm_store_check(spec_of("ln.swap"), err, sizeof(err)), -EPERM);
}

/*
 * The reserve: at it, a store takes no more of its filesystem, but the free
 * slots inside its file are its own and are reused, by both allocators.
 */
static void test_reuse_at_reserve(void **state)
{
	struct usm_store *st = open_ok("reuse.swap", 0);
	usm_slot_t s, first;
	uint64_t nr, i;

	(void)state;
	assert_int_equal(usm_store_alloc_run(st, 64, &first, &nr), 0);
	assert_int_equal(nr, 64);
	for (i = 10; i < 30; i++)
		assert_int_equal(usm_store_free(st, i), 0);
	usm_store_set_reserve(st, UINT64_MAX / 2);
	/* 20 free slots inside the file: that is all it can take */
	assert_int_equal(usm_store_room(st), 20);
	assert_int_equal(usm_store_alloc(st, &s), 0);
	assert_int_equal(s, 10);
	assert_int_equal(usm_store_alloc_run(st, 64, &first, &nr), 0);
	assert_int_equal(first, 11);
	assert_int_equal(nr, 19);
	assert_int_equal(usm_store_room(st), 0);
	assert_int_equal(usm_store_alloc(st, &s), -ENOSPC);
	assert_int_equal(usm_store_alloc_run(st, 1, &first, &nr), -ENOSPC);
	usm_store_close(st);
}

/*
 * The same on a real small filesystem (a 16 MiB tmpfs; root only): with
 * the default reserve (256 MiB) nothing fits and room says 0; with a 4 MiB
 * reserve the store grows to the reserve, then reuses what it freed.
 */
/* usm_store_traffic counts the pages of successful writes and reads only */
static void test_traffic_counts(void **state)
{
	struct usm_store *st = open_ok("traffic.swap", 0);
	static char a[3][USM_PAGE_SIZE] __attribute__((aligned(4096)));
	void *bufs[3] = { a[0], a[1], a[2] };
	usm_slot_t first, sl[3], twice[2];
	uint64_t nr, out, in;

	(void)state;
	usm_store_traffic(st, &out, &in);
	assert_int_equal(out, 0);
	assert_int_equal(in, 0);
	assert_int_equal(usm_store_alloc_run(st, 3, &first, &nr), 0);
	assert_int_equal(nr, 3);
	for (int i = 0; i < 3; i++) {
		sl[i] = first + (usm_slot_t)i;
		memset(a[i], 'a' + i, USM_PAGE_SIZE);
	}
	assert_int_equal(usm_store_write(st, sl, bufs, 3), 0);
	assert_int_equal(usm_store_read(st, sl, bufs, 2), 0);
	assert_int_equal(a[1][100], 'b');
	/* refused (one slot twice): not counted */
	twice[0] = twice[1] = first;
	assert_int_equal(usm_store_write(st, twice, bufs, 2), -EINVAL);
	usm_store_traffic(st, &out, &in);
	assert_int_equal(out, 3);
	assert_int_equal(in, 2);
	usm_store_close(st);
}

static void test_small_filesystem(void **state)
{
	char dir[600], spec[620], err[256] = "";
	struct usm_store *st = NULL;
	usm_slot_t first, s;
	uint64_t nr, got = 0, room;
	static unsigned char page[PG];
	void *b = page;

	(void)state;
	memset(page, 0x77, PG);
	snprintf(dir, sizeof(dir), "%s/small", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	if (mount("tmpfs", dir, "tmpfs", 0, "size=16m")) {
		rmdir(dir);
		skip();
	}
	snprintf(spec, sizeof(spec), "file:%s/s.swap", dir);
	assert_int_equal(usm_store_open("s", spec, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(usm_store_room(st), 0);
	assert_int_equal(usm_store_alloc(st, &s), -ENOSPC);
	usm_store_set_reserve(st, 4 << 20);
	room = usm_store_room(st);
	assert_true(room > 1000 && room <= (12 << 20) / PG);
	/* the slots are written, as evictions do: that is what takes the
	 * filesystem's room */
	while (got <= room && usm_store_alloc_run(st, 256, &first, &nr) == 0) {
		for (s = first; s < first + nr; s++)
			assert_int_equal(usm_store_write(st, &s, &b, 1), 0);
		got += nr;
	}
	assert_true(got >= room - 256 && got <= room);
	assert_int_equal(usm_store_room(st), 0);
	for (s = 100; s < 200; s++)
		assert_int_equal(usm_store_free(st, s), 0);
	assert_int_equal(usm_store_room(st), 100);
	for (s = 0; s < 100; s++) {
		assert_int_equal(usm_store_alloc(st, &first), 0);
		assert_int_equal(first, 100 + s);
	}
	assert_int_equal(usm_store_alloc(st, &first), -ENOSPC);
	usm_store_close(st);
	assert_int_equal(umount(dir), 0);
}

/*
 * The same through the engine, as the issue saw it: two files evicted to
 * the store, the store's filesystem then below the reserve (here: a reserve
 * larger than any disk), one file deleted.  Every page of the other one
 * must still come back: each swap-in needs a frame, so an eviction, whose
 * slots are the deleted file's.
 */
static void test_ctx_reuse_after_delete(void **state)
{
	enum { N = 200 };
	struct fake_be *be = fb_new(64);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "lru", be->swap, &mo);
	struct usm_file *a = fb_file(ctx, 1), *b = fb_file(ctx, 2);
	struct usm_file_stats st;
	usm_frame_t fr;
	uint64_t i;

	(void)state;
	for (i = 0; i < N; i++) {
		assert_int_equal(usm_fault(ctx, a, i, USM_FAULT_WRITE, &fr), 0);
		fb_fill(be, fr, 1, i);
	}
	for (i = 0; i < N; i++) {
		assert_int_equal(usm_fault(ctx, b, i, USM_FAULT_WRITE, &fr), 0);
		fb_fill(be, fr, 2, i);
	}
	pthread_rwlock_wrlock(&ctx->dflt->io);
	usm_store_set_reserve(ctx->dflt->st, UINT64_MAX / 2);
	pthread_rwlock_unlock(&ctx->dflt->io);
	usm_file_release(ctx, a);
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < N; i++) {
			int r = usm_fault(ctx, b, i, USM_FAULT_PIN, &fr);

			if (r)
				fail_msg("pass %d: page %llu of the other file: %d",
					 pass, (unsigned long long)i, r);
			assert_true(fb_verify(be, fr, 2, i));
			usm_page_unpin(ctx, b, i);
		}
	}
	usm_file_stats(ctx, b, &st);
	assert_true(st.swapins >= N - 64);
	fb_check(ctx);
	usm_file_release(ctx, b);
	fb_free(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_foreign_file_refused),
		cmocka_unit_test(test_new_file_has_header),
		cmocka_unit_test(test_empty_file_adopted),
		cmocka_unit_test(test_unlocked_for_a_holder),
		cmocka_unit_test(test_check_paths),
		cmocka_unit_test(test_reuse_at_reserve),
		cmocka_unit_test(test_traffic_counts),
		cmocka_unit_test(test_small_filesystem),
		cmocka_unit_test(test_ctx_reuse_after_delete),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
