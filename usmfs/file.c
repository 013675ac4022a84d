// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * file.c - regular files: open/create/release, the data path (read, write),
 * truncate, fallocate, lseek SEEK_DATA/SEEK_HOLE.
 *
 * Every byte goes through the library: a page is made resident with
 * usm_fault() (which places, swaps in or cancels an eviction as needed),
 * pinned while we copy, and unpinned.  A read of a hole uses NOALLOC and
 * gets zeroes without taking a frame.  After faults, the eviction thread is
 * kicked if the pool is above its high watermark.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "usmfs.h"

#define PAGE_MASK_LOW	((uint64_t)USM_PAGE_SIZE - 1)
/* Pages faulted (and pinned) per hold of the library's lock. */
#define FAULT_BATCH	64

static const char zero_page[USM_PAGE_SIZE];

/* Map a library error to what a file operation reports. */
static int io_errno(int r)
{
	switch (r) {
	case -ENOSPC:
	case -ENOMEM:
	case -EFBIG:
	case -EINTR:
		return -r;
	default:
		return EIO;
	}
}

/* 1 if evicted pages of @n have somewhere to go (its store is not none). */
static bool file_can_swap(struct node *n)
{
	struct usm_file_policy pol;
	const char *sw;

	usm_file_get_policy(fs.ctx, n->uf, &pol);
	sw = pol.swap[0] ? pol.swap : fs.mo.swap;
	return sw[0] && strcmp(sw, "none") != 0;
}

/*
 * A full mount and the writeback cache.  The kernel takes write(2) into its
 * page cache and sends us the data later; the only request a write(2)
 * makes first is a GETATTR with the file handle, and only when the
 * attributes it caches have expired; a store into a page it does not hold
 * (a fault of a shared mapping, a partial page) READs the page first.  The
 * kernel may hold fs.reserve bytes dirty for the mount (its bdi's
 * max_bytes, with the strict limit FUSE sets), so that much room (free
 * frames plus the file's store's room) is kept for them: while less than
 * twice the reserve is left (room_low), attributes are given with no cache
 * time and each file the kernel writes back has its cached attributes
 * dropped, so that every write(2) asks; when less than the reserve is left
 * (room_refuse), a GETATTR or a READ of a hole through a handle opened for
 * writing gets ENOSPC, which write(2) returns and a fault turns into
 * SIGBUS.  What was accepted before that fits in the reserve; only the
 * write(2) calls in progress when the room ran out can go past it (their
 * excess gets ENOSPC at write-back: fsync, close).  docs/limits.md.
 */
#define ROOM_STORE_MS	100	/* how long a store's room is taken as known */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Pages @n's store can still take, as last seen.  Asking the store waits
 * for its I/O lock (held across a store write), so one thread asks, at
 * most every ROOM_STORE_MS, and only when @may_block (never under
 * fs.lock); the others take the last answer.
 */
static uint64_t store_room(struct node *n, uint64_t headroom, bool may_block)
{
	uint64_t t = now_ms(), r;

	if (!may_block || t - atomic_load(&n->room_ms) < ROOM_STORE_MS ||
	    atomic_exchange(&n->room_busy, true))
		return atomic_load(&n->room_store);
	r = usm_file_room(fs.ctx, n->uf);
	r = r > headroom ? r - headroom : 0;
	atomic_store(&n->room_store, r);
	atomic_store(&n->room_ms, t);
	atomic_store(&n->room_busy, false);
	return r;
}

/* Bytes @n can still be given: free frames under the limit, plus its
 * store's room when the frames alone are short of twice the reserve. */
static uint64_t room_bytes(struct node *n, bool may_block)
{
	struct usm_pool_stats ps;
	uint64_t lim, head;

	if (!fs.writeback || !fs.ctx || !n->uf)
		return UINT64_MAX;
	usm_pool_stats(fs.ctx, &ps);
	lim = ps.limit ? ps.limit : ps.frames;
	head = lim > ps.used ? lim - ps.used : 0;
	if ((head << USM_PAGE_SHIFT) / 2 < fs.reserve + USM_PAGE_SIZE &&
	    file_can_swap(n))
		head += store_room(n, head, may_block);
	if (head > (UINT64_MAX >> USM_PAGE_SHIFT))
		return UINT64_MAX - 1;
	return head << USM_PAGE_SHIFT;
}

bool room_low(struct node *n)
{
	uint64_t r = room_bytes(n, true);

	return r != UINT64_MAX && r / 2 < fs.reserve + USM_PAGE_SIZE;
}

/* How long the kernel may cache attributes: not at all when room is low.
 * (Called under fs.lock: the store's room as last seen.) */
double attr_timeout(struct node *n)
{
	uint64_t r = room_bytes(n, false);

	return r != UINT64_MAX && r / 2 < fs.reserve + USM_PAGE_SIZE ?
	       0.0 : fs.timeout;
}

bool room_refuse(struct node *n)
{
	uint64_t r = room_bytes(n, true);

	return r != UINT64_MAX && r < fs.reserve + USM_PAGE_SIZE;
}

/*
 * Fault pages [@idx, @idx + @nr) of @n in, frames in @fr[]: the number of
 * pages done (> 0), or -errno for the first.  -ENOSPC from the library can
 * also be transient: other threads took the frames this one freed, or
 * every evictable page was already on its way out.  If the file has a
 * store, force a balance and try again, backing off (bounded: about 0.3 s
 * in all) when the balance found nothing to do.  With swap=none -ENOSPC
 * stands.
 */
static long fault_range(struct node *n, uint64_t idx, uint64_t nr,
			unsigned int flags, usm_frame_t *fr)
{
	/* pinned until noted in the page map, so that no eviction comes
	 * in between; a swap-in keeps its slot until then (pmap.c) */
	unsigned int pin = sh ? USM_FAULT_PIN : 0;
	uint64_t stack[FAULT_BATCH], *saved = NULL;
	int tries, swap = -1;
	long r, i;

	if (pin && !(flags & USM_FAULT_OVERWRITE))
		pin |= USM_FAULT_KEEP_SLOT;
	if (pin && (flags & USM_FAULT_OVERWRITE)) {
		saved = nr <= FAULT_BATCH ? stack : malloc(nr * sizeof(*saved));
		if (!saved)
			return -ENOMEM;
		pmap_unswap(n, idx, nr, saved);
	}
	for (tries = 0;; tries++) {
		r = usm_fault_range(fs.ctx, n->uf, idx, nr, flags | pin, fr);
		if (r != -ENOSPC || tries >= 16)
			break;
		if (swap < 0)
			swap = file_can_swap(n);
		if (!swap)
			break;
		if (usm_balance(fs.ctx, USM_BALANCE_FORCE) <= 0) {
			struct timespec ts = { 0, 2000000L * (tries + 1) };

			nanosleep(&ts, NULL);
		}
	}
	for (i = 0; i < r; i++)
		if (fr[i] != USM_FRAME_NONE)
			pool_mark_dirty(fr[i]);
	if (r > 0 && pin) {
		pmap_note(n, idx, (uint64_t)r, fr);
		if (!(flags & USM_FAULT_PIN))
			usm_page_unpin_range(fs.ctx, n->uf, idx, (uint64_t)r, fr);
	}
	if (saved) {
		pmap_unswap_undo(n, idx, r > 0 ? (uint64_t)r : 0, nr, saved);
		if (saved != stack)
			free(saved);
	}
	if (r < 0 && r != -ENOSPC && r != -ENOENT && r != -EINTR) {
		static atomic_uint said;

		/* Becomes EIO for the caller: say why (the first few). */
		if (atomic_fetch_add(&said, 1) < 8)
			fprintf(stderr, "usmfs: inode %llu page %llu: %s\n",
				(unsigned long long)n->ino,
				(unsigned long long)idx, strerror((int)-r));
	}
	return r;
}

/* One page: 0 and *@fr, or -errno (-ENOENT: a hole with NOALLOC). */
static int fault(struct node *n, uint64_t idx, unsigned int flags,
		 usm_frame_t *fr)
{
	long r = fault_range(n, idx, 1, flags, fr);

	if (r < 0)
		return (int)r;
	return *fr == USM_FRAME_NONE ? -ENOENT : 0;
}

/* Zero [@from, @to) of page @idx if it holds data.  0 or -errno. */
static int zero_partial(struct node *n, uint64_t idx, unsigned int from,
			unsigned int to)
{
	usm_frame_t fr;
	int r;

	if (from >= to)
		return 0;
	r = fault(n, idx, USM_FAULT_NOALLOC | USM_FAULT_PIN, &fr);
	if (r == -ENOENT)
		return 0;
	if (r)
		return r;
	memset((char *)pool_frame(fr) + from, 0, to - from);
	usm_page_unpin(fs.ctx, n->uf, idx);
	return 0;
}

/* Change the size of regular file @n; shrinking frees its pages.
 * 0 or -errno (nothing changed). */
int file_set_size(struct node *n, uint64_t size)
{
	uint64_t old;
	int r;

	pthread_mutex_lock(&fs.lock);
	old = n->size;
	pthread_mutex_unlock(&fs.lock);
	if (size < old && n->uf && (size & PAGE_MASK_LOW)) {
		r = zero_partial(n, size >> USM_PAGE_SHIFT,
				 (unsigned int)(size & PAGE_MASK_LOW),
				 USM_PAGE_SIZE);
		if (r)
			return r;
	}
	pthread_mutex_lock(&fs.lock);
	n->size = size;
	pthread_mutex_unlock(&fs.lock);
	if (size < old && n->uf) {
		pmap_drop(n, (size + PAGE_MASK_LOW) >> USM_PAGE_SHIFT, UINT64_MAX);
		r = usm_truncate(fs.ctx, n->uf,
				 (size + PAGE_MASK_LOW) >> USM_PAGE_SHIFT);
		evict_kick(true);
		if (r)
			return r;
	}
	return 0;
}

static struct node *file_get(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n = node_get(ino);

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return NULL;
	}
	if (!n->uf) {
		fuse_reply_err(req, S_ISDIR(n->mode) ? EISDIR : EINVAL);
		node_put(n);
		return NULL;
	}
	return n;
}

void usmfs_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = file_get(req, ino);
	int r;

	if (!n)
		return;
	pthread_mutex_lock(&fs.lock);
	r = node_flag_open_denies(n, fi->flags);
	pthread_mutex_unlock(&fs.lock);
	if (r) {
		fuse_reply_err(req, r);
		node_put(n);
		return;
	}
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
		r = file_set_size(n, 0);
		if (r) {
			fuse_reply_err(req, -r);
			node_put(n);
			return;
		}
		pthread_mutex_lock(&fs.lock);
		node_touch(&n->mtime);
		n->ctime = n->mtime;
		pthread_mutex_unlock(&fs.lock);
	}
	pthread_mutex_lock(&fs.lock);
	n->nopen++;
	pthread_mutex_unlock(&fs.lock);
	fi->fh = (fi->flags & O_ACCMODE) != O_RDONLY ? FH_WRITE : 0;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) != 0) {
		/* interrupted: no release will come */
		pthread_mutex_lock(&fs.lock);
		n->nopen--;
		pthread_mutex_unlock(&fs.lock);
	}
	node_put(n);
}

void usmfs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi)
{
	bool tmpfile = io_take_tmpfile();	/* an O_TMPFILE open */
	struct fuse_entry_param e;
	struct node *n;
	int err;

	err = node_create(req, parent, tmpfile ? NULL : name,
			  S_IFREG | (mode & 07777), 0, NULL, &n);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (fi->flags & O_ACCMODE) != O_RDONLY ? FH_WRITE : 0;
	fi->keep_cache = 1;
	memset(&e, 0, sizeof(e));
	pthread_mutex_lock(&fs.lock);
	e.ino = n->ino;
	e.attr_timeout = attr_timeout(n);
	e.entry_timeout = fs.timeout;
	node_fill_stat_locked(n, &e.attr);
	n->nopen++;
	if (fuse_reply_create(req, &e, fi) == 0)
		n->nlookup++;
	else
		n->nopen--;
	pthread_mutex_unlock(&fs.lock);
	node_put(n);
}

void usmfs_ll_release(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct usm_file *uf = NULL;
	struct node *n;

	(void)fi;
	pthread_mutex_lock(&fs.lock);
	n = node_find_locked(ino);
	if (n && n->nopen) {
		n->nopen--;
		node_maybe_free_locked(n, &uf);
	}
	pthread_mutex_unlock(&fs.lock);
	node_release_file(uf);
	fuse_reply_err(req, 0);
}

/*
 * The kernel has just written its dirty pages back to us (fsync), so
 * st_blocks may have changed under attributes it still caches: drop them.
 * Safe here (not in the write handler): the caller holds the file open, so
 * the kernel's inode cannot be evicted from under the notification.
 */
static void attrs_changed(fuse_ino_t ino)
{
	if (fs.se)
		fuse_lowlevel_notify_inval_inode(fs.se, ino, -1, 0);
}

/*
 * Nothing to do at close(2): the kernel has written the dirty pages back
 * before it sends FLUSH, and it drops the st_blocks it caches itself after
 * a flush with the writeback cache.  ENOSYS makes it stop sending FLUSH
 * for this connection (fc->no_flush): one round trip less per close(2)
 * that wrote.  It still writes back, reports write-back errors (ENOSPC) to
 * close(2) and drops st_blocks without asking us (fuse_flush).
 */
void usmfs_ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

void usmfs_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	attrs_changed(ino);
	fuse_reply_err(req, 0);
}

void usmfs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	uint64_t isize, first, pos, nr, k;
	usm_frame_t *frames = NULL;
	struct iovec *iov = NULL;
	size_t done = 0;
	struct node *n;
	bool hole = false;
	int err = 0;

	n = file_get(req, ino);
	if (!n)
		return;
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		goto out;
	}
	pthread_mutex_lock(&fs.lock);
	isize = n->size;
	pthread_mutex_unlock(&fs.lock);
	if ((uint64_t)off >= isize || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		goto out;
	}
	if (size > isize - (uint64_t)off)
		size = (size_t)(isize - (uint64_t)off);
	if (size > (64u << 20))
		size = 64u << 20;
	first = (uint64_t)off >> USM_PAGE_SHIFT;
	nr = (((uint64_t)off + size - 1) >> USM_PAGE_SHIFT) - first + 1;
	iov = malloc(nr * sizeof(*iov));
	frames = malloc(nr * sizeof(*frames));
	if (!iov || !frames) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	pos = (uint64_t)off;
	for (k = 0; k < nr && done < size;) {
		uint64_t want = nr - k < FAULT_BATCH ? nr - k : FAULT_BATCH, j;
		long got = fault_range(n, first + k, want,
				       USM_FAULT_NOALLOC | USM_FAULT_PIN,
				       frames + k);

		if (got == -ENOENT) {
			/* A file already released: reads as holes. */
			for (j = 0; j < want; j++)
				frames[k + j] = USM_FRAME_NONE;
			got = (long)want;
		}
		if (got < 0) {
			err = io_errno((int)got);
			break;
		}
		for (j = 0; j < (uint64_t)got; j++, k++) {
			uint64_t pgoff = pos & PAGE_MASK_LOW;
			size_t len = USM_PAGE_SIZE - pgoff;

			if (len > size - done)
				len = size - done;
			if (frames[k] != USM_FRAME_NONE)
				iov[k].iov_base = (char *)pool_frame(frames[k]) + pgoff;
			else
				iov[k].iov_base = (void *)(zero_page + pgoff);
			hole |= frames[k] == USM_FRAME_NONE;
			iov[k].iov_len = len;
			done += len;
			pos += len;
		}
	}
	/*
	 * A hole read through a handle opened for writing, with less room
	 * than the reserve: the kernel fills its page cache before a write
	 * into a page it does not hold (a fault of a shared mapping, a
	 * partial write(2)), so refusing here is what tells a mmap writer
	 * (SIGBUS) that a new page cannot be kept.  (Read-only handles read
	 * holes as ever; a page fault retries its single page after a
	 * refused read-ahead, so only a real hole fails.)
	 */
	if (hole && !err && (fi->fh & FH_WRITE) && room_refuse(n))
		err = ENOSPC, done = 0;
	/*
	 * An error fails the whole read, even with pages done before it: the
	 * kernel takes a short reply as the end of the file and fills the
	 * rest of its pages with zeroes (fuse_short_read), which a reader
	 * would get as data.  Refused, the read-ahead leaves the pages
	 * alone and the kernel asks again for the page it needs.
	 */
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_iov(req, iov, (int)k);
	if (k)
		usm_page_unpin_range(fs.ctx, n->uf, first, k, frames);
	evict_after_fault();
out:
	free(iov);
	free(frames);
	node_put(n);
}

/*
 * An O_DIRECT write is applied: drop the kernel's cached pages of the range
 * before it completes.  The kernel drops them before it sends the write and,
 * for a synchronous one, after; not after an asynchronous one (aio,
 * io_uring).  A buffered reader that brought a page back in between (its
 * read served here before the write) would leave the old bytes cached for
 * good.  The invalidation waits for pages locked by reads in flight, which
 * other threads of the loop serve: not done with -s (one thread; see
 * docs/fuse.md).
 */
static void dio_written(fuse_ino_t ino, off_t off, size_t len)
{
	int r;

	if (fs.single)
		return;
	r = fuse_lowlevel_notify_inval_inode(fs.se, ino, off, (off_t)len);
	if (r && r != -ENOENT && fs.debug)
		fprintf(stderr, "usmfs: invalidate after O_DIRECT write: %s\n",
			strerror(-r));
}

void usmfs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		    size_t size, off_t off, struct fuse_file_info *fi)
{
	int kill = io_take_kill();
	uint64_t pos, end;
	size_t done = 0;
	struct node *n;
	int err = 0;

	n = file_get(req, ino);
	if (!n)
		return;
	if (kill) {
		pthread_mutex_lock(&fs.lock);
		if (node_kill_wanted(n, kill, false))
			node_kill_suidgid_locked(n);
		pthread_mutex_unlock(&fs.lock);
	}
	if (off < 0) {
		err = EINVAL;
		goto out;
	}
	if ((uint64_t)off >= USMFS_MAX_FILE_SIZE ||
	    size > USMFS_MAX_FILE_SIZE - (uint64_t)off) {
		err = EFBIG;
		goto out;
	}
	pos = (uint64_t)off;
	while (done < size) {
		uint64_t pgoff = pos & PAGE_MASK_LOW, idx = pos >> USM_PAGE_SHIFT;
		usm_frame_t fr[FAULT_BATCH];
		unsigned int flags = USM_FAULT_WRITE | USM_FAULT_PIN;
		uint64_t want = 1;
		long got, j;

		/* Whole pages in batches (not read back if swapped: they are
		 * overwritten); a partial first or last page alone. */
		if (!pgoff && size - done >= USM_PAGE_SIZE) {
			want = (size - done) >> USM_PAGE_SHIFT;
			if (want > FAULT_BATCH)
				want = FAULT_BATCH;
			flags |= USM_FAULT_OVERWRITE;
		}
		got = fault_range(n, idx, want, flags, fr);
		if (got < 0) {
			err = io_errno((int)got);
			break;
		}
		for (j = 0; j < got; j++) {
			size_t len = USM_PAGE_SIZE - pgoff;

			if (len > size - done)
				len = size - done;
			memcpy((char *)pool_frame(fr[j]) + pgoff, buf + done,
			       len);
			done += len;
			pos += len;
			pgoff = 0;
		}
		usm_page_unpin_range(fs.ctx, n->uf, idx, (uint64_t)got, NULL);
	}
	if (done) {
		end = (uint64_t)off + done;
		pthread_mutex_lock(&fs.lock);
		if (end > n->size)
			n->size = end;
		/* With the writeback cache the kernel keeps the times. */
		if (!fs.writeback || !fi->writepage) {
			node_touch(&n->mtime);
			n->ctime = n->mtime;
		}
		pthread_mutex_unlock(&fs.lock);
	}
	evict_after_fault();
	/* running out of room: the next write(2) into this file must ask */
	if (fi->writepage && room_low(n)) {
		bool q;

		pthread_mutex_lock(&fs.lock);
		q = !n->attr_inval;
		n->attr_inval = true;
		pthread_mutex_unlock(&fs.lock);
		if (q)
			evict_inval_attr(n->ino);
	}
out:
	/*
	 * A short count is what write(2) gives when part fitted, but the
	 * kernel takes it as success for a write-back (the rest of the
	 * pages would be lost without an error) and turns it into EIO for
	 * an O_DIRECT write (its async path): those get the error itself.
	 */
	if (err && done && (fi->writepage || (fi->flags & O_DIRECT)))
		done = 0;
	if (done && (fi->flags & O_DIRECT) && !fi->writepage)
		dio_written(ino, off, done);
	if (done || !err)
		fuse_reply_write(req, done);
	else
		fuse_reply_err(req, err);
	node_put(n);
}

static int punch_range(struct node *n, uint64_t start, uint64_t end)
{
	uint64_t fp = (start + PAGE_MASK_LOW) >> USM_PAGE_SHIFT;
	uint64_t lp = end >> USM_PAGE_SHIFT;
	int r;

	if ((start >> USM_PAGE_SHIFT) == (end >> USM_PAGE_SHIFT))
		return zero_partial(n, start >> USM_PAGE_SHIFT,
				    (unsigned int)(start & PAGE_MASK_LOW),
				    (unsigned int)(end & PAGE_MASK_LOW));
	if (start & PAGE_MASK_LOW) {
		r = zero_partial(n, start >> USM_PAGE_SHIFT,
				 (unsigned int)(start & PAGE_MASK_LOW),
				 USM_PAGE_SIZE);
		if (r)
			return r;
	}
	if (end & PAGE_MASK_LOW) {
		r = zero_partial(n, end >> USM_PAGE_SHIFT, 0,
				 (unsigned int)(end & PAGE_MASK_LOW));
		if (r)
			return r;
	}
	if (fp < lp) {
		pmap_drop(n, fp, lp - fp);
		r = usm_punch(fs.ctx, n->uf, fp, lp - fp);
		evict_kick(true);
		if (r)
			return r;
	}
	return 0;
}

/* Give every hole in [@start, @end) a frame; on failure (or when the
 * caller gave up: a signal) undo ours. */
static int alloc_range(fuse_req_t req, struct node *n, uint64_t start,
		       uint64_t end)
{
	uint64_t idx, last = (end - 1) >> USM_PAGE_SHIFT;
	uint64_t *mine = NULL, nmine = 0, cap = 0, i;
	uint64_t span = last - (start >> USM_PAGE_SHIFT) + 1;
	struct usm_file_stats st;
	int r = 0;

	/* At least span - (pages the file has) holes need a page each: if
	 * that is more than the mount and its store can hold, fail now
	 * rather than push gigabytes into the store first. */
	usm_file_stats(fs.ctx, n->uf, &st);
	if (span > st.resident + st.swapped &&
	    span - st.resident - st.swapped > usm_file_room(fs.ctx, n->uf))
		return -ENOSPC;

	for (idx = start >> USM_PAGE_SHIFT; idx <= last; idx++) {
		usm_frame_t fr;

		if (usm_page_state(fs.ctx, n->uf, idx, &fr) != USM_PAGE_HOLE)
			continue;
		if (nmine == cap) {
			uint64_t ncap = cap ? cap * 2 : 256;
			uint64_t *nm = realloc(mine, ncap * sizeof(*nm));

			if (!nm) {
				r = -ENOMEM;
				break;
			}
			mine = nm;
			cap = ncap;
		}
		r = fault(n, idx, USM_FAULT_WRITE, &fr);
		if (r)
			break;
		mine[nmine++] = idx;
		if ((nmine & 255) == 0) {
			evict_after_fault();
			if (fuse_req_interrupted(req)) {
				r = -EINTR;
				break;
			}
		}
	}
	if (r) {
		for (i = 0; i < nmine; i++) {
			pmap_drop(n, mine[i], 1);
			usm_punch(fs.ctx, n->uf, mine[i], 1);
		}
		evict_kick(true);
	}
	free(mine);
	evict_after_fault();
	return r;
}

void usmfs_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			off_t offset, off_t length, struct fuse_file_info *fi)
{
	uint64_t end;
	struct node *n;
	int r = 0;

	(void)fi;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((uint64_t)offset >= USMFS_MAX_FILE_SIZE ||
	    (uint64_t)length > USMFS_MAX_FILE_SIZE - (uint64_t)offset) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	n = node_get(ino);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!n->uf) {
		fuse_reply_err(req, S_ISDIR(n->mode) ? EISDIR : ENODEV);
		node_put(n);
		return;
	}
	/* chattr +i: nothing; +a: no hole punched (vfs_fallocate's rules) */
	pthread_mutex_lock(&fs.lock);
	r = node_flag_denies(n, mode & FALLOC_FL_PUNCH_HOLE ? FLAG_META :
			     FLAG_CHANGE);
	pthread_mutex_unlock(&fs.lock);
	if (r) {
		fuse_reply_err(req, r);
		node_put(n);
		return;
	}
	end = (uint64_t)offset + (uint64_t)length;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		r = punch_range(n, (uint64_t)offset, end);
	} else {
		r = alloc_range(req, n, (uint64_t)offset, end);
		if (!r && !(mode & FALLOC_FL_KEEP_SIZE)) {
			pthread_mutex_lock(&fs.lock);
			if (end > n->size)
				n->size = end;
			pthread_mutex_unlock(&fs.lock);
		}
	}
	if (!r) {
		pthread_mutex_lock(&fs.lock);
		node_touch(&n->ctime);
		if (mode & FALLOC_FL_PUNCH_HOLE)
			n->mtime = n->ctime;
		pthread_mutex_unlock(&fs.lock);
	}
	fuse_reply_err(req, r ? io_errno(r) : 0);
	node_put(n);
}

void usmfs_ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		    struct fuse_file_info *fi)
{
	uint64_t isize, idx, d, res;
	struct node *n;

	(void)fi;
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	n = file_get(req, ino);
	if (!n)
		return;
	/*
	 * With the writeback cache the kernel may hold dirty pages the daemon
	 * has not seen yet, and it does not flush them before FUSE_LSEEK: our
	 * page map would call their data a hole.  Invalidating the file's
	 * cache makes the kernel write them back first (launder: WRITE
	 * requests, served by other worker threads; no lock of ours is held).
	 * SEEK_DATA/SEEK_HOLE are rare; the cost is a cold cache.
	 */
	if (fs.writeback)
		fuse_lowlevel_notify_inval_inode(fs.se, ino, 0, 0);
	pthread_mutex_lock(&fs.lock);
	isize = n->size;
	pthread_mutex_unlock(&fs.lock);
	if ((uint64_t)off >= isize) {
		fuse_reply_err(req, ENXIO);
		goto out;
	}
	idx = (uint64_t)off >> USM_PAGE_SHIFT;
	if (whence == SEEK_DATA) {
		d = usm_next_data(fs.ctx, n->uf, idx);
		if (d == UINT64_MAX || d >= (isize + PAGE_MASK_LOW) >> USM_PAGE_SHIFT) {
			fuse_reply_err(req, ENXIO);
			goto out;
		}
		res = d << USM_PAGE_SHIFT;
	} else {
		for (;; idx++) {
			if (idx << USM_PAGE_SHIFT >= isize) {
				res = isize;
				break;
			}
			d = usm_next_data(fs.ctx, n->uf, idx);
			if (d != idx) {
				res = idx << USM_PAGE_SHIFT;
				break;
			}
		}
	}
	if (res < (uint64_t)off)
		res = (uint64_t)off;
	fuse_reply_lseek(req, (off_t)res);
out:
	node_put(n);
}
