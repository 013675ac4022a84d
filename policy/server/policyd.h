/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policyd.h - what the files of usm-policyd share.
 *
 *   main.c      options, --check, the epoll loop, signals
 *   chan.c      the device: HELLO, chunks, mmap, events, command batches
 *               (through struct pd_chan_ops, so that tests plug a fake)
 *   handlers.c  events -> libusmpolicy; files, stores, grants, attach
 *   resync.c    LIST_PAGES after an OVERFLOW or an attach, and the
 *               catch-up that skips the events a listing reflected
 *   pressure.c  a mount above its share, the pool's watermarks
 *   backend.c   usm_backend_ops over the channel (EVICT/COMMIT/CANCEL)
 *
 * Threads: one.  Every handler and every backend op runs on the loop's
 * thread; backend ops are called from inside usm_balance(), usm_fault()
 * or usm_file_setxattr() and issue their command batch synchronously.
 */
#ifndef POLICYD_H
#define POLICYD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <usm/usm.h>

#include "../../kmod/include/uapi/linux/usmfs.h"

/* ------------------------------------------------------------ logging */

enum pd_level { PD_ERR, PD_WARN, PD_INFO, PD_DEBUG };

extern int pd_log_level;	/* messages above it are dropped */
extern unsigned long pd_log_count[PD_DEBUG + 1];	/* per level, for tests */

void pd_log(enum pd_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ channel */

/*
 * struct pd_chan_ops - how chan.c reaches the module.  The real one is
 * over a file descriptor (open/ioctl/read/mmap); tests give a fake.
 * Every op returns -errno on failure.
 * @ioctl:	Required.  ioctl(2) semantics with the USMFS_IOC_* numbers.
 * @read:	Required.  read(2) of events; -EAGAIN when none is queued.
 * @map_pool:	Required.  Map @len bytes of the pool; NULL and errno set.
 * @unmap_pool:	Required.
 * @close:	Required.  Detach.
 */
struct pd_chan_ops {
	int (*ioctl)(void *priv, unsigned long req, void *arg);
	ssize_t (*read)(void *priv, void *buf, size_t len);
	void *(*map_pool)(void *priv, size_t len);
	void (*unmap_pool)(void *priv, void *addr, size_t len);
	void (*close)(void *priv);
};

struct pd_chan {
	const struct pd_chan_ops *ops;
	void *priv;
	int fd;				/* pollable; -1 for fakes without one */
	struct usmfs_hello hello;	/* as the module answered */
	struct usmfs_chunk *chunks;
	uint32_t nr_chunks;
	unsigned char *pool;		/* the mmap of the pool */
	size_t pool_len;
	uint32_t max_batch;
	/* Commands queued by handlers, sent by pd_chan_flush(). */
	struct usmfs_cmd *pending;
	size_t nr_pending, cap_pending;
	/* Told each flushed command with its answer (error). */
	void (*answered)(void *arg, const struct usmfs_cmd *c);
	void *answered_arg;
	/* Counters. */
	unsigned long ioctls, cmds_sent, cmds_failed, events_read;
	unsigned long reads;		/* reads that returned events */
	unsigned long events_bad;	/* short or malformed reads */
};

/* Over the real device at @path (O_RDWR | O_NONBLOCK | O_CLOEXEC). */
int pd_chan_open(struct pd_chan *ch, const char *path);
/* Over any ops (tests): @fd may be -1. */
void pd_chan_init(struct pd_chan *ch, const struct pd_chan_ops *ops,
		  void *priv, int fd);
/* HELLO with @features, GET_CHUNKS, mmap.  0 or -errno (logged). */
int pd_chan_attach(struct pd_chan *ch, uint64_t features);
void pd_chan_close(struct pd_chan *ch);

/* Up to @max events into @evs: the number (0 when none is queued) or
 * -errno.  A read whose length is not a whole number of events is counted
 * in events_bad, logged and dropped. */
ssize_t pd_chan_read(struct pd_chan *ch, struct usmfs_event *evs, size_t max);

/* Send @n commands now, in batches of max_batch; per-command results in
 * cmds[i].error.  0 or -errno when an ioctl failed (the commands it did not
 * execute get that error too). */
int pd_chan_submit(struct pd_chan *ch, struct usmfs_cmd *cmds, size_t n);
/* Queue one command for the next pd_chan_flush() (fire and forget: a
 * failure is logged).  0 or -ENOMEM. */
int pd_chan_queue(struct pd_chan *ch, const struct usmfs_cmd *cmd);
int pd_chan_flush(struct pd_chan *ch);

void *pd_frame_addr(struct pd_chan *ch, usm_frame_t f);

/* ------------------------------------------------------------- server */

/* A file the server knows: (dev, ino) of the module <-> usm_file.  The
 * library's id is (dev << PD_INO_BITS) | ino. */
#define PD_INO_BITS	40
#define PD_DEV_MAX	((1u << (64 - PD_INO_BITS)) - 1)

static inline bool pd_file_id_valid(uint32_t dev, uint64_t ino)
{
	return dev != 0 && dev <= PD_DEV_MAX && ino != 0 &&
	       ino < (1ull << PD_INO_BITS);
}

struct pd_file {
	uint32_t dev;
	uint64_t ino;
	struct usm_file *f;
	uint64_t resv_left;	/* granted frames the module has not used */
	struct pd_file *next;	/* hash chain */
};

/* A mount's own default store (its swap= option), from USMFS_EV_MOUNT. */
struct pd_mount {
	uint32_t dev;
	char swap[USMFS_NAME_LEN];
	struct pd_mount *next;
};

struct pd_opts {
	const char *device;		/* default /dev/usmfs */
	const char *config;		/* NULL: none */
	uint64_t features;		/* to request; default USMFS_F_ALL */
};

/* One LIST_PAGES round of a resynchronisation: where it started, and the
 * seq of the newest event its records reflect. */
struct pd_round {
	uint32_t dev;
	uint64_t ino, index;
	uint64_t seq;
};

/* Page records of LIST_PAGES, kept (a growing array). */
struct pd_recs {
	struct usmfs_page_rec *r;
	size_t n, cap;
};

struct policyd {
	struct pd_chan *ch;
	struct usm_ctx *ctx;
	struct usm_config *cfg;
	const char *config_path;
	uint64_t features;		/* granted */
	bool restarted;			/* the module held swapped pages */
	bool replay_done;
	uint64_t grant_max;		/* most frames in one GRANT (power of 2) */
	/* (dev, ino) -> pd_file */
	struct pd_file **buckets;
	size_t nbuckets, nfiles;
	/* mounts that gave swap= (a store name or "none") */
	struct pd_mount *mounts;
	/* store_id -> name ("" = the default store); index = id */
	char (*stores)[USMFS_NAME_LEN];
	bool *store_known;
	/* The batch of events being handled, and where (look-ahead for
	 * SWAPIN_CANCELLED). */
	const struct usmfs_event *batch;
	size_t batch_n, batch_i;
	/* Counters. */
	unsigned long events, rejected, unknown, swapins, swapin_errors;
	unsigned long swapins_cancelled;
	unsigned long evict_cmds, commit_cmds, grants, accesses;
	unsigned long resyncs, resync_moved, events_skipped, seq_gaps;
	uint64_t last_seq;
	uint64_t next_seq;		/* the seq the next event must have */
	/* resync.c: the last listing's rounds while its catch-up lasts
	 * (until an event after @catchup_seq; 0: none), and records of
	 * files not announced yet. */
	struct pd_round *rounds;
	size_t nrounds, crounds;
	uint64_t catchup_seq;
	struct pd_recs pending;
};

/* Build the server on an attached channel: context, watermarks, stores.
 * 0 or -errno with a message logged. */
int pd_init(struct policyd *pd, struct pd_chan *ch, struct usm_config *cfg);
/* pd_chan's answered hook: settles swap-ins once the module answered. */
void pd_cmd_answered(void *arg, const struct usmfs_cmd *c);
void pd_fini(struct policyd *pd);

/* Handle @n events in order, then flush queued commands and balance. */
void pd_handle_events(struct policyd *pd, const struct usmfs_event *evs,
		      size_t n);
/* One event.  0, or -EINVAL when it was rejected (logged). */
int pd_handle_event(struct policyd *pd, const struct usmfs_event *ev);

/* Walk LIST_PAGES over every file and teach the library what it lacks
 * (resident pages, swapped pages with their slots); with @prune_missing
 * (after lost events), also drop the pages the module no longer has.
 * 0 or -errno. */
int pd_resync(struct policyd *pd, bool prune_missing);
/* Whether the last listing reflected event @ev for page @index (the event
 * is to be skipped for that page). */
bool pd_listed(const struct policyd *pd, const struct usmfs_event *ev,
	       uint64_t index);
/* TRUNCATED @ev: drop pages [@start, @end) of @f but those the listing
 * showed after it. */
void pd_truncate_unlisted(struct policyd *pd, const struct usmfs_event *ev,
			  struct usm_file *f, uint64_t start, uint64_t end);
/* The catch-up is over: forget the rounds and pending records. */
void pd_catchup_end(struct policyd *pd);
/* @pf was just announced: learn its listed pages kept pending. */
void pd_pending_learn(struct policyd *pd, struct pd_file *pf);

/* Keep free frames between the watermarks.  Pages evicted or -errno. */
long pd_balance(struct policyd *pd, bool force);
void pd_pressure_mount(struct policyd *pd, const struct usmfs_event *ev);

/* Apply a reloaded config's watermarks (rules, stores and plugins need a
 * restart: the context keeps the config it was built with).  @cfg is not
 * kept.  0 or -errno. */
int pd_reload(struct policyd *pd, struct usm_config *cfg);

struct pd_file *pd_file_find(struct policyd *pd, uint32_t dev, uint64_t ino);

/* Store ids: the id for @name (registered with the module when new), or
 * -errno; the name for @id (asked of the module when unknown), or NULL. */
int pd_store_id(struct policyd *pd, const char *name);
const char *pd_store_name(struct policyd *pd, uint32_t id);

/* backend.c */
extern const struct usm_backend_ops pd_backend_ops;

/* main.c: the whole program (main() calls it). */
int pd_main(int argc, char **argv);
/* The loop: until SIGTERM/SIGINT (0) or a fatal error (-errno). */
int pd_run(struct policyd *pd);
int pd_check_config(const char *path);

#endif /* POLICYD_H */
