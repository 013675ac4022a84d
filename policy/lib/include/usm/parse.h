/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usm/parse.h - parsers shared by both frontends: sizes, user.usm.* xattrs,
 * per-file policy, mount options.
 *
 * Every parser validates all of its input before it changes anything: on
 * error the destination is left exactly as it was.  Errors are -errno; the
 * ones that take @err/@errlen write one line naming the culprit there.
 */
#ifndef USM_PARSE_H
#define USM_PARSE_H

#include <sys/types.h>
#include <usm/types.h>
#include <usm/xattr-defs.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Sizes: "4096", "64K", "64M", "1G", "2T" (powers of 1024, suffix case-
 * insensitive, optional trailing "B"/"iB"), and, when @pct_base != 0,
 * "50%" = @pct_base * 50 / 100.  No sign, no spaces, no fractions.
 * 0, -EINVAL (malformed, or % with @pct_base == 0), -ERANGE (overflow).
 */
int usm_parse_size(const char *s, uint64_t pct_base, uint64_t *out);

/* Format @bytes for people: "64M", "1.5G", "4096". */
void usm_format_size(uint64_t bytes, char *buf, size_t len);

/* Durations: "30", "30s", "500ms", "2m" -> milliseconds.  0/-EINVAL/-ERANGE. */
int usm_parse_duration_ms(const char *s, uint64_t *out_ms);

/* Names of policies and stores: [a-z0-9_-]{1,USM_NAME_MAX}.  1 if valid. */
int usm_name_valid(const char *s, size_t len);

enum usm_xattr_id {
#define USM_XATTR_ENUM(id, suffix, kind, lo, hi) USM_XATTR_##id,
	USM_XATTR_TABLE(USM_XATTR_ENUM)
#undef USM_XATTR_ENUM
	USM_XATTR_NR
};

/*
 * Look up a full xattr name.  Returns the id (>= 0), -ENODATA when @name is
 * not in the user.usm. namespace (store it as an ordinary xattr), -EINVAL
 * when it is but the suffix is unknown.
 */
int usm_xattr_lookup(const char *name);
const char *usm_xattr_name(enum usm_xattr_id id);	/* "user.usm.evict" */

/*
 * struct usm_file_policy - a file's (or directory's) user.usm.* settings.
 * @set has bit (1 << USM_XATTR_x) for each attribute explicitly set on
 * this inode (listxattr shows only those; inheritance copies them).
 */
struct usm_file_policy {
	char alloc[USM_NAME_MAX + 1];
	char evict[USM_NAME_MAX + 1];
	char swap[USM_NAME_MAX + 1];	/* "" = mount default */
	uint32_t prio;
	uint64_t limit;			/* bytes; 0 = none */
	uint32_t set;
};

/* Defaults: firstfit, s3fifo, prio 4, no limit, swap "", nothing set. */
void usm_file_policy_init(struct usm_file_policy *pol);

/*
 * Validate @value (@len bytes, not NUL-terminated; a trailing NUL or "\n"
 * is tolerated) for attribute @id and, if valid, store it in @pol and set
 * its bit.  Policy names must be registered (usm_find_alloc/evict); store
 * names are checked for syntax only (the context checks existence).
 * 0, -EINVAL (bad value), -EPERM (read-only: stats).
 */
int usm_file_policy_set(struct usm_file_policy *pol, enum usm_xattr_id id,
			const char *value, size_t len);

/* Clear attribute @id back to @dflt's value.  0 or -ENODATA if not set. */
int usm_file_policy_unset(struct usm_file_policy *pol, enum usm_xattr_id id,
			  const struct usm_file_policy *dflt);

/* Format attribute @id of @pol into @buf (no NUL counted).  Returns the
 * length, which may exceed @len (then nothing useful is in @buf), or
 * -EINVAL for stats (the context formats those). */
int usm_file_policy_get(const struct usm_file_policy *pol,
			enum usm_xattr_id id, char *buf, size_t len);

/* Copy the attributes set on @parent (a directory) into @child. */
void usm_file_policy_inherit(struct usm_file_policy *child,
			     const struct usm_file_policy *parent);

/*
 * Mount options (DESIGN §1), the same set for both frontends.
 */
struct usm_mount_opts {
	uint64_t size;			/* bytes; 0 = whole pool */
	uint32_t size_pct;		/* if non-zero: size was "N%" of the pool */
	uint64_t nr_inodes;		/* 0 = default */
	uint32_t mode;			/* root dir mode, default 01777 */
	uint32_t uid, gid;
	char alloc[USM_NAME_MAX + 1];
	char evict[USM_NAME_MAX + 1];
	char swap[4096 + 8];		/* "none", "file:PATH", or a store name */
	uint64_t swapin_timeout_ms;	/* default 30000 */
	char config[4096];		/* config=FILE, "" = none */
	uint32_t seen;			/* bit per USM_MOPT_* given */
};

enum usm_mount_opt {
	USM_MOPT_SIZE, USM_MOPT_NR_INODES, USM_MOPT_MODE, USM_MOPT_UID,
	USM_MOPT_GID, USM_MOPT_ALLOC, USM_MOPT_EVICT, USM_MOPT_SWAP,
	USM_MOPT_SWAPIN_TIMEOUT, USM_MOPT_CONFIG, USM_MOPT_NR
};

void usm_mount_opts_init(struct usm_mount_opts *mo);

/*
 * Apply one option.  @val is NULL for a bare key.  Returns 0, -ENOENT when
 * @key is not a usmfs option (the FUSE daemon passes it on to libfuse), or
 * -EINVAL with "bad value for 'KEY': ..." in @err.
 */
int usm_mount_opt_set(struct usm_mount_opts *mo, const char *key,
		      const char *val, char *err, size_t errlen);

/*
 * Parse a comma-separated option string.  Options that are not usmfs's are
 * appended, comma-separated, to @rest (may be NULL: then they are an error).
 * 0, -EINVAL (with message), -E2BIG (@rest too small).
 */
int usm_mount_opts_parse(struct usm_mount_opts *mo, const char *opts,
			 char *rest, size_t restlen, char *err, size_t errlen);

/* Resolve size_pct against the pool's byte size. */
void usm_mount_opts_resolve(struct usm_mount_opts *mo, uint64_t pool_bytes);

/* The non-default options, comma-separated, as show_options prints them.
 * Returns the length (may exceed @len: truncated). */
int usm_mount_opts_show(const struct usm_mount_opts *mo, char *buf,
			size_t len);

#ifdef __cplusplus
}
#endif
#endif /* USM_PARSE_H */
