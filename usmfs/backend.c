// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * backend.c - the pool (one anonymous mapping carved into 4 KiB frames), the
 * library's backend ops, and the eviction thread.
 *
 * Memory: the pool is mapped MAP_NORESERVE, so untouched frames cost
 * nothing.  A frame that held data is given back to the kernel with
 * madvise(MADV_DONTNEED) once the library has freed it: at once when an
 * eviction commits, and by a sweep (under the ctx lock, so that no frame can
 * be taken while we drop it) after truncate, punch and file release.
 *
 * A bit per frame (dirty) says the frame may hold data; a frame whose bit
 * is clear reads as zeroes (never touched, or dropped since).  It is set
 * before anything is written to a frame: by the frontend's faults (the
 * frame is pinned, so it cannot be freed first) and by frame_addr(), which
 * every write of the library goes through.  The library asks frame_zeroed()
 * before zeroing a frame it hands to a file: a clear bit spares the memset
 * (the kernel gives the page zeroed at its first touch anyway).
 *
 * Eviction: the library calls unmap() before it copies a page out.  Our
 * unmap queues an invalidation of the kernel's cached copy of the page
 * (fuse_lowlevel_notify_inval_inode()), which the eviction thread makes
 * after the batch, holding no page in flight: the kernel writes a dirty
 * copy back first, through our write handler (a fault on the page, now
 * swapped: a whole-page write is not read back).  That kernel call may wait
 * for FUSE requests, so it is only made from the eviction thread, never
 * from a request handler (a handler waiting on the kernel, which waits on
 * the request that handler is serving, would deadlock), and never while
 * pages are in flight (see be_unmap).  Skipping or delaying an invalidation
 * is always safe: every change goes through the kernel's page cache first,
 * so a clean cached copy equals what the library stored; it only costs
 * memory until the kernel drops it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "usmfs.h"

#define BITS	64u

/* the pool is the supervisor's memfd (restarts): MADV_REMOVE frees */
static bool pool_shared;

/*
 * Map the pool: anonymous memory, or with a supervisor (@memfd >= 0) its
 * memfd, shared, so that the frames outlive this daemon.  A new daemon
 * cannot know which frames hold data: all may (their dirty bits set).
 */
int pool_map(uint64_t frames, int memfd, char *err, size_t errlen)
{
	size_t bytes = (size_t)frames << USM_PAGE_SHIFT;
	void *p;

	if (frames == 0 || frames > (SIZE_MAX >> USM_PAGE_SHIFT)) {
		snprintf(err, errlen, "bad pool size");
		return -EINVAL;
	}
	pool_shared = memfd >= 0;
	if (pool_shared)
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE, memfd, 0);
	else
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cannot map a pool of %zu bytes: %s",
			 bytes, strerror(errno));
		return -ENOMEM;
	}
	fs.dirty = calloc((frames + BITS - 1) / BITS, sizeof(*fs.dirty));
	if (!fs.dirty) {
		munmap(p, bytes);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (pool_shared)
		memset((void *)fs.dirty, 0xff,
		       (frames + BITS - 1) / BITS * sizeof(*fs.dirty));
	fs.pool = p;
	fs.pool_frames = frames;
	return 0;
}

void pool_unmap(void)
{
	if (fs.pool)
		munmap(fs.pool, (size_t)fs.pool_frames << USM_PAGE_SHIFT);
	free((void *)fs.dirty);
	fs.pool = NULL;
	fs.dirty = NULL;
}

void *pool_frame(usm_frame_t f)
{
	if (f >= fs.pool_frames) {
		fprintf(stderr, "usmfs: library returned frame %llu of %llu\n",
			(unsigned long long)f,
			(unsigned long long)fs.pool_frames);
		abort();
	}
	return fs.pool + ((size_t)f << USM_PAGE_SHIFT);
}

void pool_mark_dirty(usm_frame_t f)
{
	uint64_t bit = 1ULL << (f % BITS);

	/* Mostly set already (a hit): look before writing the shared word. */
	if (f < fs.pool_frames &&
	    !(atomic_load_explicit(&fs.dirty[f / BITS], memory_order_relaxed) & bit))
		atomic_fetch_or(&fs.dirty[f / BITS], bit);
}

static void pool_drop(usm_frame_t first, uint64_t nr)
{
	/* a memfd's pages stay in it after MADV_DONTNEED: remove them */
	madvise(fs.pool + ((size_t)first << USM_PAGE_SHIFT),
		(size_t)nr << USM_PAGE_SHIFT,
		pool_shared ? MADV_REMOVE : MADV_DONTNEED);
}

/*
 * Give the frames that the library freed back to the kernel.  Runs under
 * the ctx lock in slices, so that no frame is taken while it is dropped.
 */
static void pool_sweep(void)
{
	const uint64_t words = (fs.pool_frames + BITS - 1) / BITS;
	const uint64_t slice = 1024;	/* words per lock hold */
	uint64_t w0, w;

	for (w0 = 0; w0 < words; w0 += slice) {
		struct usm_pool *pool;
		usm_frame_t run = 0;
		uint64_t nrun = 0;

		usm_ctx_lock(fs.ctx);
		pool = usm_ctx_pool(fs.ctx);
		for (w = w0; w < words && w < w0 + slice; w++) {
			uint64_t bits = atomic_load(&fs.dirty[w]), clear = 0;

			while (bits) {
				unsigned int b = (unsigned int)__builtin_ctzll(bits);
				usm_frame_t f = w * BITS + b;

				bits &= bits - 1;
				if (usm_pool_is_free(pool, f) != 1)
					continue;
				clear |= 1ULL << b;
				if (nrun && run + nrun == f) {
					nrun++;
					continue;
				}
				if (nrun)
					pool_drop(run, nrun);
				run = f;
				nrun = 1;
			}
			if (clear)
				atomic_fetch_and(&fs.dirty[w], ~clear);
		}
		if (nrun)
			pool_drop(run, nrun);
		usm_ctx_unlock(fs.ctx);
	}
}

/* ---- the eviction thread and its queue of invalidations ---- */

struct inval {
	uint64_t ino, first, nr;	/* pages */
};

#define INVAL_QUEUE_MAX	(1u << 16)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stop, kicked, sweep;
	/* The last balance found nothing to evict (swap=none, all pinned):
	 * faults stop waking us until something is freed (a sweep kick). */
	bool futile;
	struct inval *q;
	size_t qn;
} ev = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void inval_now(uint64_t ino, uint64_t first, uint64_t nr)
{
	if (!fs.se)
		return;
	/* -ENOENT: the kernel holds no such inode; anything else: the
	 * cached copy stays, which is safe (see the top of this file). */
	if (first == UINT64_MAX) {	/* the attributes only */
		int r = fuse_lowlevel_notify_inval_inode(fs.se, ino, -1, 0);

		if (fs.debug)
			fprintf(stderr, "usmfs: attributes of %llu dropped: %d\n",
				(unsigned long long)ino, r);
	} else
		fuse_lowlevel_notify_inval_inode(fs.se, ino,
						 (off_t)(first << USM_PAGE_SHIFT),
						 (off_t)(nr << USM_PAGE_SHIFT));
}

/* Queue an invalidation for the eviction thread; merges with the last. */
static void inval_queue_locked(uint64_t ino, uint64_t first, uint64_t nr)
{
	struct inval *last = ev.qn ? &ev.q[ev.qn - 1] : NULL;

	if (last && last->ino == ino && last->first + last->nr == first) {
		last->nr += nr;
		return;
	}
	if (!ev.q) {
		ev.q = malloc(INVAL_QUEUE_MAX * sizeof(*ev.q));
		if (!ev.q)
			return;
	}
	if (ev.qn == INVAL_QUEUE_MAX)
		return;		/* dropped: costs memory, not data */
	ev.q[ev.qn].ino = ino;
	ev.q[ev.qn].first = first;
	ev.q[ev.qn].nr = nr;
	ev.qn++;
}

/*
 * No thread waits for the kernel while it holds pages on their way out,
 * the eviction thread included: the kernel's write-back of a dirty copy
 * (launder) needs a worker, and every worker may be waiting for exactly
 * those in-flight pages to be written out (a full pool: make_room waits
 * for in-flight evictions).  That cycle only ended when the bounded wait
 * expired (EIO).  So unmap queues the invalidations and the eviction
 * thread makes them after the batch, holding nothing.  A dirty copy then
 * comes back after the page was written out: a write of a whole page
 * reuses no old data (OVERWRITE), a partial one swaps the page in first.
 */
static int be_unmap(void *priv, struct usm_page_ref *refs, size_t n)
{
	size_t i = 0;

	(void)priv;
	pthread_mutex_lock(&ev.lock);
	while (i < n) {
		size_t j = i + 1;

		while (j < n && refs[j].ino == refs[i].ino &&
		       refs[j].index == refs[j - 1].index + 1)
			j++;
		inval_queue_locked(refs[i].ino, refs[i].index, j - i);
		for (; i < j; i++)
			refs[i].err = 0;
	}
	ev.kicked = true;
	pthread_cond_signal(&ev.cond);
	pthread_mutex_unlock(&ev.lock);
	return 0;
}

static int frame_cmp(const void *a, const void *b)
{
	usm_frame_t x = *(const usm_frame_t *)a, y = *(const usm_frame_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The frames are about to be freed: give them back to the kernel.  One
 * madvise per run of adjacent frames, not per page (each call flushes the
 * TLB of every CPU running a daemon thread; a sequential writer's victims
 * mostly sit in adjacent frames).  Their dirty bits are cleared first, so
 * the library does not zero them again when it hands them out.
 *
 * (Keeping them instead, for the next write to reuse without a page fault,
 * cut the daemon's CPU per evicted MiB further but made other processes'
 * page faults several times slower at p99 while evicting: bench/README.md.)
 */
static int be_commit(void *priv, struct usm_page_ref *refs, size_t n)
{
	usm_frame_t stack[256], *f = n <= 256 ? stack : malloc(n * sizeof(*f));
	size_t i, m = 0, run;

	(void)priv;
	if (sh) {	/* the pages are in their slots now: say so first */
		pthread_mutex_lock(&fs.lock);
		pmap_commit_locked(refs, n);
		pthread_mutex_unlock(&fs.lock);
	}
	for (i = 0; i < n; i++) {
		usm_frame_t fr = refs[i].frame;

		if (fr >= fs.pool_frames)
			continue;
		atomic_fetch_and(&fs.dirty[fr / BITS], ~(1ULL << (fr % BITS)));
		if (f)
			f[m++] = fr;
		else
			pool_drop(fr, 1);	/* no memory: one by one */
	}
	if (!f)
		return 0;
	qsort(f, m, sizeof(*f), frame_cmp);
	for (i = 0; i < m; i += run) {
		for (run = 1; i + run < m && f[i + run] == f[i] + run; run++)
			;
		pool_drop(f[i], run);
	}
	if (f != stack)
		free(f);
	return 0;
}

static void be_cancel(void *priv, struct usm_page_ref *refs, size_t n)
{
	/* The pages stay resident; the kernel will fault them back. */
	(void)priv;
	(void)refs;
	(void)n;
}

/* Every access of the library to a frame comes through here, its writes
 * (zeroing, swap-in) included: the frame may hold data from now on. */
static void *be_frame_addr(void *priv, usm_frame_t f)
{
	(void)priv;
	pool_mark_dirty(f);
	return pool_frame(f);
}

/* A frame with its dirty bit clear reads as zeroes: no need to zero it. */
static int be_frame_zeroed(void *priv, usm_frame_t f)
{
	(void)priv;
	return f < fs.pool_frames &&
	       !(atomic_load_explicit(&fs.dirty[f / BITS], memory_order_relaxed) &
		 (1ULL << (f % BITS)));
}

const struct usm_backend_ops usmfs_backend_ops = {
	.frame_addr = be_frame_addr,
	.unmap = be_unmap,
	.commit = be_commit,
	.cancel = be_cancel,
	.frame_zeroed = be_frame_zeroed,
};

/*
 * Make the kernel drop @ino's cached attributes (never its pages), so that
 * the next write(2) into it asks us (GETATTR) whether there is room.
 */
void evict_inval_attr(uint64_t ino)
{
	pthread_mutex_lock(&ev.lock);
	inval_queue_locked(ino, UINT64_MAX, 0);
	pthread_mutex_unlock(&ev.lock);
	evict_kick(false);
}

void evict_kick(bool sweep)
{
	pthread_mutex_lock(&ev.lock);
	ev.kicked = true;
	ev.sweep |= sweep;
	if (sweep)
		ev.futile = false;
	pthread_cond_signal(&ev.cond);
	pthread_mutex_unlock(&ev.lock);
}

void evict_after_fault(void)
{
	bool futile;

	pthread_mutex_lock(&ev.lock);
	futile = ev.futile;
	pthread_mutex_unlock(&ev.lock);
	if (!futile && usm_need_balance(fs.ctx))
		evict_kick(false);
}

static void *evict_main(void *arg)
{
	struct inval *batch;
	size_t nb, i;
	bool sweep;

	(void)arg;
	batch = malloc(INVAL_QUEUE_MAX * sizeof(*batch));
	for (;;) {
		pthread_mutex_lock(&ev.lock);
		while (!ev.stop && !ev.kicked)
			pthread_cond_wait(&ev.cond, &ev.lock);
		if (ev.stop) {
			pthread_mutex_unlock(&ev.lock);
			break;
		}
		ev.kicked = false;
		sweep = ev.sweep;
		ev.sweep = false;
		nb = 0;
		if (batch && ev.qn) {
			memcpy(batch, ev.q, ev.qn * sizeof(*batch));
			nb = ev.qn;
		}
		ev.qn = 0;
		pthread_mutex_unlock(&ev.lock);

		for (i = 0; i < nb; i++)
			inval_now(batch[i].ino, batch[i].first, batch[i].nr);
		while (!ev.stop && usm_need_balance(fs.ctx)) {
			long r = usm_balance(fs.ctx, 0);

			if (r <= 0) {
				pthread_mutex_lock(&ev.lock);
				ev.futile = true;
				pthread_mutex_unlock(&ev.lock);
				break;
			}
		}
		if (sweep)
			pool_sweep();
	}
	free(batch);
	return NULL;
}

int evict_start(void)
{
	int r;

	ev.stop = false;
	r = pthread_create(&ev.thread, NULL, evict_main, NULL);
	if (r)
		return -r;
	ev.running = true;
	return 0;
}

/* Is the eviction thread running?  (user.usm.stats' evicting=) */
bool evict_running(void)
{
	bool r;

	pthread_mutex_lock(&ev.lock);
	r = ev.running && !ev.stop;
	pthread_mutex_unlock(&ev.lock);
	return r;
}

/*
 * The request loop has ended.  The eviction thread may be inside an
 * invalidation whose write-back of a dirty page needs a worker, and there
 * is none any more (a signal ended the loop while the mount was busy): if
 * it has not stopped after EVICT_STOP_WAIT_S, abort our FUSE connection,
 * which ends that wait (the daemon is going away: what the kernel still
 * held dirty is lost either way), then join.
 */
#define EVICT_STOP_WAIT_S	3

static void conn_abort(void)
{
	int fd;

	if (!fs.conn_abort[0])
		return;
	fd = open(fs.conn_abort, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1)
		fprintf(stderr, "usmfs: cannot abort the connection (%s): %s\n",
			fs.conn_abort, strerror(errno));
	if (fd >= 0)
		close(fd);
}

void evict_stop(void)
{
	if (ev.running) {
		struct timespec dl;

		pthread_mutex_lock(&ev.lock);
		ev.stop = true;
		pthread_cond_signal(&ev.cond);
		pthread_mutex_unlock(&ev.lock);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += EVICT_STOP_WAIT_S;
		if (pthread_timedjoin_np(ev.thread, NULL, &dl)) {
			fprintf(stderr, "usmfs: the eviction thread is waiting "
				"for the kernel; aborting the connection\n");
			conn_abort();
			pthread_join(ev.thread, NULL);
		}
		ev.running = false;
	}
	free(ev.q);
	ev.q = NULL;
	ev.qn = 0;
}
