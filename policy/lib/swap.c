// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * swap.c - backing stores (usm/swap.h): "none" and "file:PATH".
 *
 * A file store is a sparse file of 4 KiB slots after a header page
 * (store_file.c); slot s is at (s + 1) * 4096.
 * Slots are handed out lowest first from a two-level bitmap: bit b of
 * l0[w] is slot w * 64 + b (1 = used), bit j of l1[i] says l0[i * 64 + j]
 * is full.  An allocation skips full groups of 4096 slots 64 at a time
 * from a hint below which everything is known to be full, so it never
 * scans the slots one by one.  The bitmap grows (doubling) on demand.
 *
 * usm_store_alloc_run() hands out runs of adjacent slots instead, for an
 * eviction batch: next-fit from a cursor that moves forward through the
 * file, so that slots freed behind it (a writer's overwrites free the old
 * slots in the order it rewrites them) gather into long free runs before it
 * comes back to them.  At the top of the used area it wraps to the start
 * when at least an eighth of that area is free (the file stays within
 * about 8/7 of what is used), else it appends.
 *
 * I/O is batched: the pages of a call are sorted by slot and each run of
 * adjacent slots goes in one preadv/pwritev of up to IOV_MAX buffers.
 * With USM_STORE_DIRECT, writes go around the page cache (O_DIRECT,
 * through a second descriptor on the same file) when the filesystem allows
 * it and the buffers are page-aligned, as the frontends' frames are: an
 * evicted page then really leaves RAM instead of moving into the store's
 * page cache, and the write costs no copy.  Reads stay buffered (the kernel
 * keeps that coherent with the direct writes).  Anything else, or a
 * filesystem that refuses a direct write, uses the ordinary descriptor.
 * It is not the default: measured with the FUSE daemon (bench/README.md),
 * the synchronous device writes and their completions made other
 * processes' page faults several times slower at p99 while evicting.
 *
 * A third bitmap, wr, says which used slots were written since they were
 * allocated (or hold data: claimed).  A read of a slot not written yet gives
 * zeroes without looking at the file, so a slot freed and handed out again
 * never shows its old contents, whether or not its hole was punched.  That
 * is what lets freed slots be punched in batches, off the allocation path:
 * under steady eviction most freed slots are allocated and written again
 * before their batch is due, and are then left alone (punching them only to
 * fill the hole again cost ext4 a punch and a block allocation per page).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "store.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* 2^36 slots = 256 TiB: far beyond any real store, small enough that
 * slot * 4096 never overflows off_t. */
#define STORE_MAX_SLOTS	(1ULL << 36)

#define STORE_PUNCH_BATCH	8192
#define STORE_EMPTY_TRUNCATE	256	/* slots: 1 MiB */
#define STORE_SPACE_RECHECK	(16ULL << 20)

static void store_punch_pending(struct usm_store *st, bool all);

/* ---------------------------------------------------------------- bitmap */

static int slot_used(const struct usm_store *st, usm_slot_t s)
{
	return s / 64 < st->nwords && (st->l0[s / 64] >> (s % 64)) & 1;
}

static int slot_written(const struct usm_store *st, usm_slot_t s)
{
	return (st->wr[s / 64] >> (s % 64)) & 1;
}

static void mark_written(struct usm_store *st, usm_slot_t s)
{
	st->wr[s / 64] |= 1ULL << (s % 64);
}

/* A slot just taken holds nothing yet: not written. */
static void mark_used(struct usm_store *st, usm_slot_t s)
{
	uint64_t w = s / 64;

	st->wr[w] &= ~(1ULL << (s % 64));
	st->l0[w] |= 1ULL << (s % 64);
	if (st->l0[w] == UINT64_MAX)
		st->l1[w / 64] |= 1ULL << (w % 64);
	st->used++;
	if (s >= st->top)
		st->top = s + 1;
}

static void mark_free(struct usm_store *st, usm_slot_t s)
{
	uint64_t w = s / 64;

	st->l0[w] &= ~(1ULL << (s % 64));
	st->wr[w] &= ~(1ULL << (s % 64));
	st->l1[w / 64] &= ~(1ULL << (w % 64));
	if (!st->l0[w] && st->type == STORE_RADOS)
		store_rados_obj_empty(st, w);
	if (w / 64 < st->hint)
		st->hint = w / 64;
	if (--st->used == 0)
		st->top = st->cursor = 0;
}

/* The first free slot in [@s, @lim), or @lim.  Slots past the bitmap are
 * free; full groups of 4096 slots are skipped through l1. */
static uint64_t find_free(const struct usm_store *st, uint64_t s, uint64_t lim)
{
	while (s < lim) {
		uint64_t w = s / 64, bits;

		if (w >= st->nwords)
			return s;
		if (st->l1[w / 64] == UINT64_MAX) {
			s = (w / 64 + 1) * 64 * 64;
			continue;
		}
		bits = ~st->l0[w] & (UINT64_MAX << (s % 64));
		if (bits) {
			s = w * 64 + (uint64_t)__builtin_ctzll(bits);
			return s < lim ? s : lim;
		}
		s = (w + 1) * 64;
	}
	return lim;
}

/* How many slots from @s on (@s free) are free, at most @want. */
static uint64_t free_run_len(const struct usm_store *st, uint64_t s,
			     uint64_t want)
{
	uint64_t n = 0;

	while (n < want) {
		uint64_t t = s + n, w = t / 64, bits;

		if (w >= st->nwords)
			return want;
		bits = st->l0[w] >> (t % 64);
		if (bits) {
			n += (uint64_t)__builtin_ctzll(bits);
			break;
		}
		n += 64 - t % 64;
	}
	return n < want ? n : want;
}

/* Make room for slot @s (and at least double). */
static int bitmap_grow(struct usm_store *st, usm_slot_t s)
{
	uint64_t need = s / 64 + 1, nw = st->nwords ? st->nwords * 2 : 64;
	uint64_t *l0, *l1, *wr;

	if (s >= STORE_MAX_SLOTS)
		return -ERANGE;
	while (nw < need)
		nw *= 2;
	if (nw > STORE_MAX_SLOTS / 64)
		nw = STORE_MAX_SLOTS / 64;
	l0 = realloc(st->l0, nw * sizeof(*l0));
	if (!l0)
		return -ENOMEM;
	st->l0 = l0;
	l1 = realloc(st->l1, nw / 64 * sizeof(*l1));
	if (!l1)
		return -ENOMEM;
	st->l1 = l1;
	wr = realloc(st->wr, nw * sizeof(*wr));
	if (!wr)
		return -ENOMEM;
	st->wr = wr;
	memset(l0 + st->nwords, 0, (nw - st->nwords) * sizeof(*l0));
	memset(wr + st->nwords, 0, (nw - st->nwords) * sizeof(*wr));
	memset(l1 + st->nwords / 64, 0, (nw - st->nwords) / 64 * sizeof(*l1));
	st->nwords = nw;
	return 0;
}

static int bitmap_alloc(struct usm_store *st, usm_slot_t *slot)
{
	uint64_t i, w;
	int ret;

	for (;;) {
		for (i = st->hint; i < st->nwords / 64; i++) {
			if (st->l1[i] == UINT64_MAX)
				continue;
			st->hint = i;
			w = i * 64 + (uint64_t)__builtin_ctzll(~st->l1[i]);
			*slot = w * 64 + (uint64_t)__builtin_ctzll(~st->l0[w]);
			mark_used(st, *slot);
			return 0;
		}
		st->hint = st->nwords / 64;
		ret = bitmap_grow(st, st->nwords * 64);
		if (ret)
			return ret == -ERANGE ? -ENOSPC : ret;
	}
}

/* ------------------------------------------------------------ open/close */

int usm_store_open(const char *name, const char *spec, unsigned int flags,
		   struct usm_store **out, char *err, size_t errlen)
{
	return store_open_bounded(name, spec, flags, 0, out, err, errlen);
}

int store_open_bounded(const char *name, const char *spec, unsigned int flags,
		       uint64_t wait_ms, struct usm_store **out, char *err,
		       size_t errlen)
{
	struct usm_store *st;
	int ret;

	if (!name || !spec || !out) {
		store_set_err(err, errlen, "store: missing name or spec");
		return -EINVAL;
	}
	if (flags & ~(USM_STORE_KEEP | USM_STORE_DIRECT | USM_STORE_UNLOCKED)) {
		store_set_err(err, errlen, "%s: unknown flags 0x%x", spec, flags);
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->fd = -1;
	st->dfd = -1;
	st->name = strdup(name);
	st->spec = strdup(spec);
	if (!st->name || !st->spec) {
		ret = -ENOMEM;
		store_set_err(err, errlen, "%s: out of memory", spec);
		goto fail;
	}
	if (!strcmp(spec, "none")) {
		st->type = STORE_NONE;
	} else if (!strncmp(spec, "file:", 5)) {
		st->type = STORE_FILE;
		ret = store_file_open(st, spec + 5, flags, err, errlen);
		if (ret)
			goto fail;
	} else if (!strncmp(spec, "rados:", 6)) {
		st->type = STORE_RADOS;
		ret = store_rados_open(st, wait_ms, flags, err, errlen);
		if (ret)
			goto fail;
	} else {
		store_set_err(err, errlen, "%s: unknown store type (expected none, "
			"file:/PATH or rados:POOL)", spec);
		ret = -EINVAL;
		goto fail;
	}
	*out = st;
	return 0;
fail:
	usm_store_close(st);
	return ret;
}

void usm_store_close(struct usm_store *st)
{
	if (!st)
		return;
	store_rados_close(st);
	if (st->fd >= 0) {
		store_punch_pending(st, true);
		close(st->fd);
	}
	if (st->dfd >= 0)
		close(st->dfd);
	free(st->pending);
	free(st->l0);
	free(st->l1);
	free(st->wr);
	free(st->name);
	free(st->spec);
	free(st);
}

const char *usm_store_name(const struct usm_store *st)
{
	return st->name;
}

const char *usm_store_spec(const struct usm_store *st)
{
	return st->spec;
}

int usm_store_writable(const struct usm_store *st)
{
	return st->type == STORE_FILE || st->type == STORE_RADOS;
}

int usm_store_state(const struct usm_store *st, char *buf, size_t len)
{
	if (st->type == STORE_RADOS)
		return store_rados_state(st, buf, len);
	if (len)
		buf[0] = '\0';
	return 0;
}

uint64_t usm_store_slots_used(const struct usm_store *st)
{
	return st->used;
}

static int cmp_slot(const void *a, const void *b)
{
	usm_slot_t x = *(const usm_slot_t *)a, y = *(const usm_slot_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Give the space of freed slots back to the filesystem.  When no slot is
 * used any more the file is simply cut to zero; otherwise the freed slots
 * that are still free are punched, adjacent ones in one call.  Not every
 * filesystem can punch (EOPNOTSUPP), and a failure costs only space: a slot
 * not written since it was allocated reads as zeroes anyway (wr).  Runs
 * when STORE_PUNCH_BATCH slots are pending, at sync and at close (@all).
 *
 * Between syncs, while runs are being allocated (usm_store_alloc_run) and
 * at least half of the used area is in use, a batch is not punched: the
 * cursor comes back to those holes and writes them again soon (under a
 * streaming writer the free slots are those of the pages it rewrote, a
 * large share of the area), and a punched slot costs the filesystem a
 * block allocation when it is written again, for nothing.  What that
 * leaves allocated is at most the free half.  The next punch that is not
 * skipped (less than half in use, a sync, the close) punches every free run
 * below the top instead of the pending list, and a store that empties is
 * truncated at once (usm_store_free).
 */
static void punch_free_runs(struct usm_store *st)
{
	uint64_t s = 0, n;

	while ((s = find_free(st, s, st->top)) < st->top) {
		n = free_run_len(st, s, st->top - s);
		(void)fallocate(st->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)STORE_SLOT_OFF(s),
				(off_t)(n * USM_PAGE_SIZE));
		s += n;
	}
}

static void store_punch_pending(struct usm_store *st, bool all)
{
	size_t i = 0, n = st->npending;

	st->npending = 0;
	if (st->type == STORE_RADOS)
		store_rados_flush(st, all);
	if (st->type != STORE_FILE || (!n && !(all && st->unpunched)))
		return;
	if (st->used == 0) {
		(void)store_file_cut(st);
		st->unpunched = false;
		return;
	}
	if (!all && st->cursor && st->used * 2 >= st->top) {
		st->unpunched = true;
		return;
	}
	if (st->unpunched) {
		punch_free_runs(st);
		st->unpunched = false;
		return;
	}
	qsort(st->pending, n, sizeof(*st->pending), cmp_slot);
	while (i < n) {
		usm_slot_t first = st->pending[i], last = first;

		if (slot_used(st, first)) {
			i++;
			continue;
		}
		while (++i < n && (st->pending[i] == last ||
				   (st->pending[i] == last + 1 &&
				    !slot_used(st, last + 1))))
			last = st->pending[i];
		(void)fallocate(st->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)STORE_SLOT_OFF(first),
				(off_t)((last - first + 1) * USM_PAGE_SIZE));
	}
}

/* ----------------------------------------------------------------- slots */

/*
 * Room left for the store on its filesystem: the free space less a reserve
 * (USM_STORE_RESERVE_MIN, or USM_STORE_RESERVE_PCT of the filesystem,
 * whichever is larger, unless usm_store_set_reserve() said otherwise), so
 * that a file that outgrows memory cannot fill the disk it swaps to.
 */
static uint64_t store_fs_room(const struct usm_store *st)
{
	struct statvfs sv;
	uint64_t avail, total, reserve;

	if (st->type == STORE_RADOS)
		return store_rados_room(st) * USM_PAGE_SIZE;
	if (fstatvfs(st->fd, &sv))
		return 0;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	total = (uint64_t)sv.f_blocks * sv.f_frsize;
	reserve = st->reserve;
	if (!reserve) {
		reserve = total / 100 * USM_STORE_RESERVE_PCT;
		if (reserve < USM_STORE_RESERVE_MIN)
			reserve = USM_STORE_RESERVE_MIN;
	}
	return avail > reserve ? avail - reserve : 0;
}

/* Refill the budget, at most STORE_SPACE_RECHECK at a time, so that the
 * free space is looked at again after every 16 MiB the store takes. */
static void store_check_space(struct usm_store *st)
{
	uint64_t room = store_fs_room(st);

	st->budget = (int64_t)(room < STORE_SPACE_RECHECK ? room : STORE_SPACE_RECHECK);
}

/*
 * What the store can still take: the free slots inside its file (below
 * its top: they are its own, whatever its filesystem has free) and what
 * the filesystem has above the reserve.
 */
uint64_t usm_store_room(const struct usm_store *st)
{
	char why[8];

	if (!usm_store_writable(st) || usm_store_state(st, why, sizeof(why)))
		return 0;	/* "rados:": its cluster does not answer */
	return st->top - st->used + store_fs_room(st) / USM_PAGE_SIZE;
}

void usm_store_traffic(const struct usm_store *st, uint64_t *out,
		       uint64_t *in)
{
	*out = st->pages_out;
	*in = st->pages_in;
}

uint64_t usm_store_reserve(const struct usm_store *st)
{
	struct statvfs sv;
	uint64_t reserve;

	if (!usm_store_writable(st) || st->type == STORE_RADOS)
		return 0;
	if (st->reserve)
		return st->reserve;
	if (fstatvfs(st->fd, &sv))
		return USM_STORE_RESERVE_MIN;
	reserve = (uint64_t)sv.f_blocks * sv.f_frsize / 100 * USM_STORE_RESERVE_PCT;
	return reserve > USM_STORE_RESERVE_MIN ? reserve : USM_STORE_RESERVE_MIN;
}

void usm_store_set_reserve(struct usm_store *st, uint64_t bytes)
{
	st->reserve = bytes;
	st->budget = 0;
}

/* Can the store grow by @pages past its top?  Takes them from the budget,
 * refilled from the filesystem's room when short: how many it may grow by
 * (up to @pages), 0 when it is at its reserve. */
static uint64_t store_grow(struct usm_store *st, uint64_t pages)
{
	uint64_t can;

	if (st->budget < (int64_t)(pages * USM_PAGE_SIZE))
		store_check_space(st);
	can = st->budget > 0 ? (uint64_t)st->budget / USM_PAGE_SIZE : 0;
	if (can > pages)
		can = pages;
	st->budget -= (int64_t)(can * USM_PAGE_SIZE);
	return can;
}

int usm_store_alloc(struct usm_store *st, usm_slot_t *slot)
{
	uint64_t top = st->top;

	if (!usm_store_writable(st) ||
	    (st->type == STORE_RADOS && !store_rados_usable(st)))
		return -ENOSPC;
	/* A free slot inside the file is reused without asking the
	 * filesystem; only a slot past the top needs room.  A slot handed
	 * out again reads as zeroes until written (wr), so the pending holes
	 * need not be punched first. */
	if (find_free(st, st->hint * 64 * 64, top) >= top && !store_grow(st, 1))
		return -ENOSPC;
	return bitmap_alloc(st, slot);
}

int usm_store_alloc_run(struct usm_store *st, uint64_t want,
			usm_slot_t *first, uint64_t *nr)
{
	uint64_t s, n, i, holes, top = st->top, grow, can;
	int ret;

	if (!usm_store_writable(st) ||
	    (st->type == STORE_RADOS && !store_rados_usable(st)))
		return -ENOSPC;
	if (!want || !first || !nr)
		return -EINVAL;
	if (want > STORE_MAX_SLOTS)
		want = STORE_MAX_SLOTS;
	holes = top - st->used;
	s = find_free(st, st->cursor, top);
	if (s >= top) {
		/* Nothing free up to the top: wrap if enough is free below
		 * it to be worth coming back for, else append. */
		if (st->cursor && holes && holes * 8 >= top)
			s = find_free(st, 0, top);
		if (s >= top)
			s = top;
	}
	if (s >= STORE_MAX_SLOTS)
		return -ENOSPC;
	if (want > STORE_MAX_SLOTS - s)
		want = STORE_MAX_SLOTS - s;
	n = free_run_len(st, s, want);
	/* The area grows only when little of it is free (below): a run
	 * found inside it stops at its top. */
	if (s < top && s + n > top && holes * 8 >= top)
		n = top - s;
	/* Only what goes past the top takes room from the filesystem. */
	grow = s + n > top ? s + n - (s > top ? s : top) : 0;
	if (grow) {
		can = store_grow(st, grow);
		if (can) {
			n -= grow - can;
		} else if (s < top) {
			n = top - s;
		} else {
			/* At the reserve: the holes behind the cursor are
			 * still the store's own. */
			s = find_free(st, 0, top);
			if (s >= top)
				return -ENOSPC;
			n = free_run_len(st, s, want < top - s ? want : top - s);
		}
	}
	if ((s + n - 1) / 64 >= st->nwords) {
		ret = bitmap_grow(st, s + n - 1);
		if (ret)
			return ret == -ERANGE ? -ENOSPC : ret;
	}
	for (i = 0; i < n; i++)
		mark_used(st, s + i);
	st->cursor = s + n;
	*first = s;
	*nr = n;
	return 0;
}

int usm_store_claim(struct usm_store *st, usm_slot_t slot)
{
	int ret;

	if (!usm_store_writable(st) || slot >= STORE_MAX_SLOTS)
		return -ERANGE;
	if (slot / 64 >= st->nwords) {
		ret = bitmap_grow(st, slot);
		if (ret)
			return ret;
	}
	if (slot_used(st, slot))
		return -EBUSY;
	mark_used(st, slot);
	mark_written(st, slot);
	/* A claimed slot holds data: if the file no longer reaches it, a
	 * read must fail rather than give zeroes. */
	if (STORE_SLOT_OFF(slot + 1) > st->written_end)
		st->written_end = STORE_SLOT_OFF(slot + 1);
	return 0;
}

int usm_store_free(struct usm_store *st, usm_slot_t slot)
{
	uint64_t top = st->top;

	if (!usm_store_writable(st) || !slot_used(st, slot))
		return -EINVAL;
	mark_free(st, slot);
	if (st->type == STORE_RADOS)
		return 0;	/* the object goes when its word empties */
	/* Emptied after holding more than a few pages: give the file's
	 * space back now (a store that swings between 0 and 1 page is left
	 * to the batches). */
	if (!st->used && top >= STORE_EMPTY_TRUNCATE) {
		st->npending = 0;
		st->unpunched = false;
		(void)store_file_cut(st);
		return 0;
	}
	if (!st->pending) {
		st->pending = malloc(STORE_PUNCH_BATCH * sizeof(*st->pending));
		if (!st->pending)
			return 0;	/* the space stays allocated: harmless */
	}
	st->pending[st->npending++] = slot;
	if (st->npending == STORE_PUNCH_BATCH)
		store_punch_pending(st, false);
	return 0;
}

/* ------------------------------------------------------------------- I/O */

/*
 * Transfer @cnt buffers at @off completely, whatever the kernel does:
 * retry on EINTR and continue after short transfers.  A read that meets
 * the end of the file beyond anything written gives zeroes (slots never
 * written); below that the file was cut behind our back: -EIO.
 */
static int io_full(struct usm_store *st, struct iovec *iov, int cnt,
		   uint64_t off, int write, bool direct)
{
	while (cnt > 0) {
		ssize_t n;

		if (direct && st->dfd < 0)
			direct = false;
		n = write ? pwritev(direct ? st->dfd : st->fd, iov, cnt, (off_t)off) :
			    preadv(st->fd, iov, cnt, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (direct && errno == EINVAL) {
				/* the filesystem takes no direct writes
				 * after all: the page cache from now on */
				close(st->dfd);
				st->dfd = -1;
				continue;
			}
			return -errno;
		}
		if (n == 0) {
			if (write || off < st->written_end)
				return -EIO;
			for (; cnt > 0; iov++, cnt--)
				memset(iov->iov_base, 0, iov->iov_len);
			return 0;
		}
		off += (uint64_t)n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0 && n) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	if (write && off > st->written_end)
		st->written_end = off;
	return 0;
}

struct slot_ref {
	usm_slot_t slot;
	size_t idx;		/* index in the caller's arrays */
};

static int cmp_slot_ref(const void *a, const void *b)
{
	const struct slot_ref *x = a, *y = b;

	return (x->slot > y->slot) - (x->slot < y->slot);
}

/* The sorted pages of a call to a "rados:" store: a slot not written since
 * it was allocated reads as zeroes here, the rest go to store_rados_io(). */
static int rados_io(struct usm_store *st, const struct slot_ref *order,
		    void *const *bufs, size_t n, int write)
{
	usm_slot_t *sl = calloc(n, sizeof(*sl));
	void **bf = calloc(n, sizeof(*bf));
	size_t i, m = 0;
	int ret;

	if (!sl || !bf) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!write && !slot_written(st, order[i].slot)) {
			memset(bufs[order[i].idx], 0, USM_PAGE_SIZE);
			continue;
		}
		sl[m] = order[i].slot;
		bf[m++] = bufs[order[i].idx];
	}
	ret = store_rados_io(st, sl, bf, m, write);
	for (i = 0; !ret && write && i < m; i++)
		mark_written(st, sl[i]);
out:
	free(sl);
	free(bf);
	return ret;
}

static int store_io(struct usm_store *st, const usm_slot_t *slots,
		    void *const *bufs, size_t n, int write)
{
	struct slot_ref *order;
	struct iovec *iov;
	size_t i, run;
	int sorted = 1, ret = 0;
	bool direct;

	if (!n)
		return 0;
	if (!usm_store_writable(st))
		return write ? -ENOSPC : -EINVAL;
	if (!slots || !bufs)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!slot_used(st, slots[i]) || !bufs[i])
			return -EINVAL;

	order = malloc(n * sizeof(*order));
	iov = malloc((n < IOV_MAX ? n : IOV_MAX) * sizeof(*iov));
	if (!order || !iov) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		order[i].slot = slots[i];
		order[i].idx = i;
		if (i && slots[i] <= slots[i - 1])
			sorted = 0;
	}
	if (!sorted) {
		qsort(order, n, sizeof(*order), cmp_slot_ref);
		for (i = 1; i < n; i++)
			if (order[i].slot == order[i - 1].slot) {
				ret = -EINVAL;	/* one slot twice in a batch */
				goto out;
			}
	}

	if (st->type == STORE_RADOS) {
		ret = rados_io(st, order, bufs, n, write);
		goto out;
	}
	for (i = 0; i < n && !ret; i += run) {
		usm_slot_t first = order[i].slot;
		size_t j;

		if (!write && !slot_written(st, first)) {
			/* nothing written there since it was allocated */
			memset(bufs[order[i].idx], 0, USM_PAGE_SIZE);
			run = 1;
			continue;
		}
		direct = write && st->dfd >= 0;
		for (run = 0; i + run < n && run < IOV_MAX &&
		     order[i + run].slot == first + run &&
		     (write || slot_written(st, first + run)); run++) {
			iov[run].iov_base = bufs[order[i + run].idx];
			iov[run].iov_len = USM_PAGE_SIZE;
			if ((uintptr_t)iov[run].iov_base % USM_PAGE_SIZE)
				direct = false;
		}
		ret = io_full(st, iov, (int)run, STORE_SLOT_OFF(first), write,
			      direct);
		if (!ret && write)
			for (j = 0; j < run; j++)
				mark_written(st, first + j);
	}
out:
	if (!ret && write)
		st->pages_out += n;
	else if (!ret) {	/* readers run at once (usm_cstore.io) */
		__atomic_add_fetch(&st->pages_in, n, __ATOMIC_RELAXED);
		__atomic_add_fetch(&st->reads, 1, __ATOMIC_RELAXED);
	}
	free(order);
	free(iov);
	return ret;
}

int usm_store_write(struct usm_store *st, const usm_slot_t *slots,
		    void *const *bufs, size_t n)
{
	return store_io(st, slots, bufs, n, 1);
}

int usm_store_read(struct usm_store *st, const usm_slot_t *slots,
		   void *const *bufs, size_t n)
{
	return store_io(st, slots, bufs, n, 0);
}

int usm_store_sync(struct usm_store *st)
{
	if (!usm_store_writable(st))
		return 0;
	store_punch_pending(st, true);
	if (st->type == STORE_RADOS)
		return 0;	/* a completed write is on the OSDs */
	return fdatasync(st->fd) ? -errno : 0;
}
