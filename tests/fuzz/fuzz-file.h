/* fuzz-file.h - reading one corpus file, for the fuzz targets' main()
 * when they are built without libFuzzer (regression runs over files). */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file at path, malloc'd; NULL (after saying why on stderr,
 * prefixed with prog) when it cannot be read.  Aborts on out of memory. */
static inline uint8_t *fuzz_read_file(const char *prog, const char *path, size_t *ret_n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return NULL;
	}
	do {
		if (n == cap) {
			uint8_t *q = realloc(buf, cap ? cap * 2 : 65536);
			if (!q)
				abort();
			buf = q;
			cap = cap ? cap * 2 : 65536;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*ret_n = n;
	return buf;
}
