// SPDX-License-Identifier: GPL-2.0-only
/*
 * inode.c - inodes and the index of a file's frames (directories: dir.c).
 *
 * A regular file is an xarray from page index to pool frame.  Its pages are
 * never in the page cache (that would put them on the LRU): read/write copy
 * through usmfs_get_page(), faults hand the page itself to the mm.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/posix_acl.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/xattr.h>

#include "usmfs.h"

static struct kmem_cache *usmfs_inode_cachep;

/* ------------------------------------------------------------ accounting */

static bool usmfs_charge_frame(struct usmfs_sb_info *sbi)
{
	if (atomic_long_inc_return(&sbi->used_frames) >
	    (long)READ_ONCE(sbi->max_frames)) {
		atomic_long_dec(&sbi->used_frames);
		return false;
	}
	return true;
}

void usmfs_uncharge_frames(struct usmfs_sb_info *sbi, long nr)
{
	atomic_long_sub(nr, &sbi->used_frames);
}

/*
 * Bytes left of the mount's inode space (nr_inodes= x USMFS_INODE_COST),
 * which inodes and stored xattrs share, as on tmpfs; ULONG_MAX without
 * nr_inodes=.  Under stat_lock.
 */
unsigned long usmfs_ispace_free_locked(struct usmfs_sb_info *sbi)
{
	unsigned long total, used;

	if (!sbi->max_inodes)
		return ULONG_MAX;
	if (check_mul_overflow(sbi->max_inodes, USMFS_INODE_COST, &total))
		total = ULONG_MAX;
	used = sbi->nr_inodes * USMFS_INODE_COST + sbi->xattr_bytes;
	return total > used ? total - used : 0;
}

/*
 * Charge @delta bytes of stored xattrs to the mount (negative: uncharge):
 * -ENOSPC past its inode space or past size= in all.
 */
int usmfs_ispace_charge(struct usmfs_sb_info *sbi, long delta)
{
	unsigned long cap = READ_ONCE(sbi->max_frames) << PAGE_SHIFT;
	int err = 0;

	spin_lock(&sbi->stat_lock);
	if (delta > 0 && (sbi->xattr_bytes + delta > cap ||
			  usmfs_ispace_free_locked(sbi) < (unsigned long)delta))
		err = -ENOSPC;
	else
		sbi->xattr_bytes += delta;
	spin_unlock(&sbi->stat_lock);
	return err;
}

static int usmfs_reserve_inode(struct usmfs_sb_info *sbi)
{
	int err = 0;

	spin_lock(&sbi->stat_lock);
	if (sbi->max_inodes && (sbi->nr_inodes >= sbi->max_inodes ||
	    usmfs_ispace_free_locked(sbi) < USMFS_INODE_COST))
		err = -ENOSPC;
	else
		sbi->nr_inodes++;
	spin_unlock(&sbi->stat_lock);
	return err;
}

static void usmfs_unreserve_inode(struct usmfs_sb_info *sbi)
{
	spin_lock(&sbi->stat_lock);
	sbi->nr_inodes--;
	spin_unlock(&sbi->stat_lock);
}

/* ---------------------------------------------------------------- frames */

wait_queue_head_t usmfs_page_wq = __WAIT_QUEUE_HEAD_INITIALIZER(usmfs_page_wq);

/* Frames came free or a page changed state: wake whoever waits for that. */
void usmfs_wake_frames(void)
{
	if (wq_has_sleeper(&usmfs_page_wq))
		wake_up_all(&usmfs_page_wq);
}

/* When a wait that starts now must give up: the mount's swapin_timeout. */
unsigned long usmfs_deadline(struct usmfs_sb_info *sbi)
{
	return jiffies +
	       msecs_to_jiffies(READ_ONCE(sbi->opt_swapin_timeout_ms));
}

/**
 * usmfs_take_frame - a frame for page @index of @inode, charged to its mount.
 * @reserved:	set when it is the frame the server granted to the page
 * @deadline:	when to stop waiting for room (0: from now, set on first use)
 *
 * Placement is the server's reservation for the page, else firstfit.  When
 * the mount's share or the pool is used up and a server evicts, the server
 * is told (PRESSURE, urgent) and we wait, killably and bounded, for room.
 *
 * Return: the frame, or -ENOSPC (full, nobody made room in time), -EINTR.
 */
long usmfs_take_frame(struct inode *inode, pgoff_t index, bool *reserved,
		      unsigned long *deadline)
{
	struct usmfs_sb_info *sbi = USMFS_SB(inode->i_sb);
	long frame;
	int err;

	for (;;) {
		bool pool_full = false;

		if (usmfs_charge_frame(sbi)) {
			frame = usmfs_resv_take(inode, index);
			*reserved = frame >= 0;
			if (frame < 0)
				frame = usmfs_frame_alloc();
			if (frame >= 0) {
				usmfs_chan_pressure(sbi);
				return frame;
			}
			usmfs_uncharge_frames(sbi, 1);
			pool_full = true;
		}
		if (!*deadline)
			*deadline = usmfs_deadline(sbi);
		err = usmfs_chan_wait_frames(sbi, pool_full, *deadline);
		if (err)
			return err;
	}
}

/* Give back a frame that no file entry names. */
void usmfs_put_frame(struct inode *inode, unsigned long frame)
{
	usmfs_frame_release(frame);
	usmfs_uncharge_frames(USMFS_SB(inode->i_sb), 1);
	usmfs_wake_frames();
}

/* The file's placement is contiguous: its holes may take 2 MiB at once. */
bool usmfs_wants_contiguous(struct usmfs_inode_info *info)
{
	bool yes;

	spin_lock(&info->lock);
	yes = !strcmp(info->pol.alloc, "contiguous");
	spin_unlock(&info->lock);
	return yes;
}

/**
 * usmfs_fill_aligned - back the hole [@index, +@nr) with one aligned run.
 * @nr:	USMFS_WINDOW_NR; @index is a multiple of it
 * @falloc:	mark the pages for fallocate's undo (XA_MARK_0)
 *
 * For the fault, write and fallocate of a file whose placement is
 * contiguous (with pmd_map on): takes an aligned run of frames, charged to
 * the mount, and
 * stores it only if the whole range is still a hole.  Where the server
 * reserved frames in the range its placement rules: its run is taken if it
 * is one aligned run for the whole range, else nothing.  No waiting: the
 * 4 KiB path is the one that waits for room.  (Should the stores fail,
 * reserved frames go back to the pool, not to the reservation: the server
 * learns of them when its next GRANT or allocation event disagrees.)
 *
 * Return: the first frame, with a reference taken on each of its pages;
 * -EOPNOTSUPP (not such a file), -EEXIST (not all a hole, or reserved
 * otherwise), -ENOSPC (no room or no aligned run), -ENOMEM.
 */
long usmfs_fill_aligned(struct inode *inode, pgoff_t index, unsigned long nr,
			bool falloc)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_sb_info *sbi = USMFS_SB(inode->i_sb);
	unsigned long i, at = index, last = index + nr - 1;
	bool reserved = !xa_empty(&info->resv) &&
			xa_find(&info->resv, &at, last, XA_PRESENT);
	long frame, err = 0;

	if (!READ_ONCE(usmfs_pmd_map) || !usmfs_wants_contiguous(info))
		return -EOPNOTSUPP;
	/* Not a hole any more: no need to take and zero a run to find out. */
	at = index;
	if (xa_find(&info->frames, &at, last, XA_PRESENT))
		return -EEXIST;
	if (atomic_long_add_return(nr, &sbi->used_frames) >
	    (long)READ_ONCE(sbi->max_frames)) {
		usmfs_uncharge_frames(sbi, nr);
		return -ENOSPC;
	}
	if (reserved)
		frame = usmfs_resv_take_aligned(inode, index, nr);
	else
		frame = usmfs_frames_alloc_aligned(nr);
	if (frame < 0) {
		usmfs_uncharge_frames(sbi, nr);
		return frame;
	}

	/*
	 * All the stores under one hold of the lock (GFP_NOWAIT: a blocking
	 * allocation would drop it), so nobody sees half of the run.
	 */
	xa_lock(&info->frames);
	at = index;
	if (xa_find(&info->frames, &at, last, XA_PRESENT)) {
		err = -EEXIST;
		i = 0;
	} else {
		for (i = 0; i < nr; i++) {
			void *old = __xa_store(&info->frames, index + i,
					       xa_mk_value(frame + i),
					       GFP_NOWAIT | __GFP_NOWARN);

			if (xa_is_err(old)) {
				err = xa_err(old);
				break;
			}
		}
	}
	if (err) {
		while (i--)
			__xa_erase(&info->frames, index + i);
	} else {
		for (i = 0; i < nr; i++) {
			get_page(usmfs_frame_page(frame + i));
			if (falloc)
				__xa_set_mark(&info->frames, index + i,
					      XA_MARK_0);
		}
	}
	xa_unlock(&info->frames);

	if (err) {
		for (i = 0; i < nr; i++)
			usmfs_frame_release(frame + i);
		usmfs_uncharge_frames(sbi, nr);
		usmfs_wake_frames();
		return err;
	}
	inode_add_bytes(inode, (loff_t)nr << PAGE_SHIFT);
	usmfs_chan_pages_allocated(inode, index, frame, nr, reserved);
	usmfs_chan_pressure(sbi);
	return frame;
}

/*
 * A write filling a hole of a contiguous file, inside its size: take the
 * hole's whole 2 MiB window as one aligned run if it is all a hole (what its
 * first fault would take), so that the file, written first and mapped
 * later, maps a window at a time too.  Return: the page at @index with a reference, or
 * NULL (the 4 KiB path then takes one frame).
 */
static struct page *usmfs_fill_window(struct inode *inode, pgoff_t index)
{
#if USMFS_CAN_MAP_WINDOW
	const unsigned long nr = USMFS_WINDOW_NR;
	pgoff_t first = round_down(index, nr), i;
	long frame;

	if (first + nr > DIV_ROUND_UP(i_size_read(inode), PAGE_SIZE))
		return NULL;
	frame = usmfs_fill_aligned(inode, first, nr, false);
	if (frame < 0)
		return NULL;
	for (i = 0; i < nr; i++)
		if (first + i != index)
			put_page(usmfs_frame_page(frame + i));
	return usmfs_frame_page(frame + index - first);
#else
	return NULL;
#endif
}

/* Wait (killably, until @deadline) for page @index to be other than @entry. */
static int usmfs_wait_entry(struct inode *inode, pgoff_t index, void *entry,
			    unsigned long deadline)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	long left = (long)(deadline - jiffies);
	long r = 0;

	if (left > 0)
		r = wait_event_killable_timeout(usmfs_page_wq,
				xa_load(&info->frames, index) != entry, left);
	if (r < 0)
		return -EINTR;
	if (!r)
		pr_warn_ratelimited("page %lu of inode %llu: still being %s after swapin_timeout\n",
				    index, (u64)inode->i_ino,
				    usmfs_e_swapped(entry) ? "swapped in" :
				    "evicted");
	return r ? 0 : -EIO;
}

/**
 * usmfs_get_page - the page at @index of a regular file, with a reference.
 * @inode:	the file
 * @index:	page index
 * @sgp:	what to do with a hole
 * @hit:	if not NULL, set to whether the page was resident
 *
 * A resident page is returned at once.  A page being evicted (locked by the
 * server) is waited for; a swapped page is asked back from the server
 * (usmfs_chan_swapin); both waits are killable and bounded by the mount's
 * swapin_timeout.
 *
 * Return: the page (put_page() it when done), NULL for a hole with
 * USMFS_SGP_READ or a page that is not resident with USMFS_SGP_FALLOC,
 * ERR_PTR(-ENOSPC) when the mount's share or the pool is used up,
 * ERR_PTR(-EIO) when a swapped page could not be brought back in time,
 * ERR_PTR(-EINTR) on a fatal signal, ERR_PTR(-ENOMEM).
 */
struct page *usmfs_get_page(struct inode *inode, pgoff_t index,
			    enum usmfs_sgp sgp, bool *hit)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long deadline = 0;
	struct page *page, *raced = NULL;
	bool reserved = false, waited = false;
	void *entry;
	long frame;
	int err;

again:
	xa_lock(&info->frames);
	entry = xa_load(&info->frames, index);
	if (usmfs_e_ready(entry)) {
		bool sampled = false;

		/* Under the lock: a truncate cannot free it before our get. */
		page = usmfs_frame_page(usmfs_e_frame(entry));
		get_page(page);
		if (unlikely(xa_marked(&info->frames, USMFS_MARK_SAMPLED)) &&
		    xa_get_mark(&info->frames, index, USMFS_MARK_SAMPLED)) {
			__xa_clear_mark(&info->frames, index,
					USMFS_MARK_SAMPLED);
			sampled = true;
		}
		xa_unlock(&info->frames);
		if (sampled)
			usmfs_chan_accessed(inode, index);
		if (hit)
			*hit = !waited;
		return page;
	}
	xa_unlock(&info->frames);
	if (entry) {
		/* Data, out of reach for now: fallocate has nothing to do. */
		if (sgp == USMFS_SGP_FALLOC)
			return NULL;
		if (!deadline)
			deadline = usmfs_deadline(USMFS_SB(inode->i_sb));
		waited = true;
		page = NULL;
		if (usmfs_e_busy(entry))
			err = usmfs_wait_entry(inode, index, entry, deadline);
		else
			err = usmfs_chan_swapin(inode, index, entry,
						sgp != USMFS_SGP_READ, deadline,
						&page);
		if (err)
			return ERR_PTR(err);
		if (!page)
			goto again;
		if (hit)
			*hit = false;
		return page;	/* swapped in for us */
	}
	if (hit)
		*hit = false;
	if (sgp == USMFS_SGP_READ)
		return NULL;
	if (sgp == USMFS_SGP_WRITE) {
		page = usmfs_fill_window(inode, index);
		if (page)
			return page;
	}

	frame = usmfs_take_frame(inode, index, &reserved, &deadline);
	if (frame < 0)
		return ERR_PTR(frame);
	page = usmfs_frame_page(frame);

	xa_lock(&info->frames);
	entry = __xa_cmpxchg(&info->frames, index, NULL, xa_mk_value(frame),
			     GFP_KERNEL);
	if (!entry) {
		get_page(page);
		if (sgp == USMFS_SGP_FALLOC)
			__xa_set_mark(&info->frames, index, XA_MARK_0);
	} else if (usmfs_e_ready(entry)) {
		/* A fault and a write raced for the hole: use theirs. */
		raced = usmfs_frame_page(usmfs_e_frame(entry));
		get_page(raced);
	}
	xa_unlock(&info->frames);

	if (entry) {
		usmfs_put_frame(inode, frame);
		if (xa_is_err(entry))
			return ERR_PTR(xa_err(entry));
		if (raced)
			return raced;
		goto again;	/* theirs was evicted meanwhile */
	}
	inode_add_bytes(inode, PAGE_SIZE);
	usmfs_chan_pages_allocated(inode, index, frame, 1, reserved);
	return page;
}

/*
 * Bytes that truncation or a hole punch must zero in a page that is
 * swapped out and cannot be brought back now (no server, or none in time),
 * or that the server holds for an eviction (EVICT's busy entry) past our
 * wait: noted per page, a bit per byte, and zeroed when the page comes
 * back, before anyone can see it (usmfs_tailzero_apply: from SWAPIN_DONE,
 * and where an eviction's busy entry is made resident again: CANCEL, a
 * failed EVICT or COMMIT, the server gone).  A committed page keeps its
 * note until it is swapped in.  The
 * page's entry is checked and the note made under the index's lock, which
 * SWAPIN_DONE holds to apply the note and make the page resident: neither
 * can slip between the other's steps.  Lock order: frames, then info->lock.
 */
struct usmfs_tailzero {
	struct list_head link;
	pgoff_t index;
	DECLARE_BITMAP(bytes, PAGE_SIZE);
};

/* The note of page @index, or NULL; the caller holds info->lock. */
static struct usmfs_tailzero *usmfs_tailzero_find(struct usmfs_inode_info *info,
						  pgoff_t index)
{
	struct usmfs_tailzero *tz;

	list_for_each_entry(tz, &info->tailzero, link)
		if (tz->index == index)
			return tz;
	return NULL;
}

/* Unlink the note of page @index; the caller holds info->frames' lock. */
struct usmfs_tailzero *usmfs_tailzero_take(struct usmfs_inode_info *info,
					   pgoff_t index)
{
	struct usmfs_tailzero *tz;

	spin_lock(&info->lock);
	tz = usmfs_tailzero_find(info, index);
	if (tz)
		list_del(&tz->link);
	spin_unlock(&info->lock);
	return tz;
}

/* Page @index comes back in @page: zero what was noted (frames lock held). */
void usmfs_tailzero_apply(struct usmfs_inode_info *info, pgoff_t index,
			  struct page *page)
{
	struct usmfs_tailzero *tz;
	unsigned int start, end;

	if (likely(list_empty_careful(&info->tailzero)))
		return;
	tz = usmfs_tailzero_take(info, index);
	if (!tz)
		return;
	for_each_set_bitrange(start, end, tz->bytes, PAGE_SIZE)
		memzero_page(page, start, end - start);
	kfree(tz);
}

static void usmfs_tailzero_note(struct inode *inode, pgoff_t index,
				unsigned int off, unsigned int len)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_tailzero *new, *tz = NULL;
	struct page *page = NULL;
	void *entry;

	new = kzalloc(sizeof(*new), GFP_KERNEL);
	xa_lock(&info->frames);
	entry = xa_load(&info->frames, index);
	if (usmfs_e_ready(entry)) {
		/* Came back meanwhile: zero it as it is. */
		page = usmfs_frame_page(usmfs_e_frame(entry));
		get_page(page);
	} else if (entry && (usmfs_e_swapped(entry) || usmfs_e_busy(entry))) {
		/*
		 * Swapped, or busy: being swapped in, or locked by the
		 * server's EVICT (stopped or slow server).  Dropping the
		 * bytes here would let the page come back with them.
		 */
		spin_lock(&info->lock);
		tz = usmfs_tailzero_find(info, index);
		if (!tz && new) {
			tz = new;
			new = NULL;
			tz->index = index;
			list_add(&tz->link, &info->tailzero);
		}
		if (tz)
			bitmap_set(tz->bytes, off, len);
		spin_unlock(&info->lock);
		if (!tz)
			pr_warn_ratelimited("page %lu of inode %llu: out of memory to note bytes to zero\n",
					    index, (u64)inode->i_ino);
	}
	xa_unlock(&info->frames);
	kfree(new);
	if (page) {
		memzero_page(page, off, len);
		put_page(page);
	}
}

/*
 * Drop the frames at [@first, @last] (only those marked XA_MARK_0 if
 * @marked).  The caller holds invalidate_lock exclusively, so no new fault
 * can find them, and has unmapped the range; a fault that found one just
 * before holds its page lock until its PTE is in, so wait for that, and let
 * the caller unmap again.  A frame still referenced after that is deferred
 * by the pool, never reused while referenced.
 */
static void usmfs_free_frames(struct inode *inode, pgoff_t first,
			      pgoff_t last, bool marked)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_sb_info *sbi = USMFS_SB(inode->i_sb);
	unsigned long index = first;
	long freed = 0, swapped = 0;

	/*
	 * One lookup per frame, not an xas walk: erasing shrinks the tree
	 * under a paused xa_state, and we drop the lock for every frame.
	 * A busy entry is ours once erased: the server's COMMIT, CANCEL or
	 * SWAPIN_DONE for it finds it gone.
	 */
	while (index <= last) {
		struct usmfs_tailzero *tz = NULL;
		struct page *page;
		unsigned long frame;
		void *entry;

		xa_lock(&info->frames);
		entry = xa_find(&info->frames, &index, last,
				marked ? XA_MARK_0 : XA_PRESENT);
		if (entry) {
			__xa_erase(&info->frames, index);
			/* (a busy resident entry may have one too) */
			if (!list_empty_careful(&info->tailzero))
				tz = usmfs_tailzero_take(info, index);
		}
		xa_unlock(&info->frames);
		kfree(tz);
		if (!entry)
			break;

		if (usmfs_e_swapped(entry)) {
			/* The slot is the server's to free (TRUNCATED). */
			swapped++;
		} else {
			frame = usmfs_e_frame(entry);
			page = usmfs_frame_page(frame);
			lock_page(page);
			unlock_page(page);
			usmfs_frame_release(frame);
			freed++;
		}
		cond_resched();
		if (index == last)
			break;
		index++;
	}

	if (freed)
		usmfs_uncharge_frames(sbi, freed);
	if (swapped) {
		atomic_long_sub(swapped, &info->nr_swapped);
		atomic_long_sub(swapped, &sbi->swapped);
	}
	if (freed || swapped) {
		inode_sub_bytes(inode, (loff_t)(freed + swapped) << PAGE_SHIFT);
		usmfs_wake_frames();
	}
}

static void usmfs_zero_partial(struct inode *inode, loff_t pos,
			       unsigned int len)
{
	struct page *page;

	/*
	 * A swapped page is brought back to be zeroed; if it cannot be now,
	 * the bytes are zeroed when it comes back.
	 */
	page = usmfs_get_page(inode, pos >> PAGE_SHIFT, USMFS_SGP_READ, NULL);
	if (IS_ERR(page))
		usmfs_tailzero_note(inode, pos >> PAGE_SHIFT,
				    offset_in_page(pos), len);
	if (IS_ERR_OR_NULL(page))
		return;
	memzero_page(page, offset_in_page(pos), len);
	put_page(page);
}

/*
 * Free pages [@first, @last] of @inode, TRUNCATED reported first: the
 * server hears of it before any reuse of the frames.  From the report until
 * the entries are erased, no swap-in request of the range goes out (it
 * would follow the TRUNCATED that gave its slot back to the server).
 * Caller holds invalidate_lock (exclusive).
 */
static void usmfs_truncate_pages(struct inode *inode, pgoff_t first,
				 pgoff_t last, bool marked)
{
	struct usmfs_inode_info *info = USMFS_I(inode);

	xa_lock(&info->frames);
	info->trunc_first = first;
	info->trunc_last = last;
	info->truncating = true;
	xa_unlock(&info->frames);
	usmfs_chan_truncated(inode, first,
			     last == ULONG_MAX ? ~0ULL : last - first + 1, true);
	if (!marked)
		usmfs_resv_drop(inode, first, last);
	usmfs_free_frames(inode, first, last, marked);
	xa_lock(&info->frames);
	info->truncating = false;
	xa_unlock(&info->frames);
}

/**
 * usmfs_truncate_range - make bytes [@lstart, @lend] of a file a hole.
 *
 * Whole pages lose their frames; partial pages at the edges are zeroed in
 * place.  Caller holds i_rwsem and invalidate_lock (exclusive), and unmaps
 * the whole pages before and after.
 */
void usmfs_truncate_range(struct inode *inode, loff_t lstart, loff_t lend)
{
	pgoff_t start = DIV_ROUND_UP(lstart, PAGE_SIZE);
	pgoff_t end = lend == LLONG_MAX ? ULONG_MAX :
		      ((pgoff_t)((lend + 1) >> PAGE_SHIFT));
	unsigned int head = offset_in_page(lstart);
	unsigned int tail = offset_in_page(lend + 1);

	if (head) {
		unsigned int len = PAGE_SIZE - head;

		if ((lstart >> PAGE_SHIFT) == (lend >> PAGE_SHIFT))
			len = lend - lstart + 1;
		usmfs_zero_partial(inode, lstart, len);
	}
	/*
	 * The last page's head, unless the head above was in the same page
	 * and zeroed it already (a range from a page boundary to the middle
	 * of that page is this one: it zeroed nothing before 2026-12-07).
	 */
	if (tail && lend != LLONG_MAX &&
	    (!head || (lstart >> PAGE_SHIFT) != (lend >> PAGE_SHIFT)))
		usmfs_zero_partial(inode, lend + 1 - tail, tail);
	if (end == ULONG_MAX)
		usmfs_truncate_pages(inode, start, ULONG_MAX, false);
	else if (end > start)
		usmfs_truncate_pages(inode, start, end - 1, false);
}

/* Undo the frames a failed fallocate added (marked), or keep them. */
void usmfs_falloc_finish(struct inode *inode, pgoff_t first, pgoff_t last,
			 bool undo)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct address_space *mapping = inode->i_mapping;
	XA_STATE(xas, &info->frames, first);
	void *entry;

	if (undo) {
		filemap_invalidate_lock(mapping);
		unmap_mapping_range(mapping, (loff_t)first << PAGE_SHIFT,
				    (loff_t)(last - first + 1) << PAGE_SHIFT, 0);
		usmfs_truncate_pages(inode, first, last, true);
		unmap_mapping_range(mapping, (loff_t)first << PAGE_SHIFT,
				    (loff_t)(last - first + 1) << PAGE_SHIFT, 0);
		filemap_invalidate_unlock(mapping);
		return;
	}
	xas_lock(&xas);
	xas_for_each_marked(&xas, entry, last, XA_MARK_0) {
		xas_clear_mark(&xas, XA_MARK_0);
		if (need_resched()) {
			xas_pause(&xas);
			xas_unlock(&xas);
			cond_resched();
			xas_lock(&xas);
		}
	}
	xas_unlock(&xas);
}

/**
 * usmfs_setattr_size - truncate or extend a regular file.
 *
 * Growing is sparse.  Shrinking unmaps what lies past the new end (private
 * COW copies too, as truncate must), frees those frames, zeroes the tail of
 * the last page, and unmaps again for faults that raced with it.
 */
int usmfs_setattr_size(struct inode *inode, loff_t newsize)
{
	struct address_space *mapping = inode->i_mapping;
	loff_t oldsize = inode->i_size;
	loff_t holebegin;
	int err;

	err = inode_newsize_ok(inode, newsize);
	if (err)
		return err;
	if (newsize == oldsize)
		return 0;

	filemap_invalidate_lock(mapping);
	i_size_write(inode, newsize);
	if (newsize < oldsize) {
		holebegin = round_up(newsize, PAGE_SIZE);
		unmap_mapping_range(mapping, holebegin, 0, 1);
		usmfs_truncate_range(inode, newsize, LLONG_MAX);
		unmap_mapping_range(mapping, holebegin, 0, 1);
	}
	filemap_invalidate_unlock(mapping);
	return 0;
}

/* ---------------------------------------------------------------- inodes */

static struct inode *usmfs_alloc_inode(struct super_block *sb)
{
	struct usmfs_inode_info *info;

	info = alloc_inode_sb(sb, usmfs_inode_cachep, GFP_KERNEL);
	if (!info)
		return NULL;
	xa_init(&info->frames);
	xa_init(&info->resv);
	spin_lock_init(&info->lock);
	INIT_LIST_HEAD(&info->xattrs);
	info->xattr_bytes = 0;
	atomic64_set(&info->faults, 0);
	atomic64_set(&info->hits, 0);
	atomic_long_set(&info->nr_swapped, 0);
	atomic64_set(&info->evictions, 0);
	atomic64_set(&info->swapins, 0);
	info->sample_next = 0;
	info->ra_next = 0;
	info->ra_win = 0;
	INIT_LIST_HEAD(&info->tailzero);
	info->chan_gone = false;
	info->truncating = false;
	memset(info->trunc_ring, 0, sizeof(info->trunc_ring));
	info->trunc_next = 0;
	info->trunc_floor = 0;
	info->trunc_gen = 0;
	return &info->vfs_inode;
}

static void usmfs_free_inode(struct inode *inode)
{
	if (S_ISLNK(inode->i_mode))
		kfree(inode->i_link);
	kmem_cache_free(usmfs_inode_cachep, USMFS_I(inode));
}

static void usmfs_evict_inode(struct inode *inode)
{
	struct usmfs_inode_info *info = USMFS_I(inode);

	if (S_ISREG(inode->i_mode)) {
		WRITE_ONCE(info->chan_gone, true);
		usmfs_chan_swapin_forget(inode);
		if (usmfs_files_del(USMFS_SB(inode->i_sb), inode))
			usmfs_chan_file_removed(inode);
		usmfs_resv_drop(inode, 0, ULONG_MAX);
		usmfs_free_frames(inode, 0, ULONG_MAX, false);
	}
	WARN_ON_ONCE(!xa_empty(&info->frames));
	WARN_ON_ONCE(!list_empty(&info->tailzero));
	usmfs_xattrs_free(inode);
	clear_inode(inode);
	usmfs_unreserve_inode(USMFS_SB(inode->i_sb));
}

static void usmfs_inode_init_once(void *p)
{
	struct usmfs_inode_info *info = p;

	inode_init_once(&info->vfs_inode);
}

int usmfs_inode_cache_init(void)
{
	usmfs_inode_cachep = kmem_cache_create("usmfs_inode_cache",
					       sizeof(struct usmfs_inode_info),
					       0, SLAB_RECLAIM_ACCOUNT |
					       SLAB_ACCOUNT,
					       usmfs_inode_init_once);
	return usmfs_inode_cachep ? 0 : -ENOMEM;
}

void usmfs_inode_cache_exit(void)
{
	/* Inodes are freed after an RCU grace period. */
	rcu_barrier();
	kmem_cache_destroy(usmfs_inode_cachep);
}

/**
 * usmfs_get_inode - a new inode of @mode in @dir (NULL for the root).
 *
 * Return: the inode, or ERR_PTR(-ENOSPC) past nr_inodes, ERR_PTR(-ENOMEM).
 */
struct inode *usmfs_get_inode(struct super_block *sb,
			      struct usmfs_idmap *idmap, struct inode *dir,
			      umode_t mode, dev_t dev)
{
	struct usmfs_sb_info *sbi = USMFS_SB(sb);
	struct posix_acl *dflt, *acl;
	struct inode *inode;
	int err;

	/* the umask, or @dir's default ACL */
	err = usmfs_acl_prepare(dir, &mode, &dflt, &acl);
	if (err)
		return ERR_PTR(err);
	err = usmfs_reserve_inode(sbi);
	if (err)
		goto out_acl;
	inode = new_inode(sb);
	if (!inode) {
		usmfs_unreserve_inode(sbi);
		err = -ENOMEM;
		goto out_acl;
	}
	inode->i_ino = get_next_ino();
	inode->i_generation = get_random_u32();	/* file handles */
	inode_init_owner(idmap, inode, dir, mode);
	inode->i_mapping->a_ops = &usmfs_aops;
	usmfs_set_all_times_now(inode);
	USMFS_I(inode)->btime = inode_get_ctime(inode);
	usmfs_policy_init(&USMFS_I(inode)->pol, sbi);
	if (dir)
		usmfs_policy_inherit(inode, dir);

	switch (mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &usmfs_file_inode_operations;
		inode->i_fop = &usmfs_file_operations;
		/* The channel finds it in the mount's files, whole. */
		err = usmfs_files_add(sbi, inode);
		if (err) {
			iput(inode);
			return ERR_PTR(err);
		}
		insert_inode_hash(inode);
		break;
	case S_IFDIR:
		inode->i_op = &usmfs_dir_inode_operations;
		inode->i_fop = &simple_dir_operations;
		inc_nlink(inode);	/* "." */
		break;
	case S_IFLNK:
		inode->i_op = &usmfs_symlink_inode_operations;
		break;
	default:
		inode->i_op = &usmfs_special_inode_operations;
		init_special_inode(inode, mode, dev);
		break;
	}
	err = usmfs_acl_attach(inode, dflt, acl);
	if (err) {
		iput(inode);	/* evicted at once: unhashed, unreserved */
		return ERR_PTR(err);
	}
	return inode;

out_acl:
	usmfs_acl_release(dflt, acl);
	return ERR_PTR(err);
}

/* ------------------------------------------------------------ superblock */

static int usmfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct usmfs_sb_info *sbi = USMFS_SB(dentry->d_sb);
	long used = atomic_long_read(&sbi->used_frames);
	unsigned long max = READ_ONCE(sbi->max_frames);
	unsigned long avail = used < (long)max ? max - used : 0;

	buf->f_type = USMFS_MAGIC;
	buf->f_bsize = PAGE_SIZE;
	buf->f_frsize = PAGE_SIZE;
	buf->f_namelen = NAME_MAX;
	buf->f_blocks = max;
	buf->f_bfree = min(avail, usmfs_pool_nr_free());
	buf->f_bavail = buf->f_bfree;
	spin_lock(&sbi->stat_lock);
	if (sbi->max_inodes) {
		buf->f_files = sbi->max_inodes;
		buf->f_ffree = min(sbi->max_inodes - sbi->nr_inodes,
				   usmfs_ispace_free_locked(sbi) /
				   USMFS_INODE_COST);
	}
	spin_unlock(&sbi->stat_lock);
	return 0;
}

const struct super_operations usmfs_super_operations = {
	.alloc_inode	= usmfs_alloc_inode,
	.free_inode	= usmfs_free_inode,
	.evict_inode	= usmfs_evict_inode,
	.drop_inode	= usmfs_drop_inode,
	.statfs		= usmfs_statfs,
	.show_options	= usmfs_show_options,
};
