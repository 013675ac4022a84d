// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * state.c - the arena that outlives a daemon (state.h).
 *
 * The supervisor creates a memfd of STATE_SPAN bytes (sparse: only what is
 * written costs memory) and hands it to each daemon it starts; the daemon
 * maps it at STATE_BASE with MAP_FIXED_NOREPLACE, so that every pointer
 * stored in it means the same in the next daemon.  The first page is a
 * header (struct state_hdr): magic, version, a layout word made of the
 * structures' sizes, the pool's size, the allocator's state, the FUSE INIT
 * request and the namespace's roots.  A daemon refuses a header of another
 * version or layout with a message, and exits USMFS_EXIT_REFUSED: the
 * supervisor then goes on with the binary that made the state.
 *
 * The allocator: blocks of 2^k bytes (k >= 5), a 16-byte header each, a
 * free list per class in the header, new blocks cut from brk.  Blocks of
 * 64 KiB and more give their pages back (fallocate punch) when freed.  A
 * daemon killed inside it loses at most the block it was handling (a
 * leak); each update is one store of a pointer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "usmfs.h"

struct serve_fds serve = { .fuse = -1, .pool = -1, .state = -1, .ready = -1 };
struct state_hdr *sh;

static pthread_mutex_t sh_lock = PTHREAD_MUTEX_INITIALIZER;

#define BLK_HDR		16u
#define BLK_MIN_CLASS	5u
#define BLK_TAG		0x55534d42u	/* "USMB" */
#define PUNCH_CLASS	16u

struct blk {
	uint32_t tag, cls;
	uint64_t pad;
};

static uint32_t layout_word(void)
{
	uint32_t h = 2166136261u;
	const size_t sz[] = {
		sizeof(struct node), sizeof(struct dent), sizeof(struct dirdata),
		sizeof(struct order_ent), sizeof(struct xattr),
		sizeof(struct state_hdr), sizeof(struct usm_file_policy),
		offsetof(struct node, pm_root), USM_PAGE_SIZE,
	};

	for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++)
		h = (h ^ (uint32_t)sz[i]) * 16777619u;
	return h;
}

/* --serve=FUSE,POOL,STATE,RESTARTS,REFUSED,READY (supervise.c) */
int state_parse_serve(const char *arg)
{
	if (sscanf(arg, "%d,%d,%d,%u,%u,%d", &serve.fuse, &serve.pool,
		   &serve.state, &serve.restarts, &serve.refused,
		   &serve.ready) != 6 ||
	    serve.fuse < 0 || serve.pool < 0 || serve.state < 0 ||
	    serve.ready < 0) {
		fprintf(stderr, "usmfs: bad --serve '%s'\n", arg);
		return -1;
	}
	serve.on = true;
	serve.supervisor = getppid();
	return 0;
}

/* The connection is gone (unmounted or aborted): /dev/fuse says POLLERR. */
bool fuse_conn_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = 0 };

	return poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

/* Tell the supervisor that we serve. */
void state_serving(void)
{
	if (serve.ready >= 0) {
		if (write(serve.ready, "r", 1) != 1 && fs.debug)
			perror("usmfs: ready pipe");
		close(serve.ready);
		serve.ready = -1;
	}
}

int state_attach(uint64_t pool_frames, bool *fresh, bool *refused)
{
	void *p;

	*refused = false;
	p = mmap((void *)STATE_BASE, STATE_SPAN, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, serve.state, 0);
	if (p == MAP_FAILED || p != (void *)STATE_BASE) {
		fprintf(stderr, "usmfs: cannot map the state at %#lx: %s\n",
			STATE_BASE, p == MAP_FAILED ? strerror(errno) :
			"the address is taken");
		if (p != MAP_FAILED)
			munmap(p, STATE_SPAN);
		return -1;
	}
	sh = p;
	if (sh->magic == 0) {
		sh->version = STATE_VERSION;
		sh->layout = layout_word();
		sh->pool_frames = pool_frames;
		sh->brk = (sizeof(*sh) + USM_PAGE_SIZE - 1) &
			  ~(uint64_t)(USM_PAGE_SIZE - 1);
		__atomic_store_n(&sh->magic, STATE_MAGIC, __ATOMIC_RELEASE);
		*fresh = true;
		return 0;
	}
	if (sh->magic != STATE_MAGIC || sh->version != STATE_VERSION ||
	    sh->layout != layout_word()) {
		fprintf(stderr, "usmfs: the mount's saved state is version %u "
			"(layout %08x), this daemon reads version %u (layout "
			"%08x): refused, the mount stays with the daemon that "
			"made it\n", sh->version, sh->layout, STATE_VERSION,
			layout_word());
		*refused = true;
		return -1;
	}
	if (sh->pool_frames != pool_frames) {
		fprintf(stderr, "usmfs: the saved state is for a pool of %llu "
			"frames, not %llu: refused\n",
			(unsigned long long)sh->pool_frames,
			(unsigned long long)pool_frames);
		*refused = true;
		return -1;
	}
	*fresh = !sh->ready;
	return 0;
}

void state_save_init(const void *msg, size_t len)
{
	if (!sh || sh->init_len || len > STATE_INIT_MAX)
		return;
	memcpy(sh->init, msg, len);
	__atomic_store_n(&sh->init_len, (uint32_t)len, __ATOMIC_RELEASE);
}

static bool in_arena(const void *p)
{
	return sh && (uintptr_t)p >= STATE_BASE &&
	       (uintptr_t)p < STATE_BASE + STATE_SPAN;
}

static unsigned int class_of(size_t need)
{
	unsigned int k = BLK_MIN_CLASS;

	while (k < 47 && ((size_t)1 << k) < need)
		k++;
	return k;
}

void *sh_malloc(size_t size)
{
	struct blk *b;
	unsigned int k;
	uint64_t bytes;

	if (!sh)
		return malloc(size);
	if (size > STATE_SPAN / 4)
		return NULL;
	k = class_of(size + BLK_HDR);
	bytes = 1ULL << k;
	pthread_mutex_lock(&sh_lock);
	b = sh->freel[k];
	if (b) {
		sh->freel[k] = *(void **)(b + 1);
	} else {
		uint64_t at = sh->brk;

		if (k >= 12)	/* page-aligned: punched when freed */
			at = (at + USM_PAGE_SIZE - 1) & ~(uint64_t)(USM_PAGE_SIZE - 1);
		if (at + bytes > STATE_SPAN) {
			pthread_mutex_unlock(&sh_lock);
			return NULL;
		}
		b = (struct blk *)(STATE_BASE + at);
		sh->brk = at + bytes;
	}
	pthread_mutex_unlock(&sh_lock);
	b->tag = BLK_TAG;
	b->cls = k;
	return b + 1;
}

void *sh_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	p = sh_malloc(nmemb * size);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

static struct blk *blk_of(void *p)
{
	struct blk *b = (struct blk *)p - 1;

	if (b->tag != BLK_TAG || b->cls < BLK_MIN_CLASS || b->cls >= 48) {
		fprintf(stderr, "usmfs: state arena: bad block %p\n", p);
		abort();
	}
	return b;
}

void sh_free(void *p)
{
	struct blk *b;
	unsigned int k;

	if (!p)
		return;
	if (!in_arena(p)) {
		free(p);
		return;
	}
	b = blk_of(p);
	k = b->cls;
	if (k >= PUNCH_CLASS)	/* keep the first page: it holds the header */
		fallocate(serve.state, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)((uintptr_t)b - STATE_BASE) + USM_PAGE_SIZE,
			  (off_t)(1ULL << k) - USM_PAGE_SIZE);
	pthread_mutex_lock(&sh_lock);
	*(void **)(b + 1) = sh->freel[k];
	sh->freel[k] = b;
	pthread_mutex_unlock(&sh_lock);
}

void *sh_realloc(void *p, size_t size)
{
	size_t have;
	void *q;

	if (!p)
		return sh_malloc(size);
	if (!in_arena(p))
		return realloc(p, size);
	have = ((size_t)1 << blk_of(p)->cls) - BLK_HDR;
	if (size <= have)
		return p;
	q = sh_malloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, have);
	sh_free(p);
	return q;
}

char *sh_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = sh_malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

char *sh_strdup(const char *s)
{
	return sh_strndup(s, strlen(s));
}
