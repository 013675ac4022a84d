/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usm/config.h - /etc/usmfs/usmfs.conf, read with libinih.
 *
 *	[pool]
 *	low_watermark  = 70%		; start evicting above high, stop at low
 *	high_watermark = 90%
 *	alloc = firstfit		; defaults for new files
 *	evict = s3fifo
 *	swap  = fast			; a store below, or none
 *
 *	[store fast]
 *	path = file:/var/lib/usmfs/fast.swap
 *
 *	[plugins]
 *	load = /usr/lib/usmfs/plugins/mru.so	; may repeat
 *
 *	[rule heaps]			; first matching rule wins, per attribute
 *	path    = /heap*		; glob, relative to the mount root
 *	process = redis-server		; comm of the creating process (glob)
 *	evict   = lru			; any user.usm.* attribute
 *	prio    = 6
 *
 *	[threshold 80%]			; pool usage at or above 80% switches
 *	evict = fifo			; the default policy of new files
 *
 * A rule needs path or process (or both: both must match).  Errors carry
 * "FILE:LINE: message" naming the key or section at fault.
 */
#ifndef USM_CONFIG_H
#define USM_CONFIG_H

#include <usm/parse.h>

#ifdef __cplusplus
extern "C" {
#endif

#define USM_CONFIG_DEFAULT_PATH	"/etc/usmfs/usmfs.conf"

struct usm_config_store {
	char name[USM_NAME_MAX + 1];
	char *spec;			/* "file:PATH" or "none" */
};

struct usm_config_rule {
	char *name;			/* section label */
	char *path_glob;		/* NULL = any */
	char *process_glob;		/* NULL = any */
	struct usm_file_policy pol;	/* attributes it sets (pol.set) */
	unsigned int line;
};

struct usm_config_threshold {
	uint32_t pct;			/* 1..100 */
	struct usm_file_policy pol;	/* defaults above it (pol.set) */
	unsigned int line;
};

struct usm_config {
	uint32_t low_pct, high_pct;	/* watermarks, default 70/90 */
	struct usm_file_policy defaults;	/* alloc/evict/swap of [pool] */
	struct usm_config_store *stores;
	size_t nr_stores;
	struct usm_config_rule *rules;
	size_t nr_rules;
	struct usm_config_threshold *thresholds;	/* sorted by pct */
	size_t nr_thresholds;
	char **plugins;
	size_t nr_plugins;
	char *source;			/* file name, for messages */
};

/*
 * Load and validate a config file (or, for _string, text named @fname).
 * Plugins are loaded (so that rules may name their policies) unless
 * @flags has USM_CONFIG_NO_PLUGINS.  With USM_CONFIG_CHECK_STORES, each
 * store's path is also looked at as usm_store_open() would (without
 * changing anything: usm_store_check()), so that a path naming a file that
 * is not a store is an error of its line (usm-policyd --check).  0 and
 * *@out, or -errno with "FILE:LINE: message" in @err.
 */
#define USM_CONFIG_NO_PLUGINS	0x1u
#define USM_CONFIG_CHECK_STORES	0x2u
int usm_config_load(const char *path, unsigned int flags,
		    struct usm_config **out, char *err, size_t errlen);
int usm_config_parse_string(const char *text, const char *fname,
			    unsigned int flags, struct usm_config **out,
			    char *err, size_t errlen);
void usm_config_free(struct usm_config *cfg);

/* The store named @name, or NULL. */
const struct usm_config_store *
usm_config_find_store(const struct usm_config *cfg, const char *name);

/*
 * The policy a new file starts with: @base (the mount's defaults, then the
 * parent directory's inherited attributes, applied by the caller), then the
 * threshold for @usage_pct, then the first matching rule per attribute for
 * @path (relative to the mount root, starting with '/') and @comm (NULL if
 * unknown).  Attributes explicitly set in @base->set win over thresholds
 * but not over rules.
 */
void usm_config_policy_for(const struct usm_config *cfg, const char *path,
			   const char *comm, uint32_t usage_pct,
			   struct usm_file_policy *pol);

#ifdef __cplusplus
}
#endif
#endif /* USM_CONFIG_H */
