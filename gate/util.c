/* util.c - small helpers shared by every dumpgate program.
 *
 * Nothing here logs except log_msg() itself; everything returns 0 or
 * -errno and fills ret_* only on success (STYLE.md).
 */
#include "util.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/syscall.h>

/* The only file-level mutable state of the project: which process is
 * speaking.  Copied so that the caller's string may go away. */
static char log_ident_buf[64] = "dumpgate";

void secure_free(void *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n);
	free(p);
}

/* ---- logging */

void log_set_ident(const char *ident)
{
	if (!ident || !*ident)
		ident = "dumpgate";
	snprintf(log_ident_buf, sizeof(log_ident_buf), "%s", ident);
}

const char *log_ident(void)
{
	return log_ident_buf;
}

void log_msg(const char *level, const char *fmt, ...)
{
	int saved = errno;
	char stackbuf[2048];
	char *msg = NULL, *line = NULL;
	const char *out;
	va_list ap;
	int r;

	/* errno is restored before formatting so that "%m" says what the
	 * caller saw. */
	va_start(ap, fmt);
	errno = saved;
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		msg = NULL;

	if (msg)
		r = asprintf(&line, "%s: %s%s%s\n", log_ident_buf, level ? level : "",
			     level ? ": " : "", msg);
	if (msg && r >= 0) {
		out = line;
	} else {
		/* Out of memory: a truncated line is better than none. */
		line = NULL;
		r = snprintf(stackbuf, sizeof(stackbuf), "%s: %s%s%s\n", log_ident_buf,
			     level ? level : "", level ? ": " : "", msg ? msg : fmt);
		if (r < 0)
			goto out;
		if ((size_t)r >= sizeof(stackbuf)) {
			r = (int)sizeof(stackbuf) - 1;
			stackbuf[r - 1] = '\n';
		}
		out = stackbuf;
	}
	/* One write so that lines of concurrent processes do not interleave. */
	(void)write_full(STDERR_FILENO, out, (size_t)r);
out:
	free(line);
	free(msg);
	errno = saved;
}

/* ---- I/O */

int read_full(int fd, void *buf, size_t n, size_t *ret_got)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	if (ret_got)
		*ret_got = got;
	return 0;
}

int write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Refuse what would leave dirfd when openat2() is not available. */
static bool path_beneath(const char *path)
{
	const char *p = path;

	if (*p == '/')
		return false;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

int fsync_dir_at(int dirfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int fd = -1;

	if (!path || !*path)
		return -EINVAL;
	fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* Old kernel or a seccomp filter that does not know openat2. */
		if (!path_beneath(path))
			return -EXDEV;
		fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

/* ---- encodings */

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, uint8_t *out, size_t n)
{
	if (!in || n > SIZE_MAX / 2 || strnlen(in, 2 * n + 1) != 2 * n)
		return -EINVAL;
	/* Check everything first so that out is untouched on failure. */
	for (size_t i = 0; i < 2 * n; i++)
		if (hexval(in[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(hexval(in[2 * i]) << 4 | hexval(in[2 * i + 1]));
	return 0;
}

bool is_hex(const char *s, size_t len)
{
	if (!s || strnlen(s, len + 1) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

char *str_escape(const char *s, size_t max)
{
	static const char digits[] = "0123456789abcdef";
	size_t len;
	bool cut;
	char *out, *o;

	if (!s)
		return strdup("(null)");
	len = strnlen(s, max);
	cut = s[len] != '\0';
	if (len > (SIZE_MAX - 4) / 4)
		return NULL;
	out = malloc(4 * len + 4);
	if (!out)
		return NULL;
	o = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (c >= 0x20 && c <= 0x7e) {
			*o++ = (char)c;
		} else {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = digits[c >> 4];
			*o++ = digits[c & 0xf];
		}
	}
	if (cut) {
		memcpy(o, "...", 3);
		o += 3;
	}
	*o = '\0';
	return out;
}

/* ---- parsing */

/* Leading decimal digits of s.  *ret_end points after them; -EINVAL if
 * there are none, -ERANGE if they do not fit (reported after the caller
 * has looked at the rest, so garbage wins over overflow). */
static int parse_digits(const char *s, uint64_t *ret, const char **ret_end)
{
	uint64_t v = 0;
	bool overflow = false;
	const char *p = s;

	if (!s || !(*p >= '0' && *p <= '9'))
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	*ret_end = p;
	*ret = v;
	return overflow ? -ERANGE : 0;
}

static int scale(uint64_t v, uint64_t mult, int digits_r, uint64_t *ret)
{
	if (digits_r < 0)
		return digits_r;
	if (mult != 0 && v > UINT64_MAX / mult)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 },     { "K", 10 },   { "k", 10 },   { "KiB", 10 },
		{ "M", 20 },   { "m", 20 },   { "MiB", 20 }, { "G", 30 },
		{ "g", 30 },   { "GiB", 30 }, { "T", 40 },   { "t", 40 },
		{ "TiB", 40 },
	};
	const char *end = NULL;
	uint64_t v = 0;
	int r;

	r = parse_digits(s, &v, &end);
	if (r == -EINVAL)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (strcmp(end, units[i].suffix) == 0)
			return scale(v, UINT64_C(1) << units[i].shift, r, ret);
	return -EINVAL;
}

int parse_duration(const char *s, uint64_t *ret_seconds)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
	};
	const char *end = NULL;
	uint64_t v = 0;
	int r;

	r = parse_digits(s, &v, &end);
	if (r == -EINVAL)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (strcmp(end, units[i].suffix) == 0)
			return scale(v, units[i].mult, r, ret_seconds);
	return -EINVAL;
}

int parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
	const char *end = NULL;
	uint64_t v = 0;
	int r;

	r = parse_digits(s, &v, &end);
	if (r == -EINVAL || *end != '\0')
		return -EINVAL;
	if (r < 0)
		return r;
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* ---- misc */

int random_bytes(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = getrandom(p, n, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

void format_time(time_t t, char buf[static 32])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		/* Not a time parse_time() accepts: fails closed downstream. */
		snprintf(buf, 32, "invalid-time");
}

static bool digits_at(const char *s, size_t off, size_t n, int *ret)
{
	int v = 0;

	for (size_t i = off; i < off + n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int parse_time(const char *s, time_t *ret)
{
	int year, mon, day, hour, min, sec;
	struct tm tm = { 0 }, back;
	time_t t;

	/* Exactly "YYYY-MM-DDTHH:MM:SSZ". */
	if (!s || strnlen(s, 21) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -EINVAL;
	if (!digits_at(s, 0, 4, &year) || !digits_at(s, 5, 2, &mon) ||
	    !digits_at(s, 8, 2, &day) || !digits_at(s, 11, 2, &hour) ||
	    !digits_at(s, 14, 2, &min) || !digits_at(s, 17, 2, &sec))
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm() normalises 31 February into March: a round trip that
	 * does not come back is a date that does not exist. */
	if (!gmtime_r(&t, &back) || back.tm_year != year - 1900 || back.tm_mon != mon - 1 ||
	    back.tm_mday != day || back.tm_hour != hour || back.tm_min != min ||
	    back.tm_sec != sec)
		return -EINVAL;
	*ret = t;
	return 0;
}

int new_transfer_id(char buf[static 33])
{
	uint8_t raw[16];
	int r;

	r = random_bytes(raw, sizeof(raw));
	if (r < 0)
		return r;
	hex_encode(raw, sizeof(raw), buf);
	return 0;
}

bool transfer_id_valid(const char *s)
{
	return is_hex(s, 32);
}

void sha256_hex(const void *data, size_t n, char out[static 65])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	/* The interface cannot report failure, and an empty or made-up hash
	 * could compare equal to another one: stop instead (I2). */
	if (EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		abort();
	hex_encode(md, 32, out);
}

int ensure_std_fds(void)
{
	for (int i = 0; i <= 2; i++) {
		if (fcntl(i, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* No O_CLOEXEC: this stands in for a standard fd. */
		int fd = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
		if (fd < 0)
			return -errno;
		if (fd != i)
			return -EBADF;
	}
	return 0;
}
