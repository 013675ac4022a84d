// SPDX-License-Identifier: LGPL-2.1-or-later
/* The documented example plugin, built here so that the tests load it
 * (and so that the example is known to compile). */
#include "../../policy/examples/mru.c"
