// SPDX-License-Identifier: GPL-2.0-only
/*
 * t_acl.c - POSIX ACLs (issue 14 item 7): an access ACL set through
 * system.posix_acl_access in the kernel's binary format is enforced for a
 * named user, chmod rewrites its mask, a default ACL is inherited by new
 * files and directories (the umask then does not apply), and a noacl
 * mount (USMFS_NOACL_DIR, when the lane has one) refuses ACLs.
 */
#include <sys/stat.h>
#include <sys/xattr.h>

#include "fstest.h"

#define U1	1001
#define U2	1002
#define G1	2001

#define ACL_ACCESS	"system.posix_acl_access"
#define ACL_DEFAULT	"system.posix_acl_default"

/* The kernel's xattr format of an ACL (include/uapi/linux/posix_acl_xattr.h). */
enum { T_USER_OBJ = 1, T_USER = 2, T_GROUP_OBJ = 4, T_GROUP = 8,
       T_MASK = 0x10, T_OTHER = 0x20 };
#define ACL_UNDEF_ID	0xffffffffu
#define ACL_MAX		8

struct acl_ent {
	uint16_t tag, perm;
	uint32_t id;
};

struct acl_buf {
	uint32_t version;
	struct acl_ent e[ACL_MAX];
};

/* Build the xattr value of @n entries (tag, perm, id; already sorted). */
static size_t acl_make(struct acl_buf *b, int n, const struct acl_ent *e)
{
	b->version = 2;
	for (int i = 0; i < n; i++)
		b->e[i] = e[i];
	return sizeof(b->version) + (size_t)n * sizeof(b->e[0]);
}

static void acl_set(const char *path, const char *name, int n,
		    const struct acl_ent *e)
{
	struct acl_buf b;
	size_t len = acl_make(&b, n, e);

	SYS(setxattr(path, name, &b, len, 0));
}

/* @path's ACL @name must be exactly the @n entries @e. */
static void acl_expect(const char *path, const char *name, int n,
		       const struct acl_ent *e)
{
	struct acl_buf want, got;
	size_t len = acl_make(&want, n, e);
	ssize_t r = getxattr(path, name, &got, sizeof(got));

	CHECK(r >= 0, "getxattr %s %s: %s", path, name, errname(errno));
	CHECK((size_t)r == len, "%s %s: %zd bytes, expected %zu", path, name,
	      r, len);
	for (int i = 0; i < n; i++)
		CHECK(got.e[i].tag == e[i].tag && got.e[i].perm == e[i].perm &&
		      (e[i].id == ACL_UNDEF_ID || got.e[i].id == e[i].id),
		      "%s %s entry %d: tag %#x perm %o id %u, expected %#x %o %u",
		      path, name, i, got.e[i].tag, got.e[i].perm, got.e[i].id,
		      e[i].tag, e[i].perm, e[i].id);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	SYS(stat(path, &st));
	return st.st_mode & 07777;
}

/* open(@path, @flags) as the child: its errno, 0 if it opened. */
static const char *as_path;
static int as_flags;

static int open_as(void *arg)
{
	int fd = open(as_path, as_flags);

	(void)arg;
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int open_errno(uid_t uid, const char *path, int flags)
{
	as_path = path;
	as_flags = flags;
	return run_as(uid, G1, open_as, NULL);
}

#define CAN(uid, path, flags) \
	CHECK(open_errno(uid, path, flags) == 0, "uid %d: open(%s, %s) denied", \
	      uid, path, #flags)
#define CANNOT(uid, path, flags) \
	CHECK(open_errno(uid, path, flags) == EACCES, \
	      "uid %d: open(%s, %s) not EACCES", uid, path, #flags)

static void check_noacl(void)
{
	const char *d = getenv("USMFS_NOACL_DIR");
	const char *f;
	struct acl_buf b;
	size_t len;

	if (!d || !*d) {
		note("no USMFS_NOACL_DIR: noacl not checked");
		return;
	}
	f = P("%s/acl-off", d);
	put_file(f, "x", 1, 0600);
	len = acl_make(&b, 3, (struct acl_ent[]){
		{ T_USER_OBJ, 6, ACL_UNDEF_ID }, { T_GROUP_OBJ, 0, ACL_UNDEF_ID },
		{ T_OTHER, 0, ACL_UNDEF_ID } });
	ERR(setxattr(f, ACL_ACCESS, &b, len, 0), EOPNOTSUPP);
	ERR(getxattr(f, ACL_ACCESS, &b, sizeof(b)), EOPNOTSUPP);
	ERR(setxattr(d, ACL_DEFAULT, &b, len, 0), EOPNOTSUPP);
	SYS(unlink(f));
}

DECLARE_CASE(posix_acl)
{
	const char *f = P("%s/f", dir), *d = P("%s/d", dir);
	const char *df = P("%s/f", d), *dd = P("%s/sub", d);
	char names[4096];
	ssize_t nl;

	need_root();
	umask(022);
	SYS(chmod(dir, 0755));

	/* access ACL: user 1001 may read, nobody else but the owner */
	put_file(f, "data", 4, 0600);
	CANNOT(U1, f, O_RDONLY);
	acl_set(f, ACL_ACCESS, 5, (struct acl_ent[]){
		{ T_USER_OBJ, 6, ACL_UNDEF_ID }, { T_USER, 4, U1 },
		{ T_GROUP_OBJ, 0, ACL_UNDEF_ID }, { T_MASK, 4, ACL_UNDEF_ID },
		{ T_OTHER, 0, ACL_UNDEF_ID } });
	CHECK(mode_of(f) == 0640, "mode %o after the ACL, expected 640 "
	      "(group bits are the mask)", mode_of(f));
	CAN(U1, f, O_RDONLY);
	CANNOT(U1, f, O_WRONLY);
	CANNOT(U2, f, O_RDONLY);
	nl = listxattr(f, names, sizeof(names));
	CHECK(nl > 0 && memmem(names, (size_t)nl, ACL_ACCESS,
			       sizeof(ACL_ACCESS)), "listxattr lacks " ACL_ACCESS);

	/* chmod rewrites the mask, not the named entry */
	SYS(chmod(f, 0600));
	CANNOT(U1, f, O_RDONLY);
	acl_expect(f, ACL_ACCESS, 5, (struct acl_ent[]){
		{ T_USER_OBJ, 6, ACL_UNDEF_ID }, { T_USER, 4, U1 },
		{ T_GROUP_OBJ, 0, ACL_UNDEF_ID }, { T_MASK, 0, ACL_UNDEF_ID },
		{ T_OTHER, 0, ACL_UNDEF_ID } });
	SYS(chmod(f, 0660));
	CAN(U1, f, O_RDONLY);
	CANNOT(U1, f, O_WRONLY);	/* named entry r--, mask rw- */
	SYS(removexattr(f, ACL_ACCESS));
	CANNOT(U1, f, O_RDONLY);
	ERR(getxattr(f, ACL_ACCESS, names, sizeof(names)), ENODATA);

	/* default ACL: inherited, and the umask does not apply */
	SYS(mkdir(d, 0755));
	acl_set(d, ACL_DEFAULT, 5, (struct acl_ent[]){
		{ T_USER_OBJ, 7, ACL_UNDEF_ID }, { T_USER, 6, U1 },
		{ T_GROUP_OBJ, 5, ACL_UNDEF_ID }, { T_MASK, 7, ACL_UNDEF_ID },
		{ T_OTHER, 0, ACL_UNDEF_ID } });
	put_file(df, "x", 1, 0666);
	CHECK(mode_of(df) == 0660, "new file mode %o, expected 660", mode_of(df));
	acl_expect(df, ACL_ACCESS, 5, (struct acl_ent[]){
		{ T_USER_OBJ, 6, ACL_UNDEF_ID }, { T_USER, 6, U1 },
		{ T_GROUP_OBJ, 5, ACL_UNDEF_ID }, { T_MASK, 6, ACL_UNDEF_ID },
		{ T_OTHER, 0, ACL_UNDEF_ID } });
	ERR(getxattr(df, ACL_DEFAULT, names, sizeof(names)), ENODATA);
	CAN(U1, df, O_RDWR);
	CANNOT(U2, df, O_RDONLY);

	SYS(mkdir(dd, 0777));
	CHECK(mode_of(dd) == 0770, "new dir mode %o, expected 770", mode_of(dd));
	acl_expect(dd, ACL_ACCESS, 5, (struct acl_ent[]){
		{ T_USER_OBJ, 7, ACL_UNDEF_ID }, { T_USER, 6, U1 },
		{ T_GROUP_OBJ, 5, ACL_UNDEF_ID }, { T_MASK, 7, ACL_UNDEF_ID },
		{ T_OTHER, 0, ACL_UNDEF_ID } });
	acl_expect(dd, ACL_DEFAULT, 5, (struct acl_ent[]){
		{ T_USER_OBJ, 7, ACL_UNDEF_ID }, { T_USER, 6, U1 },
		{ T_GROUP_OBJ, 5, ACL_UNDEF_ID }, { T_MASK, 7, ACL_UNDEF_ID },
		{ T_OTHER, 0, ACL_UNDEF_ID } });

	/* no default ACL: the umask applies again */
	SYS(removexattr(d, ACL_DEFAULT));
	put_file(P("%s/g", d), "x", 1, 0666);
	CHECK(mode_of(P("%s/g", d)) == 0644, "mode %o without a default ACL, "
	      "expected 644 (umask 022)", mode_of(P("%s/g", d)));

	check_noacl();
	return 0;
}
