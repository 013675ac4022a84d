/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usm/replay.h - trace-driven simulation of the eviction policies (the core
 * of usm-replay, also used by the unit tests and the benchmarks).
 *
 * A trace is a sequence of requests for objects (pages), numbered densely
 * 0..objects-1.  It is read from a text file ("FILE PAGE" per line, '#'
 * comments) or generated (Zipf, range scans, loops, Zipf with periodic
 * scans) from a seed with the library's own PRNG, so a seed gives the same
 * trace on every machine.
 *
 * usm_replay() plays it through one eviction policy as a cache of a fixed
 * number of pages: a hit calls on_access(); a miss, when the cache is full,
 * asks victims(1) and then calls on_insert().  The whole trace is one
 * policy instance (one "file"): the replay measures the policy's own
 * choices, not the library's arbiter between files.
 */
#ifndef USM_REPLAY_H
#define USM_REPLAY_H

#include <stdio.h>

#include <usm/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

struct usm_trace {
	uint32_t *req;		/* object of each request */
	size_t n;		/* requests */
	size_t cap;		/* private: allocated */
	uint64_t objects;	/* ids are < objects */
	uint64_t footprint;	/* distinct objects requested */
};

enum usm_trace_kind {
	USM_TRACE_ZIPF,		/* Zipf(alpha) over @objects */
	USM_TRACE_SCAN,		/* runs of @run consecutive objects from
				 * uniformly random starts */
	USM_TRACE_LOOP,		/* 0, 1, ..., objects-1, 0, 1, ... */
	USM_TRACE_MIX,		/* Zipf(alpha) over @objects; after every
				 * @every of its requests, one scan of @run
				 * objects from a second range of @objects
				 * ids, continuing where the last one ended */
};

struct usm_trace_gen {
	enum usm_trace_kind kind;
	double alpha;		/* ZIPF, MIX: 0 (uniform) .. 10 */
	uint64_t objects;	/* 1 .. USM_TRACE_MAX_OBJECTS */
	uint64_t requests;	/* 1 .. USM_TRACE_MAX_REQUESTS */
	uint64_t seed;
	uint64_t run;		/* SCAN, MIX; 0 = default (64; objects/4) */
	uint64_t every;		/* MIX; 0 = default (objects) */
};

#define USM_TRACE_MAX_OBJECTS	(1ull << 26)
#define USM_TRACE_MAX_REQUESTS	(1ull << 30)

/* 0, or -EINVAL / -ENOMEM with a message in @err.  Free with
 * usm_trace_free(). */
int usm_trace_generate(const struct usm_trace_gen *g, struct usm_trace *t,
		       char *err, size_t errlen);

/* Read "FILE PAGE" lines (FILE any word, PAGE a decimal number; blank
 * lines and lines starting with '#' skipped) from @f.  @name is used in
 * messages ("NAME:LINE: ...").  0, -EINVAL, -ENOMEM, -EIO. */
int usm_trace_read(FILE *f, const char *name, struct usm_trace *t,
		   char *err, size_t errlen);

void usm_trace_free(struct usm_trace *t);

struct usm_replay_stats {
	uint64_t requests, hits, misses;
	uint64_t evictions;	/* victims taken */
	uint64_t bypassed;	/* misses not cached: the policy gave none */
};

/*
 * Replay @t through @ops with a cache of @cache_pages (>= 1).  Checks the
 * policy as it goes (a victim must be a page it holds, unpinned).
 * 0, or -EINVAL (bad arguments), -ENOMEM, -EPROTO (the policy broke its
 * contract), with a message in @err.
 */
int usm_replay(const struct usm_evict_ops *ops, const struct usm_trace *t,
	       uint64_t cache_pages, struct usm_replay_stats *st,
	       char *err, size_t errlen);

/* A deterministic PRNG (xoshiro256**, seeded with splitmix64). */
struct usm_rng {
	uint64_t s[4];
};
void usm_rng_seed(struct usm_rng *r, uint64_t seed);
uint64_t usm_rng_next(struct usm_rng *r);
/* Uniform in [0, 1). */
double usm_rng_double(struct usm_rng *r);
/* Uniform in [0, n), n >= 1 (unbiased). */
uint64_t usm_rng_below(struct usm_rng *r, uint64_t n);

#ifdef __cplusplus
}
#endif
#endif /* USM_REPLAY_H */
