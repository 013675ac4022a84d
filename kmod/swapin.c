// SPDX-License-Identifier: GPL-2.0-only
/*
 * swapin.c - faults on evicted pages: SWAPIN_REQUEST, the wait, and the
 * server's SWAPIN_DONE.
 *
 * A request is a heap object in chan.reqs, not the faulting task's: the
 * frame it names stays its own until the server has answered for it
 * (SWAPIN_DONE with status 0, or an error such as ECANCELED), whatever
 * happens to the task, the mount or the file meanwhile (DESIGN §10).  A
 * task that stops waiting (fatal signal, swapin_timeout) leaves the request
 * in flight with its frame and its busy entry, and queues
 * SWAPIN_CANCELLED as a hint.  Only a request no server has seen (its
 * SWAPIN_REQUEST never reached the queue, or the queue was reset when the
 * server went) ends without an answer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "usmfs.h"
#include "chan.h"

/*
 * Queue the SWAPIN_REQUEST (or CANCELLED) of @si.  Under chan.req_lock.
 *
 * A request goes out only while the page's entry is still the request's
 * busy one and no truncation of the page is under way, checked and queued
 * under the xarray's lock: truncation queues TRUNCATED (the slot is the
 * server's to free) before it erases the entries, with the range marked
 * from before the event until the entries are gone, so a request for a slot
 * the page no longer owns never follows its TRUNCATED.  Nor does one go out
 * while a new server's HELLO replays the files (chan.replaying): it would
 * reach a server that never heard of its file.
 */
static void usmfs_queue_swapin(struct usmfs_swapin *si, u16 type)
{
	struct usmfs_inode_info *info;
	struct usmfs_event ev;

	if (!usmfs_chan_evicting() || !si->inode || chan.replaying)
		return;
	usmfs_event_init(&ev, type, si->inode);
	if (si->write)
		ev.flags |= USMFS_EVF_WRITE;
	if (!si->waiter)
		ev.flags |= USMFS_EVF_AHEAD;
	ev.u.swapin.index = si->index;
	ev.u.swapin.frame = si->frame;
	ev.u.swapin.slot = usmfs_e_slot(si->busy);
	ev.u.swapin.store_id = usmfs_e_store(si->busy);
	ev.u.swapin.token = si->token;
	if (type != USMFS_EV_SWAPIN_REQUEST) {
		usmfs_queue(&ev);
		return;
	}
	info = USMFS_I(si->inode);
	xa_lock(&info->frames);
	if (xa_load(&info->frames, si->index) == si->busy &&
	    !usmfs_truncating(info, si->index) && usmfs_queue(&ev))
		si->queued = true;
	xa_unlock(&info->frames);
}

/*
 * Give back what request @si holds, its page not installed: the page
 * swapped again (@state FAILED) or left as it is (GONE), the frame back to
 * the pool.  Under chan.req_lock.
 */
static void usmfs_swapin_undo(struct usmfs_swapin *si,
			      enum usmfs_si_state state, u32 status)
{
	WRITE_ONCE(si->state, state);
	si->status = status;
	if (si->inode) {
		struct usmfs_inode_info *info = USMFS_I(si->inode);

		if (state == USMFS_SI_FAILED) {
			xa_lock(&info->frames);
			__xa_cmpxchg(&info->frames, si->index, si->busy,
				     si->entry, GFP_ATOMIC);
			xa_unlock(&info->frames);
		}
		usmfs_put_frame(si->inode, si->frame);
	} else {
		/* Its mount was uncharged when the inode went. */
		usmfs_frame_release(si->frame);
		usmfs_wake_frames();
	}
}

/* End request @si: out of chan.reqs, freed unless its task still waits. */
static void usmfs_swapin_end(struct usmfs_swapin *si,
			     enum usmfs_si_state state, u32 status)
{
	xa_erase(&chan.reqs, si->token);
	if (state != USMFS_SI_DONE)
		usmfs_swapin_undo(si, state, status);
	else
		WRITE_ONCE(si->state, state);
	if (!si->waiter)
		kfree(si);
}

static bool usmfs_swapin_over(struct usmfs_swapin *si)
{
	return READ_ONCE(si->state) != USMFS_SI_WAITING ||
	       xa_load(&USMFS_I(si->inode)->frames, si->index) != si->busy;
}

/* Take a frame for a swap-in and mark the page busy; 1: it changed. */
static int usmfs_swapin_prepare(struct usmfs_swapin *si,
				unsigned long *deadline)
{
	struct usmfs_inode_info *info = USMFS_I(si->inode);
	bool reserved;
	long frame;
	void *old;

	frame = usmfs_take_frame(si->inode, si->index, &reserved, deadline);
	if (frame == -ENOSPC && si->waiter)
		pr_warn_ratelimited("swap-in of page %lu of inode %llu timed out: no free frame (the server made no room)\n",
				    si->index, (u64)si->inode->i_ino);
	if (frame < 0)
		return frame == -EINTR ? -EINTR : -EIO;
	si->frame = frame;
	clear_highpage(usmfs_frame_page(frame));

	xa_lock(&info->frames);
	old = __xa_cmpxchg(&info->frames, si->index, si->entry, si->busy,
			   GFP_ATOMIC);
	xa_unlock(&info->frames);
	if (old != si->entry) {
		usmfs_put_frame(si->inode, frame);
		return 1;
	}
	return 0;
}

#define USMFS_AHEAD_MAX	512U
static unsigned int swapin_ahead = 32;
module_param(swapin_ahead, uint, 0644);
MODULE_PARM_DESC(swapin_ahead,
		 "most swapped pages asked back ahead of a run of sequential swap-ins (0: none; at most 512)");

/*
 * Room for a frame nobody waits for: the pool and the mount's share below
 * the high watermark, so that read-ahead never makes a fault wait for the
 * server, nor starts an eviction by itself.
 */
static bool usmfs_ahead_room(struct usmfs_sb_info *sbi)
{
	unsigned long high = READ_ONCE(chan.high_pct);
	unsigned long frames = usmfs_pool_nr_frames();

	return usmfs_pool_nr_free() > frames - frames * high / 100 &&
	       atomic_long_read(&sbi->used_frames) <
	       (long)(READ_ONCE(sbi->max_frames) * high / 100);
}

/*
 * Ask for swapped page @index of @inode with nobody waiting (read-ahead):
 * the request is in flight like any other, its frame its own until the
 * server answers; a fault on the page meanwhile waits on its busy entry.
 *
 * Return: 1 asked, 0 not a swapped page that is not in flight already,
 * -ENOSPC no room (see above) or the queue is full, -ENOMEM.
 */
static int usmfs_swapin_async(struct inode *inode, pgoff_t index)
{
	struct usmfs_sb_info *sbi = USMFS_SB(inode->i_sb);
	unsigned long deadline = jiffies - 1 ?: 1;	/* passed: no wait */
	struct usmfs_swapin *si;
	bool queued = false;
	void *entry;
	int err;
	u32 id;

	entry = xa_load(&USMFS_I(inode)->frames, index);
	if (!entry || !usmfs_e_swapped(entry) || usmfs_e_busy(entry))
		return 0;
	if (!usmfs_chan_evicting() || !usmfs_ahead_room(sbi))
		return -ENOSPC;
	si = kzalloc(sizeof(*si), GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
	if (!si)
		return -ENOMEM;
	si->inode = inode;
	si->dev = sbi->chan_dev;
	si->ino = inode->i_ino;
	si->index = index;
	si->entry = entry;
	si->busy = usmfs_mk_busy(entry);
	si->state = USMFS_SI_WAITING;
	err = usmfs_swapin_prepare(si, &deadline);
	if (err) {
		kfree(si);
		return err > 0 ? 0 : -ENOSPC;
	}
	spin_lock(&chan.req_lock);
	err = xa_alloc_cyclic(&chan.reqs, &id, si, xa_limit_32b,
			      &chan.next_token, GFP_ATOMIC);
	if (err >= 0) {
		si->token = id;
		usmfs_queue_swapin(si, USMFS_EV_SWAPIN_REQUEST);
		queued = si->queued;
		/* Not sent: nobody asks again; the page stays swapped. */
		if (!queued)
			usmfs_swapin_end(si, USMFS_SI_FAILED, 0);
	} else {
		usmfs_swapin_undo(si, USMFS_SI_FAILED, ENOMEM);
		kfree(si);
	}
	spin_unlock(&chan.req_lock);	/* si may be gone now */
	if (!queued)
		return err < 0 ? -ENOMEM : -ENOSPC;
	atomic64_inc(&sbi->swapins_ahead);
	return 1;
}

/* Ask for the swapped pages of [@first, @last] while there is room. */
static void usmfs_swapin_range(struct inode *inode, unsigned long first,
			       unsigned long last)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long i = first;

	while (xa_find(&info->frames, &i, last, XA_PRESENT)) {
		if (usmfs_swapin_async(inode, i) < 0 ||
		    fatal_signal_pending(current) || i == last)
			break;
		cond_resched();
		i++;
	}
}

/*
 * Read-ahead after a swap-in fault at @index, as the kernel's read-ahead
 * grows its window: a fault where the last window ended (or right after
 * the last fault) continues a run, and the next window is twice as long
 * (4 pages first, at most swapin_ahead, itself at most 512); a fault
 * elsewhere ends the run.
 * The state is per file and racy: a hint, not a promise.
 */
static void usmfs_swapin_ahead(struct inode *inode, pgoff_t index)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned int most = min(READ_ONCE(swapin_ahead), USMFS_AHEAD_MAX);
	unsigned int win = 0;

	if (most && index == READ_ONCE(info->ra_next) &&
	    index < ULONG_MAX - most)
		win = min(max(READ_ONCE(info->ra_win) * 2, 4U), most);
	WRITE_ONCE(info->ra_win, win);
	WRITE_ONCE(info->ra_next, index + 1 + win);
	if (win)
		usmfs_swapin_range(inode, index + 1, index + win);
}

/**
 * usmfs_swapin_willneed - ask for the swapped pages of [@first, @last].
 * @inode:	a regular file
 * @first:	first page
 * @last:	last page
 *
 * POSIX_FADV_WILLNEED and MADV_WILLNEED: each swapped page of the range is
 * asked for without waiting, as far as there is room (usmfs_ahead_room).
 *
 * Return: 0, or -EINTR on a fatal signal.
 */
int usmfs_swapin_willneed(struct inode *inode, pgoff_t first, pgoff_t last)
{
	if (!atomic_long_read(&USMFS_I(inode)->nr_swapped))
		return 0;
	usmfs_swapin_range(inode, first, last);
	return fatal_signal_pending(current) ? -EINTR : 0;
}

/**
 * usmfs_chan_swapin - bring swapped page @index of @inode back.
 * @entry:	its swapped entry, as the caller found it
 * @write:	for a write (told to the server)
 * @deadline:	give up then (swapin_timeout from the first wait)
 *
 * Takes a frame (waiting, bounded by @deadline, for the server to make room
 * when there is none), marks the entry busy (other lookups wait on it),
 * asks the server (SWAPIN_REQUEST) and sleeps, killably, until SWAPIN_DONE,
 * the page changes, or @deadline.  Without an evicting server the request
 * waits for one only if the last server asked for USMFS_F_RECOVERY.
 * Leaving early does not end a request the server may hold (see above).
 *
 * Return: 0 and the page in *@pagep, with a reference, when it came back;
 * 0 and *@pagep NULL when the caller should look the page up again (it
 * changed); -EIO (not served in time, or the server failed it), -EINTR,
 * -ENOMEM.
 */
int usmfs_chan_swapin(struct inode *inode, pgoff_t index, void *entry,
		      bool write, unsigned long deadline, struct page **pagep)
{
	enum usmfs_si_state state;
	struct usmfs_swapin *si;
	bool left = false;
	long wait, r;
	int err;
	u32 id;

	*pagep = NULL;
	if (!usmfs_chan_evicting() && !READ_ONCE(chan.recovery)) {
		pr_warn_ratelimited("swap-in of page %lu of inode %llu failed: no server\n",
				    index, (u64)inode->i_ino);
		return -EIO;
	}
	si = kzalloc(sizeof(*si), GFP_KERNEL);
	if (!si)
		return -ENOMEM;
	si->inode = inode;
	si->dev = USMFS_SB(inode->i_sb)->chan_dev;
	si->ino = inode->i_ino;
	si->index = index;
	si->write = write;
	si->entry = entry;
	si->busy = usmfs_mk_busy(entry);
	si->state = USMFS_SI_WAITING;
	si->waiter = true;
	err = usmfs_swapin_prepare(si, &deadline);
	if (err) {
		kfree(si);
		return err > 0 ? 0 : err;	/* changed: look again */
	}

	spin_lock(&chan.req_lock);
	err = xa_alloc_cyclic(&chan.reqs, &id, si, xa_limit_32b,
			      &chan.next_token, GFP_ATOMIC);
	if (err >= 0) {
		err = 0;
		si->token = id;
		usmfs_queue_swapin(si, USMFS_EV_SWAPIN_REQUEST);
	} else {
		usmfs_swapin_undo(si, USMFS_SI_FAILED, ENOMEM);
	}
	spin_unlock(&chan.req_lock);
	if (err) {
		kfree(si);
		return -ENOMEM;
	}
	usmfs_swapin_ahead(inode, index);

	for (;;) {
		wait = (long)(deadline - jiffies);
		if (wait <= 0) {
			err = -EIO;
			break;
		}
		r = wait_event_killable_timeout(usmfs_page_wq,
						usmfs_swapin_over(si),
						min_t(long, wait, HZ));
		if (r < 0) {
			err = -EINTR;
			break;
		}
		if (usmfs_swapin_over(si))
			break;
		/* Lost to a full queue, or the server went: say it again. */
		spin_lock(&chan.req_lock);
		if (!si->queued && si->state == USMFS_SI_WAITING)
			usmfs_queue_swapin(si, USMFS_EV_SWAPIN_REQUEST);
		spin_unlock(&chan.req_lock);
	}

	spin_lock(&chan.req_lock);
	state = si->state;
	if (state == USMFS_SI_DONE && si->held)
		*pagep = usmfs_frame_page(si->frame);
	if (state == USMFS_SI_WAITING) {
		left = true;
		if (!si->queued) {
			/* No server has it: nobody writes to the frame. */
			usmfs_swapin_end(si, USMFS_SI_FAILED, 0);
		} else {
			/* The server may be filling the frame: the request
			 * stays until it answers; tell it we left.
			 */
			si->waiter = false;
			usmfs_queue_swapin(si, USMFS_EV_SWAPIN_CANCELLED);
			si = NULL;
		}
	}
	spin_unlock(&chan.req_lock);
	if (state == USMFS_SI_FAILED && !left) {
		err = -EIO;
		if (si->status)
			pr_warn_ratelimited("swap-in of page %lu of inode %llu failed: the server answered %u\n",
					    index, (u64)inode->i_ino, si->status);
		else
			pr_warn_ratelimited("swap-in of page %lu of inode %llu failed: the server went\n",
					    index, (u64)inode->i_ino);
	} else if (left && err == -EIO) {
		pr_warn_ratelimited("swap-in of page %lu of inode %llu timed out (swapin_timeout)\n",
				    index, (u64)inode->i_ino);
	}
	kfree(si);
	return state == USMFS_SI_FAILED || left ? err : 0;
}

/* SWAPIN_DONE: the answer to the SWAPIN_REQUEST with @token. */
int usmfs_cmd_swapin_done(struct usmfs_cmd *c)
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
	if (!si) {
		err = -ENOENT;
		goto out;
	}
	if (si->dev != c->dev || si->ino != c->ino ||
	    si->index != c->u.swapin.index || si->frame != c->u.swapin.frame) {
		err = -ESTALE;
		goto out;
	}
	if (status && (!si->inode ||
		       xa_load(&USMFS_I(si->inode)->frames,
			       si->index) != si->busy)) {
		/*
		 * The page changed meanwhile (truncated, maybe written again):
		 * whatever the server says of the old slot (ESTALE, or EIO when
		 * it already knows the new page), the fault looks again.
		 */
		usmfs_swapin_end(si, USMFS_SI_GONE, 0);
		goto out;
	}
	if (status) {
		usmfs_swapin_end(si, USMFS_SI_FAILED, status);
		goto out;
	}
	if (!si->inode) {		/* the file went meanwhile */
		usmfs_swapin_end(si, USMFS_SI_GONE, 0);
		goto out;
	}
	info = USMFS_I(si->inode);
	sbi = USMFS_SB(si->inode->i_sb);
	xa_lock(&info->frames);
	/* What truncation zeroed while the page was out, before it shows. */
	if (xa_load(&info->frames, si->index) == si->busy)
		usmfs_tailzero_apply(info, si->index,
				     usmfs_frame_page(si->frame));
	old = __xa_cmpxchg(&info->frames, si->index, si->busy,
			   xa_mk_value(si->frame), GFP_ATOMIC);
	/* The waiting task gets the page itself: EVICT cannot take it back
	 * before the task used it (a slow machine thrashing otherwise never
	 * gets there before swapin_timeout).
	 */
	if (old == si->busy && si->waiter) {
		get_page(usmfs_frame_page(si->frame));
		si->held = true;
	}
	xa_unlock(&info->frames);
	if (old != si->busy) {		/* truncated meanwhile */
		usmfs_swapin_end(si, USMFS_SI_GONE, 0);
		goto out;
	}
	atomic_long_dec(&info->nr_swapped);
	atomic64_inc(&info->swapins);
	atomic_long_dec(&sbi->swapped);
	atomic64_inc(&sbi->swapins);
	usmfs_swapin_end(si, USMFS_SI_DONE, 0);
out:
	spin_unlock(&chan.req_lock);
	if (!err)
		wake_up_all(&usmfs_page_wq);
	return err;
}

/*
 * After a HELLO's replay: queue again the request of every swap-in still
 * waiting; how many.
 */
unsigned long usmfs_requeue_swapins(void)
{
	struct usmfs_swapin *si;
	unsigned long id, n = 0;

	spin_lock(&chan.req_lock);
	chan.replaying = false;
	xa_for_each(&chan.reqs, id, si) {
		si->queued = false;
		usmfs_queue_swapin(si, USMFS_EV_SWAPIN_REQUEST);
		n++;
	}
	spin_unlock(&chan.req_lock);
	return n;
}

/*
 * The server went (its queue is reset, its mapping of the pool gone): no
 * server holds a request now.  Without USMFS_F_RECOVERY every request fails
 * (the pages stay swapped); with it, those whose task still waits stay for
 * the next server, the others end.
 */
void usmfs_swapins_server_gone(bool recovery)
{
	struct usmfs_swapin *si;
	unsigned long id;

	spin_lock(&chan.req_lock);
	xa_for_each(&chan.reqs, id, si) {
		si->queued = false;
		if (!recovery || !si->waiter)
			usmfs_swapin_end(si, USMFS_SI_FAILED, 0);
	}
	spin_unlock(&chan.req_lock);
}

/*
 * @inode is being evicted (last unlink, or unmount): its requests no longer
 * name it.  Their frames stay theirs, uncharged from the mount, until the
 * server answers (the answer then frees them) or goes.
 */
void usmfs_chan_swapin_forget(struct inode *inode)
{
	struct usmfs_swapin *si;
	unsigned long id;

	if (xa_empty(&chan.reqs))
		return;
	spin_lock(&chan.req_lock);
	xa_for_each(&chan.reqs, id, si) {
		if (si->inode != inode)
			continue;
		si->inode = NULL;
		usmfs_uncharge_frames(USMFS_SB(inode->i_sb), 1);
	}
	spin_unlock(&chan.req_lock);
}

/**
 * usmfs_overwrite_swapped - write a whole page over a swapped page.
 * @inode:	the file (i_rwsem held)
 * @index:	the page
 * @from:	the data, at least PAGE_SIZE bytes left
 *
 * A write that covers the whole page needs nothing of what the server
 * holds: the data is copied into a new frame, which then takes the
 * swapped entry's place in one step (no reader sees anything but the old
 * page, through a swap-in, or the new one).  The server is told the slot
 * is free (TRUNCATED of that page) and the page is resident (its
 * allocation).
 *
 * Return: 1 when the page was written, 0 when the caller should write it
 * the usual way (not swapped, a swap-in or eviction under way, a short
 * copy: @from is as it was), -ENOSPC, -EINTR as usmfs_take_frame.
 */
int usmfs_overwrite_swapped(struct inode *inode, pgoff_t index,
			    struct iov_iter *from)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_sb_info *sbi = USMFS_SB(inode->i_sb);
	struct usmfs_tailzero *tz = NULL;
	unsigned long deadline = 0;
	void *entry, *old;
	bool reserved;
	size_t copied;
	long frame;

	entry = xa_load(&info->frames, index);
	if (!entry || !usmfs_e_swapped(entry) || usmfs_e_busy(entry))
		return 0;
	frame = usmfs_take_frame(inode, index, &reserved, &deadline);
	if (frame < 0)
		return frame;
	copied = copy_page_from_iter(usmfs_frame_page(frame), 0, PAGE_SIZE,
				     from);
	if (copied < PAGE_SIZE) {
		iov_iter_revert(from, copied);
		usmfs_put_frame(inode, frame);
		return 0;
	}
	xa_lock(&info->frames);
	old = __xa_cmpxchg(&info->frames, index, entry, xa_mk_value(frame),
			   GFP_ATOMIC);
	if (old == entry && !list_empty_careful(&info->tailzero))
		tz = usmfs_tailzero_take(info, index);
	xa_unlock(&info->frames);
	kfree(tz);
	if (old != entry) {
		iov_iter_revert(from, PAGE_SIZE);
		usmfs_put_frame(inode, frame);
		return 0;
	}
	atomic_long_dec(&info->nr_swapped);
	atomic_long_dec(&sbi->swapped);
	atomic64_inc(&sbi->overwrites);
	/* In this order: the server frees the slot, then knows the frame. */
	usmfs_chan_truncated(inode, index, 1, false);
	usmfs_chan_pages_allocated(inode, index, frame, 1, reserved);
	usmfs_wake_frames();
	return 1;
}
