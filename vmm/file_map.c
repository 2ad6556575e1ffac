/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_map.h"
#include "log.h"

int file_map(const char *path, struct file_map *m, char *err, size_t n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	m->p = NULL;
	m->size = 0;
	if (fd < 0) {
		vmm_fail(err, n, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		vmm_fail(err, n, "%s: not a regular, non-empty file", path);
		return -1;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		vmm_fail(err, n, "%s: %s", path, strerror(errno));
		return -1;
	}
	m->p = p;
	m->size = (size_t)st.st_size;
	return 0;
}

void file_unmap(struct file_map *m)
{
	if (m->p)
		munmap(m->p, m->size);
	m->p = NULL;
	m->size = 0;
}
