/* SPDX-License-Identifier: MIT */
#include "workload.h"

void workload_run(void)
{
}
