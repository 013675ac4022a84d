/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usm/policy.h - placement and eviction policies, their registry, plugins.
 *
 * A policy is a const ops table registered by name.  The built-in ones
 * (alloc: firstfit, contiguous, spread; evict: fifo, lru, clock, sieve,
 * s3fifo, pinned) are registered when the library is first used; plugins add
 * their own (see usm_plugin below).  Every callback runs with the owning
 * context's lock held, on whatever thread called into the library: a
 * callback must not block and must not call back into the library except
 * for the usm_pool_* and usm_page_* helpers named in its comment.
 */
#ifndef USM_POLICY_H
#define USM_POLICY_H

#include <usm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct usm_ctx;
struct usm_file;
struct usm_pool;

/*
 * struct usm_page - one resident page, owned by the library.
 *
 * The eviction policy of the page's file may use @node, @pflags, @ptag and
 * @pword as it likes between on_insert() and the page's removal; the
 * library does not look at them.  Everything else is read-only.
 */
struct usm_page {
	uint64_t index;		/* page index within its file */
	usm_frame_t frame;	/* the pool frame that holds it */
	struct usm_file *file;	/* owning file */
	struct usm_list node;	/* policy's use: queue linkage */
	uint32_t pflags;	/* policy's use */
	uint32_t ptag;		/* policy's use (frequency, queue id, ...) */
	uint64_t pword;		/* policy's use */
	uint32_t pins;		/* library's: >0 while pinned; read-only for
				 * policies (use usm_page_pinned()) */
};

/*
 * struct usm_evict_ops - an eviction policy.
 *
 * @name:      registered name (the value of user.usm.evict), [a-z0-9_-]+,
 *             at most USM_NAME_MAX bytes.  Required.
 * @flags:     USM_EVICT_NEVER: the policy never gives pages (pinned).
 * @create:    make the per-file state for @file; NULL means out of memory.
 *             Required.
 * @destroy:   free the state.  Every page has been removed before.  Required.
 * @on_insert: @pg became resident (new page, swap-in, or re-insert after an
 *             eviction that failed, or the rebuild after a policy change).
 *             Required.
 * @on_access: @pg was used (a hit: fault, read, write or access sample).
 *             Required.
 * @on_remove: @pg leaves for a reason of its own (truncate, punch, file
 *             deleted): forget it, record no history.  Required.
 * @victims:   choose up to @n pages to evict, best victim first, and detach
 *             them: after this call the policy no longer holds them, as if
 *             on_remove had been called, though it may remember their index
 *             (a ghost entry).  Pages with page_pinned() != 0 must be
 *             skipped.  Returns the number stored in @out (0 when it holds
 *             nothing it can give).  Required unless USM_EVICT_NEVER.
 * @resident:  optional: how many pages the policy holds (for checks).
 */
struct usm_evict_ops {
	const char *name;
	unsigned int flags;
	void *(*create)(struct usm_file *file);
	void (*destroy)(void *state);
	void (*on_insert)(void *state, struct usm_page *pg);
	void (*on_access)(void *state, struct usm_page *pg);
	void (*on_remove)(void *state, struct usm_page *pg);
	size_t (*victims)(void *state, struct usm_page **out, size_t n);
	size_t (*resident)(const void *state);
};

#define USM_EVICT_NEVER	0x1u

/* Non-zero while a frontend is copying the page (it must not leave now):
 * pg->pins != 0.  Safe on any struct usm_page, including ones a test or a
 * tool made itself (zero-initialised: not pinned). */
int usm_page_pinned(const struct usm_page *pg);

/*
 * struct usm_alloc_ops - a placement policy.
 *
 * @name:  registered name (the value of user.usm.alloc).  Required.
 * @place: choose and take a free frame for page @index of @file and store it
 *         in *@frame.  Use usm_file_reservation_take() first when the file
 *         holds a reservation, else the usm_pool_* allocation helpers.
 *         Returns 0, or -ENOSPC when the pool (or the file's mount share)
 *         has no free frame.  Required.
 * @reserve: optional: frames to set aside for @file ahead of its faults at
 *         @index (the kernel frontend grants them to the module).  Stores a
 *         run in *@first / *@nr (taken from the pool, owned by the file
 *         until used or released).  Returns 0, -ENOSPC, or -EOPNOTSUPP.
 */
struct usm_alloc_ops {
	const char *name;
	int (*place)(struct usm_ctx *ctx, struct usm_file *file,
		     uint64_t index, usm_frame_t *frame);
	int (*reserve)(struct usm_ctx *ctx, struct usm_file *file,
		       uint64_t index, usm_frame_t *first, uint64_t *nr);
};

/*
 * Registry.  Names are unique across built-ins and plugins.
 * usm_register_*: 0, -EEXIST (name taken), -EINVAL (bad name or table).
 * usm_find_*: NULL when no policy has that name.
 * usm_for_each_*: calls @fn for each registered name (for listings).
 */
int usm_register_evict(const struct usm_evict_ops *ops);
int usm_register_alloc(const struct usm_alloc_ops *ops);
const struct usm_evict_ops *usm_find_evict(const char *name);
const struct usm_alloc_ops *usm_find_alloc(const char *name);
void usm_for_each_evict(void (*fn)(const char *name, void *arg), void *arg);
void usm_for_each_alloc(void (*fn)(const char *name, void *arg), void *arg);

/* The built-in eviction policies, for tests and tools. */
extern const struct usm_evict_ops usm_evict_fifo;
extern const struct usm_evict_ops usm_evict_lru;
extern const struct usm_evict_ops usm_evict_clock;
extern const struct usm_evict_ops usm_evict_sieve;
extern const struct usm_evict_ops usm_evict_s3fifo;
extern const struct usm_evict_ops usm_evict_pinned;

/* The built-in placement policies. */
extern const struct usm_alloc_ops usm_alloc_firstfit;
extern const struct usm_alloc_ops usm_alloc_contiguous;
extern const struct usm_alloc_ops usm_alloc_spread;

/* Register the built-ins; idempotent, thread-safe, called by every entry
 * point that needs the registry. */
void usm_policies_init(void);

/*
 * Plugins.  A plugin is a shared object built against the installed headers
 * (pkg-config --cflags usmpolicy) that exports
 *
 *	const struct usm_plugin usm_plugin_info = {
 *		.abi = USM_PLUGIN_ABI, .name = "mine",
 *		.evict = (const struct usm_evict_ops *const[]){ &my_ops, NULL },
 *	};
 *
 * usm_plugin_load() dlopen()s @path (a path, or a bare name looked up in
 * USM_PLUGIN_DIR), checks the ABI, and registers every table it lists; on
 * any error nothing is registered and @err says why (missing symbol, ABI
 * mismatch, duplicate name, bad table).  Returns 0 or -errno.
 */
#define USM_PLUGIN_ABI		1
#define USM_PLUGIN_SYMBOL	"usm_plugin_info"
#ifndef USM_PLUGIN_DIR
#define USM_PLUGIN_DIR		"/usr/local/lib/usmfs/plugins"
#endif

struct usm_plugin {
	uint32_t abi;
	const char *name;
	const struct usm_evict_ops *const *evict;	/* NULL-terminated */
	const struct usm_alloc_ops *const *alloc;	/* NULL-terminated */
};

int usm_plugin_load(const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* USM_POLICY_H */
