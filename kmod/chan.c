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
#define USMFS_F_IMPLEMENTED	(USMFS_F_PATH_HINT | USMFS_F_RESERVE)
#define USMFS_GRANT_MAX		512

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

/* Queue @ev (its seq is set here); merge a run of PAGES_ALLOCATED. */
static void usmfs_queue(struct usmfs_event *ev)
{
	struct usmfs_event *slot;
	unsigned int tail;

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
wake:
	spin_unlock(&chan.qlock);
	wake_up_interruptible(&chan.wait);
	return;
out:
	spin_unlock(&chan.qlock);
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

void usmfs_chan_page_allocated(struct inode *inode, pgoff_t index,
			       unsigned long frame, bool reserved)
{
	struct usmfs_event ev;

	if (!usmfs_chan_on())
		return;
	usmfs_event_init(&ev, USMFS_EV_PAGES_ALLOCATED, inode);
	if (reserved)
		ev.flags |= USMFS_EVF_RESERVED;
	ev.u.range.start = index;
	ev.u.range.frame = frame;
	ev.u.range.nr = 1;
	usmfs_queue(&ev);
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
	/* Only a store name: a path or "none" is not one. */
	if (usmfs_name_valid(sbi->opt_swap, strlen(sbi->opt_swap)) &&
	    strlen(sbi->opt_swap) < USMFS_NAME_LEN && strcmp(sbi->opt_swap, "none"))
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
		l->buf[l->nbuf++] = (struct usmfs_page_rec){
			.dev = dev, .state = USMFS_PAGE_RESIDENT,
			.ino = inode->i_ino, .index = index,
			.frame = xa_to_value(entry), .slot = ~0ULL,
		};
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

static int usmfs_cmd_grant(struct usmfs_cmd *c)
{
	struct list_head *mounts;
	struct usmfs_sb_info *sbi;
	struct inode *inode = NULL;
	int err = -EINVAL;

	if (!usmfs_zero(c->u.grant.reserved, sizeof(c->u.grant.reserved)))
		return -EINVAL;
	if (c->op == USMFS_CMD_REVOKE && c->u.grant.first_frame)
		return -EINVAL;
	if (!c->u.grant.nr || c->u.grant.nr > USMFS_GRANT_MAX ||
	    c->u.grant.index > ULONG_MAX - USMFS_GRANT_MAX || !c->dev ||
	    !c->ino)
		return -EINVAL;
	mounts = usmfs_pool_lock_mounts();
	list_for_each_entry(sbi, mounts, pool_link) {
		if (sbi->chan_dev != c->dev)
			continue;
		inode = usmfs_find_inode(sbi->sb, c->ino, true);
		err = inode ? usmfs_grant_file(c, inode) : -ENOENT;
		break;
	}
	usmfs_pool_unlock_mounts();
	if (inode)
		iput(inode);
	return err;
}

static int usmfs_cmd_one(struct usmfs_cmd *c)
{
	u64 need;

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
	/* Not granted (this module grants neither yet): refused. */
	if (need & ~chan.features)
		return -EOPNOTSUPP;

	switch (c->op) {
	case USMFS_CMD_GRANT:
	case USMFS_CMD_REVOKE:
		return usmfs_cmd_grant(c);
	case USMFS_CMD_SET_WATERMARKS:
		return usmfs_cmd_watermarks(c);
	case USMFS_CMD_LIST_PAGES:
		return usmfs_cmd_list(c);
	case USMFS_CMD_SET_STORE:
	case USMFS_CMD_GET_STORE:
		return usmfs_cmd_store(c);
	}
	return -EOPNOTSUPP;
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

static long usmfs_ioc_hello(struct file *file, void __user *arg)
{
	struct usmfs_hello h;
	struct list_head *mounts;
	struct usmfs_sb_info *sbi;
	unsigned long files = 0;
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

	h.version_major = USMFS_VERSION_MAJOR;
	h.version_minor = USMFS_VERSION_MINOR;
	h.state = files ? USMFS_STATE_FILES : 0;
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
	h.swapped_pages = 0;
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
		usmfs_queue_reset();
		chan.features = 0;
		usmfs_resv_drop_all();
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
