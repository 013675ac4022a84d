// SPDX-License-Identifier: GPL-2.0-only
/*
 * chan.c - /dev/usmfs, the channel to the policy server (usm-policyd): the
 * device (open, HELLO, read, poll, mmap of the pool, release).
 *
 * The protocol is include/uapi/linux/usmfs.h; docs/kmod.md says which part
 * of it this module implements.  One server at a time: open needs
 * CAP_SYS_ADMIN, a second open gets EBUSY.  After HELLO the server reads
 * events from a bounded queue (events.c), maps the pool and sends command
 * batches (cmd.c, resv.c, swapin.c, list.c).  Access sampling is sample.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "usmfs.h"
#include "chan.h"

struct usmfs_chan chan;

static atomic_t usmfs_next_dev = ATOMIC_INIT(0);

u32 usmfs_chan_new_dev(void)
{
	return (u32)atomic_inc_return(&usmfs_next_dev);
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
 * resident; its swap-in requests end (usmfs_swapins_server_gone).
 */
static void usmfs_server_gone(void)
{
	struct list_head *mounts = usmfs_pool_lock_mounts();
	struct usmfs_sb_info *sbi;
	struct inode *inode;
	unsigned long unlocked = 0;

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
					usmfs_tailzero_apply(info, xas.xa_index,
						usmfs_frame_page(usmfs_e_frame(e)));
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

	usmfs_swapins_server_gone(chan.recovery);
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
	spin_lock(&chan.req_lock);
	chan.replaying = true;
	spin_unlock(&chan.req_lock);
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
		usmfs_sample_start();
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
		usmfs_sample_stop();
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
