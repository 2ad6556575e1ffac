/* SPDX-License-Identifier: MIT */
/* State behind tests/shim/platform_impl.h. */
#include "platform_impl.h"

_Thread_local unsigned ph_test_cpu;
atomic_uint ph_test_warnings;
int ph_test_quiet_warnings;
