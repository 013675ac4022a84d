// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flags.c - inode flags (chattr/lsattr): FS_IOC_GETFLAGS/SETFLAGS and
 * FS_IOC_FSGETXATTR/FSSETXATTR, and what immutable and append-only forbid.
 *
 * The kernel sends these ioctls for its fileattr calls (on files and
 * directories) after checking ownership and CAP_LINUX_IMMUTABLE.  A FUSE
 * inode carries no S_IMMUTABLE/S_APPEND in the kernel, so the VFS does not
 * enforce them: the handlers ask node_flag_denies() (tmpfs's rules: an
 * immutable inode changes in no way, an append-only one is only appended
 * to; neither is unlinked, renamed or linked; nothing is created in an
 * immutable directory, nothing removed from an append-only one).
 */
#include <errno.h>
#include <string.h>
#include <linux/fs.h>

#include "usmfs.h"

/* The flags tmpfs keeps. */
#define FL_USER	(FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL)

static const struct {
	uint32_t fl, xfl;
} fl_map[] = {
	{ FS_IMMUTABLE_FL, FS_XFLAG_IMMUTABLE },
	{ FS_APPEND_FL, FS_XFLAG_APPEND },
	{ FS_NODUMP_FL, FS_XFLAG_NODUMP },
	{ FS_NOATIME_FL, FS_XFLAG_NOATIME },
};

static uint32_t to_xflags(uint32_t fl)
{
	uint32_t x = 0;

	for (size_t i = 0; i < sizeof(fl_map) / sizeof(fl_map[0]); i++)
		if (fl & fl_map[i].fl)
			x |= fl_map[i].xfl;
	return x;
}

/* FS_XFLAG_* to FS_*_FL; -1 for a flag tmpfs does not keep. */
static int64_t from_xflags(uint32_t x)
{
	uint32_t fl = 0;

	for (size_t i = 0; i < sizeof(fl_map) / sizeof(fl_map[0]); i++)
		if (x & fl_map[i].xfl) {
			fl |= fl_map[i].fl;
			x &= ~fl_map[i].xfl;
		}
	return x ? -1 : (int64_t)fl;
}

int node_flag_denies(const struct node *n, enum flag_op op)
{
	uint32_t f = n->fsflags;

	switch (op) {
	case FLAG_CHANGE:	/* data, attributes, xattrs */
		return f & FS_IMMUTABLE_FL ? EPERM : 0;
	case FLAG_META:		/* mode, owner, size: not even appended */
	case FLAG_REMOVE:	/* unlink, rename, link of the inode */
		return f & (FS_IMMUTABLE_FL | FS_APPEND_FL) ? EPERM : 0;
	case FLAG_DIR_ADD:	/* an entry added to the directory */
		return f & FS_IMMUTABLE_FL ? EPERM : 0;
	case FLAG_DIR_REMOVE:	/* an entry removed from the directory */
		return f & (FS_IMMUTABLE_FL | FS_APPEND_FL) ? EPERM : 0;
	}
	return 0;
}

/* Moving @n from @p to @np, over @victim (or NULL). */
int rename_flag_denies(const struct node *p, const struct node *n,
		       const struct node *np, const struct node *victim)
{
	int err = node_flag_denies(p, FLAG_DIR_REMOVE);

	if (!err)
		err = node_flag_denies(np, victim ? FLAG_DIR_REMOVE :
					   FLAG_DIR_ADD);
	if (!err)
		err = node_flag_denies(n, FLAG_REMOVE);
	if (!err && victim)
		err = node_flag_denies(victim, FLAG_REMOVE);
	return err;
}

int node_flag_open_denies(const struct node *n, int flags)
{
	bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);

	if (!writes)
		return 0;
	if (n->fsflags & FS_IMMUTABLE_FL)
		return EPERM;
	if ((n->fsflags & FS_APPEND_FL) &&
	    (!(flags & O_APPEND) || (flags & O_TRUNC)))
		return EPERM;
	return 0;
}

static int set_flags(struct node *n, int64_t fl)
{
	if (fl < 0 || (fl & ~(int64_t)FL_USER))
		return EOPNOTSUPP;
	pthread_mutex_lock(&fs.lock);
	n->fsflags = (uint32_t)fl;
	node_touch(&n->ctime);
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

void usmfs_ll_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
		    void *arg, struct fuse_file_info *fi, unsigned flags,
		    const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	const void *out = NULL;
	size_t in_len = 0, out_len = 0;
	struct fsxattr fx;
	struct node *n;
	uint32_t fl;
	int err = 0;

	(void)arg;
	(void)fi;
	switch (cmd) {
	case FS_IOC_GETFLAGS:
		out = &fl;
		out_len = sizeof(int);
		break;
	case FS_IOC_SETFLAGS:
		in_len = sizeof(int);
		break;
	case FS_IOC_FSGETXATTR:
		out = &fx;
		out_len = sizeof(fx);
		break;
	case FS_IOC_FSSETXATTR:
		in_len = sizeof(fx);
		break;
	default:
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if ((flags & FUSE_IOCTL_COMPAT) || in_bufsz < in_len ||
	    out_bufsz < out_len) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	n = node_get(ino);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pthread_mutex_lock(&fs.lock);
	fl = n->fsflags;
	pthread_mutex_unlock(&fs.lock);
	memset(&fx, 0, sizeof(fx));
	fx.fsx_xflags = to_xflags(fl);
	if (cmd == FS_IOC_SETFLAGS) {
		memcpy(&fl, in_buf, sizeof(int));
		err = set_flags(n, fl);
	} else if (cmd == FS_IOC_FSSETXATTR) {
		memcpy(&fx, in_buf, sizeof(fx));
		/* no extent size, project id or CoW hint here */
		if (fx.fsx_extsize || fx.fsx_projid || fx.fsx_cowextsize)
			err = EOPNOTSUPP;
		else
			err = set_flags(n, from_xflags(fx.fsx_xflags));
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_ioctl(req, 0, out, out_len);
	node_put(n);
}
