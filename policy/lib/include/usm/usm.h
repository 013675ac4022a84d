/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usm/usm.h - libusmpolicy: the policy engine shared by usm-policyd (for
 * usmfs.ko) and the usmfs FUSE daemon.
 *
 * A context (struct usm_ctx) owns a pool of frames, the files whose pages
 * live in it, the backing stores, and the policies.  A frontend drives it:
 *
 *   frontend -> library: usm_file_new/usm_file_release, usm_fault (a page is
 *     needed), usm_page_added (the kernel placed a page itself), usm_access,
 *     usm_truncate/usm_punch, usm_file_setxattr, usm_balance (pressure).
 *   library -> frontend: struct usm_backend_ops (copy a frame through its
 *     address, unmap pages before eviction, commit or cancel an eviction).
 *
 * Locking: every usm_* function taking a ctx is thread-safe (one mutex per
 * context).  Backend ops are called WITHOUT that mutex held, so they may
 * call into the kernel (invalidate caches, which may recurse into the
 * frontend's own handlers and from there into the library).
 *
 * Eviction of a page goes: chosen (state EVICTING, out of its policy) ->
 * backend unmap (no lock) -> copy-out to its slot (state WRITING) ->
 * backend commit -> frame freed (state SWAPPED).  usm_fault() on an EVICTING
 * page cancels that page's eviction and returns the frame at once (so the
 * FUSE daemon's own write-back during an invalidate cannot deadlock); on a
 * WRITING page it waits, bounded by wait_timeout_ms, for the I/O to end and
 * then swaps the page back in.
 *
 * Pinning: usm_fault(..., USM_FAULT_PIN) returns the frame pinned; the
 * frontend copies data and calls usm_page_unpin().  A pinned page is never
 * chosen as a victim.
 */
#ifndef USM_USM_H
#define USM_USM_H

#include <usm/types.h>
#include <usm/pool.h>
#include <usm/policy.h>
#include <usm/swap.h>
#include <usm/parse.h>
#include <usm/config.h>

#ifdef __cplusplus
extern "C" {
#endif

#define USM_VERSION_MAJOR	0
#define USM_VERSION_MINOR	1

struct usm_ctx;
struct usm_file;

/* One page on its way out (or back). */
struct usm_page_ref {
	struct usm_file *file;
	uint64_t ino;		/* the file's frontend id (usm_file_new @ino) */
	uint64_t index;		/* page index */
	usm_frame_t frame;
	usm_slot_t slot;	/* set for commit */
	int err;		/* per-page result, set by the backend */
};

/*
 * struct usm_backend_ops - what a frontend implements.
 *
 * @frame_addr: Required.  Address through which the library may read and
 *     write frame @f (the FUSE daemon's pool mapping, or usm-policyd's mmap
 *     of /dev/usmfs).  Called with or without the ctx lock.
 * @unmap: Required.  Make each page unreachable (unmap it from every
 *     mapping, drop or write back any cached copy) and keep it so until
 *     commit or cancel, so that the frame's content is final.  Set
 *     refs[i].err to 0 or to -EBUSY/-EAGAIN to keep that page resident.
 *     Returns 0 or -errno for the whole batch (then none is evicted).
 *     Called without the ctx lock, from the thread that called
 *     usm_balance()/usm_evict_file()/usm_fault().
 * @commit: Optional.  The pages' contents are in their slots (refs[i].slot);
 *     the frames are about to be returned to the pool.  The kernel frontend
 *     turns the page into a swap entry here.  A ref whose err is set after
 *     this call stays resident (the slot is freed again).
 * @cancel: Optional.  The eviction of these pages was abandoned (store
 *     error); they stay resident: map them again as needed.
 * @zero_frame: Optional.  Zero a frame before a file sees it; the default
 *     is memset through frame_addr.
 * @frame_zeroed: Optional.  Nonzero if frame @f, just taken from the pool,
 *     is known to read as zeroes already (the frontend gave its memory
 *     back to the kernel and nothing wrote to it since): the default
 *     zeroing is then skipped, and with it a needless write fault on the
 *     frame.  Called with the ctx lock held; must not block.  A frontend
 *     that answers it must learn of every write to a frame, the library's
 *     included (they all go through @frame_addr).
 */
struct usm_backend_ops {
	void *(*frame_addr)(void *priv, usm_frame_t f);
	int (*unmap)(void *priv, struct usm_page_ref *refs, size_t n);
	int (*commit)(void *priv, struct usm_page_ref *refs, size_t n);
	void (*cancel)(void *priv, struct usm_page_ref *refs, size_t n);
	void (*zero_frame)(void *priv, usm_frame_t f);
	int (*frame_zeroed)(void *priv, usm_frame_t f);
};

/*
 * struct usm_ctx_params - how to build a context.
 * @pool_frames/@chunk_frames: the pool is made of chunks of @chunk_frames
 *     (the last may be shorter); 0 = one chunk.
 * @limit_frames: the most frames resident at once (the mount's size=),
 *     0 = the whole pool.  Watermarks are percentages of this.
 * @low_pct/@high_pct: eviction starts above high, runs down to low
 *     (0 = 70/90, or the config's).
 * @mount: defaults for new files (alloc, evict, swap) and the mount's swap
 *     spec; may be NULL.
 * @config: optional config (rules, thresholds, stores); not copied, must
 *     outlive the context.
 */
struct usm_ctx_params {
	const struct usm_backend_ops *ops;
	void *priv;
	uint64_t pool_frames;
	uint64_t chunk_frames;
	uint64_t limit_frames;
	uint32_t low_pct, high_pct;
	const struct usm_mount_opts *mount;
	const struct usm_config *config;
	uint64_t wait_timeout_ms;	/* bound on waits for evicting pages */
	unsigned int store_flags;	/* for usm_store_open(): USM_STORE_KEEP
					 * when a restarted server reopens its
					 * stores */
};

/* 0 and *@out, or -errno with a message in @err (bad store, bad policy). */
int usm_ctx_create(const struct usm_ctx_params *p, struct usm_ctx **out,
		   char *err, size_t errlen);
void usm_ctx_destroy(struct usm_ctx *ctx);
/* Before usm_ctx_destroy() when a server exits but its swapped pages live
 * on (usmfs.ko keeps their slot numbers for the next server): destroying
 * the context then closes the stores without freeing any slot. */
void usm_ctx_keep_slots(struct usm_ctx *ctx);

/* The pool (for frontends that mirror the kernel's state).  Use with the
 * ctx lock held: usm_ctx_lock()/usm_ctx_unlock(). */
struct usm_pool *usm_ctx_pool(struct usm_ctx *ctx);
void usm_ctx_lock(struct usm_ctx *ctx);
void usm_ctx_unlock(struct usm_ctx *ctx);

/* Add a named backing store (from the config or usmctl).  0/-EEXIST/-errno. */
int usm_ctx_add_store(struct usm_ctx *ctx, const char *name, const char *spec,
		      unsigned int flags, char *err, size_t errlen);

/* Change the resident cap / watermarks at run time.  0 or -EINVAL. */
int usm_ctx_set_limit(struct usm_ctx *ctx, uint64_t limit_frames);
int usm_ctx_set_watermarks(struct usm_ctx *ctx, uint32_t low_pct,
			   uint32_t high_pct);
/*
 * Pages per eviction batch (one unmap, one store write per run of slots,
 * one commit), 1..USM_EVICT_BATCH_MAX; the default is 64.  A frontend whose
 * backend round trips are cheap (the FUSE daemon: a queued invalidation)
 * gains from bigger ones: fewer store writes, invalidations and lock
 * rounds per page.  0 or -EINVAL.
 */
#define USM_EVICT_BATCH_MAX	256u
int usm_ctx_set_evict_batch(struct usm_ctx *ctx, uint32_t pages);

/*
 * Files.  @ino is the frontend's id (inode number), unique among live files.
 * @pol is the file's starting policy: the frontend computes it with
 * usm_ctx_policy_for() (mount defaults + parent inheritance + config rules).
 * NULL from usm_file_new means out of memory or a bad policy (errno set).
 */
struct usm_file *usm_file_new(struct usm_ctx *ctx, uint64_t ino,
			      const struct usm_file_policy *pol);
/* Free every frame and slot of the file and forget it. */
void usm_file_release(struct usm_ctx *ctx, struct usm_file *f);
uint64_t usm_file_ino(const struct usm_file *f);

/* Starting policy of a new file: mount defaults, then @parent's inherited
 * attributes (may be NULL), then the config's thresholds and rules for
 * @path/@comm (may be NULL). */
void usm_ctx_policy_for(struct usm_ctx *ctx, const struct usm_file_policy *parent,
			const char *path, const char *comm,
			struct usm_file_policy *out);

/*
 * user.usm.* on a file.  @id from usm_xattr_lookup().  setxattr validates
 * (policy registered, store exists) and applies at once: a new eviction
 * policy is rebuilt from the resident set, a lower limit evicts.
 * 0, -EINVAL, -EPERM (stats).  getxattr returns the length (may exceed
 * @len) or -ENODATA when not set on this file (stats is always there).
 */
int usm_file_setxattr(struct usm_ctx *ctx, struct usm_file *f,
		      enum usm_xattr_id id, const char *value, size_t len);
int usm_file_getxattr(struct usm_ctx *ctx, struct usm_file *f,
		      enum usm_xattr_id id, char *buf, size_t len);
int usm_file_removexattr(struct usm_ctx *ctx, struct usm_file *f,
			 enum usm_xattr_id id);
void usm_file_get_policy(struct usm_ctx *ctx, struct usm_file *f,
			 struct usm_file_policy *out);

/*
 * Faults.  Make page @index of @f resident and return its frame:
 *  - resident: a hit (on_access), no copy;
 *  - hole: a frame is placed by the file's placement policy and zeroed,
 *    unless USM_FAULT_NOALLOC (then -ENOENT: the caller reads zeroes);
 *  - swapped: a frame is placed and the slot read into it (a swap-in);
 *  - being evicted: cancels the eviction (EVICTING) or waits for the
 *    store write to end, then swaps it in (WRITING).
 * When the resident cap is reached, victims are evicted first (in the
 * caller's thread).  Returns 0 and *@frame, -ENOENT (hole with NOALLOC),
 * -ENOSPC (no frame and nothing can be evicted: swap=none and full),
 * -EIO (store read failed), -ETIMEDOUT.
 * USM_FAULT_PIN: the page stays pinned until usm_page_unpin().
 */
#define USM_FAULT_WRITE		0x1u
#define USM_FAULT_NOALLOC	0x2u
#define USM_FAULT_PIN		0x4u
/* USM_FAULT_FRAME: *@frame is an input: the frontend already chose the
 * frame (usmfs.ko takes one when a fault on a swapped page arrives); it
 * must be free in the pool or reserved for @f, else -EBUSY.  Used instead
 * of the placement policy; the resident cap is not checked (the frame is
 * already taken).  A page that is already resident returns its own frame:
 * the caller compares. */
#define USM_FAULT_FRAME		0x8u
/* USM_FAULT_OVERWRITE: the caller (holding USM_FAULT_PIN) writes all of the
 * page before unpinning it: a swapped page is not read back (its frame is
 * zeroed and its slot freed).  Not a swap-in in the stats. */
#define USM_FAULT_OVERWRITE	0x10u
/* USM_FAULT_KEEP_SLOT: a swap-in whose frontend has not accepted the page
 * yet (usmfs.ko until it takes SWAPIN_DONE): the slot read stays the page's
 * until usm_swapin_settle() says what the frontend did; the page is not
 * evicted meanwhile.  A page dropped meanwhile frees it as usual. */
#define USM_FAULT_KEEP_SLOT	0x20u
int usm_fault(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
	      unsigned int flags, usm_frame_t *frame);
void usm_page_unpin(struct usm_ctx *ctx, struct usm_file *f, uint64_t index);

/*
 * usm_fault() for pages [@first, @first + @nr) under one hold of the ctx
 * lock (a frontend's 1 MiB request is 256 pages: one lock round instead of
 * 256).  @frames[i] receives page @first + i's frame; with
 * USM_FAULT_NOALLOC a hole gives USM_FRAME_NONE (not pinned) and the range
 * goes on.  Stops at the first page that fails.  Returns the number of
 * pages done (> 0; with USM_FAULT_PIN those are pinned), or the first
 * page's -errno.  USM_FAULT_FRAME is not allowed (-EINVAL).
 * usm_page_unpin_range: usm_page_unpin() for each page of the range whose
 * @frames entry is not USM_FRAME_NONE (@frames NULL: every page).
 */
long usm_fault_range(struct usm_ctx *ctx, struct usm_file *f, uint64_t first,
		     uint64_t nr, unsigned int flags, usm_frame_t *frames);
void usm_page_unpin_range(struct usm_ctx *ctx, struct usm_file *f,
			  uint64_t first, uint64_t nr,
			  const usm_frame_t *frames);

/* The kernel placed page @index in @frame itself (firstfit or a granted
 * reservation); account it.  0, -EBUSY (frame not free and not reserved
 * for @f), -EEXIST (page already known), -ERANGE. */
int usm_page_added(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		   usm_frame_t frame);
/*
 * What became of a swap-in made with USM_FAULT_KEEP_SLOT into @frame:
 *  USM_SWAPIN_TAKEN	the frontend has the page: the slot is freed;
 *  USM_SWAPIN_GONE	the frontend refused it, its page changed: the page
 *			goes (frame and slot freed);
 *  USM_SWAPIN_UNTOLD	the frontend never got the answer (still has the
 *			page swapped): the page is swapped again in its slot.
 * 0, or -ENOENT when @index holds no such swap-in (already settled, or
 * dropped meanwhile: then nothing is left to do).
 */
enum usm_swapin_fate { USM_SWAPIN_TAKEN, USM_SWAPIN_GONE, USM_SWAPIN_UNTOLD };
int usm_swapin_settle(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		      usm_frame_t frame, enum usm_swapin_fate fate);
/* Swapped page @index of @f lives in slot @slot of store @store (as
 * usm_page_swapped() names stores: "" is the default one): 1, else 0. */
int usm_page_in_slot(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		     const char *store, usm_slot_t slot);
/* A swapped page, as listed by the kernel after a server restart. */
int usm_page_swapped(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		     const char *store, usm_slot_t slot);

/*
 * Reservations granted to a frontend (the kernel maps faults into them
 * without asking): the file's placement policy's reserve op picks a run of
 * frames for pages around @index; it stays the file's (not reclaimed under
 * pressure) until used (usm_page_added), returned with usm_unreserve(), or
 * dropped by truncate/punch/release.  0 and the run, -ENOSPC, -EOPNOTSUPP.
 */
int usm_reserve(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		usm_frame_t *first, uint64_t *nr);
/* Give back the still unused frames of [@first, @first + @nr) (all within
 * one granted run).  0 or -EINVAL. */
int usm_unreserve(struct usm_ctx *ctx, struct usm_file *f, usm_frame_t first,
		  uint64_t nr);
/* Give back the still unused reservations of pages [@first, @end) (the
 * frontend dropped them, as a truncation does, without dropping pages). */
void usm_unreserve_pages(struct usm_ctx *ctx, struct usm_file *f,
			 uint64_t first, uint64_t end);
/*
 * A frontend reports a page in a frame (usm_page_added(), USM_FAULT_FRAME)
 * that an unused reservation still holds here: the frontend has dropped
 * that reservation (truncation, revoke) in an event not handled yet, or
 * lost.  The frame is the frontend's to use: the reservation gives it up
 * (counted in usm_pool_stats' resv_stolen) instead of the call failing
 * with -EBUSY.
 */

/* Page @index was used (hit).  No-op if not resident. */
void usm_access(struct usm_ctx *ctx, struct usm_file *f, uint64_t index);

/* Page states without side effects: 0 = hole, 1 = resident, 2 = swapped,
 * 3 = evicting. */
enum usm_page_state {
	USM_PAGE_HOLE, USM_PAGE_RESIDENT, USM_PAGE_SWAPPED, USM_PAGE_EVICTING
};
enum usm_page_state usm_page_state(struct usm_ctx *ctx, struct usm_file *f,
				   uint64_t index, usm_frame_t *frame);

/* Next index >= @from that is resident or swapped (SEEK_DATA), or
 * UINT64_MAX. */
uint64_t usm_next_data(struct usm_ctx *ctx, struct usm_file *f,
		       uint64_t from);

/* Drop pages >= @nr_pages (truncate) or in [@first, @first + @nr) (punch):
 * frames back to the pool, slots freed.  The frontend has already unmapped
 * them.  0 or -errno. */
int usm_truncate(struct usm_ctx *ctx, struct usm_file *f, uint64_t nr_pages);
int usm_punch(struct usm_ctx *ctx, struct usm_file *f, uint64_t first,
	      uint64_t nr);

/*
 * Eviction.  usm_balance: if resident frames are above the high watermark
 * (or @flags has USM_BALANCE_FORCE), evict down to the low watermark,
 * choosing files with the arbiter (over their limit first, then lower prio,
 * then in proportion to resident size) and pages with each file's policy.
 * Returns the number of pages evicted (>= 0) or -errno.
 * usm_evict_file: push out up to @nr (UINT64_MAX = all) of @f's pages now.
 * usm_need_balance: 1 if above the high watermark (cheap; a frontend's
 * background thread polls it after faults).
 */
#define USM_BALANCE_FORCE	0x1u
long usm_balance(struct usm_ctx *ctx, unsigned int flags);
long usm_evict_file(struct usm_ctx *ctx, struct usm_file *f, uint64_t nr);
int usm_need_balance(struct usm_ctx *ctx);

/* Pages @f could still be given: free frames under the limit plus the
 * room left in its store (see usm_store_room).  Check it before a large
 * fallocate: ENOSPC at once rather than a store filling its disk. */
uint64_t usm_file_room(struct usm_ctx *ctx, struct usm_file *f);

/* Statistics, in pages and counts. */
struct usm_file_stats {
	uint64_t resident, swapped, faults, evictions, swapins, hits;
};
struct usm_pool_stats {
	uint64_t frames, free, used, reserved, limit;
	uint64_t resident, swapped, files;
	uint64_t faults, evictions, swapins, hits;
	uint32_t low_pct, high_pct;
	uint64_t resv_stolen;	/* reserved frames a frontend used anyway */
};
void usm_file_stats(struct usm_ctx *ctx, struct usm_file *f,
		    struct usm_file_stats *st);
void usm_pool_stats(struct usm_ctx *ctx, struct usm_pool_stats *st);

/*
 * A store of a context, for logs and status: store @i (0 = the default
 * store, then the named ones; "none" only as the default).  @room is how
 * many more pages it can take now (usm_store_room: its free slots, and its
 * filesystem's free space above @reserve bytes); @writable 0 for "none".
 * 0, or -ENOENT past the last.  @name and @spec live as long as @ctx.
 */
struct usm_store_info {
	const char *name, *spec;
	int writable;
	uint64_t used, room, reserve;
	/* pages written to the store and read from it since it was opened */
	uint64_t pages_out, pages_in;
	/* "" or why it takes nothing now (usm_store_state) */
	char state[400];
};
int usm_ctx_store_info(struct usm_ctx *ctx, unsigned int i,
		       struct usm_store_info *out);
/* One line about @si for a log ("store default (file:/x) can take 1.5G
 * more ..."); returns 1 when it is a warning (a store that can take
 * nothing: nothing will be evicted to it). */
int usm_store_describe(const struct usm_store_info *si, char *buf, size_t len);

/* "resident=BYTES swapped=BYTES faults=N evictions=N swapins=N hits=N
 * alloc=NAME evict=NAME" - the value of user.usm.stats.  Returns the
 * length (may exceed @len). */
int usm_format_file_stats(struct usm_ctx *ctx, struct usm_file *f, char *buf,
			  size_t len);

/* Internal invariant check for tests: 0 or -EUCLEAN with a message. */
int usm_ctx_check(struct usm_ctx *ctx, char *err, size_t errlen);

/*
 * For placement policies (called from usm_alloc_ops.place with the lock
 * held): the pool, the file's policy state, and its reservation.
 */
struct usm_pool *usm_file_pool(struct usm_file *f);
/* Take the reserved frame for @index if the file holds one.  0 or -ENOENT. */
int usm_file_reservation_take(struct usm_file *f, uint64_t index,
			      usm_frame_t *frame);
/* Record that [@first, @first + @nr) (already taken from the pool) is
 * reserved for pages [@index, @index + @nr) of @f.  0/-ENOMEM/-EEXIST. */
int usm_file_reservation_add(struct usm_file *f, uint64_t index,
			     usm_frame_t first, uint64_t nr);
/* Frame of the resident page nearest below @index, or USM_FRAME_NONE
 * (lets "contiguous" continue a run).  @dist receives index - that page's. */
usm_frame_t usm_file_frame_before(struct usm_file *f, uint64_t index,
				  uint64_t *dist);
/* Per-file scratch for the placement policy (e.g. spread's cursor). */
uint64_t *usm_file_alloc_word(struct usm_file *f);

#ifdef __cplusplus
}
#endif
#endif /* USM_USM_H */
