// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * store_info.c - what a context's stores can still take, for the
 * frontends' logs at mount and their status (usm/usm.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The stores in the order usm_ctx_store_info() numbers them: the default
 * first, then the named ones, without "none" (unless it is the default). */
static struct usm_cstore *store_nth(struct usm_ctx *ctx, unsigned int i)
{
	struct usm_cstore *cs;

	if (i == 0)
		return ctx->dflt;
	for (cs = ctx->stores; cs; cs = cs->next) {
		if (cs == ctx->dflt || cs == ctx->none)
			continue;
		if (--i == 0)
			return cs;
	}
	return NULL;
}

int usm_ctx_store_info(struct usm_ctx *ctx, unsigned int i,
		       struct usm_store_info *out)
{
	struct usm_cstore *cs;

	pthread_mutex_lock(&ctx->lock);
	cs = store_nth(ctx, i);
	pthread_mutex_unlock(&ctx->lock);
	if (!cs || !cs->st)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->name = cs->name;
	pthread_rwlock_wrlock(&cs->io);
	out->spec = usm_store_spec(cs->st);
	out->writable = cs->writable;
	out->used = usm_store_slots_used(cs->st);
	out->room = usm_store_room(cs->st);
	out->reserve = usm_store_reserve(cs->st);
	usm_store_traffic(cs->st, &out->pages_out, &out->pages_in);
	usm_store_state(cs->st, out->state, sizeof(out->state));
	pthread_rwlock_unlock(&cs->io);
	return 0;
}

int usm_store_describe(const struct usm_store_info *si, char *buf, size_t len)
{
	char room[32], res[32];

	if (!si->writable) {
		snprintf(buf, len, "store %s (%s): takes nothing: nothing is evicted "
			 "to it", si->name, si->spec);
		return 0;
	}
	if (si->state[0]) {
		snprintf(buf, len, "store %s (%s) takes nothing now: %s; nothing "
			 "is evicted to it until that changes", si->name, si->spec,
			 si->state);
		return 1;
	}
	if (!strncmp(si->spec, "rados:", 6)) {
		usm_format_size(si->room * USM_PAGE_SIZE, room, sizeof(room));
		snprintf(buf, len, "store %s (%s) can take %s more (its cluster's "
			 "free space, or what it can address when the cluster does "
			 "not say)", si->name, si->spec, room);
		return 0;
	}
	usm_format_size(si->room * USM_PAGE_SIZE, room, sizeof(room));
	usm_format_size(si->reserve, res, sizeof(res));
	if (!si->room) {
		snprintf(buf, len, "store %s (%s) can take nothing: its filesystem "
			 "has less than the reserve (%s) free and its file no free "
			 "slot; nothing will be evicted to it until there is room",
			 si->name, si->spec, res);
		return 1;
	}
	snprintf(buf, len, "store %s (%s) can take %s more (its free slots, and "
		 "its filesystem's free space above a reserve of %s)", si->name,
		 si->spec, room, res);
	return 0;
}
