/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * usmfs.h - the FUSE frontend of usmfs: shared state of the daemon.
 *
 * One global struct usmfs (fs) holds everything.  Lock order:
 *
 *	fs.lock  ->  the library's ctx lock  (usm_* calls that do no I/O:
 *	             usm_file_stats, usm_file_getxattr, usm_ctx_policy_for)
 *	evict.lock is a leaf.
 *
 * fs.lock protects the inode table, every directory, every inode's
 * attributes, link counts, lookup counts and ordinary xattrs.  Calls that may
 * evict, swap or wait (usm_fault, usm_truncate, usm_punch, usm_balance,
 * usm_file_release, usm_file_setxattr) are made WITHOUT fs.lock: eviction
 * calls our backend's unmap, which may call into the kernel, which may send us
 * a write that needs fs.lock.  Handlers keep an inode alive across such calls
 * with a busy reference (node_get/node_put).
 */
#ifndef USMFS_H
#define USMFS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <usm/usm.h>

/* Largest file: MAX_LFS_FILESIZE, as tmpfs (page indices < 2^51). */
#define USMFS_MAX_FILE_SIZE	((uint64_t)INT64_MAX)
#define USMFS_NAME_MAX		255
#define USMFS_SYMLINK_MAX	4096
#define USMFS_XATTR_VALUE_MAX	65536
#define USMFS_XATTR_TOTAL_MAX	(1u << 20)	/* per inode, names + values */
/*
 * The mount's inode space, as tmpfs keeps it: nr_inodes x 1 KiB, an inode
 * costs 1 KiB of it and an xattr its footprint (xattr_cost()); df -i shows
 * what is left in 1 KiB units.  The xattrs of a mount also stay within its
 * size= (fs.xattr_cap), so that one user's xattrs cannot make the daemon
 * bigger than the mount.
 */
#define USMFS_INODE_COST	1024u
#define USMFS_EVICT_BATCH	256u		/* pages per eviction batch */
/* How long a new daemon waits for a store another one still holds. */
#define USMFS_STORE_WAIT_MS	10000

struct node;

/* A directory entry.  @cookie is its stable readdir offset. */
struct dent {
	struct dent *hnext;		/* the directory's name hash chain */
	struct node *dir;		/* the directory holding it */
	struct node *node;		/* the inode it names */
	uint64_t cookie;
	uint32_t hash;
	char name[];
};

/* A directory's entries in cookie order; @d is NULL once removed. */
struct order_ent {
	uint64_t cookie;
	struct dent *d;
};

/* The entries of a directory. */
struct dirdata {
	struct dent **buckets;		/* name hash */
	size_t nbuckets;
	struct order_ent *order;	/* by cookie, with holes */
	size_t norder, cap, live;
	uint64_t next_cookie;
};

/* An ordinary xattr (user.*, trusted.*, security.*). */
struct xattr {
	struct xattr *next;
	size_t len;
	char *name;
	char value[];
};

struct node {
	struct node *hnext;		/* inode table chain */
	uint64_t ino;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint32_t nlink;
	dev_t rdev;
	uint64_t size;			/* bytes (regular files, symlinks) */
	struct timespec atime, mtime, ctime;
	struct timespec btime;		/* birth (statx, io.c) */
	bool tmpfile;			/* O_TMPFILE, never linked: linkable */
	uint32_t fsflags;		/* chattr's FS_*_FL (flags.c) */

	uint64_t nlookup;		/* kernel references (lookup count) */
	uint32_t nopen;			/* open file handles */
	uint32_t busy;			/* handlers using it without fs.lock */

	struct dent *self;		/* directories: the entry naming it */
	struct dirdata *dir;		/* directories */
	char *target;			/* symlinks */
	struct usm_file *uf;		/* regular files: their pages */
	struct usm_file_policy pol;	/* directories: user.usm.* to inherit */

	struct xattr *xattrs;
	size_t xattr_bytes;
	bool attr_inval;		/* attributes invalidation queued */
	/* its store's room as last seen (file.c, store_room) */
	_Atomic uint64_t room_store, room_ms;
	atomic_bool room_busy;
};

struct usmfs {
	pthread_mutex_t lock;
	struct fuse_session *se;
	struct usm_ctx *ctx;
	struct usm_config *cfg;
	struct usm_mount_opts mo;

	/* Pool: one anonymous mapping of @pool_frames 4 KiB frames. */
	unsigned char *pool;
	uint64_t pool_frames;
	_Atomic uint64_t *dirty;	/* bit per frame: may hold data */

	/* Inodes. */
	struct node **itab;
	size_t itab_size, nr_nodes;
	uint64_t next_ino;
	uint64_t max_inodes;
	uint64_t xattr_total;		/* bytes charged to ordinary xattrs */
	uint64_t xattr_cap;		/* most of them: the pool size */
	struct node *root;

	bool writeback;			/* kernel writeback cache is on */
	bool noacl;			/* -o noacl: no POSIX ACLs */
	bool acl;			/* POSIX ACLs negotiated (acl.c) */
	bool single;			/* one request thread (-s) */
	bool killpriv;			/* FUSE_HANDLE_KILLPRIV_V2 taken (io.c) */
	bool no_killpriv;		/* -o no_killpriv_v2: do not take it */
	double timeout;			/* entry/attr cache timeout */
	bool debug;
	/* Dirty page-cache bytes the kernel may hold for the mount (the
	 * bdi's max_bytes): 0 = the pool size, UINT64_MAX = leave the
	 * kernel's default. */
	uint64_t max_dirty;
	/* Room kept for what the kernel may hold dirty (the bdi's limit as
	 * set or found): write(2) gets ENOSPC when less is left. */
	uint64_t reserve;
	bool can_swap;			/* the mount's default store is not none */
	/* fusectl's abort file for our connection, or "" */
	char conn_abort[64];
};

extern struct usmfs fs;

/* inode.c */
int node_table_init(void);
void node_table_free(void);
struct node *node_find_locked(uint64_t ino);
struct node *node_new_locked(mode_t mode, uid_t uid, gid_t gid, int *err);
uint64_t ispace_free_locked(void);
struct node *node_get(fuse_ino_t ino);
void node_put(struct node *n);
void node_maybe_free_locked(struct node *n, struct usm_file **release);
void node_release_file(struct usm_file *uf);
void node_fill_stat_locked(const struct node *n, struct stat *st);
void node_touch(struct timespec *ts);
void node_kill_suidgid_locked(struct node *n);
bool caller_fsetid(fuse_req_t req);
bool node_kill_wanted(const struct node *n, int kill, bool capable);
void usmfs_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void usmfs_ll_forget_multi(fuse_req_t req, size_t count,
			   struct fuse_forget_data *forgets);
void usmfs_ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void usmfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		      int to_set, struct fuse_file_info *fi);

/* dir.c */
struct dirdata *dir_new(void);
void dir_free(struct dirdata *d);
int reply_entry_locked(fuse_req_t req, struct node *n);
int node_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, dev_t rdev, const char *target,
		struct node **out);
void usmfs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void usmfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode);
void usmfs_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode, dev_t rdev);
void usmfs_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		      const char *name);
void usmfs_ll_readlink(fuse_req_t req, fuse_ino_t ino);
void usmfs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		   const char *newname);
void usmfs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void usmfs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void usmfs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname,
		     unsigned int flags);
void usmfs_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void usmfs_ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi);
void usmfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi);
void usmfs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi);

/* file.c */
void usmfs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi);
void usmfs_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void usmfs_ll_release(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);
void usmfs_ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void usmfs_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi);
void usmfs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void usmfs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		    size_t size, off_t off, struct fuse_file_info *fi);
void usmfs_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			off_t offset, off_t length, struct fuse_file_info *fi);
void usmfs_ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		    struct fuse_file_info *fi);
int file_set_size(struct node *n, uint64_t size);
/* file handles: opened for writing */
#define FH_WRITE	1u
bool room_low(struct node *n);
double attr_timeout(struct node *n);
bool room_refuse(struct node *n);

/* flags.c */
enum flag_op {
	FLAG_CHANGE,		/* data, times, xattrs */
	FLAG_META,		/* mode, owner, size */
	FLAG_REMOVE,		/* unlink, rename or link of the inode */
	FLAG_DIR_ADD,		/* an entry added to the directory */
	FLAG_DIR_REMOVE,	/* an entry removed from the directory */
};
int node_flag_denies(const struct node *n, enum flag_op op);
int node_flag_open_denies(const struct node *n, int flags);
int rename_flag_denies(const struct node *p, const struct node *n,
		       const struct node *np, const struct node *victim);
void usmfs_ll_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
		    void *arg, struct fuse_file_info *fi, unsigned flags,
		    const void *in_buf, size_t in_bufsz, size_t out_bufsz);

/* io.c */
int io_setup(struct fuse_session *se);
bool io_take_tmpfile(void);
/* io_take_kill(): clear setuid/setgid for this request? */
enum { KILL_NONE, KILL_ALWAYS, KILL_CALLER /* if it lacks CAP_FSETID */ };
int io_take_kill(void);

/* xattr.c */
void xattr_free_all(struct node *n);
int xattr_store_locked(struct node *n, const char *name, const void *value,
		       size_t size, int flags);
struct xattr *xattr_get_locked(struct node *n, const char *name);
int xattr_drop_locked(struct node *n, const char *name);

/* acl.c */
#define ACL_NAME_ACCESS		"system.posix_acl_access"
#define ACL_NAME_DEFAULT	"system.posix_acl_default"
enum { ACL_ACCESS, ACL_DEFAULT };
int acl_type(const char *name);
int acl_setxattr(struct node *n, const char *name, const void *value,
		 size_t size, int flags);
void acl_chmod_locked(struct node *n);
int acl_inherit_locked(struct node *p, struct node *n, mode_t umask);
void usmfs_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       const char *value, size_t size, int flags);
void usmfs_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       size_t size);
void usmfs_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void usmfs_ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* backend.c */
int pool_map(uint64_t frames, char *err, size_t errlen);
void pool_unmap(void);
void *pool_frame(usm_frame_t f);
void pool_mark_dirty(usm_frame_t f);
extern const struct usm_backend_ops usmfs_backend_ops;
int evict_start(void);
void evict_stop(void);
bool evict_running(void);
void evict_kick(bool sweep);
void evict_after_fault(void);
void evict_inval_attr(uint64_t ino);

#endif /* USMFS_H */
