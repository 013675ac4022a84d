// SPDX-License-Identifier: GPL-2.0-only
/*
 * t_parity.c - tmpfs semantics that copy tools, backup tools and overlayfs
 * rely on (issue 14): no virtual xattr in listxattr, setgid cleared by
 * fallocate, statx birth time, O_TMPFILE and linkat.
 */
#include <dirent.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>

#include "fstest.h"

#define U1	1001
#define G1	2001

/* The names listxattr gives for @path, in @buf; their number. */
static int list_names(const char *path, char *buf, size_t len)
{
	ssize_t n = llistxattr(path, buf, len);
	int nr = 0;

	CHECK(n >= 0, "listxattr(%s): %s", path, errname(errno));
	for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
		nr++;
	return nr;
}

static int has_name(const char *list, int nr, const char *name)
{
	for (int i = 0; i < nr; i++, list += strlen(list) + 1)
		if (!strcmp(list, name))
			return 1;
	return 0;
}

/* The mount's root above @dir: the last directory on the same device. */
static const char *mount_root(const char *dir)
{
	const char *cur = dir, *up;
	struct stat a, b;

	SYS(stat(cur, &a));
	for (int i = 0; i < 64; i++) {
		up = P("%s/..", cur);
		SYS(stat(up, &b));
		if (b.st_dev != a.st_dev || b.st_ino == a.st_ino)
			return cur;
		cur = up;
		a = b;
	}
	FAIL("no mount root above %s", dir);
}

/*
 * What cp -a / rsync -X / tar --xattrs do: read every listed attribute of
 * @from and set it on @to (all must work), then remove every attribute
 * @to has that @from does not (rsync; must work too).
 */
static void copy_xattrs(const char *from, const char *to)
{
	static char names[65536], tnames[65536], val[65536];
	int nr = list_names(from, names, sizeof(names)), tnr;
	const char *nm = names;

	for (int i = 0; i < nr; i++, nm += strlen(nm) + 1) {
		ssize_t v = lgetxattr(from, nm, val, sizeof(val));

		CHECK(v >= 0, "listed %s unreadable: %s", nm, errname(errno));
		CHECK(lsetxattr(to, nm, val, v, 0) == 0, "copying %s: %s", nm,
		      errname(errno));
	}
	tnr = list_names(to, tnames, sizeof(tnames));
	nm = tnames;
	for (int i = 0; i < tnr; i++, nm += strlen(nm) + 1)
		if (!has_name(names, nr, nm))
			CHECK(lremovexattr(to, nm) == 0, "removing %s: %s", nm,
			      errname(errno));
	CHECK(list_names(to, tnames, sizeof(tnames)) == nr,
	      "after the copy %s has %d attributes, %s has %d", to,
	      list_names(to, tnames, sizeof(tnames)), from, nr);
}

DECLARE_CASE(xattr_virtual)
{
	const char *f = P("%s/f", dir), *g = P("%s/g", dir);
	const char *root = mount_root(dir);
	static char buf[65536];
	char v[512];
	int nr, usm;

	put_file(f, "", 0, 0644);
	put_file(g, "g", 1, 0644);
	/* a new empty file lists nothing, as on tmpfs */
	nr = list_names(f, buf, sizeof(buf));
	CHECK(nr == 0, "new file lists %d attributes (first '%s'), want 0", nr,
	      buf);
	/* computed values are readable by name, never listed */
	usm = getxattr(f, "user.usm.stats", v, sizeof(v)) >= 0;
	nr = list_names(root, buf, sizeof(buf));
	CHECK(!has_name(buf, nr, "user.usm.stats"), "the root lists user.usm.stats");
	nr = list_names(dir, buf, sizeof(buf));
	CHECK(!has_name(buf, nr, "user.usm.stats"), "a directory lists user.usm.stats");
	if (usm)
		CHECK(getxattr(root, "user.usm.stats", v, sizeof(v)) > 0,
		      "root user.usm.stats unreadable: %s", errname(errno));
	/* n attributes set, n listed */
	for (int i = 0; i < 100; i++)
		SYS(setxattr(f, P("user.k%d", i), "v", 1, XATTR_CREATE));
	nr = list_names(f, buf, sizeof(buf));
	CHECK(nr == 100, "100 attributes set, %d listed", nr);
	/* a policy set explicitly is listed and copies */
	if (usm) {
		SYS(setxattr(f, "user.usm.evict", "lru", 3, 0));
		nr = list_names(f, buf, sizeof(buf));
		CHECK(has_name(buf, nr, "user.usm.evict"), "user.usm.evict set but not listed");
		CHECK(nr == 101, "101 attributes set, %d listed", nr);
	}
	copy_xattrs(f, g);
	if (usm) {
		CHECK(getxattr(g, "user.usm.evict", v, sizeof(v)) >= 0,
		      "the policy did not copy: %s", errname(errno));
		CHECK(getxattr(g, "user.usm.stats", v, sizeof(v)) > 0,
		      "copy lost user.usm.stats: %s", errname(errno));
	}
	/* and back to an empty file: everything removable */
	SYS(unlink(f));
	put_file(f, "", 0, 0644);
	for (int i = 0; i < 100; i++)
		SYS(removexattr(g, P("user.k%d", i)));
	if (usm)
		SYS(removexattr(g, "user.usm.evict"));
	copy_xattrs(f, g);
	CHECK(list_names(g, buf, sizeof(buf)) == 0, "attributes left on g");
	/* directories and the root copy too */
	copy_xattrs(root, dir);
	return 0;
}

/* ------------------------------------------------- setgid and fallocate */

enum sg_op { SG_WRITE, SG_FALLOC, SG_PUNCH };

static const char *sg_path;
static enum sg_op sg_op;

static int sg_as_u1(void *arg)
{
	int fd = SYS(open(sg_path, O_RDWR));

	(void)arg;
	switch (sg_op) {
	case SG_WRITE:
		pwrite_full(fd, "x", 1, 0);
		break;
	case SG_FALLOC:
		SYS(fallocate(fd, 0, 0, 2 * PAGE));
		break;
	case SG_PUNCH:
		SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      PAGE));
		break;
	}
	SYS(close(fd));
	return 0;
}

/* The mode of a root-owned @mode file after uid U1 did @op on it. */
static mode_t sg_after(const char *dir, mode_t mode, enum sg_op op)
{
	struct stat st;
	char data[PAGE] = { 1 };

	sg_path = P("%s/sg-%o-%d", dir, mode, op);
	sg_op = op;
	put_file(sg_path, data, sizeof(data), 0644);
	SYS(chmod(sg_path, mode));
	CHECK(run_as(U1, G1, sg_as_u1, NULL) == 0, "op %d as uid %d failed", op, U1);
	SYS(stat(sg_path, &st));
	return st.st_mode & 07777;
}

/*
 * A non-owner without CAP_FSETID who extends a file with fallocate or
 * punches a hole in it loses its set-id bits exactly as with a write (the
 * kernel's rule for S_ISGID without group exec changed in 6.2: compare).
 */
DECLARE_CASE(setgid_falloc)
{
	static const mode_t modes[] = { 02666, 02766, 06766, 04666 };

	need_root();
	SYS(chmod(dir, 0777));
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		mode_t w = sg_after(dir, modes[i], SG_WRITE);
		mode_t fa = sg_after(dir, modes[i], SG_FALLOC);
		mode_t pu = sg_after(dir, modes[i], SG_PUNCH);

		CHECK(!(w & S_ISUID), "write kept S_ISUID (%o)", w);
		if (modes[i] & S_IXGRP)
			CHECK(!(w & S_ISGID), "write kept S_ISGID (%o)", w);
		CHECK(fa == w, "mode %o: %o after fallocate, %o after write",
		      modes[i], fa, w);
		CHECK(pu == w, "mode %o: %o after a punched hole, %o after write",
		      modes[i], pu, w);
	}
	return 0;
}

/* ------------------------------------------------------------ birth time */

static long long ts_ns(const struct statx_timestamp *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

DECLARE_CASE(statx_btime)
{
	const char *f = P("%s/f", dir), *d = P("%s/d", dir);
	struct statx sx, sx2;
	struct timespec before, after;
	int fd;

	SYS(clock_gettime(CLOCK_REALTIME, &before));
	put_file(f, "x", 1, 0644);
	SYS(mkdir(d, 0755));
	SYS(clock_gettime(CLOCK_REALTIME, &after));
	SYS(statx(AT_FDCWD, f, 0, STATX_BTIME | STATX_BASIC_STATS, &sx));
	CHECK(sx.stx_mask & STATX_BTIME, "statx: no STATX_BTIME in mask %#x",
	      sx.stx_mask);
	/* coarse clocks: allow the tick before */
	CHECK(sx.stx_btime.tv_sec >= before.tv_sec - 1 &&
	      sx.stx_btime.tv_sec <= after.tv_sec,
	      "btime %lld not within the creation [%lld, %lld]",
	      (long long)sx.stx_btime.tv_sec, (long long)before.tv_sec,
	      (long long)after.tv_sec);
	CHECK(ts_ns(&sx.stx_btime) <= ts_ns(&sx.stx_ctime), "btime after ctime");
	SYS(statx(AT_FDCWD, d, 0, STATX_BTIME, &sx2));
	CHECK(sx2.stx_mask & STATX_BTIME, "directory: no STATX_BTIME");
	/* later changes leave it */
	sleep(1);
	fd = SYS(open(f, O_WRONLY | O_APPEND));
	write_full(fd, "y", 1);
	SYS(fchmod(fd, 0600));
	SYS(close(fd));
	SYS(statx(AT_FDCWD, f, 0, STATX_BTIME | STATX_BASIC_STATS, &sx2));
	CHECK(ts_ns(&sx2.stx_btime) == ts_ns(&sx.stx_btime),
	      "btime moved from %lld to %lld on write/chmod",
	      ts_ns(&sx.stx_btime), ts_ns(&sx2.stx_btime));
	CHECK(ts_ns(&sx2.stx_mtime) > ts_ns(&sx2.stx_btime), "mtime not after btime");
	return 0;
}

/* --------------------------------------------------------------- O_TMPFILE */

DECLARE_CASE(tmpfile)
{
	const char *named = P("%s/named", dir);
	char *data = xmalloc(3 * PAGE), *back = xmalloc(3 * PAGE);
	struct stat st;
	int fd, fd2, nr;
	static char buf[4096];

	pattern_fill(data, 3 * PAGE, 14, 0);
	fd = open(dir, O_TMPFILE | O_RDWR, 0640);
	CHECK(fd >= 0, "open(O_TMPFILE): %s", errname(errno));
	write_full(fd, data, 3 * PAGE);
	SYS(fstat(fd, &st));
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640,
	      "tmpfile mode %o", st.st_mode);
	CHECK(st.st_nlink == 0, "tmpfile nlink %lu, want 0", (unsigned long)st.st_nlink);
	CHECK(st.st_size == 3 * (off_t)PAGE, "tmpfile size %lld", (long long)st.st_size);
	/* nothing in the directory */
	SYS(stat(dir, &st));
	CHECK(st.st_nlink == 2, "directory nlink %lu", (unsigned long)st.st_nlink);
	SYS(fsetxattr(fd, "user.t", "1", 1, 0));
	nr = (int)flistxattr(fd, buf, sizeof(buf));
	CHECK(nr > 0, "tmpfile xattr not listed");
	/* linkat through /proc (no CAP_DAC_READ_SEARCH needed) */
	SYS(linkat(AT_FDCWD, P("/proc/self/fd/%d", fd), AT_FDCWD, named,
		   AT_SYMLINK_FOLLOW));
	SYS(fstat(fd, &st));
	CHECK(st.st_nlink == 1, "after linkat nlink %lu", (unsigned long)st.st_nlink);
	fd2 = SYS(open(named, O_RDONLY));
	pread_full(fd2, back, 3 * PAGE, 0);
	CHECK(pattern_check(back, 3 * PAGE, 14, 0) < 0, "linked tmpfile data differs");
	SYS(close(fd2));
	SYS(close(fd));
	/* O_EXCL: never linkable */
	fd = SYS(open(dir, O_TMPFILE | O_RDWR | O_EXCL, 0600));
	write_full(fd, "x", 1);
	ERR(linkat(AT_FDCWD, P("/proc/self/fd/%d", fd), AT_FDCWD,
		   P("%s/excl", dir), AT_SYMLINK_FOLLOW), ENOENT);
	SYS(close(fd));
	/* an unlinked tmpfile goes away: the directory is removable */
	fd = SYS(open(dir, O_TMPFILE | O_WRONLY, 0600));
	write_full(fd, data, PAGE);
	SYS(close(fd));
	SYS(unlink(named));
	free(data);
	free(back);
	return 0;
}

/* ------------------------------------------------------ largest file size */

/* tmpfs's largest file is MAX_LFS_FILESIZE (LLONG_MAX on 64-bit). */
DECLARE_CASE(max_filesize)
{
	const char *f = P("%s/f", dir);
	const off_t max = (off_t)(~0ULL >> 1);
	struct stat st;
	char c = 0;
	int fd;

	fd = SYS(open(f, O_RDWR | O_CREAT, 0644));
	SYS(ftruncate(fd, max));
	SYS(fstat(fd, &st));
	CHECK(st.st_size == max, "size %lld after ftruncate(LLONG_MAX)",
	      (long long)st.st_size);
	CHECK(st.st_blocks == 0, "a sparse LLONG_MAX file has %lld blocks",
	      (long long)st.st_blocks);
	pwrite_full(fd, "z", 1, max - 1);
	pread_full(fd, &c, 1, max - 1);
	CHECK(c == 'z', "last byte reads %#x", c);
	pread_full(fd, &c, 1, max - 2);
	CHECK(c == 0, "the byte before the last reads %#x", c);
	/* past it: EINVAL (the end overflows) or EFBIG */
	errno = 0;
	CHECK(pwrite(fd, "z", 1, max) == -1 && (errno == EINVAL || errno == EFBIG),
	      "pwrite at LLONG_MAX: %s", errno ? errname(errno) : "succeeded");
	SYS(fsync(fd));
	SYS(ftruncate(fd, 0));
	SYS(close(fd));
	return 0;
}

/* ---------------------------------------------------------- file handles */

static struct file_handle *handle_of(const char *path)
{
	struct file_handle *fh = xmalloc(sizeof(*fh) + MAX_HANDLE_SZ);
	int mount_id;

	fh->handle_bytes = MAX_HANDLE_SZ;
	CHECK(name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0) == 0,
	      "name_to_handle_at(%s): %s", path, errname(errno));
	return fh;
}

/* Let the kernel forget every unused inode and dentry (root). */
static void drop_caches(void)
{
	int fd = SYS(open("/proc/sys/vm/drop_caches", O_WRONLY));

	sync();
	write_full(fd, "2", 1);
	SYS(close(fd));
}

/*
 * open_by_handle_at after the kernel dropped its caches reopens the file
 * (NFS export, fanotify, tools that keep handles); a removed file's handle
 * is ESTALE.
 */
DECLARE_CASE(file_handle)
{
	const char *f = P("%s/f", dir), *d = P("%s/d", dir);
	struct file_handle *fh, *dh;
	char buf[16] = "";
	struct stat st;
	int mfd, fd, dfd;

	need_root();
	put_file(f, "handle data", 11, 0644);
	SYS(mkdir(d, 0755));
	put_file(P("%s/g", d), "g", 1, 0644);
	fh = handle_of(f);
	dh = handle_of(d);
	mfd = SYS(open(dir, O_RDONLY | O_DIRECTORY));
	drop_caches();
	fd = open_by_handle_at(mfd, fh, O_RDONLY);
	CHECK(fd >= 0, "open_by_handle_at(file) after drop_caches: %s",
	      errname(errno));
	pread_full(fd, buf, 11, 0);
	CHECK(!memcmp(buf, "handle data", 11), "reopened file reads '%s'", buf);
	SYS(close(fd));
	drop_caches();
	dfd = open_by_handle_at(mfd, dh, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0, "open_by_handle_at(dir) after drop_caches: %s",
	      errname(errno));
	SYS(fstatat(dfd, "g", &st, 0));
	CHECK(st.st_size == 1, "d/g size %lld", (long long)st.st_size);
	SYS(close(dfd));
	/* the same handle, twice, while cached: the same inode */
	fd = SYS(open_by_handle_at(mfd, fh, O_RDWR));
	SYS(fstat(fd, &st));
	SYS(close(fd));
	{
		struct stat st2;

		SYS(stat(f, &st2));
		CHECK(st.st_ino == st2.st_ino, "handle opens inode %llu, path %llu",
		      (unsigned long long)st.st_ino, (unsigned long long)st2.st_ino);
	}
	SYS(unlink(f));
	drop_caches();
	ERR(open_by_handle_at(mfd, fh, O_RDONLY), ESTALE);
	SYS(close(mfd));
	free(fh);
	free(dh);
	return 0;
}

/* ---------------------------------------------------- readdir and rename */

/*
 * Renaming every entry a listing returns, as it returns it: each entry is
 * returned once and the listing ends (a renamed entry is a new name: it
 * may or may not be returned, never again and again).
 */
DECLARE_CASE(readdir_rename)
{
	int n = argc > 0 ? atoi(argv[0]) : 5000;
	const char *d = P("%s/d", dir);
	unsigned char *seen;
	struct dirent *e;
	long total = 0;
	DIR *dp;

	CHECK(n > 0 && n <= 100000, "bad count %d", n);
	seen = calloc((size_t)n, 1);
	CHECK(seen, "calloc");
	SYS(mkdir(d, 0755));
	for (int i = 0; i < n; i++)
		SYS(close(SYS(open(P("%s/f%d", d, i), O_CREAT | O_WRONLY, 0644))));
	dp = opendir(d);
	CHECK(dp, "opendir: %s", errname(errno));
	while ((e = readdir(dp))) {
		const char *name = e->d_name;
		int i;

		CHECK(++total <= 3L * n,
		      "more than %ld entries from %d files: the listing does not end",
		      3L * n, n);
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		/* every entry returned gets a new name, renamed ones too */
		SYS(rename(P("%s/%s", d, name), P("%s/r%ld", d, total)));
		if (name[0] != 'f')
			continue;
		i = atoi(name + 1);
		CHECK(i >= 0 && i < n, "odd name %s", name);
		CHECK(!seen[i], "%s returned twice", name);
		seen[i] = 1;
	}
	SYS(closedir(dp));
	CHECK(total <= n + 2L + n, "%ld entries for %d files", total, n);
	note("%ld entries listed for %d files renamed under the listing", total, n);
	free(seen);
	return 0;
}

/* ------------------------------------------------------------ inode flags */

static unsigned int get_flags(const char *path)
{
	int fd = SYS(open(path, O_RDONLY | O_NONBLOCK));
	unsigned int fl = 0;

	CHECK(ioctl(fd, FS_IOC_GETFLAGS, &fl) == 0, "FS_IOC_GETFLAGS(%s): %s",
	      path, errname(errno));
	SYS(close(fd));
	return fl;
}

static void set_flags(const char *path, unsigned int fl)
{
	int fd = SYS(open(path, O_RDONLY | O_NONBLOCK));

	CHECK(ioctl(fd, FS_IOC_SETFLAGS, &fl) == 0, "FS_IOC_SETFLAGS(%s, %#x): %s",
	      path, fl, errname(errno));
	SYS(close(fd));
	CHECK(get_flags(path) == fl, "flags %#x after setting %#x", get_flags(path), fl);
}

static const char *fl_path;

static int fl_as_u1(void *arg)
{
	unsigned int fl = FS_IMMUTABLE_FL;
	int fd = SYS(open(fl_path, O_RDONLY));

	(void)arg;
	/* the owner without CAP_LINUX_IMMUTABLE: not i or a, but A */
	ERR(ioctl(fd, FS_IOC_SETFLAGS, &fl), EPERM);
	fl = FS_NOATIME_FL;
	SYS(ioctl(fd, FS_IOC_SETFLAGS, &fl));
	fl = 0;
	SYS(ioctl(fd, FS_IOC_SETFLAGS, &fl));
	SYS(close(fd));
	return 0;
}

/* chattr +i +a +A: immutable and append-only enforced (root). */
DECLARE_CASE(inode_flags)
{
	const char *f = P("%s/f", dir), *d = P("%s/d", dir);
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };
	struct fsxattr fx;
	char buf[16] = "";
	int fd;

	need_root();
	SYS(chmod(dir, 0777));
	put_file(f, "abc", 3, 0644);
	SYS(mkdir(d, 0755));
	put_file(P("%s/x", d), "x", 1, 0644);
	CHECK((get_flags(f) & (FS_IMMUTABLE_FL | FS_APPEND_FL)) == 0,
	      "new file flags %#x", get_flags(f));

	/* immutable: no change of any kind */
	set_flags(f, FS_IMMUTABLE_FL);
	fd = SYS(open(f, O_RDONLY));
	SYS(ioctl(fd, FS_IOC_FSGETXATTR, &fx));
	CHECK(fx.fsx_xflags & FS_XFLAG_IMMUTABLE, "FS_IOC_FSGETXATTR xflags %#x",
	      fx.fsx_xflags);
	SYS(close(fd));
	ERR(open(f, O_WRONLY), EPERM);
	ERR(open(f, O_RDONLY | O_TRUNC), EPERM);
	ERR(truncate(f, 0), EPERM);
	ERR(unlink(f), EPERM);
	ERR(rename(f, P("%s/g", dir)), EPERM);
	ERR(link(f, P("%s/h", dir)), EPERM);
	ERR(chmod(f, 0600), EPERM);
	ERR(chown(f, 1001, 1001), EPERM);
	ERR(utimensat(AT_FDCWD, f, ts, 0), EPERM);
	ERR(setxattr(f, "user.x", "1", 1, 0), EPERM);
	set_flags(f, 0);

	/* append-only: writes at the end only, never removed */
	set_flags(f, FS_APPEND_FL);
	ERR(open(f, O_WRONLY), EPERM);
	ERR(truncate(f, 0), EPERM);
	ERR(unlink(f), EPERM);
	ERR(chmod(f, 0600), EPERM);
	fd = SYS(open(f, O_WRONLY | O_APPEND));
	write_full(fd, "def", 3);
	ERR(ftruncate(fd, 1), EPERM);
	SYS(close(fd));
	set_flags(f, 0);
	fd = SYS(open(f, O_RDONLY));
	read_full(fd, buf, 6);
	CHECK(!memcmp(buf, "abcdef", 6), "append-only file reads '%s'", buf);
	SYS(close(fd));

	/* an immutable directory: nothing created or removed in it */
	set_flags(d, FS_IMMUTABLE_FL);
	ERR(open(P("%s/new", d), O_CREAT | O_WRONLY, 0644), EPERM);
	ERR(mkdir(P("%s/sub", d), 0755), EPERM);
	ERR(unlink(P("%s/x", d)), EPERM);
	ERR(rename(P("%s/x", d), P("%s/y", d)), EPERM);
	set_flags(d, 0);
	/* append-only directory: created in, not removed from */
	set_flags(d, FS_APPEND_FL);
	put_file(P("%s/new", d), "n", 1, 0644);
	ERR(unlink(P("%s/new", d)), EPERM);
	set_flags(d, 0);

	/* noatime is kept; the owner may set it, not i or a */
	set_flags(f, FS_NOATIME_FL);
	set_flags(f, 0);
	SYS(chown(f, U1, G1));
	fl_path = f;
	CHECK(run_as(U1, G1, fl_as_u1, NULL) == 0, "flags as the owner uid %d", U1);
	return 0;
}

/* ------------------------------------------- whiteouts, trusted, overlayfs */

static void expect_whiteout(const char *path)
{
	struct stat st;

	SYS(lstat(path, &st));
	CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
	      "%s: mode %o rdev %#llx, want a 0:0 character device", path,
	      st.st_mode, (unsigned long long)st.st_rdev);
}

static int trusted_as_u1(void *arg)
{
	char buf[256];
	ssize_t n;

	ERR(setxattr((const char *)arg, "trusted.t", "1", 1, 0), EPERM);
	n = SYS(listxattr((const char *)arg, buf, sizeof(buf)));
	for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
		CHECK(strncmp(buf + i, "trusted.", 8), "uid %d lists %s", U1, buf + i);
	return 0;
}

/* renameat2 RENAME_WHITEOUT (root: CAP_MKNOD) and trusted.* for root. */
DECLARE_CASE(rename_whiteout)
{
	const char *a = P("%s/a", dir), *b = P("%s/b", dir), *c = P("%s/c", dir);
	const char *d = P("%s/d", dir), *e = P("%s/e", dir);
	char buf[16] = "";

	need_root();
	SYS(chmod(dir, 0777));
	put_file(a, "A", 1, 0644);
	SYS(renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_WHITEOUT));
	expect_whiteout(a);
	put_file(c, "C", 1, 0644);
	SYS(renameat2(AT_FDCWD, b, AT_FDCWD, c, RENAME_WHITEOUT));
	expect_whiteout(b);
	{
		int fd = SYS(open(c, O_RDONLY));

		read_full(fd, buf, 1);
		SYS(close(fd));
	}
	CHECK(buf[0] == 'A', "renamed over: reads %c", buf[0]);
	ERR(renameat2(AT_FDCWD, c, AT_FDCWD, a, RENAME_WHITEOUT | RENAME_EXCHANGE),
	    EINVAL);
	SYS(mkdir(d, 0755));
	SYS(renameat2(AT_FDCWD, d, AT_FDCWD, e, RENAME_WHITEOUT));
	expect_whiteout(d);
	SYS(rmdir(e));
	/* trusted.* (overlayfs keeps its metadata there): root only */
	SYS(setxattr(c, "trusted.overlay.opaque", "y", 1, 0));
	CHECK(getxattr(c, "trusted.overlay.opaque", buf, sizeof(buf)) == 1 &&
	      buf[0] == 'y', "trusted.overlay.opaque reads back wrong");
	SYS(chmod(c, 0666));
	CHECK(run_as(U1, G1, trusted_as_u1, (void *)c) == 0, "trusted.* as uid %d", U1);
	return 0;
}

/* The checks on a mounted overlay @m (in a child: the parent unmounts). */
static int overlay_checks(const char *m, const char *up, const char *lo)
{
	char buf[32] = "";
	struct stat st;
	int fd;

	/* copy-up on write; the lower file stays */
	fd = SYS(open(P("%s/lf", m), O_WRONLY | O_APPEND));
	write_full(fd, "+up", 3);
	SYS(close(fd));
	fd = SYS(open(P("%s/lf", up), O_RDONLY));
	read_full(fd, buf, 8);
	SYS(close(fd));
	CHECK(!memcmp(buf, "lower+up", 8), "upper copy reads '%s'", buf);
	SYS(stat(P("%s/lf", lo), &st));
	CHECK(st.st_size == 5, "lower file changed");
	/* a removed lower file leaves a whiteout in the upper */
	SYS(unlink(P("%s/gone", m)));
	ERR(stat(P("%s/gone", m), &st), ENOENT);
	expect_whiteout(P("%s/gone", up));
	/* a merged directory renamed, its lower content still there */
	SYS(rename(P("%s/ld", m), P("%s/ld2", m)));
	SYS(stat(P("%s/ld2/x", m), &st));
	ERR(stat(P("%s/ld", m), &st), ENOENT);
	/* a new directory over a removed one is opaque */
	SYS(mkdir(P("%s/nd", m), 0755));
	put_file(P("%s/nd/y", m), "y", 1, 0644);
	SYS(unlink(P("%s/nd/y", m)));
	SYS(rmdir(P("%s/nd", m)));
	return 0;
}

/*
 * overlayfs with its upper and work directories here: copy-up, whiteouts,
 * opaque and renamed merged directories (root; skipped where the kernel
 * has no overlayfs).
 */
DECLARE_CASE(overlay_upper)
{
	const char *lo = P("%s/lower", dir), *up = P("%s/upper", dir);
	const char *wk = P("%s/work", dir), *m = P("%s/merged", dir);
	pid_t pid;
	int st;

	need_root();
	SYS(mkdir(lo, 0755));
	SYS(mkdir(up, 0755));
	SYS(mkdir(wk, 0755));
	SYS(mkdir(m, 0755));
	put_file(P("%s/lf", lo), "lower", 5, 0644);
	put_file(P("%s/gone", lo), "g", 1, 0644);
	SYS(mkdir(P("%s/ld", lo), 0755));
	put_file(P("%s/ld/x", lo), "x", 1, 0644);
	if (mount("overlay", m, "overlay", 0,
		  P("lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=on", lo, up, wk))) {
		if (errno == ENODEV)
			skip("no overlayfs in this kernel");
		FAIL("mount overlay with the upper here: %s (dmesg says why)",
		     errname(errno));
	}
	pid = SYS(fork());
	if (pid == 0)
		_exit(overlay_checks(m, up, lo));
	st = wait_status(pid);
	/* unmounted whatever happened: the runner removes the directory */
	if (umount2(m, 0))
		SYS(umount2(m, MNT_DETACH));
	CHECK(st == 0, "the checks on the overlay failed (above)");
	return 0;
}
