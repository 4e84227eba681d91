/* test-util.c - the shared helpers: each "accepts" has a "refuses" twin. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tap.h"
#include "util.h"

static void test_parse_size(void)
{
	static const struct {
		const char *in;
		int r;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "4096", 0, 4096 },
		{ "4K", 0, 4096 },
		{ "4k", 0, 4096 },
		{ "4KiB", 0, 4096 },
		{ "3M", 0, 3 << 20 },
		{ "3MiB", 0, 3 << 20 },
		{ "3m", 0, 3 << 20 },
		{ "4G", 0, UINT64_C(4) << 30 },
		{ "4g", 0, UINT64_C(4) << 30 },
		{ "4GiB", 0, UINT64_C(4) << 30 },
		{ "2T", 0, UINT64_C(2) << 40 },
		{ "2TiB", 0, UINT64_C(2) << 40 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "16777215T", 0, UINT64_C(16777215) << 40 },
		/* refused */
		{ "4X", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ " 4G", -EINVAL, 0 },
		{ "4G ", -EINVAL, 0 },
		{ "-4G", -EINVAL, 0 },
		{ "+4", -EINVAL, 0 },
		{ "4 G", -EINVAL, 0 },
		{ "4kib", -EINVAL, 0 },
		{ "4KB", -EINVAL, 0 },
		{ "4GG", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "99999999999999999999G", -ERANGE, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "16777216T", -ERANGE, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		uint64_t v = 12345;
		int r = parse_size(cases[i].in, &v);
		ok(r == cases[i].r && (r < 0 ? v == 12345 : v == cases[i].v),
		   "parse_size(\"%s\") = %d (want %d)", cases[i].in, r, cases[i].r);
	}
	ok(parse_size(NULL, &(uint64_t){ 0 }) == -EINVAL, "parse_size(NULL) refused");
}

static void test_parse_duration(void)
{
	static const struct {
		const char *in;
		int r;
		uint64_t v;
	} cases[] = {
		{ "30", 0, 30 },        { "30s", 0, 30 },      { "5m", 0, 300 },
		{ "2h", 0, 7200 },      { "7d", 0, 604800 },   { "0d", 0, 0 },
		{ "30x", -EINVAL, 0 },  { "", -EINVAL, 0 },    { "h", -EINVAL, 0 },
		{ "5M", -EINVAL, 0 },   { "1h30m", -EINVAL, 0 }, { "-1s", -EINVAL, 0 },
		{ "213503982334601d", 0, UINT64_C(213503982334601) * 86400 },
		{ "213503982334602d", -ERANGE, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		uint64_t v = 777;
		int r = parse_duration(cases[i].in, &v);
		ok(r == cases[i].r && (r < 0 ? v == 777 : v == cases[i].v),
		   "parse_duration(\"%s\") = %d (want %d)", cases[i].in, r, cases[i].r);
	}
}

static void test_parse_uint(void)
{
	uint64_t v = 9;

	ok(parse_uint("65535", 65535, &v) == 0 && v == 65535, "parse_uint at max accepted");
	v = 9;
	ok(parse_uint("65536", 65535, &v) == -ERANGE && v == 9, "parse_uint over max refused");
	ok(parse_uint("0", 0, &v) == 0 && v == 0, "parse_uint 0 accepted");
	ok(parse_uint("12a", 100, &v) == -EINVAL, "parse_uint trailing garbage refused");
	ok(parse_uint("", 100, &v) == -EINVAL, "parse_uint empty refused");
	ok(parse_uint("1K", UINT64_MAX, &v) == -EINVAL, "parse_uint suffix refused");
	ok(parse_uint("99999999999999999999", UINT64_MAX, &v) == -ERANGE,
	   "parse_uint overflow refused");
}

static void test_time(void)
{
	char buf[32];
	time_t t = 0;

	format_time(1795882520, buf);
	ok(strcmp(buf, "2026-11-28T16:15:20Z") == 0, "format_time gives UTC ISO-8601 (%s)", buf);
	ok(parse_time("2026-11-28T16:15:20Z", &t) == 0 && t == 1795882520,
	   "parse_time inverts format_time");
	ok(parse_time("2024-02-29T00:00:00Z", &t) == 0, "parse_time accepts a leap day");

	static const char *const bad[] = {
		"2023-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T16:60:20Z",
		"2026-11-28T16:15:60Z", "2026-11-28 16:15:20Z", "2026-11-28T16:15:20",
		"2026-11-28T16:15:20+00:00", "2026-11-28T16:15:20Zx", "2026-1-28T16:15:20Z",
		"2026-11-28T16:15:2aZ", "", "invalid-time",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		t = 42;
		ok(parse_time(bad[i], &t) == -EINVAL && t == 42, "parse_time refuses \"%s\"",
		   bad[i]);
	}
}

static void test_hex(void)
{
	uint8_t raw[4] = { 0xde, 0xad, 0x00, 0x7f }, back[4] = { 0 };
	char hex[9];

	hex_encode(raw, 4, hex);
	ok(strcmp(hex, "dead007f") == 0, "hex_encode lowercase");
	ok(hex_decode("dead007f", back, 4) == 0 && memcmp(raw, back, 4) == 0, "hex_decode round trip");
	ok(hex_decode("DEAD007F", back, 4) == 0 && memcmp(raw, back, 4) == 0,
	   "hex_decode accepts upper case");
	memset(back, 0x55, sizeof(back));
	ok(hex_decode("dead007", back, 4) == -EINVAL && back[0] == 0x55, "hex_decode short refused");
	ok(hex_decode("dead007f0", back, 4) == -EINVAL, "hex_decode long refused");
	ok(hex_decode("dead007g", back, 4) == -EINVAL && back[0] == 0x55,
	   "hex_decode non-hex refused, out untouched");
	ok(is_hex("00ff", 4), "is_hex lowercase accepted");
	ok(!is_hex("00FF", 4), "is_hex upper case refused");
	ok(!is_hex("00f", 4) && !is_hex("00fff", 4) && !is_hex(NULL, 4), "is_hex wrong length refused");
}

static void test_ids(void)
{
	char a[33], b[33];

	ok(new_transfer_id(a) == 0 && transfer_id_valid(a), "new_transfer_id is valid (%s)", a);
	ok(new_transfer_id(b) == 0 && strcmp(a, b) != 0, "two ids differ");
	ok(!transfer_id_valid("0123456789abcdef0123456789abcde"), "31 chars refused");
	ok(!transfer_id_valid("0123456789abcdef0123456789abcdef0"), "33 chars refused");
	ok(!transfer_id_valid("0123456789ABCDEF0123456789abcdef"), "upper case id refused");
	ok(!transfer_id_valid("../../etc/passwd0123456789abcdef"), "path id refused");
	ok(!transfer_id_valid(NULL), "NULL id refused");

	uint8_t buf[100000] = { 0 };
	size_t zeros = 0;
	ok(random_bytes(buf, sizeof(buf)) == 0, "random_bytes fills a large buffer");
	for (size_t i = 0; i < sizeof(buf); i++)
		zeros += buf[i] == 0;
	ok(zeros < 1000, "random bytes are not mostly zero (%zu)", zeros);
}

static void test_sha256(void)
{
	char out[65];

	sha256_hex("abc", 3, out);
	ok(strcmp(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
	   "sha256(\"abc\")");
	sha256_hex("", 0, out);
	ok(strcmp(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
	   "sha256(\"\")");
	sha256_hex("abd", 3, out);
	ok(strcmp(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0,
	   "sha256 of other bytes differs");
}

static void test_escape(void)
{
	static const struct {
		const char *in;
		size_t max;
		const char *out;
	} cases[] = {
		{ "hello world", 100, "hello world" },
		{ "a\\b", 100, "a\\\\b" },
		{ "a\nb\x1b[31m", 100, "a\\x0ab\\x1b[31m" },
		{ "caf\xc3\xa9", 100, "caf\\xc3\\xa9" },
		{ "\x7f~ ", 100, "\\x7f~ " },
		{ "abcdef", 3, "abc..." },
		{ "abc", 3, "abc" },
		{ "", 0, "" },
		{ "x", 0, "..." },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *e = str_escape(cases[i].in, cases[i].max);
		ok(e && strcmp(e, cases[i].out) == 0, "str_escape case %zu -> \"%s\"", i, e ? e : "(null)");
		free(e);
	}
}

static void test_io(void)
{
	int p[2];
	char buf[16];
	size_t got = 99;

	if (pipe2(p, O_CLOEXEC) < 0) {
		ok(0, "pipe2: %m");
		return;
	}
	ok(write_full(p[1], "hello", 5) == 0, "write_full writes");
	close(p[1]);
	ok(read_full(p[0], buf, sizeof(buf), &got) == 0 && got == 5 && memcmp(buf, "hello", 5) == 0,
	   "read_full returns 0 and a short count at EOF");
	got = 99;
	ok(read_full(p[0], buf, sizeof(buf), &got) == 0 && got == 0, "read_full at EOF gives 0 bytes");
	close(p[0]);
	got = 99;
	ok(read_full(-1, buf, sizeof(buf), &got) == -EBADF && got == 99,
	   "read_full on a bad fd fails, ret_got untouched");
	ok(write_full(-1, "x", 1) == -EBADF, "write_full on a bad fd fails");
}

static void test_fsync_dir(void)
{
	char tmpl[] = "/tmp/dg-test-util-XXXXXX";
	_cleanup_close_ int dfd = -1;
	char path[64];

	if (!mkdtemp(tmpl)) {
		ok(0, "mkdtemp: %m");
		return;
	}
	dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/sub", tmpl);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/file", tmpl);
	close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	snprintf(path, sizeof(path), "%s/link", tmpl);
	(void)!symlink("/tmp", path);

	ok(fsync_dir_at(dfd, ".") == 0, "fsync_dir_at(\".\") accepted");
	ok(fsync_dir_at(dfd, "sub") == 0, "fsync_dir_at(sub) accepted");
	ok(fsync_dir_at(dfd, "file") == -ENOTDIR, "fsync_dir_at(file) refused");
	ok(fsync_dir_at(dfd, "missing") == -ENOENT, "fsync_dir_at(missing) refused");
	ok(fsync_dir_at(dfd, "..") == -EXDEV, "fsync_dir_at(..) refused (beneath)");
	ok(fsync_dir_at(dfd, "/tmp") == -EXDEV, "fsync_dir_at(absolute) refused (beneath)");
	ok(fsync_dir_at(dfd, "link") < 0, "fsync_dir_at through an escaping symlink refused");
	ok(fsync_dir_at(dfd, "") == -EINVAL, "fsync_dir_at(\"\") refused");

	unlinkat(dfd, "link", 0);
	unlinkat(dfd, "file", 0);
	unlinkat(dfd, "sub", AT_REMOVEDIR);
	rmdir(tmpl);
}

static void test_log(void)
{
	int p[2], saved;
	char buf[256];
	size_t got = 0;

	if (pipe2(p, O_CLOEXEC) < 0) {
		ok(0, "pipe2: %m");
		return;
	}
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);

	ok(strcmp(log_ident(), "dumpgate") == 0, "default ident is dumpgate");
	log_info("plain %d", 1);
	log_set_ident("dumpgated");
	log_warn("warn %s", "x");
	errno = ENOENT;
	log_err("open: %m");
	ok(errno == ENOENT, "log_msg keeps errno");
	log_set_ident(NULL);

	dup2(saved, STDERR_FILENO);
	close(saved);
	read_full(p[0], buf, sizeof(buf) - 1, &got);
	close(p[0]);
	buf[got] = '\0';
	ok(strcmp(buf, "dumpgate: plain 1\n"
		       "dumpgated: warning: warn x\n"
		       "dumpgated: error: open: No such file or directory\n") == 0,
	   "log lines are IDENT: [level: ]message");
	ok(strcmp(log_ident(), "dumpgate") == 0, "NULL ident resets to dumpgate");
}

static void test_secure_free(void)
{
	char *p = strdup("secret");

	secure_free(p, 7);
	secure_free(NULL, 10);
	ok(1, "secure_free of a buffer and of NULL");
}

int main(void)
{
	test_parse_size();
	test_parse_duration();
	test_parse_uint();
	test_time();
	test_hex();
	test_ids();
	test_sha256();
	test_escape();
	test_io();
	test_fsync_dir();
	test_log();
	test_secure_free();
	return tap_done();
}
