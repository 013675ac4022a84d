/* SPDX-License-Identifier: (GPL-2.0-only OR LGPL-2.1-or-later) */
/*
 * usm/parse-core.h - the syntax of numbers, sizes, durations, names and
 * user.usm.* values, written once for both frontends.
 *
 * Included by libusmpolicy (policy/lib/parse.c) and by usmfs.ko
 * (kmod/xattr.c), so that a mount option or an xattr value means the same
 * thing on the module and on the FUSE daemon.  Static inline functions on
 * plain C types: no libc, no kernel headers.  The includer provides EINVAL
 * and ERANGE (<errno.h> or <linux/errno.h>) before including this file.
 * Errors are -EINVAL (malformed) and -ERANGE (does not fit in 64 bits);
 * on error nothing is written to the output.
 */
#ifndef USM_PARSE_CORE_H
#define USM_PARSE_CORE_H

#include <usm/xattr-defs.h>

#if !defined(EINVAL) || !defined(ERANGE)
#error "usm/parse-core.h: include <errno.h> or <linux/errno.h> first"
#endif

#define USM_CORE_ULL_MAX	(~0ULL)

static inline int usm_core_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

/* Equal NUL-terminated strings (the suffixes below are short). */
static inline int usm_core_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/*
 * Decimal digits at @s: at least one, no sign, no space.  *@end is set
 * after them.
 */
static inline int usm_core_digits(const char *s, const char **end,
				  unsigned long long *out)
{
	unsigned long long v = 0;

	if (!usm_core_isdigit(*s))
		return -EINVAL;
	for (; usm_core_isdigit(*s); s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (USM_CORE_ULL_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*end = s;
	*out = v;
	return 0;
}

/* K/M/G/T (either case), powers of 1024: the shift, or -1. */
static inline int usm_core_unit_shift(char c)
{
	switch (c) {
	case 'k': case 'K': return 10;
	case 'm': case 'M': return 20;
	case 'g': case 'G': return 30;
	case 't': case 'T': return 40;
	default: return -1;
	}
}

static inline int usm_core_shift(unsigned long long v, int shift,
				 unsigned long long *out)
{
	if (shift && v > (USM_CORE_ULL_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

/*
 * The strict size of user.usm.limit and nr_inodes=: digits with an
 * optional single K/M/G/T, nothing else.
 */
static inline int usm_core_size_strict(const char *s, unsigned long long *out)
{
	unsigned long long v;
	const char *end;
	int shift = 0, err;

	err = usm_core_digits(s, &end, &v);
	if (err)
		return err;
	if (*end) {
		shift = usm_core_unit_shift(*end);
		if (shift < 0 || end[1])
			return -EINVAL;
	}
	return usm_core_shift(v, shift, out);
}

/*
 * The size of size= and usmctl: "4096", "4096B", "64K", "64KB", "64KiB",
 * ... up to T, or "N%".  For "N%" *@is_pct is 1 and *@out is N itself
 * (unchecked: the caller knows what N% is of), else 0 and bytes.
 */
static inline int usm_core_size(const char *s, unsigned long long *out,
				int *is_pct)
{
	unsigned long long v;
	const char *end;
	int shift = 0, err;

	err = usm_core_digits(s, &end, &v);
	if (err)
		return err;
	if (end[0] == '%' && !end[1]) {
		*is_pct = 1;
		*out = v;
		return 0;
	}
	if (*end) {
		shift = usm_core_unit_shift(*end);
		if (shift >= 0) {
			end++;
			if (end[0] == 'i' && (end[1] == 'B' || end[1] == 'b'))
				end += 2;
			else if (end[0] == 'B' || end[0] == 'b')
				end++;
		} else if (end[0] == 'B' || end[0] == 'b') {
			shift = 0;	/* "4096B" */
			end++;
		}
		if (shift < 0 || *end)
			return -EINVAL;
	}
	err = usm_core_shift(v, shift, out);
	if (!err)
		*is_pct = 0;
	return err;
}

/*
 * The longest swapin_timeout, in ms, on both frontends: what the module's
 * msecs_to_jiffies() takes (unsigned int); about 49.7 days.
 */
#define USM_SWAPIN_TIMEOUT_MAX_MS	4294967295ULL

/* "30" (seconds), "30s", "500ms", "2m", "1h" -> milliseconds. */
static inline int usm_core_duration_ms(const char *s, unsigned long long *out)
{
	unsigned long long v, mul, max;
	const char *end;
	int err;

	err = usm_core_digits(s, &end, &v);
	if (err)
		return err;
	/* Constant divisions only: no 64-bit division at run time. */
	if (usm_core_streq(end, "ms")) {
		mul = 1;
		max = USM_CORE_ULL_MAX;
	} else if (!*end || usm_core_streq(end, "s")) {
		mul = 1000;
		max = USM_CORE_ULL_MAX / 1000;
	} else if (usm_core_streq(end, "m")) {
		mul = 60 * 1000;
		max = USM_CORE_ULL_MAX / (60 * 1000);
	} else if (usm_core_streq(end, "h")) {
		mul = 3600 * 1000;
		max = USM_CORE_ULL_MAX / (3600 * 1000);
	} else {
		return -EINVAL;
	}
	if (v > max)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

/*
 * Exact, re-parseable form of @bytes: the largest of K/M/G/T that divides
 * it.  Returns that unit's letter with *@n the count of units, or 0 with
 * *@n = @bytes (no unit; also for 0).
 */
static inline char usm_core_size_unit(unsigned long long bytes,
				      unsigned long long *n)
{
	static const char units[] = "KMGT";
	int i;

	for (i = 3; i >= 0 && bytes; i--) {
		int shift = 10 * (i + 1);

		if (!(bytes & ((1ULL << shift) - 1))) {
			*n = bytes >> shift;
			return units[i];
		}
	}
	*n = bytes;
	return 0;
}

/* A policy or store name: [a-z0-9_-], 1..USM_NAME_MAX chars.  1 if so. */
static inline int usm_core_name_valid(const char *s, unsigned long len)
{
	unsigned long i;

	if (!s || !len || len > USM_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!USM_NAME_CHAR_OK(s[i]))
			return 0;
	return 1;
}

/*
 * A user.usm.* value as setxattr gives it (@len bytes, not terminated):
 * one trailing NUL, then one trailing newline, are dropped (what C
 * strings and echo add).  What is left must be 1..USM_XATTR_VALUE_MAX
 * bytes without a NUL: *@len is set to its length, else -EINVAL.
 */
static inline int usm_core_xattr_value(const char *value, unsigned long *len)
{
	unsigned long n = *len, i;

	if (n && value[n - 1] == '\0')
		n--;
	if (n && value[n - 1] == '\n')
		n--;
	if (!n || n > USM_XATTR_VALUE_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!value[i])
			return -EINVAL;
	*len = n;
	return 0;
}

#endif /* USM_PARSE_CORE_H */
