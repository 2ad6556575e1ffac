/* SPDX-License-Identifier: MIT */
#include "virtio.h"

void virtio_init(void)
{
}
