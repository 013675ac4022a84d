// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * config.c - /etc/usmfs/usmfs.conf (usm/config.h), read with libinih.
 *
 * libinih does the INI syntax; we feed it through ini_parse_stream() with a
 * reader of our own, because the packaged ini.h builds handlers without
 * line numbers (INI_HANDLER_LINENO 0).  The reader
 *  - counts lines, so every message can say FILE:LINE;
 *  - strips leading blanks, so that indented keys are keys and not
 *    multi-line continuations (ini_allow_multiline is a process global we
 *    leave alone);
 *  - after each "[section]" line hands inih one synthetic "\1 =" line, so
 *    that the handler learns of every section where it starts, even one
 *    with no keys, and of a section repeated under the same name;
 *  - refuses lines too long for inih's buffer and control characters
 *    instead of letting inih split or misread them.
 *
 * Loading then goes in three passes over what the handler recorded:
 * structure (sections, duplicate keys) while parsing; plugins; values in
 * file order (so that a rule may name a plugin's policy loaded in a
 * [plugins] section further down); cross-checks (a rule needs path or
 * process, watermarks, stores).  The first error by line wins.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include <usm/config.h>
#include <usm/policy.h>
#include <usm/swap.h>

#define CONFIG_MAX_BYTES	(1u << 20)
#define SYNTH_KEY		"\x01"

enum sect_kind { SECT_POOL, SECT_PLUGINS, SECT_STORE, SECT_RULE,
		 SECT_THRESHOLD };

static const char *const sect_names[] = {
	[SECT_POOL] = "pool", [SECT_PLUGINS] = "plugins",
	[SECT_STORE] = "store", [SECT_RULE] = "rule",
	[SECT_THRESHOLD] = "threshold",
};

struct sect {
	enum sect_kind kind;
	char *label;		/* "" for pool and plugins */
	unsigned int line;
	size_t idx;		/* index in cfg->stores/rules/thresholds */
};

struct entry {
	size_t sect;
	char *key, *value;
	unsigned int line;
};

struct loader {
	struct usm_config *cfg;
	unsigned int flags;
	const char *fname;

	/* the reader */
	const char *p, *end;
	unsigned int lineno;		/* real lines handed out */
	int synth_pending;
	unsigned int *map;		/* inih's line number -> real one */
	size_t nr_map, map_cap;

	/* what the handler recorded */
	struct sect *sects;
	size_t nr_sects;
	long cur;			/* current section, -1 = none/bad */
	struct entry *ents;
	size_t nr_ents;
	int seen_pool;
	unsigned int low_line, high_line;

	/* the first error */
	unsigned int err_line;
	int err_no;
	char msg[512];
};

/* ---------------------------------------------------------------- helpers */

static void lerr(struct loader *ld, unsigned int line, const struct sect *s,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Record an error at @line unless one at an earlier line is already there. */
static void lerr(struct loader *ld, unsigned int line, const struct sect *s,
		 const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (ld->err_line && ld->err_line <= line)
		return;
	ld->err_line = line;
	ld->err_no = EINVAL;
	if (s)
		n = snprintf(ld->msg, sizeof(ld->msg), "[%s%s%s]: ",
			     sect_names[s->kind], s->label[0] ? " " : "",
			     s->label);
	if (n < 0 || (size_t)n >= sizeof(ld->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(ld->msg + n, sizeof(ld->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void oom(struct loader *ld)
{
	if (ld->err_no != ENOMEM) {
		ld->err_line = 1;
		ld->err_no = ENOMEM;
		snprintf(ld->msg, sizeof(ld->msg), "out of memory");
	}
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *n;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

/* ----------------------------------------------------------------- reader */

static int map_line(struct loader *ld, unsigned int real)
{
	if (grow((void **)&ld->map, &ld->map_cap, ld->nr_map + 1,
		 sizeof(*ld->map)))
		return -ENOMEM;
	ld->map[ld->nr_map++] = real;
	return 0;
}

static char *config_reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	const char *line, *nl, *q;
	size_t len;

	if (num < 8)
		return NULL;
	if (ld->synth_pending) {
		ld->synth_pending = 0;
		if (map_line(ld, ld->lineno)) {
			oom(ld);
			return NULL;
		}
		strcpy(str, SYNTH_KEY " =\n");
		return str;
	}
	if (ld->p >= ld->end)
		return NULL;

	line = ld->p;
	nl = memchr(line, '\n', (size_t)(ld->end - line));
	ld->p = nl ? nl + 1 : ld->end;
	len = (size_t)((nl ? nl : ld->end) - line);
	ld->lineno++;
	if (map_line(ld, ld->lineno)) {
		oom(ld);
		return NULL;
	}

	/* a UTF-8 byte order mark, then leading blanks */
	if (ld->lineno == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
		line += 3;
		len -= 3;
	}
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	for (q = line; q < line + len; q++) {
		unsigned char c = (unsigned char)*q;

		if ((c < 0x20 && c != '\t' && !(c == '\r' && q == line + len - 1)) ||
		    c == 0x7f) {
			lerr(ld, ld->lineno, NULL,
			     "control character 0x%02x in line", c);
			strcpy(str, "\n");
			return str;
		}
	}
	if (len + 2 > (size_t)num) {
		lerr(ld, ld->lineno, NULL, "line too long (at most %d characters)",
		     num - 2);
		strcpy(str, "\n");
		return str;
	}
	memcpy(str, line, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	if (len && *line == '[')
		ld->synth_pending = 1;
	return str;
}

/* -------------------------------------------------- pass 1: the structure */

static struct sect *find_sect(struct loader *ld, enum sect_kind kind,
			      const char *label)
{
	size_t i;

	for (i = 0; i < ld->nr_sects; i++)
		if (ld->sects[i].kind == kind &&
		    !strcmp(ld->sects[i].label, label))
			return &ld->sects[i];
	return NULL;
}

static int parse_pct(const char *s, int need_sign, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || v > 100)
		return -EINVAL;
	if (*end == '%')
		end++;
	else if (need_sign)
		return -EINVAL;
	if (*end)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int add_to(void **arr, size_t *nr, size_t elem)
{
	void *n = realloc(*arr, (*nr + 1) * elem);

	if (!n)
		return -ENOMEM;
	*arr = n;
	memset((char *)n + *nr * elem, 0, elem);
	(*nr)++;
	return 0;
}

/* A "[kind label]" line: make the section (and its store/rule/threshold). */
static void start_section(struct loader *ld, const char *section)
{
	struct usm_config *cfg = ld->cfg;
	unsigned int line = ld->lineno;
	char buf[64], *kind, *label, *sp;
	struct sect *s, *old;
	size_t i;
	int k = -1;

	ld->cur = -1;
	snprintf(buf, sizeof(buf), "%s", section);
	kind = buf;
	while (*kind == ' ' || *kind == '\t')
		kind++;
	sp = kind + strcspn(kind, " \t");
	label = sp + strspn(sp, " \t");
	*sp = '\0';
	for (sp = label + strlen(label); sp > label && (sp[-1] == ' ' || sp[-1] == '\t'); )
		*--sp = '\0';

	for (i = 0; i < sizeof(sect_names) / sizeof(sect_names[0]); i++)
		if (!strcmp(kind, sect_names[i]))
			k = (int)i;
	if (k < 0) {
		lerr(ld, line, NULL, "unknown section '[%s]' (expected pool, "
		     "store NAME, plugins, rule NAME or threshold N%%)", section);
		return;
	}
	if ((k == SECT_POOL || k == SECT_PLUGINS) && *label) {
		lerr(ld, line, NULL, "section '[%s]' takes no name", section);
		return;
	}
	if ((k == SECT_STORE || k == SECT_RULE || k == SECT_THRESHOLD) &&
	    !*label) {
		lerr(ld, line, NULL, "section '[%s]' needs a %s", section,
		     k == SECT_THRESHOLD ? "percentage" : "name");
		return;
	}
	if (strpbrk(label, " \t")) {
		lerr(ld, line, NULL, "section '[%s]': one name only", section);
		return;
	}
	if (k == SECT_STORE && !usm_name_valid(label, strlen(label))) {
		lerr(ld, line, NULL, "bad store name '%s' (expected [a-z0-9_-], "
		     "1..%d characters)", label, USM_NAME_MAX);
		return;
	}
	if (k == SECT_STORE && (!strcmp(label, "none") ||
				!strcmp(label, "default"))) {
		lerr(ld, line, NULL, "store name '%s' is reserved", label);
		return;
	}
	if (k == SECT_THRESHOLD) {
		uint32_t pct;

		if (parse_pct(label, 1, &pct) || pct < 1) {
			lerr(ld, line, NULL, "bad threshold '%s' (expected 1%%..100%%)",
			     label);
			return;
		}
		for (i = 0; i < cfg->nr_thresholds; i++)
			if (cfg->thresholds[i].pct == pct) {
				lerr(ld, line, NULL, "duplicate threshold %u%% "
				     "(first at line %u)", pct,
				     cfg->thresholds[i].line);
				return;
			}
	}
	old = find_sect(ld, (enum sect_kind)k, label);
	if (old && k != SECT_PLUGINS && k != SECT_THRESHOLD) {
		lerr(ld, line, NULL, "duplicate %s%s%s (first at line %u)",
		     k == SECT_POOL ? "section [pool]" : sect_names[k],
		     *label ? " " : "", label, old->line);
		return;
	}

	if (add_to((void **)&ld->sects, &ld->nr_sects, sizeof(*ld->sects)))
		goto nomem;
	s = &ld->sects[ld->nr_sects - 1];
	s->kind = (enum sect_kind)k;
	s->line = line;
	s->label = strdup(label);
	if (!s->label)
		goto nomem;
	ld->cur = (long)(ld->nr_sects - 1);

	switch (k) {
	case SECT_STORE: {
		struct usm_config_store *st;

		if (add_to((void **)&cfg->stores, &cfg->nr_stores, sizeof(*st)))
			goto nomem;
		st = &cfg->stores[cfg->nr_stores - 1];
		memcpy(st->name, label, strlen(label) + 1);
		s->idx = cfg->nr_stores - 1;
		break;
	}
	case SECT_RULE: {
		struct usm_config_rule *r;

		if (add_to((void **)&cfg->rules, &cfg->nr_rules, sizeof(*r)))
			goto nomem;
		r = &cfg->rules[cfg->nr_rules - 1];
		usm_file_policy_init(&r->pol);
		r->line = line;
		r->name = strdup(label);
		if (!r->name)
			goto nomem;
		s->idx = cfg->nr_rules - 1;
		break;
	}
	case SECT_THRESHOLD: {
		struct usm_config_threshold *t;

		if (add_to((void **)&cfg->thresholds, &cfg->nr_thresholds,
			   sizeof(*t)))
			goto nomem;
		t = &cfg->thresholds[cfg->nr_thresholds - 1];
		usm_file_policy_init(&t->pol);
		t->line = line;
		parse_pct(label, 1, &t->pct);
		s->idx = cfg->nr_thresholds - 1;
		break;
	}
	default:
		break;
	}
	return;
nomem:
	oom(ld);
	ld->cur = -1;
}

static int config_handler(void *user, const char *section, const char *name,
			  const char *value)
{
	struct loader *ld = user;
	struct entry *e;
	struct sect *s;
	size_t i;

	if (ld->err_no == ENOMEM)
		return 0;
	if (!strcmp(name, SYNTH_KEY)) {
		start_section(ld, section);
		return 1;
	}
	if (ld->nr_sects == 0 && ld->cur < 0 && !*section) {
		lerr(ld, ld->lineno, NULL, "key '%s' outside any section", name);
		return 1;
	}
	if (ld->cur < 0)
		return 1;	/* in a bad section: already reported */
	s = &ld->sects[ld->cur];
	if (!*name) {
		lerr(ld, ld->lineno, s, "empty key");
		return 1;
	}
	for (i = ld->nr_ents; i-- > 0; ) {
		e = &ld->ents[i];
		if (e->sect != (size_t)ld->cur)
			break;
		if (!strcmp(e->key, name) && s->kind != SECT_PLUGINS) {
			lerr(ld, ld->lineno, s, "duplicate key '%s' (first at line %u)",
			     name, e->line);
			return 1;
		}
	}
	if (add_to((void **)&ld->ents, &ld->nr_ents, sizeof(*ld->ents)))
		goto nomem;
	e = &ld->ents[ld->nr_ents - 1];
	e->sect = (size_t)ld->cur;
	e->line = ld->lineno;
	e->key = strdup(name);
	e->value = strdup(value);
	if (!e->key || !e->value)
		goto nomem;
	return 1;
nomem:
	oom(ld);
	return 0;
}

/* --------------------------------------------------------- pass 2: values */

static int store_known(const struct usm_config *cfg, const char *name)
{
	return !strcmp(name, "none") || usm_config_find_store(cfg, name) != NULL;
}

static int swap_spec_valid(const char *spec)
{
	return !strcmp(spec, "none") ||
	       (!strncmp(spec, "file:", 5) && spec[5] == '/') ||
	       (!strncmp(spec, "rados:", 6) && spec[6] && spec[6] != ':');
}

/* key = value of a user.usm.* attribute into @pol. */
static void set_attr(struct loader *ld, const struct sect *s,
		     const struct entry *e, struct usm_file_policy *pol)
{
	char xname[80];
	int id;

	snprintf(xname, sizeof(xname), USM_XATTR_PREFIX "%s", e->key);
	id = usm_xattr_lookup(xname);
	if (id < 0 || strlen(e->key) > 32) {
		lerr(ld, e->line, s, "unknown key '%s'", e->key);
		return;
	}
	if (id == USM_XATTR_STATS) {
		lerr(ld, e->line, s, "'stats' is read-only");
		return;
	}
	if (!usm_file_policy_set(pol, (enum usm_xattr_id)id, e->value,
				 strlen(e->value)))
		goto stored;

	switch (id) {
	case USM_XATTR_ALLOC:
		lerr(ld, e->line, s, "unknown placement policy '%s'", e->value);
		break;
	case USM_XATTR_EVICT:
		lerr(ld, e->line, s, "unknown eviction policy '%s'", e->value);
		break;
	case USM_XATTR_PRIO:
		lerr(ld, e->line, s, "bad value for 'prio': '%s' (expected 0..7)",
		     e->value);
		break;
	case USM_XATTR_LIMIT:
		lerr(ld, e->line, s, "bad value for 'limit': '%s' (expected bytes "
		     "with K/M/G/T, at most 1024T)", e->value);
		break;
	default:
		lerr(ld, e->line, s, "bad value for '%s': '%s' (expected a store "
		     "name or none)", e->key, e->value);
		break;
	}
	return;
stored:
	if (id == USM_XATTR_SWAP && !store_known(ld->cfg, e->value))
		lerr(ld, e->line, s, "unknown store '%s'", e->value);
}

static char *dup_or_oom(struct loader *ld, const char *v)
{
	char *d = strdup(v);

	if (!d)
		oom(ld);
	return d;
}

static void apply_entry(struct loader *ld, const struct entry *e)
{
	struct usm_config *cfg = ld->cfg;
	const struct sect *s = &ld->sects[e->sect];
	struct usm_config_rule *r;
	uint32_t pct;

	switch (s->kind) {
	case SECT_POOL:
		if (!strcmp(e->key, "low_watermark") ||
		    !strcmp(e->key, "high_watermark")) {
			int low = e->key[0] == 'l';

			if (parse_pct(e->value, 0, &pct) || pct < 1 ||
			    pct > 100 || (low && pct > 99) || (!low && pct < 2)) {
				lerr(ld, e->line, s, "bad value for '%s': '%s' "
				     "(expected a percentage, %s)", e->key,
				     e->value, low ? "1..99%" : "2..100%");
				return;
			}
			if (low) {
				cfg->low_pct = pct;
				ld->low_line = e->line;
			} else {
				cfg->high_pct = pct;
				ld->high_line = e->line;
			}
			return;
		}
		if (strcmp(e->key, "alloc") && strcmp(e->key, "evict") &&
		    strcmp(e->key, "swap")) {
			lerr(ld, e->line, s, "unknown key '%s'", e->key);
			return;
		}
		set_attr(ld, s, e, &cfg->defaults);
		return;
	case SECT_PLUGINS:
		if (strcmp(e->key, "load"))
			lerr(ld, e->line, s, "unknown key '%s'", e->key);
		return;		/* loaded before this pass */
	case SECT_STORE:
		if (strcmp(e->key, "path")) {
			lerr(ld, e->line, s, "unknown key '%s'", e->key);
			return;
		}
		if (!swap_spec_valid(e->value)) {
			lerr(ld, e->line, s, "bad value for 'path': '%s' "
			     "(expected file:/ABSOLUTE/PATH, rados:POOL or none)", e->value);
			return;
		}
		if (ld->flags & USM_CONFIG_CHECK_STORES) {
			char why[512] = "";

			if (usm_store_check(e->value, why, sizeof(why))) {
				lerr(ld, e->line, s, "%s", why);
				return;
			}
		}
		cfg->stores[s->idx].spec = dup_or_oom(ld, e->value);
		return;
	case SECT_RULE:
		r = &cfg->rules[s->idx];
		if (!strcmp(e->key, "path")) {
			if (e->value[0] != '/') {
				lerr(ld, e->line, s, "bad value for 'path': '%s' "
				     "(expected a glob starting with '/', "
				     "relative to the mount root)", e->value);
				return;
			}
			r->path_glob = dup_or_oom(ld, e->value);
			return;
		}
		if (!strcmp(e->key, "process")) {
			if (!e->value[0]) {
				lerr(ld, e->line, s, "bad value for 'process': '' "
				     "(expected a glob matching a command name)");
				return;
			}
			r->process_glob = dup_or_oom(ld, e->value);
			return;
		}
		set_attr(ld, s, e, &r->pol);
		return;
	case SECT_THRESHOLD:
		set_attr(ld, s, e, &cfg->thresholds[s->idx].pol);
		return;
	}
}

/* ------------------------------------------------- pass 3: cross-checks */

static int cmp_threshold(const void *a, const void *b)
{
	const struct usm_config_threshold *x = a, *y = b;

	return (x->pct > y->pct) - (x->pct < y->pct);
}

static void check_all(struct loader *ld)
{
	struct usm_config *cfg = ld->cfg;
	size_t i;

	if (cfg->low_pct >= cfg->high_pct)
		lerr(ld, ld->high_line > ld->low_line ? ld->high_line : ld->low_line,
		     find_sect(ld, SECT_POOL, ""),
		     "low_watermark (%u%%) must be below high_watermark (%u%%)",
		     cfg->low_pct, cfg->high_pct);
	for (i = 0; i < ld->nr_sects; i++) {
		const struct sect *s = &ld->sects[i];

		if (s->kind == SECT_STORE && !cfg->stores[s->idx].spec)
			lerr(ld, s->line, s, "missing 'path' (file:/PATH or none)");
		if (s->kind == SECT_RULE) {
			const struct usm_config_rule *r = &cfg->rules[s->idx];

			if (!r->path_glob && !r->process_glob)
				lerr(ld, s->line, s, "a rule needs 'path' or "
				     "'process' (or both)");
			else if (!r->pol.set)
				lerr(ld, s->line, s, "a rule must set at least "
				     "one of alloc, evict, prio, limit, swap");
		}
		if (s->kind == SECT_THRESHOLD && !cfg->thresholds[s->idx].pol.set)
			lerr(ld, s->line, s, "a threshold must set at least one "
			     "of alloc, evict, prio, limit, swap");
	}
	if (cfg->nr_thresholds > 1)
		qsort(cfg->thresholds, cfg->nr_thresholds,
		      sizeof(*cfg->thresholds), cmp_threshold);
}

/* ------------------------------------------------------------------ load */

static void loader_free(struct loader *ld)
{
	size_t i;

	for (i = 0; i < ld->nr_sects; i++)
		free(ld->sects[i].label);
	for (i = 0; i < ld->nr_ents; i++) {
		free(ld->ents[i].key);
		free(ld->ents[i].value);
	}
	free(ld->sects);
	free(ld->ents);
	free(ld->map);
}

static void load_plugins(struct loader *ld)
{
	struct usm_config *cfg = ld->cfg;
	size_t i;

	for (i = 0; i < ld->nr_ents; i++) {
		const struct entry *e = &ld->ents[i];
		const struct sect *s = &ld->sects[e->sect];
		char perr[256] = "";
		char **n;
		int ret;

		if (s->kind != SECT_PLUGINS || strcmp(e->key, "load"))
			continue;
		if (!e->value[0]) {
			lerr(ld, e->line, s, "bad value for 'load': '' "
			     "(expected a plugin path or name)");
			return;
		}
		n = realloc(cfg->plugins, (cfg->nr_plugins + 1) * sizeof(*n));
		if (!n) {
			oom(ld);
			return;
		}
		cfg->plugins = n;
		n[cfg->nr_plugins] = strdup(e->value);
		if (!n[cfg->nr_plugins]) {
			oom(ld);
			return;
		}
		cfg->nr_plugins++;
		if (ld->flags & USM_CONFIG_NO_PLUGINS)
			continue;
		ret = usm_plugin_load(e->value, perr, sizeof(perr));
		if (ret) {
			if (perr[0] && strstr(perr, e->value))
				lerr(ld, e->line, s, "%s", perr);
			else
				lerr(ld, e->line, s, "cannot load plugin '%s': %s",
				     e->value, perr[0] ? perr : strerror(-ret));
			return;
		}
	}
}

static int has_plugins(const struct loader *ld)
{
	size_t i;

	for (i = 0; i < ld->nr_sects; i++)
		if (ld->sects[i].kind == SECT_PLUGINS)
			return 1;
	return 0;
}

static int config_load_text(const char *text, size_t len, const char *fname,
			    unsigned int flags, struct usm_config **out,
			    char *err, size_t errlen)
{
	struct loader ld;
	struct usm_config *cfg;
	int ret;
	size_t i;

	memset(&ld, 0, sizeof(ld));
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->low_pct = 70;
	cfg->high_pct = 90;
	usm_file_policy_init(&cfg->defaults);
	cfg->source = strdup(fname);
	if (!cfg->source) {
		free(cfg);
		return -ENOMEM;
	}
	ld.cfg = cfg;
	ld.flags = flags;
	ld.fname = fname;
	ld.p = text;
	ld.end = text + len;
	ld.cur = -1;

	/* Pass 1: libinih, our reader, the structure. */
	ret = ini_parse_stream(config_reader, &ld, config_handler, &ld);
	if (ret == -2) {
		oom(&ld);
	} else if (ret > 0 && ld.err_no != ENOMEM) {
		unsigned int real = (size_t)ret <= ld.nr_map ?
				    ld.map[ret - 1] : ld.lineno;

		if (!ld.err_line || real <= ld.err_line) {
			ld.err_line = 0;	/* the syntax error comes first */
			lerr(&ld, real, NULL, "syntax error (expected '[section]' "
			     "or 'key = value')");
		}
	}

	/*
	 * Pass 2: plugins first, then every value in file order.  Pass 3:
	 * what only the whole file can tell.  Pass 2 runs after a structural
	 * error too (bad sections were not recorded), so that the error
	 * reported is the first by line; but plugins are loaded only for a file whose
	 * structure is sound, and without them a policy name may look
	 * unknown, so then the structural error stands alone.
	 */
	if (!ld.err_line)
		load_plugins(&ld);
	if (!ld.err_line || !has_plugins(&ld)) {
		for (i = 0; i < ld.nr_ents && ld.err_no != ENOMEM; i++)
			apply_entry(&ld, &ld.ents[i]);
		/* cross-checks only on sound values: an error there would
		 * often be a consequence of one already reported */
		if (!ld.err_line)
			check_all(&ld);
	}

	if (ld.err_line) {
		ret = -ld.err_no;
		if (err && errlen) {
			if (ld.err_no == ENOMEM)
				snprintf(err, errlen, "%s: out of memory", fname);
			else
				snprintf(err, errlen, "%s:%u: %s", fname,
					 ld.err_line, ld.msg);
		}
		usm_config_free(cfg);
		cfg = NULL;
	} else {
		ret = 0;
		*out = cfg;
	}
	loader_free(&ld);
	return ret;
}

int usm_config_parse_string(const char *text, const char *fname,
			    unsigned int flags, struct usm_config **out,
			    char *err, size_t errlen)
{
	if (!text || !out)
		return -EINVAL;
	return config_load_text(text, strlen(text), fname ? fname : "<string>",
				flags, out, err, errlen);
}

int usm_config_load(const char *path, unsigned int flags,
		    struct usm_config **out, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *text;
	int fd, ret;

	if (!path || !out)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
		ret = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path,
				 ret == -EFBIG ? "too big for a config file" :
				 "not a regular file");
		close(fd);
		return ret;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	ret = config_load_text(text, got, path, flags, out, err, errlen);
	free(text);
	return ret;
}

void usm_config_free(struct usm_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nr_stores; i++)
		free(cfg->stores[i].spec);
	for (i = 0; i < cfg->nr_rules; i++) {
		free(cfg->rules[i].name);
		free(cfg->rules[i].path_glob);
		free(cfg->rules[i].process_glob);
	}
	for (i = 0; i < cfg->nr_plugins; i++)
		free(cfg->plugins[i]);
	free(cfg->stores);
	free(cfg->rules);
	free(cfg->thresholds);
	free(cfg->plugins);
	free(cfg->source);
	free(cfg);
}

const struct usm_config_store *
usm_config_find_store(const struct usm_config *cfg, const char *name)
{
	size_t i;

	if (!cfg || !name)
		return NULL;
	for (i = 0; i < cfg->nr_stores; i++)
		if (!strcmp(cfg->stores[i].name, name))
			return &cfg->stores[i];
	return NULL;
}

/* ------------------------------------------------------------ policy_for */

/* Copy the attributes of @from selected by @mask into @pol. */
static void copy_attrs(struct usm_file_policy *pol,
		       const struct usm_file_policy *from, uint32_t mask)
{
	struct usm_file_policy tmp;

	/* inherit() copies exactly from->set; narrow it to @mask. */
	memcpy(&tmp, from, sizeof(tmp));
	tmp.set &= mask;
	usm_file_policy_inherit(pol, &tmp);
}

void usm_config_policy_for(const struct usm_config *cfg, const char *path,
			   const char *comm, uint32_t usage_pct,
			   struct usm_file_policy *pol)
{
	const struct usm_config_threshold *th = NULL;
	uint32_t base_set, done = 0;
	size_t i;

	if (!cfg || !pol)
		return;
	base_set = pol->set;

	/* The highest threshold reached: defaults, below explicit ones. */
	for (i = 0; i < cfg->nr_thresholds; i++)
		if (usage_pct >= cfg->thresholds[i].pct)
			th = &cfg->thresholds[i];
	if (th) {
		copy_attrs(pol, &th->pol, th->pol.set & ~base_set);
		/* a default is not an explicit setting */
		pol->set = (pol->set & base_set);
	}

	/* Rules: the first that matches wins, per attribute. */
	for (i = 0; i < cfg->nr_rules; i++) {
		const struct usm_config_rule *r = &cfg->rules[i];
		uint32_t mask;

		if (r->path_glob && (!path || fnmatch(r->path_glob, path,
						      FNM_PATHNAME)))
			continue;
		if (r->process_glob && (!comm || fnmatch(r->process_glob,
							 comm, 0)))
			continue;
		mask = r->pol.set & ~done;
		if (!mask)
			continue;
		copy_attrs(pol, &r->pol, mask);
		done |= mask;
	}
}
