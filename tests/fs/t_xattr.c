// SPDX-License-Identifier: GPL-2.0-only
/* t_xattr.c - user.* xattrs and the user.usm.* policy attributes. */
#include <sys/xattr.h>

#include "fstest.h"

/* getxattr as a NUL-terminated string; -1 with errno on error. */
static ssize_t getx(const char *path, const char *name, char *buf, size_t len)
{
	ssize_t n = getxattr(path, name, buf, len - 1);

	if (n >= 0) {
		buf[n] = 0;
		/* tolerate a trailing newline or NUL in values */
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == 0))
			buf[--n] = 0;
	}
	return n;
}

static void expect_value(const char *path, const char *name, const char *want)
{
	char buf[256];
	ssize_t n = getx(path, name, buf, sizeof(buf));

	CHECK(n >= 0, "getxattr(%s): %s", name, errname(errno));
	CHECK(!strcmp(buf, want), "%s = '%s', want '%s'", name, buf, want);
}

static int set(const char *path, const char *name, const char *val, int flags)
{
	return setxattr(path, name, val, strlen(val), flags);
}

/* 1 if listxattr of @path contains @name. */
static int listed(const char *path, const char *name)
{
	char buf[8192];
	ssize_t n = llistxattr(path, buf, sizeof(buf));

	CHECK(n >= 0, "listxattr: %s", errname(errno));
	for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (!strcmp(buf + i, name))
			return 1;
	return 0;
}

DECLARE_CASE(xattr_user)
{
	const char *f = P("%s/f", dir);
	char buf[256], big[4000];
	ssize_t n;

	put_file(f, "x", 1, 0644);
	if (set(f, "user.probe", "1", 0) < 0 && errno == EOPNOTSUPP)
		skip("user.* xattrs not supported on this %s", frontend());
	SYS(removexattr(f, "user.probe"));
	ERR(getxattr(f, "user.test", buf, sizeof(buf)), ENODATA);
	SYS(set(f, "user.test", "value one", 0));
	expect_value(f, "user.test", "value one");
	/* size query */
	n = SYS(getxattr(f, "user.test", NULL, 0));
	CHECK(n == 9, "size query gave %zd, want 9", n);
	/* ERANGE for a small buffer */
	ERR(getxattr(f, "user.test", buf, 3), ERANGE);
	/* XATTR_CREATE / XATTR_REPLACE */
	ERR(set(f, "user.test", "again", XATTR_CREATE), EEXIST);
	expect_value(f, "user.test", "value one");
	ERR(set(f, "user.absent", "v", XATTR_REPLACE), ENODATA);
	SYS(set(f, "user.test", "two", XATTR_REPLACE));
	expect_value(f, "user.test", "two");
	SYS(set(f, "user.new", "n", XATTR_CREATE));
	/* binary values with NULs, empty values */
	{
		const char bin[] = { 0, 1, 2, 0, (char)0xff };

		SYS(setxattr(f, "user.bin", bin, sizeof(bin), 0));
		n = SYS(getxattr(f, "user.bin", buf, sizeof(buf)));
		CHECK(n == sizeof(bin) && !memcmp(buf, bin, n), "binary value changed");
		SYS(setxattr(f, "user.empty", "", 0, 0));
		n = SYS(getxattr(f, "user.empty", buf, sizeof(buf)));
		CHECK(n == 0, "empty value has length %zd", n);
	}
	/* a big value */
	memset(big, 'v', sizeof(big));
	SYS(setxattr(f, "user.big", big, sizeof(big), 0));
	{
		char *back = xmalloc(sizeof(big));

		n = SYS(getxattr(f, "user.big", back, sizeof(big)));
		CHECK(n == sizeof(big) && !memcmp(back, big, n), "big value changed");
		free(back);
	}
	/* listxattr */
	CHECK(listed(f, "user.test") && listed(f, "user.new") && listed(f, "user.bin"),
	      "listxattr misses names");
	n = SYS(listxattr(f, NULL, 0));
	CHECK(n > 0, "listxattr size query gave %zd", n);
	ERR(listxattr(f, buf, 2), ERANGE);
	/* remove */
	SYS(removexattr(f, "user.test"));
	ERR(getxattr(f, "user.test", buf, sizeof(buf)), ENODATA);
	ERR(removexattr(f, "user.test"), ENODATA);
	CHECK(!listed(f, "user.test"), "removed name still listed");
	/* on directories, via fd */
	SYS(set(dir, "user.dirattr", "d", 0));
	expect_value(dir, "user.dirattr", "d");
	{
		int fd = SYS(open(f, O_RDONLY));

		SYS(fsetxattr(fd, "user.viafd", "fd", 2, 0));
		n = SYS(fgetxattr(fd, "user.viafd", buf, sizeof(buf)));
		CHECK(n == 2 && !memcmp(buf, "fd", 2), "fgetxattr");
		SYS(close(fd));
	}
	/* trusted.* and security.* are stored too (root) */
	if (geteuid() == 0) {
		SYS(set(f, "trusted.test", "t", 0));
		expect_value(f, "trusted.test", "t");
		SYS(removexattr(f, "trusted.test"));
		ERR(getxattr(f, "trusted.test", buf, sizeof(buf)), ENODATA);
		SYS(set(f, "security.test", "s", 0));
		expect_value(f, "security.test", "s");
		SYS(removexattr(f, "security.test"));
	}
	/* bogus namespace */
	ERR(set(f, "bogus.name", "v", 0), EOPNOTSUPP);
	/* xattrs survive rename and follow hard links */
	SYS(rename(f, P("%s/g", dir)));
	SYS(link(P("%s/g", dir), P("%s/h", dir)));
	expect_value(P("%s/h", dir), "user.new", "n");
	return 0;
}

static const char *const evicts[] = { "fifo", "lru", "clock", "sieve", "s3fifo", "pinned" };
static const char *const allocs[] = { "firstfit", "contiguous", "spread" };

static uint64_t value_bytes(const char *path, const char *name)
{
	char buf[128];
	uint64_t v;
	int ok;

	CHECK(getx(path, name, buf, sizeof(buf)) >= 0, "getxattr(%s): %s", name,
	      errname(errno));
	v = parse_bytes(buf, &ok);
	CHECK(ok, "%s: unparseable value '%s'", name, buf);
	return v;
}

DECLARE_CASE(usm_xattr_set)
{
	const char *f = P("%s/f", dir);

	put_file(f, "x", 1, 0644);
	need_usm(f);
	for (size_t i = 0; i < sizeof(evicts) / sizeof(evicts[0]); i++) {
		SYS(set(f, "user.usm.evict", evicts[i], 0));
		expect_value(f, "user.usm.evict", evicts[i]);
	}
	for (size_t i = 0; i < sizeof(allocs) / sizeof(allocs[0]); i++) {
		SYS(set(f, "user.usm.alloc", allocs[i], 0));
		expect_value(f, "user.usm.alloc", allocs[i]);
	}
	for (int p = 0; p <= 7; p++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", p);
		SYS(set(f, "user.usm.prio", v, 0));
		expect_value(f, "user.usm.prio", v);
	}
	SYS(set(f, "user.usm.limit", "1048576", 0));
	CHECK(value_bytes(f, "user.usm.limit") == 1048576, "limit 1048576 read back wrong");
	SYS(set(f, "user.usm.limit", "4M", 0));
	CHECK(value_bytes(f, "user.usm.limit") == 4 << 20, "limit 4M read back wrong");
	SYS(set(f, "user.usm.limit", "0", 0));
	CHECK(value_bytes(f, "user.usm.limit") == 0, "limit 0 read back wrong");
	SYS(set(f, "user.usm.swap", "none", 0));
	expect_value(f, "user.usm.swap", "none");
	if (getenv("USMFS_SWAP") && !strcmp(getenv("USMFS_SWAP"), "file")) {
		SYS(set(f, "user.usm.swap", "default", 0));
		expect_value(f, "user.usm.swap", "default");
	}
	/* a trailing newline (echo -n forgotten) is tolerated */
	SYS(set(f, "user.usm.evict", "lru\n", 0));
	expect_value(f, "user.usm.evict", "lru");
	/* set names are listed, and removable */
	CHECK(listed(f, "user.usm.evict") && listed(f, "user.usm.prio"),
	      "listxattr misses user.usm.* names that were set");
	SYS(removexattr(f, "user.usm.prio"));
	CHECK(!listed(f, "user.usm.prio"), "removed user.usm.prio still listed");
	/* the same on a directory */
	SYS(set(dir, "user.usm.evict", "fifo", 0));
	expect_value(dir, "user.usm.evict", "fifo");
	/* a policy change on a file with resident pages */
	{
		int fd = SYS(open(f, O_RDWR));
		char *buf = xmalloc(1 << 20);

		pattern_fill(buf, 1 << 20, 3, 0);
		pwrite_full(fd, buf, 1 << 20, 0);
		SYS(fsync(fd));
		SYS(set(f, "user.usm.evict", "clock", 0));
		SYS(set(f, "user.usm.alloc", "contiguous", 0));
		memset(buf, 0, 1 << 20);
		pread_full(fd, buf, 1 << 20, 0);
		CHECK(pattern_check(buf, 1 << 20, 3, 0) < 0, "data changed by a policy change");
		free(buf);
		SYS(close(fd));
	}
	return 0;
}

DECLARE_CASE(usm_xattr_invalid)
{
	static const struct { const char *name, *val; } bad[] = {
		{ "user.usm.evict", "bogus" }, { "user.usm.evict", "" },
		{ "user.usm.evict", "LRU" }, { "user.usm.evict", "lru x" },
		{ "user.usm.alloc", "nosuch" }, { "user.usm.alloc", "../x" },
		{ "user.usm.prio", "8" }, { "user.usm.prio", "-1" },
		{ "user.usm.prio", "abc" }, { "user.usm.prio", "" },
		{ "user.usm.prio", "99999999999999999999" },
		{ "user.usm.limit", "12Q" }, { "user.usm.limit", "-5" },
		{ "user.usm.limit", "99999999999999999999" }, { "user.usm.limit", "1P" },
		{ "user.usm.limit", "2048T" }, { "user.usm.limit", "1.5M" },
		{ "user.usm.swap", "BAD!" }, { "user.usm.swap", "" },
		{ "user.usm.swap", "no-such-store" },
		{ "user.usm.nosuch", "1" }, { "user.usm.", "1" },
		{ "user.usm.evictx", "lru" },
	};
	const char *f = P("%s/f", dir);
	char longv[200];

	put_file(f, "x", 1, 0644);
	need_usm(f);
	SYS(set(f, "user.usm.evict", "lru", 0));
	SYS(set(f, "user.usm.prio", "3", 0));
	SYS(set(f, "user.usm.limit", "8M", 0));
	SYS(set(f, "user.usm.alloc", "spread", 0));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECK(set(f, bad[i].name, bad[i].val, 0) == -1 && errno == EINVAL,
		      "setxattr %s='%s' gave %s, want EINVAL", bad[i].name, bad[i].val,
		      errno ? errname(errno) : "success");
	}
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	ERR(set(f, "user.usm.evict", longv, 0), EINVAL);
	/* nothing was half-applied */
	expect_value(f, "user.usm.evict", "lru");
	expect_value(f, "user.usm.prio", "3");
	expect_value(f, "user.usm.alloc", "spread");
	CHECK(value_bytes(f, "user.usm.limit") == 8 << 20, "limit changed by bad values");
	/* unknown user.usm.* names are refused on read too, never stored */
	CHECK(!listed(f, "user.usm.nosuch"), "user.usm.nosuch was stored");
	{
		char buf[64];

		errno = 0;
		CHECK(getxattr(f, "user.usm.nosuch", buf, sizeof(buf)) == -1 &&
		      (errno == EINVAL || errno == ENODATA),
		      "getxattr user.usm.nosuch: %s", errname(errno));
	}
	return 0;
}

static int stats_field(const char *s, const char *key, unsigned long long *v)
{
	const char *p = s;
	size_t k = strlen(key);

	while ((p = strstr(p, key))) {
		if ((p == s || p[-1] == ' ') && p[k] == '=') {
			char *end;

			errno = 0;
			*v = strtoull(p + k + 1, &end, 10);
			return !errno && end != p + k + 1 && (*end == ' ' || !*end);
		}
		p += k;
	}
	return 0;
}

DECLARE_CASE(usm_stats)
{
	static const char *const keys[] = { "resident", "swapped", "faults",
					    "evictions", "swapins" };
	const char *f = P("%s/f", dir);
	char buf[1024];
	unsigned long long v;
	ssize_t n;
	int fd;

	put_file(f, "", 0, 0644);
	need_usm(f);
	n = SYS(getx(f, "user.usm.stats", buf, sizeof(buf)));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CHECK(stats_field(buf, keys[i], &v), "stats '%s' has no numeric %s", buf,
		      keys[i]);
	stats_field(buf, "resident", &v);
	CHECK(v == 0, "empty file: resident=%llu", v);
	/* read-only */
	errno = 0;
	CHECK(set(f, "user.usm.stats", "resident=0", 0) == -1 &&
	      (errno == EPERM || errno == EINVAL || errno == EACCES),
	      "setxattr user.usm.stats: %s", errno ? errname(errno) : "succeeded");
	errno = 0;
	CHECK(removexattr(f, "user.usm.stats") == -1, "removexattr user.usm.stats succeeded");
	/* resident grows with data (after fsync the frontend has it) */
	fd = SYS(open(f, O_RDWR));
	{
		char *data = xmalloc(1 << 20);

		pattern_fill(data, 1 << 20, 1, 0);
		pwrite_full(fd, data, 1 << 20, 0);
		free(data);
	}
	SYS(fsync(fd));
	v = usm_stat(f, "resident");
	CHECK(v > 0 && v <= (2 << 20), "after 1 MiB written: resident=%llu", v);
	CHECK(usm_stat(f, "swapped") + v >= (1 << 20),
	      "resident+swapped %llu < 1 MiB written", usm_stat(f, "swapped") + v);
	/* and drops with truncate */
	SYS(ftruncate(fd, 0));
	SYS(fsync(fd));
	CHECK(usm_stat(f, "resident") == 0 && usm_stat(f, "swapped") == 0,
	      "after truncate to 0: resident=%llu swapped=%llu",
	      (unsigned long long)usm_stat(f, "resident"),
	      (unsigned long long)usm_stat(f, "swapped"));
	SYS(close(fd));
	/* ERANGE for a small buffer on the computed value too */
	ERR(getxattr(f, "user.usm.stats", buf, 2), ERANGE);
	(void)n;
	return 0;
}

DECLARE_CASE(usm_inherit)
{
	const char *d = P("%s/d", dir), *before = P("%s/d/before", dir);
	char buf[128];

	SYS(mkdir(d, 0755));
	put_file(P("%s/probe", dir), "", 0, 0644);
	need_usm(P("%s/probe", dir));
	put_file(before, "b", 1, 0644);
	SYS(set(d, "user.usm.evict", "lru", 0));
	SYS(set(d, "user.usm.prio", "2", 0));
	SYS(set(d, "user.usm.alloc", "contiguous", 0));
	SYS(set(d, "user.usm.limit", "2M", 0));
	put_file(P("%s/d/after", dir), "a", 1, 0644);
	expect_value(P("%s/d/after", dir), "user.usm.evict", "lru");
	expect_value(P("%s/d/after", dir), "user.usm.prio", "2");
	expect_value(P("%s/d/after", dir), "user.usm.alloc", "contiguous");
	CHECK(value_bytes(P("%s/d/after", dir), "user.usm.limit") == 2 << 20,
	      "limit not inherited");
	/* inherited, so it is set on the child (listxattr shows it) */
	CHECK(listed(P("%s/d/after", dir), "user.usm.evict"), "inherited evict not listed");
	/* a file that existed before is unchanged */
	errno = 0;
	if (getx(before, "user.usm.evict", buf, sizeof(buf)) >= 0)
		CHECK(strcmp(buf, "lru"), "an existing file took the directory's policy");
	/* the child's own setting wins over the inherited one */
	SYS(set(P("%s/d/after", dir), "user.usm.evict", "fifo", 0));
	expect_value(P("%s/d/after", dir), "user.usm.evict", "fifo");
	expect_value(d, "user.usm.evict", "lru");
	/* O_TMPFILE-less paths: mknod'd and hard-linked files */
	SYS(link(P("%s/probe", dir), P("%s/d/linked", dir)));
	CHECK(!listed(P("%s/d/linked", dir), "user.usm.prio"),
	      "a hard link took the directory's policy");
	/* a file created in a subdirectory created after the setxattr */
	SYS(mkdir(P("%s/d/sub", dir), 0755));
	put_file(P("%s/d/sub/deep", dir), "x", 1, 0644);
	expect_value(P("%s/d/sub/deep", dir), "user.usm.evict", "lru");
	return 0;
}
