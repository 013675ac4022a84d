// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_parse.c - sizes, durations, names, xattrs, file policy, mount options. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "parse_test_util.h"

#include <usm/parse.h>
#include <usm/parse-core.h>
#include <usm/policy.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)
#define TiB (1024ULL * GiB)

/* ------------------------------------------------------------------ sizes */

struct size_case {
	const char *s;
	uint64_t pct_base;
	int ret;
	uint64_t want;
};

static const struct size_case size_cases[] = {
	{ "0", 0, 0, 0 },
	{ "4096", 0, 0, 4096 },
	{ "007", 0, 0, 7 },
	{ "1k", 0, 0, KiB },
	{ "64K", 0, 0, 64 * KiB },
	{ "64M", 0, 0, 64 * MiB },
	{ "64m", 0, 0, 64 * MiB },
	{ "1G", 0, 0, GiB },
	{ "1g", 0, 0, GiB },
	{ "2T", 0, 0, 2 * TiB },
	{ "1KB", 0, 0, KiB },
	{ "1kb", 0, 0, KiB },
	{ "1KiB", 0, 0, KiB },
	{ "3MiB", 0, 0, 3 * MiB },
	{ "5GB", 0, 0, 5 * GiB },
	{ "100B", 0, 0, 100 },
	{ "16777215T", 0, 0, 16777215ULL * TiB },
	{ "18446744073709551615", 0, 0, UINT64_MAX },
	{ "50%", 1000, 0, 500 },
	{ "100%", 4096, 0, 4096 },
	{ "0%", 4096, 0, 0 },
	{ "33%", 100, 0, 33 },
	{ "1%", 50, 0, 0 },
	{ "200%", 10, 0, 20 },
	/* malformed */
	{ "", 0, -EINVAL, 0 },
	{ "-1", 0, -EINVAL, 0 },
	{ "+1", 0, -EINVAL, 0 },
	{ "1.5G", 0, -EINVAL, 0 },
	{ "12Q", 0, -EINVAL, 0 },
	{ " 1M", 0, -EINVAL, 0 },
	{ "1M ", 0, -EINVAL, 0 },
	{ "1 M", 0, -EINVAL, 0 },
	{ "M", 0, -EINVAL, 0 },
	{ "K1", 0, -EINVAL, 0 },
	{ "1MM", 0, -EINVAL, 0 },
	{ "1MBB", 0, -EINVAL, 0 },
	{ "1iB", 0, -EINVAL, 0 },
	{ "1Mi", 0, -EINVAL, 0 },
	{ "1P", 0, -EINVAL, 0 },
	{ "0x10", 0, -EINVAL, 0 },
	{ "50%", 0, -EINVAL, 0 },
	{ "50%%", 100, -EINVAL, 0 },
	{ "%", 100, -EINVAL, 0 },
	{ "5%K", 100, -EINVAL, 0 },
	{ "5K%", 100, -EINVAL, 0 },
	/* overflow */
	{ "18446744073709551616", 0, -ERANGE, 0 },
	{ "99999999999999999999999", 0, -ERANGE, 0 },
	{ "16777216T", 0, -ERANGE, 0 },
	{ "17179869184G", 0, -ERANGE, 0 },
	{ "18446744073709551615K", 0, -ERANGE, 0 },
	{ "18446744073709551615%", UINT64_MAX, -ERANGE, 0 },
};

static void test_parse_size(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(size_cases); i++) {
		const struct size_case *c = &size_cases[i];
		uint64_t v = 0xdeadbeef;
		int ret = usm_parse_size(c->s, c->pct_base, &v);

		if (ret != c->ret || (ret == 0 && v != c->want) ||
		    (ret != 0 && v != 0xdeadbeef))
			fail_msg("usm_parse_size(\"%s\", %llu) = %d, %llu; want %d, %llu",
				 c->s, (unsigned long long)c->pct_base, ret,
				 (unsigned long long)v, c->ret,
				 (unsigned long long)c->want);
	}
	assert_int_equal(usm_parse_size(NULL, 0, NULL), -EINVAL);
}

struct fmt_case {
	uint64_t bytes;
	const char *want;
};

static const struct fmt_case fmt_cases[] = {
	{ 0, "0" },
	{ 1, "1" },
	{ 4096, "4096" },
	{ 9999, "9999" },
	{ 10240, "10K" },
	{ 64 * MiB, "64M" },
	{ GiB + GiB / 2, "1.5G" },
	{ 3 * TiB, "3T" },
	{ 1024 * TiB, "1024T" },
	{ MiB - 1, "1M" },		/* rounds up into the next unit */
	{ 12345, "12.1K" },
	{ 100 * MiB + 512 * KiB, "100.5M" },
};

static void test_format_size(void **state)
{
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(fmt_cases); i++) {
		usm_format_size(fmt_cases[i].bytes, buf, sizeof(buf));
		assert_string_equal(buf, fmt_cases[i].want);
	}
	/* truncation stays NUL-terminated */
	usm_format_size(64 * MiB, buf, 2);
	assert_string_equal(buf, "6");
	usm_format_size(64 * MiB, NULL, 0);
}

struct dur_case {
	const char *s;
	int ret;
	uint64_t ms;
};

static const struct dur_case dur_cases[] = {
	{ "30", 0, 30000 },
	{ "30s", 0, 30000 },
	{ "0", 0, 0 },
	{ "500ms", 0, 500 },
	{ "2m", 0, 120000 },
	{ "1h", 0, 3600000 },
	{ "", -EINVAL, 0 },
	{ "s", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "1.5s", -EINVAL, 0 },
	{ "10 s", -EINVAL, 0 },
	{ "10S", -EINVAL, 0 },
	{ "10sec", -EINVAL, 0 },
	{ "10d", -EINVAL, 0 },
	{ "5msx", -EINVAL, 0 },
	{ "18446744073709551615", -ERANGE, 0 },
	{ "18446744073709551615ms", 0, UINT64_MAX },
	{ "99999999999999999999", -ERANGE, 0 },
};

static void test_parse_duration(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(dur_cases); i++) {
		uint64_t v = 7;
		int ret = usm_parse_duration_ms(dur_cases[i].s, &v);

		if (ret != dur_cases[i].ret ||
		    v != (ret ? 7 : dur_cases[i].ms))
			fail_msg("duration \"%s\" = %d, %llu", dur_cases[i].s,
				 ret, (unsigned long long)v);
	}
}

/*
 * usm/parse-core.h is what usmfs.ko parses with too: its own contract,
 * tested directly (the kernel cannot run here).
 */
static void test_core(void **state)
{
	static const char value_nl[] = { 'l', 'r', 'u', '\n', '\0' };
	static const char value_nul[] = { 'l', 'r', '\0', 'u' };
	unsigned long long v = 7;
	unsigned long len;
	int pct = 9;

	(void)state;
	/* N% is returned as N, unchecked: each frontend knows of what */
	assert_int_equal(usm_core_size("250%", &v, &pct), 0);
	assert_int_equal(pct, 1);
	assert_int_equal(v, 250);
	assert_int_equal(usm_core_size("64KiB", &v, &pct), 0);
	assert_int_equal(pct, 0);
	assert_int_equal(v, 64 * KiB);
	v = 7;
	pct = 9;
	assert_int_equal(usm_core_size("16777216T", &v, &pct), -ERANGE);
	assert_int_equal(usm_core_size("1%%", &v, &pct), -EINVAL);
	assert_int_equal(usm_core_size("K", &v, &pct), -EINVAL);
	assert_int_equal(v, 7);		/* untouched on error */
	assert_int_equal(pct, 9);
	assert_int_equal(usm_core_size("16777215T", &v, &pct), 0);
	assert_int_equal(v, 16777215ULL * TiB);

	assert_int_equal(usm_core_size_strict("4k", &v), 0);
	assert_int_equal(v, 4 * KiB);
	assert_int_equal(usm_core_size_strict("4kB", &v), -EINVAL);
	assert_int_equal(usm_core_size_strict("4B", &v), -EINVAL);
	assert_int_equal(usm_core_size_strict("50%", &v), -EINVAL);

	/* durations: each unit's overflow edge */
	assert_int_equal(usm_core_duration_ms("5124095576030h", &v), 0);
	assert_int_equal(v, 5124095576030ULL * 3600000);
	assert_int_equal(usm_core_duration_ms("5124095576031h", &v), -ERANGE);
	assert_int_equal(usm_core_duration_ms("307445734561825m", &v), 0);
	assert_int_equal(usm_core_duration_ms("307445734561826m", &v), -ERANGE);
	assert_int_equal(usm_core_duration_ms("18446744073709551s", &v), 0);
	assert_int_equal(usm_core_duration_ms("18446744073709552s", &v), -ERANGE);

	assert_int_equal(usm_core_size_unit(0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(usm_core_size_unit(3 * MiB, &v), 'M');
	assert_int_equal(v, 3);
	assert_int_equal(usm_core_size_unit(1536 * KiB, &v), 'K');
	assert_int_equal(v, 1536);
	assert_int_equal(usm_core_size_unit(4097, &v), 0);
	assert_int_equal(v, 4097);
	assert_int_equal(usm_core_size_unit(2048 * TiB, &v), 'T');
	assert_int_equal(v, 2048);

	len = sizeof(value_nl);
	assert_int_equal(usm_core_xattr_value(value_nl, &len), 0);
	assert_int_equal(len, 3);
	len = sizeof(value_nul);
	assert_int_equal(usm_core_xattr_value(value_nul, &len), -EINVAL);
	assert_int_equal(len, sizeof(value_nul));
	len = 1;
	assert_int_equal(usm_core_xattr_value("\n", &len), -EINVAL);
	len = USM_XATTR_VALUE_MAX + 1;
	assert_int_equal(usm_core_xattr_value(
		"0123456789012345678901234567890123456789012345678901234567890123456789",
		&len), -EINVAL);
	assert_int_equal(usm_core_streq("ms", "ms"), 1);
	assert_int_equal(usm_core_streq("ms", "m"), 0);
	assert_int_equal(usm_core_streq("", ""), 1);
}

/* Compile @src alone, freestanding, with no include path but ours. */
static int compile_freestanding(const char *src)
{
	char path[] = "/tmp/usm-core.XXXXXX";
	char *argv[] = {
		(char *)"cc", (char *)"-fsyntax-only", (char *)"-ffreestanding",
		(char *)"-nostdinc", (char *)"-std=gnu11", (char *)"-Wall",
		(char *)"-Wextra", (char *)"-Wpedantic", (char *)"-Werror",
		(char *)"-I" USM_INCLUDE_DIR, (char *)"-x", (char *)"c", path,
		NULL,
	};
	posix_spawn_file_actions_t fa;
	int fd, st;
	pid_t pid;
	FILE *f;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(src, f);
	fclose(f);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* libc-free for real: it builds with no system header at all. */
static void test_core_freestanding(void **state)
{
	(void)state;
	assert_int_equal(compile_freestanding(
		"#define EINVAL 22\n#define ERANGE 34\n"
		"#include <usm/parse-core.h>\n"
		"int f(void);\n"
		"int f(void) { unsigned long long v; const char *e;\n"
		"  return usm_core_digits(\"1\", &e, &v); }\n"), 0);
	/* and the check can fail: without EINVAL it must not build */
	assert_int_not_equal(compile_freestanding(
		"#include <usm/parse-core.h>\n"), 0);
}

static void test_name_valid(void **state)
{
	static const struct { const char *s; int ok; } cases[] = {
		{ "lru", 1 }, { "s3fifo", 1 }, { "my_store-2", 1 },
		{ "a", 1 }, { "0123456789012345678901234567890", 1 },
		{ "01234567890123456789012345678901", 0 },
		{ "", 0 }, { "LRU", 0 }, { "a b", 0 }, { "a/b", 0 },
		{ "a.b", 0 }, { "é", 0 }, { "a\n", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (usm_name_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
			fail_msg("usm_name_valid(\"%s\")", cases[i].s);
	/* length is what counts, not the NUL */
	assert_int_equal(usm_name_valid("lru!", 3), 1);
	assert_int_equal(usm_name_valid("a\0b", 3), 0);
	assert_int_equal(usm_name_valid(NULL, 0), 0);
}

/* ----------------------------------------------------------------- xattrs */

static void test_xattr_lookup(void **state)
{
	(void)state;
	assert_int_equal(usm_xattr_lookup("user.usm.alloc"), USM_XATTR_ALLOC);
	assert_int_equal(usm_xattr_lookup("user.usm.evict"), USM_XATTR_EVICT);
	assert_int_equal(usm_xattr_lookup("user.usm.prio"), USM_XATTR_PRIO);
	assert_int_equal(usm_xattr_lookup("user.usm.limit"), USM_XATTR_LIMIT);
	assert_int_equal(usm_xattr_lookup("user.usm.swap"), USM_XATTR_SWAP);
	assert_int_equal(usm_xattr_lookup("user.usm.stats"), USM_XATTR_STATS);
	assert_int_equal(usm_xattr_lookup("user.usm.evic"), -EINVAL);
	assert_int_equal(usm_xattr_lookup("user.usm.evictx"), -EINVAL);
	assert_int_equal(usm_xattr_lookup("user.usm."), -EINVAL);
	assert_int_equal(usm_xattr_lookup("user.usm.EVICT"), -EINVAL);
	assert_int_equal(usm_xattr_lookup("user.usmevict"), -ENODATA);
	assert_int_equal(usm_xattr_lookup("user.comment"), -ENODATA);
	assert_int_equal(usm_xattr_lookup("trusted.usm.evict"), -ENODATA);
	assert_int_equal(usm_xattr_lookup(""), -ENODATA);
	assert_int_equal(usm_xattr_lookup(NULL), -ENODATA);

	for (int i = 0; i < USM_XATTR_NR; i++)
		assert_int_equal(usm_xattr_lookup(usm_xattr_name(i)), i);
	assert_string_equal(usm_xattr_name(USM_XATTR_EVICT), "user.usm.evict");
	assert_null(usm_xattr_name(USM_XATTR_NR));
	assert_null(usm_xattr_name((enum usm_xattr_id)-1));
}

static void test_policy_init(void **state)
{
	struct usm_file_policy p;

	(void)state;
	memset(&p, 0xa5, sizeof(p));
	usm_file_policy_init(&p);
	assert_string_equal(p.alloc, "firstfit");
	assert_string_equal(p.evict, "s3fifo");
	assert_string_equal(p.swap, "");
	assert_int_equal(p.prio, 4);
	assert_int_equal(p.limit, 0);
	assert_int_equal(p.set, 0);
}

struct pset_case {
	enum usm_xattr_id id;
	const char *v;
	size_t len;		/* 0: strlen(v) */
	int ret;
	const char *get;	/* expected usm_file_policy_get() after */
};

#define N(s) s, sizeof(s) - 1	/* explicit length, keeps embedded NULs */

static const struct pset_case pset_cases[] = {
	{ USM_XATTR_ALLOC, "firstfit", 0, 0, "firstfit" },
	{ USM_XATTR_ALLOC, "contiguous", 0, 0, "contiguous" },
	{ USM_XATTR_ALLOC, "spread\n", 0, 0, "spread" },
	{ USM_XATTR_ALLOC, N("spread\0"), 0, "spread" },
	{ USM_XATTR_ALLOC, N("spread\n\0"), 0, "spread" },
	{ USM_XATTR_ALLOC, "lru", 0, -EINVAL, NULL },
	{ USM_XATTR_ALLOC, "nosuch", 0, -EINVAL, NULL },
	{ USM_XATTR_ALLOC, "", 0, -EINVAL, NULL },
	{ USM_XATTR_ALLOC, "\n", 0, -EINVAL, NULL },
	{ USM_XATTR_EVICT, "lru", 0, 0, "lru" },
	{ USM_XATTR_EVICT, "fifo", 0, 0, "fifo" },
	{ USM_XATTR_EVICT, "clock", 0, 0, "clock" },
	{ USM_XATTR_EVICT, "sieve", 0, 0, "sieve" },
	{ USM_XATTR_EVICT, "s3fifo", 0, 0, "s3fifo" },
	{ USM_XATTR_EVICT, "pinned", 0, 0, "pinned" },
	{ USM_XATTR_EVICT, "LRU", 0, -EINVAL, NULL },
	{ USM_XATTR_EVICT, "lru\n\n", 0, -EINVAL, NULL },
	{ USM_XATTR_EVICT, "lru ", 0, -EINVAL, NULL },
	{ USM_XATTR_EVICT, " lru", 0, -EINVAL, NULL },
	{ USM_XATTR_EVICT, N("l\0ru"), -EINVAL, NULL },
	{ USM_XATTR_EVICT, N("lru\0\0"), -EINVAL, NULL },
	{ USM_XATTR_EVICT, "firstfit", 0, -EINVAL, NULL },
	{ USM_XATTR_PRIO, "0", 0, 0, "0" },
	{ USM_XATTR_PRIO, "7", 0, 0, "7" },
	{ USM_XATTR_PRIO, "6\n", 0, 0, "6" },
	{ USM_XATTR_PRIO, "03", 0, 0, "3" },
	{ USM_XATTR_PRIO, "8", 0, -EINVAL, NULL },
	{ USM_XATTR_PRIO, "-1", 0, -EINVAL, NULL },
	{ USM_XATTR_PRIO, "+1", 0, -EINVAL, NULL },
	{ USM_XATTR_PRIO, "1K", 0, -EINVAL, NULL },
	{ USM_XATTR_PRIO, "x", 0, -EINVAL, NULL },
	{ USM_XATTR_PRIO, "4294967300", 0, -EINVAL, NULL },
	{ USM_XATTR_PRIO, "99999999999999999999999", 0, -EINVAL, NULL },
	{ USM_XATTR_LIMIT, "0", 0, 0, "0" },
	{ USM_XATTR_LIMIT, "4096", 0, 0, "4K" },
	{ USM_XATTR_LIMIT, "64M", 0, 0, "64M" },
	{ USM_XATTR_LIMIT, "64m", 0, 0, "64M" },
	{ USM_XATTR_LIMIT, "1000", 0, 0, "1000" },
	{ USM_XATTR_LIMIT, "1536M", 0, 0, "1536M" },
	{ USM_XATTR_LIMIT, "1024T", 0, 0, "1024T" },	/* = hi, 1 << 50 */
	{ USM_XATTR_LIMIT, "1025T", 0, -EINVAL, NULL },
	{ USM_XATTR_LIMIT, "1125899906842625", 0, -EINVAL, NULL },
	{ USM_XATTR_LIMIT, "64MB", 0, -EINVAL, NULL },
	{ USM_XATTR_LIMIT, "1.5G", 0, -EINVAL, NULL },
	{ USM_XATTR_LIMIT, "50%", 0, -EINVAL, NULL },
	{ USM_XATTR_LIMIT, "-1", 0, -EINVAL, NULL },
	{ USM_XATTR_SWAP, "none", 0, 0, "none" },
	{ USM_XATTR_SWAP, "fast", 0, 0, "fast" },
	{ USM_XATTR_SWAP, "ssd_2-b", 0, 0, "ssd_2-b" },
	{ USM_XATTR_SWAP, "0123456789012345678901234567890", 0, 0,
	  "0123456789012345678901234567890" },
	{ USM_XATTR_SWAP, "01234567890123456789012345678901", 0, -EINVAL, NULL },
	{ USM_XATTR_SWAP, "file:/tmp/x", 0, -EINVAL, NULL },
	{ USM_XATTR_SWAP, "Fast", 0, -EINVAL, NULL },
	{ USM_XATTR_STATS, "resident=0", 0, -EPERM, NULL },
	{ USM_XATTR_STATS, "", 0, -EPERM, NULL },
};

static void test_policy_set_table(void **state)
{
	char buf[USM_XATTR_VALUE_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(pset_cases); i++) {
		const struct pset_case *c = &pset_cases[i];
		struct usm_file_policy p, before;
		size_t len = c->len ? c->len : strlen(c->v);
		int ret;

		usm_file_policy_init(&p);
		/* a value already set must survive a failed set */
		assert_int_equal(usm_file_policy_set(&p, USM_XATTR_PRIO, "2", 1), 0);
		memcpy(&before, &p, sizeof(before));
		ret = usm_file_policy_set(&p, c->id, c->v, len);
		if (ret != c->ret)
			fail_msg("case %zu: set %s=\"%s\" -> %d, want %d", i,
				 usm_xattr_name(c->id), c->v, ret, c->ret);
		if (ret) {
			assert_memory_equal(&p, &before, sizeof(p));
			continue;
		}
		assert_true(p.set & (1u << c->id));
		ret = usm_file_policy_get(&p, c->id, buf, sizeof(buf));
		assert_int_equal(ret, strlen(c->get));
		assert_string_equal(buf, c->get);
		/* what get prints, set accepts, to the same value */
		memcpy(&before, &p, sizeof(before));
		assert_int_equal(usm_file_policy_set(&p, c->id, buf, (size_t)ret), 0);
		assert_memory_equal(&p, &before, sizeof(p));
	}
}

static void test_policy_set_misc(void **state)
{
	struct usm_file_policy p, before;
	char big[200], buf[8];

	(void)state;
	usm_file_policy_init(&p);
	memcpy(&before, &p, sizeof(before));
	memset(big, '1', sizeof(big));
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_LIMIT, big, sizeof(big)), -EINVAL);
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_NR, "1", 1), -EINVAL);
	assert_int_equal(usm_file_policy_set(&p, (enum usm_xattr_id)-1, "1", 1), -EINVAL);
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_PRIO, NULL, 0), -EINVAL);
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_PRIO, NULL, 5), -EINVAL);
	/* @len is honoured: "lrux" cut at 3 */
	assert_memory_equal(&p, &before, sizeof(p));
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_EVICT, "lrux", 3), 0);
	assert_string_equal(p.evict, "lru");
	assert_int_equal(p.set, 1u << USM_XATTR_EVICT);

	/* get: length even when the buffer is short; stats is the ctx's */
	assert_int_equal(usm_file_policy_get(&p, USM_XATTR_ALLOC, buf, 4), 8);
	assert_int_equal(usm_file_policy_get(&p, USM_XATTR_ALLOC, NULL, 0), 8);
	assert_int_equal(usm_file_policy_get(&p, USM_XATTR_STATS, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(usm_file_policy_get(&p, USM_XATTR_NR, buf, sizeof(buf)), -EINVAL);
}

static void test_policy_unset_inherit(void **state)
{
	struct usm_file_policy p, dflt, child, before;

	(void)state;
	usm_file_policy_init(&dflt);
	assert_int_equal(usm_file_policy_set(&dflt, USM_XATTR_EVICT, "fifo", 4), 0);
	dflt.set = 0;

	usm_file_policy_init(&p);
	assert_int_equal(usm_file_policy_unset(&p, USM_XATTR_EVICT, &dflt), -ENODATA);
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_EVICT, "lru", 3), 0);
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_PRIO, "7", 1), 0);
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_LIMIT, "1M", 2), 0);
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_SWAP, "fast", 4), 0);
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_ALLOC, "spread", 6), 0);

	/* inherit copies exactly the set attributes */
	usm_file_policy_init(&child);
	assert_int_equal(usm_file_policy_set(&child, USM_XATTR_ALLOC, "contiguous", 10), 0);
	p.set &= ~(1u << USM_XATTR_ALLOC);
	usm_file_policy_inherit(&child, &p);
	assert_string_equal(child.alloc, "contiguous");
	assert_string_equal(child.evict, "lru");
	assert_int_equal(child.prio, 7);
	assert_int_equal(child.limit, MiB);
	assert_string_equal(child.swap, "fast");
	assert_int_equal(child.set, (1u << USM_XATTR_ALLOC) | (1u << USM_XATTR_EVICT) |
			 (1u << USM_XATTR_PRIO) | (1u << USM_XATTR_LIMIT) |
			 (1u << USM_XATTR_SWAP));

	/* unset goes back to the default's value and clears the bit */
	assert_int_equal(usm_file_policy_unset(&child, USM_XATTR_EVICT, &dflt), 0);
	assert_string_equal(child.evict, "fifo");
	assert_int_equal(usm_file_policy_unset(&child, USM_XATTR_PRIO, NULL), 0);
	assert_int_equal(child.prio, 4);
	assert_int_equal(usm_file_policy_unset(&child, USM_XATTR_LIMIT, &dflt), 0);
	assert_int_equal(child.limit, 0);
	assert_int_equal(usm_file_policy_unset(&child, USM_XATTR_SWAP, &dflt), 0);
	assert_string_equal(child.swap, "");
	assert_int_equal(child.set, 1u << USM_XATTR_ALLOC);
	memcpy(&before, &child, sizeof(before));
	assert_int_equal(usm_file_policy_unset(&child, USM_XATTR_EVICT, &dflt), -ENODATA);
	assert_int_equal(usm_file_policy_unset(&child, USM_XATTR_STATS, &dflt), -EPERM);
	assert_int_equal(usm_file_policy_unset(&child, USM_XATTR_NR, &dflt), -EINVAL);
	assert_memory_equal(&child, &before, sizeof(child));
}

/* ---------------------------------------------------------- mount options */

struct mopt_case {
	const char *key, *val;
	int ret;
	const char *show;	/* usm_mount_opts_show() after, on success */
};

static const struct mopt_case mopt_cases[] = {
	{ "size", "1G", 0, "size=1G" },
	{ "size", "1536M", 0, "size=1536M" },
	{ "size", "4096", 0, "size=4K" },
	{ "size", "1000", 0, "size=1000" },
	{ "size", "1GiB", 0, "size=1G" },
	{ "size", "50%", 0, "size=50%" },
	{ "size", "100%", 0, "size=100%" },
	{ "size", "0", 0, "" },
	{ "size", "0%", -EINVAL, NULL },
	{ "size", "101%", -EINVAL, NULL },
	{ "size", "12Q", -EINVAL, NULL },
	{ "size", "", -EINVAL, NULL },
	{ "size", "-1", -EINVAL, NULL },
	{ "size", "1.5G", -EINVAL, NULL },
	{ "size", " 1M", -EINVAL, NULL },
	{ "size", "99999999999T", -EINVAL, NULL },
	{ "size", NULL, -EINVAL, NULL },
	{ "nr_inodes", "1000", 0, "nr_inodes=1000" },
	{ "nr_inodes", "1k", 0, "nr_inodes=1K" },
	{ "nr_inodes", "2M", 0, "nr_inodes=2M" },
	{ "nr_inodes", "1G", 0, "nr_inodes=1G" },
	{ "nr_inodes", "1KB", -EINVAL, NULL },
	{ "nr_inodes", "5%", -EINVAL, NULL },
	{ "nr_inodes", "x", -EINVAL, NULL },
	{ "mode", "755", 0, "mode=0755" },
	{ "mode", "0700", 0, "mode=0700" },
	{ "mode", "1777", 0, "" },
	{ "mode", "7777", 0, "mode=7777" },
	{ "mode", "0", 0, "mode=0000" },
	{ "mode", "10000", -EINVAL, NULL },
	{ "mode", "0000000010000", -EINVAL, NULL },
	{ "mode", "778", -EINVAL, NULL },
	{ "mode", "0x1ff", -EINVAL, NULL },
	{ "mode", "", -EINVAL, NULL },
	{ "mode", "-755", -EINVAL, NULL },
	{ "uid", "1000", 0, "uid=1000" },
	{ "uid", "0", 0, "" },
	{ "uid", "4294967294", 0, "uid=4294967294" },
	{ "uid", "4294967295", -EINVAL, NULL },
	{ "uid", "-1", -EINVAL, NULL },
	{ "uid", "root", -EINVAL, NULL },
	{ "uid", "", -EINVAL, NULL },
	{ "gid", "100", 0, "gid=100" },
	{ "gid", "1e3", -EINVAL, NULL },
	{ "alloc", "contiguous", 0, "alloc=contiguous" },
	{ "alloc", "firstfit", 0, "" },
	{ "alloc", "lru", -EINVAL, NULL },
	{ "alloc", "", -EINVAL, NULL },
	{ "evict", "lru", 0, "evict=lru" },
	{ "evict", "pinned", 0, "evict=pinned" },
	{ "evict", "nosuch", -EINVAL, NULL },
	{ "evict", "Lru", -EINVAL, NULL },
	{ "swap", "none", 0, "" },
	{ "swap", "file:/var/lib/usmfs/a.swap", 0, "swap=file:/var/lib/usmfs/a.swap" },
	{ "swap", "fast", 0, "swap=fast" },
	{ "swap", "rados:usm/ns:user=usm", 0, "swap=rados:usm/ns:user=usm" },
	{ "swap", "rados:", -EINVAL, NULL },
	{ "swap", "rados::user=usm", -EINVAL, NULL },
	{ "swap", "file:relative/path", -EINVAL, NULL },
	{ "swap", "file:", -EINVAL, NULL },
	{ "swap", "/abs/path", -EINVAL, NULL },
	{ "swap", "Fast", -EINVAL, NULL },
	{ "swap", "", -EINVAL, NULL },
	{ "swapin_timeout", "10s", 0, "swapin_timeout=10s" },
	{ "swapin_timeout", "30", 0, "" },
	{ "swapin_timeout", "1500ms", 0, "swapin_timeout=1500ms" },
	{ "swapin_timeout", "2m", 0, "swapin_timeout=120s" },
	{ "swapin_timeout", "0", 0, "swapin_timeout=0ms" },
	{ "swapin_timeout", "1.5s", -EINVAL, NULL },
	/* more than the module can wait (msecs_to_jiffies takes 32 bits) */
	{ "swapin_timeout", "4294967295ms", 0, "swapin_timeout=4294967295ms" },
	{ "swapin_timeout", "4294967296ms", -EINVAL, NULL },
	{ "swapin_timeout", "1194h", -EINVAL, NULL },
	{ "swapin_timeout", "18446744073709551615ms", -EINVAL, NULL },
	{ "swapin_timeout", "forever", -EINVAL, NULL },
	{ "config", "/etc/usmfs/other.conf", 0, "config=/etc/usmfs/other.conf" },
	{ "config", "", -EINVAL, NULL },
	{ "ro", NULL, -ENOENT, NULL },
	{ "allow_other", NULL, -ENOENT, NULL },
	{ "Size", "1G", -ENOENT, NULL },
	{ "sizes", "1G", -ENOENT, NULL },
};

static void test_mount_opt_set_table(void **state)
{
	char err[256], show[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(mopt_cases); i++) {
		const struct mopt_case *c = &mopt_cases[i];
		struct usm_mount_opts mo, before;
		int ret;

		usm_mount_opts_init(&mo);
		/* something already set must survive a failure */
		assert_int_equal(usm_mount_opt_set(&mo, "gid", "5", err, sizeof(err)), 0);
		memcpy(&before, &mo, sizeof(before));
		err[0] = '\0';
		ret = usm_mount_opt_set(&mo, c->key, c->val, err, sizeof(err));
		if (ret != c->ret)
			fail_msg("case %zu: %s=%s -> %d, want %d (%s)", i, c->key,
				 c->val ? c->val : "(null)", ret, c->ret, err);
		if (ret) {
			assert_memory_equal(&mo, &before, sizeof(mo));
			/* the message names the option and the value */
			assert_non_null(strstr(err, c->key));
			if (c->val && ret == -EINVAL) {
				char q[300];

				snprintf(q, sizeof(q), "bad value for '%s': '%s' (expected ",
					 c->key, c->val);
				assert_non_null(strstr(err, q));
			}
			continue;
		}
		if (strcmp(c->key, "gid"))
			mo.gid = 0;	/* show only what this case set */
		usm_mount_opts_show(&mo, show, sizeof(show));
		if (strcmp(show, c->show))
			fail_msg("case %zu: %s=%s shows \"%s\", want \"%s\"", i,
				 c->key, c->val, show, c->show);
		assert_true(mo.seen & (1u << USM_MOPT_GID));
	}
}

static void test_mount_opts_message(void **state)
{
	struct usm_mount_opts mo;
	char err[200];

	(void)state;
	usm_mount_opts_init(&mo);
	assert_int_equal(usm_mount_opt_set(&mo, "size", "12Q", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bad value for 'size': '12Q' (expected bytes with K/M/G/T or N%)");
	/* a short or absent buffer is fine */
	assert_int_equal(usm_mount_opt_set(&mo, "size", "12Q", err, 5), -EINVAL);
	assert_string_equal(err, "bad ");
	assert_int_equal(usm_mount_opt_set(&mo, "size", "12Q", NULL, 0), -EINVAL);
}

static void test_mount_opts_defaults(void **state)
{
	struct usm_mount_opts mo;
	char buf[64];

	(void)state;
	memset(&mo, 0x5a, sizeof(mo));
	usm_mount_opts_init(&mo);
	assert_int_equal(mo.size, 0);
	assert_int_equal(mo.size_pct, 0);
	assert_int_equal(mo.nr_inodes, 0);
	assert_int_equal(mo.mode, 01777);
	assert_int_equal(mo.uid, 0);
	assert_int_equal(mo.gid, 0);
	assert_string_equal(mo.alloc, "firstfit");
	assert_string_equal(mo.evict, "s3fifo");
	assert_string_equal(mo.swap, "none");
	assert_int_equal(mo.swapin_timeout_ms, 30000);
	assert_string_equal(mo.config, "");
	assert_int_equal(mo.seen, 0);
	assert_int_equal(usm_mount_opts_show(&mo, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_mount_opts_parse(void **state)
{
	struct usm_mount_opts mo, before;
	char rest[64], err[256], show[512];
	int ret;

	(void)state;
	usm_mount_opts_init(&mo);
	rest[0] = '\0';
	ret = usm_mount_opts_parse(&mo,
		"ro,size=256M,evict=lru,allow_other,mode=700,uid=1000,gid=1000,"
		"alloc=contiguous,nr_inodes=10k,swap=file:/var/tmp/u.swap,"
		"swapin_timeout=5s,config=/etc/x.conf,default_permissions,fsname=usm",
		rest, sizeof(rest), err, sizeof(err));
	assert_int_equal(ret, 0);
	assert_string_equal(rest, "ro,allow_other,default_permissions,fsname=usm");
	assert_int_equal(mo.size, 256 * MiB);
	assert_int_equal(mo.seen, (1u << USM_MOPT_NR) - 1);
	ret = usm_mount_opts_show(&mo, show, sizeof(show));
	assert_int_equal(ret, strlen(show));
	assert_string_equal(show,
		"size=256M,nr_inodes=10K,mode=0700,uid=1000,gid=1000,alloc=contiguous,"
		"evict=lru,swap=file:/var/tmp/u.swap,swapin_timeout=5s,config=/etc/x.conf");

	/* show output parses back to the same options */
	{
		struct usm_mount_opts again;

		usm_mount_opts_init(&again);
		assert_int_equal(usm_mount_opts_parse(&again, show, NULL, 0, err, sizeof(err)), 0);
		again.seen = mo.seen;
		assert_memory_equal(&again, &mo, sizeof(mo));
	}

	/* show truncates but returns the full length */
	ret = usm_mount_opts_show(&mo, show, 10);
	assert_true(ret > 10);
	assert_int_equal(strlen(show), 9);
	assert_int_equal(usm_mount_opts_show(&mo, NULL, 0), ret);

	/* appends to what @rest holds; a bad option leaves everything as is */
	memcpy(&before, &mo, sizeof(before));
	strcpy(rest, "rw");
	ret = usm_mount_opts_parse(&mo, "size=1G,allow_other,evict=nosuch", rest,
				   sizeof(rest), err, sizeof(err));
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(err, "bad value for 'evict': 'nosuch' (expected a registered eviction policy)");
	assert_memory_equal(&mo, &before, sizeof(mo));
	assert_string_equal(rest, "rw");
	ret = usm_mount_opts_parse(&mo, "size=1G,,allow_other", rest, sizeof(rest),
				   err, sizeof(err));
	assert_int_equal(ret, 0);
	assert_string_equal(rest, "rw,allow_other");
	assert_int_equal(mo.size, GiB);

	/* no @rest: unknown options are errors */
	memcpy(&before, &mo, sizeof(before));
	ret = usm_mount_opts_parse(&mo, "size=2G,bogus=1", NULL, 0, err, sizeof(err));
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(err, "bogus"));
	assert_memory_equal(&mo, &before, sizeof(mo));

	/* @rest too small */
	ret = usm_mount_opts_parse(&mo, "size=2G,allow_other,default_permissions",
				   rest, 12, err, sizeof(err));
	assert_int_equal(ret, -E2BIG);
	assert_memory_equal(&mo, &before, sizeof(mo));
	assert_string_equal(rest, "rw,allow_other");

	/* bare usmfs key */
	ret = usm_mount_opts_parse(&mo, "size", NULL, 0, err, sizeof(err));
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(err, "'size'"));

	/* empty and NULL option strings change nothing */
	assert_int_equal(usm_mount_opts_parse(&mo, "", NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(usm_mount_opts_parse(&mo, NULL, NULL, 0, err, sizeof(err)), 0);
	assert_memory_equal(&mo, &before, sizeof(mo));

	/* last one wins */
	assert_int_equal(usm_mount_opts_parse(&mo, "size=1G,size=50%", NULL, 0, err,
					      sizeof(err)), 0);
	assert_int_equal(mo.size_pct, 50);
	assert_int_equal(mo.size, 0);
}

static void test_mount_opts_resolve(void **state)
{
	struct usm_mount_opts mo;

	(void)state;
	usm_mount_opts_init(&mo);
	usm_mount_opts_resolve(&mo, GiB);
	assert_int_equal(mo.size, 0);
	assert_int_equal(usm_mount_opt_set(&mo, "size", "50%", NULL, 0), 0);
	usm_mount_opts_resolve(&mo, GiB);
	assert_int_equal(mo.size, GiB / 2);
	/* rounded down to whole pages */
	assert_int_equal(usm_mount_opt_set(&mo, "size", "33%", NULL, 0), 0);
	usm_mount_opts_resolve(&mo, 100 * 4096);
	assert_int_equal(mo.size, 33 * 4096);
	usm_mount_opts_resolve(&mo, UINT64_MAX);
	assert_int_equal(mo.size % 4096, 0);
	assert_true(mo.size > UINT64_MAX / 4);
}

/* Random option strings: on error nothing changes; on success what show()
 * prints parses back to the same options. */
static void test_mount_opts_fuzz(void **state)
{
	static const char *const atoms[] = {
		"size=", "nr_inodes=", "mode=", "uid=", "gid=", "alloc=", "evict=",
		"swap=", "swapin_timeout=", "config=", "ro", "allow_other", ",", ",",
		",", "=", "1", "0", "7", "777", "64", "K", "M", "G", "%", "50",
		"lru", "fifo", "contiguous", "none", "file:/x", "file:", "fast", "s",
		"ms", "/etc/c", "-", " ", "Q",
	};
	unsigned int seed = 7;
	char opts[300], rest[400], err[300], shown[800];
	int i;

	(void)state;
	for (i = 0; i < 30000; i++) {
		struct usm_mount_opts mo, before, again;
		size_t len = 0;
		int n, ret;

		seed = seed * 1103515245u + 12345u;
		n = (int)((seed >> 16) % 12);
		while (n-- > 0) {
			const char *a;

			seed = seed * 1103515245u + 12345u;
			a = atoms[(seed >> 16) % (sizeof(atoms) / sizeof(atoms[0]))];
			memcpy(opts + len, a, strlen(a));
			len += strlen(a);
		}
		opts[len] = '\0';
		usm_mount_opts_init(&mo);
		assert_int_equal(usm_mount_opt_set(&mo, "uid", "3", NULL, 0), 0);
		memcpy(&before, &mo, sizeof(mo));
		rest[0] = '\0';
		ret = usm_mount_opts_parse(&mo, opts, (seed & 1) ? rest : NULL,
					   sizeof(rest), err, sizeof(err));
		if (ret) {
			assert_int_equal(ret, -EINVAL);
			assert_memory_equal(&mo, &before, sizeof(mo));
			assert_true(strlen(err) > 0);
			continue;
		}
		usm_mount_opts_show(&mo, shown, sizeof(shown));
		usm_mount_opts_init(&again);
		if (usm_mount_opts_parse(&again, shown, NULL, 0, err, sizeof(err)))
			fail_msg("\"%s\" -> show \"%s\" does not parse: %s", opts,
				 shown, err);
		again.seen = mo.seen;
		if (memcmp(&again, &mo, sizeof(mo)))
			fail_msg("\"%s\" -> show \"%s\" parses differently", opts,
				 shown);
	}
}

static int group_setup(void **state)
{
	(void)state;
	return ensure_builtin_allocs();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_core),
		cmocka_unit_test(test_core_freestanding),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_xattr_lookup),
		cmocka_unit_test(test_policy_init),
		cmocka_unit_test(test_policy_set_table),
		cmocka_unit_test(test_policy_set_misc),
		cmocka_unit_test(test_policy_unset_inherit),
		cmocka_unit_test(test_mount_opt_set_table),
		cmocka_unit_test(test_mount_opts_message),
		cmocka_unit_test(test_mount_opts_defaults),
		cmocka_unit_test(test_mount_opts_parse),
		cmocka_unit_test(test_mount_opts_resolve),
		cmocka_unit_test(test_mount_opts_fuzz),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
