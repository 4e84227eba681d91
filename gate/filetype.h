/* filetype.h - artifact types, detected from content only (never names). */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum ftype {
	FT_BINARY = 0, /* nothing more specific: raw data */
	FT_TEXT,
	FT_ELF_CORE,
	FT_MINIDUMP,
	FT_ZSTD,
	FT_XZ,
	FT_GZIP,
	FT_LZ4,
	_FT_MAX,
};

#define FT_MASK(t) (1u << (t))
/* Bytes of the head that ftype_detect() looks at (at most). */
#define FTYPE_HEAD 65536

enum ftype ftype_detect(const uint8_t *head, size_t n);
const char *ftype_name(enum ftype t);
int ftype_from_name(const char *s, enum ftype *ret);
