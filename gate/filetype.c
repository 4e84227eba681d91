/* filetype.c - artifact types, detected from content only.
 *
 * The head handed in is untrusted bytes; every read is bounded by n.  What
 * is not recognised is FT_BINARY, which the scanner still reads in full.
 */
#include "filetype.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

static const char *const names[_FT_MAX] = {
	[FT_BINARY] = "binary",     [FT_TEXT] = "text", [FT_ELF_CORE] = "elf-core",
	[FT_MINIDUMP] = "minidump", [FT_ZSTD] = "zstd", [FT_XZ] = "xz",
	[FT_GZIP] = "gzip",         [FT_LZ4] = "lz4",
};

const char *ftype_name(enum ftype t)
{
	if ((unsigned)t >= _FT_MAX)
		return "invalid";
	return names[t];
}

int ftype_from_name(const char *s, enum ftype *ret)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < _FT_MAX; i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum ftype)i;
			return 0;
		}
	return -EINVAL;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static bool has_prefix(const uint8_t *head, size_t n, const void *magic, size_t m)
{
	return n >= m && memcmp(head, magic, m) == 0;
}

/* ELF: only a core file is FT_ELF_CORE; executables, libraries and
 * anything with an unknown class or byte order are plain binary. */
static enum ftype detect_elf(const uint8_t *head, size_t n)
{
	uint16_t e_type;

	/* e_ident[EI_NIDENT] then e_type (2 bytes) for both classes. */
	if (n < EI_NIDENT + 2)
		return FT_BINARY;
	if (head[EI_CLASS] != ELFCLASS32 && head[EI_CLASS] != ELFCLASS64)
		return FT_BINARY;
	if (head[EI_DATA] == ELFDATA2LSB)
		e_type = (uint16_t)(head[EI_NIDENT] | head[EI_NIDENT + 1] << 8);
	else if (head[EI_DATA] == ELFDATA2MSB)
		e_type = (uint16_t)(head[EI_NIDENT] << 8 | head[EI_NIDENT + 1]);
	else
		return FT_BINARY;
	return e_type == ET_CORE ? FT_ELF_CORE : FT_BINARY;
}

/* Length of the UTF-8 sequence at p (at most left bytes), 0 if invalid,
 * or -1 if it is valid so far but cut by the end of the buffer. */
static int utf8_seq(const uint8_t *p, size_t left)
{
	uint8_t c = p[0];
	unsigned len;
	uint8_t lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* > U+10FFFF */
	} else
		return 0;

	for (unsigned i = 1; i < len; i++) {
		if (i >= left)
			return -1;
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
			return 0;
	}
	return (int)len;
}

static bool is_text(const uint8_t *head, size_t n)
{
	size_t printable = 0, i = 0;

	if (n == 0 || memchr(head, '\0', n))
		return false;
	while (i < n) {
		uint8_t c = head[i];
		int len = utf8_seq(head + i, n - i);

		if (len == 0)
			return false;
		if (len < 0) {
			/* A character cut by the end of the head: the rest of
			 * it is beyond what we were shown. */
			printable += n - i;
			break;
		}
		if (len > 1)
			printable += (size_t)len;
		else if ((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r' ||
			 c == '\f' || c == '\v')
			printable++;
		i += (size_t)len;
	}
	/* n <= FTYPE_HEAD, so neither product overflows. */
	return printable * 100 >= n * 95;
}

enum ftype ftype_detect(const uint8_t *head, size_t n)
{
	if (!head || n == 0)
		return FT_BINARY;
	if (n > FTYPE_HEAD)
		n = FTYPE_HEAD;

	if (has_prefix(head, n, ELFMAG, SELFMAG))
		return detect_elf(head, n);
	if (has_prefix(head, n, "MDMP", 4))
		return n >= 8 && (le32(head + 4) & 0xffff) == 0xa793 ? FT_MINIDUMP : FT_BINARY;
	if (n >= 4) {
		uint32_t magic = le32(head);
		if (magic == 0xfd2fb528u || (magic & 0xfffffff0u) == 0x184d2a50u)
			return FT_ZSTD;
		if (magic == 0x184d2204u || magic == 0x184c2102u)
			return FT_LZ4;
	}
	if (has_prefix(head, n, "\xfd" "7zXZ\0", 6))
		return FT_XZ;
	if (has_prefix(head, n, "\x1f\x8b\x08", 3))
		return FT_GZIP;
	if (is_text(head, n))
		return FT_TEXT;
	return FT_BINARY;
}
