/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * usmfs.h - what the files of usmfs.ko share.
 *
 * Lock order (outermost first):
 *   inode->i_rwsem
 *     mapping->invalidate_lock      (faults take it shared, truncate and
 *                                    hole punching exclusive)
 *       page lock of a frame        (held by a fault until its PTE is set)
 *         chan.req_lock             (swap-in requests, swapin.c)
 *           usmfs_inode_info.frames xa_lock
 *             usmfs_pool.lock
 *             chan.qlock            (event queue: a SWAPIN_REQUEST is
 *                                    queued under the entry's xa_lock)
 *   usmfs_inode_info.lock (policy and xattrs) nests inside nothing of ours.
 *
 *   usmfs_pool.mounts_lock         (the mounts; kill_sb takes it first)
 *     sb->s_inode_list_lock        (walks of a mount's inodes)
 *       usmfs_inode_info.frames and .resv xa_lock
 *   usmfs_sb_info.files xa_lock nests inside nothing of ours.
 *
 * What outlives the mounts lock holds a pin (usmfs_pool_get_mount), and a
 * pin is dropped (usmfs_pool_put_mount: it may run kill_sb) with no lock of
 * ours held; an inode reference taken under a pin is dropped before it.
 */
#ifndef USMFS_H
#define USMFS_H

#include <linux/fs.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include <linux/workqueue.h>
#include <usm/xattr-defs.h>

#include "compat.h"

#define USMFS_MAGIC		0x75736d66	/* "usmf" */

/* ------------------------------------------------------------------ pool */

enum usmfs_source {
	USMFS_SRC_CMA,
	USMFS_SRC_CONTIG,
	USMFS_SRC_PAGES,
	USMFS_SRC_NR,
	USMFS_SRC_AUTO = USMFS_SRC_NR,
};

/**
 * struct usmfs_pool_chunk - one piece of the pool, taken at load, returned at
 * unload.
 * @base:	first page; frames of a chunk are physically contiguous
 * @nr:		frames in it
 * @src:	where it came from (how it goes back)
 */
struct usmfs_pool_chunk {
	struct page *base;
	unsigned long nr;
	enum usmfs_source src;
};

extern const char *const usmfs_source_names[USMFS_SRC_NR];

int usmfs_pool_init(u64 bytes, enum usmfs_source force);
void usmfs_pool_exit(void);
u64 usmfs_pool_bytes(void);
unsigned long usmfs_pool_nr_frames(void);
unsigned long usmfs_pool_nr_free(void);
struct page *usmfs_frame_page(unsigned long frame);
long usmfs_frame_alloc(void);
void usmfs_frame_release(unsigned long frame);
int usmfs_frames_reserve(unsigned long first, unsigned long nr);
bool usmfs_frames_aligned(unsigned long first, unsigned long nr);
long usmfs_frames_alloc_aligned(unsigned long nr);
void usmfs_frame_unreserve(unsigned long frame);
void usmfs_frame_take_reserved(unsigned long frame);

/* ------------------------------------------------------------ the policy */

enum usm_xattr_id {
#define USMFS_XATTR_ENUM(id, suffix, kind, lo, hi) USM_XATTR_##id,
	USM_XATTR_TABLE(USMFS_XATTR_ENUM)
#undef USMFS_XATTR_ENUM
	USM_XATTR_NR
};

/**
 * struct usmfs_policy - a file's or directory's user.usm.* settings, with
 * the same fields and defaults as libusmpolicy's struct usm_file_policy.
 * @set:	bit (1 << USM_XATTR_x) per attribute set on this inode; only
 *		these are listed and inherited
 */
struct usmfs_policy {
	char alloc[USM_NAME_MAX + 1];
	char evict[USM_NAME_MAX + 1];
	char swap[USM_NAME_MAX + 1];
	u32 prio;
	u64 limit;
	u32 set;
};

/* ------------------------------------------------------------ superblock */

/**
 * struct usmfs_sb_info - one mount.
 * @max_frames:		size= in frames (the mount's share of the pool)
 * @used_frames:	frames its files hold
 * @max_inodes:		nr_inodes=, 0 = unlimited
 * @nr_inodes:		inodes in use
 * @xattr_bytes:	bytes the stored xattrs of its inodes take (charged to
 *			the inode space, nr_inodes x USMFS_INODE_COST, as on
 *			tmpfs, and at most size=)
 * @opt_*:		the options as given, for show_options and remount
 * @pool_link:		on the pool's list of mounts (for the stats file)
 * @files:		inode number -> inode, the regular files (from
 *			creation to eviction): what the channel's commands,
 *			listing and sampling find files by
 * @nr_files:		how many there are
 */
struct usmfs_sb_info {
	unsigned long max_frames;
	atomic_long_t used_frames;
	spinlock_t stat_lock;
	unsigned long max_inodes;
	unsigned long nr_inodes;
	unsigned long xattr_bytes;

	u64 opt_size;		/* bytes, 0 = whole pool */
	u32 opt_size_pct;	/* non-zero: size was given as N% */
	umode_t opt_mode;
	kuid_t opt_uid;
	kgid_t opt_gid;
	char opt_alloc[USM_NAME_MAX + 1];
	char opt_evict[USM_NAME_MAX + 1];
	char opt_swap[PATH_MAX + 8];
	u64 opt_swapin_timeout_ms;
	u32 opt_explicit;	/* bit per usmfs_param given at mount or later */
	bool opt_noacl;		/* no POSIX ACLs (mount only) */

	atomic64_t faults;
	atomic64_t hits;
	atomic64_t window_maps;	/* faults that mapped a whole 2 MiB window */
	atomic_long_t swapped;	/* pages held as (store, slot) */
	atomic64_t evictions;	/* pages committed to a store */
	atomic64_t swapins;	/* pages brought back */
	atomic64_t overwrites;	/* swapped pages written whole, not read */
	atomic64_t evict_stale;	/* EVICTs refused: a TRUNCATED not seen */
	atomic64_t swapins_ahead; /* swap-ins asked ahead of a fault */
	struct super_block *sb;
	struct list_head pool_link;
	u32 chan_dev;		/* the channel's number for the mount */
	struct xarray files;
	atomic_long_t nr_files;
};

static inline struct usmfs_sb_info *USMFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}

void usmfs_pool_add_mount(struct usmfs_sb_info *sbi);
void usmfs_pool_del_mount(struct usmfs_sb_info *sbi);
struct list_head *usmfs_pool_lock_mounts(void);
void usmfs_pool_unlock_mounts(void);
struct usmfs_sb_info *usmfs_pool_get_mount(u32 dev, bool exact);
void usmfs_pool_put_mount(struct usmfs_sb_info *sbi);
int usmfs_files_add(struct usmfs_sb_info *sbi, struct inode *inode);
bool usmfs_files_del(struct usmfs_sb_info *sbi, struct inode *inode);
struct inode *usmfs_files_next(struct usmfs_sb_info *sbi, unsigned long *ino,
			       bool exact);
unsigned int usmfs_pool_nr_chunks(void);
void usmfs_pool_chunk_info(unsigned int i, unsigned long *nr,
			   enum usmfs_source *src, unsigned long *pfn);

/* ----------------------------------------------------------------- inode */

/**
 * struct usmfs_inode_info - an inode of usmfs.
 * @frames:	page index -> xa_mk_value(frame number); the file holds the
 *		pool's single reference on each frame's page
 * @lock:	protects @pol and @xattrs
 * @pol:	user.usm.* settings
 * @xattrs:	other xattrs (user.*, trusted.*, security.*)
 * @xattr_bytes: what @xattrs take, bounded
 * @faults:	page faults on this file
 * @hits:	of which found the page resident
 * @resv:	page index -> xa_mk_value(frame) the server reserved for it
 *		(USMFS_CMD_GRANT); taken by the page's first fault
 * @nr_swapped:	pages of the file held as (store, slot)
 * @evictions, @swapins: pages of the file committed to a store, brought back
 * @sample_next: where access sampling goes on in this file
 * @ra_next, @ra_win: swap-in read-ahead (usmfs_swapin_ahead); racy hints
 * @tailzero:	bytes of swapped pages to zero when they come back
 *
 * Pages sampled for USMFS_F_ACCESS carry XA_MARK_2 in @frames (XA_MARK_0
 * is fallocate's undo mark): the first access after sampling clears it and
 * reports it.
 */
/* Truncations remembered per file for EVICT's check (usmfs_evict_stale()). */
#define USMFS_TRUNC_RING	4

struct usmfs_inode_info {
	struct xarray frames;
	struct xarray resv;
	spinlock_t lock;
	struct usmfs_policy pol;
	struct list_head xattrs;
	size_t xattr_bytes;
	atomic64_t faults;
	atomic64_t hits;
	atomic_long_t nr_swapped;
	atomic64_t evictions;
	atomic64_t swapins;
	unsigned long sample_next;
	pgoff_t ra_next;	/* swap-in read-ahead: where a run goes on */
	unsigned int ra_win;	/* and how far it reads ahead */
	struct list_head tailzero;	/* under @lock: usmfs_tailzero */
	bool chan_gone;		/* evicted: not replayed to a server */
	/*
	 * Under frames' xa_lock: a truncation of [trunc_first, trunc_last]
	 * was reported and its entries are not all erased yet.
	 */
	bool truncating;
	pgoff_t trunc_first;
	pgoff_t trunc_last;
	/*
	 * The newest TRUNCATEDs of this file that freed frames (seq and
	 * range), in the channel generation @trunc_gen, and @trunc_floor,
	 * the newest seq that fell out of @trunc_ring: an EVICT of those
	 * pages from a server that has not handled them yet is refused (the
	 * page may be another one now, in the same frame).  Under frames'
	 * xa_lock.
	 */
	struct usmfs_trunc_rec {
		u64 seq;
		pgoff_t first, last;
	} trunc_ring[USMFS_TRUNC_RING];
	unsigned int trunc_next;
	u64 trunc_floor;
	u64 trunc_gen;
	struct timespec64 btime;	/* birth (statx STATX_BTIME) */
	u32 fsflags;		/* FS_*_FL of chattr, under the inode lock */
	struct inode vfs_inode;
};

static inline struct usmfs_inode_info *USMFS_I(struct inode *inode)
{
	return container_of(inode, struct usmfs_inode_info, vfs_inode);
}

/* Under @info->frames' xa_lock: page @index is being truncated. */
static inline bool usmfs_truncating(struct usmfs_inode_info *info,
				    pgoff_t index)
{
	return info->truncating && index >= info->trunc_first &&
	       index <= info->trunc_last;
}

/*
 * The entries of usmfs_inode_info.frames, one per page that holds data, all
 * xa_mk_value():
 *   resident	the frame number
 *   swapped	USMFS_E_SWAP | store_id << USMFS_E_SLOT_BITS | slot
 * either with USMFS_E_BUSY: a resident page locked by USMFS_CMD_EVICT (no
 * PTE maps it, nobody holds a reference, its contents are final), or a
 * swapped page with a swap-in in flight.  Every lookup that finds a busy
 * entry waits for it to change (usmfs_page_wq), bounded by swapin_timeout.
 * Entries change under the xarray's lock only, with cmpxchg where a
 * command races with a fault or a truncate: whoever changes a busy entry
 * owns what it held.
 */
#if BITS_PER_LONG != 64
#error "usmfs needs a 64-bit kernel"
#endif
#define USMFS_E_SWAP		(1UL << 62)
#define USMFS_E_BUSY		(1UL << 61)
#define USMFS_E_SLOT_BITS	53
#define USMFS_E_SLOT_MAX	((1UL << USMFS_E_SLOT_BITS) - 1)

static inline bool usmfs_e_swapped(const void *e)
{
	return xa_to_value(e) & USMFS_E_SWAP;
}

static inline bool usmfs_e_busy(const void *e)
{
	return xa_to_value(e) & USMFS_E_BUSY;
}

/* A resident entry that nobody has locked: its frame may be used. */
static inline bool usmfs_e_ready(const void *e)
{
	return e && !(xa_to_value(e) & (USMFS_E_SWAP | USMFS_E_BUSY));
}

static inline unsigned long usmfs_e_frame(const void *e)
{
	return xa_to_value(e) & ~USMFS_E_BUSY;
}

static inline u64 usmfs_e_slot(const void *e)
{
	return xa_to_value(e) & USMFS_E_SLOT_MAX;
}

static inline u32 usmfs_e_store(const void *e)
{
	return (xa_to_value(e) & ~(USMFS_E_SWAP | USMFS_E_BUSY)) >>
	       USMFS_E_SLOT_BITS;
}

static inline void *usmfs_mk_swap(u32 store_id, u64 slot)
{
	return xa_mk_value(USMFS_E_SWAP |
			   ((unsigned long)store_id << USMFS_E_SLOT_BITS) | slot);
}

static inline void *usmfs_mk_busy(const void *e)
{
	return xa_mk_value(xa_to_value(e) | USMFS_E_BUSY);
}

static inline void *usmfs_mk_idle(const void *e)
{
	return xa_mk_value(xa_to_value(e) & ~USMFS_E_BUSY);
}

extern wait_queue_head_t usmfs_page_wq;

/* What a caller of usmfs_get_page() wants when the page is a hole. */
enum usmfs_sgp {
	USMFS_SGP_READ,		/* a hole stays a hole: NULL */
	USMFS_SGP_WRITE,	/* allocate a zeroed frame */
	USMFS_SGP_FALLOC,	/* allocate, and mark it for undo on failure */
};

extern const struct inode_operations usmfs_file_inode_operations;
extern const struct inode_operations usmfs_dir_inode_operations;
extern const struct inode_operations usmfs_symlink_inode_operations;
extern const struct inode_operations usmfs_special_inode_operations;
extern const struct file_operations usmfs_file_operations;
extern const struct address_space_operations usmfs_aops;
extern const struct super_operations usmfs_super_operations;
extern const struct xattr_handler *USMFS_XATTR_HANDLERS_CONST
	usmfs_xattr_handlers[];

struct inode *usmfs_get_inode(struct super_block *sb,
			      struct usmfs_idmap *idmap, struct inode *dir,
			      umode_t mode, dev_t dev);
int usmfs_inode_cache_init(void);
void usmfs_inode_cache_exit(void);

struct page *usmfs_get_page(struct inode *inode, pgoff_t index,
			    enum usmfs_sgp sgp, bool *hit);
long usmfs_take_frame(struct inode *inode, pgoff_t index, bool *reserved,
		      unsigned long *deadline);
void usmfs_put_frame(struct inode *inode, unsigned long frame);
void usmfs_uncharge_frames(struct usmfs_sb_info *sbi, long nr);
long usmfs_fill_aligned(struct inode *inode, pgoff_t index, unsigned long nr,
			bool falloc);
extern bool usmfs_pmd_map;
bool usmfs_wants_contiguous(struct usmfs_inode_info *info);
unsigned long usmfs_deadline(struct usmfs_sb_info *sbi);
void usmfs_truncate_range(struct inode *inode, loff_t lstart, loff_t lend);
struct usmfs_tailzero *usmfs_tailzero_take(struct usmfs_inode_info *info,
					   pgoff_t index);
void usmfs_tailzero_apply(struct usmfs_inode_info *info, pgoff_t index,
			  struct page *page);
void usmfs_falloc_finish(struct inode *inode, pgoff_t first, pgoff_t last,
			 bool undo);
int usmfs_setattr_size(struct inode *inode, loff_t newsize);
struct posix_acl;
/* acl.c */
int usmfs_set_acl(struct usmfs_idmap *idmap, USMFS_ACL_OBJ obj,
		  struct posix_acl *acl, int type);
int usmfs_acl_prepare(struct inode *dir, umode_t *mode,
		      struct posix_acl **dflt, struct posix_acl **acl);
int usmfs_acl_attach(struct inode *inode, struct posix_acl *dflt,
		     struct posix_acl *acl);
void usmfs_acl_release(struct posix_acl *dflt, struct posix_acl *acl);
bool usmfs_acl_present(struct inode *inode, int type);

struct usmfs_fileattr;
int usmfs_fileattr_get(struct dentry *dentry, struct usmfs_fileattr *fa);
int usmfs_fileattr_set(struct usmfs_idmap *idmap, struct dentry *dentry,
		       struct usmfs_fileattr *fa);
int usmfs_show_options(struct seq_file *m, struct dentry *root);
bool usmfs_swap_given(const struct usmfs_sb_info *sbi);

/* xattr.c */
#define USMFS_XATTR_BYTES_MAX	(256 * 1024)	/* stored xattrs per inode */
void usmfs_policy_init(struct usmfs_policy *pol, struct usmfs_sb_info *sbi);
void usmfs_policy_inherit(struct inode *inode, struct inode *dir);
/* What an inode costs of a mount's inode space (the xattrs share it). */
#define USMFS_INODE_COST	1024UL
void usmfs_xattrs_free(struct inode *inode);
int usmfs_ispace_charge(struct usmfs_sb_info *sbi, long delta);
unsigned long usmfs_ispace_free_locked(struct usmfs_sb_info *sbi);
ssize_t usmfs_listxattr(struct dentry *dentry, char *buf, size_t size);
bool usmfs_alloc_name_valid(const char *s, size_t len);
bool usmfs_evict_name_valid(const char *s, size_t len);
bool usmfs_name_valid(const char *s, size_t len);
int usmfs_parse_size(const char *s, u64 pct_base, u64 *out, u32 *pct);
int usmfs_parse_size_strict(const char *s, u64 *out);
int usmfs_parse_duration_ms(const char *s, u64 *out_ms);
int usmfs_format_size_exact(u64 bytes, char *buf, size_t len);

/*
 * The channel, /dev/usmfs (chan.c: the device; events.c: the queue and these
 * hooks, which only queue events while a server is attached; swapin.c,
 * resv.c, cmd.c, list.c, sample.c: see chan.h)
 */
int usmfs_chan_init(void);
void usmfs_chan_exit(void);
u32 usmfs_chan_new_dev(void);
void usmfs_chan_mount(struct usmfs_sb_info *sbi);
void usmfs_chan_umount(struct usmfs_sb_info *sbi);
void usmfs_chan_file_created(struct inode *inode, struct dentry *dentry,
			     struct inode *dir);
void usmfs_chan_file_removed(struct inode *inode);
void usmfs_chan_truncated(struct inode *inode, pgoff_t start, u64 nr,
			  bool frees_frames);
bool usmfs_evict_stale(struct usmfs_inode_info *info, unsigned long index,
		       unsigned long nr, u64 seen);
void usmfs_chan_xattr_changed(struct inode *inode, int id, const void *value,
			      size_t size);
void usmfs_chan_pages_allocated(struct inode *inode, pgoff_t index,
				unsigned long frame, unsigned long nr,
				bool reserved);
int usmfs_chan_reclaim(struct inode *inode, u64 nr);
bool usmfs_chan_state(u64 *features, u32 *low_pct, u32 *high_pct);
long usmfs_resv_take(struct inode *inode, pgoff_t index);
long usmfs_resv_take_aligned(struct inode *inode, pgoff_t index,
			     unsigned long nr);
int usmfs_chan_swapin(struct inode *inode, pgoff_t index, void *entry,
		      bool write, unsigned long deadline, struct page **pagep);
int usmfs_swapin_willneed(struct inode *inode, pgoff_t first,
			   pgoff_t last);
int usmfs_overwrite_swapped(struct inode *inode, pgoff_t index,
			    struct iov_iter *from);
void usmfs_chan_swapin_forget(struct inode *inode);
int usmfs_chan_wait_frames(struct usmfs_sb_info *sbi, bool pool_full,
			   unsigned long deadline);
void usmfs_chan_pressure(struct usmfs_sb_info *sbi);
bool usmfs_chan_server_attached(void);
void usmfs_chan_accessed(struct inode *inode, pgoff_t index);
#define USMFS_MARK_SAMPLED	XA_MARK_2
void usmfs_wake_frames(void);
unsigned long usmfs_resv_drop(struct inode *inode, pgoff_t first,
			      pgoff_t last);

#endif /* USMFS_H */
