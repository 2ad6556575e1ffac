/* SPDX-License-Identifier: MIT */
/*
 * A file the VMM reads whole (a kernel, an initrd), mapped read-only and
 * private: a regular, non-empty file or a one-line reason.
 */
#ifndef VMM_FILE_MAP_H
#define VMM_FILE_MAP_H

#include <stddef.h>

struct file_map {
	void *p;		/* NULL when not mapped */
	size_t size;
};

/* 0, or -1 with "PATH: why" in err (m->p stays NULL). */
int file_map(const char *path, struct file_map *m, char *err, size_t errlen);
/* Unmap, if mapped. */
void file_unmap(struct file_map *m);

#endif
