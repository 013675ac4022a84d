// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * replay.c - traces (read or generated) and their replay through an
 * eviction policy; see usm/replay.h.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <usm/replay.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- PRNG: xoshiro256** seeded by splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void usm_rng_seed(struct usm_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t usm_rng_next(struct usm_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double usm_rng_double(struct usm_rng *r)
{
	return (double)(usm_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t usm_rng_below(struct usm_rng *r, uint64_t n)
{
	/* Reject the top partial range so every value is equally likely. */
	uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;

	do
		x = usm_rng_next(r);
	while (x >= lim);
	return x % n;
}

/* ---- traces ---- */

void usm_trace_free(struct usm_trace *t)
{
	free(t->req);
	memset(t, 0, sizeof(*t));
}

static int trace_push(struct usm_trace *t, uint32_t id)
{
	if (t->n == t->cap) {
		size_t ncap = t->cap ? 2 * t->cap : 4096;
		uint32_t *nr;

		if (ncap > USM_TRACE_MAX_REQUESTS)
			ncap = USM_TRACE_MAX_REQUESTS;
		if (ncap <= t->n)
			return -E2BIG;
		nr = realloc(t->req, ncap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		t->req = nr;
		t->cap = ncap;
	}
	t->req[t->n++] = id;
	return 0;
}

static int count_footprint(struct usm_trace *t)
{
	unsigned char *seen = calloc(t->objects ? t->objects : 1, 1);
	size_t i;

	if (!seen)
		return -ENOMEM;
	t->footprint = 0;
	for (i = 0; i < t->n; i++) {
		if (!seen[t->req[i]]) {
			seen[t->req[i]] = 1;
			t->footprint++;
		}
	}
	free(seen);
	return 0;
}

struct zipf {
	double *cdf;		/* cdf[k] = sum of weights of ranks 0..k */
	uint32_t *perm;		/* rank -> object */
	uint64_t n;
};

static int zipf_init(struct zipf *z, uint64_t n, double alpha,
		     struct usm_rng *r)
{
	double sum = 0;
	uint64_t k;

	z->n = n;
	z->cdf = malloc(n * sizeof(*z->cdf));
	z->perm = malloc(n * sizeof(*z->perm));
	if (!z->cdf || !z->perm) {
		free(z->cdf);
		free(z->perm);
		return -ENOMEM;
	}
	for (k = 0; k < n; k++) {
		sum += pow((double)(k + 1), -alpha);
		z->cdf[k] = sum;
	}
	/* Popularity is not tied to the object number: shuffle. */
	for (k = 0; k < n; k++)
		z->perm[k] = (uint32_t)k;
	for (k = n - 1; k > 0; k--) {
		uint64_t j = usm_rng_below(r, k + 1);
		uint32_t x = z->perm[k];

		z->perm[k] = z->perm[j];
		z->perm[j] = x;
	}
	return 0;
}

static uint32_t zipf_next(const struct zipf *z, struct usm_rng *r)
{
	double u = usm_rng_double(r) * z->cdf[z->n - 1];
	uint64_t lo = 0, hi = z->n - 1;

	while (lo < hi) {	/* first rank whose cdf exceeds u */
		uint64_t mid = lo + (hi - lo) / 2;

		if (z->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return z->perm[lo];
}

static void zipf_free(struct zipf *z)
{
	free(z->cdf);
	free(z->perm);
}

int usm_trace_generate(const struct usm_trace_gen *g, struct usm_trace *t,
		       char *err, size_t errlen)
{
	struct zipf z = { NULL, NULL, 0 };
	uint64_t n = g->objects, run = g->run, every = g->every, i = 0;
	uint64_t scan_pos = 0, since_scan = 0;
	struct usm_rng r;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	if (n < 1 || n > USM_TRACE_MAX_OBJECTS) {
		seterr(err, errlen, "objects must be 1..%llu",
		       (unsigned long long)USM_TRACE_MAX_OBJECTS);
		return -EINVAL;
	}
	if (g->requests < 1 || g->requests > USM_TRACE_MAX_REQUESTS) {
		seterr(err, errlen, "requests must be 1..%llu",
		       (unsigned long long)USM_TRACE_MAX_REQUESTS);
		return -EINVAL;
	}
	if ((g->kind == USM_TRACE_ZIPF || g->kind == USM_TRACE_MIX) &&
	    !(g->alpha >= 0 && g->alpha <= 10)) {
		seterr(err, errlen, "Zipf alpha must be 0..10");
		return -EINVAL;
	}
	if (g->kind > USM_TRACE_MIX) {
		seterr(err, errlen, "unknown trace kind %d", (int)g->kind);
		return -EINVAL;
	}
	if (!run)
		run = g->kind == USM_TRACE_SCAN ? 64 : (n / 4 ? n / 4 : 1);
	if (!every)
		every = n;
	if (run > n) {
		seterr(err, errlen, "scan length %llu exceeds objects %llu",
		       (unsigned long long)run, (unsigned long long)n);
		return -EINVAL;
	}

	usm_rng_seed(&r, g->seed);
	t->objects = g->kind == USM_TRACE_MIX ? 2 * n : n;
	t->req = malloc(g->requests * sizeof(*t->req));
	if (!t->req)
		goto nomem;
	t->cap = g->requests;
	if ((g->kind == USM_TRACE_ZIPF || g->kind == USM_TRACE_MIX) &&
	    zipf_init(&z, n, g->alpha, &r))
		goto nomem;

	while (i < g->requests) {
		switch (g->kind) {
		case USM_TRACE_ZIPF:
			t->req[i++] = zipf_next(&z, &r);
			break;
		case USM_TRACE_LOOP:
			t->req[i] = (uint32_t)(i % n);
			i++;
			break;
		case USM_TRACE_SCAN: {
			uint64_t start = usm_rng_below(&r, n), k;

			for (k = 0; k < run && i < g->requests; k++)
				t->req[i++] = (uint32_t)((start + k) % n);
			break;
		}
		case USM_TRACE_MIX:
			if (since_scan == every) {
				uint64_t k;

				for (k = 0; k < run && i < g->requests; k++) {
					t->req[i++] = (uint32_t)(n + scan_pos);
					scan_pos = (scan_pos + 1) % n;
				}
				since_scan = 0;
			} else {
				t->req[i++] = zipf_next(&z, &r);
				since_scan++;
			}
			break;
		}
	}
	t->n = i;
	zipf_free(&z);
	if (count_footprint(t))
		goto nomem;
	return 0;

nomem:
	zipf_free(&z);
	usm_trace_free(t);
	seterr(err, errlen, "out of memory for the trace");
	ret = -ENOMEM;
	return ret;
}

/* ---- reading a trace ---- */

/* (file, page) -> dense id, open addressing, load <= 1/2. */
struct key_ent {
	uint64_t page;
	uint32_t file;
	uint32_t id;		/* UINT32_MAX: empty */
};

struct name_ent {
	char *name;
	uint32_t id;
};

struct reader {
	struct key_ent *keys;
	size_t kmask, nkeys;
	struct name_ent *names;
	size_t nmask, nnames;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return mix64(h);
}

static int keys_grow(struct reader *rd)
{
	size_t ncap = rd->keys ? 2 * (rd->kmask + 1) : 1024, i;
	struct key_ent *nk = malloc(ncap * sizeof(*nk));

	if (!nk)
		return -ENOMEM;
	for (i = 0; i < ncap; i++)
		nk[i].id = UINT32_MAX;
	for (i = 0; rd->keys && i <= rd->kmask; i++) {
		struct key_ent *e = &rd->keys[i];
		size_t h;

		if (e->id == UINT32_MAX)
			continue;
		h = mix64(e->page ^ ((uint64_t)e->file << 40)) & (ncap - 1);
		while (nk[h].id != UINT32_MAX)
			h = (h + 1) & (ncap - 1);
		nk[h] = *e;
	}
	free(rd->keys);
	rd->keys = nk;
	rd->kmask = ncap - 1;
	return 0;
}

/* The dense id of (file, page), a new one if unseen.  -ENOMEM, -E2BIG. */
static int64_t key_id(struct reader *rd, uint32_t file, uint64_t page)
{
	size_t h;

	if ((!rd->keys || 2 * (rd->nkeys + 1) > rd->kmask + 1) &&
	    keys_grow(rd))
		return -ENOMEM;
	h = mix64(page ^ ((uint64_t)file << 40)) & rd->kmask;
	while (rd->keys[h].id != UINT32_MAX) {
		if (rd->keys[h].page == page && rd->keys[h].file == file)
			return rd->keys[h].id;
		h = (h + 1) & rd->kmask;
	}
	if (rd->nkeys >= USM_TRACE_MAX_OBJECTS)
		return -E2BIG;
	rd->keys[h].page = page;
	rd->keys[h].file = file;
	rd->keys[h].id = (uint32_t)rd->nkeys++;
	return rd->keys[h].id;
}

static int names_grow(struct reader *rd)
{
	size_t ncap = rd->names ? 2 * (rd->nmask + 1) : 64, i;
	struct name_ent *nn = calloc(ncap, sizeof(*nn));

	if (!nn)
		return -ENOMEM;
	for (i = 0; rd->names && i <= rd->nmask; i++) {
		size_t h;

		if (!rd->names[i].name)
			continue;
		h = hash_str(rd->names[i].name) & (ncap - 1);
		while (nn[h].name)
			h = (h + 1) & (ncap - 1);
		nn[h] = rd->names[i];
	}
	free(rd->names);
	rd->names = nn;
	rd->nmask = ncap - 1;
	return 0;
}

static int64_t name_id(struct reader *rd, const char *name)
{
	size_t h;

	if ((!rd->names || 2 * (rd->nnames + 1) > rd->nmask + 1) &&
	    names_grow(rd))
		return -ENOMEM;
	h = hash_str(name) & rd->nmask;
	while (rd->names[h].name) {
		if (!strcmp(rd->names[h].name, name))
			return rd->names[h].id;
		h = (h + 1) & rd->nmask;
	}
	if (rd->nnames >= UINT32_MAX - 1)
		return -E2BIG;
	rd->names[h].name = strdup(name);
	if (!rd->names[h].name)
		return -ENOMEM;
	rd->names[h].id = (uint32_t)rd->nnames++;
	return rd->names[h].id;
}

static void reader_free(struct reader *rd)
{
	size_t i;

	for (i = 0; rd->names && i <= rd->nmask; i++)
		free(rd->names[i].name);
	free(rd->names);
	free(rd->keys);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/* Parse one line into (file word, page).  1 = a request, 0 = nothing on
 * the line, -EINVAL with @why set. */
static int parse_line(char *s, char **file, uint64_t *page, const char **why)
{
	char *p, *end;
	uint64_t v = 0;

	while (is_space(*s))
		s++;
	if (!*s || *s == '#')
		return 0;
	*file = s;
	while (*s && !is_space(*s))
		s++;
	if (*s)
		*s++ = '\0';
	while (is_space(*s))
		s++;
	if (!*s || *s == '#') {
		*why = "want \"FILE PAGE\"";
		return -EINVAL;
	}
	p = s;
	while (*s >= '0' && *s <= '9') {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (UINT64_MAX - d) / 10) {
			*why = "page number too large";
			return -EINVAL;
		}
		v = v * 10 + d;
		s++;
	}
	end = s;
	if (end == p) {
		*why = "PAGE is not a decimal number";
		return -EINVAL;
	}
	while (is_space(*s))
		s++;
	if (*s && *s != '#') {
		*why = "extra text after PAGE";
		return -EINVAL;
	}
	*page = v;
	return 1;
}

int usm_trace_read(FILE *f, const char *name, struct usm_trace *t,
		   char *err, size_t errlen)
{
	struct reader rd;
	char *line = NULL;
	size_t len = 0, lineno = 0;
	ssize_t got;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	memset(&rd, 0, sizeof(rd));
	if (!name)
		name = "trace";
	while ((got = getline(&line, &len, f)) >= 0) {
		const char *why = NULL;
		char *file;
		uint64_t page;
		int64_t fid, id;
		int r;

		lineno++;
		if (memchr(line, '\0', (size_t)got)) {
			seterr(err, errlen, "%s:%zu: NUL byte in line", name,
			       lineno);
			ret = -EINVAL;
			goto out;
		}
		r = parse_line(line, &file, &page, &why);
		if (r < 0) {
			seterr(err, errlen, "%s:%zu: %s", name, lineno, why);
			ret = r;
			goto out;
		}
		if (!r)
			continue;
		fid = name_id(&rd, file);
		id = fid < 0 ? fid : key_id(&rd, (uint32_t)fid, page);
		if (id < 0 || (ret = trace_push(t, (uint32_t)id))) {
			if (id < 0)
				ret = (int)id;
			seterr(err, errlen, "%s:%zu: %s", name, lineno,
			       ret == -ENOMEM ? "out of memory" :
			       "too many objects or requests");
			goto out;
		}
	}
	if (ferror(f)) {
		seterr(err, errlen, "%s: read error", name);
		ret = -EIO;
		goto out;
	}
	if (!t->n) {
		seterr(err, errlen, "%s: no requests in the trace", name);
		ret = -EINVAL;
		goto out;
	}
	t->objects = rd.nkeys;
	t->footprint = rd.nkeys;
out:
	free(line);
	reader_free(&rd);
	if (ret)
		usm_trace_free(t);
	return ret;
}

/* ---- replay ---- */

int usm_replay(const struct usm_evict_ops *ops, const struct usm_trace *t,
	       uint64_t cache_pages, struct usm_replay_stats *st,
	       char *err, size_t errlen)
{
	struct usm_page *pages = NULL, *out[1];
	unsigned char *in = NULL;
	uint64_t used = 0, id;
	void *state = NULL;
	size_t i;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	if (!ops || !t || !t->n || !t->objects || !cache_pages) {
		seterr(err, errlen, "replay: empty trace or zero cache");
		return -EINVAL;
	}
	pages = calloc(t->objects, sizeof(*pages));
	in = calloc(t->objects, 1);
	if (!pages || !in)
		goto nomem;
	for (id = 0; id < t->objects; id++) {
		pages[id].index = id;
		pages[id].frame = id;
	}
	state = ops->create(NULL);
	if (!state)
		goto nomem;

	for (i = 0; i < t->n; i++) {
		struct usm_page *pg = &pages[t->req[i]];

		if (in[t->req[i]]) {
			st->hits++;
			ops->on_access(state, pg);
			continue;
		}
		st->misses++;
		if (used >= cache_pages) {
			size_t got = ops->victims ? ops->victims(state, out, 1)
						  : 0;
			struct usm_page *v;

			if (!got) {
				st->bypassed++;
				continue;
			}
			v = out[0];
			if (got > 1 || v < pages || v >= pages + t->objects ||
			    !in[v - pages]) {
				seterr(err, errlen,
				       "replay: policy '%s' gave a page it does not hold (request %zu)",
				       ops->name, i);
				ret = -EPROTO;
				goto out;	/* its state is suspect: leak it */
			}
			in[v - pages] = 0;
			used--;
			st->evictions++;
		}
		ops->on_insert(state, pg);
		in[t->req[i]] = 1;
		used++;
	}
	st->requests = t->n;

	if (ops->resident && ops->resident(state) != used) {
		seterr(err, errlen,
		       "replay: policy '%s' says it holds %zu pages, not %llu",
		       ops->name, ops->resident(state),
		       (unsigned long long)used);
		ret = -EPROTO;
		goto out;
	}
	for (id = 0; id < t->objects; id++)
		if (in[id])
			ops->on_remove(state, &pages[id]);
	ops->destroy(state);
out:
	free(pages);
	free(in);
	return ret;

nomem:
	free(pages);
	free(in);
	seterr(err, errlen, "replay: out of memory");
	return -ENOMEM;
}
