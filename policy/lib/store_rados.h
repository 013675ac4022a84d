/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store_rados.h - what store_rados.c (the store) and store_rados_admin.c
 * (listing and removing what earlier stores left) share.  Not installed.
 */
#ifndef USM_STORE_RADOS_H
#define USM_STORE_RADOS_H

#include <stdbool.h>
#include <stddef.h>

#include <rados/librados.h>

#define RADOS_DEFAULT_CONF	"/etc/ceph/ceph.conf"
#define RADOS_DEFAULT_USER	"client.admin"
#define RADOS_DEFAULT_TIMEOUT	10
#define RADOS_LOCK		"usm"
#define RADOS_OBJ_BYTES		((uint64_t)STORE_RADOS_OBJ_SLOTS * USM_PAGE_SIZE)
#define STORE_PROBE_MS		2000
#define RADOS_REMOVE_BATCH	64

struct rados_spec {
	char pool[128];
	char ns[128];
	char conf[1024];
	char user[128];
	char keyring[1024];
	char id[65];
	unsigned int timeout;	/* seconds */
	bool timeout_set;	/* by the spec */
};

/* Parse "rados:POOL[/NS][:KEY=VALUE]..." (@name: the default id). */
int rados_spec_parse(const char *spec, const char *name, struct rados_spec *sp,
		     char *err, size_t errlen);
/* Connect to the cluster of @sp and open its pool and namespace. */
int rados_attach(const char *spec, const struct rados_spec *sp, rados_t *clp,
		 rados_ioctx_t *iop, char *err, size_t errlen);
/* Both: parse @spec (its id does not matter) and connect. */
int rados_attach_spec(const char *spec, rados_t *clp, rados_ioctx_t *iop,
		      char *err, size_t errlen);
/* A machine tag: 32 hex digits, or "h" and 16; its NUL. */
#define RADOS_TAG_LEN		33
/* PID.START.MACHINE */
#define RADOS_COOKIE_LEN	(24 + 24 + RADOS_TAG_LEN)

/* This machine's tag: the whole /etc/machine-id, else "h" and a 64-bit
 * hash of the host name (rados_machine_tag_of). */
void rados_machine_tag(char *out, size_t len);
void rados_machine_tag_of(const char *mid, const char *host, char *out,
			  size_t len);
/* This process's lock cookie PID.START.MACHINE. */
void rados_cookie_make(char *out, size_t len);
/* Does the cookie name this machine (*@pid: its process)? */
bool rados_cookie_ours(const char *cookie, long *pid);
/* May its lock be broken: this machine's, its process gone? */
bool rados_cookie_stale(const char *cookie);
/* Issue the removal of @oid on @c (FULL_TRY: through a full pool too). */
int rados_aio_remove_full_try(rados_ioctx_t io, const char *oid,
			      rados_completion_t c);
/* Remove objects by name, many in flight. */
int rados_remove_names(rados_ioctx_t io, char (*names)[160], size_t n);
/* Remove every object PREFIX.*, and PREFIX itself when @hdr_too. */
int rados_remove_prefix(rados_ioctx_t io, const char *prefix, bool hdr_too,
			size_t *count);

#endif /* USM_STORE_RADOS_H */
