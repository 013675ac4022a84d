// SPDX-License-Identifier: LGPL-2.1-or-later
/* A shared object that is not a plugin: no usm_plugin_info. */
#include <usm/policy.h>

const struct usm_plugin usm_plugin_inf0 = {
	.abi = USM_PLUGIN_ABI,
	.name = "nosym",
};
