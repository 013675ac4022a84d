// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * chan.c - usm-policyd's side of /dev/usmfs: attach (HELLO, chunks, mmap),
 * events in whole records, commands in batches.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policyd.h"

/* ------------------------------------------------------ the real device */

struct pd_dev {
	int fd;
};

static int dev_ioctl(void *priv, unsigned long req, void *arg)
{
	struct pd_dev *d = priv;
	int r;

	do {
		r = ioctl(d->fd, req, arg);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static ssize_t dev_read(void *priv, void *buf, size_t len)
{
	struct pd_dev *d = priv;
	ssize_t r;

	do {
		r = read(d->fd, buf, len);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static void *dev_map_pool(void *priv, size_t len)
{
	struct pd_dev *d = priv;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void dev_unmap_pool(void *priv, void *addr, size_t len)
{
	(void)priv;
	munmap(addr, len);
}

static void dev_close(void *priv)
{
	struct pd_dev *d = priv;

	close(d->fd);
	free(d);
}

static const struct pd_chan_ops pd_dev_ops = {
	.ioctl = dev_ioctl,
	.read = dev_read,
	.map_pool = dev_map_pool,
	.unmap_pool = dev_unmap_pool,
	.close = dev_close,
};

void pd_chan_init(struct pd_chan *ch, const struct pd_chan_ops *ops,
		  void *priv, int fd)
{
	memset(ch, 0, sizeof(*ch));
	ch->ops = ops;
	ch->priv = priv;
	ch->fd = fd;
	ch->max_batch = 1;
}

int pd_chan_open(struct pd_chan *ch, const char *path)
{
	struct pd_dev *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (d->fd < 0) {
		err = -errno;
		pd_log(PD_ERR, "%s: %s%s", path, strerror(errno),
		       errno == EBUSY ? " (another server is attached)" :
		       errno == ENOENT ? " (is usmfs.ko loaded?)" : "");
		free(d);
		return err;
	}
	pd_chan_init(ch, &pd_dev_ops, d, d->fd);
	return 0;
}

/* ------------------------------------------------------------- attach */

int pd_chan_attach(struct pd_chan *ch, uint64_t features)
{
	struct usmfs_hello *h = &ch->hello;
	struct usmfs_chunks q;
	uint64_t sum = 0;
	int r;

	memset(h, 0, sizeof(*h));
	h->version_major = USMFS_VERSION_MAJOR;
	h->version_minor = USMFS_VERSION_MINOR;
	h->features = features & USMFS_F_ALL;
	r = ch->ops->ioctl(ch->priv, USMFS_IOC_HELLO, h);
	ch->ioctls++;
	if (r < 0) {
		pd_log(PD_ERR, "HELLO: %s%s", strerror(-r),
		       r == -EPROTO ? " (protocol major version differs)" : "");
		return r;
	}
	if (h->version_major != USMFS_VERSION_MAJOR) {
		pd_log(PD_ERR, "module speaks protocol %u.%u, this server %u.%u",
		       h->version_major, h->version_minor,
		       USMFS_VERSION_MAJOR, USMFS_VERSION_MINOR);
		return -EPROTO;
	}
	if (h->features & ~features) {
		pd_log(PD_ERR, "module granted features 0x%llx not asked for",
		       (unsigned long long)(h->features & ~features));
		return -EPROTO;
	}
	if (h->event_size != sizeof(struct usmfs_event) ||
	    h->cmd_size != sizeof(struct usmfs_cmd) ||
	    h->page_shift != USMFS_PAGE_SHIFT) {
		pd_log(PD_ERR, "module's event/command size or page shift (%u/%u/%u) is not this server's (%zu/%zu/%u)",
		       h->event_size, h->cmd_size, h->page_shift,
		       sizeof(struct usmfs_event), sizeof(struct usmfs_cmd),
		       USMFS_PAGE_SHIFT);
		return -EPROTO;
	}
	if (h->pool_frames == 0 || h->nr_chunks == 0 ||
	    h->nr_chunks > h->pool_frames ||
	    h->pool_frames > (SIZE_MAX >> USMFS_PAGE_SHIFT)) {
		pd_log(PD_ERR, "module reports a bad pool (%llu frames, %u chunks)",
		       (unsigned long long)h->pool_frames, h->nr_chunks);
		return -EPROTO;
	}
	ch->max_batch = h->max_batch;
	if (ch->max_batch == 0 || ch->max_batch > USMFS_MAX_BATCH)
		ch->max_batch = ch->max_batch ? USMFS_MAX_BATCH : 1;

	ch->chunks = calloc(h->nr_chunks, sizeof(*ch->chunks));
	if (!ch->chunks)
		return -ENOMEM;
	memset(&q, 0, sizeof(q));
	q.chunks_ptr = (uintptr_t)ch->chunks;
	q.nr = h->nr_chunks;
	r = ch->ops->ioctl(ch->priv, USMFS_IOC_GET_CHUNKS, &q);
	ch->ioctls++;
	if (r < 0) {
		pd_log(PD_ERR, "GET_CHUNKS: %s", strerror(-r));
		return r;
	}
	if (q.nr != h->nr_chunks) {
		pd_log(PD_ERR, "GET_CHUNKS: %u chunks, HELLO said %u", q.nr,
		       h->nr_chunks);
		return -EPROTO;
	}
	ch->nr_chunks = q.nr;
	for (uint32_t i = 0; i < q.nr; i++) {
		const struct usmfs_chunk *c = &ch->chunks[i];

		if (c->first_frame != sum || c->nr_frames == 0 ||
		    c->nr_frames > h->pool_frames - sum) {
			pd_log(PD_ERR, "GET_CHUNKS: chunk %u [%llu, +%llu) does not follow the last",
			       i, (unsigned long long)c->first_frame,
			       (unsigned long long)c->nr_frames);
			return -EPROTO;
		}
		sum += c->nr_frames;
	}
	if (sum != h->pool_frames) {
		pd_log(PD_ERR, "GET_CHUNKS: chunks hold %llu frames, pool %llu",
		       (unsigned long long)sum,
		       (unsigned long long)h->pool_frames);
		return -EPROTO;
	}

	ch->pool_len = (size_t)h->pool_frames << USMFS_PAGE_SHIFT;
	ch->pool = ch->ops->map_pool(ch->priv, ch->pool_len);
	if (!ch->pool) {
		r = errno ? -errno : -ENOMEM;
		pd_log(PD_ERR, "mmap of the pool (%zu bytes): %s", ch->pool_len,
		       strerror(-r));
		return r;
	}
	pd_log(PD_INFO, "attached: protocol %u.%u, features 0x%llx, pool %llu frames in %u chunks, generation %llu%s",
	       h->version_major, h->version_minor,
	       (unsigned long long)h->features,
	       (unsigned long long)h->pool_frames, h->nr_chunks,
	       (unsigned long long)h->generation,
	       (h->state & USMFS_STATE_SWAPPED) ? ", swapped pages waiting" : "");
	return 0;
}

void pd_chan_close(struct pd_chan *ch)
{
	if (ch->pool)
		ch->ops->unmap_pool(ch->priv, ch->pool, ch->pool_len);
	ch->pool = NULL;
	if (ch->ops)
		ch->ops->close(ch->priv);
	ch->ops = NULL;
	free(ch->chunks);
	ch->chunks = NULL;
	free(ch->pending);
	ch->pending = NULL;
	ch->nr_pending = ch->cap_pending = 0;
}

void *pd_frame_addr(struct pd_chan *ch, usm_frame_t f)
{
	if (f >= ch->hello.pool_frames)
		return NULL;
	return ch->pool + ((size_t)f << USMFS_PAGE_SHIFT);
}

/* ------------------------------------------------------------- events */

ssize_t pd_chan_read(struct pd_chan *ch, struct usmfs_event *evs, size_t max)
{
	ssize_t r;

	if (max == 0)
		return 0;
	r = ch->ops->read(ch->priv, evs, max * sizeof(*evs));
	if (r == -EAGAIN || r == 0)
		return 0;
	if (r < 0)
		return r;
	if ((size_t)r % sizeof(*evs) || (size_t)r > max * sizeof(*evs)) {
		ch->events_bad++;
		pd_log(PD_WARN, "read %zd bytes from the channel, not a whole number of %zu-byte events: dropped",
		       r, sizeof(*evs));
		return 0;
	}
	ch->events_read += (size_t)r / sizeof(*evs);
	ch->reads++;
	return r / (ssize_t)sizeof(*evs);
}

/* ----------------------------------------------------------- commands */

int pd_chan_submit(struct pd_chan *ch, struct usmfs_cmd *cmds, size_t n)
{
	size_t off = 0;

	while (off < n) {
		struct usmfs_cmd_batch b;
		size_t k = n - off;
		int r;

		if (k > ch->max_batch)
			k = ch->max_batch;
		memset(&b, 0, sizeof(b));
		b.cmds_ptr = (uintptr_t)(cmds + off);
		b.nr = (uint32_t)k;
		for (size_t i = 0; i < k; i++)
			cmds[off + i].error = 0;
		r = ch->ops->ioctl(ch->priv, USMFS_IOC_CMD, &b);
		ch->ioctls++;
		if (r >= 0 && b.done > k)
			r = -EPROTO;
		if (r < 0) {
			pd_log(PD_ERR, "CMD batch of %zu: %s", k, strerror(-r));
			for (size_t i = off; i < n; i++)
				cmds[i].error = (uint32_t)-r;
			ch->cmds_failed += n - off;
			return r;
		}
		if (b.done < k) {
			/* Not looked at: say so, and stop. */
			for (size_t i = off + b.done; i < n; i++)
				cmds[i].error = EIO;
			ch->cmds_sent += b.done;
			ch->cmds_failed += n - off - b.done;
			pd_log(PD_ERR, "CMD batch: %u of %zu executed", b.done, k);
			return -EIO;
		}
		for (size_t i = 0; i < k; i++)
			if (cmds[off + i].error)
				ch->cmds_failed++;
		ch->cmds_sent += k;
		off += k;
	}
	return 0;
}

int pd_chan_queue(struct pd_chan *ch, const struct usmfs_cmd *cmd)
{
	if (ch->nr_pending == ch->cap_pending) {
		size_t cap = ch->cap_pending ? ch->cap_pending * 2 : 64;
		struct usmfs_cmd *p = realloc(ch->pending, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		ch->pending = p;
		ch->cap_pending = cap;
	}
	ch->pending[ch->nr_pending++] = *cmd;
	return 0;
}

static const char *cmd_name(uint16_t op)
{
	switch (op) {
	case USMFS_CMD_GRANT: return "GRANT";
	case USMFS_CMD_REVOKE: return "REVOKE";
	case USMFS_CMD_EVICT: return "EVICT";
	case USMFS_CMD_COMMIT: return "COMMIT";
	case USMFS_CMD_CANCEL: return "CANCEL";
	case USMFS_CMD_SWAPIN_DONE: return "SWAPIN_DONE";
	case USMFS_CMD_SET_WATERMARKS: return "SET_WATERMARKS";
	case USMFS_CMD_LIST_PAGES: return "LIST_PAGES";
	case USMFS_CMD_SET_STORE: return "SET_STORE";
	case USMFS_CMD_GET_STORE: return "GET_STORE";
	}
	return "?";
}

int pd_chan_flush(struct pd_chan *ch)
{
	int r;

	if (!ch->nr_pending)
		return 0;
	r = pd_chan_submit(ch, ch->pending, ch->nr_pending);
	for (size_t i = 0; i < ch->nr_pending; i++) {
		const struct usmfs_cmd *c = &ch->pending[i];

		if (c->error)
			pd_log(PD_WARN, "%s %u:%llu: %s", cmd_name(c->op),
			       c->dev, (unsigned long long)c->ino,
			       strerror((int)c->error));
		if (ch->answered)
			ch->answered(ch->answered_arg, c);
	}
	ch->nr_pending = 0;
	return r;
}
