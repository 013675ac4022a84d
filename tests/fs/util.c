// SPDX-License-Identifier: GPL-2.0-only
/* util.c - helpers shared by every case of fstest. */
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "fstest.h"

void fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(EXIT_FAIL);
}

void skip(const char *fmt, ...)
{
	va_list ap;

	fputs("skip: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(EXIT_SKIP);
}

void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *errname(int e)
{
	static __thread char bufs[4][96];
	static __thread unsigned int next;
	char *b = bufs[next++ % 4];
	const char *n = strerrorname_np(e);

	snprintf(b, sizeof(bufs[0]), "%s (%s)", n ? n : "E?", strerror(e));
	return b;
}

const char *P(const char *fmt, ...)
{
	char *b;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&b, fmt, ap);
	va_end(ap);
	CHECK(n >= 0, "out of memory");
	return b;	/* never freed: paths live as long as the case */
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	CHECK(p, "out of memory (%zu bytes)", n);
	return p;
}

void write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		CHECK(n > 0, "write(%zu): %s", len, n < 0 ? errname(errno) : "returned 0");
		p += n;
		len -= n;
	}
}

void pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		CHECK(n > 0, "pwrite(%zu at %lld): %s", len, (long long)off,
		      n < 0 ? errname(errno) : "returned 0");
		p += n;
		len -= n;
		off += n;
	}
}

void pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		CHECK(n > 0, "pread(%zu at %lld): %s", len, (long long)off,
		      n < 0 ? errname(errno) : "early EOF");
		p += n;
		len -= n;
		off += n;
	}
}

void read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		CHECK(n > 0, "read(%zu): %s", len, n < 0 ? errname(errno) : "early EOF");
		p += n;
		len -= n;
	}
}

void put_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = SYS(open(path, O_CREAT | O_TRUNC | O_WRONLY, mode));

	write_full(fd, buf, len);
	SYS(close(fd));
}

static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t pattern_word(uint64_t seed, uint64_t w)
{
	return mix64(seed * 0x100000001b3ULL ^ w);
}

void pattern_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	unsigned char *p = buf;
	size_t i = 0;

	while (i < len && ((off + i) & 7)) {
		uint64_t o = off + i;

		p[i++] = (unsigned char)(pattern_word(seed, o >> 3) >> (8 * (o & 7)));
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t v = pattern_word(seed, (off + i) >> 3);

		memcpy(p + i, &v, 8);	/* little endian: byte k = bits 8k.. */
	}
	while (i < len) {
		uint64_t o = off + i;

		p[i++] = (unsigned char)(pattern_word(seed, o >> 3) >> (8 * (o & 7)));
	}
}

long pattern_check(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
	const unsigned char *p = buf;
	unsigned char tmp[4096];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(tmp) ? len - done : sizeof(tmp);

		pattern_fill(tmp, n, seed, off + done);
		if (memcmp(tmp, p + done, n)) {
			for (size_t i = 0; i < n; i++)
				if (tmp[i] != p[done + i])
					return (long)(done + i);
		}
		done += n;
	}
	return -1;
}

int all_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

const char *frontend(void)
{
	const char *f = getenv("FS_FRONTEND");

	return f && *f ? f : "tmpfs";
}

uint64_t parse_bytes(const char *s, int *ok)
{
	char *end;
	unsigned long long v;

	*ok = 0;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	case 't': case 'T': v <<= 40; end++; break;
	default: break;
	}
	if (*end)
		return 0;
	*ok = 1;
	return v;
}

uint64_t env_bytes(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	uint64_t v;
	int ok;

	if (!s || !*s)
		return dflt;
	v = parse_bytes(s, &ok);
	CHECK(ok, "bad value for %s: '%s'", name, s);
	return v;
}

int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		CHECK(errno == EINTR, "waitpid: %s", errname(errno));
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid = SYS(fork());

	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid))
			FAIL("dropping to %u/%u: %s", uid, gid, errname(errno));
		_exit(fn(arg));
	}
	return wait_status(pid);
}

void need_root(void)
{
	if (geteuid() != 0)
		skip("needs root");
}

static sigjmp_buf probe_env;

static void probe_handler(int sig)
{
	siglongjmp(probe_env, sig);
}

static int probe(volatile char *p, int write, char v, char *out)
{
	struct sigaction sa = { .sa_handler = probe_handler }, old_bus, old_segv;
	int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(probe_env, 1);
	if (sig == 0) {
		if (write)
			*p = v;
		else
			*out = *p;
	}
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	CHECK(sig == 0 || sig == SIGBUS, "access at %p raised signal %d, not SIGBUS",
	      (void *)p, sig);
	return sig == SIGBUS;
}

int probe_read(const volatile char *p, char *out)
{
	char dummy;

	return probe((volatile char *)p, 0, 0, out ? out : &dummy);
}

int probe_write(volatile char *p, char v)
{
	return probe(p, 1, v, NULL);
}

void need_usm(const char *path)
{
	char buf[512];
	ssize_t n = getxattr(path, "user.usm.stats", buf, sizeof(buf));

	if (n < 0)
		skip("no user.usm.stats on %s (%s): not a usmfs mount",
		     path, errname(errno));
}

uint64_t usm_stat(const char *path, const char *key)
{
	char buf[1024], *p;
	size_t klen = strlen(key);
	ssize_t n = getxattr(path, "user.usm.stats", buf, sizeof(buf) - 1);

	CHECK(n > 0, "getxattr(%s, user.usm.stats): %s", path,
	      n < 0 ? errname(errno) : "empty");
	buf[n] = 0;
	for (p = buf; (p = strstr(p, key)); p += klen) {
		if ((p == buf || p[-1] == ' ') && p[klen] == '=') {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(p + klen + 1, &end, 10);
			CHECK(!errno && end != p + klen + 1 &&
			      (*end == ' ' || *end == 0 || *end == '\n'),
			      "user.usm.stats: bad %s in '%s'", key, buf);
			return v;
		}
	}
	FAIL("user.usm.stats has no %s: '%s'", key, buf);
}
