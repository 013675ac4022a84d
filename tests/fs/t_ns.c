// SPDX-License-Identifier: GPL-2.0-only
/* t_ns.c - namespace: create, unlink, directories, links, rename, attrs. */
#include <dirent.h>
#include <limits.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "fstest.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#define RENAME_EXCHANGE		(1 << 1)
#endif

static int rename2(const char *a, const char *b, unsigned int flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static struct stat st_of(const char *path)
{
	struct stat st;

	SYS(lstat(path, &st));
	return st;
}

static void check_content(const char *path, const char *want)
{
	char buf[256];
	int fd = SYS(open(path, O_RDONLY));
	ssize_t n = SYS(read(fd, buf, sizeof(buf)));

	SYS(close(fd));
	CHECK((size_t)n == strlen(want) && !memcmp(buf, want, n),
	      "%s: content '%.*s', want '%s'", path, (int)n, buf, want);
}

/* Entries of a directory except . and .., counted; -1 if @name absent. */
static long count_entries(const char *dir, const char *name, int *found)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long n = 0;

	CHECK(d, "opendir(%s): %s", dir, errname(errno));
	if (found)
		*found = 0;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (found && name && !strcmp(de->d_name, name))
			*found = 1;
		n++;
	}
	CHECK(errno == 0, "readdir(%s): %s", dir, errname(errno));
	closedir(d);
	return n;
}

DECLARE_CASE(create_unlink)
{
	const char *f = P("%s/file", dir);
	struct stat st;
	int fd, found;

	fd = SYS(open(f, O_CREAT | O_EXCL | O_RDWR, 0640));
	SYS(fstat(fd, &st));
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640,
	      "mode %o, want regular 0640", st.st_mode);
	CHECK(st.st_size == 0 && st.st_nlink == 1, "size %lld nlink %lu",
	      (long long)st.st_size, (unsigned long)st.st_nlink);
	write_full(fd, "hello", 5);
	SYS(close(fd));
	ERR(open(f, O_CREAT | O_EXCL | O_RDWR, 0640), EEXIST);
	check_content(f, "hello");
	CHECK(count_entries(dir, "file", &found) == 1 && found, "readdir misses file");
	/* O_TRUNC empties */
	fd = SYS(open(f, O_WRONLY | O_TRUNC));
	SYS(fstat(fd, &st));
	CHECK(st.st_size == 0, "O_TRUNC left size %lld", (long long)st.st_size);
	SYS(close(fd));
	/* unlink while open: data stays reachable through the fd */
	put_file(f, "still here", 10, 0644);
	fd = SYS(open(f, O_RDWR));
	SYS(unlink(f));
	ERR(stat(f, &st), ENOENT);
	ERR(unlink(f), ENOENT);
	SYS(fstat(fd, &st));
	CHECK(st.st_nlink == 0, "nlink %lu after unlink", (unsigned long)st.st_nlink);
	{
		char buf[16] = "";

		pread_full(fd, buf, 10, 0);
		CHECK(!memcmp(buf, "still here", 10), "open-unlinked data lost");
		pwrite_full(fd, "X", 1, 0);
	}
	SYS(close(fd));
	CHECK(count_entries(dir, NULL, NULL) == 0, "directory not empty after unlink");
	ERR(open(P("%s/nodir/x", dir), O_CREAT | O_RDWR, 0644), ENOENT);
	ERR(open(P("%s/missing", dir), O_RDONLY), ENOENT);
	return 0;
}

DECLARE_CASE(mkdir_rmdir)
{
	const char *d = P("%s/d", dir), *sub = P("%s/d/sub", dir);
	struct stat st;
	nlink_t base;

	SYS(mkdir(d, 0750));
	st = st_of(d);
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750, "mode %o", st.st_mode);
	CHECK(st.st_nlink == 2, "new dir nlink %lu, want 2", (unsigned long)st.st_nlink);
	base = st_of(dir).st_nlink;
	ERR(mkdir(d, 0755), EEXIST);
	SYS(mkdir(sub, 0755));
	CHECK(st_of(d).st_nlink == 3, "nlink %lu with one subdir, want 3",
	      (unsigned long)st_of(d).st_nlink);
	put_file(P("%s/d/f", dir), "x", 1, 0644);
	CHECK(st_of(d).st_nlink == 3, "a file changed the dir's nlink");
	ERR(rmdir(d), ENOTEMPTY);
	ERR(rmdir(P("%s/d/f", dir)), ENOTDIR);
	ERR(unlink(sub), EISDIR);
	ERR(rmdir(P("%s/d/.", dir)), EINVAL);
	SYS(rmdir(sub));
	CHECK(st_of(d).st_nlink == 2, "nlink %lu after rmdir, want 2",
	      (unsigned long)st_of(d).st_nlink);
	ERR(rmdir(d), ENOTEMPTY);
	SYS(unlink(P("%s/d/f", dir)));
	SYS(rmdir(d));
	ERR(rmdir(d), ENOENT);
	CHECK(st_of(dir).st_nlink == base - 1, "parent nlink %lu, want %lu",
	      (unsigned long)st_of(dir).st_nlink, (unsigned long)base - 1);
	/* a removed directory that is still open reads empty */
	SYS(mkdir(d, 0755));
	{
		int fd = SYS(open(d, O_RDONLY | O_DIRECTORY));

		SYS(rmdir(d));
		ERR(openat(fd, "new", O_CREAT | O_RDWR, 0644), ENOENT);
		SYS(close(fd));
	}
	return 0;
}

DECLARE_CASE(errors)
{
	char name[300];
	const char *f = P("%s/file", dir);
	struct stat st;

	memset(name, 'n', sizeof(name));
	name[255] = 0;
	put_file(P("%s/%s", dir, name), "", 0, 0644);	/* 255 is fine */
	SYS(stat(P("%s/%s", dir, name), &st));
	SYS(unlink(P("%s/%s", dir, name)));
	name[255] = 'n';
	name[256] = 0;
	ERR(open(P("%s/%s", dir, name), O_CREAT | O_RDWR, 0644), ENAMETOOLONG);
	ERR(mkdir(P("%s/%s", dir, name), 0755), ENAMETOOLONG);
	ERR(stat(P("%s/%s", dir, name), &st), ENAMETOOLONG);
	ERR(symlink("x", P("%s/%s", dir, name)), ENAMETOOLONG);

	put_file(f, "data", 4, 0644);
	ERR(open(P("%s/file/x", dir), O_CREAT | O_RDWR, 0644), ENOTDIR);
	ERR(stat(P("%s/file/x", dir), &st), ENOTDIR);
	ERR(mkdir(P("%s/file/x", dir), 0755), ENOTDIR);
	ERR(open(f, O_RDONLY | O_DIRECTORY), ENOTDIR);
	ERR(open(dir, O_WRONLY), EISDIR);
	ERR(open(dir, O_RDWR), EISDIR);
	ERR(mkdir(f, 0755), EEXIST);
	ERR(symlink("x", f), EEXIST);
	ERR(link(f, f), EEXIST);
	ERR(unlink(P("%s/nope", dir)), ENOENT);
	ERR(truncate(dir, 0), EISDIR);
	{
		int fd = SYS(open(dir, O_RDONLY | O_DIRECTORY));
		char c;

		ERR(read(fd, &c, 1), EISDIR);
		SYS(close(fd));
	}
	return 0;
}

DECLARE_CASE(symlink)
{
	const char *f = P("%s/target", dir), *l = P("%s/link", dir);
	char buf[PATH_MAX];
	char longt[1000];
	struct stat st;
	ssize_t n;

	put_file(f, "via link", 8, 0644);
	SYS(symlink("target", l));
	st = st_of(l);
	CHECK(S_ISLNK(st.st_mode), "lstat: not a symlink (mode %o)", st.st_mode);
	CHECK(st.st_size == 6, "symlink size %lld, want 6", (long long)st.st_size);
	n = SYS(readlink(l, buf, sizeof(buf)));
	CHECK(n == 6 && !memcmp(buf, "target", 6), "readlink '%.*s'", (int)n, buf);
	n = SYS(readlink(l, buf, 3));
	CHECK(n == 3 && !memcmp(buf, "tar", 3), "short readlink gave %zd", n);
	check_content(l, "via link");
	ERR(readlink(f, buf, sizeof(buf)), EINVAL);
	/* dangling */
	SYS(symlink("nowhere", P("%s/dangling", dir)));
	ERR(stat(P("%s/dangling", dir), &st), ENOENT);
	SYS(lstat(P("%s/dangling", dir), &st));
	/* loop */
	SYS(symlink("loop2", P("%s/loop1", dir)));
	SYS(symlink("loop1", P("%s/loop2", dir)));
	ERR(open(P("%s/loop1", dir), O_RDONLY), ELOOP);
	/* O_NOFOLLOW */
	ERR(open(l, O_RDONLY | O_NOFOLLOW), ELOOP);
	/* long target */
	memset(longt, 'a', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = 0;
	SYS(symlink(longt, P("%s/long", dir)));
	n = SYS(readlink(P("%s/long", dir), buf, sizeof(buf)));
	CHECK(n == (ssize_t)strlen(longt) && !memcmp(buf, longt, n), "long readlink %zd", n);
	/* directory symlink */
	SYS(mkdir(P("%s/realdir", dir), 0755));
	SYS(symlink("realdir", P("%s/dirlink", dir)));
	put_file(P("%s/dirlink/inside", dir), "in", 2, 0644);
	check_content(P("%s/realdir/inside", dir), "in");
	ERR(rmdir(P("%s/dirlink", dir)), ENOTDIR);
	SYS(unlink(P("%s/dirlink", dir)));
	SYS(unlink(l));
	check_content(f, "via link");
	return 0;
}

DECLARE_CASE(hardlink)
{
	const char *a = P("%s/a", dir), *b = P("%s/b", dir), *c = P("%s/sub/c", dir);
	struct stat sa, sb;

	put_file(a, "shared", 6, 0644);
	SYS(mkdir(P("%s/sub", dir), 0755));
	SYS(link(a, b));
	SYS(link(a, c));
	sa = st_of(a);
	sb = st_of(b);
	CHECK(sa.st_ino == sb.st_ino, "links have different inodes");
	CHECK(sa.st_nlink == 3, "nlink %lu, want 3", (unsigned long)sa.st_nlink);
	{
		int fd = SYS(open(b, O_WRONLY | O_APPEND));

		write_full(fd, "+b", 2);
		SYS(close(fd));
	}
	check_content(a, "shared+b");
	check_content(c, "shared+b");
	SYS(unlink(a));
	CHECK(st_of(b).st_nlink == 2, "nlink %lu after unlink, want 2",
	      (unsigned long)st_of(b).st_nlink);
	SYS(unlink(c));
	CHECK(st_of(b).st_nlink == 1, "nlink %lu, want 1", (unsigned long)st_of(b).st_nlink);
	check_content(b, "shared+b");
	ERR(link(P("%s/sub", dir), P("%s/sublink", dir)), EPERM);
	ERR(link(P("%s/missing", dir), P("%s/x", dir)), ENOENT);
	/* ctime changes on link */
	return 0;
}

DECLARE_CASE(rename)
{
	struct stat st;
	ino_t ino;

	put_file(P("%s/a", dir), "A", 1, 0644);
	put_file(P("%s/b", dir), "B", 1, 0644);
	ino = st_of(P("%s/a", dir)).st_ino;
	SYS(rename(P("%s/a", dir), P("%s/c", dir)));
	ERR(stat(P("%s/a", dir), &st), ENOENT);
	CHECK(st_of(P("%s/c", dir)).st_ino == ino, "rename changed the inode");
	/* over an existing file */
	SYS(rename(P("%s/c", dir), P("%s/b", dir)));
	check_content(P("%s/b", dir), "A");
	/* same file: no-op */
	SYS(rename(P("%s/b", dir), P("%s/b", dir)));
	check_content(P("%s/b", dir), "A");
	/* across directories */
	SYS(mkdir(P("%s/d1", dir), 0755));
	SYS(mkdir(P("%s/d2", dir), 0755));
	SYS(rename(P("%s/b", dir), P("%s/d1/b", dir)));
	check_content(P("%s/d1/b", dir), "A");
	/* directory moves: parent nlinks follow */
	SYS(mkdir(P("%s/d1/sub", dir), 0755));
	SYS(rename(P("%s/d1/sub", dir), P("%s/d2/sub", dir)));
	CHECK(st_of(P("%s/d1", dir)).st_nlink == 2, "d1 nlink %lu",
	      (unsigned long)st_of(P("%s/d1", dir)).st_nlink);
	CHECK(st_of(P("%s/d2", dir)).st_nlink == 3, "d2 nlink %lu",
	      (unsigned long)st_of(P("%s/d2", dir)).st_nlink);
	/* file over directory, directory over file */
	ERR(rename(P("%s/d1/b", dir), P("%s/d2", dir)), EISDIR);
	ERR(rename(P("%s/d2", dir), P("%s/d1/b", dir)), ENOTDIR);
	/* directory over a non-empty / empty directory */
	ERR(rename(P("%s/d1", dir), P("%s/d2", dir)), ENOTEMPTY);
	SYS(mkdir(P("%s/empty", dir), 0755));
	SYS(rename(P("%s/d2", dir), P("%s/empty", dir)));
	ERR(stat(P("%s/d2", dir), &st), ENOENT);
	SYS(stat(P("%s/empty/sub", dir), &st));
	/* into its own subdirectory */
	ERR(rename(P("%s/empty", dir), P("%s/empty/sub/x", dir)), EINVAL);
	ERR(rename(P("%s/nope", dir), P("%s/x", dir)), ENOENT);
	/* an open file keeps its data across rename */
	{
		int fd = SYS(open(P("%s/d1/b", dir), O_RDWR));

		SYS(rename(P("%s/d1/b", dir), P("%s/moved", dir)));
		pwrite_full(fd, "Z", 1, 1);
		SYS(close(fd));
		check_content(P("%s/moved", dir), "AZ");
	}
	return 0;
}

DECLARE_CASE(rename2)
{
	struct stat st;
	int r;

	put_file(P("%s/a", dir), "A", 1, 0644);
	put_file(P("%s/b", dir), "B", 1, 0644);
	r = rename2(P("%s/a", dir), P("%s/b", dir), RENAME_NOREPLACE);
	if (r < 0 && (errno == EINVAL || errno == ENOSYS))
		FAIL("renameat2 RENAME_NOREPLACE unsupported: %s", errname(errno));
	CHECK(r == -1 && errno == EEXIST, "RENAME_NOREPLACE over a file: %d %s",
	      r, errname(errno));
	check_content(P("%s/b", dir), "B");
	SYS(rename2(P("%s/a", dir), P("%s/c", dir), RENAME_NOREPLACE));
	check_content(P("%s/c", dir), "A");
	ERR(stat(P("%s/a", dir), &st), ENOENT);

	SYS(rename2(P("%s/b", dir), P("%s/c", dir), RENAME_EXCHANGE));
	check_content(P("%s/b", dir), "A");
	check_content(P("%s/c", dir), "B");
	ERR(rename2(P("%s/b", dir), P("%s/nope", dir), RENAME_EXCHANGE), ENOENT);
	ERR(rename2(P("%s/b", dir), P("%s/c", dir), RENAME_EXCHANGE | RENAME_NOREPLACE),
	    EINVAL);
	/* exchange a file with a directory, across directories */
	SYS(mkdir(P("%s/d", dir), 0755));
	SYS(mkdir(P("%s/e", dir), 0755));
	put_file(P("%s/d/inside", dir), "I", 1, 0644);
	SYS(rename2(P("%s/b", dir), P("%s/e/d2", dir), RENAME_NOREPLACE));
	SYS(rename2(P("%s/e/d2", dir), P("%s/d", dir), RENAME_EXCHANGE));
	CHECK(S_ISREG(st_of(P("%s/d", dir)).st_mode), "d is not the file after exchange");
	CHECK(S_ISDIR(st_of(P("%s/e/d2", dir)).st_mode), "e/d2 is not the dir after exchange");
	check_content(P("%s/e/d2/inside", dir), "I");
	check_content(P("%s/d", dir), "A");
	CHECK(st_of(P("%s/e", dir)).st_nlink == 3, "e nlink %lu after exchange, want 3",
	      (unsigned long)st_of(P("%s/e", dir)).st_nlink);
	/* '..' of the moved directory points at its new parent */
	CHECK(st_of(P("%s/e/d2/..", dir)).st_ino == st_of(P("%s/e", dir)).st_ino,
	      "'..' not updated by exchange");
	return 0;
}

/* ctime is later than @before (coarse clocks: a tick, not a nanosecond) */
static int ctime_after(const struct stat *st, const struct timespec *before)
{
	return st->st_ctim.tv_sec > before->tv_sec ||
	       (st->st_ctim.tv_sec == before->tv_sec &&
		st->st_ctim.tv_nsec > before->tv_nsec);
}

/*
 * Wait until the filesystem's clock is past @before: a scratch file's
 * ctime (chmod) shows it.  Timestamps come from a coarse clock, which a
 * loaded guest can leave behind a 20 ms sleep.
 */
static void wait_fs_clock(const char *dir, const struct timespec *before)
{
	const char *scratch = P("%s/clock", dir);
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int i;

	put_file(scratch, "", 0, 0644);
	for (i = 0; i < 500; i++) {
		struct stat st;

		SYS(chmod(scratch, i % 2 ? 0644 : 0600));
		st = st_of(scratch);
		if (ctime_after(&st, before))
			break;
		nanosleep(&pause, NULL);
	}
	CHECK(i < 500, "the filesystem's clock did not move in 5 s");
	SYS(unlink(scratch));
}

/*
 * A size change updates mtime and ctime, by truncate(2), ftruncate(2) and
 * O_TRUNC alike (tmpfs does; truncate(2) asks for no times of its own).
 */
DECLARE_CASE(truncate_times)
{
	const char *f = P("%s/f", dir);
	static const long sizes[] = { 123, 5 * 4096 + 7, 10, 0 };
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct stat st;
	unsigned int i;
	int fd;

	put_file(f, "", 0, 0644);
	for (i = 0; i < 3 * sizeof(sizes) / sizeof(sizes[0]); i++) {
		long size = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		const char *how = i < 4 ? "truncate" : i < 8 ? "ftruncate" : "O_TRUNC";
		struct timespec before;

		if (i >= 8)	/* O_TRUNC: from a size to 0 */
			put_file(f, "abc", 3, 0644);
		SYS(utimensat(AT_FDCWD, f, old, 0));
		before = st_of(f).st_ctim;
		wait_fs_clock(dir, &before);
		if (i < 4) {
			SYS(truncate(f, size));
		} else if (i < 8) {
			fd = SYS(open(f, O_WRONLY));
			SYS(ftruncate(fd, size));
			SYS(close(fd));
		} else {
			SYS(close(SYS(open(f, O_WRONLY | O_TRUNC))));
			size = 0;
		}
		st = st_of(f);
		CHECK(st.st_size == size, "%s to %ld: size %lld", how, size,
		      (long long)st.st_size);
		CHECK(st.st_mtim.tv_sec > 1600000000, "%s to %ld left mtime at %lld",
		      how, size, (long long)st.st_mtim.tv_sec);
		CHECK(ctime_after(&st, &before), "%s to %ld left ctime at %lld.%09ld",
		      how, size, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	}
	return 0;
}

DECLARE_CASE(attrs)
{
	const char *f = P("%s/f", dir);
	struct timespec ts[2];
	struct stat st, st2;

	put_file(f, "x", 1, 0644);
	SYS(chmod(f, 0600));
	CHECK((st_of(f).st_mode & 07777) == 0600, "chmod 0600 gave %o", st_of(f).st_mode);
	SYS(chmod(f, 04751));
	CHECK((st_of(f).st_mode & 07777) == 04751, "chmod 04751 gave %o", st_of(f).st_mode);
	SYS(chmod(dir, 0755));
	SYS(chmod(dir, 0777));
	/* explicit times */
	ts[0].tv_sec = 1000000000; ts[0].tv_nsec = 123456789;
	ts[1].tv_sec = 1200000000; ts[1].tv_nsec = 987654321;
	SYS(utimensat(AT_FDCWD, f, ts, 0));
	st = st_of(f);
	CHECK(st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789,
	      "atime %lld.%09ld", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
	CHECK(st.st_mtim.tv_sec == 1200000000 && st.st_mtim.tv_nsec == 987654321,
	      "mtime %lld.%09ld", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	/* UTIME_OMIT keeps, UTIME_NOW sets now */
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_NOW;
	SYS(utimensat(AT_FDCWD, f, ts, 0));
	st2 = st_of(f);
	CHECK(st2.st_atim.tv_sec == 1000000000, "UTIME_OMIT changed atime");
	CHECK(st2.st_mtim.tv_sec > 1600000000, "UTIME_NOW mtime %lld",
	      (long long)st2.st_mtim.tv_sec);
	/* a write moves mtime and ctime forward */
	ts[0].tv_sec = ts[1].tv_sec = 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	SYS(utimensat(AT_FDCWD, f, ts, 0));
	{
		int fd = SYS(open(f, O_WRONLY));

		write_full(fd, "y", 1);
		SYS(fsync(fd));
		SYS(close(fd));
	}
	st = st_of(f);
	CHECK(st.st_mtim.tv_sec > 1600000000, "write did not update mtime (%lld)",
	      (long long)st.st_mtim.tv_sec);
	/* utimensat on a symlink itself */
	SYS(symlink("f", P("%s/l", dir)));
	SYS(utimensat(AT_FDCWD, P("%s/l", dir), ts, AT_SYMLINK_NOFOLLOW));
	CHECK(st_of(P("%s/l", dir)).st_mtim.tv_sec == 1000000000, "symlink mtime not set");
	/* chown (root only) */
	if (geteuid() == 0) {
		SYS(chown(f, 1234, 5678));
		st = st_of(f);
		CHECK(st.st_uid == 1234 && st.st_gid == 5678, "chown gave %u:%u",
		      st.st_uid, st.st_gid);
		SYS(lchown(P("%s/l", dir), 4321, 8765));
		st = st_of(P("%s/l", dir));
		CHECK(st.st_uid == 4321 && st.st_gid == 8765, "lchown gave %u:%u",
		      st.st_uid, st.st_gid);
		CHECK(st_of(f).st_uid == 1234, "lchown followed the link");
		SYS(chown(f, -1, 42));
		CHECK(st_of(f).st_uid == 1234 && st_of(f).st_gid == 42, "chown -1 changed uid");
	}
	return 0;
}

#define MANY_DEFAULT	5000

DECLARE_CASE(many_files)
{
	long nr = argc > 0 ? atol(argv[0]) : MANY_DEFAULT;
	const char *d = P("%s/many", dir);
	char buf[64], want[64];
	long i;

	CHECK(nr > 0 && nr < 10000000, "bad count");
	SYS(mkdir(d, 0755));
	for (i = 0; i < nr; i++) {
		int len = snprintf(want, sizeof(want), "file %ld\n", i);

		put_file(P("%s/f%06ld", d, i), want, len, 0644);
	}
	CHECK(count_entries(d, NULL, NULL) == nr, "readdir count %ld, want %ld",
	      count_entries(d, NULL, NULL), nr);
	for (i = 0; i < nr; i++) {
		int len = snprintf(want, sizeof(want), "file %ld\n", i);
		int fd = SYS(open(P("%s/f%06ld", d, i), O_RDONLY));
		ssize_t n = SYS(read(fd, buf, sizeof(buf)));

		SYS(close(fd));
		CHECK(n == len && !memcmp(buf, want, len), "f%06ld: wrong content", i);
	}
	for (i = 0; i < nr; i += 2)
		SYS(unlink(P("%s/f%06ld", d, i)));
	CHECK(count_entries(d, NULL, NULL) == nr / 2, "after unlinking half: %ld",
	      count_entries(d, NULL, NULL));
	for (i = 1; i < nr; i += 2)
		SYS(unlink(P("%s/f%06ld", d, i)));
	CHECK(count_entries(d, NULL, NULL) == 0, "not empty after unlinking all");
	SYS(rmdir(d));
	return 0;
}

DECLARE_CASE(readdir_seek)
{
	/* telldir/seekdir across a directory being modified; d_type sane */
	DIR *d;
	struct dirent *de;
	int nreg = 0, ndir = 0, nlnk = 0;

	for (int i = 0; i < 50; i++)
		put_file(P("%s/r%02d", dir, i), "", 0, 0644);
	SYS(mkdir(P("%s/sub", dir), 0755));
	SYS(symlink("r00", P("%s/sl", dir)));
	d = opendir(dir);
	CHECK(d, "opendir: %s", errname(errno));
	while ((de = readdir(d))) {
		if (de->d_type == DT_REG)
			nreg++;
		else if (de->d_type == DT_DIR && strcmp(de->d_name, ".") &&
			 strcmp(de->d_name, ".."))
			ndir++;
		else if (de->d_type == DT_LNK)
			nlnk++;
	}
	CHECK((nreg == 50 && ndir == 1 && nlnk == 1) || (nreg + ndir + nlnk == 0),
	      "d_type counts reg %d dir %d lnk %d", nreg, ndir, nlnk);
	rewinddir(d);
	{
		long pos;
		char name[256];

		for (int i = 0; i < 10; i++)
			CHECK(readdir(d), "short directory");
		pos = telldir(d);
		de = readdir(d);
		CHECK(de, "short directory");
		snprintf(name, sizeof(name), "%s", de->d_name);
		for (int i = 0; i < 5; i++)
			CHECK(readdir(d), "short directory");
		seekdir(d, pos);
		de = readdir(d);
		CHECK(de && !strcmp(de->d_name, name), "seekdir: got %s, want %s",
		      de ? de->d_name : "(end)", name);
	}
	closedir(d);
	return 0;
}
