/* SPDX-License-Identifier: ((GPL-2.0-only WITH Linux-syscall-note) OR LGPL-2.1-or-later) */
/*
 * usmfs.h - the channel between usmfs.ko and its policy server
 * (usm-policyd): the ONE copy of the protocol.
 *
 * The module owns this ABI.  Everything here is fixed-size, made of
 * __u8/__u16/__u32/__u64 with explicit padding; every structure's size is
 * a multiple of 8 and pinned by tests/unit/test_uapi.c.  Fields named
 * "reserved" must be zero when given to the module (else EINVAL) and are
 * zero when the module writes them.
 *
 * Overview (docs/protocol.md has the sequences):
 *
 *   open("/dev/usmfs", O_RDWR)        misc device, 0600, CAP_SYS_ADMIN; one
 *                                     opener at a time (a second: EBUSY)
 *   ioctl(USMFS_IOC_HELLO)            attach: version, features, pool size
 *   ioctl(USMFS_IOC_GET_CHUNKS)       the pool's chunk layout
 *   mmap(0, pool_frames << 12)        the pool, frame f at offset f << 12;
 *                                     only the attached server may map it
 *   read()/poll()                     events, whole struct usmfs_event records
 *   ioctl(USMFS_IOC_CMD)              a batch of struct usmfs_cmd, each with
 *                                     its own result written back
 *   close()                           detach (the module keeps serving)
 *
 * Frames, pages, slots.  The pool is made of 4 KiB frames numbered
 * 0..pool_frames-1 in chunk order (USMFS_IOC_GET_CHUNKS): a run of frames is
 * physically contiguous only inside one chunk.  A file is identified by
 * (dev, ino): @dev is the module's number for a mount (USMFS_EV_MOUNT),
 * @ino its inode number.  A page is (dev, ino, index).  A swapped page is
 * (store_id, slot): both are the server's, opaque to the module, which
 * only keeps them.
 *
 * Who decides what.  The module places a page on a hole fault itself (in a
 * frame the server granted to the file, else the lowest free frame) and
 * tells the server afterwards (USMFS_EV_PAGES_ALLOCATED).  The server
 * decides what leaves the pool (EVICT, COMMIT) and brings swapped pages
 * back (SWAPIN_REQUEST -> SWAPIN_DONE).  The module is authoritative about
 * frames: the server's view lags behind the event queue, so every command
 * naming a frame or a page is checked and answered EBUSY/ESTALE/ENOENT when
 * it no longer matches.
 *
 * Ordering.  Events are queued in the order the state they describe
 * changed: a frame is reported freed (TRUNCATED, FILE_REMOVED) before an
 * event reports it allocated again.  A server that applies events in order
 * therefore knows, when it handles an event, every frame change before it.
 *
 * Server absent or dead (the module's behaviour, whatever the features):
 *   - resident pages keep working: faults on them never need the server;
 *   - hole faults keep allocating (firstfit), up to each mount's size=;
 *     a full pool gives ENOSPC/SIGBUS as tmpfs does when full;
 *   - nothing is evicted; pages locked by EVICT and not yet committed
 *     are cancelled (resident and mapped again) when the server detaches;
 *   - reservations granted by the dead server are dropped (frames free);
 *   - every swapped page keeps its (store_id, slot), and the store names
 *     registered with USMFS_CMD_SET_STORE are kept, until the module is
 *     unloaded or the page is truncated;
 *   - a fault on a swapped page: with USMFS_F_RECOVERY granted to the last
 *     server, waits (killably) up to the mount's swapin_timeout for a
 *     server to attach and serve it; without it, fails at once.  Either
 *     way a fault that is not served in time fails: SIGBUS for a mapping,
 *     EIO for read(2)/write(2).  The page stays swapped (no data lost);
 *   - a new server attaches (HELLO reports what is waiting), receives a
 *     MOUNT and a FILE_CREATED (both with USMFS_EVF_REPLAY) for every
 *     existing mount and regular file, then USMFS_EV_REPLAY_DONE (which
 *     follows every HELLO, also when there was nothing to replay), lists
 *     pages with USMFS_CMD_LIST_PAGES, reopens its stores keeping their
 *     contents, and serves the waiting faults (their SWAPIN_REQUESTs are
 *     queued again after REPLAY_DONE).
 *
 * Version changelog (USMFS_VERSION_MAJOR.MINOR):
 *   1.0  first version: HELLO, GET_FEATURES, GET_CHUNKS, CMD (GRANT, REVOKE,
 *        EVICT, COMMIT, CANCEL, SWAPIN_DONE, SET_WATERMARKS, LIST_PAGES,
 *        SET_STORE, GET_STORE), events 1..13.
 *   1.1  event USMFS_EV_RECLAIM (14, payload @reclaim): a user asked, with
 *        user.usm.reclaim, to push a file's pages out now; sent only to a
 *        server granted USMFS_F_EVICT.
 *   1.2  a swap-in request keeps its frame until SWAPIN_DONE answers it:
 *        a fault that stops waiting only queues SWAPIN_CANCELLED (the
 *        server answers ECANCELED if it has not started), a late
 *        SWAPIN_DONE 0 installs the page (or frees the frame when the page
 *        went) and gets 0 instead of ENOENT.
 *   1.3  LIST_PAGES returns @list.seq, the seq of the newest event queued
 *        when the call began: events up to it are reflected in the records
 *        of that call (a server skips them for the pages the call covers);
 *        pages a truncation is freeing are not listed (its TRUNCATED is
 *        queued already).  Older modules leave @list.seq 0.  EVICT takes
 *        @range.seq, the newest event the server has handled, and fails
 *        with ESTALE on a file truncated after it.
 * A server must use the same major; a module accepts any minor (a newer
 * minor only adds features, commands and event types, announced by
 * feature bits; a server ignores event types it does not know).
 */
#ifndef _UAPI_LINUX_USMFS_H
#define _UAPI_LINUX_USMFS_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define USMFS_VERSION_MAJOR	1
#define USMFS_VERSION_MINOR	3

#define USMFS_DEVICE_NAME	"usmfs"		/* /dev/usmfs */
#define USMFS_PAGE_SHIFT	12		/* frames, pages, slots: 4 KiB */

#define USMFS_NAME_LEN		32	/* policy/store name, NUL-padded */
#define USMFS_COMM_LEN		16	/* TASK_COMM_LEN */
#define USMFS_XATTR_LEN		64	/* longest user.usm.* value */
#define USMFS_PATH_HINT_LEN	72	/* FILE_CREATED path hint, NUL-padded */
#define USMFS_MAX_BATCH		1024	/* most commands in one USMFS_IOC_CMD */
#define USMFS_MAX_STORES	256	/* store_id < USMFS_MAX_STORES */

/*
 * Features, negotiated at attach: the server asks in hello.features, the
 * module grants requested & USMFS_F_ALL (& what it implements) and writes
 * the result back.  A command or event that needs a feature that was not
 * granted is refused with EOPNOTSUPP (commands) or never sent (events).
 */
/* GRANT/REVOKE: the module places hole faults in frames the server
 * reserved for the file (the placement policy).  Without it the module
 * places with firstfit only.
 */
#define USMFS_F_RESERVE		(1ULL << 0)
/* EVICT/COMMIT/CANCEL, SWAPIN_REQUEST/SWAPIN_DONE and PRESSURE: the server
 * evicts pages to its stores.  Without it the server only observes.
 */
#define USMFS_F_EVICT		(1ULL << 1)
/* ACCESS events: the module samples accesses (by unmapping a sampled page
 * so that its next access takes a minor fault) and reports counts.
 */
#define USMFS_F_ACCESS		(1ULL << 2)
/* FILE_CREATED carries the path of the new file relative to its mount's
 * root, starting with '/' (cut to USMFS_PATH_HINT_LEN - 1 bytes, then
 * USMFS_EVF_TRUNCATED).
 */
#define USMFS_F_PATH_HINT	(1ULL << 3)
/* When this server is gone, faults on swapped pages wait up to
 * swapin_timeout for the next server instead of failing at once (the
 * counterpart of ublk's UBLK_F_USER_RECOVERY).
 */
#define USMFS_F_RECOVERY	(1ULL << 4)
#define USMFS_F_ALL		(USMFS_F_RESERVE | USMFS_F_EVICT | \
				 USMFS_F_ACCESS | USMFS_F_PATH_HINT | \
				 USMFS_F_RECOVERY)

/* ------------------------------------------------------------- ioctls */

/**
 * struct usmfs_features - USMFS_IOC_GET_FEATURES (any time after open).
 * @features:	out: USMFS_F_ALL of this module
 * @version_major, @version_minor: out: the module's protocol version
 */
struct usmfs_features {
	__u64 features;
	__u16 version_major;
	__u16 version_minor;
	__u32 reserved0;
	__u64 reserved[2];
};

/* hello.state (out): what the module holds from earlier servers. */
#define USMFS_STATE_SWAPPED	(1U << 0)	/* swapped pages exist */
#define USMFS_STATE_WAITERS	(1U << 1)	/* faults wait for swap-ins */
#define USMFS_STATE_FILES	(1U << 2)	/* files exist: replay follows */

/**
 * struct usmfs_hello - USMFS_IOC_HELLO: attach and negotiate.
 * @version_major: in: USMFS_VERSION_MAJOR of the server (must equal the
 *		module's, else EPROTO); out: the module's
 * @version_minor: in: the server's; out: the module's
 * @state:	out: USMFS_STATE_*
 * @features:	in: requested USMFS_F_*; out: granted
 * @pool_frames: out: frames in the pool (mmap length >> USMFS_PAGE_SHIFT)
 * @nr_chunks:	out: chunks (USMFS_IOC_GET_CHUNKS)
 * @page_shift:	out: USMFS_PAGE_SHIFT
 * @event_size:	out: sizeof(struct usmfs_event) of the module
 * @cmd_size:	out: sizeof(struct usmfs_cmd) of the module
 * @max_batch:	out: most commands in one USMFS_IOC_CMD
 * @queue_events: out: capacity of the event queue, in events
 * @low_pct, @high_pct: out: current watermarks (percent of the pool used)
 * @generation:	out: attaches since the module was loaded (1 = first)
 * @swapped_pages: out: pages held as (store_id, slot) right now
 *
 * A second HELLO on the same open file: EALREADY.  Every other ioctl, read
 * and mmap before HELLO: EPERM (except GET_FEATURES).
 */
struct usmfs_hello {
	__u16 version_major;
	__u16 version_minor;
	__u32 state;
	__u64 features;
	__u64 pool_frames;
	__u32 nr_chunks;
	__u32 page_shift;
	__u32 event_size;
	__u32 cmd_size;
	__u32 max_batch;
	__u32 queue_events;
	__u32 low_pct;
	__u32 high_pct;
	__u64 generation;
	__u64 swapped_pages;
	__u64 reserved[4];
};

/* Where a chunk's memory came from (informative). */
#define USMFS_SRC_CMA		0
#define USMFS_SRC_CONTIG	1	/* alloc_contig_range */
#define USMFS_SRC_PAGES		2	/* high-order page allocations */

/**
 * struct usmfs_chunk - one physically contiguous piece of the pool.
 * @first_frame: its first frame number
 * @nr_frames:	its length in frames
 * @source:	USMFS_SRC_*
 */
struct usmfs_chunk {
	__u64 first_frame;
	__u64 nr_frames;
	__u32 source;
	__u32 reserved0;
};

/**
 * struct usmfs_chunks - USMFS_IOC_GET_CHUNKS.
 * @chunks_ptr:	in: user address of an array of struct usmfs_chunk
 * @nr:		in: its capacity; out: the number of chunks (the first
 *		min(in, out) are written)
 */
struct usmfs_chunks {
	__u64 chunks_ptr;
	__u32 nr;
	__u32 reserved0;
};

/**
 * struct usmfs_cmd_batch - USMFS_IOC_CMD.
 * @cmds_ptr:	in: user address of @nr struct usmfs_cmd (cmd_size each)
 * @nr:		in: 1..max_batch (else EINVAL, nothing done)
 * @done:	out: commands executed, in order; each has its own
 *		usmfs_cmd.error.  Less than @nr only when the ioctl fails
 *		(EFAULT, EINTR); then the rest were not looked at.
 *
 * The ioctl returns 0 when every command was looked at, even if some
 * failed: their error says why.
 */
struct usmfs_cmd_batch {
	__u64 cmds_ptr;
	__u32 nr;
	__u32 done;
	__u64 reserved0;
};

#define USMFS_IOC_MAGIC		'U'
#define USMFS_IOC_GET_FEATURES	_IOWR(USMFS_IOC_MAGIC, 0x00, struct usmfs_features)
#define USMFS_IOC_HELLO		_IOWR(USMFS_IOC_MAGIC, 0x01, struct usmfs_hello)
#define USMFS_IOC_GET_CHUNKS	_IOWR(USMFS_IOC_MAGIC, 0x02, struct usmfs_chunks)
#define USMFS_IOC_CMD		_IOWR(USMFS_IOC_MAGIC, 0x03, struct usmfs_cmd_batch)

/* ----------------------------------------------------------- commands */

enum {
	/* Reserve frames [first_frame, +nr) (free in the pool, one chunk) for
	 * pages [index, +nr) of the file.  EBUSY: a frame is not free (the
	 * server's view lagged: take it back and retry after reading events);
	 * EINVAL: not in one chunk, nr 0 or > 512.  Needs USMFS_F_RESERVE.
	 */
	USMFS_CMD_GRANT = 1,
	/* Give back the unused part of reservations covering [index, +nr). */
	USMFS_CMD_REVOKE = 2,
	/* Unmap pages [index, +nr), resident in frames [frame, +nr), from
	 * every mapping and hold them locked (faults on them wait) until
	 * COMMIT or CANCEL: their contents are final.  All or nothing.
	 * ENOENT: a page is not resident; ESTALE: a page is in another frame;
	 * EBUSY: a page is pinned (get_user_pages) or already locked.
	 */
	USMFS_CMD_EVICT = 3,
	/* Page index (locked by EVICT, in @frame) is now (store_id, slot):
	 * the module frees the frame.  A fault on the page from now on is a
	 * SWAPIN_REQUEST.  ENOENT: the page was not locked by EVICT (it was
	 * truncated meanwhile: the server frees the slot).  On any error the
	 * page is unlocked and stays resident.
	 */
	USMFS_CMD_COMMIT = 4,
	/* Unlock pages [index, +nr) locked by EVICT: they stay resident. */
	USMFS_CMD_CANCEL = 5,
	/* The answer to SWAPIN_REQUEST @token for page index: @status 0 =
	 * the data is in @frame (the frame the request named), else a
	 * positive errno: the page stays swapped (the slot is still the
	 * server's) and a fault still waiting fails (SIGBUS / EIO).  The
	 * frame named in a request belongs to the request until this answer,
	 * whatever happens to the fault, the file or the mount meanwhile
	 * (since 1.2): with status 0 the module installs the page even when
	 * the fault has gone (the server freed the slot), or frees the frame
	 * when the page was truncated or its file or mount went; on success
	 * the module forgets the page's (store_id, slot).  ENOENT: no such
	 * request (never sent, or already answered; a request the server was
	 * sent is answered only by the server, or ended when it detaches);
	 * ESTALE: frame or page mismatch (the request stays).
	 */
	USMFS_CMD_SWAPIN_DONE = 6,
	/* Pool watermarks, percent of the pool used: PRESSURE is sent when
	 * use rises above high; the server evicts down to low.
	 * EINVAL unless 0 < low < high <= 100.  dev and ino are 0.
	 */
	USMFS_CMD_SET_WATERMARKS = 7,
	/* Page states of one file (ino != 0) or of every file of every mount
	 * (dev = ino = 0), from a cursor, into an array of struct
	 * usmfs_page_rec.  For a restarted server and for resynchronising
	 * after USMFS_EV_OVERFLOW.
	 */
	USMFS_CMD_LIST_PAGES = 8,
	/* Name store @store_id (the server's own numbering, kept by the module
	 * across servers): name "" unregisters.  dev and ino are 0.
	 */
	USMFS_CMD_SET_STORE = 9,
	/* The name registered for @store_id (ENOENT: none). */
	USMFS_CMD_GET_STORE = 10,
};

/* usmfs_cmd.flags */
#define USMFS_CMDF_LIST_END	(1U << 0)	/* out (LIST_PAGES): no more */

/* usmfs_page_rec.state */
#define USMFS_PAGE_RESIDENT	1	/* in @frame */
#define USMFS_PAGE_SWAPPED	2	/* at (@store_id, @slot) */
#define USMFS_PAGE_WAITING	3	/* swapped, and a fault waits for it */

/**
 * struct usmfs_page_rec - one page, as LIST_PAGES reports it.
 * @frame:	RESIDENT: its frame; otherwise ~0
 * @slot, @store_id: SWAPPED/WAITING: where it is; otherwise ~0 / 0
 */
struct usmfs_page_rec {
	__u32 dev;
	__u32 state;
	__u64 ino;
	__u64 index;
	__u64 frame;
	__u64 slot;
	__u32 store_id;
	__u32 reserved0;
};

/**
 * struct usmfs_cmd - one command of a batch (64 bytes).
 * @op:		USMFS_CMD_*; unknown ops get EINVAL
 * @flags:	USMFS_CMDF_*
 * @error:	out: 0 or a positive errno
 * @dev, @ino:	the file (0 for pool-wide commands).  EINVAL: no such
 *		mount; ENOENT: no such file, or not a regular file
 *
 * Payloads, by op (unused bytes are reserved):
 * @grant:	GRANT, REVOKE (REVOKE ignores @first_frame)
 * @range:	EVICT, CANCEL: pages [index, +nr) in frames [frame, +nr);
 *		nr is 1..512.  EVICT's @seq (1.3): the seq of the newest event
 *		the server has handled (or learnt of by an OVERFLOW): when a
 *		TRUNCATED after it freed frames of these pages (truncation,
 *		hole punch), they may be others now in the same frames, and
 *		EVICT fails with ESTALE (the module remembers a few ranges
 *		per file; past them, any page of the file).  0: not checked
 *		(CANCEL: must be 0)
 * @commit:	COMMIT
 * @swapin:	SWAPIN_DONE
 * @wm:		SET_WATERMARKS
 * @list:	LIST_PAGES.  in: @recs_ptr, @nr capacity (1..4096), cursor
 *		(@dev/@ino of the command for "all files": 0/0, and
 *		@cursor_dev, @cursor_ino, @cursor_index: first page to report,
 *		0/0/0 to start), @seq 0; out: @nr written, the cursor of
 *		the next page, USMFS_CMDF_LIST_END when there is none, and
 *		@seq: the seq of the newest event queued before this call
 *		looked at any page (events up to it are reflected in what it
 *		lists; a later one may be too, or not).
 * @store:	SET_STORE, GET_STORE: @name is NUL-padded [a-z0-9_-]* (SET_STORE
 *		with "" forgets the name; a store id needs no name to be used
 *		in COMMIT: usm-policyd keeps id 0, unnamed, for its default)
 */
struct usmfs_cmd {
	__u16 op;
	__u16 flags;
	__u32 error;
	__u32 dev;
	__u32 reserved0;
	__u64 ino;
	union {
		struct {
			__u64 index;
			__u64 first_frame;
			__u64 nr;
			__u64 reserved[2];
		} grant;
		struct {
			__u64 index;
			__u64 frame;
			__u64 nr;
			__u64 seq;
			__u64 reserved;
		} range;
		struct {
			__u64 index;
			__u64 frame;
			__u64 slot;
			__u32 store_id;
			__u32 reserved0;
			__u64 reserved1;
		} commit;
		struct {
			__u64 index;
			__u64 frame;
			__u64 token;
			__u32 status;
			__u32 reserved0;
			__u64 reserved1;
		} swapin;
		struct {
			__u32 low_pct;
			__u32 high_pct;
			__u64 reserved[4];
		} wm;
		struct {
			__u64 recs_ptr;
			__u32 nr;
			__u32 cursor_dev;
			__u64 cursor_ino;
			__u64 cursor_index;
			__u64 seq;
		} list;
		struct {
			__u32 store_id;
			__u32 reserved0;
			__u8 name[USMFS_NAME_LEN];
		} store;
		__u64 raw[5];
	} u;
};

/* ------------------------------------------------------------- events */

enum {
	/* A regular file was created (or, USMFS_EVF_REPLAY, exists at attach).
	 * Its policy is what the module computed (mount defaults, inherited
	 * user.usm.* of the parent); the server applies its config on top.
	 */
	USMFS_EV_FILE_CREATED = 1,
	/* The file is gone (last link and last opener): its frames are free
	 * again, its swapped pages' slots are the server's to free.
	 */
	USMFS_EV_FILE_REMOVED = 2,
	/* Pages [start, +nr) were dropped (truncate: nr = ~0; hole punch):
	 * their frames are free, their slots are the server's to free, and
	 * the file's grants in the range are dropped too.
	 */
	USMFS_EV_TRUNCATED = 3,
	/* A user.usm.* attribute was set (or removed: USMFS_EVF_REMOVED). */
	USMFS_EV_XATTR_CHANGED = 4,
	/* The module placed pages [index, +nr) in frames [frame, +nr)
	 * (USMFS_EVF_RESERVED: from a granted reservation).
	 */
	USMFS_EV_PAGES_ALLOCATED = 5,
	/* Page index was accessed @count times since its last sample. */
	USMFS_EV_ACCESS = 6,
	/* Pool use rose above the high watermark (USMFS_EVF_URGENT: an
	 * allocation found no free frame).
	 */
	USMFS_EV_PRESSURE = 7,
	/* A fault waits for swapped page index: read (store_id, slot) into
	 * @frame (taken by the module for this fault, zeroed) and answer
	 * SWAPIN_DONE with @token.
	 */
	USMFS_EV_SWAPIN_REQUEST = 8,
	/* A mount appeared (or exists at attach: USMFS_EVF_REPLAY) / went. */
	USMFS_EV_MOUNT = 9,
	USMFS_EV_UMOUNT = 10,
	/* Events were lost (the queue was full): @lost of them.  The server
	 * must resynchronise with LIST_PAGES (dev = ino = 0).
	 */
	USMFS_EV_OVERFLOW = 11,
	/* Every existing mount and file has been replayed after HELLO. */
	USMFS_EV_REPLAY_DONE = 12,
	/* The fault behind request @token stopped waiting (fatal signal or
	 * swapin_timeout).  A hint: the request stays, with its frame, until
	 * the server answers it.  A server that has not started it answers
	 * SWAPIN_DONE with ECANCELED (without reading or freeing the slot);
	 * one that already answered ignores this event.
	 */
	USMFS_EV_SWAPIN_CANCELLED = 13,
	/* A user asked (setxattr user.usm.reclaim) to push @nr pages of the
	 * file (~0 = all of them) out to its store now.  Sent only to a
	 * server granted USMFS_F_EVICT (without one the setxattr fails with
	 * ENOTCONN); the module does not wait for the answer: the server
	 * evicts what its policy lets go (EVICT, COMMIT), maybe nothing.
	 * Since 1.1.
	 */
	USMFS_EV_RECLAIM = 14,
};

/* usmfs_event.flags */
#define USMFS_EVF_REPLAY	(1U << 0)	/* FILE_CREATED/MOUNT at attach */
#define USMFS_EVF_TRUNCATED	(1U << 1)	/* path hint was cut */
#define USMFS_EVF_REMOVED	(1U << 2)	/* XATTR_CHANGED: removed */
#define USMFS_EVF_RESERVED	(1U << 3)	/* PAGES_ALLOCATED: granted frames */
#define USMFS_EVF_URGENT	(1U << 4)	/* PRESSURE: an allocation failed */
#define USMFS_EVF_WRITE		(1U << 5)	/* SWAPIN_REQUEST: write fault */
/* SWAPIN_REQUEST: no task waits for it (read-ahead, WILLNEED, or a fault
 * that left); without it, a task does, and uses the page at once */
#define USMFS_EVF_AHEAD		(1U << 6)

/**
 * struct usmfs_event - one event (256 bytes).  read(2) returns whole
 * events only: its length must be a multiple of event_size (else EINVAL);
 * it blocks until at least one is queued (EAGAIN with O_NONBLOCK); poll
 * reports POLLIN while events are queued.
 * @type:	USMFS_EV_*; a server skips types it does not know
 * @flags:	USMFS_EVF_*
 * @dev:	the mount (0: pool-wide events)
 * @ino:	the file (0: mount- and pool-wide events)
 * @seq:	sequence number, +1 per event queued (a gap = events lost)
 *
 * Payloads by type (unused bytes zero):
 * @created:	FILE_CREATED.  @set has bit (1 << n) for each attribute n
 *		of the user.usm.* table (usm/xattr-defs.h order) explicitly
 *		set on the file; @alloc/@evict/@swap are NUL-padded names
 *		(@swap "" = the mount's default store); @limit in bytes.
 * @range:	TRUNCATED (@start, @nr), PAGES_ALLOCATED (@start = index,
 *		@frame, @nr)
 * @xattr:	XATTR_CHANGED: attribute @id (xattr-defs.h order), its value
 *		(@len bytes, no NUL)
 * @access:	ACCESS
 * @pressure:	PRESSURE, in frames
 * @swapin:	SWAPIN_REQUEST, SWAPIN_CANCELLED
 * @mount:	MOUNT: @max_frames is the mount's size= in frames; @swap is
 *		the mount's swap= when it was given and is a store name or
 *		"none" ("" otherwise: the server's default store)
 * @overflow:	OVERFLOW
 * @reclaim:	RECLAIM: @nr pages, ~0 = all
 */
struct usmfs_event {
	__u16 type;
	__u16 flags;
	__u32 dev;
	__u64 ino;
	__u64 seq;
	__u64 reserved0;
	union {
		struct {
			__u64 parent;
			__u32 mode;
			__u32 uid;
			__u32 gid;
			__u32 prio;
			__u64 limit;
			__u32 set;
			__u32 reserved0;
			__u8 comm[USMFS_COMM_LEN];
			__u8 alloc[USMFS_NAME_LEN];
			__u8 evict[USMFS_NAME_LEN];
			__u8 swap[USMFS_NAME_LEN];
			__u8 path[USMFS_PATH_HINT_LEN];
		} created;
		struct {
			__u64 start;
			__u64 nr;
			__u64 frame;
		} range;
		struct {
			__u32 id;
			__u32 len;
			__u8 value[USMFS_XATTR_LEN];
		} xattr;
		struct {
			__u64 index;
			__u32 count;
			__u32 reserved0;
		} access;
		struct {
			__u64 free;
			__u64 total;
			__u32 low_pct;
			__u32 high_pct;
		} pressure;
		struct {
			__u64 index;
			__u64 frame;
			__u64 slot;
			__u64 token;
			__u32 store_id;
			__u32 reserved0;
		} swapin;
		struct {
			__u64 max_frames;
			__u64 swapin_timeout_ms;
			__u8 alloc[USMFS_NAME_LEN];
			__u8 evict[USMFS_NAME_LEN];
			__u8 swap[USMFS_NAME_LEN];
		} mount;
		struct {
			__u64 lost;
		} overflow;
		struct {
			__u64 nr;
			__u64 reserved[3];
		} reclaim;
		__u64 raw[28];
	} u;
};

#endif /* _UAPI_LINUX_USMFS_H */
