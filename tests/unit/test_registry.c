// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_registry.c - the policy registry and plugin loading.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <usm/policy.h>
#include <usm/xattr-defs.h>
#include "policy-registry.h"

/* A do-nothing but complete eviction table to register under many names. */
static void *t_create(struct usm_file *f) { (void)f; return (void *)1; }
static void t_destroy(void *s) { (void)s; }
static void t_page(void *s, struct usm_page *pg) { (void)s; (void)pg; }
static size_t t_victims(void *s, struct usm_page **o, size_t n)
{
	(void)s; (void)o; (void)n;
	return 0;
}
static int t_place(struct usm_ctx *c, struct usm_file *f, uint64_t i,
		   usm_frame_t *fr)
{
	(void)c; (void)f; (void)i; (void)fr;
	return -ENOSPC;
}

#define EVICT_TABLE(nm) { .name = nm, .create = t_create, \
	.destroy = t_destroy, .on_insert = t_page, .on_access = t_page, \
	.on_remove = t_page, .victims = t_victims }

struct names {
	char list[64][USM_NAME_MAX + 1];
	size_t n;
};

static void collect(const char *name, void *arg)
{
	struct names *nm = arg;

	assert_true(nm->n < 64);
	snprintf(nm->list[nm->n++], sizeof(nm->list[0]), "%s", name);
	/* The callback may use the registry itself (no lock held). */
	assert_non_null(usm_find_evict(name) ? (void *)1 :
			(void *)usm_find_alloc(name));
}

static int listed(const struct names *nm, const char *name)
{
	size_t i;

	for (i = 0; i < nm->n; i++)
		if (!strcmp(nm->list[i], name))
			return 1;
	return 0;
}

static void test_builtins(void **state)
{
	static const char *const evict[] = {
		"fifo", "lru", "clock", "sieve", "s3fifo", "pinned",
	};
	static const struct usm_evict_ops *const tables[] = {
		&usm_evict_fifo, &usm_evict_lru, &usm_evict_clock,
		&usm_evict_sieve, &usm_evict_s3fifo, &usm_evict_pinned,
	};
	struct names nm = { .n = 0 };
	size_t i;

	(void)state;
	/* usm_find_* initialises the registry by itself. */
	for (i = 0; i < 6; i++) {
		assert_ptr_equal(usm_find_evict(evict[i]), tables[i]);
		assert_int_equal(usm_evict_ops_check(tables[i], NULL, 0), 0);
	}
	usm_policies_init();	/* idempotent */
	usm_for_each_evict(collect, &nm);
	for (i = 0; i < 6; i++)
		assert_true(listed(&nm, evict[i]));
	/* The built-in names are taken. */
	for (i = 0; i < 6; i++)
		assert_int_equal(usm_register_evict(tables[i]), -EEXIST);
	/* The parser's list of built-in names agrees with the registry. */
#define CHECK_FOUND(n) assert_non_null(usm_find_evict(n));
	USM_EVICT_BUILTINS(CHECK_FOUND)
#undef CHECK_FOUND
	assert_ptr_equal(usm_find_alloc("firstfit"), &usm_alloc_firstfit);
	assert_ptr_equal(usm_find_alloc("contiguous"), &usm_alloc_contiguous);
	assert_ptr_equal(usm_find_alloc("spread"), &usm_alloc_spread);
#define CHECK_ALLOC(n) assert_non_null(usm_find_alloc(n));
	USM_ALLOC_BUILTINS(CHECK_ALLOC)
#undef CHECK_ALLOC
	usm_for_each_alloc(collect, &nm);
	assert_true(listed(&nm, "firstfit"));
	assert_true(listed(&nm, "contiguous"));
	assert_true(listed(&nm, "spread"));
	assert_null(usm_find_evict("nosuch"));
	assert_null(usm_find_evict(NULL));
	assert_null(usm_find_evict("LRU"));
	assert_null(usm_find_alloc("lru"));
}

static void test_names(void **state)
{
	static char n31[] = "abcdefghijklmnopqrstuvwxyz01234";
	static char n32[] = "abcdefghijklmnopqrstuvwxyz012345";

	(void)state;
	assert_true(usm_policy_name_ok("a"));
	assert_true(usm_policy_name_ok("my_policy-2"));
	assert_true(usm_policy_name_ok(n31));
	assert_false(usm_policy_name_ok(n32));
	assert_false(usm_policy_name_ok(""));
	assert_false(usm_policy_name_ok(NULL));
	assert_false(usm_policy_name_ok("Lru"));
	assert_false(usm_policy_name_ok("a/b"));
	assert_false(usm_policy_name_ok("a b"));
	assert_false(usm_policy_name_ok("a.so"));
	assert_false(usm_policy_name_ok("\xc3\xa9"));
}

static void test_register_evict(void **state)
{
	static const struct usm_evict_ops good = EVICT_TABLE("t-good");
	static const struct usm_evict_ops bad_name = EVICT_TABLE("Bad");
	static const struct usm_evict_ops no_name = EVICT_TABLE(NULL);
	static struct usm_evict_ops partial = EVICT_TABLE("t-partial");
	static const struct usm_evict_ops never = {
		.name = "t-never", .flags = USM_EVICT_NEVER,
		.create = t_create, .destroy = t_destroy,
		.on_insert = t_page, .on_access = t_page, .on_remove = t_page,
	};
	static const struct usm_evict_ops flags = {
		.name = "t-flags", .flags = 0x80,
		.create = t_create, .destroy = t_destroy,
		.on_insert = t_page, .on_access = t_page, .on_remove = t_page,
		.victims = t_victims,
	};
	char err[128];

	(void)state;
	assert_int_equal(usm_register_evict(&good), 0);
	assert_ptr_equal(usm_find_evict("t-good"), &good);
	assert_int_equal(usm_register_evict(&good), -EEXIST);
	assert_int_equal(usm_register_evict(&bad_name), -EINVAL);
	assert_int_equal(usm_register_evict(&no_name), -EINVAL);
	assert_int_equal(usm_register_evict(NULL), -EINVAL);
	assert_int_equal(usm_register_evict(&flags), -EINVAL);
	assert_null(usm_find_evict("t-flags"));

	/* Every callback but victims is required; victims too unless the
	 * policy never gives. */
	partial.victims = NULL;
	assert_int_equal(usm_evict_ops_check(&partial, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "victims"));
	partial.victims = t_victims;
	partial.on_remove = NULL;
	assert_int_equal(usm_register_evict(&partial), -EINVAL);
	assert_int_equal(usm_evict_ops_check(&partial, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "on_remove"));
	partial.on_remove = t_page;
	partial.create = NULL;
	assert_int_equal(usm_register_evict(&partial), -EINVAL);
	partial.create = t_create;
	assert_int_equal(usm_register_evict(&never), 0);
	assert_null(usm_find_evict("t-partial"));
	assert_int_equal(usm_register_evict(&partial), 0);
	assert_ptr_equal(usm_find_evict("t-partial"), &partial);
}

static void test_register_alloc(void **state)
{
	static const struct usm_alloc_ops good = { .name = "t-place",
						   .place = t_place };
	static const struct usm_alloc_ops noplace = { .name = "t-noplace" };
	static const struct usm_alloc_ops badname = { .name = "t place",
						      .place = t_place };

	(void)state;
	assert_int_equal(usm_register_alloc(&good), 0);
	assert_ptr_equal(usm_find_alloc("t-place"), &good);
	assert_int_equal(usm_register_alloc(&good), -EEXIST);
	assert_int_equal(usm_register_alloc(&noplace), -EINVAL);
	assert_int_equal(usm_register_alloc(&badname), -EINVAL);
	assert_int_equal(usm_register_alloc(NULL), -EINVAL);
	/* Eviction and placement names are separate namespaces. */
	assert_null(usm_find_evict("t-place"));
}

static void test_batch_all_or_nothing(void **state)
{
	static const struct usm_evict_ops a = EVICT_TABLE("t-batch-a");
	static const struct usm_evict_ops b = EVICT_TABLE("t-batch-b");
	static const struct usm_evict_ops dup = EVICT_TABLE("lru");
	static const struct usm_evict_ops bad = EVICT_TABLE("t-batch-Bad");
	static const struct usm_alloc_ops pa = { .name = "t-batch-p",
						 .place = t_place };
	const struct usm_evict_ops *e1[] = { &a, &b, &dup };
	const struct usm_evict_ops *e2[] = { &a, &a };
	const struct usm_evict_ops *e3[] = { &a, &bad };
	const struct usm_evict_ops *e4[] = { &a, &b };
	const struct usm_alloc_ops *p1[] = { &pa };
	char err[128];

	(void)state;
	assert_int_equal(usm_registry_add(e1, 3, p1, 1, err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "'lru'"));
	assert_int_equal(usm_registry_add(e2, 2, NULL, 0, err, sizeof(err)),
			 -EEXIST);
	assert_int_equal(usm_registry_add(e3, 2, p1, 1, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "t-batch-Bad"));
	assert_null(usm_find_evict("t-batch-a"));
	assert_null(usm_find_evict("t-batch-b"));
	assert_null(usm_find_alloc("t-batch-p"));
	assert_int_equal(usm_registry_add(e4, 2, p1, 1, err, sizeof(err)), 0);
	assert_ptr_equal(usm_find_evict("t-batch-a"), &a);
	assert_ptr_equal(usm_find_evict("t-batch-b"), &b);
	assert_ptr_equal(usm_find_alloc("t-batch-p"), &pa);
}

/* Threads register distinct names and look up everyone's at once. */
#define NTHREADS 4
#define PER_THREAD 8

static struct usm_evict_ops thr_tables[NTHREADS][PER_THREAD];
static char thr_names[NTHREADS][PER_THREAD][16];

static void *thr_main(void *arg)
{
	size_t t = (size_t)arg, i, j;

	for (i = 0; i < PER_THREAD; i++) {
		struct usm_evict_ops *o = &thr_tables[t][i];

		*o = (struct usm_evict_ops)EVICT_TABLE(thr_names[t][i]);
		if (usm_register_evict(o))
			return (void *)1;
		for (j = 0; j < NTHREADS; j++)
			(void)usm_find_evict(thr_names[j][i]);
		if (usm_register_evict(o) != -EEXIST)
			return (void *)1;
	}
	return NULL;
}

static void count_names(const char *name, void *arg)
{
	(void)name;
	(*(size_t *)arg)++;
}

static void test_threads(void **state)
{
	pthread_t th[NTHREADS];
	size_t t, i, before = 0, after = 0;
	void *ret;

	(void)state;
	usm_for_each_evict(count_names, &before);
	for (t = 0; t < NTHREADS; t++)
		for (i = 0; i < PER_THREAD; i++)
			snprintf(thr_names[t][i], sizeof(thr_names[t][i]),
				 "thr-%zu-%zu", t, i);
	for (t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, thr_main,
						(void *)t), 0);
	for (t = 0; t < NTHREADS; t++) {
		assert_int_equal(pthread_join(th[t], &ret), 0);
		assert_null(ret);
	}
	usm_for_each_evict(count_names, &after);
	assert_int_equal(after, before + NTHREADS * PER_THREAD);
	for (t = 0; t < NTHREADS; t++)
		for (i = 0; i < PER_THREAD; i++)
			assert_ptr_equal(usm_find_evict(thr_names[t][i]),
					 &thr_tables[t][i]);
}

/* Plugins: built by the unit Makefile into TEST_BUILD_DIR, against the
 * headers only, as a user would. */
#define PLUGIN(name) TEST_BUILD_DIR "/plugin_" name ".so"

static void test_plugin_good(void **state)
{
	struct usm_page pg[4] = { { .index = 0 } };
	const struct usm_evict_ops *mru;
	struct usm_page *out[4];
	struct names nm = { .n = 0 };
	char err[256] = "";
	void *st;
	size_t i;

	(void)state;
	assert_null(usm_find_evict("mru"));
	assert_int_equal(usm_plugin_load(PLUGIN("mru"), err, sizeof(err)), 0);
	mru = usm_find_evict("mru");
	assert_non_null(mru);
	usm_for_each_evict(collect, &nm);
	assert_true(listed(&nm, "mru"));

	/* It works: most recently used first, pinned pages skipped. */
	st = mru->create(NULL);
	assert_non_null(st);
	for (i = 0; i < 4; i++) {
		pg[i].index = i;
		mru->on_insert(st, &pg[i]);
	}
	mru->on_access(st, &pg[1]);
	pg[3].pins = 1;
	assert_int_equal(mru->victims(st, out, 2), 2);
	assert_ptr_equal(out[0], &pg[1]);
	assert_ptr_equal(out[1], &pg[2]);
	assert_int_equal(mru->resident(st), 2);
	mru->on_remove(st, &pg[0]);
	mru->on_remove(st, &pg[3]);
	mru->destroy(st);

	/* Loading it again is a duplicate, with a clear error. */
	assert_int_equal(usm_plugin_load(PLUGIN("mru"), err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "'mru'"));
	assert_non_null(strstr(err, "already registered"));
	assert_ptr_equal(usm_find_evict("mru"), mru);
}

static void test_plugin_bad_abi(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(usm_plugin_load(PLUGIN("badabi"), err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "ABI"));
	assert_null(usm_find_evict("badabi"));
}

static void test_plugin_duplicate(void **state)
{
	const struct usm_evict_ops *lru = usm_find_evict("lru");
	char err[256] = "";

	(void)state;
	assert_int_equal(usm_plugin_load(PLUGIN("dup"), err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "'lru'"));
	assert_non_null(strstr(err, "nothing registered"));
	/* All or nothing: its good first table is not there either. */
	assert_null(usm_find_evict("dup-first"));
	assert_ptr_equal(usm_find_evict("lru"), lru);
	assert_ptr_equal(lru, &usm_evict_lru);
}

static void test_plugin_missing_symbol(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(usm_plugin_load(PLUGIN("nosym"), err, sizeof(err)),
			 -ENOEXEC);
	assert_non_null(strstr(err, USM_PLUGIN_SYMBOL));
}

static void test_plugin_bad_table(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(usm_plugin_load(PLUGIN("badtable"), err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "on_remove"));
	assert_null(usm_find_evict("badtable"));
	assert_null(usm_find_alloc("badtable-place"));
}

static void test_plugin_not_found(void **state)
{
	char err[512] = "";

	(void)state;
	/* A bare name is looked up in USM_PLUGIN_DIR, with ".so" added. */
	assert_int_equal(usm_plugin_load("no-such-plugin", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, USM_PLUGIN_DIR "/no-such-plugin.so"));
	assert_int_equal(usm_plugin_load(TEST_BUILD_DIR "/nothing.so", err,
					 sizeof(err)), -ENOENT);
	assert_int_equal(usm_plugin_load("", err, sizeof(err)), -EINVAL);
	assert_int_equal(usm_plugin_load(NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(usm_plugin_load("..", err, sizeof(err)), -EINVAL);
	assert_int_equal(usm_plugin_load("a b", err, sizeof(err)), -EINVAL);
	/* Not a shared object at all. */
	assert_int_equal(usm_plugin_load(TEST_BUILD_DIR "/test_registry",
					 err, sizeof(err)), -ELIBBAD);
	assert_non_null(strstr(err, "cannot load"));
	/* A NULL error buffer is fine. */
	assert_int_equal(usm_plugin_load("no-such-plugin", NULL, 0), -ENOENT);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* docs/policies.md shows policy/examples/mru.c in full; the copy there
 * must be the file the tests build and load (plugin_mru.c includes it). */
static void test_doc_example_in_sync(void **state)
{
	char *doc = slurp(TEST_BUILD_DIR "/../../../docs/policies.md");
	char *src = slurp(TEST_BUILD_DIR "/../../../policy/examples/mru.c");
	char *start, *end;

	(void)state;
	assert_non_null(doc);
	assert_non_null(src);
	start = strstr(doc, "`policy/examples/mru.c`");
	assert_non_null(start);
	start = strstr(start, "```c\n");
	assert_non_null(start);
	start += 5;
	end = strstr(start, "```");
	assert_non_null(end);
	*end = '\0';
	assert_string_equal(start, src);
	free(doc);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_register_evict),
		cmocka_unit_test(test_register_alloc),
		cmocka_unit_test(test_batch_all_or_nothing),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_plugin_good),
		cmocka_unit_test(test_plugin_bad_abi),
		cmocka_unit_test(test_plugin_duplicate),
		cmocka_unit_test(test_plugin_missing_symbol),
		cmocka_unit_test(test_plugin_bad_table),
		cmocka_unit_test(test_plugin_not_found),
		cmocka_unit_test(test_doc_example_in_sync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
