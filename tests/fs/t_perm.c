// SPDX-License-Identifier: GPL-2.0-only
/* t_perm.c - ownership and permissions, checked as unprivileged uids. */
#include <sys/syscall.h>

#include "fstest.h"

#define U1	1001
#define U2	1002
#define G1	2001
#define G2	2002

static const char *g_dir;

static struct stat st_of(const char *path)
{
	struct stat st;

	SYS(lstat(path, &st));
	return st;
}

static int make_file_u1(void *arg)
{
	(void)arg;
	put_file(P("%s/sticky/u1file", g_dir), "u1", 2, 0666);
	SYS(mkdir(P("%s/sticky/u1dir", g_dir), 0777));
	return 0;
}

static int attack_u2(void *arg)
{
	(void)arg;
	/* not the owner of the file or the directory: EPERM */
	ERR(unlink(P("%s/sticky/u1file", g_dir)), EPERM);
	ERR(rename(P("%s/sticky/u1file", g_dir), P("%s/sticky/mine", g_dir)), EPERM);
	ERR(rmdir(P("%s/sticky/u1dir", g_dir)), EPERM);
	/* but may write it (mode 0666) and create its own files */
	{
		int fd = SYS(open(P("%s/sticky/u1file", g_dir), O_WRONLY | O_APPEND));

		write_full(fd, "+u2", 3);
		SYS(close(fd));
	}
	put_file(P("%s/sticky/u2file", g_dir), "u2", 2, 0644);
	/* over someone else's file via rename: EPERM too */
	ERR(rename(P("%s/sticky/u2file", g_dir), P("%s/sticky/u1file", g_dir)), EPERM);
	SYS(unlink(P("%s/sticky/u2file", g_dir)));
	return 0;
}

static int owner_u1(void *arg)
{
	(void)arg;
	SYS(unlink(P("%s/sticky/u1file", g_dir)));
	SYS(rmdir(P("%s/sticky/u1dir", g_dir)));
	return 0;
}

DECLARE_CASE(sticky)
{
	struct stat st;

	need_root();
	g_dir = dir;
	SYS(chmod(dir, 0755));
	SYS(mkdir(P("%s/sticky", dir), 0777));
	SYS(chmod(P("%s/sticky", dir), 01777));
	CHECK((st_of(P("%s/sticky", dir)).st_mode & 07777) == 01777, "mode %o",
	      st_of(P("%s/sticky", dir)).st_mode);
	CHECK(run_as(U1, G1, make_file_u1, NULL) == 0, "u1 could not create its files");
	CHECK(run_as(U2, G2, attack_u2, NULL) == 0, "sticky directory checks failed (u2)");
	CHECK(run_as(U1, G1, owner_u1, NULL) == 0, "the owner could not remove its files");
	ERR(stat(P("%s/sticky/u1file", dir), &st), ENOENT);
	/* root may remove anything */
	CHECK(run_as(U1, G1, make_file_u1, NULL) == 0, "u1 could not create its files");
	SYS(unlink(P("%s/sticky/u1file", dir)));
	return 0;
}

static int create_as(void *arg)
{
	(void)arg;
	put_file(P("%s/open/file", g_dir), "x", 1, 0644);
	SYS(mkdir(P("%s/open/dir", g_dir), 0755));
	SYS(symlink("file", P("%s/open/link", g_dir)));
	SYS(mknod(P("%s/open/fifo", g_dir), S_IFIFO | 0644, 0));
	return 0;
}

DECLARE_CASE(owner)
{
	const char *names[] = { "file", "dir", "link", "fifo" };

	need_root();
	g_dir = dir;
	SYS(chmod(dir, 0755));
	SYS(mkdir(P("%s/open", dir), 0777));
	SYS(chmod(P("%s/open", dir), 0777));
	CHECK(run_as(U1, G1, create_as, NULL) == 0, "uid %d could not create", U1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct stat st = st_of(P("%s/open/%s", dir, names[i]));

		CHECK(st.st_uid == U1 && st.st_gid == G1,
		      "%s created by %d:%d is owned by %u:%u", names[i], U1, G1,
		      st.st_uid, st.st_gid);
	}
	CHECK(S_ISFIFO(st_of(P("%s/open/fifo", dir)).st_mode), "mknod: not a fifo");
	return 0;
}

static int create_in_sgid(void *arg)
{
	(void)arg;
	put_file(P("%s/sg/file", g_dir), "x", 1, 0644);
	SYS(mkdir(P("%s/sg/dir", g_dir), 0755));
	return 0;
}

DECLARE_CASE(setgid_dir)
{
	struct stat st;

	need_root();
	g_dir = dir;
	SYS(chmod(dir, 0755));
	SYS(mkdir(P("%s/sg", dir), 0777));
	SYS(chown(P("%s/sg", dir), 0, G2));
	SYS(chmod(P("%s/sg", dir), 02777));
	CHECK((st_of(P("%s/sg", dir)).st_mode & 07777) == 02777, "setgid dir mode %o",
	      st_of(P("%s/sg", dir)).st_mode);
	CHECK(run_as(U1, G1, create_in_sgid, NULL) == 0, "could not create in setgid dir");
	st = st_of(P("%s/sg/file", dir));
	CHECK(st.st_uid == U1 && st.st_gid == G2,
	      "file in setgid dir owned %u:%u, want %d:%d", st.st_uid, st.st_gid, U1, G2);
	st = st_of(P("%s/sg/dir", dir));
	CHECK(st.st_gid == G2, "subdir gid %u, want %d", st.st_gid, G2);
	CHECK(st.st_mode & S_ISGID, "subdir of a setgid dir lost S_ISGID (mode %o)", st.st_mode);
	return 0;
}

static int write_as_u1(void *arg)
{
	const char *f = arg;
	int fd = SYS(open(f, O_WRONLY));

	write_full(fd, "w", 1);
	SYS(close(fd));
	return 0;
}

static int truncate_as_u1(void *arg)
{
	SYS(truncate((const char *)arg, 10));
	return 0;
}

DECLARE_CASE(suid_clear)
{
	const char *f = P("%s/suid", dir);
	mode_t m;

	need_root();
	SYS(chmod(dir, 0777));
	/* write by a non-root owner clears S_ISUID and S_ISGID (group exec) */
	put_file(f, "data", 4, 0644);
	SYS(chown(f, U1, G1));
	SYS(chmod(f, 06775));
	CHECK((st_of(f).st_mode & 07777) == 06775, "chmod 06775 gave %o", st_of(f).st_mode);
	CHECK(run_as(U1, G1, write_as_u1, (void *)f) == 0, "write as owner failed");
	m = st_of(f).st_mode & 07777;
	CHECK(m == 0775, "after write by uid %d: mode %o, want 0775", U1, m);
	/* truncate too */
	SYS(chmod(f, 06775));
	CHECK(run_as(U1, G1, truncate_as_u1, (void *)f) == 0, "truncate as owner failed");
	m = st_of(f).st_mode & 07777;
	CHECK(m == 0775, "after truncate by uid %d: mode %o, want 0775", U1, m);
	/* chown by root clears them as well */
	SYS(chmod(f, 06775));
	SYS(chown(f, U2, G2));
	m = st_of(f).st_mode & 07777;
	CHECK(m == 0775, "after chown: mode %o, want 0775", m);
	/* setgid without group exec is mandatory locking, kept on write */
	SYS(chown(f, U1, G1));
	SYS(chmod(f, 02664));
	CHECK(run_as(U1, G1, write_as_u1, (void *)f) == 0, "write as owner failed");
	m = st_of(f).st_mode & 07777;
	CHECK(m == 02664, "S_ISGID without g+x: mode %o after write, want 02664", m);
	return 0;
}

static int denied_u2(void *arg)
{
	(void)arg;
	ERR(open(P("%s/private", g_dir), O_RDONLY), EACCES);
	ERR(open(P("%s/readonly", g_dir), O_WRONLY), EACCES);
	ERR(open(P("%s/closed/x", g_dir), O_RDONLY), EACCES);
	ERR(open(P("%s/ro-dir/new", g_dir), O_CREAT | O_WRONLY, 0644), EACCES);
	ERR(chmod(P("%s/readonly", g_dir), 0777), EPERM);
	ERR(chown(P("%s/readonly", g_dir), U2, G2), EPERM);
	ERR(truncate(P("%s/readonly", g_dir), 0), EACCES);
	{
		struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };

		ERR(utimensat(AT_FDCWD, P("%s/readonly", g_dir), ts, 0), EPERM);
	}
	return 0;
}

DECLARE_CASE(perm_denied)
{
	need_root();
	g_dir = dir;
	SYS(chmod(dir, 0755));
	put_file(P("%s/private", dir), "secret", 6, 0600);
	put_file(P("%s/readonly", dir), "ro", 2, 0644);
	SYS(chown(P("%s/readonly", dir), U1, G1));
	SYS(mkdir(P("%s/closed", dir), 0700));
	put_file(P("%s/closed/x", dir), "x", 1, 0644);
	SYS(mkdir(P("%s/ro-dir", dir), 0555));
	CHECK(run_as(U2, G2, denied_u2, NULL) == 0, "permission checks failed");
	return 0;
}
