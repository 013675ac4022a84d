// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pressure.c - making room: a mount above its share (PRESSURE with a dev)
 * and the pool between its watermarks (usm_balance).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd.h"

/* ---------------------------------------------------- mount shares */

/* Pages an urgent PRESSURE frees at least, when already under low. */
#define PD_URGENT_MIN	32
/* The highest user.usm.prio class. */
#define PD_PRIO_MAX	7

/* Resident pages of @pf if it is a file of mount @dev in class @prio. */
static uint64_t pd_mount_file_resident(struct policyd *pd, struct pd_file *pf,
				       uint32_t dev, uint32_t prio)
{
	struct usm_file_policy pol;
	struct usm_file_stats st;

	if (pf->dev != dev)
		return 0;
	usm_file_get_policy(pd->ctx, pf->f, &pol);
	if (pol.prio != prio)
		return 0;
	usm_file_stats(pd->ctx, pf->f, &st);
	return st.resident;
}

/*
 * PRESSURE for one mount's share (size=) rather than the pool: the library
 * sees one pool, so the files of that mount give back pages themselves, as
 * the arbiter would: lower user.usm.prio classes first, and in a class each
 * file in proportion to what it holds, down to the share's low watermark
 * (at least PD_URGENT_MIN pages when an allocation is waiting).
 */
/* Another PRESSURE for the mount of @ev follows in the batch being handled. */
static bool pressure_later(const struct policyd *pd,
			   const struct usmfs_event *ev)
{
	if (!pd->batch || &pd->batch[pd->batch_i] != ev)
		return false;
	for (size_t i = pd->batch_i + 1; i < pd->batch_n; i++)
		if (pd->batch[i].type == USMFS_EV_PRESSURE &&
		    pd->batch[i].dev == ev->dev)
			return true;
	return false;
}

/* Pages of mount @dev resident as the library sees them now. */
static uint64_t pd_mount_resident(struct policyd *pd, uint32_t dev)
{
	struct usm_file_stats st;
	uint64_t sum = 0;

	for (size_t i = 0; i < pd->nbuckets; i++)
		for (struct pd_file *pf = pd->buckets[i]; pf; pf = pf->next) {
			if (pf->dev != dev)
				continue;
			usm_file_stats(pd->ctx, pf->f, &st);
			sum += st.resident;
		}
	return sum;
}

void pd_pressure_mount(struct policyd *pd, const struct usmfs_event *ev)
{
	uint64_t total = ev->u.pressure.total, free = ev->u.pressure.free;
	uint64_t used = total > free ? total - free : 0;
	uint64_t low = total * ev->u.pressure.low_pct / 100, want, now;
	uint64_t done = 0;

	if (!(pd->features & USMFS_F_EVICT) || ev->dev > PD_DEV_MAX ||
	    ev->u.pressure.low_pct == 0 || ev->u.pressure.low_pct >= 100)
		return;
	/*
	 * The event's figures are from when it was queued: while one batch
	 * is handled, more of them wait, each with the figure of its time.
	 * Evicting down to the low watermark for each went far below it
	 * (issue 16: a 32M share down to 3 MiB, the pages thrown out read
	 * back at once).  The last of a batch counts, with what the mount
	 * holds now as far as this server knows (never more than the event
	 * said: pages it has not heard of yet are the module's to count).
	 */
	if (pressure_later(pd, ev))
		return;
	now = pd_mount_resident(pd, ev->dev);
	if (now < used)
		used = now;
	want = used > low ? used - low : 0;
	if ((ev->flags & USMFS_EVF_URGENT) && want < PD_URGENT_MIN)
		want = PD_URGENT_MIN;
	if (!want)
		return;
	pd_chan_flush(pd->ch);
	/*
	 * A class is asked again while it gives something: its files may give
	 * less than their share in one pass (pages in flight, a policy that
	 * passes some over), and the next class up (a prio 7 hot file) must
	 * only pay for what the lower ones cannot give at all.
	 */
	for (uint32_t prio = 0; prio <= PD_PRIO_MAX && done < want; prio++) {
		uint64_t sum = 0, left = want - done, before = done;

		for (size_t i = 0; i < pd->nbuckets; i++)
			for (struct pd_file *pf = pd->buckets[i]; pf; pf = pf->next)
				sum += pd_mount_file_resident(pd, pf, ev->dev, prio);
		if (!sum)
			continue;
		for (size_t i = 0; i < pd->nbuckets; i++)
			for (struct pd_file *pf = pd->buckets[i]; pf; pf = pf->next) {
				uint64_t r = pd_mount_file_resident(pd, pf, ev->dev,
								    prio);
				long n;

				if (!r)
					continue;
				/* Rounded up: the shares add up to at least left. */
				n = usm_evict_file(pd->ctx, pf->f,
						   (left * r + sum - 1) / sum);
				if (n > 0)
					done += (uint64_t)n;
			}
		if (done > before && done < want)
			prio--;		/* this class again */
	}
	pd_log(done ? PD_DEBUG : PD_WARN,
	       "mount %u over its share: %llu of %llu pages evicted", ev->dev,
	       (unsigned long long)done, (unsigned long long)want);
}

/* ------------------------------------------------------------ pool */

long pd_balance(struct policyd *pd, bool force)
{
	long n;

	if (!(pd->features & USMFS_F_EVICT))
		return 0;
	if (!force && !usm_need_balance(pd->ctx))
		return 0;
	/* Answers to waiting faults go out before a long eviction. */
	pd_chan_flush(pd->ch);
	n = usm_balance(pd->ctx, force ? USM_BALANCE_FORCE : 0);
	if (n < 0)
		pd_log(PD_WARN, "balance: %s", strerror((int)-n));
	else if (n > 0)
		pd_log(PD_DEBUG, "balance: %ld pages evicted", n);
	return n;
}
