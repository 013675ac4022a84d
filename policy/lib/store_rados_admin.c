// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * store_rados_admin.c - what "rados:" stores of this machine have in a
 * pool (usm/swap.h: usm_rados_stores, usm_rados_remove; usmctl rados).
 *
 * A store's header usm.MACHINE.ID says who made it; its lock "usm" has
 * the cookie PID.START.MACHINE of the process that holds it.  A store
 * whose holder is alive, or is not known as a process of this machine, is
 * in use; any other is left over: a daemon or server that
 * stopped without emptying it (killed, or a server that kept its pages for
 * a restart that never came).  Only this machine's stores are listed, and
 * only left-over ones are removed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_rados.h"

/* The holder of @hdr's lock ("" when none) into @cookie. */
static void lock_holder(rados_ioctx_t io, const char *hdr, char *cookie,
			size_t len)
{
	char tag[64], clients[256], cookies[256], addrs[256];
	size_t tl = sizeof(tag), cl = sizeof(clients), kl = sizeof(cookies),
	       al = sizeof(addrs);
	int excl;

	cookie[0] = '\0';
	if (rados_list_lockers(io, hdr, "usm", &excl, tag, &tl, clients, &cl,
			       cookies, &kl, addrs, &al) > 0)
		snprintf(cookie, len, "%.*s", (int)(len - 1), cookies);
}

/* Fill @out from the header object @hdr (its text: "name N", "created T"). */
static void read_header(rados_ioctx_t io, const char *hdr,
			struct usm_rados_store *out)
{
	char buf[512], *p;
	int n = rados_read(io, hdr, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		return;
	buf[n] = '\0';
	p = strstr(buf, "\nname ");
	if (p)
		sscanf(p + 6, "%64s", out->name);
	p = strstr(buf, "\ncreated ");
	if (p)
		out->created = strtoll(p + 9, NULL, 10);
	p = strstr(buf, "\nhost ");
	if (p)
		sscanf(p + 6, "%63s", out->host);
}

int usm_rados_stores(const char *spec, int (*cb)(const struct usm_rados_store *,
						 void *),
		     void *arg, char *err, size_t errlen)
{
	struct usm_rados_store *list = NULL, *nl;
	rados_list_ctx_t lc;
	rados_ioctx_t io;
	rados_t cl;
	const char *e;
	char mach[RADOS_TAG_LEN], prefix[64];
	size_t n = 0, i, plen;
	bool opened;
	int r;

	r = rados_attach_spec(spec, &cl, &io, err, errlen);
	if (r)
		return r;
	rados_machine_tag(mach, sizeof(mach));
	plen = (size_t)snprintf(prefix, sizeof(prefix), "usm.%s.", mach);
	r = rados_nobjects_list_open(io, &lc);
	opened = !r;
	while (!r && !(r = rados_nobjects_list_next(lc, &e, NULL, NULL))) {
		const char *id = e + plen, *dot;
		size_t idlen;

		if (strncmp(e, prefix, plen))
			continue;
		dot = strchr(id, '.');
		idlen = dot ? (size_t)(dot - id) : strlen(id);
		if (!idlen || idlen >= sizeof(list[0].id))
			continue;
		for (i = 0; i < n; i++)
			if (strlen(list[i].id) == idlen &&
			    !strncmp(list[i].id, id, idlen))
				break;
		if (i == n) {
			nl = realloc(list, (n + 1) * sizeof(*list));
			if (!nl) {
				r = -ENOMEM;
				break;
			}
			list = nl;
			memset(&list[n], 0, sizeof(list[n]));
			memcpy(list[n].id, id, idlen);
			n++;
		}
		if (dot)
			list[i].objects++;
		else
			list[i].has_header = 1;
	}
	if (opened)
		rados_nobjects_list_close(lc);
	if (r == -ENOENT)
		r = 0;
	else
		store_set_err(err, errlen, "%s: listing the pool: %s", spec,
			      strerror(-r));
	for (i = 0; !r && i < n; i++) {
		char hdr[128], cookie[RADOS_COOKIE_LEN];
		long pid;

		snprintf(hdr, sizeof(hdr), "%s%s", prefix, list[i].id);
		if (list[i].has_header)
			read_header(io, hdr, &list[i]);
		lock_holder(io, hdr, cookie, sizeof(cookie));
		list[i].in_use = cookie[0] && !rados_cookie_stale(cookie);
		if (list[i].in_use && rados_cookie_ours(cookie, &pid))
			list[i].pid = pid;
		r = cb(&list[i], arg);
	}
	free(list);
	rados_ioctx_destroy(io);
	rados_shutdown(cl);
	return r;
}

int usm_rados_remove(const char *spec, const char *id, size_t *removed,
		     char *err, size_t errlen)
{
	rados_ioctx_t io;
	rados_t cl;
	char mach[RADOS_TAG_LEN], hdr[128], cookie[RADOS_COOKIE_LEN];
	long pid = 0;
	int r;

	*removed = 0;
	if (!id || !*id || strchr(id, '.') || strchr(id, '/')) {
		store_set_err(err, errlen, "bad store id '%s'", id ? id : "");
		return -EINVAL;
	}
	r = rados_attach_spec(spec, &cl, &io, err, errlen);
	if (r)
		return r;
	rados_machine_tag(mach, sizeof(mach));
	snprintf(hdr, sizeof(hdr), "usm.%s.%s", mach, id);
	lock_holder(io, hdr, cookie, sizeof(cookie));
	if (cookie[0] && !rados_cookie_stale(cookie)) {
		if (rados_cookie_ours(cookie, &pid))
			store_set_err(err, errlen, "%s: store %s is in use "
				      "(process %ld): left alone", spec, id, pid);
		else
			store_set_err(err, errlen, "%s: store %s is locked by "
				      "another machine or program (cookie %s): "
				      "left alone", spec, id, cookie);
		r = -EBUSY;
	} else {
		r = rados_remove_prefix(io, hdr, true, removed);
		if (r)
			store_set_err(err, errlen, "%s: removing store %s: %s",
				      spec, id, strerror(-r));
	}
	rados_ioctx_destroy(io);
	rados_shutdown(cl);
	return r;
}
