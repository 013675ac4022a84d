// SPDX-License-Identifier: GPL-2.0-only
/*
 * pool.c - the pool of frames usmfs files are made of.
 *
 * The pool is taken at load, in chunks of 2..64 MiB, from the first source
 * that works (CMA, alloc_contig_range(), high-order pages), and given back at
 * unload.  Its pages never reach the LRU: the pool keeps one reference on
 * each, files own frames through that reference, mappings and readers take
 * their own.  A frame goes back to the free bitmap only when its page count
 * is back to the pool's single reference; until then it waits on the
 * deferred bitmap, which a delayed work rescans while it is not empty.
 *
 * Placement is the in-kernel default, firstfit: the lowest free frame.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/highmem.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "usmfs.h"

#define USMFS_CHUNK_MAX		((64UL << 20) >> PAGE_SHIFT)
#define USMFS_CHUNK_MIN		((2UL << 20) >> PAGE_SHIFT)
#define USMFS_CONTIG_TRIES	64	/* failed ranges per chunk size */
#define USMFS_RECLAIM_DELAY	(HZ / 10)

const char *const usmfs_source_names[USMFS_SRC_NR] = {
	[USMFS_SRC_CMA]		= "cma",
	[USMFS_SRC_CONTIG]	= "contig",
	[USMFS_SRC_PAGES]	= "pages",
};

/**
 * struct usmfs_pool - the one pool of the module.
 * @lock:	protects the bitmaps and counters
 * @used:	bit per frame: owned by a file, or deferred
 * @deferred:	bit per frame: freed by its file, still referenced
 * @first_free:	no frame below it is free (firstfit starts here)
 * @pages:	frame number -> struct page
 * @chunks:	what was taken, to give it back
 * @mounts:	the mounts, for the stats file (under @mounts_lock)
 */
static struct usmfs_pool {
	spinlock_t lock;
	unsigned long nr_frames;
	unsigned long nr_free;
	unsigned long nr_deferred;
	unsigned long first_free;
	unsigned long *used;
	unsigned long *deferred;
	struct page **pages;

	struct usmfs_pool_chunk *chunks;
	unsigned int nr_chunks;
	unsigned int max_chunks;
	u64 requested;
	unsigned long src_frames[USMFS_SRC_NR];
	unsigned long allocs;
	unsigned long frees;
	unsigned long deferrals;
	unsigned long reserved;

	struct delayed_work reclaim;
	struct mutex mounts_lock;
	struct list_head mounts;
	struct dentry *debugfs;
#if USMFS_CAN_CMA
	struct cma *cma;
#endif
} pool;

static inline struct page *usmfs_pfn_page(struct page *base, unsigned long i)
{
	return pfn_to_page(page_to_pfn(base) + i);
}

u64 usmfs_pool_bytes(void)
{
	return (u64)pool.nr_frames << PAGE_SHIFT;
}

unsigned long usmfs_pool_nr_frames(void)
{
	return pool.nr_frames;
}

unsigned long usmfs_pool_nr_free(void)
{
	return READ_ONCE(pool.nr_free);
}

struct page *usmfs_frame_page(unsigned long frame)
{
	if (WARN_ON_ONCE(frame >= pool.nr_frames))
		return NULL;
	return pool.pages[frame];
}

/* --------------------------------------------------------- frame bitmap */

/* Move deferred frames whose page is free again back to the free bitmap. */
static unsigned long usmfs_reclaim_deferred_locked(void)
{
	unsigned long frame, back = 0;

	lockdep_assert_held(&pool.lock);
	for_each_set_bit(frame, pool.deferred, pool.nr_frames) {
		if (page_ref_count(pool.pages[frame]) != 1)
			continue;
		__clear_bit(frame, pool.deferred);
		__clear_bit(frame, pool.used);
		pool.nr_deferred--;
		pool.nr_free++;
		if (frame < pool.first_free)
			pool.first_free = frame;
		back++;
	}
	return back;
}

static void usmfs_reclaim_work(struct work_struct *work)
{
	bool again;

	spin_lock(&pool.lock);
	usmfs_reclaim_deferred_locked();
	again = pool.nr_deferred != 0;
	spin_unlock(&pool.lock);
	if (again)
		schedule_delayed_work(&pool.reclaim, USMFS_RECLAIM_DELAY);
}

/**
 * usmfs_frame_alloc - take the lowest free frame and zero it.
 *
 * Return: the frame number, or -ENOSPC when the pool is empty.
 */
long usmfs_frame_alloc(void)
{
	unsigned long frame;
	struct page *page;

	spin_lock(&pool.lock);
	frame = find_next_zero_bit(pool.used, pool.nr_frames, pool.first_free);
	if (frame >= pool.nr_frames && pool.nr_deferred &&
	    usmfs_reclaim_deferred_locked())
		frame = find_next_zero_bit(pool.used, pool.nr_frames,
					   pool.first_free);
	if (frame >= pool.nr_frames) {
		pool.first_free = pool.nr_frames;
		spin_unlock(&pool.lock);
		return -ENOSPC;
	}
	__set_bit(frame, pool.used);
	pool.first_free = frame + 1;
	pool.nr_free--;
	pool.allocs++;
	spin_unlock(&pool.lock);

	/* No data from a previous owner may leak to the new one. */
	page = pool.pages[frame];
	ClearPageDirty(page);
	clear_highpage(page);
	/* Its contents are valid: pipe buffers (splice on 6.1) check this. */
	SetPageUptodate(page);
	return frame;
}

/* Zero a frame taken for a file (a fresh or a reserved one). */
static void usmfs_frame_prepare(unsigned long frame)
{
	struct page *page = pool.pages[frame];

	ClearPageDirty(page);
	clear_highpage(page);
	SetPageUptodate(page);
}

/*
 * Frames [@first, +@nr) are @nr physically consecutive pages starting at a
 * PFN aligned to @nr (a power of two): a 2 MiB window of its own.
 */
bool usmfs_frames_aligned(unsigned long first, unsigned long nr)
{
	unsigned long pfn, i;

	if (first >= pool.nr_frames || nr > pool.nr_frames - first)
		return false;
	pfn = page_to_pfn(pool.pages[first]);
	if (pfn & (nr - 1))
		return false;
	for (i = 1; i < nr; i++)
		if (page_to_pfn(pool.pages[first + i]) != pfn + i)
			return false;
	return true;
}

/* The lowest free run of @nr frames, PFN-aligned to @nr, in one chunk. */
static long usmfs_find_aligned_locked(unsigned long nr)
{
	unsigned long start = 0;
	unsigned int c;

	for (c = 0; c < pool.nr_chunks; start += pool.chunks[c++].nr) {
		unsigned long pfn = page_to_pfn(pool.chunks[c].base);
		unsigned long off = ALIGN(pfn, nr) - pfn;

		for (; off + nr <= pool.chunks[c].nr; off += nr) {
			unsigned long f = start + off;

			if (find_next_bit(pool.used, f + nr, f) >= f + nr)
				return f;
		}
	}
	return -ENOSPC;
}

/**
 * usmfs_frames_alloc_aligned - take @nr free frames, one aligned run.
 * @nr:	a power of two (USMFS_WINDOW_NR)
 *
 * The frames are zeroed.  Return: the first frame, or -ENOSPC when no such
 * run is free.
 */
long usmfs_frames_alloc_aligned(unsigned long nr)
{
	unsigned long i;
	long first;

	spin_lock(&pool.lock);
	if (pool.nr_free < nr) {
		spin_unlock(&pool.lock);
		return -ENOSPC;
	}
	first = usmfs_find_aligned_locked(nr);
	if (first < 0 && pool.nr_deferred && usmfs_reclaim_deferred_locked())
		first = usmfs_find_aligned_locked(nr);
	if (first < 0) {
		spin_unlock(&pool.lock);
		return first;
	}
	for (i = 0; i < nr; i++)
		__set_bit(first + i, pool.used);
	pool.nr_free -= nr;
	pool.allocs += nr;
	spin_unlock(&pool.lock);

	for (i = 0; i < nr; i++) {
		usmfs_frame_prepare(first + i);
		cond_resched();
	}
	return first;
}

/**
 * usmfs_frames_reserve - take frames [@first, +@nr) for a reservation.
 *
 * Return: 0; -EINVAL when the range is not inside one chunk; -EBUSY when a
 * frame of it is not free (nothing is taken then).
 */
int usmfs_frames_reserve(unsigned long first, unsigned long nr)
{
	unsigned long start = 0, i;
	unsigned int c;

	if (!nr || first >= pool.nr_frames || nr > pool.nr_frames - first)
		return -EINVAL;
	for (c = 0; c < pool.nr_chunks; c++) {
		if (first < start + pool.chunks[c].nr)
			break;
		start += pool.chunks[c].nr;
	}
	if (c == pool.nr_chunks || first + nr > start + pool.chunks[c].nr)
		return -EINVAL;

	spin_lock(&pool.lock);
	if (find_next_bit(pool.used, first + nr, first) < first + nr) {
		spin_unlock(&pool.lock);
		return -EBUSY;
	}
	for (i = first; i < first + nr; i++)
		__set_bit(i, pool.used);
	pool.nr_free -= nr;
	pool.reserved += nr;
	spin_unlock(&pool.lock);
	return 0;
}

/* A reserved frame is given back unused. */
void usmfs_frame_unreserve(unsigned long frame)
{
	if (WARN_ON_ONCE(frame >= pool.nr_frames))
		return;
	spin_lock(&pool.lock);
	__clear_bit(frame, pool.used);
	pool.nr_free++;
	pool.reserved--;
	if (frame < pool.first_free)
		pool.first_free = frame;
	spin_unlock(&pool.lock);
}

/* A reserved frame becomes a file's: zero it (usmfs_frame_alloc's job). */
void usmfs_frame_take_reserved(unsigned long frame)
{
	spin_lock(&pool.lock);
	pool.reserved--;
	pool.allocs++;
	spin_unlock(&pool.lock);
	usmfs_frame_prepare(frame);
}

/**
 * usmfs_frame_release - a file no longer owns @frame.
 *
 * The caller has removed the frame from its index and unmapped it; anyone
 * who still holds a reference (a fault in flight, a GUP pin, a pipe) keeps
 * the page alive, and the frame is reused only after the last one is gone.
 */
void usmfs_frame_release(unsigned long frame)
{
	bool kick = false;

	if (WARN_ON_ONCE(frame >= pool.nr_frames))
		return;
	spin_lock(&pool.lock);
	pool.frees++;
	if (page_ref_count(pool.pages[frame]) == 1) {
		__clear_bit(frame, pool.used);
		pool.nr_free++;
		if (frame < pool.first_free)
			pool.first_free = frame;
	} else {
		__set_bit(frame, pool.deferred);
		kick = pool.nr_deferred++ == 0;
		pool.deferrals++;
	}
	spin_unlock(&pool.lock);
	if (kick)
		schedule_delayed_work(&pool.reclaim, USMFS_RECLAIM_DELAY);
}

/* ----------------------------------------------------- taking the pool */

static int usmfs_add_chunk(struct page *base, unsigned long nr,
			   enum usmfs_source src)
{
	unsigned long i;

	if (pool.nr_chunks == pool.max_chunks) {
		unsigned int max = max(16U, pool.max_chunks * 2);
		struct usmfs_pool_chunk *c;

		c = krealloc(pool.chunks, max * sizeof(*c), GFP_KERNEL);
		if (!c)
			return -ENOMEM;
		pool.chunks = c;
		pool.max_chunks = max;
	}
	pool.chunks[pool.nr_chunks++] = (struct usmfs_pool_chunk){
		.base = base, .nr = nr, .src = src,
	};
	for (i = 0; i < nr; i++)
		pool.pages[pool.nr_frames + i] = usmfs_pfn_page(base, i);
	pool.nr_frames += nr;
	pool.src_frames[src] += nr;
	return 0;
}

static void usmfs_free_chunk(struct usmfs_pool_chunk *c)
{
	unsigned long i, busy = 0;

	for (i = 0; i < c->nr; i++)
		busy += page_ref_count(usmfs_pfn_page(c->base, i)) != 1;
	if (busy)
		pr_warn("%lu frames of a %s chunk are still referenced\n",
			busy, usmfs_source_names[c->src]);

	switch (c->src) {
	case USMFS_SRC_CMA:
#if USMFS_CAN_CMA
		/* CMA would hand referenced pages out again: keep the chunk. */
		if (busy) {
			pr_err("leaking a %lu-page CMA chunk\n", c->nr);
			break;
		}
		cma_release(pool.cma, c->base, c->nr);
#endif
		break;
	case USMFS_SRC_CONTIG:
#if USMFS_CAN_CONTIG
		free_contig_range(page_to_pfn(c->base), c->nr);
#endif
		break;
	default:
		/* split_page() gave every page its own count. */
		for (i = 0; i < c->nr; i++)
			put_page(usmfs_pfn_page(c->base, i));
		break;
	}
}

#if USMFS_CAN_CMA
static struct page *usmfs_take_cma(unsigned long nr)
{
	if (!pool.cma)
		pool.cma = dev_get_cma_area(NULL);
	if (!pool.cma)
		return NULL;
	return cma_alloc(pool.cma, nr,
			 nr >= USMFS_CHUNK_MIN ? ilog2(USMFS_CHUNK_MIN) : 0,
			 true);
}
#endif

#if USMFS_CAN_CONTIG
static bool usmfs_overlaps_pool(unsigned long start, unsigned long nr)
{
	unsigned int i;

	for (i = 0; i < pool.nr_chunks; i++) {
		unsigned long s = page_to_pfn(pool.chunks[i].base);

		if (start < s + pool.chunks[i].nr && s < start + nr)
			return true;
	}
	return false;
}

/* All online, one zone that is not ZONE_DMA, nothing reserved. */
static bool usmfs_contig_candidate(unsigned long start, unsigned long nr)
{
	struct zone *zone = NULL;
	unsigned long pfn;

	if (usmfs_overlaps_pool(start, nr))
		return false;
	for (pfn = start; pfn < start + nr; pfn++) {
		struct page *page = pfn_to_online_page(pfn);

		if (!page || PageReserved(page))
			return false;
		if (!zone) {
			zone = page_zone(page);
#ifdef CONFIG_ZONE_DMA
			if (zone_idx(zone) == ZONE_DMA)
				return false;
#endif
		} else if (page_zone(page) != zone) {
			return false;
		}
	}
	return true;
}

/* Top down through each node, on USMFS_CHUNK_MIN boundaries. */
static struct page *usmfs_take_contig(unsigned long nr)
{
	unsigned int tries = 0;
	int nid;

	for_each_online_node(nid) {
		unsigned long lo = node_start_pfn(nid);
		unsigned long hi = node_end_pfn(nid);
		unsigned long start;

		if (hi - lo < nr)
			continue;
		start = ALIGN_DOWN(hi - nr, USMFS_CHUNK_MIN);
		for (; start >= lo && tries < USMFS_CONTIG_TRIES;
		     start -= USMFS_CHUNK_MIN) {
			if (!usmfs_contig_candidate(start, nr))
				goto next;
			tries++;
			if (!usmfs_alloc_contig_range(start, start + nr))
				return pfn_to_page(start);
next:
			if (start < lo + USMFS_CHUNK_MIN)
				break;
			cond_resched();
		}
	}
	return NULL;
}
#endif

static struct page *usmfs_take_pages(unsigned long *nr)
{
	unsigned int order = min_t(unsigned int, ilog2(*nr),
				   USMFS_MAX_PAGE_ORDER);
	struct page *page;

	for (;; order--) {
		page = alloc_pages(GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY,
				   order);
		if (page || !order)
			break;
	}
	if (!page)
		return NULL;
	split_page(page, order);
	*nr = 1UL << order;
	return page;
}

/* Take up to @want frames from @src; returns how many were taken. */
static unsigned long usmfs_take(enum usmfs_source src, unsigned long want)
{
	unsigned long got = 0;

	while (got < want) {
		unsigned long nr = min(want - got, USMFS_CHUNK_MAX);
		struct page *base = NULL;

		for (;;) {
			switch (src) {
#if USMFS_CAN_CMA
			case USMFS_SRC_CMA:
				base = usmfs_take_cma(nr);
				break;
#endif
#if USMFS_CAN_CONTIG
			case USMFS_SRC_CONTIG:
				base = usmfs_take_contig(nr);
				break;
#endif
			case USMFS_SRC_PAGES:
				base = usmfs_take_pages(&nr);
				break;
			default:
				return 0;
			}
			if (base || nr <= USMFS_CHUNK_MIN)
				break;
			nr = max(nr / 2, USMFS_CHUNK_MIN);
		}
		if (!base)
			break;
		if (usmfs_add_chunk(base, nr, src)) {
			struct usmfs_pool_chunk c = { .base = base, .nr = nr,
						 .src = src };

			usmfs_free_chunk(&c);
			break;
		}
		got += nr;
	}
	return got;
}

/* ------------------------------------------------------------ stats file */

/* "contig", or "contig+pages" for a pool taken from more than one source. */
static const char *usmfs_sources_str(char *buf, size_t len)
{
	size_t n = 0;
	int src;

	buf[0] = '\0';
	for (src = 0; src < USMFS_SRC_NR; src++)
		if (pool.src_frames[src])
			n += scnprintf(buf + n, len - n, "%s%s", n ? "+" : "",
				       usmfs_source_names[src]);
	return buf;
}

static int usmfs_pool_show(struct seq_file *m, void *v)
{
	struct usmfs_sb_info *sbi;
	char buf[32];
	unsigned long free, deferred, allocs, frees, deferrals;
	int src;

	spin_lock(&pool.lock);
	free = pool.nr_free;
	deferred = pool.nr_deferred;
	allocs = pool.allocs;
	frees = pool.frees;
	deferrals = pool.deferrals;
	spin_unlock(&pool.lock);

	seq_printf(m, "requested_bytes %llu\n", pool.requested);
	seq_printf(m, "pool_bytes %llu\n", usmfs_pool_bytes());
	seq_printf(m, "page_size %lu\n", PAGE_SIZE);
	seq_printf(m, "frames %lu\n", pool.nr_frames);
	seq_printf(m, "free %lu\n", free);
	seq_printf(m, "used %lu\n", pool.nr_frames - free);
	seq_printf(m, "deferred %lu\n", deferred);
	seq_printf(m, "reserved %lu\n", READ_ONCE(pool.reserved));
	seq_printf(m, "source %s\n", usmfs_sources_str(buf, sizeof(buf)));
	seq_printf(m, "chunks %u\n", pool.nr_chunks);
	for (src = 0; src < USMFS_SRC_NR; src++)
		seq_printf(m, "source_%s %lu\n", usmfs_source_names[src],
			   pool.src_frames[src]);
	seq_printf(m, "allocs %lu\nfrees %lu\ndeferrals %lu\n", allocs, frees,
		   deferrals);

	mutex_lock(&pool.mounts_lock);
	list_for_each_entry(sbi, &pool.mounts, pool_link) {
		unsigned long inodes;

		spin_lock(&sbi->stat_lock);
		inodes = sbi->nr_inodes;
		spin_unlock(&sbi->stat_lock);
		seq_printf(m,
			   "mount dev=%u:%u size_frames=%lu used_frames=%ld inodes=%lu max_inodes=%lu faults=%lld hits=%lld swapped=%ld evictions=%lld swapins=%lld window_maps=%lld overwrites=%lld swapins_ahead=%lld evict_stale=%lld\n",
			   MAJOR(sbi->sb->s_dev), MINOR(sbi->sb->s_dev),
			   sbi->max_frames,
			   atomic_long_read(&sbi->used_frames), inodes,
			   sbi->max_inodes, atomic64_read(&sbi->faults),
			   atomic64_read(&sbi->hits),
			   atomic_long_read(&sbi->swapped),
			   atomic64_read(&sbi->evictions),
			   atomic64_read(&sbi->swapins),
			   atomic64_read(&sbi->window_maps),
			   atomic64_read(&sbi->overwrites),
			   atomic64_read(&sbi->swapins_ahead),
			   atomic64_read(&sbi->evict_stale));
	}
	mutex_unlock(&pool.mounts_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(usmfs_pool);

void usmfs_pool_add_mount(struct usmfs_sb_info *sbi)
{
	mutex_lock(&pool.mounts_lock);
	list_add_tail(&sbi->pool_link, &pool.mounts);
	mutex_unlock(&pool.mounts_lock);
}

void usmfs_pool_del_mount(struct usmfs_sb_info *sbi)
{
	mutex_lock(&pool.mounts_lock);
	list_del_init(&sbi->pool_link);
	mutex_unlock(&pool.mounts_lock);
}

/*
 * For the channel: the mounts, in the order they were mounted, between
 * usmfs_pool_lock_mounts() and usmfs_pool_unlock_mounts().  An unmount
 * takes its mount off the list first thing in kill_sb, so a mount on the
 * list stays whole until the unlock; whoever uses a mount after the unlock
 * pins it with usmfs_pool_get_mount() instead.
 */
struct list_head *usmfs_pool_lock_mounts(void)
{
	mutex_lock(&pool.mounts_lock);
	return &pool.mounts;
}

void usmfs_pool_unlock_mounts(void)
{
	mutex_unlock(&pool.mounts_lock);
}

/**
 * usmfs_pool_get_mount - pin a mount for the channel.
 * @dev:	its channel number (exactly, with @exact), or the lowest one at
 *		least @dev
 * @exact:	only that mount
 *
 * The superblock's active count is taken (unless unmounting has begun):
 * until usmfs_pool_put_mount(), an unmount leaves the superblock, its
 * inodes and its usmfs_sb_info alone (umount(2) returns; kill_sb runs at
 * the put), so commands and sampling cannot run into a dying mount.
 *
 * Return: the mount, or NULL.
 */
struct usmfs_sb_info *usmfs_pool_get_mount(u32 dev, bool exact)
{
	struct usmfs_sb_info *sbi, *best;

	mutex_lock(&pool.mounts_lock);
	for (;;) {
		best = NULL;
		list_for_each_entry(sbi, &pool.mounts, pool_link) {
			if (exact ? sbi->chan_dev != dev : sbi->chan_dev < dev)
				continue;
			if (!best || sbi->chan_dev < best->chan_dev)
				best = sbi;
		}
		if (!best || atomic_inc_not_zero(&best->sb->s_active))
			break;
		/* Its kill_sb waits for the lock to take it off the list. */
		if (exact || best->chan_dev == U32_MAX) {
			best = NULL;
			break;
		}
		dev = best->chan_dev + 1;
	}
	mutex_unlock(&pool.mounts_lock);
	return best;
}

/* Unpin: may run the unmount's kill_sb (never under the mounts lock). */
void usmfs_pool_put_mount(struct usmfs_sb_info *sbi)
{
	deactivate_super(sbi->sb);
}

unsigned int usmfs_pool_nr_chunks(void)
{
	return pool.nr_chunks;
}

/* Chunk @i (frames in chunk order): its length, source and first pfn. */
void usmfs_pool_chunk_info(unsigned int i, unsigned long *nr,
			   enum usmfs_source *src, unsigned long *pfn)
{
	*nr = pool.chunks[i].nr;
	*src = pool.chunks[i].src;
	if (pfn)
		*pfn = page_to_pfn(pool.chunks[i].base);
}

/* ------------------------------------------------------------ load/unload */

static void usmfs_pool_give_back(void)
{
	unsigned int i;

	for (i = 0; i < pool.nr_chunks; i++)
		usmfs_free_chunk(&pool.chunks[i]);
	kfree(pool.chunks);
	pool.chunks = NULL;
	pool.nr_chunks = 0;
	pool.nr_frames = 0;
}

/**
 * usmfs_pool_init - take the pool.
 * @bytes:	how much to take (rounded down to whole pages)
 * @force:	one source only, or USMFS_SRC_AUTO for the first that works
 *
 * Return: 0 with at least one frame (a partial pool is reported and used),
 * -ENOMEM with none.
 */
int usmfs_pool_init(u64 bytes, enum usmfs_source force)
{
	unsigned long want = bytes >> PAGE_SHIFT, got = 0;
	size_t words = BITS_TO_LONGS(want);
	int src, err = -ENOMEM;
	char buf[32];

	spin_lock_init(&pool.lock);
	mutex_init(&pool.mounts_lock);
	INIT_LIST_HEAD(&pool.mounts);
	INIT_DELAYED_WORK(&pool.reclaim, usmfs_reclaim_work);
	pool.requested = bytes;
	if (!want)
		return -EINVAL;

	pool.pages = kvcalloc(want, sizeof(*pool.pages), GFP_KERNEL);
	if (!pool.pages)
		goto out;
	pool.used = kvcalloc(words, sizeof(long), GFP_KERNEL);
	if (!pool.used)
		goto free_pages_array;
	pool.deferred = kvcalloc(words, sizeof(long), GFP_KERNEL);
	if (!pool.deferred)
		goto free_used;

	for (src = 0; src < USMFS_SRC_NR && got < want; src++)
		if (force == USMFS_SRC_AUTO || force == src)
			got += usmfs_take(src, want - got);
	if (!got) {
		pr_err("could not take any of the %llu-byte pool\n", bytes);
		goto free_deferred;
	}
	pool.nr_free = pool.nr_frames;

	pr_info("pool: source %s, %llu of %llu bytes in %u chunks (frames: cma %lu, contig %lu, pages %lu)\n",
		usmfs_sources_str(buf, sizeof(buf)), usmfs_pool_bytes(), bytes,
		pool.nr_chunks, pool.src_frames[USMFS_SRC_CMA],
		pool.src_frames[USMFS_SRC_CONTIG],
		pool.src_frames[USMFS_SRC_PAGES]);
	if (got < want)
		pr_warn("pool: partial, %lu of %lu frames\n", got, want);

	pool.debugfs = debugfs_create_dir("usmfs", NULL);
	debugfs_create_file("pool", 0444, pool.debugfs, NULL,
			    &usmfs_pool_fops);
	return 0;

free_deferred:
	kvfree(pool.deferred);
free_used:
	kvfree(pool.used);
free_pages_array:
	kvfree(pool.pages);
out:
	return err;
}

void usmfs_pool_exit(void)
{
	debugfs_remove_recursive(pool.debugfs);
	cancel_delayed_work_sync(&pool.reclaim);
	spin_lock(&pool.lock);
	usmfs_reclaim_deferred_locked();
	if (pool.nr_free != pool.nr_frames)
		pr_warn("pool: %lu frames still in use at unload\n",
			pool.nr_frames - pool.nr_free);
	spin_unlock(&pool.lock);
	usmfs_pool_give_back();
	kvfree(pool.deferred);
	kvfree(pool.used);
	kvfree(pool.pages);
	pr_info("pool: returned\n");
}
