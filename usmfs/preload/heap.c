// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * heap.c - libusmfs-preload's allocator and the interposed mmap family.
 *
 * glibc's malloc reaches the kernel through internal, non-interposable
 * calls (__mmap, __brk): wrapping mmap or sbrk does not move its arena,
 * and __morecore and the malloc hooks are gone since glibc 2.34.  So the
 * library replaces malloc itself, as glibc's manual allows ("Replacing
 * malloc"): malloc, free, calloc, realloc, reallocarray, memalign,
 * posix_memalign, aligned_alloc, valloc, pvalloc, malloc_usable_size.
 *
 * Layout (see internal.h): a reservation of 64 KiB granules, the part below
 * hwm mapped MAP_SHARED from the heap file at offset == address - base.
 *   - small requests (<= 16 KiB) come from runs: one granule of same-size
 *     blocks, 36 classes, a free list threaded through the free blocks;
 *   - larger requests take whole granules (a LARGE head and CONT tails);
 *   - the program's own large anonymous mmap()s take whole granules too
 *     (APP), with a 16-bit mask of the pages still mapped, so that partial
 *     munmap() and mremap() work page by page.
 * Free granules form address-coalesced extents in one first-fit list and
 * are punched out of the file (FALLOC_FL_PUNCH_HOLE), so freed memory goes
 * back to the pool and reads back as zeros.
 *
 * Pointers that are not in the reservation (allocated before the
 * constructor ran, or after the reservation or the mount was full) belong
 * to glibc's malloc and are handed back to it (__libc_free & co.).
 *
 * Fast path: malloc/free of a small block is one lock, a class lookup and
 * a free-list pop/push.  Nothing here calls malloc, and the mmap family
 * reaches the kernel with syscall(2), so no path recurses.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t nm, size_t sz);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

#define EXPORT __attribute__((visibility("default")))
#define GROW_MIN	32u		/* grow the file by >= 2 MiB at a time */

static const uint32_t cls_size[UP_NCLS] = {
	16, 32, 48, 64, 80, 96, 112, 128,
	160, 192, 224, 256, 320, 384, 448, 512,
	640, 768, 896, 1024, 1280, 1536, 1792, 2048,
	2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
	10240, 12288, 14336, 16384,
};

void *up_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int up_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

static void up_die(const char *what)
{
	static const char pfx[] = "libusmfs-preload: ";
	ssize_t r;

	r = write(2, pfx, sizeof(pfx) - 1);
	r = write(2, what, strlen(what));
	r = write(2, "\n", 1);
	(void)r;
	up_unlink_heap();
	abort();
}

static inline char *gaddr(uint32_t g)
{
	return up.base + ((size_t)g << UP_GRAN_SHIFT);
}

static inline uint32_t gidx(const void *p)
{
	return (uint32_t)(((const char *)p - up.base) >> UP_GRAN_SHIFT);
}

/* ---- lists (indices + 1, 0 = none) ---------------------------------- */

static void list_add(uint32_t *head, uint32_t g)
{
	struct up_gent *e = &up.gt[g];

	e->prev = 0;
	e->next = *head;
	if (*head)
		up.gt[*head - 1].prev = g + 1;
	*head = g + 1;
}

static void list_del(uint32_t *head, uint32_t g)
{
	struct up_gent *e = &up.gt[g];

	if (e->prev)
		up.gt[e->prev - 1].next = e->next;
	else
		*head = e->next;
	if (e->next)
		up.gt[e->next - 1].prev = e->prev;
	e->next = e->prev = 0;
}

/* ---- the backing file ------------------------------------------------ */

/* Map granules [g, g+n) from @fd (or anonymous memory if @fd < 0). */
int up_backing_map(uint32_t g, uint32_t n, int fd)
{
	size_t len = (size_t)n << UP_GRAN_SHIFT;
	void *p;

	if (fd >= 0)
		p = up_sys_mmap(gaddr(g), len, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_FIXED, fd,
				(off_t)g << UP_GRAN_SHIFT);
	else
		p = up_sys_mmap(gaddr(g), len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	return p == MAP_FAILED ? -1 : 0;
}

/* Give [addr, addr+len) back: afterwards it reads as zeros. */
static void backing_punch(char *addr, size_t len)
{
	int saved = errno;

	if (up.fd >= 0) {
		if (fallocate(up.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      addr - up.base, (off_t)len) < 0)
			__atomic_store_n(&up.punch_ok, 0, __ATOMIC_RELAXED);
	} else {
		syscall(SYS_madvise, addr, len, MADV_DONTNEED);
	}
	errno = saved;
}

/* ---- granule extents -------------------------------------------------- */

static void ext_add(uint32_t g, uint32_t n)
{
	up.gt[g].kind = UP_G_FREE;
	up.gt[g].ngran = n;
	up.gt[g + n - 1].kind = UP_G_FREE;
	up.gt[g + n - 1].ngran = n;
	list_add(&up.free_head, g);
}

/* Take [a, a+n) out of the free extent [s, s+m). */
static void ext_carve(uint32_t s, uint32_t m, uint32_t a, uint32_t n)
{
	list_del(&up.free_head, s);
	if (a > s)
		ext_add(s, a - s);
	if (a + n < s + m)
		ext_add(a + n, s + m - (a + n));
}

/*
 * Free [g, g+n), merging with free neighbours.  Every granule is marked
 * free, so that a second free() of a block is caught, not obeyed.
 */
static void ext_free(uint32_t g, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		up.gt[g + i].kind = UP_G_FREE;
	if (g > 0 && up.gt[g - 1].kind == UP_G_FREE) {
		uint32_t p = g - up.gt[g - 1].ngran;

		list_del(&up.free_head, p);
		n += g - p;
		g = p;
	}
	if (g + n < up.hwm && up.gt[g + n].kind == UP_G_FREE) {
		uint32_t m = up.gt[g + n].ngran;

		list_del(&up.free_head, g + n);
		n += m;
	}
	ext_add(g, n);
}

/*
 * Keep up to retain_max freed granules unpunched ("dirty"), so that a
 * program that frees and allocates large blocks in a loop does not pay a
 * punch and fresh zeroed pages each time (glibc keeps freed memory the
 * same way).  Returns 1 if [g, g+n) was kept so.
 */
static int retain_locked(uint32_t g, uint32_t n)
{
	uint32_t i;

	if (n > up.retain_max - up.dirty)
		return 0;
	for (i = 0; i < n; i++)
		up.gt[g + i].flags |= UP_F_DIRTY;
	up.dirty += n;
	return 1;
}

/* Granules [g, g+n) leave the free list: account for the dirty ones and,
 * with @zero, clear their old data. */
static void take_dirty_locked(uint32_t g, uint32_t n, int zero)
{
	uint32_t i;

	if (!up.dirty)
		return;
	for (i = 0; i < n; i++) {
		if (!(up.gt[g + i].flags & UP_F_DIRTY))
			continue;
		up.gt[g + i].flags &= (uint16_t)~UP_F_DIRTY;
		up.dirty--;
		if (zero)
			memset(gaddr(g + i), 0, UP_GRAN);
	}
}

static void gran_free(uint32_t g, uint32_t n)
{
	if (!retain_locked(g, n))
		backing_punch(gaddr(g), (size_t)n << UP_GRAN_SHIFT);
	ext_free(g, n);
}

/* Extend the file and its mapping by at least @need granules. */
static int heap_grow(uint32_t need)
{
	uint32_t step = need > GROW_MIN ? need : GROW_MIN;
	uint32_t g = up.hwm;

	if (step > up.ngran_max - g)
		step = up.ngran_max - g;
	if (step < need || step == 0)
		return -1;
	if (up.fd >= 0) {
		struct stat st;

		/* A program that closes every fd (daemons, some fork
		 * children) may have closed ours: then grow no more. */
		if (fstat(up.fd, &st) < 0 || st.st_dev != up.dev ||
		    st.st_ino != up.ino)
			return -1;
	}
	if (up.fd >= 0 &&
	    ftruncate(up.fd, (off_t)(g + step) << UP_GRAN_SHIFT) < 0)
		return -1;
	if (up_backing_map(g, step, up.fd) < 0) {
		if (up.fd >= 0)
			(void)!ftruncate(up.fd, (off_t)g << UP_GRAN_SHIFT);
		return -1;
	}
	__atomic_store_n(&up.hwm, g + step, __ATOMIC_RELEASE);
	ext_free(g, step);
	return 0;
}

/*
 * @n granules whose address is a multiple of @ag granules; UP_NONE.  With
 * @zero they read as zeros (as fresh anonymous memory does).
 */
static uint32_t gran_take(uint32_t n, uint32_t ag, int zero)
{
	uintptr_t bg = (uintptr_t)up.base >> UP_GRAN_SHIFT;

	for (;;) {
		uint32_t h;

		for (h = up.free_head; h; h = up.gt[h - 1].next) {
			uint32_t s = h - 1, m = up.gt[s].ngran;
			uint64_t a = ((bg + s + ag - 1) / ag) * ag - bg;

			if (a + n <= (uint64_t)s + m) {
				ext_carve(s, m, (uint32_t)a, n);
				take_dirty_locked((uint32_t)a, n, zero);
				return (uint32_t)a;
			}
		}
		if (n > up.ngran_max || heap_grow(n + ag - 1) < 0)
			return UP_NONE;
	}
}

/* ---- malloc ----------------------------------------------------------- */

static int cls_of(size_t n, size_t align)
{
	int c;

	if (n == 0)
		n = 1;
	c = n <= 128 ? (int)((n + 15) >> 4) - 1 : 8;
	for (; c < UP_NCLS; c++)
		if (cls_size[c] >= n && cls_size[c] % align == 0)
			return c;
	return -1;
}

static void *small_alloc_locked(int c)
{
	uint32_t sz = cls_size[c], g, idx;
	struct up_gent *e;
	char *run;

	if (!up.cls_head[c]) {
		g = gran_take(1, 1, 0);
		if (g == UP_NONE)
			return NULL;
		e = &up.gt[g];
		e->kind = UP_G_SMALL;
		e->cls = (uint8_t)c;
		e->nfree = (uint16_t)(UP_GRAN / sz);
		e->bump = 0;
		e->fl = 0;
		list_add(&up.cls_head[c], g);
	}
	g = up.cls_head[c] - 1;
	e = &up.gt[g];
	run = gaddr(g);
	if (e->fl) {
		idx = e->fl - 1;
		memcpy(&e->fl, run + (size_t)idx * sz, sizeof(e->fl));
	} else {
		idx = e->bump++;
	}
	if (--e->nfree == 0)
		list_del(&up.cls_head[c], g);
	return run + (size_t)idx * sz;
}

static void small_free_locked(uint32_t g, char *p)
{
	struct up_gent *e = &up.gt[g];
	uint32_t sz = cls_size[e->cls];
	size_t off = (size_t)(p - gaddr(g));

	if (off % sz)
		up_die("free(): invalid pointer");
	memcpy(p, &e->fl, sizeof(e->fl));
	e->fl = (uint32_t)(off / sz) + 1;
	if (e->nfree++ == 0)
		list_add(&up.cls_head[e->cls], g);
	/* An empty run goes back, unless it is its class's only one. */
	if (e->nfree == UP_GRAN / sz &&
	    (up.cls_head[e->cls] != g + 1 || e->next)) {
		list_del(&up.cls_head[e->cls], g);
		gran_free(g, 1);
	}
}

static void mark_large(uint32_t g, uint32_t ng, size_t n)
{
	uint32_t i;

	up.gt[g].kind = UP_G_LARGE;
	up.gt[g].ngran = ng;
	up.gt[g].size = n;
	for (i = 1; i < ng; i++)
		up.gt[g + i].kind = UP_G_CONT;
}

/* The reservation's memory, or NULL (the caller falls back to glibc). */
static void *up_alloc(size_t n, size_t align, int zero, int *fresh)
{
	void *p = NULL;

	*fresh = 0;
	if (n <= UP_SMALL_MAX && align <= UP_SMALL_MAX) {
		int c = cls_of(n, align);

		if (c >= 0) {
			pthread_mutex_lock(&up.lock);
			p = small_alloc_locked(c);
			pthread_mutex_unlock(&up.lock);
			return p;
		}
	}
	if (n > up.resv)
		return NULL;
	{
		uint32_t ng = (uint32_t)((n + UP_GRAN - 1) >> UP_GRAN_SHIFT);
		uint32_t ag = align > UP_GRAN ? (uint32_t)(align / UP_GRAN) : 1;
		uint32_t g;

		if (ng == 0)
			ng = 1;
		pthread_mutex_lock(&up.lock);
		g = gran_take(ng, ag, zero);
		if (g != UP_NONE) {
			mark_large(g, ng, n);
			p = gaddr(g);
			*fresh = up.punch_ok;
		}
		pthread_mutex_unlock(&up.lock);
	}
	return p;
}

static void up_free(void *p)
{
	uint32_t g = gidx(p), n;

	if (g >= __atomic_load_n(&up.hwm, __ATOMIC_ACQUIRE))
		up_die("free(): invalid pointer");
	/*
	 * A large block is the caller's until it is in the free list: punch
	 * it before taking the lock, so that other threads do not wait for
	 * the filesystem.  Nobody else writes a LARGE head's entry.
	 */
	if (__atomic_load_n(&up.gt[g].kind, __ATOMIC_RELAXED) == UP_G_LARGE &&
	    p == gaddr(g)) {
		n = up.gt[g].ngran;
		pthread_mutex_lock(&up.lock);
		if (retain_locked(g, n)) {
			ext_free(g, n);
			pthread_mutex_unlock(&up.lock);
			return;
		}
		pthread_mutex_unlock(&up.lock);
		backing_punch(gaddr(g), (size_t)n << UP_GRAN_SHIFT);
		pthread_mutex_lock(&up.lock);
		ext_free(g, n);
		pthread_mutex_unlock(&up.lock);
		return;
	}
	pthread_mutex_lock(&up.lock);
	switch (up.gt[g].kind) {
	case UP_G_SMALL:
		small_free_locked(g, p);
		break;
	default:
		up_die("free(): invalid pointer (not allocated)");
	}
	pthread_mutex_unlock(&up.lock);
}

/* Bytes of @p that hold data (for copying) and usable bytes. */
static void up_sizes(void *p, size_t *data, size_t *usable)
{
	uint32_t g = gidx(p);

	pthread_mutex_lock(&up.lock);
	if (g >= up.hwm)
		up_die("invalid pointer");
	if (up.gt[g].kind == UP_G_SMALL) {
		*data = *usable = cls_size[up.gt[g].cls];
	} else if (up.gt[g].kind == UP_G_LARGE) {
		/* Usable up to the page: the rest of the last granule is
		 * never touched, so it stays a hole in the file. */
		*data = up.gt[g].size;
		*usable = (up.gt[g].size + UP_PAGE - 1) & ~(UP_PAGE - 1);
	} else {
		up_die("invalid pointer (not allocated)");
	}
	pthread_mutex_unlock(&up.lock);
}

EXPORT void *malloc(size_t n)
{
	int fresh;
	void *p;

	if (!up.enabled)
		return __libc_malloc(n);
	p = up_alloc(n, 16, 0, &fresh);
	return p ? p : __libc_malloc(n);
}

EXPORT void free(void *p)
{
	if (!p)
		return;
	if (up_ours(p))
		up_free(p);
	else
		__libc_free(p);
}

EXPORT void *calloc(size_t nm, size_t sz)
{
	size_t n;
	int fresh;
	void *p;

	if (!up.enabled)
		return __libc_calloc(nm, sz);
	if (__builtin_mul_overflow(nm, sz, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	p = up_alloc(n, 16, 1, &fresh);
	if (!p)
		return __libc_calloc(nm, sz);
	if (!fresh)
		memset(p, 0, n);
	return p;
}

/* Grow or shrink a LARGE block in place; 0 if done. */
static int large_resize_locked(uint32_t g, size_t n)
{
	struct up_gent *e = &up.gt[g];
	uint32_t ng = (uint32_t)((n + UP_GRAN - 1) >> UP_GRAN_SHIFT);
	uint32_t old = e->ngran, nx;

	if (n > up.resv)
		return -1;
	if (ng <= old) {
		if (ng < old)
			gran_free(g + ng, old - ng);
		e->ngran = ng;
		e->size = n;
		return 0;
	}
	nx = g + old;
	if (nx == up.hwm && heap_grow(ng - old) < 0)
		return -1;
	if (nx < up.hwm && up.gt[nx].kind == UP_G_FREE &&
	    up.gt[nx].ngran >= ng - old) {
		ext_carve(nx, up.gt[nx].ngran, nx, ng - old);
		take_dirty_locked(nx, ng - old, 0);
		mark_large(g, ng, n);
		return 0;
	}
	return -1;
}

EXPORT void *realloc(void *p, size_t n)
{
	size_t data, usable;
	void *q;

	if (!p)
		return malloc(n);
	if (!up_ours(p))
		return __libc_realloc(p, n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	up_sizes(p, &data, &usable);
	if (usable <= UP_SMALL_MAX && data == usable) {	/* a small block */
		if (n <= usable && n > usable / 2)
			return p;
	} else if (n > UP_SMALL_MAX) {
		int done;

		pthread_mutex_lock(&up.lock);
		done = large_resize_locked(gidx(p), n) == 0;
		pthread_mutex_unlock(&up.lock);
		if (done)
			return p;
	}
	q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, usable < n ? usable : n);
	up_free(p);
	return q;
}

EXPORT void *reallocarray(void *p, size_t nm, size_t sz)
{
	size_t n;

	if (__builtin_mul_overflow(nm, sz, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

static void *aligned(size_t align, size_t n)
{
	int fresh;
	void *p;

	if (align < 16)
		align = 16;
	if (!up.enabled)
		return __libc_memalign(align, n);
	p = up_alloc(n, align, 0, &fresh);
	return p ? p : __libc_memalign(align, n);
}

static int pow2(size_t a)
{
	return a && !(a & (a - 1));
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (!pow2(align) || align % sizeof(void *))
		return EINVAL;
	p = aligned(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (!pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, n);
}

EXPORT void *memalign(size_t align, size_t n)
{
	size_t a = 1;

	if (align > ((size_t)1 << 40)) {
		errno = EINVAL;
		return NULL;
	}
	while (a < align)
		a <<= 1;
	return aligned(a, n);
}

EXPORT void *valloc(size_t n)
{
	return aligned(UP_PAGE, n);
}

EXPORT void *pvalloc(size_t n)
{
	size_t r;

	if (__builtin_add_overflow(n, UP_PAGE - 1, &r)) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned(UP_PAGE, r & ~(UP_PAGE - 1));
}

EXPORT size_t malloc_usable_size(void *p)
{
	static size_t (*real)(void *);
	size_t data, usable;

	if (!p)
		return 0;
	if (up_ours(p)) {
		up_sizes(p, &data, &usable);
		return usable;
	}
	if (!real)
		real = (size_t (*)(void *))dlsym(RTLD_NEXT,
						 "malloc_usable_size");
	return real ? real(p) : 0;
}

/* ---- the program's own mmap()s --------------------------------------- */

static uint16_t page_bits(uint32_t first, uint32_t end)
{
	uint32_t m = ((1u << (end - first)) - 1) << first;

	return (uint16_t)m;
}

static void mark_app(uint32_t g, uint32_t npages)
{
	for (; npages; g++) {
		uint32_t k = npages < UP_PAGES_PER_GRAN ? npages :
						(uint32_t)UP_PAGES_PER_GRAN;

		up.gt[g].kind = UP_G_APP;
		up.gt[g].nfree = page_bits(0, k);
		npages -= k;
	}
}

static void *app_alloc(size_t len)
{
	size_t np = (len + UP_PAGE - 1) / UP_PAGE;
	size_t ng = (np + UP_PAGES_PER_GRAN - 1) / UP_PAGES_PER_GRAN;
	uint32_t g;
	int zero;

	if (len > up.resv)
		return NULL;
	pthread_mutex_lock(&up.lock);
	g = gran_take((uint32_t)ng, 1, 1);
	if (g != UP_NONE)
		mark_app(g, (uint32_t)np);
	zero = up.punch_ok;
	pthread_mutex_unlock(&up.lock);
	if (g == UP_NONE)
		return NULL;
	if (!zero)
		memset(gaddr(g), 0, np * UP_PAGE);
	return gaddr(g);
}

/*
 * The program unmaps (or, with @dontneed, discards) pages [p0, p1) of the
 * reservation, page indices from base.  Pages of malloc's own granules
 * are left alone: the program does not own them.
 */
static void app_release(size_t p0, size_t p1, int dontneed)
{
	pthread_mutex_lock(&up.lock);
	while (p0 < p1) {
		uint32_t g = (uint32_t)(p0 / UP_PAGES_PER_GRAN);
		uint32_t a = (uint32_t)(p0 % UP_PAGES_PER_GRAN);
		size_t gend = ((size_t)g + 1) * UP_PAGES_PER_GRAN;
		uint32_t b = (uint32_t)((p1 < gend ? p1 : gend) - (size_t)g * UP_PAGES_PER_GRAN);
		struct up_gent *e = &up.gt[g];
		uint16_t bits = page_bits(a, b);

		p0 = p1 < gend ? p1 : gend;
		if (g >= up.hwm || e->kind != UP_G_APP || !(e->nfree & bits))
			continue;
		if (!dontneed) {
			/* Undo any mprotect() so a reused range is plain RW. */
			syscall(SYS_mprotect, gaddr(g) + a * UP_PAGE,
				(size_t)(b - a) * UP_PAGE,
				PROT_READ | PROT_WRITE);
			e->nfree &= (uint16_t)~bits;
			if (!e->nfree) {
				gran_free(g, 1);
				continue;
			}
		}
		backing_punch(gaddr(g) + a * UP_PAGE, (size_t)(b - a) * UP_PAGE);
		if (dontneed && !up.punch_ok)
			memset(gaddr(g) + a * UP_PAGE, 0, (size_t)(b - a) * UP_PAGE);
	}
	pthread_mutex_unlock(&up.lock);
}

/* 1 if every page in [p0, p1) is a live APP page. */
static int app_live_locked(size_t p0, size_t p1)
{
	for (; p0 < p1; p0++) {
		uint32_t g = (uint32_t)(p0 / UP_PAGES_PER_GRAN);

		if (g >= up.hwm || up.gt[g].kind != UP_G_APP ||
		    !(up.gt[g].nfree & (1u << (p0 % UP_PAGES_PER_GRAN))))
			return 0;
	}
	return 1;
}

/* Grow the APP range ending at page @p1 to page @p2 in place; 0 if done. */
static int app_extend_locked(size_t p1, size_t p2)
{
	uint32_t g = (uint32_t)((p1 - 1) / UP_PAGES_PER_GRAN);
	size_t gend = ((size_t)g + 1) * UP_PAGES_PER_GRAN;
	size_t in_g = (p2 < gend ? p2 : gend) - p1;
	uint32_t a = (uint32_t)(p1 - (size_t)g * UP_PAGES_PER_GRAN);
	uint32_t need = 0, nx = g + 1;

	if (in_g && (up.gt[g].nfree & page_bits(a, a + (uint32_t)in_g)))
		return -1;	/* those pages were never unmapped by us */
	if (p2 > gend) {
		need = (uint32_t)((p2 - gend + UP_PAGES_PER_GRAN - 1) /
				  UP_PAGES_PER_GRAN);
		if (nx == up.hwm && heap_grow(need) < 0)
			return -1;
		if (nx >= up.hwm || up.gt[nx].kind != UP_G_FREE ||
		    up.gt[nx].ngran < need)
			return -1;
		ext_carve(nx, up.gt[nx].ngran, nx, need);
		take_dirty_locked(nx, need, 1);
		mark_app(nx, (uint32_t)(p2 - gend));
	}
	if (in_g)
		up.gt[g].nfree |= page_bits(a, a + (uint32_t)in_g);
	return 0;
}

/*
 * Copy @len bytes at reservation offset @off to @dst, skipping holes (so
 * that untouched pages are not faulted in).  SEEK_DATA asks the
 * filesystem, which with FUSE's writeback cache has not seen the dirty
 * pages yet: write the range back first.
 */
static void copy_data(void *dst, size_t off, size_t len)
{
	size_t end = off + len;

	if (up.fd >= 0 &&
	    sync_file_range(up.fd, (off_t)off, (off_t)len,
			    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			    SYNC_FILE_RANGE_WAIT_AFTER) < 0)
		goto all;
	while (off < end) {
		off_t d, h;

		if (up.fd < 0)
			break;
		d = lseek(up.fd, (off_t)off, SEEK_DATA);
		if (d < 0) {
			if (errno == ENXIO)
				return;	/* only holes left: zeros already */
			break;
		}
		if ((size_t)d >= end)
			return;
		h = lseek(up.fd, d, SEEK_HOLE);
		if (h < 0)
			break;
		if ((size_t)h > end)
			h = (off_t)end;
		memcpy((char *)dst + (d - (off_t)(end - len)),
		       up.base + d, (size_t)(h - d));
		off = (size_t)h;
	}
all:
	if (off < end)
		memcpy((char *)dst + (off - (end - len)), up.base + off,
		       end - off);
}

static int mmap_is_ours(void *addr, size_t len, int prot, int flags)
{
	const int bad = MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_GROWSDOWN |
			MAP_STACK | MAP_HUGETLB | MAP_32BIT | MAP_LOCKED;

	return up.enabled && !addr && len && len >= up.min_size &&
	       prot == (PROT_READ | PROT_WRITE) &&
	       (flags & (MAP_TYPE | MAP_ANONYMOUS)) ==
			(MAP_PRIVATE | MAP_ANONYMOUS) &&
	       !(flags & bad);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	if (mmap_is_ours(addr, len, prot, flags)) {
		void *p = app_alloc(len);

		if (p)
			return p;
	}
	return up_sys_mmap(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/*
 * Split [addr, addr+len) into the part inside the reservation (as page
 * indices [*p0, *p1)) and pass the parts outside to @outside.  Returns
 * 1 if some part was inside.
 */
static int split_range(char *addr, size_t len, size_t *p0, size_t *p1,
		       int (*outside)(char *, size_t, int), int arg, int *rc)
{
	char *end = addr + len, *lo = up.base, *hi = up.base + up.resv;

	*rc = 0;
	if (!up.base || end <= lo || addr >= hi)
		return 0;
	if (addr < lo && outside(addr, (size_t)(lo - addr), arg) < 0)
		*rc = -1;
	if (end > hi && outside(hi, (size_t)(end - hi), arg) < 0)
		*rc = -1;
	if (addr < lo)
		addr = lo;
	if (end > hi)
		end = hi;
	*p0 = (size_t)(addr - lo) / UP_PAGE;
	*p1 = (size_t)(end - lo) / UP_PAGE;
	return 1;
}

static int sys_munmap2(char *a, size_t l, int unused)
{
	(void)unused;
	return up_sys_munmap(a, l);
}

static int sys_madvise(char *a, size_t l, int advice)
{
	return (int)syscall(SYS_madvise, a, l, advice);
}

EXPORT int munmap(void *addr, size_t len)
{
	size_t p0, p1;
	int rc;

	if (!up.enabled || ((uintptr_t)addr & (UP_PAGE - 1)) || !len ||
	    len > SIZE_MAX - UP_PAGE)
		return up_sys_munmap(addr, len);
	len = (len + UP_PAGE - 1) & ~(UP_PAGE - 1);
	if (!split_range(addr, len, &p0, &p1, sys_munmap2, 0, &rc))
		return up_sys_munmap(addr, len);
	app_release(p0, p1, 0);
	return rc;
}

EXPORT int madvise(void *addr, size_t len, int advice)
{
	size_t p0, p1;
	int rc;

	if (!up.enabled || ((uintptr_t)addr & (UP_PAGE - 1)) ||
	    len > SIZE_MAX - UP_PAGE ||
	    (advice != MADV_DONTNEED && advice != MADV_FREE &&
	     advice != MADV_REMOVE))
		return sys_madvise(addr, len, advice);
	len = (len + UP_PAGE - 1) & ~(UP_PAGE - 1);
	if (!split_range(addr, len, &p0, &p1, sys_madvise, advice, &rc))
		return sys_madvise(addr, len, advice);
	app_release(p0, p1, 1);
	return rc;
}

EXPORT void *mremap(void *old, size_t oldlen, size_t newlen, int flags, ...)
{
	void *fixed = NULL, *p;
	size_t p0, p1, p2, ol, nl;
	int ok;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		fixed = va_arg(ap, void *);
		va_end(ap);
	}
	if (!up.enabled || !up_ours(old))
		return (void *)syscall(SYS_mremap, old, oldlen, newlen, flags,
				       fixed);
	if (((uintptr_t)old & (UP_PAGE - 1)) || !newlen || !oldlen ||
	    (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) ||
	    ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) ||
	    oldlen > up.resv || newlen > up.resv) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	ol = (oldlen + UP_PAGE - 1) & ~(UP_PAGE - 1);
	nl = (newlen + UP_PAGE - 1) & ~(UP_PAGE - 1);
	p0 = (size_t)((char *)old - up.base) / UP_PAGE;
	p1 = p0 + ol / UP_PAGE;
	p2 = p0 + nl / UP_PAGE;
	pthread_mutex_lock(&up.lock);
	ok = p1 * UP_PAGE <= up.resv && app_live_locked(p0, p1);
	pthread_mutex_unlock(&up.lock);
	if (!ok) {
		errno = EFAULT;
		return MAP_FAILED;
	}
	if (!(flags & MREMAP_FIXED)) {
		if (nl <= ol) {
			app_release(p2, p1, 0);
			return old;
		}
		pthread_mutex_lock(&up.lock);
		ok = p2 * UP_PAGE <= up.resv && app_extend_locked(p1, p2) == 0;
		pthread_mutex_unlock(&up.lock);
		if (ok)
			return old;
		if (!(flags & MREMAP_MAYMOVE)) {
			errno = ENOMEM;
			return MAP_FAILED;
		}
		p = app_alloc(newlen);
		if (!p)
			p = up_sys_mmap(NULL, newlen, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	} else {
		if (up_ours(fixed) || up_ours((char *)fixed + nl - 1)) {
			errno = EINVAL;
			return MAP_FAILED;
		}
		p = up_sys_mmap(fixed, newlen, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	}
	if (p == MAP_FAILED)
		return MAP_FAILED;
	copy_data(p, p0 * UP_PAGE, ol < nl ? ol : nl);
	app_release(p0, p1, 0);
	return p;
}
