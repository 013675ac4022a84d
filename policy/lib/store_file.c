// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * store_file.c - the file of a "file:PATH" store: created, recognised,
 * opened, checked (docs/stores.md).
 *
 * A store only ever truncates, chmods or writes a file it created: a new
 * file is created exclusively (O_CREAT | O_EXCL | O_NOFOLLOW, mode 0600)
 * and gets a header in its first page (store.h: magic, version, page size,
 * identity); the slots follow it.  An existing path is used only when it is
 * a regular file of the caller's effective uid, not a symbolic link, and
 * either holds such a header (a store file of an earlier run: reused,
 * its slots kept with USM_STORE_KEEP, else cut back to the header) or is
 * empty (adopted: the header is written).  Anything else is refused with
 * -EEXIST and a message naming it, before anything was written, chmodded or
 * locked: its bytes, mode and times stay as they were.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

_Static_assert(sizeof(struct store_hdr) <= STORE_HDR_BYTES,
	       "the store header fits its page");
_Static_assert(sizeof(USM_STORE_MAGIC) - 1 == 8, "8 bytes of magic");

void store_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- header */

/*
 * Read the header of the non-empty file @fd into @h: 0, or -EEXIST with a
 * message when the file is not a store of this format (nothing changed).
 */
static int hdr_read(int fd, const char *spec, struct store_hdr *h, char *err,
		    size_t errlen)
{
	ssize_t n = pread(fd, h, sizeof(*h), 0);

	if (n < 0) {
		store_set_err(err, errlen, "%s: reading its header: %s", spec,
			      strerror(errno));
		return -errno;
	}
	if ((size_t)n < sizeof(*h) ||
	    memcmp(h->magic, USM_STORE_MAGIC, sizeof(h->magic))) {
		store_set_err(err, errlen, "%s: exists and is not a usmfs store "
			      "(no store header): refused, left as it is "
			      "(remove it or name another file)", spec);
		return -EEXIST;
	}
	if (h->version != STORE_HDR_VERSION || h->page_size != USM_PAGE_SIZE ||
	    h->hdr_pages != STORE_HDR_PAGES) {
		store_set_err(err, errlen, "%s: a usmfs store of another format "
			      "(version %u, page size %u, header pages %u; this "
			      "one is version %u): refused, left as it is", spec,
			      h->version, h->page_size, h->hdr_pages,
			      STORE_HDR_VERSION);
		return -EEXIST;
	}
	return 0;
}

static void random_id(uint8_t id[16])
{
	size_t got = 0;
	ssize_t n;
	uint64_t x;

	while (got < 16) {
		n = getrandom(id + got, 16 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == 16)
		return;
	/* no entropy source: still unique enough to tell files apart */
	x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)id;
	for (; got < 16; got++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		id[got] = (uint8_t)(x >> 56);
	}
}

/* Write the header page: @old's identity and creation time when reusing
 * a store file, new ones otherwise; @name is the store's name now. */
static int hdr_write(int fd, const char *name, const struct store_hdr *old)
{
	char *page = calloc(1, STORE_HDR_BYTES);
	struct store_hdr h;
	ssize_t n;
	int ret = 0;

	if (!page)
		return -ENOMEM;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, USM_STORE_MAGIC, sizeof(h.magic));
	h.version = STORE_HDR_VERSION;
	h.page_size = USM_PAGE_SIZE;
	h.hdr_pages = STORE_HDR_PAGES;
	if (old) {
		h.created = old->created;
		memcpy(h.uuid, old->uuid, sizeof(h.uuid));
	} else {
		h.created = (uint64_t)time(NULL);
		random_id(h.uuid);
	}
	snprintf(h.name, sizeof(h.name), "%s", name);
	memcpy(page, &h, sizeof(h));
	do
		n = pwrite(fd, page, STORE_HDR_BYTES, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		ret = -errno;
	else if ((uint64_t)n != STORE_HDR_BYTES)
		ret = -EIO;
	free(page);
	return ret;
}

int store_file_cut(struct usm_store *st)
{
	if (ftruncate(st->fd, (off_t)STORE_HDR_BYTES))
		return -errno;
	st->written_end = STORE_HDR_BYTES;
	return 0;
}

/* ------------------------------------------------------------------ open */

/*
 * A second descriptor on the file of @fd with O_DIRECT, for writes that
 * skip the page cache; -1 where there is none (no /proc, a filesystem
 * without direct I/O).  Opened through /proc/self/fd, which names the
 * inode already opened and checked, never the path again.
 */
static int open_direct(int fd)
{
	struct stat a, b;
	char p[64];
	int dfd;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	dfd = open(p, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (fstat(fd, &a) || fstat(dfd, &b) || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		close(dfd);
		return -1;
	}
	return dfd;
}

/* What an existing path must be before we look inside: 0 or -EPERM. */
static int stat_ok(const struct stat *sb, const char *spec, char *err,
		   size_t errlen)
{
	if (S_ISLNK(sb->st_mode)) {
		store_set_err(err, errlen, "%s: is a symbolic link, refused", spec);
		return -EPERM;
	}
	if (!S_ISREG(sb->st_mode)) {
		store_set_err(err, errlen, "%s: not a regular file", spec);
		return -EPERM;
	}
	if (sb->st_uid != geteuid()) {
		store_set_err(err, errlen, "%s: not owned by uid %u", spec,
			      (unsigned int)geteuid());
		return -EPERM;
	}
	return 0;
}

static int open_error(const char *spec, int e, char *err, size_t errlen)
{
	if (e == ELOOP) {
		store_set_err(err, errlen, "%s: is a symbolic link, refused", spec);
		return -EPERM;
	}
	if (e == EISDIR || e == ENXIO) {
		store_set_err(err, errlen, "%s: not a regular file", spec);
		return -EPERM;
	}
	store_set_err(err, errlen, "%s: %s", spec, strerror(e));
	return -e;
}

/* Remove the file we created at @path if it is still that file. */
static void unlink_created(const char *path, const struct stat *sb)
{
	struct stat now;

	if (!lstat(path, &now) && now.st_dev == sb->st_dev &&
	    now.st_ino == sb->st_ino)
		unlink(path);
}

int store_file_open(struct usm_store *st, const char *path, unsigned int flags,
		    char *err, size_t errlen)
{
	struct store_hdr old;
	bool created = false, fresh;
	struct stat sb;
	int fd, ret, tries;

	if (path[0] != '/') {
		store_set_err(err, errlen, "%s: the path must be absolute", st->spec);
		return -EINVAL;
	}
	for (tries = 0;; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC | O_NOCTTY, 0600);
		if (fd >= 0) {
			created = true;
			break;
		}
		if (errno != EEXIST)
			return open_error(st->spec, errno, err, errlen);
		/* There is something: open what it is, without creating,
		 * following or blocking (O_NONBLOCK: a FIFO must not hang
		 * us; cleared below).  Gone meanwhile: try again. */
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
			  O_NONBLOCK);
		if (fd >= 0)
			break;
		if (errno != ENOENT || tries == 3)
			return open_error(st->spec, errno, err, errlen);
	}
	if (fstat(fd, &sb)) {
		ret = open_error(st->spec, errno, err, errlen);
		close(fd);
		return ret;	/* cannot tell what it is: left alone */
	}
	ret = stat_ok(&sb, st->spec, err, errlen);
	if (ret)
		goto out_close;
	fresh = created || sb.st_size == 0;
	if (!fresh) {
		ret = hdr_read(fd, st->spec, &old, err, errlen);
		if (ret)
			goto out_close;
	}
	/* Two servers writing one store would corrupt each other.  A
	 * filesystem without locks (ENOLCK, EOPNOTSUPP) is used unlocked. */
	if (flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK) {
		store_set_err(err, errlen, "%s: in use by another store", st->spec);
		ret = -EBUSY;
		goto out_close;
	}
	if (fcntl(fd, F_SETFL, 0) ||
	    ((sb.st_mode & 07777) != 0600 && fchmod(fd, 0600))) {
		ret = open_error(st->spec, errno, err, errlen);
		goto out_close;
	}
	st->fd = fd;
	if (fresh || !(flags & USM_STORE_KEEP)) {
		/* a new or adopted file, or a store file's old slots that
		 * nobody keeps: cut back to the header */
		ret = fresh ? 0 : store_file_cut(st);
		if (!ret)
			ret = hdr_write(fd, st->name, fresh ? NULL : &old);
		if (ret) {
			st->fd = -1;
			store_set_err(err, errlen, "%s: writing its header: %s",
				      st->spec, strerror(-ret));
			goto out_close;
		}
		st->written_end = STORE_HDR_BYTES;
	} else {
		st->written_end = (uint64_t)sb.st_size > STORE_HDR_BYTES ?
				  (uint64_t)sb.st_size : STORE_HDR_BYTES;
	}
	if (flags & USM_STORE_DIRECT)
		st->dfd = open_direct(fd);
	return 0;

out_close:
	close(fd);
	if (created)
		unlink_created(path, &sb);
	return ret;
}

int usm_store_check(const char *spec, char *err, size_t errlen)
{
	struct store_hdr h;
	struct stat sb;
	const char *path;
	char *dir, *slash;
	int fd, ret;

	if (!spec) {
		store_set_err(err, errlen, "store: missing spec");
		return -EINVAL;
	}
	if (!strcmp(spec, "none"))
		return 0;
	if (!strncmp(spec, "rados:", 6))
		return store_rados_check(spec, err, errlen);
	if (strncmp(spec, "file:", 5)) {
		store_set_err(err, errlen, "%s: unknown store type (expected "
			      "none, file:/PATH or rados:POOL)", spec);
		return -EINVAL;
	}
	path = spec + 5;
	if (path[0] != '/') {
		store_set_err(err, errlen, "%s: the path must be absolute", spec);
		return -EINVAL;
	}
	if (lstat(path, &sb)) {
		if (errno != ENOENT)
			return open_error(spec, errno, err, errlen);
		/* to be created: its directory must be there */
		dir = strdup(path);
		if (!dir)
			return -ENOMEM;
		slash = strrchr(dir, '/');
		slash[slash == dir] = '\0';
		ret = stat(dir, &sb) ? -errno : S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
		if (ret)
			store_set_err(err, errlen, "%s: directory %s: %s", spec,
				      dir, strerror(-ret));
		free(dir);
		return ret;
	}
	ret = stat_ok(&sb, spec, err, errlen);
	if (ret || sb.st_size == 0)
		return ret;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return open_error(spec, errno, err, errlen);
	ret = hdr_read(fd, spec, &h, err, errlen);
	close(fd);
	return ret;
}
