/* test-filetype.c - detection from content: every magic, and a near-miss
 * decoy for each that must not be taken for it. */
#include <stdlib.h>

#include "filetype.h"
#include "tap.h"
#include "util.h"

struct tcase {
	const char *what;
	const uint8_t *head;
	size_t n;
	enum ftype want;
};

#define B(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })
#define S(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* ELF header heads: e_ident + e_type */
#define ELF(cls, data, t0, t1) \
	B(0x7f, 'E', 'L', 'F', cls, data, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, t0, t1, 0x3e, 0)

static const struct tcase cases[] = {
	/* ELF (ET_CORE is 4; ET_EXEC 2, ET_DYN 3) */
	{ "ELF64 LE core", ELF(2, 1, 4, 0), FT_ELF_CORE },
	{ "ELF32 LE core", ELF(1, 1, 4, 0), FT_ELF_CORE },
	{ "ELF64 BE core", ELF(2, 2, 0, 4), FT_ELF_CORE },
	{ "ELF32 BE core", ELF(1, 2, 0, 4), FT_ELF_CORE },
	{ "ELF64 LE executable is binary", ELF(2, 1, 2, 0), FT_BINARY },
	{ "ELF64 LE shared object is binary", ELF(2, 1, 3, 0), FT_BINARY },
	{ "ELF64 BE executable is binary", ELF(2, 2, 0, 2), FT_BINARY },
	{ "ELF BE header with LE core bytes is binary", ELF(2, 2, 4, 0), FT_BINARY },
	{ "ELF LE header with BE core bytes is binary", ELF(2, 1, 0, 4), FT_BINARY },
	{ "ELF bad EI_DATA is binary", ELF(2, 3, 4, 0), FT_BINARY },
	{ "ELF bad EI_CLASS is binary", ELF(0, 1, 4, 0), FT_BINARY },
	{ "ELF head cut before e_type is binary", B(0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4), FT_BINARY },
	{ "ELF magic only is binary", S("\x7f" "ELF"), FT_BINARY },
	{ "almost ELF magic", S("\x7f" "ELG\x02\x01\x01"), FT_BINARY },
	/* minidump */
	{ "minidump", B('M', 'D', 'M', 'P', 0x93, 0xa7, 0x00, 0x00), FT_MINIDUMP },
	{ "minidump with implementation bits", B('M', 'D', 'M', 'P', 0x93, 0xa7, 0x12, 0x34), FT_MINIDUMP },
	{ "minidump wrong version", B('M', 'D', 'M', 'P', 0xa7, 0x93, 0x00, 0x00), FT_BINARY },
	{ "minidump head cut", B('M', 'D', 'M', 'P', 0x93, 0xa7, 0x00), FT_BINARY },
	{ "mdmp lower case", B('m', 'd', 'm', 'p', 0x93, 0xa7, 0x00, 0x00), FT_BINARY },
	/* zstd */
	{ "zstd frame", B(0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00), FT_ZSTD },
	{ "zstd skippable 0x184D2A50", B(0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0), FT_ZSTD },
	{ "zstd skippable 0x184D2A5F", B(0x5f, 0x2a, 0x4d, 0x18, 0, 0, 0, 0), FT_ZSTD },
	{ "not skippable 0x184D2A60", B(0x60, 0x2a, 0x4d, 0x18, 0, 0, 0, 0), FT_BINARY },
	{ "zstd magic cut", B(0x28, 0xb5, 0x2f), FT_BINARY },
	{ "zstd magic big endian", B(0xfd, 0x2f, 0xb5, 0x28), FT_BINARY },
	/* xz */
	{ "xz", B(0xfd, '7', 'z', 'X', 'Z', 0x00, 0x00, 0x04), FT_XZ },
	{ "xz magic cut", B(0xfd, '7', 'z', 'X', 'Z'), FT_BINARY },
	{ "xz magic with wrong last byte", B(0xfd, '7', 'z', 'X', 'Z', 0x01, 0x00), FT_BINARY },
	/* gzip */
	{ "gzip", B(0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0), FT_GZIP },
	{ "gzip magic with wrong method", B(0x1f, 0x8b, 0x07, 0x00), FT_BINARY },
	{ "gzip magic cut", B(0x1f, 0x8b), FT_BINARY },
	/* lz4 */
	{ "lz4 frame", B(0x04, 0x22, 0x4d, 0x18, 0x64, 0x40), FT_LZ4 },
	{ "lz4 legacy", B(0x02, 0x21, 0x4c, 0x18, 0, 0), FT_LZ4 },
	{ "lz4 near miss", B(0x03, 0x22, 0x4d, 0x18, 0x64, 0x40), FT_BINARY },
	{ "lz4 magic cut", B(0x04, 0x22, 0x4d), FT_BINARY },
	/* text */
	{ "ascii text", S("hello, world\n\tindented\r\n"), FT_TEXT },
	{ "utf-8 text", S("Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80\n"), FT_TEXT },
	{ "utf-8 cut at the end of the head", S("some text caf\xc3"), FT_TEXT },
	{ "4-byte sequence cut after 2 bytes", S("some text here \xf0\x9f"), FT_TEXT },
	{ "text with a NUL", B('a', 'b', 'c', 0, 'd', 'e'), FT_BINARY },
	{ "invalid utf-8 (lone continuation)", S("abc\x80" "def ghi jkl"), FT_BINARY },
	{ "invalid utf-8 (overlong /)", S("abc\xc0\xaf" "def ghi jkl"), FT_BINARY },
	{ "invalid utf-8 (surrogate)", S("abc\xed\xa0\x80" "def ghi jkl"), FT_BINARY },
	{ "invalid utf-8 (> U+10FFFF)", S("abc\xf4\x90\x80\x80" "def ghi"), FT_BINARY },
	{ "invalid utf-8 (0xff)", S("abc\xff" "def ghi jkl"), FT_BINARY },
	{ "broken sequence in the middle", S("caf\xc3" "def ghi jkl"), FT_BINARY },
	{ "mostly control characters", S("\x01\x02\x03\x04\x05\x06\x07\x08" "abc"), FT_BINARY },
	/* 19 printable + 1 ESC = 95% */
	{ "95% printable", S("abcdefghijklmnopqrs\x1b"), FT_TEXT },
	/* 18 printable + 1 ESC = 94.7% */
	{ "under 95% printable", S("abcdefghijklmnopqr\x1b"), FT_BINARY },
	{ "empty input", (const uint8_t *)"", 0, FT_BINARY },
};

static void test_table(void)
{
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		enum ftype got = ftype_detect(cases[i].head, cases[i].n);
		ok(got == cases[i].want, "%s -> %s (want %s)", cases[i].what, ftype_name(got),
		   ftype_name(cases[i].want));
	}
}

static void test_elf_types(void)
{
	/* Every e_type but ET_CORE, in both byte orders, is binary. */
	static const uint16_t types[] = { 0, 1, 2, 3, 4, 0xfe00, 0xff00 };
	int wrong = 0;

	for (size_t i = 0; i < ELEMENTSOF(types); i++)
		for (int data = 1; data <= 2; data++) {
			uint8_t h[20] = { 0x7f, 'E', 'L', 'F', 2, (uint8_t)data, 1 };
			if (data == 1) {
				h[16] = (uint8_t)types[i];
				h[17] = (uint8_t)(types[i] >> 8);
			} else {
				h[16] = (uint8_t)(types[i] >> 8);
				h[17] = (uint8_t)types[i];
			}
			enum ftype want = types[i] == 4 ? FT_ELF_CORE : FT_BINARY;
			wrong += ftype_detect(h, sizeof(h)) != want;
		}
	ok(wrong == 0, "only e_type ET_CORE is elf-core (%d wrong)", wrong);
}

static void test_big(void)
{
	size_t n = FTYPE_HEAD + 100;
	uint8_t *b = malloc(n);

	if (!b) {
		ok(0, "malloc");
		return;
	}
	memset(b, 'a', n);
	ok(ftype_detect(b, n) == FT_TEXT, "long text accepted (head only)");
	/* A NUL past the head is not looked at; one inside is. */
	b[FTYPE_HEAD + 10] = '\0';
	ok(ftype_detect(b, n) == FT_TEXT, "NUL beyond the head is not looked at");
	b[FTYPE_HEAD - 1] = '\0';
	ok(ftype_detect(b, n) == FT_BINARY, "NUL at the end of the head makes it binary");
	free(b);
}

static void test_names(void)
{
	static const char *const names[] = { "binary", "text", "elf-core", "minidump",
					     "zstd",   "xz",   "gzip",     "lz4" };
	enum ftype t;
	int wrong = 0;

	for (unsigned i = 0; i < _FT_MAX; i++) {
		wrong += strcmp(ftype_name((enum ftype)i), names[i]) != 0;
		wrong += ftype_from_name(names[i], &t) != 0 || t != (enum ftype)i;
	}
	ok(wrong == 0 && ELEMENTSOF(names) == _FT_MAX, "names round trip");
	t = FT_GZIP;
	ok(ftype_from_name("ELF-CORE", &t) == -EINVAL && t == FT_GZIP, "upper-case name refused");
	ok(ftype_from_name("", &t) == -EINVAL, "empty name refused");
	ok(ftype_from_name("zstd ", &t) == -EINVAL, "name with a space refused");
	ok(ftype_from_name(NULL, &t) == -EINVAL, "NULL name refused");
	ok(strcmp(ftype_name(_FT_MAX), "invalid") == 0, "out-of-range type has no real name");
	ok(FT_MASK(FT_LZ4) == 1u << 7, "FT_MASK");
}

int main(void)
{
	test_table();
	test_elf_types();
	test_big();
	test_names();
	return tap_done();
}
