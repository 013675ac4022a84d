// SPDX-License-Identifier: GPL-2.0-only
/*
 * sample.c - access sampling (USMFS_F_ACCESS), without an upcall per access.
 *
 * A delayed work marks a few resident pages of a few files per round and
 * unmaps them; the next lookup of a marked page reports it (one ACCESS
 * event per sampled page touched).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>

#include "usmfs.h"
#include "chan.h"

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
#define USMFS_SAMPLE_SCAN	4096	/* files looked at per round */

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

/*
 * One round: up to USMFS_SAMPLE_FILES files with pages, looking at no more
 * than USMFS_SAMPLE_SCAN files, from where the last round stopped (a
 * cursor of channel number and inode number).  Each mount is pinned while
 * its files are sampled: an unmount waits for the round.
 */
static void usmfs_sample_fn(struct work_struct *work)
{
	static struct inode *files[USMFS_SAMPLE_FILES];
	static unsigned long idx[USMFS_SAMPLE_MAX];
	static u32 next_dev;
	static unsigned long next_ino;
	unsigned int nr = min(READ_ONCE(access_pages), USMFS_SAMPLE_MAX);
	unsigned int ms = clamp(READ_ONCE(access_interval_ms), 10U, 10000U);
	unsigned int n = 0, scanned = 0, i;
	struct usmfs_sb_info *sbi;
	struct inode *inode;

	if (!usmfs_chan_on() || !(READ_ONCE(chan.features) & USMFS_F_ACCESS))
		return;
	while (nr && n < USMFS_SAMPLE_FILES && scanned < USMFS_SAMPLE_SCAN) {
		unsigned int first = n;
		bool done = false;

		sbi = usmfs_pool_get_mount(next_dev, false);
		if (!sbi) {
			next_dev = 0;
			next_ino = 0;
			break;
		}
		if (sbi->chan_dev != next_dev)
			next_ino = 0;
		next_dev = sbi->chan_dev;
		while (n < USMFS_SAMPLE_FILES && scanned++ < USMFS_SAMPLE_SCAN) {
			inode = usmfs_files_next(sbi, &next_ino, false);
			done = !inode || next_ino == ULONG_MAX;
			if (!inode)
				break;
			next_ino++;
			if (xa_empty(&USMFS_I(inode)->frames))
				iput(inode);
			else
				files[n++] = inode;
		}
		if (done) {
			/* this mount is done: the next one */
			next_dev++;
			next_ino = 0;
		}
		for (i = first; i < n; i++) {
			usmfs_sample_file(files[i], nr, idx);
			iput(files[i]);
			cond_resched();
		}
		usmfs_pool_put_mount(sbi);
	}
	if (usmfs_chan_on())
		schedule_delayed_work(&usmfs_sample_work, msecs_to_jiffies(ms));
}

void usmfs_sample_start(void)
{
	schedule_delayed_work(&usmfs_sample_work, 0);
}

/* The server went: no round runs after this returns. */
void usmfs_sample_stop(void)
{
	cancel_delayed_work_sync(&usmfs_sample_work);
}
