/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * chan.h - what the channel's files (chan.c, events.c, cmd.c, resv.c,
 * swapin.c, list.c, sample.c) share; the rest of the module sees usmfs.h.
 */
#ifndef USMFS_CHAN_H
#define USMFS_CHAN_H

#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/xarray.h>

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


/* A swap-in in flight: in chan.reqs until the server answers (swapin.c). */
enum usmfs_si_state {
	USMFS_SI_WAITING,	/* asked; the server has not answered */
	USMFS_SI_DONE,		/* the page is resident in @frame */
	USMFS_SI_FAILED,	/* the server failed it, or went away */
	USMFS_SI_GONE,		/* the page changed (truncated) meanwhile */
};

/**
 * struct usmfs_swapin - one swap-in request (all fields under chan.req_lock)
 * @inode:	the file; NULL once it was evicted (unlinked, unmounted)
 * @dev, @ino:	the file as the server knows it (to check SWAPIN_DONE)
 * @entry:	the page's swapped entry; @busy while the request is out
 * @frame:	the frame named in the request: the request's own until the
 *		server answered for it or went
 * @status:	the server's errno when it failed the request (0: it went)
 * @waiter:	the faulting task still waits (and frees the request)
 * @held:	SWAPIN_DONE took a reference to the page for that task
 * @queued:	its SWAPIN_REQUEST reached the queue of the current server
 */
struct usmfs_swapin {
	struct inode *inode;
	u32 dev;
	u64 ino;
	pgoff_t index;
	void *entry;
	void *busy;
	unsigned long frame;
	u32 token;
	u32 status;
	bool write;
	bool waiter;
	bool held;
	bool queued;
	enum usmfs_si_state state;
};

/**
 * struct usmfs_chan - the one channel of the module.
 * @lock:	protects @server, @hello_done and the attach/detach sequence
 * @server:	the open file of the server, or NULL
 * @attached:	a server said HELLO: hooks queue events
 * @qlock:	protects the queue, @seq, @last_alloc, @list_seq
 * @ring:	USMFS_QUEUE_EVENTS events; the last free slot is kept for an
 *		OVERFLOW event
 * @last_alloc:	the slot of the newest PAGES_ALLOCATED event, while it is
 *		the newest event (runs are merged into it), else -1
 * @overflow:	the slot of the OVERFLOW event at the tail, else -1
 * @qgen:	@generation when @seq was last reset (the attach that numbers
 *		the events now queued)
 * @list_seq:	@seq when the last LIST_PAGES began: no allocation is
 *		merged into an event at or before it (LIST_PAGES told the
 *		server that such events are reflected in its records)
 * @stores:	names given with SET_STORE, kept across servers
 * @recovery:	the last server asked for USMFS_F_RECOVERY: while none is
 *		attached, swap-ins wait for the next one (bounded)
 * @req_lock:	protects @reqs, @replaying and the state of each swap-in
 *		there
 * @replaying:	a new server's HELLO is replaying what exists: no request
 *		goes out before the files it names (usmfs_requeue_swapins()
 *		sends them all after the replay)
 * @reqs:	token -> struct usmfs_swapin, the swap-ins in flight
 */
struct usmfs_chan {
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
	u64 list_seq;
	u64 qgen;
	wait_queue_head_t wait;

	struct mutex stores_lock;
	char *stores[USMFS_MAX_STORES];

	bool recovery;
	unsigned long pressure_at;
	spinlock_t req_lock;
	bool replaying;
	struct xarray reqs;
	u32 next_token;
};

extern struct usmfs_chan chan;

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

static inline bool usmfs_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/* events.c */
void usmfs_queue_reset(void);
bool usmfs_queue(struct usmfs_event *ev);
bool usmfs_queue_gen(struct usmfs_event *ev, u64 *gen);
u64 usmfs_queue_stamp(void);
bool usmfs_dequeue(struct usmfs_event *ev);
bool usmfs_queue_empty(void);
void usmfs_event_init(struct usmfs_event *ev, u16 type, struct inode *inode);
void usmfs_replay_mount(struct usmfs_sb_info *sbi, unsigned long *files);

/* sample.c */
void usmfs_sample_start(void);
void usmfs_sample_stop(void);

/* swapin.c */
int usmfs_cmd_swapin_done(struct usmfs_cmd *c);
unsigned long usmfs_requeue_swapins(void);
void usmfs_swapins_server_gone(bool recovery);

/* resv.c */
void usmfs_resv_drop_all(void);
int usmfs_cmd_grant(struct usmfs_cmd *c, struct inode *inode);

/* list.c */
int usmfs_cmd_list(struct usmfs_cmd *c);

/* cmd.c */
long usmfs_ioc_cmd(void __user *arg);

#endif /* USMFS_CHAN_H */
