// SPDX-License-Identifier: GPL-2.0-only
/*
 * swapin.c - faults on evicted pages: SWAPIN_REQUEST, the wait, and the
 * server's SWAPIN_DONE.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/sched.h>

#include "usmfs.h"
#include "chan.h"

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

/* Queue again the request of every swap-in still waiting; how many. */
unsigned long usmfs_requeue_swapins(void)
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
