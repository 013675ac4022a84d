// SPDX-License-Identifier: GPL-2.0-only
/*
 * chan.c - /dev/usmfs, the channel to the policy server (usm-policyd).
 *
 * The protocol is include/uapi/linux/usmfs.h; docs/kmod.md says which part
 * of it this module implements.  One server at a time: open needs
 * CAP_SYS_ADMIN, a second open gets EBUSY.  After HELLO the server reads
 * events from a bounded queue (OVERFLOW when it fills), maps the pool and
 * sends command batches.  The filesystem never waits for the server: the
 * hooks below only queue events, and do nothing while no server is
 * attached.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/ctype.h>
#include <linux/dcache.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "usmfs.h"
#include "include/uapi/linux/usmfs.h"

#define USMFS_QUEUE_EVENTS	4096
#define USMFS_DEFAULT_LOW	80
#define USMFS_DEFAULT_HIGH	90
#define USMFS_LIST_MAX		4096
#define USMFS_LIST_CHUNK	32

/* What this module implements of USMFS_F_ALL. */
#define USMFS_F_IMPLEMENTED	(USMFS_F_PATH_HINT | USMFS_F_RESERVE | \
				 USMFS_F_EVICT | USMFS_F_RECOVERY | \
				 USMFS_F_ACCESS)
#define USMFS_GRANT_MAX		512
#define USMFS_RANGE_MAX		512
/* PRESSURE above the high watermark: at most one per this many jiffies. */
#define USMFS_PRESSURE_GAP	(HZ / 50 ? HZ / 50 : 1)
/* A waiter for room or for a swap-in looks again at least this often. */
#define USMFS_WAIT_SLICE	(HZ / 10 ? HZ / 10 : 1)

/* Access sampling (USMFS_F_ACCESS): a round every access_interval_ms. */
static unsigned int access_interval_ms = 200;
module_param(access_interval_ms, uint, 0644);
MODULE_PARM_DESC(access_interval_ms,
		 "ms between two rounds of access sampling (10..10000)");
static unsigned int access_pages = 32;
module_param(access_pages, uint, 0644);
MODULE_PARM_DESC(access_pages,
		 "pages sampled per file per round (0: none; at most 512)");
#define USMFS_SAMPLE_FILES	64	/* files per round */
#define USMFS_SAMPLE_MAX	512	/* pages per file per round */

/* A swap-in in flight: on the faulting task's stack, in chan.reqs. */
enum usmfs_si_state {
	USMFS_SI_WAITING,	/* asked; the server has not answered */
	USMFS_SI_DONE,		/* the page is resident in @frame */
	USMFS_SI_FAILED,	/* the server failed it, or went away */
	USMFS_SI_GONE,		/* the page changed (truncated) meanwhile */
};

struct usmfs_swapin {
	struct inode *inode;
	pgoff_t index;
	void *busy;		/* the page's entry while this runs */
	unsigned long frame;
	u32 token;
	bool write;
	bool queued;		/* its SWAPIN_REQUEST reached the queue */
	enum usmfs_si_state state;
};

/**
 * struct usmfs_chan - the one channel of the module.
 * @lock:	protects @server, @hello_done and the attach/detach sequence
 * @server:	the open file of the server, or NULL
 * @attached:	a server said HELLO: hooks queue events
 * @qlock:	protects the queue, @seq, @last_alloc
 * @ring:	USMFS_QUEUE_EVENTS events; the last free slot is kept for an
 *		OVERFLOW event
 * @last_alloc:	the slot of the newest PAGES_ALLOCATED event, while it is
 *		the newest event (runs are merged into it), else -1
 * @overflow:	the slot of the OVERFLOW event at the tail, else -1
 * @stores:	names given with SET_STORE, kept across servers
 * @recovery:	the last server asked for USMFS_F_RECOVERY: while none is
 *		attached, swap-ins wait for the next one (bounded)
 * @req_lock:	protects @reqs and the state of every swap-in in it
 * @reqs:	token -> struct usmfs_swapin, the swap-ins in flight
 */
static struct usmfs_chan {
	struct mutex lock;
	struct file *server;
	bool attached;
	u64 features;
	u64 generation;
	u32 low_pct;
	u32 high_pct;

	spinlock_t qlock;
	struct usmfs_event *ring;
	unsigned int head;
	unsigned int count;
	u64 seq;
	int last_alloc;
	int overflow;
	wait_queue_head_t wait;

	struct mutex stores_lock;
	char *stores[USMFS_MAX_STORES];

	bool recovery;
	unsigned long pressure_at;
	spinlock_t req_lock;
	struct xarray reqs;
	u32 next_token;
} chan;

static atomic_t usmfs_next_dev = ATOMIC_INIT(0);

u32 usmfs_chan_new_dev(void)
{
	return (u32)atomic_inc_return(&usmfs_next_dev);
}

/* ---------------------------------------------------------------- queue */

static void usmfs_queue_reset(void)
{
	spin_lock(&chan.qlock);
	chan.head = 0;
	chan.count = 0;
	chan.seq = 0;
	chan.last_alloc = -1;
	chan.overflow = -1;
	spin_unlock(&chan.qlock);
}

/*
 * Queue @ev (its seq is set here); merge a run of PAGES_ALLOCATED.
 * Return: whether it is in the queue (false: no server, or lost to a full
 * queue).
 */
static bool usmfs_queue(struct usmfs_event *ev)
{
	struct usmfs_event *slot;
	unsigned int tail;
	bool stored = false;

	spin_lock(&chan.qlock);
	if (!READ_ONCE(chan.attached))
		goto out;
	if (ev->type == USMFS_EV_PAGES_ALLOCATED && chan.last_alloc >= 0) {
		struct usmfs_event *last = &chan.ring[chan.last_alloc];

		if (last->dev == ev->dev && last->ino == ev->ino &&
		    last->flags == ev->flags &&
		    last->u.range.start + last->u.range.nr ==
		    ev->u.range.start &&
		    last->u.range.frame + last->u.range.nr ==
		    ev->u.range.frame) {
			last->u.range.nr += ev->u.range.nr;
			stored = true;
			goto out;
		}
	}
	if (chan.count >= USMFS_QUEUE_EVENTS - 1) {
		/* Full: count the loss in the OVERFLOW event at the tail. */
		chan.seq++;
		if (chan.overflow >= 0) {
			chan.ring[chan.overflow].u.overflow.lost++;
			goto out;
		}
		tail = (chan.head + chan.count) % USMFS_QUEUE_EVENTS;
		slot = &chan.ring[tail];
		memset(slot, 0, sizeof(*slot));
		slot->type = USMFS_EV_OVERFLOW;
		slot->seq = chan.seq;
		slot->u.overflow.lost = 1;
		chan.overflow = tail;
		chan.last_alloc = -1;
		chan.count++;
		goto wake;
	}
	tail = (chan.head + chan.count) % USMFS_QUEUE_EVENTS;
	ev->seq = ++chan.seq;
	chan.ring[tail] = *ev;
	chan.last_alloc = ev->type == USMFS_EV_PAGES_ALLOCATED ? tail : -1;
	chan.count++;
	stored = true;
wake:
	spin_unlock(&chan.qlock);
	wake_up_interruptible(&chan.wait);
	return stored;
out:
	spin_unlock(&chan.qlock);
	return stored;
}

/* Take the oldest event into @ev; false when the queue is empty. */
static bool usmfs_dequeue(struct usmfs_event *ev)
{
	bool got = false;

	spin_lock(&chan.qlock);
	if (chan.count) {
		*ev = chan.ring[chan.head];
		if (chan.last_alloc == chan.head)
			chan.last_alloc = -1;
		if (chan.overflow == chan.head)
			chan.overflow = -1;
		chan.head = (chan.head + 1) % USMFS_QUEUE_EVENTS;
		chan.count--;
		got = true;
	}
	spin_unlock(&chan.qlock);
	return got;
}

static bool usmfs_queue_empty(void)
{
	return !READ_ONCE(chan.count);
}

/* ---------------------------------------------------------------- hooks */

static inline bool usmfs_chan_on(void)
{
	return READ_ONCE(chan.attached);
}

/* A server is attached that evicts (and so serves swap-ins). */
static inline bool usmfs_chan_evicting(void)
{
	return READ_ONCE(chan.attached) &&
	       (READ_ONCE(chan.features) & USMFS_F_EVICT);
}

bool usmfs_chan_server_attached(void)
{
	return usmfs_chan_on();
}

static void usmfs_event_init(struct usmfs_event *ev, u16 type,
			     struct inode *inode)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	if (inode) {
		ev->dev = USMFS_SB(inode->i_sb)->chan_dev;
		ev->ino = inode->i_ino;
	}
}

static void usmfs_fill_created(struct usmfs_event *ev, struct inode *inode,
			       struct dentry *dentry, struct inode *dir)
{
	struct usmfs_inode_info *info = USMFS_I(inode);

	usmfs_event_init(ev, USMFS_EV_FILE_CREATED, inode);
	ev->u.created.parent = dir ? dir->i_ino : 0;
	ev->u.created.mode = inode->i_mode;
	ev->u.created.uid = from_kuid(&init_user_ns, inode->i_uid);
	ev->u.created.gid = from_kgid(&init_user_ns, inode->i_gid);
	spin_lock(&info->lock);
	ev->u.created.prio = info->pol.prio;
	ev->u.created.limit = info->pol.limit;
	ev->u.created.set = info->pol.set;
	strscpy_pad(ev->u.created.alloc, info->pol.alloc,
		    sizeof(ev->u.created.alloc));
	strscpy_pad(ev->u.created.evict, info->pol.evict,
		    sizeof(ev->u.created.evict));
	strscpy_pad(ev->u.created.swap, info->pol.swap,
		    sizeof(ev->u.created.swap));
	spin_unlock(&info->lock);
	if (dentry && (READ_ONCE(chan.features) & USMFS_F_PATH_HINT)) {
		char *buf = kmalloc(PATH_MAX, GFP_KERNEL);
		char *p;

		if (buf) {
			p = dentry_path_raw(dentry, buf, PATH_MAX);
			if (!IS_ERR(p)) {
				size_t len = strlen(p);

				if (len >= USMFS_PATH_HINT_LEN) {
					len = USMFS_PATH_HINT_LEN - 1;
					ev->flags |= USMFS_EVF_TRUNCATED;
				}
				memcpy(ev->u.created.path, p, len);
			}
			kfree(buf);
		}
	}
}

void usmfs_chan_file_created(struct inode *inode, struct dentry *dentry,
			     struct inode *dir)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on() || !S_ISREG(inode->i_mode))
		return;
	usmfs_fill_created(&ev, inode, dentry, dir);
	strscpy_pad(ev.u.created.comm, current->comm,
		    sizeof(ev.u.created.comm));
	usmfs_queue(&ev);
}

void usmfs_chan_file_removed(struct inode *inode)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on() || !S_ISREG(inode->i_mode))
		return;
	usmfs_event_init(&ev, USMFS_EV_FILE_REMOVED, inode);
	usmfs_queue(&ev);
}

void usmfs_chan_truncated(struct inode *inode, pgoff_t start, u64 nr)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on() || !nr)
		return;
	usmfs_event_init(&ev, USMFS_EV_TRUNCATED, inode);
	ev.u.range.start = start;
	ev.u.range.nr = nr;
	usmfs_queue(&ev);
}

void usmfs_chan_xattr_changed(struct inode *inode, int id, const void *value,
			      size_t size)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on() || !S_ISREG(inode->i_mode))
		return;
	usmfs_event_init(&ev, USMFS_EV_XATTR_CHANGED, inode);
	ev.u.xattr.id = id;
	if (!value) {
		ev.flags |= USMFS_EVF_REMOVED;
	} else {
		size = min_t(size_t, size, USMFS_XATTR_LEN);
		ev.u.xattr.len = size;
		memcpy(ev.u.xattr.value, value, size);
	}
	usmfs_queue(&ev);
}

void usmfs_chan_pages_allocated(struct inode *inode, pgoff_t index,
				unsigned long frame, unsigned long nr,
				bool reserved)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on())
		return;
	usmfs_event_init(&ev, USMFS_EV_PAGES_ALLOCATED, inode);
	if (reserved)
		ev.flags |= USMFS_EVF_RESERVED;
	ev.u.range.start = index;
	ev.u.range.frame = frame;
	ev.u.range.nr = nr;
	usmfs_queue(&ev);
}

/* ------------------------------------------------- access sampling */

/*
 * The first lookup of a sampled page since it was sampled (usmfs_get_page,
 * on behalf of a fault, read or write) reports it: one ACCESS event per
 * sampled page touched, never one per access.
 */
void usmfs_chan_accessed(struct inode *inode, pgoff_t index)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on() || !(READ_ONCE(chan.features) & USMFS_F_ACCESS))
		return;
	usmfs_event_init(&ev, USMFS_EV_ACCESS, inode);
	ev.u.access.index = index;
	ev.u.access.count = 1;
	usmfs_queue(&ev);
}

/*
 * Sample up to @nr resident pages of @inode from its cursor: mark them and
 * unmap them, so that the next access of each takes a fault and is seen.
 */
static void usmfs_sample_file(struct inode *inode, unsigned int nr,
			      unsigned long *idx)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	XA_STATE(xas, &info->frames, info->sample_next);
	unsigned int n = 0, scanned = 0, i, j;
	bool end = true;
	void *e;

	xas_lock(&xas);
	xas_for_each(&xas, e, ULONG_MAX) {
		if (++scanned > 8 * nr) {
			end = false;
			break;
		}
		if (!usmfs_e_ready(e) ||
		    xas_get_mark(&xas, USMFS_MARK_SAMPLED))
			continue;
		xas_set_mark(&xas, USMFS_MARK_SAMPLED);
		idx[n++] = xas.xa_index;
		if (n == nr) {
			end = false;
			break;
		}
	}
	info->sample_next = end ? 0 : xas.xa_index + 1;
	xas_unlock(&xas);

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && idx[j] == idx[j - 1] + 1; j++)
			;
		unmap_mapping_range(inode->i_mapping,
				    (loff_t)idx[i] << PAGE_SHIFT,
				    (loff_t)(j - i) << PAGE_SHIFT, 0);
	}
}

static void usmfs_sample_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(usmfs_sample_work, usmfs_sample_fn);

/* One round: up to USMFS_SAMPLE_FILES files, taking turns over rounds. */
static void usmfs_sample_fn(struct work_struct *work)
{
	static struct inode *files[USMFS_SAMPLE_FILES];
	static unsigned long idx[USMFS_SAMPLE_MAX];
	static unsigned long skip;
	unsigned int nr = min(READ_ONCE(access_pages), USMFS_SAMPLE_MAX);
	unsigned int ms = clamp(READ_ONCE(access_interval_ms), 10U, 10000U);
	unsigned long seen = 0;
	struct list_head *mounts;
	struct usmfs_sb_info *sbi;
	struct inode *inode;
	unsigned int n = 0, i;

	if (!usmfs_chan_on() || !(READ_ONCE(chan.features) & USMFS_F_ACCESS))
		return;
	if (!nr)
		goto again;
	mounts = usmfs_pool_lock_mounts();
	list_for_each_entry(sbi, mounts, pool_link) {
		struct super_block *sb = sbi->sb;

		spin_lock(&sb->s_inode_list_lock);
		list_for_each_entry(inode, &sb->s_inodes, i_sb_list) {
			if (n == USMFS_SAMPLE_FILES)
				break;
			if (!S_ISREG(inode->i_mode) ||
			    READ_ONCE(USMFS_I(inode)->chan_gone) ||
			    xa_empty(&USMFS_I(inode)->frames) || seen++ < skip)
				continue;
			inode = igrab(inode);
			if (inode)
				files[n++] = inode;
		}
		spin_unlock(&sb->s_inode_list_lock);
	}
	usmfs_pool_unlock_mounts();
	skip = n == USMFS_SAMPLE_FILES ? skip + n : 0;
	for (i = 0; i < n; i++) {
		usmfs_sample_file(files[i], nr, idx);
		iput(files[i]);
		cond_resched();
	}
again:
	if (usmfs_chan_on())
		schedule_delayed_work(&usmfs_sample_work, msecs_to_jiffies(ms));
}

/* ------------------------------------------------------- pressure */

static void usmfs_queue_pressure(struct usmfs_sb_info *sbi, bool urgent)
{
	struct usmfs_event ev;
	unsigned long total = usmfs_pool_nr_frames();

	memset(&ev, 0, sizeof(ev));
	ev.type = USMFS_EV_PRESSURE;
	if (urgent)
		ev.flags |= USMFS_EVF_URGENT;
	if (sbi) {
		long used = atomic_long_read(&sbi->used_frames);

		ev.dev = sbi->chan_dev;
		total = READ_ONCE(sbi->max_frames);
		ev.u.pressure.free = used < (long)total ? total - used : 0;
	} else {
		ev.u.pressure.free = usmfs_pool_nr_free();
	}
	ev.u.pressure.total = total;
	ev.u.pressure.low_pct = READ_ONCE(chan.low_pct);
	ev.u.pressure.high_pct = READ_ONCE(chan.high_pct);
	WRITE_ONCE(chan.pressure_at, jiffies);
	usmfs_queue(&ev);
}

static bool usmfs_over(unsigned long used, unsigned long total, u32 pct)
{
	return total && used * 100 > total * (unsigned long)pct;
}

/*
 * After an allocation: tell an evicting server when the pool, or the
 * mount's share, is above the high watermark (at most every
 * USMFS_PRESSURE_GAP), so that it evicts ahead of need.
 */
void usmfs_chan_pressure(struct usmfs_sb_info *sbi)
{
	unsigned long total = usmfs_pool_nr_frames();
	u32 high = READ_ONCE(chan.high_pct);

	if (!usmfs_chan_evicting() ||
	    time_before(jiffies, READ_ONCE(chan.pressure_at) +
			USMFS_PRESSURE_GAP))
		return;
	if (usmfs_over(total - usmfs_pool_nr_free(), total, high))
		usmfs_queue_pressure(NULL, false);
	else if (usmfs_over(atomic_long_read(&sbi->used_frames),
			    READ_ONCE(sbi->max_frames), high))
		usmfs_queue_pressure(sbi, false);
}

static bool usmfs_room(struct usmfs_sb_info *sbi)
{
	return usmfs_pool_nr_free() &&
	       atomic_long_read(&sbi->used_frames) <
	       (long)READ_ONCE(sbi->max_frames);
}

/**
 * usmfs_chan_wait_frames - wait for the server to make room.
 * @sbi:	the mount whose share, or
 * @pool_full:	the pool, is used up
 * @deadline:	give up then
 *
 * While no server is attached, waits for the next one only if the last
 * asked for USMFS_F_RECOVERY (it was killed and is being restarted).
 *
 * Return: 0 to try again, -ENOSPC (no evicting server and none expected,
 * or none made room by @deadline), -EINTR (fatal signal).
 */
int usmfs_chan_wait_frames(struct usmfs_sb_info *sbi, bool pool_full,
			   unsigned long deadline)
{
	long left = (long)(deadline - jiffies);
	long r;

	if (left <= 0)
		return -ENOSPC;
	if (usmfs_chan_evicting())
		usmfs_queue_pressure(pool_full ? NULL : sbi, true);
	else if (!READ_ONCE(chan.recovery))
		return -ENOSPC;
	r = wait_event_killable_timeout(usmfs_page_wq, usmfs_room(sbi),
					min_t(long, left, USMFS_WAIT_SLICE));
	return r < 0 ? -EINTR : 0;
}

/* -------------------------------------------------------- swap-ins */

/* Queue the SWAPIN_REQUEST of @si.  Called under chan.req_lock. */
static void usmfs_queue_swapin(struct usmfs_swapin *si, u16 type)
{
	struct usmfs_event ev;

	if (!usmfs_chan_evicting())
		return;
	usmfs_event_init(&ev, type, si->inode);
	if (si->write)
		ev.flags |= USMFS_EVF_WRITE;
	ev.u.swapin.index = si->index;
	ev.u.swapin.frame = si->frame;
	ev.u.swapin.slot = usmfs_e_slot(si->busy);
	ev.u.swapin.store_id = usmfs_e_store(si->busy);
	ev.u.swapin.token = si->token;
	if (usmfs_queue(&ev) && type == USMFS_EV_SWAPIN_REQUEST)
		si->queued = true;
}

static bool usmfs_swapin_over(struct usmfs_swapin *si)
{
	return READ_ONCE(si->state) != USMFS_SI_WAITING ||
	       xa_load(&USMFS_I(si->inode)->frames, si->index) != si->busy;
}

/**
 * usmfs_chan_swapin - bring swapped page @index of @inode back.
 * @entry:	its swapped entry, as the caller found it
 * @write:	for a write (told to the server)
 * @deadline:	give up then (swapin_timeout from the first wait)
 *
 * Takes a frame, marks the entry busy (other lookups wait on it), asks the
 * server (SWAPIN_REQUEST) and sleeps, killably, until SWAPIN_DONE, the page
 * changes, or @deadline.  Without an evicting server the request waits for
 * one only if the last server asked for USMFS_F_RECOVERY.  On failure the
 * frame goes back and the page stays swapped: nothing is lost.
 *
 * Return: 0 when the caller should look the page up again (resident now,
 * or changed), -EIO (not served in time, or the server failed it), -EINTR,
 * -ENOMEM.
 */
int usmfs_chan_swapin(struct inode *inode, pgoff_t index, void *entry,
		      bool write, unsigned long deadline)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_swapin si = {
		.inode = inode, .index = index, .write = write,
		.busy = usmfs_mk_busy(entry), .state = USMFS_SI_WAITING,
	};
	enum usmfs_si_state state;
	bool reserved, cancelled = false;
	long frame, left, r;
	void *old;
	int err = 0;
	u32 id;

	if (!usmfs_chan_evicting() && !READ_ONCE(chan.recovery))
		return -EIO;
	frame = usmfs_take_frame(inode, index, &reserved, &deadline);
	if (frame < 0)
		return frame == -EINTR ? -EINTR : -EIO;
	si.frame = frame;
	clear_highpage(usmfs_frame_page(frame));

	xa_lock(&info->frames);
	old = __xa_cmpxchg(&info->frames, index, entry, si.busy, GFP_ATOMIC);
	xa_unlock(&info->frames);
	if (old != entry) {
		usmfs_put_frame(inode, frame);
		return 0;	/* it changed: look again */
	}

	spin_lock(&chan.req_lock);
	err = xa_alloc_cyclic(&chan.reqs, &id, &si, xa_limit_32b,
			      &chan.next_token, GFP_ATOMIC);
	if (err >= 0) {
		err = 0;
		si.token = id;
		usmfs_queue_swapin(&si, USMFS_EV_SWAPIN_REQUEST);
	}
	spin_unlock(&chan.req_lock);
	if (err) {
		state = USMFS_SI_FAILED;
		err = -ENOMEM;
		goto undo;
	}

	for (;;) {
		left = (long)(deadline - jiffies);
		if (left <= 0) {
			err = -EIO;
			break;
		}
		r = wait_event_killable_timeout(usmfs_page_wq,
						usmfs_swapin_over(&si),
						min_t(long, left, HZ));
		if (r < 0) {
			err = -EINTR;
			break;
		}
		if (usmfs_swapin_over(&si))
			break;
		/* Lost to a full queue: say it again. */
		spin_lock(&chan.req_lock);
		if (!si.queued && si.state == USMFS_SI_WAITING)
			usmfs_queue_swapin(&si, USMFS_EV_SWAPIN_REQUEST);
		spin_unlock(&chan.req_lock);
	}

	spin_lock(&chan.req_lock);
	if (si.state == USMFS_SI_WAITING) {
		xa_erase(&chan.reqs, si.token);
		si.state = err ? USMFS_SI_FAILED : USMFS_SI_GONE;
		if (si.queued)
			usmfs_queue_swapin(&si, USMFS_EV_SWAPIN_CANCELLED);
		cancelled = true;
	}
	state = si.state;
	spin_unlock(&chan.req_lock);
	if (state == USMFS_SI_DONE)
		return 0;
	if (state == USMFS_SI_FAILED && !err)
		err = -EIO;	/* the server failed it */
	if (cancelled && err == -EIO)
		pr_warn_ratelimited("swap-in of page %lu of inode %llu timed out\n",
				    index, (u64)inode->i_ino);
undo:
	/* The page stays swapped (unless it changed); the frame goes back. */
	xa_lock(&info->frames);
	__xa_cmpxchg(&info->frames, index, si.busy, entry, GFP_ATOMIC);
	xa_unlock(&info->frames);
	usmfs_put_frame(inode, frame);
	return err;
}

/*
 * user.usm.reclaim: ask the server to push @nr pages (~0 = all) of @inode
 * out now.  0 once queued (the server decides what goes, later);
 * -ENOTCONN when no server that evicts (USMFS_F_EVICT) is attached (not
 * -EAGAIN: setxattr turns that into EOPNOTSUPP); -EBUSY when the queue is
 * full.
 */
int usmfs_chan_reclaim(struct inode *inode, u64 nr)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on() || !(READ_ONCE(chan.features) & USMFS_F_EVICT))
		return -ENOTCONN;
	if (READ_ONCE(chan.count) >= USMFS_QUEUE_EVENTS - 1)
		return -EBUSY;
	usmfs_event_init(&ev, USMFS_EV_RECLAIM, inode);
	ev.u.reclaim.nr = nr;
	usmfs_queue(&ev);
	return 0;
}

/* For user.usm.stats on a mount's root: is a server attached, and how. */
bool usmfs_chan_state(u64 *features, u32 *low_pct, u32 *high_pct)
{
	bool on = usmfs_chan_on();

	*features = on ? READ_ONCE(chan.features) : 0;
	*low_pct = READ_ONCE(chan.low_pct);
	*high_pct = READ_ONCE(chan.high_pct);
	return on;
}

static void usmfs_fill_mount(struct usmfs_event *ev, struct usmfs_sb_info *sbi)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = USMFS_EV_MOUNT;
	ev->dev = sbi->chan_dev;
	ev->u.mount.max_frames = sbi->max_frames;
	ev->u.mount.swapin_timeout_ms = sbi->opt_swapin_timeout_ms;
	strscpy_pad(ev->u.mount.alloc, sbi->opt_alloc,
		    sizeof(ev->u.mount.alloc));
	strscpy_pad(ev->u.mount.evict, sbi->opt_evict,
		    sizeof(ev->u.mount.evict));
	/*
	 * swap= only when it was given, and only a store name or "none" (a
	 * file: path is the FUSE daemon's way; the server has its stores).
	 */
	if (usmfs_swap_given(sbi) &&
	    usmfs_name_valid(sbi->opt_swap, strlen(sbi->opt_swap)) &&
	    strlen(sbi->opt_swap) < USMFS_NAME_LEN)
		strscpy_pad(ev->u.mount.swap, sbi->opt_swap,
			    sizeof(ev->u.mount.swap));
}

void usmfs_chan_mount(struct usmfs_sb_info *sbi)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on())
		return;
	usmfs_fill_mount(&ev, sbi);
	usmfs_queue(&ev);
}

void usmfs_chan_umount(struct usmfs_sb_info *sbi)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on())
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = USMFS_EV_UMOUNT;
	ev.dev = sbi->chan_dev;
	usmfs_queue(&ev);
}

/* ------------------------------------------------------------- replay */

/* Called under the pool's mounts lock, for each mount. */
static void usmfs_replay_mount(struct usmfs_sb_info *sbi, unsigned long *files)
{
	struct super_block *sb = sbi->sb;
	struct usmfs_event ev;
	struct inode *inode;

	usmfs_fill_mount(&ev, sbi);
	ev.flags |= USMFS_EVF_REPLAY;
	usmfs_queue(&ev);

	spin_lock(&sb->s_inode_list_lock);
	list_for_each_entry(inode, &sb->s_inodes, i_sb_list) {
		if (!S_ISREG(inode->i_mode) || USMFS_I(inode)->chan_gone)
			continue;
		usmfs_fill_created(&ev, inode, NULL, NULL);
		ev.flags |= USMFS_EVF_REPLAY;
		usmfs_queue(&ev);
		(*files)++;
	}
	spin_unlock(&sb->s_inode_list_lock);
}

/* -------------------------------------------------------- reservations */

/* The fault path: the frame reserved for page @index, or -ENOENT. */
long usmfs_resv_take(struct inode *inode, pgoff_t index)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	void *entry;

	if (xa_empty(&info->resv))
		return -ENOENT;
	entry = xa_erase(&info->resv, index);
	if (!entry)
		return -ENOENT;
	usmfs_frame_take_reserved(xa_to_value(entry));
	return xa_to_value(entry);
}

/*
 * The server reserved pages [@index, +@nr) one aligned run of frames (what
 * its contiguous placement does): take the whole run, as @nr faults would.
 * Return: its first frame, or -EEXIST when the reservations are not that.
 */
long usmfs_resv_take_aligned(struct inode *inode, pgoff_t index,
			     unsigned long nr)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long first, i;
	void *entry;

	xa_lock(&info->resv);
	entry = xa_load(&info->resv, index);
	if (!entry)
		goto no;
	first = xa_to_value(entry);
	if (!usmfs_frames_aligned(first, nr))
		goto no;
	for (i = 1; i < nr; i++)
		if (xa_load(&info->resv, index + i) != xa_mk_value(first + i))
			goto no;
	for (i = 0; i < nr; i++)
		__xa_erase(&info->resv, index + i);
	xa_unlock(&info->resv);
	for (i = 0; i < nr; i++)
		usmfs_frame_take_reserved(first + i);
	return first;
no:
	xa_unlock(&info->resv);
	return -EEXIST;
}

/* Give back the reservations of pages [@first, @last]; how many. */
unsigned long usmfs_resv_drop(struct inode *inode, pgoff_t first,
			      pgoff_t last)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long index = first, n = 0;
	void *entry;

	if (xa_empty(&info->resv))
		return 0;
	for (;;) {
		xa_lock(&info->resv);
		entry = xa_find(&info->resv, &index, last, XA_PRESENT);
		if (entry)
			__xa_erase(&info->resv, index);
		xa_unlock(&info->resv);
		if (!entry)
			break;
		usmfs_frame_unreserve(xa_to_value(entry));
		n++;
		if (index == last)
			break;
		index++;
	}
	return n;
}

/* The server went: its reservations go too (their frames are free). */
static void usmfs_resv_drop_all(void)
{
	struct list_head *mounts = usmfs_pool_lock_mounts();
	struct usmfs_sb_info *sbi;
	struct inode *inode;

	list_for_each_entry(sbi, mounts, pool_link) {
		struct super_block *sb = sbi->sb;

		spin_lock(&sb->s_inode_list_lock);
		list_for_each_entry(inode, &sb->s_inodes, i_sb_list)
			if (S_ISREG(inode->i_mode))
				usmfs_resv_drop(inode, 0, ULONG_MAX);
		spin_unlock(&sb->s_inode_list_lock);
	}
	usmfs_pool_unlock_mounts();
}

/* ------------------------------------------------------------ commands */

static bool usmfs_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static bool usmfs_store_name_ok(const u8 *name)
{
	size_t len = strnlen(name, USMFS_NAME_LEN);
	size_t i;

	if (len == USMFS_NAME_LEN)
		return false;
	if (!usmfs_zero(name + len, USMFS_NAME_LEN - len))
		return false;
	for (i = 0; i < len; i++)
		if (!(islower(name[i]) || isdigit(name[i]) ||
		      name[i] == '_' || name[i] == '-'))
			return false;
	return true;
}

static int usmfs_cmd_store(struct usmfs_cmd *c)
{
	char *name, *old;

	if (c->dev || c->ino || c->u.store.reserved0 ||
	    c->u.store.store_id >= USMFS_MAX_STORES)
		return -EINVAL;
	if (c->op == USMFS_CMD_GET_STORE) {
		if (!usmfs_zero(c->u.store.name, USMFS_NAME_LEN))
			return -EINVAL;
		mutex_lock(&chan.stores_lock);
		old = chan.stores[c->u.store.store_id];
		if (old)
			strscpy_pad(c->u.store.name, old, USMFS_NAME_LEN);
		mutex_unlock(&chan.stores_lock);
		return old ? 0 : -ENOENT;
	}
	if (!usmfs_store_name_ok(c->u.store.name))
		return -EINVAL;
	name = NULL;
	if (c->u.store.name[0]) {
		name = kstrndup(c->u.store.name, USMFS_NAME_LEN, GFP_KERNEL);
		if (!name)
			return -ENOMEM;
	}
	mutex_lock(&chan.stores_lock);
	old = chan.stores[c->u.store.store_id];
	chan.stores[c->u.store.store_id] = name;
	mutex_unlock(&chan.stores_lock);
	kfree(old);
	return 0;
}

static int usmfs_cmd_watermarks(struct usmfs_cmd *c)
{
	u32 low = c->u.wm.low_pct, high = c->u.wm.high_pct;

	if (c->dev || c->ino || !usmfs_zero(c->u.wm.reserved,
					    sizeof(c->u.wm.reserved)))
		return -EINVAL;
	if (!low || low >= high || high > 100)
		return -EINVAL;
	mutex_lock(&chan.lock);
	chan.low_pct = low;
	chan.high_pct = high;
	mutex_unlock(&chan.lock);
	return 0;
}

/* LIST_PAGES: resident pages of one file, or of all files, from a cursor. */
struct usmfs_lister {
	struct usmfs_page_rec __user *out;
	u32 cap;
	u32 done;
	struct usmfs_page_rec buf[USMFS_LIST_CHUNK];
	u32 nbuf;
	bool full;
	/* the cursor of the next page not reported */
	u32 next_dev;
	u64 next_ino;
	u64 next_index;
};

static int usmfs_list_flush(struct usmfs_lister *l)
{
	if (!l->nbuf)
		return 0;
	if (copy_to_user(l->out + l->done, l->buf, l->nbuf * sizeof(l->buf[0])))
		return -EFAULT;
	l->done += l->nbuf;
	l->nbuf = 0;
	return 0;
}

static struct usmfs_page_rec usmfs_page_rec(u32 dev, u64 ino, u64 index,
					    void *entry)
{
	struct usmfs_page_rec r = {
		.dev = dev, .ino = ino, .index = index,
		.state = USMFS_PAGE_RESIDENT, .frame = ~0ULL, .slot = ~0ULL,
	};

	if (usmfs_e_swapped(entry)) {
		r.state = usmfs_e_busy(entry) ? USMFS_PAGE_WAITING :
						USMFS_PAGE_SWAPPED;
		r.slot = usmfs_e_slot(entry);
		r.store_id = usmfs_e_store(entry);
	} else {
		/* Locked by EVICT is still resident until COMMIT. */
		r.frame = usmfs_e_frame(entry);
	}
	return r;
}

/* Report pages of @inode from @index on; false once the array is full. */
static int usmfs_list_file(struct usmfs_lister *l, struct inode *inode,
			   u32 dev, unsigned long index)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	XA_STATE(xas, &info->frames, index);
	void *entry;
	int err;

	for (;;) {
		rcu_read_lock();
		xas_set(&xas, index);
		entry = xas_find(&xas, ULONG_MAX);
		while (xas_retry(&xas, entry))
			entry = xas_find(&xas, ULONG_MAX);
		rcu_read_unlock();
		if (!entry)
			return 0;
		index = xas.xa_index;
		if (l->done + l->nbuf == l->cap) {
			l->full = true;
			l->next_dev = dev;
			l->next_ino = inode->i_ino;
			l->next_index = index;
			return 0;
		}
		l->buf[l->nbuf++] = usmfs_page_rec(dev, inode->i_ino, index,
						   entry);
		if (l->nbuf == USMFS_LIST_CHUNK) {
			err = usmfs_list_flush(l);
			if (err)
				return err;
		}
		if (index == ULONG_MAX)
			return 0;
		index++;
		cond_resched();
	}
}

/*
 * The regular file of @sb with the lowest inode number >= @ino (exactly
 * @ino if @exact), with a reference; NULL if none.
 */
static struct inode *usmfs_find_inode(struct super_block *sb, u64 ino,
				      bool exact)
{
	struct inode *inode, *best = NULL;

	spin_lock(&sb->s_inode_list_lock);
	list_for_each_entry(inode, &sb->s_inodes, i_sb_list) {
		if (!S_ISREG(inode->i_mode) || USMFS_I(inode)->chan_gone)
			continue;
		if (exact ? inode->i_ino != ino : inode->i_ino < ino)
			continue;
		if (best && best->i_ino <= inode->i_ino)
			continue;
		best = inode;
		if (exact)
			break;
	}
	if (best)
		best = igrab(best);
	spin_unlock(&sb->s_inode_list_lock);
	return best;
}

struct usmfs_list_all {
	struct usmfs_lister *l;
	struct usmfs_cmd *c;
	int err;
};

static int usmfs_list_mount(struct usmfs_sb_info *sbi, void *arg)
{
	struct usmfs_list_all *a = arg;
	struct usmfs_lister *l = a->l;
	u64 ino = 0;
	unsigned long index = 0;

	if (sbi->chan_dev < a->c->u.list.cursor_dev)
		return 0;
	if (sbi->chan_dev == a->c->u.list.cursor_dev) {
		ino = a->c->u.list.cursor_ino;
		index = a->c->u.list.cursor_index;
	}
	while (!l->full) {
		struct inode *inode = usmfs_find_inode(sbi->sb, ino, false);

		if (!inode)
			break;
		if (inode->i_ino != ino)
			index = 0;
		a->err = usmfs_list_file(l, inode, sbi->chan_dev, index);
		ino = inode->i_ino + 1;
		index = 0;
		iput(inode);
		if (a->err)
			return a->err;
		if (!ino)
			break;
	}
	return l->full ? 1 : 0;
}

/* One file: a->err is EINVAL until the mount is found. */
static int usmfs_list_one(struct usmfs_sb_info *sbi, void *arg)
{
	struct usmfs_list_all *a = arg;
	struct inode *inode;

	if (sbi->chan_dev != a->c->dev)
		return 0;
	inode = usmfs_find_inode(sbi->sb, a->c->ino, true);
	if (!inode) {
		a->err = -ENOENT;
		return 1;
	}
	a->err = usmfs_list_file(a->l, inode, sbi->chan_dev,
				 a->c->u.list.cursor_index);
	iput(inode);
	return 1;
}

static int usmfs_cmd_list(struct usmfs_cmd *c)
{
	struct usmfs_list_all a;
	struct list_head *mounts;
	struct usmfs_sb_info *sbi;
	struct usmfs_lister *l;
	int err = 0;

	if (c->flags || c->u.list.reserved0 || !c->u.list.nr ||
	    c->u.list.nr > USMFS_LIST_MAX)
		return -EINVAL;
	if ((c->dev == 0) != (c->ino == 0))
		return -EINVAL;
	if (c->dev && (c->u.list.cursor_dev || c->u.list.cursor_ino))
		return -EINVAL;
	if (c->u.list.cursor_index > ULONG_MAX)
		return -EINVAL;
	l = kzalloc(sizeof(*l), GFP_KERNEL);
	if (!l)
		return -ENOMEM;
	l->out = u64_to_user_ptr(c->u.list.recs_ptr);
	l->cap = c->u.list.nr;

	a.l = l;
	a.c = c;
	a.err = c->dev ? -EINVAL : 0;
	mounts = usmfs_pool_lock_mounts();
	list_for_each_entry(sbi, mounts, pool_link)
		if (c->dev ? usmfs_list_one(sbi, &a) : usmfs_list_mount(sbi, &a))
			break;
	usmfs_pool_unlock_mounts();
	err = a.err;
	if (!err)
		err = usmfs_list_flush(l);
	if (err)
		goto out;
	c->u.list.nr = l->done;
	if (l->full) {
		c->u.list.cursor_dev = c->dev ? 0 : l->next_dev;
		c->u.list.cursor_ino = c->dev ? 0 : l->next_ino;
		c->u.list.cursor_index = l->next_index;
	} else {
		c->flags |= USMFS_CMDF_LIST_END;
		c->u.list.cursor_dev = 0;
		c->u.list.cursor_ino = 0;
		c->u.list.cursor_index = 0;
	}
out:
	kfree(l);
	return err;
}

/*
 * GRANT: reserve frames [first_frame, +nr) for pages [index, +nr) of the
 * file, all or nothing.  A page that is resident or already reserved:
 * EBUSY.  REVOKE: give back the reservations in [index, +nr).
 */
static int usmfs_grant_file(struct usmfs_cmd *c, struct inode *inode)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long index = c->u.grant.index, nr = c->u.grant.nr;
	unsigned long frame = c->u.grant.first_frame, i;
	int err;

	if (c->op == USMFS_CMD_REVOKE) {
		usmfs_resv_drop(inode, index, index + nr - 1);
		return 0;
	}
	err = usmfs_frames_reserve(frame, nr);
	if (err)
		return err;
	xa_lock(&info->resv);
	for (i = 0; i < nr; i++) {
		if (xa_load(&info->frames, index + i) ||
		    xa_load(&info->resv, index + i)) {
			err = -EBUSY;
			break;
		}
		err = xa_err(__xa_store(&info->resv, index + i,
					xa_mk_value(frame + i), GFP_ATOMIC));
		if (err)
			break;
	}
	if (err) {
		while (i--)
			__xa_erase(&info->resv, index + i);
	}
	xa_unlock(&info->resv);
	if (err) {
		for (i = 0; i < nr; i++)
			usmfs_frame_unreserve(frame + i);
	}
	return err;
}

/*
 * The regular file @ino of mount @dev, with a reference.
 * ERR_PTR(-EINVAL): no such mount; ERR_PTR(-ENOENT): no such file.
 */
static struct inode *usmfs_cmd_inode(u32 dev, u64 ino)
{
	struct inode *inode = ERR_PTR(-EINVAL), *drop = NULL;
	struct list_head *mounts;
	struct usmfs_sb_info *sbi;

	if (!dev || !ino || ino > ULONG_MAX)
		return inode;
	mounts = usmfs_pool_lock_mounts();
	list_for_each_entry(sbi, mounts, pool_link) {
		if (sbi->chan_dev != dev)
			continue;
		inode = ilookup(sbi->sb, ino);
		if (inode && (!S_ISREG(inode->i_mode) ||
			      READ_ONCE(USMFS_I(inode)->chan_gone))) {
			drop = inode;
			inode = NULL;
		}
		if (!inode)
			inode = ERR_PTR(-ENOENT);
		break;
	}
	usmfs_pool_unlock_mounts();
	if (drop)
		iput(drop);
	return inode;
}

static int usmfs_cmd_grant(struct usmfs_cmd *c, struct inode *inode)
{
	if (!usmfs_zero(c->u.grant.reserved, sizeof(c->u.grant.reserved)))
		return -EINVAL;
	if (c->op == USMFS_CMD_REVOKE && c->u.grant.first_frame)
		return -EINVAL;
	if (!c->u.grant.nr || c->u.grant.nr > USMFS_GRANT_MAX ||
	    c->u.grant.index > ULONG_MAX - USMFS_GRANT_MAX)
		return -EINVAL;
	return usmfs_grant_file(c, inode);
}

/* EVICT and CANCEL name pages [index, +nr) in frames [frame, +nr). */
static int usmfs_range_check(const struct usmfs_cmd *c)
{
	if (!usmfs_zero(c->u.range.reserved, sizeof(c->u.range.reserved)))
		return -EINVAL;
	if (!c->u.range.nr || c->u.range.nr > USMFS_RANGE_MAX ||
	    c->u.range.index > ULONG_MAX - USMFS_RANGE_MAX)
		return -EINVAL;
	if (c->u.range.frame >= usmfs_pool_nr_frames() ||
	    c->u.range.nr > usmfs_pool_nr_frames() - c->u.range.frame)
		return -ERANGE;
	return 0;
}

/* Put back resident entries [index, +nr) that are still busy(frame + i). */
static unsigned long usmfs_unlock_range(struct usmfs_inode_info *info,
					unsigned long index,
					unsigned long frame, unsigned long nr)
{
	unsigned long i, missed = 0;

	xa_lock(&info->frames);
	for (i = 0; i < nr; i++) {
		void *idle = xa_mk_value(frame + i);

		if (__xa_cmpxchg(&info->frames, index + i, usmfs_mk_busy(idle),
				 idle, GFP_ATOMIC) != usmfs_mk_busy(idle))
			missed++;
	}
	xa_unlock(&info->frames);
	usmfs_wake_frames();
	return missed;
}

/*
 * EVICT: lock pages [index, +nr), resident in frames [frame, +nr), all or
 * nothing.  Entries go busy first (no new reference can be taken: every
 * lookup waits on a busy entry), then the pages are unmapped; a page that
 * someone still holds (a read or write copying, a GUP pin, a pipe) is
 * EBUSY and the whole range is put back.
 */
static int usmfs_cmd_evict(struct usmfs_cmd *c, struct inode *inode)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long index, frame, nr, i;
	int err = usmfs_range_check(c);

	if (err)
		return err;
	index = c->u.range.index;
	frame = c->u.range.frame;
	nr = c->u.range.nr;

	xa_lock(&info->frames);
	for (i = 0; i < nr; i++) {
		void *e = xa_load(&info->frames, index + i);

		if (!e || usmfs_e_swapped(e))
			err = -ENOENT;
		else if (usmfs_e_busy(e))
			err = -EBUSY;
		else if (usmfs_e_frame(e) != frame + i)
			err = -ESTALE;
		if (err)
			break;
		__xa_store(&info->frames, index + i, usmfs_mk_busy(e),
			   GFP_ATOMIC);
	}
	xa_unlock(&info->frames);
	if (err) {
		usmfs_unlock_range(info, index, frame, i);
		return err;
	}

	unmap_mapping_range(inode->i_mapping, (loff_t)index << PAGE_SHIFT,
			    (loff_t)nr << PAGE_SHIFT, 0);
	for (i = 0; i < nr; i++) {
		struct page *page = usmfs_frame_page(frame + i);

		if (page_ref_count(page) != 1 ||
		    folio_mapped(page_folio(page))) {
			usmfs_unlock_range(info, index, frame, nr);
			return -EBUSY;
		}
	}
	return 0;
}

static int usmfs_cmd_cancel(struct usmfs_cmd *c, struct inode *inode)
{
	int err = usmfs_range_check(c);

	if (err)
		return err;
	return usmfs_unlock_range(USMFS_I(inode), c->u.range.index,
				  c->u.range.frame, c->u.range.nr) ?
	       -ENOENT : 0;
}

/*
 * COMMIT: the page locked by EVICT in @frame is now (store_id, slot); its
 * frame goes back to the pool.  A bad store or slot unlocks the page.
 */
static int usmfs_cmd_commit(struct usmfs_cmd *c, struct inode *inode)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_sb_info *sbi = USMFS_SB(inode->i_sb);
	unsigned long index = c->u.commit.index, frame = c->u.commit.frame;
	void *e, *locked;
	int bad = 0;

	if (c->u.commit.reserved0 || c->u.commit.reserved1 ||
	    c->u.commit.index > ULONG_MAX)
		return -EINVAL;
	if (c->u.commit.frame >= usmfs_pool_nr_frames())
		return -ERANGE;
	if (c->u.commit.store_id >= USMFS_MAX_STORES)
		bad = -EINVAL;
	else if (c->u.commit.slot > USMFS_E_SLOT_MAX)
		bad = -ERANGE;
	locked = usmfs_mk_busy(xa_mk_value(frame));

	xa_lock(&info->frames);
	e = xa_load(&info->frames, index);
	if (e != locked) {
		xa_unlock(&info->frames);
		return e && usmfs_e_busy(e) && !usmfs_e_swapped(e) ?
		       -ESTALE : -ENOENT;
	}
	__xa_store(&info->frames, index,
		   bad ? xa_mk_value(frame) :
			 usmfs_mk_swap(c->u.commit.store_id, c->u.commit.slot),
		   GFP_ATOMIC);
	xa_unlock(&info->frames);
	if (bad) {
		usmfs_wake_frames();
		return bad;
	}
	atomic_long_inc(&info->nr_swapped);
	atomic64_inc(&info->evictions);
	atomic_long_inc(&sbi->swapped);
	atomic64_inc(&sbi->evictions);
	usmfs_put_frame(inode, frame);
	return 0;
}

/* SWAPIN_DONE: the answer to the SWAPIN_REQUEST with @token. */
static int usmfs_cmd_swapin_done(struct usmfs_cmd *c)
{
	u32 status = c->u.swapin.status;
	struct usmfs_inode_info *info;
	struct usmfs_sb_info *sbi;
	struct usmfs_swapin *si;
	int err = 0;
	void *old;

	if (c->u.swapin.reserved0 || c->u.swapin.reserved1 ||
	    status >= MAX_ERRNO || c->u.swapin.token > U32_MAX ||
	    !c->dev || !c->ino)
		return -EINVAL;
	spin_lock(&chan.req_lock);
	si = xa_load(&chan.reqs, c->u.swapin.token);
	if (!si || si->state != USMFS_SI_WAITING) {
		err = -ENOENT;
		goto out;
	}
	sbi = USMFS_SB(si->inode->i_sb);
	if (sbi->chan_dev != c->dev || si->inode->i_ino != c->ino ||
	    si->index != c->u.swapin.index || si->frame != c->u.swapin.frame) {
		err = -ESTALE;
		goto out;
	}
	xa_erase(&chan.reqs, si->token);
	if (status) {
		WRITE_ONCE(si->state, USMFS_SI_FAILED);
		goto out;
	}
	info = USMFS_I(si->inode);
	xa_lock(&info->frames);
	/* What truncation zeroed while the page was out, before it shows. */
	if (xa_load(&info->frames, si->index) == si->busy)
		usmfs_tailzero_apply(info, si->index,
				     usmfs_frame_page(si->frame));
	old = __xa_cmpxchg(&info->frames, si->index, si->busy,
			   xa_mk_value(si->frame), GFP_ATOMIC);
	xa_unlock(&info->frames);
	if (old != si->busy) {
		WRITE_ONCE(si->state, USMFS_SI_GONE);
		err = -ENOENT;
		goto out;
	}
	atomic_long_dec(&info->nr_swapped);
	atomic64_inc(&info->swapins);
	atomic_long_dec(&sbi->swapped);
	atomic64_inc(&sbi->swapins);
	WRITE_ONCE(si->state, USMFS_SI_DONE);
out:
	spin_unlock(&chan.req_lock);
	if (!err || err == -ENOENT)
		wake_up_all(&usmfs_page_wq);
	return err;
}

static int usmfs_cmd_one(struct usmfs_cmd *c)
{
	struct inode *inode;
	u64 need;
	int err;

	if (c->reserved0)
		return -EINVAL;
	switch (c->op) {
	case USMFS_CMD_GRANT:
	case USMFS_CMD_REVOKE:
		need = USMFS_F_RESERVE;
		break;
	case USMFS_CMD_EVICT:
	case USMFS_CMD_COMMIT:
	case USMFS_CMD_CANCEL:
	case USMFS_CMD_SWAPIN_DONE:
		need = USMFS_F_EVICT;
		break;
	case USMFS_CMD_SET_WATERMARKS:
	case USMFS_CMD_LIST_PAGES:
	case USMFS_CMD_SET_STORE:
	case USMFS_CMD_GET_STORE:
		need = 0;
		break;
	default:
		return -EINVAL;
	}
	if (c->op != USMFS_CMD_LIST_PAGES && c->flags)
		return -EINVAL;
	/* Not granted at attach: refused. */
	if (need & ~chan.features)
		return -EOPNOTSUPP;

	switch (c->op) {
	case USMFS_CMD_SET_WATERMARKS:
		return usmfs_cmd_watermarks(c);
	case USMFS_CMD_LIST_PAGES:
		return usmfs_cmd_list(c);
	case USMFS_CMD_SET_STORE:
	case USMFS_CMD_GET_STORE:
		return usmfs_cmd_store(c);
	case USMFS_CMD_SWAPIN_DONE:
		return usmfs_cmd_swapin_done(c);
	}

	/* The rest name one file. */
	inode = usmfs_cmd_inode(c->dev, c->ino);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	switch (c->op) {
	case USMFS_CMD_GRANT:
	case USMFS_CMD_REVOKE:
		err = usmfs_cmd_grant(c, inode);
		break;
	case USMFS_CMD_EVICT:
		err = usmfs_cmd_evict(c, inode);
		break;
	case USMFS_CMD_COMMIT:
		err = usmfs_cmd_commit(c, inode);
		break;
	case USMFS_CMD_CANCEL:
		err = usmfs_cmd_cancel(c, inode);
		break;
	default:
		err = -EOPNOTSUPP;
	}
	iput(inode);
	return err;
}

static long usmfs_ioc_cmd(void __user *arg)
{
	struct usmfs_cmd_batch b;
	struct usmfs_cmd __user *ucmds;
	struct usmfs_cmd c;
	long err = 0;
	u32 i;

	if (copy_from_user(&b, arg, sizeof(b)))
		return -EFAULT;
	if (b.reserved0 || !b.nr || b.nr > USMFS_MAX_BATCH)
		return -EINVAL;
	ucmds = u64_to_user_ptr(b.cmds_ptr);
	for (i = 0; i < b.nr; i++) {
		int r;

		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		if (copy_from_user(&c, &ucmds[i], sizeof(c))) {
			err = -EFAULT;
			break;
		}
		r = usmfs_cmd_one(&c);
		c.error = -r;
		if (copy_to_user(&ucmds[i], &c, sizeof(c))) {
			err = -EFAULT;
			break;
		}
		cond_resched();
	}
	b.done = i;
	if (copy_to_user(arg, &b, sizeof(b)))
		return -EFAULT;
	return err;
}

/* --------------------------------------------------------------- ioctls */

static long usmfs_ioc_features(void __user *arg)
{
	struct usmfs_features f;

	if (copy_from_user(&f, arg, sizeof(f)))
		return -EFAULT;
	if (f.reserved0 || !usmfs_zero(f.reserved, sizeof(f.reserved)))
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	f.features = USMFS_F_IMPLEMENTED;
	f.version_major = USMFS_VERSION_MAJOR;
	f.version_minor = USMFS_VERSION_MINOR;
	return copy_to_user(arg, &f, sizeof(f)) ? -EFAULT : 0;
}

/* Queue again the request of every swap-in still waiting; how many. */
static unsigned long usmfs_requeue_swapins(void)
{
	struct usmfs_swapin *si;
	unsigned long id, n = 0;

	spin_lock(&chan.req_lock);
	xa_for_each(&chan.reqs, id, si) {
		si->queued = false;
		usmfs_queue_swapin(si, USMFS_EV_SWAPIN_REQUEST);
		n++;
	}
	spin_unlock(&chan.req_lock);
	return n;
}

static unsigned long usmfs_swapped_pages(void)
{
	struct list_head *mounts = usmfs_pool_lock_mounts();
	struct usmfs_sb_info *sbi;
	unsigned long n = 0;

	list_for_each_entry(sbi, mounts, pool_link)
		n += atomic_long_read(&sbi->swapped);
	usmfs_pool_unlock_mounts();
	return n;
}

/*
 * The server went: pages it locked with EVICT and did not commit stay
 * resident; without USMFS_F_RECOVERY, the swap-ins waiting for it fail now
 * (the pages stay swapped).
 */
static void usmfs_server_gone(void)
{
	struct list_head *mounts = usmfs_pool_lock_mounts();
	struct usmfs_swapin *si;
	struct usmfs_sb_info *sbi;
	struct inode *inode;
	unsigned long id, unlocked = 0;

	list_for_each_entry(sbi, mounts, pool_link) {
		struct super_block *sb = sbi->sb;

		spin_lock(&sb->s_inode_list_lock);
		list_for_each_entry(inode, &sb->s_inodes, i_sb_list) {
			struct usmfs_inode_info *info = USMFS_I(inode);
			XA_STATE(xas, &info->frames, 0);
			void *e;

			if (!S_ISREG(inode->i_mode))
				continue;
			xas_lock(&xas);
			xas_for_each(&xas, e, ULONG_MAX) {
				if (usmfs_e_busy(e) && !usmfs_e_swapped(e)) {
					xas_store(&xas, usmfs_mk_idle(e));
					unlocked++;
				}
			}
			xas_unlock(&xas);
		}
		spin_unlock(&sb->s_inode_list_lock);
	}
	usmfs_pool_unlock_mounts();
	if (unlocked)
		pr_info("chan: %lu pages the server was evicting stay resident\n",
			unlocked);

	if (!chan.recovery) {
		spin_lock(&chan.req_lock);
		xa_for_each(&chan.reqs, id, si) {
			xa_erase(&chan.reqs, id);
			WRITE_ONCE(si->state, USMFS_SI_FAILED);
		}
		spin_unlock(&chan.req_lock);
	}
	wake_up_all(&usmfs_page_wq);
}

static long usmfs_ioc_hello(struct file *file, void __user *arg)
{
	struct usmfs_hello h;
	struct list_head *mounts;
	struct usmfs_sb_info *sbi;
	unsigned long files = 0, waiters, swapped;
	struct usmfs_event ev;

	if (copy_from_user(&h, arg, sizeof(h)))
		return -EFAULT;
	if (!usmfs_zero(h.reserved, sizeof(h.reserved)))
		return -EINVAL;

	mutex_lock(&chan.lock);
	if (file->private_data) {
		mutex_unlock(&chan.lock);
		return -EALREADY;
	}
	if (h.version_major != USMFS_VERSION_MAJOR) {
		mutex_unlock(&chan.lock);
		h.version_major = USMFS_VERSION_MAJOR;
		h.version_minor = USMFS_VERSION_MINOR;
		h.features = 0;
		if (copy_to_user(arg, &h, sizeof(h)))
			return -EFAULT;
		return -EPROTO;
	}
	chan.features = h.features & USMFS_F_ALL & USMFS_F_IMPLEMENTED;
	chan.recovery = chan.features & USMFS_F_RECOVERY;
	chan.generation++;
	usmfs_queue_reset();
	WRITE_ONCE(chan.attached, true);
	file->private_data = &chan;

	/* Everything that exists now; live events may interleave. */
	mounts = usmfs_pool_lock_mounts();
	list_for_each_entry(sbi, mounts, pool_link)
		usmfs_replay_mount(sbi, &files);
	usmfs_pool_unlock_mounts();
	memset(&ev, 0, sizeof(ev));
	ev.type = USMFS_EV_REPLAY_DONE;
	usmfs_queue(&ev);
	/* Faults that waited for a server: their requests, again. */
	waiters = usmfs_requeue_swapins();
	swapped = usmfs_swapped_pages();

	h.version_major = USMFS_VERSION_MAJOR;
	h.version_minor = USMFS_VERSION_MINOR;
	h.state = (files ? USMFS_STATE_FILES : 0) |
		  (swapped ? USMFS_STATE_SWAPPED : 0) |
		  (waiters ? USMFS_STATE_WAITERS : 0);
	h.features = chan.features;
	h.pool_frames = usmfs_pool_nr_frames();
	h.nr_chunks = usmfs_pool_nr_chunks();
	h.page_shift = USMFS_PAGE_SHIFT;
	h.event_size = sizeof(struct usmfs_event);
	h.cmd_size = sizeof(struct usmfs_cmd);
	h.max_batch = USMFS_MAX_BATCH;
	h.queue_events = USMFS_QUEUE_EVENTS;
	h.low_pct = chan.low_pct;
	h.high_pct = chan.high_pct;
	h.generation = chan.generation;
	h.swapped_pages = swapped;
	if (chan.features & USMFS_F_ACCESS)
		schedule_delayed_work(&usmfs_sample_work, 0);
	mutex_unlock(&chan.lock);
	pr_info("chan: server %d (%s) attached, generation %llu, features 0x%llx\n",
		task_tgid_nr(current), current->comm, h.generation, h.features);
	return copy_to_user(arg, &h, sizeof(h)) ? -EFAULT : 0;
}

static long usmfs_ioc_chunks(void __user *arg)
{
	struct usmfs_chunks q;
	struct usmfs_chunk __user *out;
	unsigned int i, n = usmfs_pool_nr_chunks();
	u64 first = 0;

	if (copy_from_user(&q, arg, sizeof(q)))
		return -EFAULT;
	if (q.reserved0)
		return -EINVAL;
	out = u64_to_user_ptr(q.chunks_ptr);
	for (i = 0; i < n; i++) {
		struct usmfs_chunk c = {};
		unsigned long nr;
		enum usmfs_source src;

		usmfs_pool_chunk_info(i, &nr, &src, NULL);
		if (i < q.nr) {
			c.first_frame = first;
			c.nr_frames = nr;
			c.source = src;
			if (copy_to_user(&out[i], &c, sizeof(c)))
				return -EFAULT;
		}
		first += nr;
	}
	q.nr = n;
	return copy_to_user(arg, &q, sizeof(q)) ? -EFAULT : 0;
}

static long usmfs_chan_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case USMFS_IOC_GET_FEATURES:
		return usmfs_ioc_features(uarg);
	case USMFS_IOC_HELLO:
		return usmfs_ioc_hello(file, uarg);
	case USMFS_IOC_GET_CHUNKS:
		if (!file->private_data)
			return -EPERM;
		return usmfs_ioc_chunks(uarg);
	case USMFS_IOC_CMD:
		if (!file->private_data)
			return -EPERM;
		return usmfs_ioc_cmd(uarg);
	}
	return -ENOTTY;
}

/* -------------------------------------------------------- read and poll */

static ssize_t usmfs_chan_read(struct file *file, char __user *buf,
			       size_t len, loff_t *ppos)
{
	struct usmfs_event ev;
	size_t done = 0;
	int err;

	if (!file->private_data)
		return -EPERM;
	if (!len || len % sizeof(ev))
		return -EINVAL;
	while (usmfs_queue_empty()) {
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		err = wait_event_interruptible(chan.wait, !usmfs_queue_empty());
		if (err)
			return err;
	}
	while (done < len && usmfs_dequeue(&ev)) {
		/* An event taken and not delivered is lost: say so. */
		if (copy_to_user(buf + done, &ev, sizeof(ev)))
			return done ? done : -EFAULT;
		done += sizeof(ev);
	}
	return done;
}

static __poll_t usmfs_chan_poll(struct file *file, poll_table *wait)
{
	if (!file->private_data)
		return EPOLLERR;
	poll_wait(file, &chan.wait, wait);
	return usmfs_queue_empty() ? 0 : EPOLLIN | EPOLLRDNORM;
}

/* --------------------------------------------------------------- mmap */

static int usmfs_chan_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long pages = vma_pages(vma);
	unsigned long off = vma->vm_pgoff, frames = usmfs_pool_nr_frames();
	unsigned long addr = vma->vm_start, first = 0;
	unsigned int i, n = usmfs_pool_nr_chunks();
	int err;

	if (!file->private_data)
		return -EPERM;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (off >= frames || pages > frames - off)
		return -EINVAL;
	for (i = 0; i < n && pages; i++) {
		unsigned long nr, pfn, skip, take;
		enum usmfs_source src;

		usmfs_pool_chunk_info(i, &nr, &src, &pfn);
		if (off >= first + nr) {
			first += nr;
			continue;
		}
		skip = off - first;
		take = min(nr - skip, pages);
		err = remap_pfn_range(vma, addr, pfn + skip, take << PAGE_SHIFT,
				      vma->vm_page_prot);
		if (err)
			return err;
		addr += take << PAGE_SHIFT;
		off += take;
		pages -= take;
		first += nr;
	}
	return 0;
}

/* ----------------------------------------------------- open and release */

static int usmfs_chan_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	mutex_lock(&chan.lock);
	if (chan.server) {
		mutex_unlock(&chan.lock);
		return -EBUSY;
	}
	chan.server = file;
	file->private_data = NULL;
	mutex_unlock(&chan.lock);
	return nonseekable_open(inode, file);
}

static int usmfs_chan_release(struct inode *inode, struct file *file)
{
	mutex_lock(&chan.lock);
	if (file->private_data) {
		WRITE_ONCE(chan.attached, false);
		cancel_delayed_work_sync(&usmfs_sample_work);
		usmfs_queue_reset();
		chan.features = 0;
		usmfs_resv_drop_all();
		usmfs_server_gone();
		pr_info("chan: server detached (generation %llu)\n",
			chan.generation);
	}
	chan.server = NULL;
	mutex_unlock(&chan.lock);
	return 0;
}

static const struct file_operations usmfs_chan_fops = {
	.owner		= THIS_MODULE,
	.open		= usmfs_chan_open,
	.release	= usmfs_chan_release,
	.read		= usmfs_chan_read,
	.poll		= usmfs_chan_poll,
	.unlocked_ioctl	= usmfs_chan_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= usmfs_chan_mmap,
};

static struct miscdevice usmfs_chan_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= USMFS_DEVICE_NAME,
	.fops	= &usmfs_chan_fops,
	.mode	= 0600,
};

int usmfs_chan_init(void)
{
	int err;

	BUILD_BUG_ON(PAGE_SHIFT != USMFS_PAGE_SHIFT);
	BUILD_BUG_ON(sizeof(struct usmfs_event) != 256);
	BUILD_BUG_ON(sizeof(struct usmfs_cmd) != 64);
	mutex_init(&chan.lock);
	mutex_init(&chan.stores_lock);
	spin_lock_init(&chan.qlock);
	spin_lock_init(&chan.req_lock);
	xa_init_flags(&chan.reqs, XA_FLAGS_ALLOC);
	init_waitqueue_head(&chan.wait);
	chan.low_pct = USMFS_DEFAULT_LOW;
	chan.high_pct = USMFS_DEFAULT_HIGH;
	chan.last_alloc = -1;
	chan.overflow = -1;
	chan.ring = vzalloc(USMFS_QUEUE_EVENTS * sizeof(*chan.ring));
	if (!chan.ring)
		return -ENOMEM;
	err = misc_register(&usmfs_chan_dev);
	if (err) {
		vfree(chan.ring);
		chan.ring = NULL;
	}
	return err;
}

void usmfs_chan_exit(void)
{
	int i;

	misc_deregister(&usmfs_chan_dev);
	vfree(chan.ring);
	chan.ring = NULL;
	for (i = 0; i < USMFS_MAX_STORES; i++) {
		kfree(chan.stores[i]);
		chan.stores[i] = NULL;
	}
}
