// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_uapi.c - kmod/include/uapi/linux/usmfs.h, the /dev/usmfs ABI: every
 * structure's size and every field's offset is pinned (a change here is
 * an ABI break: bump USMFS_VERSION_MAJOR), the feature mask and ioctl
 * numbers are checked, and the header must compile on its own as C and as
 * C++ (the compilers are run from this test).
 */
#include <errno.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../kmod/include/uapi/linux/usmfs.h"

#ifndef UAPI_HEADER
#define UAPI_HEADER "../../kmod/include/uapi/linux/usmfs.h"
#endif

extern char **environ;

#define PIN(type, field, off) \
	_Static_assert(offsetof(struct type, field) == (off), \
		       #type "." #field " moved")
#define SIZE(type, sz) \
	_Static_assert(sizeof(struct type) == (sz), #type " changed size"); \
	_Static_assert(sizeof(struct type) % 8 == 0, #type " not 8-aligned")

SIZE(usmfs_features, 32);
PIN(usmfs_features, features, 0);
PIN(usmfs_features, version_major, 8);
PIN(usmfs_features, version_minor, 10);
PIN(usmfs_features, reserved, 16);

SIZE(usmfs_hello, 104);
PIN(usmfs_hello, version_major, 0);
PIN(usmfs_hello, version_minor, 2);
PIN(usmfs_hello, state, 4);
PIN(usmfs_hello, features, 8);
PIN(usmfs_hello, pool_frames, 16);
PIN(usmfs_hello, nr_chunks, 24);
PIN(usmfs_hello, page_shift, 28);
PIN(usmfs_hello, event_size, 32);
PIN(usmfs_hello, cmd_size, 36);
PIN(usmfs_hello, max_batch, 40);
PIN(usmfs_hello, queue_events, 44);
PIN(usmfs_hello, low_pct, 48);
PIN(usmfs_hello, high_pct, 52);
PIN(usmfs_hello, generation, 56);
PIN(usmfs_hello, swapped_pages, 64);
PIN(usmfs_hello, reserved, 72);

SIZE(usmfs_chunk, 24);
PIN(usmfs_chunk, first_frame, 0);
PIN(usmfs_chunk, nr_frames, 8);
PIN(usmfs_chunk, source, 16);

SIZE(usmfs_chunks, 16);
PIN(usmfs_chunks, chunks_ptr, 0);
PIN(usmfs_chunks, nr, 8);

SIZE(usmfs_cmd_batch, 24);
PIN(usmfs_cmd_batch, cmds_ptr, 0);
PIN(usmfs_cmd_batch, nr, 8);
PIN(usmfs_cmd_batch, done, 12);

SIZE(usmfs_page_rec, 48);
PIN(usmfs_page_rec, dev, 0);
PIN(usmfs_page_rec, state, 4);
PIN(usmfs_page_rec, ino, 8);
PIN(usmfs_page_rec, index, 16);
PIN(usmfs_page_rec, frame, 24);
PIN(usmfs_page_rec, slot, 32);
PIN(usmfs_page_rec, store_id, 40);

SIZE(usmfs_cmd, 64);
PIN(usmfs_cmd, op, 0);
PIN(usmfs_cmd, flags, 2);
PIN(usmfs_cmd, error, 4);
PIN(usmfs_cmd, dev, 8);
PIN(usmfs_cmd, reserved0, 12);
PIN(usmfs_cmd, ino, 16);
PIN(usmfs_cmd, u, 24);
PIN(usmfs_cmd, u.grant.index, 24);
PIN(usmfs_cmd, u.grant.first_frame, 32);
PIN(usmfs_cmd, u.grant.nr, 40);
PIN(usmfs_cmd, u.range.index, 24);
PIN(usmfs_cmd, u.range.frame, 32);
PIN(usmfs_cmd, u.range.nr, 40);
PIN(usmfs_cmd, u.commit.index, 24);
PIN(usmfs_cmd, u.commit.frame, 32);
PIN(usmfs_cmd, u.commit.slot, 40);
PIN(usmfs_cmd, u.commit.store_id, 48);
PIN(usmfs_cmd, u.swapin.index, 24);
PIN(usmfs_cmd, u.swapin.frame, 32);
PIN(usmfs_cmd, u.swapin.token, 40);
PIN(usmfs_cmd, u.swapin.status, 48);
PIN(usmfs_cmd, u.wm.low_pct, 24);
PIN(usmfs_cmd, u.wm.high_pct, 28);
PIN(usmfs_cmd, u.list.recs_ptr, 24);
PIN(usmfs_cmd, u.list.nr, 32);
PIN(usmfs_cmd, u.list.cursor_dev, 36);
PIN(usmfs_cmd, u.list.cursor_ino, 40);
PIN(usmfs_cmd, u.list.cursor_index, 48);
PIN(usmfs_cmd, u.store.store_id, 24);
PIN(usmfs_cmd, u.store.name, 32);

SIZE(usmfs_event, 256);
PIN(usmfs_event, type, 0);
PIN(usmfs_event, flags, 2);
PIN(usmfs_event, dev, 4);
PIN(usmfs_event, ino, 8);
PIN(usmfs_event, seq, 16);
PIN(usmfs_event, u, 32);
PIN(usmfs_event, u.created.parent, 32);
PIN(usmfs_event, u.created.mode, 40);
PIN(usmfs_event, u.created.uid, 44);
PIN(usmfs_event, u.created.gid, 48);
PIN(usmfs_event, u.created.prio, 52);
PIN(usmfs_event, u.created.limit, 56);
PIN(usmfs_event, u.created.set, 64);
PIN(usmfs_event, u.created.comm, 72);
PIN(usmfs_event, u.created.alloc, 88);
PIN(usmfs_event, u.created.evict, 120);
PIN(usmfs_event, u.created.swap, 152);
PIN(usmfs_event, u.created.path, 184);
PIN(usmfs_event, u.range.start, 32);
PIN(usmfs_event, u.range.nr, 40);
PIN(usmfs_event, u.range.frame, 48);
PIN(usmfs_event, u.xattr.id, 32);
PIN(usmfs_event, u.xattr.len, 36);
PIN(usmfs_event, u.xattr.value, 40);
PIN(usmfs_event, u.access.index, 32);
PIN(usmfs_event, u.access.count, 40);
PIN(usmfs_event, u.pressure.free, 32);
PIN(usmfs_event, u.pressure.total, 40);
PIN(usmfs_event, u.pressure.low_pct, 48);
PIN(usmfs_event, u.pressure.high_pct, 52);
PIN(usmfs_event, u.swapin.index, 32);
PIN(usmfs_event, u.swapin.frame, 40);
PIN(usmfs_event, u.swapin.slot, 48);
PIN(usmfs_event, u.swapin.token, 56);
PIN(usmfs_event, u.swapin.store_id, 64);
PIN(usmfs_event, u.mount.max_frames, 32);
PIN(usmfs_event, u.mount.swapin_timeout_ms, 40);
PIN(usmfs_event, u.mount.swap, 112);
PIN(usmfs_event, u.overflow.lost, 32);
PIN(usmfs_event, u.reclaim.nr, 32);
PIN(usmfs_event, u.reclaim.reserved, 40);
_Static_assert(sizeof(((struct usmfs_event *)0)->u.reclaim) == 32,
	       "reclaim payload changed size");
_Static_assert(USMFS_EV_RECLAIM == 14, "event numbers are ABI");

/* Every payload fits the union (raw is its size). */
_Static_assert(sizeof(((struct usmfs_event *)0)->u) ==
	       sizeof(((struct usmfs_event *)0)->u.raw), "event payload grew");
_Static_assert(sizeof(((struct usmfs_cmd *)0)->u) ==
	       sizeof(((struct usmfs_cmd *)0)->u.raw), "command payload grew");

static void test_sizes_runtime(void **state)
{
	(void)state;
	/* The same facts at run time, so that a failure is also a count. */
	assert_int_equal(sizeof(struct usmfs_event), 256);
	assert_int_equal(sizeof(struct usmfs_cmd), 64);
	assert_int_equal(sizeof(struct usmfs_hello), 104);
	assert_int_equal(sizeof(struct usmfs_page_rec), 48);
	assert_int_equal(USMFS_VERSION_MAJOR, 1);
	assert_true(USMFS_VERSION_MINOR >= 1);	/* 1.1: USMFS_EV_RECLAIM */
	assert_true(USMFS_MAX_BATCH >= 64);
	assert_true(USMFS_XATTR_LEN >= 64);	/* USM_XATTR_VALUE_MAX */
}

static void test_features(void **state)
{
	uint64_t bits[] = { USMFS_F_RESERVE, USMFS_F_EVICT, USMFS_F_ACCESS,
			    USMFS_F_PATH_HINT, USMFS_F_RECOVERY };
	uint64_t all = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		/* one bit each, distinct */
		assert_int_equal(__builtin_popcountll(bits[i]), 1);
		assert_int_equal(all & bits[i], 0);
		all |= bits[i];
	}
	assert_int_equal(all, USMFS_F_ALL);
}

static void test_ioctls(void **state)
{
	(void)state;
	assert_int_equal(_IOC_TYPE(USMFS_IOC_HELLO), 'U');
	assert_int_equal(_IOC_DIR(USMFS_IOC_HELLO), _IOC_READ | _IOC_WRITE);
	assert_int_equal(_IOC_SIZE(USMFS_IOC_HELLO), sizeof(struct usmfs_hello));
	assert_int_equal(_IOC_SIZE(USMFS_IOC_CMD), sizeof(struct usmfs_cmd_batch));
	assert_int_equal(_IOC_SIZE(USMFS_IOC_GET_CHUNKS),
			 sizeof(struct usmfs_chunks));
	assert_int_equal(_IOC_SIZE(USMFS_IOC_GET_FEATURES),
			 sizeof(struct usmfs_features));
	/* distinct numbers */
	assert_int_not_equal(_IOC_NR(USMFS_IOC_HELLO), _IOC_NR(USMFS_IOC_CMD));
	assert_int_not_equal(_IOC_NR(USMFS_IOC_GET_FEATURES),
			     _IOC_NR(USMFS_IOC_GET_CHUNKS));
	assert_int_not_equal(_IOC_NR(USMFS_IOC_GET_CHUNKS),
			     _IOC_NR(USMFS_IOC_CMD));
	assert_int_not_equal(_IOC_NR(USMFS_IOC_HELLO),
			     _IOC_NR(USMFS_IOC_GET_FEATURES));
}

/* Run @argv, its output discarded unless it fails; returns its status. */
static int run(char *const argv[])
{
	pid_t pid;
	int st, r;

	r = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (r) {
		fprintf(stderr, "%s: %s\n", argv[0], strerror(r));
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void compile_header(const char *compiler, const char *lang,
			   const char *std)
{
	char *argv[] = {
		(char *)compiler, (char *)"-fsyntax-only", (char *)"-x",
		(char *)lang, (char *)std, (char *)"-Wall", (char *)"-Wextra",
		(char *)"-Wpedantic", (char *)"-Werror", (char *)UAPI_HEADER,
		NULL,
	};

	fprintf(stderr, "  %s -x %s %s %s\n", compiler, lang, std, UAPI_HEADER);
	assert_int_equal(run(argv), 0);
}

static void test_standalone_c(void **state)
{
	(void)state;
	compile_header("cc", "c", "-std=c99");
	compile_header("cc", "c", "-std=c11");
}

static void test_standalone_cxx(void **state)
{
	(void)state;
	/* g++ comes with build-essential; clang++ with clang. */
	compile_header("g++", "c++", "-std=c++11");
	compile_header("g++", "c++", "-std=c++17");
	if (access("/usr/bin/clang++", X_OK) == 0)
		compile_header("clang++", "c++", "-std=c++11");
}

/* A broken header must fail the check: the check can fail. */
static void test_checker_can_fail(void **state)
{
	char path[] = "/tmp/usm-uapi-bad.XXXXXX";
	char *argv[] = { (char *)"g++", (char *)"-fsyntax-only", (char *)"-x",
			 (char *)"c++", (char *)"-Werror", path, NULL };
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	/* an implicit conversion from void *: fine in C, not in C++ */
	static const char bad[] = "void f(void *p) { int *q = p; (void)q; }\n";

	assert_true(write(fd, bad, sizeof(bad) - 1) == (ssize_t)sizeof(bad) - 1);
	close(fd);
	assert_int_not_equal(run(argv), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_runtime),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_ioctls),
		cmocka_unit_test(test_standalone_c),
		cmocka_unit_test(test_standalone_cxx),
		cmocka_unit_test(test_checker_can_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
