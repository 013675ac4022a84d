// SPDX-License-Identifier: GPL-2.0-only
/*
 * events.c - the channel's event queue and the filesystem's hooks into it.
 *
 * The hooks only queue events, and do nothing while no server is attached:
 * the filesystem never waits for the server here.  A full queue keeps one
 * OVERFLOW event at its tail that counts what was lost.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dcache.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "usmfs.h"
#include "chan.h"

/* ---------------------------------------------------------------- queue */

void usmfs_queue_reset(void)
{
	spin_lock(&chan.qlock);
	chan.head = 0;
	chan.count = 0;
	chan.seq = 0;
	chan.last_alloc = -1;
	chan.overflow = -1;
	chan.list_seq = 0;
	chan.qgen = chan.generation;
	spin_unlock(&chan.qlock);
}

/* LIST_PAGES begins: the seq of the newest event queued so far. */
u64 usmfs_queue_stamp(void)
{
	u64 seq;

	spin_lock(&chan.qlock);
	seq = chan.seq;
	chan.list_seq = seq;
	spin_unlock(&chan.qlock);
	return seq;
}

/*
 * Queue @ev (its seq is set here, also when it is lost to a full queue; it
 * stays 0 without a server, and is the run's when merged into a run of
 * PAGES_ALLOCATED); @gen gets the generation that numbers it.
 * Return: whether it is in the queue (false: no server, or lost to a full
 * queue).
 */
bool usmfs_queue_gen(struct usmfs_event *ev, u64 *gen)
{
	struct usmfs_event *slot;
	unsigned int tail;
	bool stored = false;

	spin_lock(&chan.qlock);
	*gen = chan.qgen;
	if (!READ_ONCE(chan.attached))
		goto out;
	if (ev->type == USMFS_EV_PAGES_ALLOCATED && chan.last_alloc >= 0) {
		struct usmfs_event *last = &chan.ring[chan.last_alloc];

		if (last->seq > chan.list_seq &&
		    last->dev == ev->dev && last->ino == ev->ino &&
		    last->flags == ev->flags &&
		    last->u.range.start + last->u.range.nr ==
		    ev->u.range.start &&
		    last->u.range.frame + last->u.range.nr ==
		    ev->u.range.frame) {
			last->u.range.nr += ev->u.range.nr;
			ev->seq = last->seq;
			stored = true;
			goto out;
		}
	}
	if (chan.count >= USMFS_QUEUE_EVENTS - 1) {
		/* Full: count the loss in the OVERFLOW event at the tail. */
		ev->seq = ++chan.seq;
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
	/*
	 * An OVERFLOW no longer at the tail counts no more losses: the server
	 * resynchronises when it reaches it, before this event, so a loss
	 * after this one needs an OVERFLOW after it (the queue keeps its
	 * last slot for that).  Counted in the old one, it went unseen.
	 */
	chan.overflow = -1;
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

bool usmfs_queue(struct usmfs_event *ev)
{
	u64 gen;

	return usmfs_queue_gen(ev, &gen);
}

/* Take the oldest event into @ev; false when the queue is empty. */
bool usmfs_dequeue(struct usmfs_event *ev)
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

bool usmfs_queue_empty(void)
{
	return !READ_ONCE(chan.count);
}

/* ---------------------------------------------------------------- hooks */

bool usmfs_chan_server_attached(void)
{
	return usmfs_chan_on();
}

void usmfs_event_init(struct usmfs_event *ev, u16 type,
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

/*
 * TRUNCATED of pages [@start, +@nr).  @frees_frames: resident pages of
 * the range lose their frames (truncation, hole punch), which the same
 * indexes may get again: EVICTs of the range from before this event are
 * refused from now on, before any frame is freed (usmfs_evict_stale()).
 * Not for a swapped page written whole (its slot goes, it gets a new
 * frame: the server, which has it as swapped, evicts it only after the
 * PAGES_ALLOCATED that follows).
 */
void usmfs_chan_truncated(struct inode *inode, pgoff_t start, u64 nr,
			  bool frees_frames)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_trunc_rec *rec;
	struct usmfs_event ev;
	u64 gen;

	if (!usmfs_chan_on() || !nr)
		return;
	usmfs_event_init(&ev, USMFS_EV_TRUNCATED, inode);
	ev.u.range.start = start;
	ev.u.range.nr = nr;
	usmfs_queue_gen(&ev, &gen);
	if (!frees_frames || !ev.seq)
		return;
	xa_lock(&info->frames);
	if (info->trunc_gen != gen) {
		memset(info->trunc_ring, 0, sizeof(info->trunc_ring));
		info->trunc_floor = 0;
		info->trunc_gen = gen;
	}
	rec = &info->trunc_ring[info->trunc_next];
	info->trunc_floor = max(info->trunc_floor, rec->seq);
	rec->seq = ev.seq;
	rec->first = start;
	rec->last = nr > ULONG_MAX - start ? ULONG_MAX : start + nr - 1;
	info->trunc_next = (info->trunc_next + 1) % USMFS_TRUNC_RING;
	xa_unlock(&info->frames);
}

/*
 * EVICT of pages [@index, +@nr) by a server that has handled the events up
 * to @seen: whether a truncation after that freed frames there (or may
 * have: one that fell out of the ring).  Under frames' xa_lock.
 */
bool usmfs_evict_stale(struct usmfs_inode_info *info, unsigned long index,
		       unsigned long nr, u64 seen)
{
	unsigned long last = index + nr - 1;
	unsigned int i;

	if (!seen || info->trunc_gen != READ_ONCE(chan.generation))
		return false;
	if (info->trunc_floor > seen)
		return true;
	for (i = 0; i < USMFS_TRUNC_RING; i++) {
		const struct usmfs_trunc_rec *r = &info->trunc_ring[i];

		if (r->seq > seen && r->first <= last && index <= r->last)
			return true;
	}
	return false;
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

/* ------------------------------------------------------ mounts, replay */

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
void usmfs_replay_mount(struct usmfs_sb_info *sbi, unsigned long *files)
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
