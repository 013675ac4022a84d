// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * io.c - the daemon's reads from /dev/fuse: requests newer than libfuse.
 *
 * libfuse 3.14 (Debian bookworm) answers the kernel's FUSE_TMPFILE (7.37)
 * and FUSE_STATX (7.39) with ENOSYS, and the kernel then gives up on them
 * (O_TMPFILE is EOPNOTSUPP, statx has no birth time).  The session's custom
 * read (fuse_session_custom_io) looks at each request before libfuse does:
 *
 *   FUSE_TMPFILE  carries what FUSE_CREATE carries and wants the same reply:
 *                 it goes on as a FUSE_CREATE, marked for this thread
 *                 (io_take_tmpfile), and usmfs_ll_create makes a file with
 *                 no name;
 *   FUSE_STATX    is answered here: the attributes getattr gives, and the
 *                 birth time.
 *
 *   FUSE_INIT     when the kernel offers FUSE_HANDLE_KILLPRIV_V2 (7.33,
 *                 unknown to libfuse 3.14), our reply takes it (io_writev):
 *                 the kernel then sets SB_NOSEC on the mount, and an inode
 *                 found once without setuid/setgid or security.capability
 *                 is S_NOSEC until its attributes are refreshed.  Without
 *                 it every write(2) asks for security.capability first (a
 *                 GETXATTR round trip; dozens per io_uring write, whose
 *                 non-blocking attempts are retried).  In exchange the
 *                 daemon clears setuid/setgid itself where the kernel says
 *                 so: FUSE_WRITE_KILL_SUIDGID on a WRITE, FATTR_KILL_SUIDGID
 *                 on a SETATTR (truncate, chown), which libfuse 3.14 drops,
 *                 and the SETATTRs the kernel empties (setattr_kill):
 *                 io_take_kill() tells the handler.  (FUSE_OPEN_KILL_SUIDGID
 *                 comes only with an atomic O_TRUNC, which is off.)
 *
 * The request is processed by the thread that read it, before its next read,
 * and a reply to INIT is written by the thread that read the INIT, so
 * thread-local marks are enough.  Splice reads would bypass this read: the
 * daemon does not ask for them (usmfs_ll_init).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "usmfs.h"

#define OP_TMPFILE	51
#define OP_STATX	52

/* The kernel's struct fuse_statx_in / fuse_statx_out (protocol 7.39). */
struct sx_in {
	uint32_t getattr_flags;
	uint32_t reserved;
	uint64_t fh;
	uint32_t sx_flags;
	uint32_t sx_mask;
};

struct sx_time {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};

struct sx_attr {
	uint32_t mask;
	uint32_t blksize;
	uint64_t attributes;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint16_t mode;
	uint16_t spare0;
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;
	uint64_t attributes_mask;
	struct sx_time atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare2[14];
};

struct sx_out {
	uint64_t attr_valid;
	uint32_t attr_valid_nsec;
	uint32_t flags;
	uint64_t spare[2];
	struct sx_attr stat;
};

_Static_assert(sizeof(struct sx_in) == 24, "fuse_statx_in");
_Static_assert(sizeof(struct sx_out) == 288, "fuse_statx_out");

static _Thread_local bool tmpfile_mark;
static _Thread_local int kill_mark;
/* the INIT this thread read, if its reply is to take KILLPRIV_V2 */
static _Thread_local uint64_t init_unique;

bool io_take_tmpfile(void)
{
	bool t = tmpfile_mark;

	tmpfile_mark = false;
	return t;
}

int io_take_kill(void)
{
	int k = kill_mark;

	kill_mark = KILL_NONE;
	return k;
}

/*
 * What a SETATTR with @valid asks to kill.  FATTR_KILL_SUIDGID comes with
 * a chown and with a truncate by a caller without CAP_FSETID.  The other
 * paths that clear the bits go through notify_change() with ATTR_KILL_*,
 * which the kernel's fuse_setattr strips under KILLPRIV_V2 with the mode
 * change they carried: what reaches us then changes nothing but, at most,
 * the ctime.  Only the ctime: a chown(f, -1, -1), which clears setuid
 * whoever calls it.  Nothing at all: file_remove_privs() (fallocate, a
 * hole punched, copy_file_range), which clears them only for a caller
 * without CAP_FSETID (KILL_CALLER).
 */
static int setattr_kill(uint32_t valid)
{
	const uint32_t change = FATTR_MODE | FATTR_UID | FATTR_GID |
		FATTR_SIZE | FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW |
		FATTR_MTIME_NOW;

	if (!fs.killpriv)
		return KILL_NONE;
	if (valid & FATTR_KILL_SUIDGID)
		return KILL_ALWAYS;
	if (valid & change)
		return KILL_NONE;
	return (valid & FATTR_CTIME) ? KILL_ALWAYS : KILL_CALLER;
}

/* Note what libfuse would not pass on of request @ih (@len bytes). */
static void io_look(const struct fuse_in_header *ih, size_t len)
{
	const void *arg = ih + 1;

	len -= sizeof(*ih);
	switch (ih->opcode) {
	case FUSE_INIT:
		if (len >= offsetof(struct fuse_init_in, flags2) &&
		    (((const struct fuse_init_in *)arg)->flags &
		     FUSE_HANDLE_KILLPRIV_V2) && !fs.no_killpriv)
			init_unique = ih->unique;
		break;
	case FUSE_WRITE:
		if (len >= sizeof(struct fuse_write_in) &&
		    (((const struct fuse_write_in *)arg)->write_flags &
		     FUSE_WRITE_KILL_SUIDGID))
			kill_mark = KILL_ALWAYS;
		break;
	case FUSE_SETATTR:
		if (len >= sizeof(struct fuse_setattr_in))
			kill_mark = setattr_kill(
				((const struct fuse_setattr_in *)arg)->valid);
		break;
	}
}

static struct sx_time sx_ts(const struct timespec *ts)
{
	struct sx_time t = { ts->tv_sec, (uint32_t)ts->tv_nsec, 0 };

	return t;
}

static void reply_raw(int fd, uint64_t unique, int err, const void *arg,
		      size_t len)
{
	struct fuse_out_header oh = {
		.len = (uint32_t)(sizeof(oh) + (err ? 0 : len)),
		.error = -err,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ &oh, sizeof(oh) },
		{ (void *)arg, len },
	};

	/* ENOENT: the request was interrupted; nothing else to do */
	if (writev(fd, iov, err ? 1 : 2) < 0 && fs.debug)
		fprintf(stderr, "usmfs: statx reply: %s\n", strerror(errno));
}

/* Answer a FUSE_STATX request (@ih, @len bytes read). */
static void do_statx(int fd, const struct fuse_in_header *ih, size_t len)
{
	struct sx_out out;
	struct node *n;
	struct stat st;
	double secs = fs.timeout;

	if (len < sizeof(*ih) + sizeof(struct sx_in)) {
		reply_raw(fd, ih->unique, EINVAL, NULL, 0);
		return;
	}
	memset(&out, 0, sizeof(out));
	pthread_mutex_lock(&fs.lock);
	n = node_find_locked(ih->nodeid);
	if (n) {
		node_fill_stat_locked(n, &st);
		out.stat.btime = sx_ts(&n->btime);
	}
	pthread_mutex_unlock(&fs.lock);
	if (!n) {
		reply_raw(fd, ih->unique, ENOENT, NULL, 0);
		return;
	}
	out.attr_valid = (uint64_t)secs;
	out.attr_valid_nsec = (uint32_t)((secs - (double)out.attr_valid) * 1e9);
	out.stat.mask = STATX_BASIC_STATS | STATX_BTIME;
	out.stat.blksize = (uint32_t)st.st_blksize;
	out.stat.nlink = (uint32_t)st.st_nlink;
	out.stat.uid = st.st_uid;
	out.stat.gid = st.st_gid;
	out.stat.mode = (uint16_t)st.st_mode;
	out.stat.ino = st.st_ino;
	out.stat.size = (uint64_t)st.st_size;
	out.stat.blocks = (uint64_t)st.st_blocks;
	out.stat.atime = sx_ts(&st.st_atim);
	out.stat.ctime = sx_ts(&st.st_ctim);
	out.stat.mtime = sx_ts(&st.st_mtim);
	out.stat.rdev_major = major(st.st_rdev);
	out.stat.rdev_minor = minor(st.st_rdev);
	reply_raw(fd, ih->unique, 0, &out, sizeof(out));
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fuse_in_header *ih = buf;
	ssize_t r;

	(void)userdata;
	tmpfile_mark = false;
	kill_mark = KILL_NONE;
	for (;;) {
		r = read(fd, buf, len);
		if (r < (ssize_t)sizeof(*ih))
			return r;
		if (ih->opcode == OP_STATX) {
			do_statx(fd, ih, (size_t)r);
			continue;
		}
		if (ih->opcode == OP_TMPFILE) {
			ih->opcode = FUSE_CREATE;
			tmpfile_mark = true;
		}
		io_look(ih, (size_t)r);
		return r;
	}
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *oh = iov[0].iov_base;

	(void)userdata;
	if (init_unique && count == 2 && iov[0].iov_len >= sizeof(*oh) &&
	    oh->unique == init_unique) {
		init_unique = 0;
		if (!oh->error && iov[1].iov_len >=
		    offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
			((struct fuse_init_out *)iov[1].iov_base)->flags |=
				FUSE_HANDLE_KILLPRIV_V2;
			fs.killpriv = true;
		}
	}
	return writev(fd, iov, count);
}

int io_setup(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
