// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * parse.c - sizes, durations, names, user.usm.* xattrs, per-file policy and
 * mount options (usm/parse.h).
 *
 * Every parser works on a copy or validates fully before it stores: on
 * error the destination is exactly as it was.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <usm/parse.h>
#include <usm/parse-core.h>
#include <usm/policy.h>

/*
 * Store a string of @len (< @size) bytes and clear the rest of the field,
 * so that no old value lingers behind the NUL (structs compare equal
 * byte for byte, and nothing stale is ever copied out).
 */
static void set_field(char *dst, size_t size, const char *src, size_t len)
{
	memcpy(dst, src, len);
	memset(dst + len, 0, size - len);
}

/* ---------------------------------------------------------------- numbers */

/*
 * The syntax itself is usm/parse-core.h, which the kernel module includes
 * too; these adapt it to uint64_t.
 */

/* Decimal digits [s, *end): at least one, no sign, no space. */
static int parse_digits(const char *s, const char **end, uint64_t *out)
{
	unsigned long long v;
	int ret = usm_core_digits(s, end, &v);

	if (!ret)
		*out = v;
	return ret;
}

/*
 * The strict size of the xattr table and of nr_inodes=: digits with an
 * optional single K/M/G/T (either case), nothing else.  The kernel module
 * accepts exactly the same.
 */
static int parse_size_strict(const char *s, uint64_t *out)
{
	unsigned long long v;
	int ret;

	if (!s)
		return -EINVAL;
	ret = usm_core_size_strict(s, &v);
	if (!ret)
		*out = v;
	return ret;
}

int usm_parse_size(const char *s, uint64_t pct_base, uint64_t *out)
{
	unsigned long long v;
	int is_pct, ret;

	if (!s || !out)
		return -EINVAL;
	ret = usm_core_size(s, &v, &is_pct);
	if (ret)
		return ret;
	if (is_pct) {
		unsigned __int128 r;

		if (!pct_base)
			return -EINVAL;
		r = (unsigned __int128)pct_base * v / 100;
		if (r > UINT64_MAX)
			return -ERANGE;
		*out = (uint64_t)r;
		return 0;
	}
	*out = v;
	return 0;
}

static const char unit_chars[] = "KMGT";

/* Exact, re-parseable: the largest unit that divides @bytes. */
static int format_size_exact(uint64_t bytes, char *buf, size_t len)
{
	unsigned long long n;
	char unit = usm_core_size_unit(bytes, &n);

	if (unit)
		return snprintf(buf, len, "%llu%c", n, unit);
	return snprintf(buf, len, "%llu", n);
}

/*
 * For people: up to 9999 bytes as they are, else in the largest unit that
 * fits, with one decimal when it is not a whole number ("1.5G").
 */
void usm_format_size(uint64_t bytes, char *buf, size_t len)
{
	unsigned __int128 tenths;
	int i;

	if (!buf || !len)
		return;
	if (bytes < 10000) {
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
		return;
	}
	for (i = 3; i > 0; i--)
		if (bytes >= 1ULL << (10 * (i + 1)))
			break;
	/* Round to tenths; 1023.96K becomes 1M, not "1024.0K". */
	tenths = ((unsigned __int128)bytes * 10 + (1ULL << (10 * (i + 1))) / 2) >>
		 (10 * (i + 1));
	if (tenths >= 10240 && i < 3) {
		i++;
		tenths = ((unsigned __int128)bytes * 10 +
			  (1ULL << (10 * (i + 1))) / 2) >> (10 * (i + 1));
	}
	if (tenths % 10 == 0)
		snprintf(buf, len, "%llu%c", (unsigned long long)(tenths / 10),
			 unit_chars[i]);
	else
		snprintf(buf, len, "%llu.%u%c",
			 (unsigned long long)(tenths / 10),
			 (unsigned int)(tenths % 10), unit_chars[i]);
}

int usm_parse_duration_ms(const char *s, uint64_t *out_ms)
{
	unsigned long long v;
	int ret;

	if (!s || !out_ms)
		return -EINVAL;
	ret = usm_core_duration_ms(s, &v);
	if (!ret)
		*out_ms = v;
	return ret;
}

static int format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms && ms % 1000 == 0)
		return snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	return snprintf(buf, len, "%llums", (unsigned long long)ms);
}

int usm_name_valid(const char *s, size_t len)
{
	return usm_core_name_valid(s, len);
}

/* ----------------------------------------------------------------- xattrs */

enum xattr_kind { KIND_ALLOC, KIND_EVICT, KIND_INT, KIND_BYTES, KIND_STORE,
		  KIND_STATS };

struct xattr_def {
	const char *name;	/* full name */
	enum xattr_kind kind;
	unsigned long long lo, hi;
};

static const struct xattr_def xattr_defs[USM_XATTR_NR] = {
#define USM_XATTR_DEF(id, suffix, kind, lo, hi) \
	[USM_XATTR_##id] = { USM_XATTR_PREFIX suffix, KIND_##kind, lo, hi },
	USM_XATTR_TABLE(USM_XATTR_DEF)
#undef USM_XATTR_DEF
};

#define XATTR_PREFIX_LEN	(sizeof(USM_XATTR_PREFIX) - 1)

int usm_xattr_lookup(const char *name)
{
	int i;

	if (!name || strncmp(name, USM_XATTR_PREFIX, XATTR_PREFIX_LEN))
		return -ENODATA;
	for (i = 0; i < USM_XATTR_NR; i++)
		if (!strcmp(name, xattr_defs[i].name))
			return i;
	return -EINVAL;
}

const char *usm_xattr_name(enum usm_xattr_id id)
{
	if ((unsigned int)id >= USM_XATTR_NR)
		return NULL;
	return xattr_defs[id].name;
}

void usm_file_policy_init(struct usm_file_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	snprintf(pol->alloc, sizeof(pol->alloc), "%s", USM_DEFAULT_ALLOC);
	snprintf(pol->evict, sizeof(pol->evict), "%s", USM_DEFAULT_EVICT);
	pol->prio = USM_DEFAULT_PRIO;
}

/* The one field each INT/BYTES attribute lands in. */
static int policy_store_int(struct usm_file_policy *pol, enum usm_xattr_id id,
			    uint64_t v)
{
	switch (id) {
	case USM_XATTR_PRIO:
		pol->prio = (uint32_t)v;
		return 0;
	case USM_XATTR_LIMIT:
		pol->limit = v;
		return 0;
	default:
		return -EINVAL;
	}
}

static uint64_t policy_load_int(const struct usm_file_policy *pol,
				enum usm_xattr_id id)
{
	return id == USM_XATTR_PRIO ? pol->prio : pol->limit;
}

static char *policy_name_field(struct usm_file_policy *pol,
			       enum usm_xattr_id id)
{
	switch (id) {
	case USM_XATTR_ALLOC: return pol->alloc;
	case USM_XATTR_EVICT: return pol->evict;
	case USM_XATTR_SWAP: return pol->swap;
	default: return NULL;
	}
}

int usm_file_policy_set(struct usm_file_policy *pol, enum usm_xattr_id id,
			const char *value, size_t len)
{
	char v[USM_XATTR_VALUE_MAX + 1];
	const struct xattr_def *d;
	unsigned long vlen;
	const char *end;
	uint64_t n;
	char *field;

	if (!pol || (unsigned int)id >= USM_XATTR_NR || (!value && len))
		return -EINVAL;
	d = &xattr_defs[id];
	if (d->kind == KIND_STATS)
		return -EPERM;

	/* Tolerate what echo and C strings add: one NUL, then one newline. */
	vlen = len;
	if (usm_core_xattr_value(value, &vlen))
		return -EINVAL;
	len = vlen;
	memcpy(v, value, len);
	v[len] = '\0';

	switch (d->kind) {
	case KIND_ALLOC:
		if (!usm_name_valid(v, len) || !usm_find_alloc(v))
			return -EINVAL;
		break;
	case KIND_EVICT:
		if (!usm_name_valid(v, len) || !usm_find_evict(v))
			return -EINVAL;
		break;
	case KIND_STORE:
		if (!usm_name_valid(v, len))
			return -EINVAL;
		break;
	case KIND_INT:
	case KIND_BYTES:
		if (d->kind == KIND_INT ?
		    parse_digits(v, &end, &n) || *end :
		    parse_size_strict(v, &n) != 0)
			return -EINVAL;
		if (n < d->lo || n > d->hi || policy_store_int(pol, id, n))
			return -EINVAL;
		pol->set |= 1u << id;
		return 0;
	default:
		return -EINVAL;
	}

	field = policy_name_field(pol, id);
	if (!field)
		return -EINVAL;
	set_field(field, USM_NAME_MAX + 1, v, len);	/* len <= USM_NAME_MAX */
	pol->set |= 1u << id;
	return 0;
}

int usm_file_policy_unset(struct usm_file_policy *pol, enum usm_xattr_id id,
			  const struct usm_file_policy *dflt)
{
	struct usm_file_policy def;
	char *field;

	if (!pol || (unsigned int)id >= USM_XATTR_NR)
		return -EINVAL;
	if (xattr_defs[id].kind == KIND_STATS)
		return -EPERM;
	if (!(pol->set & (1u << id)))
		return -ENODATA;
	if (!dflt) {
		usm_file_policy_init(&def);
		dflt = &def;
	}
	field = policy_name_field(pol, id);
	if (field)
		memcpy(field, policy_name_field((struct usm_file_policy *)dflt, id),
		       USM_NAME_MAX + 1);
	else
		policy_store_int(pol, id, policy_load_int(dflt, id));
	pol->set &= ~(1u << id);
	return 0;
}

int usm_file_policy_get(const struct usm_file_policy *pol,
			enum usm_xattr_id id, char *buf, size_t len)
{
	const char *s;

	if (!pol || (unsigned int)id >= USM_XATTR_NR || (!buf && len))
		return -EINVAL;
	switch (xattr_defs[id].kind) {
	case KIND_ALLOC:
	case KIND_EVICT:
	case KIND_STORE:
		s = policy_name_field((struct usm_file_policy *)pol, id);
		return snprintf(buf, len, "%s", s);
	case KIND_INT:
		return snprintf(buf, len, "%llu",
				(unsigned long long)policy_load_int(pol, id));
	case KIND_BYTES:
		return format_size_exact(policy_load_int(pol, id), buf, len);
	default:
		return -EINVAL;
	}
}

void usm_file_policy_inherit(struct usm_file_policy *child,
			     const struct usm_file_policy *parent)
{
	int id;

	for (id = 0; id < USM_XATTR_NR; id++) {
		char *field;

		if (!(parent->set & (1u << id)) ||
		    xattr_defs[id].kind == KIND_STATS)
			continue;
		field = policy_name_field(child, id);
		if (field)
			memcpy(field,
			       policy_name_field((struct usm_file_policy *)parent,
						 id),
			       USM_NAME_MAX + 1);
		else
			policy_store_int(child, id, policy_load_int(parent, id));
		child->set |= 1u << id;
	}
}

/* ---------------------------------------------------------- mount options */

#define DEFAULT_MODE		01777u
#define DEFAULT_SWAP		"none"
#define DEFAULT_SWAPIN_MS	30000u

void usm_mount_opts_init(struct usm_mount_opts *mo)
{
	memset(mo, 0, sizeof(*mo));
	mo->mode = DEFAULT_MODE;
	snprintf(mo->alloc, sizeof(mo->alloc), "%s", USM_DEFAULT_ALLOC);
	snprintf(mo->evict, sizeof(mo->evict), "%s", USM_DEFAULT_EVICT);
	snprintf(mo->swap, sizeof(mo->swap), "%s", DEFAULT_SWAP);
	mo->swapin_timeout_ms = DEFAULT_SWAPIN_MS;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *const mopt_names[USM_MOPT_NR] = {
	[USM_MOPT_SIZE] = "size",
	[USM_MOPT_NR_INODES] = "nr_inodes",
	[USM_MOPT_MODE] = "mode",
	[USM_MOPT_UID] = "uid",
	[USM_MOPT_GID] = "gid",
	[USM_MOPT_ALLOC] = "alloc",
	[USM_MOPT_EVICT] = "evict",
	[USM_MOPT_SWAP] = "swap",
	[USM_MOPT_SWAPIN_TIMEOUT] = "swapin_timeout",
	[USM_MOPT_CONFIG] = "config",
};

/* What each option expects, for messages. */
static const char *const mopt_expect[USM_MOPT_NR] = {
	[USM_MOPT_SIZE] = "bytes with K/M/G/T or N%",
	[USM_MOPT_NR_INODES] = "a count with K/M/G/T",
	[USM_MOPT_MODE] = "octal, at most 7777",
	[USM_MOPT_UID] = "a decimal uid",
	[USM_MOPT_GID] = "a decimal gid",
	[USM_MOPT_ALLOC] = "a registered placement policy",
	[USM_MOPT_EVICT] = "a registered eviction policy",
	[USM_MOPT_SWAP] = "none, file:/ABSOLUTE/PATH, rados:POOL or a store name",
	[USM_MOPT_SWAPIN_TIMEOUT] = "a duration: N, Ns, Nms, Nm or Nh, at most 4294967295ms (about 49 days)",
	[USM_MOPT_CONFIG] = "a file path",
};

static int parse_id(const char *s, uint32_t *out)
{
	const char *end;
	uint64_t v;

	if (parse_digits(s, &end, &v) || *end || v >= UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Validate @val for option @o into @mo (a scratch copy). */
static int mopt_apply(struct usm_mount_opts *mo, enum usm_mount_opt o,
		      const char *val)
{
	size_t len = strlen(val);
	const char *end;
	uint64_t v;
	int i;

	switch (o) {
	case USM_MOPT_SIZE:
		if (parse_digits(val, &end, &v))
			return -EINVAL;
		if (end[0] == '%' && !end[1]) {
			if (v < 1 || v > 100)
				return -EINVAL;
			mo->size_pct = (uint32_t)v;
			mo->size = 0;
			return 0;
		}
		if (usm_parse_size(val, 0, &v))
			return -EINVAL;
		mo->size = v;
		mo->size_pct = 0;
		return 0;
	case USM_MOPT_NR_INODES:
		if (parse_size_strict(val, &v))
			return -EINVAL;
		mo->nr_inodes = v;
		return 0;
	case USM_MOPT_MODE:
		if (!len)
			return -EINVAL;
		v = 0;
		for (i = 0; val[i]; i++) {
			if (val[i] < '0' || val[i] > '7' || v > 07777)
				return -EINVAL;
			v = v * 8 + (uint64_t)(val[i] - '0');
		}
		if (v > 07777)
			return -EINVAL;
		mo->mode = (uint32_t)v;
		return 0;
	case USM_MOPT_UID:
		return parse_id(val, &mo->uid);
	case USM_MOPT_GID:
		return parse_id(val, &mo->gid);
	case USM_MOPT_ALLOC:
		if (!usm_name_valid(val, len) || !usm_find_alloc(val))
			return -EINVAL;
		set_field(mo->alloc, sizeof(mo->alloc), val, len);
		return 0;
	case USM_MOPT_EVICT:
		if (!usm_name_valid(val, len) || !usm_find_evict(val))
			return -EINVAL;
		set_field(mo->evict, sizeof(mo->evict), val, len);
		return 0;
	case USM_MOPT_SWAP:
		if (len >= sizeof(mo->swap))
			return -EINVAL;
		if (!strncmp(val, "file:", 5)) {
			if (val[5] != '/')
				return -EINVAL;
		} else if (!strncmp(val, "rados:", 6)) {
			if (len == 6 || val[6] == ':')
				return -EINVAL;
		} else if (strcmp(val, "none") && !usm_name_valid(val, len)) {
			return -EINVAL;
		}
		set_field(mo->swap, sizeof(mo->swap), val, len);
		return 0;
	case USM_MOPT_SWAPIN_TIMEOUT:
		if (usm_parse_duration_ms(val, &v) ||
		    v > USM_SWAPIN_TIMEOUT_MAX_MS)
			return -EINVAL;
		mo->swapin_timeout_ms = v;
		return 0;
	case USM_MOPT_CONFIG:
		if (!len || len >= sizeof(mo->config))
			return -EINVAL;
		set_field(mo->config, sizeof(mo->config), val, len);
		return 0;
	default:
		return -EINVAL;
	}
}

int usm_mount_opt_set(struct usm_mount_opts *mo, const char *key,
		      const char *val, char *err, size_t errlen)
{
	struct usm_mount_opts tmp;
	int o;

	if (!mo || !key)
		return -EINVAL;
	for (o = 0; o < USM_MOPT_NR; o++)
		if (!strcmp(key, mopt_names[o]))
			break;
	if (o == USM_MOPT_NR) {
		set_err(err, errlen, "unknown option '%s'", key);
		return -ENOENT;
	}
	if (!val) {
		set_err(err, errlen, "option '%s' needs a value (%s)", key,
			mopt_expect[o]);
		return -EINVAL;
	}
	memcpy(&tmp, mo, sizeof(tmp));
	if (mopt_apply(&tmp, (enum usm_mount_opt)o, val)) {
		set_err(err, errlen, "bad value for '%s': '%s' (expected %s)",
			key, val, mopt_expect[o]);
		return -EINVAL;
	}
	tmp.seen |= 1u << o;
	memcpy(mo, &tmp, sizeof(*mo));
	return 0;
}

int usm_mount_opts_parse(struct usm_mount_opts *mo, const char *opts,
			 char *rest, size_t restlen, char *err, size_t errlen)
{
	struct usm_mount_opts tmp;
	size_t rlen = 0, olen;
	char *copy, *newrest, *tok, *save = NULL;
	int ret = 0;

	if (!mo)
		return -EINVAL;
	if (!opts || !*opts)
		return 0;
	if (rest) {
		if (!restlen)
			return -E2BIG;
		rlen = strnlen(rest, restlen);
		if (rlen == restlen)
			return -E2BIG;
	}
	olen = strlen(opts);
	/* Room for the options themselves and what @rest already holds. */
	copy = malloc(olen + 1 + (rest ? rlen + olen + 2 : 0));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, opts, olen + 1);
	newrest = copy + olen + 1;

	if (rest)
		memcpy(newrest, rest, rlen + 1);

	memcpy(&tmp, mo, sizeof(tmp));
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		size_t tlen;

		if (eq)
			*eq = '\0';
		ret = usm_mount_opt_set(&tmp, tok, eq ? eq + 1 : NULL, err,
					errlen);
		if (eq)
			*eq = '=';
		if (ret != -ENOENT) {
			if (ret)
				goto out;
			continue;
		}
		if (!rest) {
			ret = -EINVAL;
			goto out;	/* "unknown option 'x'" already in @err */
		}
		if (err && errlen)
			err[0] = '\0';
		tlen = strlen(tok);
		if (rlen)
			newrest[rlen++] = ',';
		memcpy(newrest + rlen, tok, tlen + 1);
		rlen += tlen;
		ret = 0;
	}
	if (rest && rlen >= restlen) {
		set_err(err, errlen, "too many options to pass on");
		ret = -E2BIG;
		goto out;
	}
	if (rest)
		memcpy(rest, newrest, rlen + 1);
	memcpy(mo, &tmp, sizeof(*mo));
out:
	free(copy);
	return ret;
}

void usm_mount_opts_resolve(struct usm_mount_opts *mo, uint64_t pool_bytes)
{
	unsigned __int128 r;

	if (!mo->size_pct)
		return;
	r = (unsigned __int128)pool_bytes * mo->size_pct / 100;
	mo->size = (uint64_t)r & ~(uint64_t)(USM_PAGE_SIZE - 1);
}

struct strbuf {
	char *buf;
	size_t len;
	size_t pos;		/* may run past len: the length needed */
};

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(sb->pos < sb->len ? sb->buf + sb->pos : NULL,
		      sb->pos < sb->len ? sb->len - sb->pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb->pos += (size_t)n;
}

int usm_mount_opts_show(const struct usm_mount_opts *mo, char *buf,
			size_t len)
{
	struct strbuf sb = { buf, buf ? len : 0, 0 };
	const char *sep = "";
	char tmp[32];

	if (sb.len)
		buf[0] = '\0';
	if (mo->size_pct) {
		sb_printf(&sb, "%ssize=%u%%", sep, mo->size_pct);
		sep = ",";
	} else if (mo->size) {
		format_size_exact(mo->size, tmp, sizeof(tmp));
		sb_printf(&sb, "%ssize=%s", sep, tmp);
		sep = ",";
	}
	if (mo->nr_inodes) {
		format_size_exact(mo->nr_inodes, tmp, sizeof(tmp));
		sb_printf(&sb, "%snr_inodes=%s", sep, tmp);
		sep = ",";
	}
	if (mo->mode != DEFAULT_MODE) {
		sb_printf(&sb, "%smode=%04o", sep, mo->mode);
		sep = ",";
	}
	if (mo->uid) {
		sb_printf(&sb, "%suid=%u", sep, mo->uid);
		sep = ",";
	}
	if (mo->gid) {
		sb_printf(&sb, "%sgid=%u", sep, mo->gid);
		sep = ",";
	}
	if (strcmp(mo->alloc, USM_DEFAULT_ALLOC)) {
		sb_printf(&sb, "%salloc=%s", sep, mo->alloc);
		sep = ",";
	}
	if (strcmp(mo->evict, USM_DEFAULT_EVICT)) {
		sb_printf(&sb, "%sevict=%s", sep, mo->evict);
		sep = ",";
	}
	if (strcmp(mo->swap, DEFAULT_SWAP)) {
		sb_printf(&sb, "%sswap=%s", sep, mo->swap);
		sep = ",";
	}
	if (mo->swapin_timeout_ms != DEFAULT_SWAPIN_MS) {
		format_duration(mo->swapin_timeout_ms, tmp, sizeof(tmp));
		sb_printf(&sb, "%sswapin_timeout=%s", sep, tmp);
		sep = ",";
	}
	if (mo->config[0])
		sb_printf(&sb, "%sconfig=%s", sep, mo->config);
	return (int)sb.pos;
}
