/* softkey.c - `dumpgate-softkey`, a software YubiKey for tests and the demo.
 *
 * It issues real Yubico OTPs (gate/otp.c, libyubikey) from a state file
 * that holds the token's public id, AES key, private id and the counters of
 * the last OTP it issued.  Like a real YubiKey every OTP is a new "use"
 * within a session; after 256 uses, or on --new-session, the session
 * counter goes up and the use counter starts again at 0.  The new counters
 * are on disk (temporary file, fsync, rename, fsync of the directory)
 * before the OTP is printed, so a crash can lose an OTP but never issue the
 * same (counter, use) pair twice.  Concurrent invocations are serialised
 * with flock() on the state file.
 *
 * Secrets: the AES key is never taken from argv (a file or stdin only),
 * printed once by `init` when it was generated, and wiped from memory on
 * every path.  The state file must be a regular file of the caller, mode
 * 0600; anything else is refused.
 *
 * State file (text, "key=value" lines, '#' comments and blank lines
 * allowed, every key exactly once, nothing else):
 *
 *   # dumpgate-softkey state ...
 *   version=1
 *   public_id=<12 modhex>
 *   aes_key=<32 lowercase hex>
 *   private_id=<12 lowercase hex>
 *   counter=<0..32767>   session counter of the last OTP issued (0: none yet)
 *   use=<0..255>         use counter of the last OTP issued
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dg-config.h"
#include "otp.h"
#include "util.h"

#define STATE_MAX 4096   /* bytes of a state file */
#define KEYFILE_MAX 256  /* bytes read from an AES key file */
#define STATE_VERSION 1

static const char usage_init[] =
	"usage: dumpgate-softkey init STATEFILE [--public-id MODHEX] [--aes-key-file (FILE | -)]\n";
static const char usage_otp[] = "usage: dumpgate-softkey otp STATEFILE [--new-session] [--caps-lock]\n";
static const char usage_show[] = "usage: dumpgate-softkey show STATEFILE\n";
static const char usage_short[] = "usage: dumpgate-softkey COMMAND STATEFILE [OPTIONS]\n";
static const char usage_text[] =
	"usage: dumpgate-softkey COMMAND STATEFILE [OPTIONS]\n"
	"\n"
	"A software YubiKey for tests and demonstrations: it issues real Yubico\n"
	"OTPs and keeps its counters in STATEFILE (a regular file, mode 0600).\n"
	"\n"
	"Commands:\n"
	"  init STATEFILE [--public-id MODHEX] [--aes-key-file (FILE | -)]\n"
	"        create STATEFILE (never over an existing file) with a new token:\n"
	"        the public id (12 modhex characters; random \"cc...\" if not\n"
	"        given), the AES key read from FILE (32 hex characters and an\n"
	"        optional newline; - reads standard input) or generated, and a\n"
	"        random private id.  Prints the public id.  When the AES key was\n"
	"        generated it is printed too, on a second line, this ONE time only:\n"
	"        enrol it (dumpgate token enroll --aes-key-file -) and keep no\n"
	"        other copy.  An AES key is never accepted on the command line.\n"
	"  otp STATEFILE [--new-session] [--caps-lock]\n"
	"        issue the next OTP (44 modhex characters).  The counters are\n"
	"        saved before the OTP is printed.  --new-session starts a new\n"
	"        session, as if the key had been plugged in again; --caps-lock\n"
	"        sets the caps-lock flag in the token, as a real key does when\n"
	"        caps lock is on.\n"
	"  show STATEFILE\n"
	"        print the public id and the counters of the last OTP issued\n"
	"        (never the key).\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help; COMMAND --help shows one command\n"
	"  --version      show the version\n"
	"\n"
	"Exit status: 0 success, 1 error, 2 usage error.\n";

struct softkey {
	char public_id[OTP_PUBLIC_ID_LEN + 1];
	uint8_t aes_key[OTP_AES_KEY_SIZE];
	uint8_t private_id[OTP_PRIVATE_ID_SIZE];
	uint16_t counter; /* session counter of the last OTP issued; 0: none yet */
	uint8_t use;      /* use counter of the last OTP issued */
};

/* What went wrong, for the one message the command prints. */
struct why {
	unsigned line; /* 0: not about one line */
	char text[160];
};

static _printf_(2, 3) void why_set(struct why *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->text, sizeof(w->text), fmt, ap);
	va_end(ap);
}

static void softkey_wipe(struct softkey *k)
{
	explicit_bzero(k, sizeof(*k));
}

/* Cleanups for stack arrays that held secrets (the attribute hands them a
 * pointer to the array). */
static void wipe_state(char (*p)[STATE_MAX + 1])
{
	explicit_bzero(*p, sizeof(*p));
}
static void wipe_keyfile(char (*p)[KEYFILE_MAX + 1])
{
	explicit_bzero(*p, sizeof(*p));
}
static void wipe_line(char (*p)[128])
{
	explicit_bzero(*p, sizeof(*p));
}

/* ---- messages */

static _printf_(2, 3) int usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("dumpgate-softkey: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%sTry 'dumpgate-softkey --help' for more information.\n", usage);
	return 2;
}

/* "dumpgate-softkey: error: PATH[:LINE]: what" */
static void fail(const char *path, const struct why *w)
{
	_cleanup_free_ char *e = str_escape(path, 256);

	if (w->line)
		log_err("%s:%u: %s", e ? e : "?", w->line, w->text);
	else
		log_err("%s: %s", e ? e : "?", w->text);
}

/* getopt_long() accepts any unambiguous prefix of a long option, so that
 * "--aes-key SECRET" would be taken for "--aes-key-file SECRET" and the key
 * reported as a missing file.  Only exact names pass; an error names the
 * option only up to '=', never its value. */
static int check_long_names(int argc, char **argv, const struct option *lo, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t n;
		bool known = false;

		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, "--", 2) != 0)
			continue;
		n = strcspn(a + 2, "=");
		for (const struct option *o = lo; o->name; o++)
			if (strlen(o->name) == n && strncmp(o->name, a + 2, n) == 0)
				known = true;
		if (!known) {
			_cleanup_free_ char *e = NULL;
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)(n < 40 ? n : 40), a + 2);
			e = str_escape(name, sizeof(name));
			return usage_error(usage, "unrecognized option '--%s'", e ? e : "?");
		}
	}
	return 0;
}

/* A getopt error; opterr is 0 so getopt printed nothing.  Never prints an
 * option's value. */
static int opt_error(int c, char **argv, const char *usage)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	char name[64];
	_cleanup_free_ char *e = NULL;

	if (c == '?' && optopt > 0 && optopt < 128)
		snprintf(name, sizeof(name), "-%c", (char)optopt);
	else
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	e = str_escape(name, sizeof(name));
	if (c == ':')
		return usage_error(usage, "option '%s' needs an argument", e ? e : "?");
	return usage_error(usage, "unrecognized option '%s'", e ? e : "?");
}

/* ---- the state file's place: a directory fd and a name in it */

struct place {
	int dirfd;
	char *base;
};

static void place_done(struct place *p)
{
	closep(&p->dirfd);
	free(p->base);
}

static int place_open(const char *path, struct place *ret, struct why *w)
{
	_cleanup_free_ char *dir = NULL, *base = NULL;
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash) {
		base = strdup(slash + 1);
		dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	} else {
		base = strdup(path);
		dir = strdup(".");
	}
	if (!base || !dir) {
		why_set(w, "out of memory");
		return -ENOMEM;
	}
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		why_set(w, "names a directory, not a state file");
		return -EISDIR;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		why_set(w, "cannot open its directory: %s", strerror(-r));
		return r;
	}
	ret->dirfd = fd;
	ret->base = TAKE_PTR(base);
	return 0;
}

/* ---- state file: format, parse, read, write */

static int state_format(const struct softkey *k, char buf[static STATE_MAX + 1], size_t *ret_len)
{
	char key_hex[2 * OTP_AES_KEY_SIZE + 1], priv_hex[2 * OTP_PRIVATE_ID_SIZE + 1];
	int n;

	hex_encode(k->aes_key, sizeof(k->aes_key), key_hex);
	hex_encode(k->private_id, sizeof(k->private_id), priv_hex);
	n = snprintf(buf, STATE_MAX + 1,
		     "# dumpgate-softkey state: a software YubiKey for tests.  It holds the\n"
		     "# token's secret AES key: keep it mode 0600.  counter and use are the\n"
		     "# counters of the last OTP issued (0 and 0: none yet).\n"
		     "version=%d\n"
		     "public_id=%s\n"
		     "aes_key=%s\n"
		     "private_id=%s\n"
		     "counter=%u\n"
		     "use=%u\n",
		     STATE_VERSION, k->public_id, key_hex, priv_hex, (unsigned)k->counter, (unsigned)k->use);
	explicit_bzero(key_hex, sizeof(key_hex));
	explicit_bzero(priv_hex, sizeof(priv_hex));
	if (n < 0 || n > STATE_MAX)
		return -ENOBUFS;
	*ret_len = (size_t)n;
	return 0;
}

enum {
	F_VERSION = 1 << 0,
	F_PUBLIC_ID = 1 << 1,
	F_AES_KEY = 1 << 2,
	F_PRIVATE_ID = 1 << 3,
	F_COUNTER = 1 << 4,
	F_USE = 1 << 5,
	F_ALL = (1 << 6) - 1,
};

static const char *const field_names[] = { "version", "public_id", "aes_key", "private_id", "counter", "use" };

/* buf: len bytes of a state file (secret).  Fills ret only on success. */
static int state_parse(const char *buf, size_t len, struct softkey *ret, struct why *w)
{
	_cleanup_(softkey_wipe) struct softkey k = { 0 };
	unsigned seen = 0, line = 0;
	size_t off = 0;

	if (memchr(buf, '\0', len)) {
		why_set(w, "contains a NUL byte: not a state file");
		return -EINVAL;
	}
	if (len == 0 || buf[len - 1] != '\n') {
		why_set(w, "does not end with a newline: truncated?");
		return -EINVAL;
	}
	while (off < len) {
		const char *l = buf + off, *eq, *v;
		size_t n = (size_t)((const char *)memchr(l, '\n', len - off) - l);
		size_t keylen, vlen;
		_cleanup_(wipe_line) char val[128];
		uint64_t u = 0;
		int f = -1;

		off += n + 1;
		line++;
		w->line = line;
		if (n == 0 || l[0] == '#')
			continue;
		eq = memchr(l, '=', n);
		if (!eq) {
			why_set(w, "expected key=value");
			return -EINVAL;
		}
		keylen = (size_t)(eq - l);
		v = eq + 1;
		vlen = n - keylen - 1;
		for (size_t i = 0; i < ELEMENTSOF(field_names); i++)
			if (strlen(field_names[i]) == keylen && memcmp(field_names[i], l, keylen) == 0)
				f = (int)i;
		if (f < 0) {
			_cleanup_free_ char *e = NULL;
			snprintf(val, sizeof(val), "%.*s", (int)(keylen < 40 ? keylen : 40), l);
			e = str_escape(val, sizeof(val));
			why_set(w, "unknown key \"%s\"", e ? e : "?");
			return -EINVAL;
		}
		if (seen & (1u << f)) {
			why_set(w, "repeated key \"%s\"", field_names[f]);
			return -EINVAL;
		}
		seen |= 1u << f;
		if (vlen >= sizeof(val)) {
			why_set(w, "value of \"%s\" is too long", field_names[f]);
			return -EINVAL;
		}
		memcpy(val, v, vlen);
		val[vlen] = '\0';

		switch (1 << f) {
		case F_VERSION:
			if (parse_uint(val, 1000, &u) < 0 || u != STATE_VERSION) {
				why_set(w, "unsupported version (this program reads version %d)", STATE_VERSION);
				return -EINVAL;
			}
			break;
		case F_PUBLIC_ID:
			if (!otp_public_id_valid(val)) {
				why_set(w, "public_id must be %d modhex characters (cbdefghijklnrtuv)",
					OTP_PUBLIC_ID_LEN);
				return -EINVAL;
			}
			memcpy(k.public_id, val, OTP_PUBLIC_ID_LEN + 1);
			break;
		case F_AES_KEY:
			if (!is_hex(val, 2 * OTP_AES_KEY_SIZE) ||
			    hex_decode(val, k.aes_key, OTP_AES_KEY_SIZE) < 0) {
				why_set(w, "aes_key must be %d lowercase hex characters", 2 * OTP_AES_KEY_SIZE);
				return -EINVAL;
			}
			break;
		case F_PRIVATE_ID:
			if (!is_hex(val, 2 * OTP_PRIVATE_ID_SIZE) ||
			    hex_decode(val, k.private_id, OTP_PRIVATE_ID_SIZE) < 0) {
				why_set(w, "private_id must be %d lowercase hex characters",
					2 * OTP_PRIVATE_ID_SIZE);
				return -EINVAL;
			}
			break;
		case F_COUNTER:
			if (parse_uint(val, OTP_COUNTER_MAX, &u) < 0) {
				why_set(w, "counter must be a number from 0 to %d", OTP_COUNTER_MAX);
				return -EINVAL;
			}
			k.counter = (uint16_t)u;
			break;
		case F_USE:
			if (parse_uint(val, UINT8_MAX, &u) < 0) {
				why_set(w, "use must be a number from 0 to %d", UINT8_MAX);
				return -EINVAL;
			}
			k.use = (uint8_t)u;
			break;
		}
	}
	w->line = 0;
	if (seen != F_ALL) {
		for (size_t i = 0; i < ELEMENTSOF(field_names); i++)
			if (!(seen & (1u << i))) {
				why_set(w, "missing key \"%s\"", field_names[i]);
				break;
			}
		return -EINVAL;
	}
	if (k.counter == 0 && k.use != 0) {
		why_set(w, "use is %u but no OTP was issued yet (counter 0)", (unsigned)k.use);
		return -EINVAL;
	}
	*ret = k;
	return 0;
}

/* Open the state file, check that it is a regular file of ours with mode
 * 0600, and lock it (lock_op: LOCK_SH or LOCK_EX).  The lock is taken on
 * an inode; `otp` replaces the file by rename, so after locking we check
 * that the name still leads to the inode we locked, and start again if it
 * does not. */
static int state_open(const struct place *p, int lock_op, int *ret_fd, struct why *w)
{
	for (int tries = 0; tries < 100; tries++) {
		_cleanup_close_ int fd = -1;
		struct stat st, now;

		fd = openat(p->dirfd, p->base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			int r = -errno;
			if (r == -ELOOP)
				why_set(w, "is a symbolic link; refusing it (give the file itself)");
			else
				why_set(w, "%s", strerror(-r));
			return r;
		}
		if (fstat(fd, &st) < 0) {
			int r = -errno;
			why_set(w, "cannot stat: %s", strerror(-r));
			return r;
		}
		if (!S_ISREG(st.st_mode)) {
			why_set(w, "not a regular file; refusing it");
			return -EINVAL;
		}
		if (st.st_uid != geteuid()) {
			why_set(w, "owned by uid %u, not by uid %u running this; refusing it",
				(unsigned)st.st_uid, (unsigned)geteuid());
			return -EPERM;
		}
		if ((st.st_mode & 07777) != 0600) {
			why_set(w, "mode %04o, must be 0600 (it holds an AES key); refusing it",
				(unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		while (flock(fd, lock_op) < 0) {
			int r = -errno;
			if (r == -EINTR)
				continue;
			why_set(w, "cannot lock: %s", strerror(-r));
			return r;
		}
		if (fstatat(p->dirfd, p->base, &now, AT_SYMLINK_NOFOLLOW) < 0) {
			int r = -errno;
			if (r == -ENOENT)
				continue;
			why_set(w, "cannot stat: %s", strerror(-r));
			return r;
		}
		if (now.st_dev == st.st_dev && now.st_ino == st.st_ino) {
			*ret_fd = TAKE_FD(fd);
			return 0;
		}
	}
	why_set(w, "keeps being replaced; giving up");
	return -EAGAIN;
}

static int state_read(int fd, struct softkey *ret, struct why *w)
{
	_cleanup_(wipe_state) char buf[STATE_MAX + 1];
	size_t got = 0;
	int r;

	r = read_full(fd, buf, sizeof(buf), &got);
	if (r < 0) {
		why_set(w, "cannot read: %s", strerror(-r));
		return r;
	}
	if (got > STATE_MAX) {
		why_set(w, "larger than %d bytes: not a state file", STATE_MAX);
		return -EFBIG;
	}
	return state_parse(buf, got, ret, w);
}

/* Write k to a new temporary file next to the state file, fsync it, and
 * put it in place: with link() when exclusive (init: fails with EEXIST if
 * the name exists), with rename() otherwise (otp).  Then fsync the
 * directory.  The temporary name is removed on every path. */
static int state_write(const struct place *p, const struct softkey *k, bool exclusive, struct why *w)
{
	_cleanup_(wipe_state) char buf[STATE_MAX + 1];
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	uint8_t rnd[8];
	char rnd_hex[17];
	size_t len = 0;
	bool tmp_gone = false;
	int r;

	r = state_format(k, buf, &len);
	if (r < 0) {
		why_set(w, "state does not fit in %d bytes", STATE_MAX);
		return r;
	}
	r = random_bytes(rnd, sizeof(rnd));
	if (r < 0) {
		why_set(w, "getrandom: %s", strerror(-r));
		return r;
	}
	hex_encode(rnd, sizeof(rnd), rnd_hex);
	if (asprintf(&tmp, ".%s.tmp-%s", p->base, rnd_hex) < 0) {
		tmp = NULL;
		why_set(w, "out of memory");
		return -ENOMEM;
	}

	fd = openat(p->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		r = -errno;
		why_set(w, "cannot create a temporary file next to it: %s", strerror(-r));
		return r;
	}
	/* Exactly 0600 whatever the umask. */
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		why_set(w, "chmod of the temporary file: %s", strerror(-r));
		goto out;
	}
	r = write_full(fd, buf, len);
	if (r < 0) {
		why_set(w, "cannot write: %s", strerror(-r));
		goto out;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		why_set(w, "fsync: %s", strerror(-r));
		goto out;
	}
	r = close(TAKE_FD(fd));
	if (r < 0) {
		r = -errno;
		why_set(w, "close: %s", strerror(-r));
		goto out;
	}
	if (exclusive) {
		/* link() fails if the name exists: the state file appears whole
		 * or not at all, and never over another one. */
		if (linkat(p->dirfd, tmp, p->dirfd, p->base, 0) < 0) {
			r = -errno;
			if (r == -EEXIST)
				why_set(w, "already exists; refusing to overwrite it");
			else
				why_set(w, "cannot create: %s", strerror(-r));
			goto out;
		}
		(void)unlinkat(p->dirfd, tmp, 0);
	} else if (renameat(p->dirfd, tmp, p->dirfd, p->base) < 0) {
		r = -errno;
		why_set(w, "cannot replace: %s", strerror(-r));
		goto out;
	}
	tmp_gone = true;
	if (fsync(p->dirfd) < 0) {
		r = -errno;
		why_set(w, "fsync of its directory: %s", strerror(-r));
		goto out;
	}
	r = 0;
out:
	if (!tmp_gone)
		(void)unlinkat(p->dirfd, tmp, 0);
	return r;
}

/* ---- AES key file */

static int read_key_file(const char *file, uint8_t ret_key[static OTP_AES_KEY_SIZE], struct why *w)
{
	_cleanup_(wipe_keyfile) char buf[KEYFILE_MAX + 1];
	_cleanup_close_ int own = -1;
	int fd, r;
	size_t got = 0;

	if (strcmp(file, "-") == 0) {
		fd = STDIN_FILENO;
	} else {
		own = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (own < 0) {
			r = -errno;
			why_set(w, "%s", strerror(-r));
			return r;
		}
		fd = own;
	}
	r = read_full(fd, buf, KEYFILE_MAX, &got);
	if (r < 0) {
		why_set(w, "cannot read: %s", strerror(-r));
		return r;
	}
	/* 32 hex characters, then nothing or one newline. */
	if (got == 2 * OTP_AES_KEY_SIZE + 1 && buf[2 * OTP_AES_KEY_SIZE] == '\n')
		got--;
	buf[got] = '\0';
	if (got != 2 * OTP_AES_KEY_SIZE || hex_decode(buf, ret_key, OTP_AES_KEY_SIZE) < 0) {
		why_set(w, "expected the AES key as %d hex characters and at most a newline after them",
			2 * OTP_AES_KEY_SIZE);
		return -EINVAL;
	}
	return 0;
}

/* ---- output: write(2), no stdio buffer keeps a copy of a secret */

static int print_line(const char *s)
{
	_cleanup_(wipe_line) char line[128];
	int n = snprintf(line, sizeof(line), "%s\n", s);

	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENOBUFS;
	return write_full(STDOUT_FILENO, line, (size_t)n);
}

/* ---- commands */

static int parse_args(int argc, char **argv, const struct option *lo, const char *shortopts,
		      const char *usage, int (*on_opt)(int c, void *userdata), void *userdata,
		      const char **ret_statefile)
{
	int c, r;

	r = check_long_names(argc, argv, lo, usage);
	if (r != 0)
		return r;
	while ((c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return -1;
		}
		if (c == '?' || c == ':')
			return opt_error(c, argv, usage);
		r = on_opt(c, userdata);
		if (r != 0)
			return r;
	}
	if (argc - optind != 1)
		return usage_error(usage, "%s needs exactly one STATEFILE (got %d arguments)", argv[0],
				   argc - optind);
	if (!*argv[optind])
		return usage_error(usage, "STATEFILE is empty");
	*ret_statefile = argv[optind];
	return 0;
}

struct init_opts {
	const char *public_id;
	const char *key_file;
};

static int init_opt(int c, void *userdata)
{
	struct init_opts *o = userdata;

	if (c == 'p')
		o->public_id = optarg;
	else if (c == 'k')
		o->key_file = optarg;
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	static const struct option lo[] = { { "public-id", required_argument, NULL, 'p' },
					    { "aes-key-file", required_argument, NULL, 'k' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	_cleanup_(softkey_wipe) struct softkey k = { 0 };
	_cleanup_(place_done) struct place p = { .dirfd = -1 };
	struct init_opts o = { 0 };
	struct why w = { 0 };
	const char *statefile = NULL;
	_cleanup_(wipe_line) char key_hex[128];
	int r;

	r = parse_args(argc, argv, lo, ":h", usage_init, init_opt, &o, &statefile);
	if (r != 0)
		return r < 0 ? 0 : r;

	if (o.public_id) {
		if (!otp_public_id_valid(o.public_id))
			return usage_error(usage_init, "--public-id must be %d modhex characters (cbdefghijklnrtuv)",
					   OTP_PUBLIC_ID_LEN);
		memcpy(k.public_id, o.public_id, OTP_PUBLIC_ID_LEN + 1);
	} else {
		/* Like a factory-programmed key: "cc" and 5 random bytes. */
		uint8_t rnd[5];
		r = random_bytes(rnd, sizeof(rnd));
		if (r < 0) {
			log_err("getrandom: %s", strerror(-r));
			return 1;
		}
		k.public_id[0] = k.public_id[1] = 'c';
		otp_modhex_encode(rnd, sizeof(rnd), k.public_id + 2);
	}

	if (o.key_file) {
		r = read_key_file(o.key_file, k.aes_key, &w);
		if (r < 0) {
			fail(strcmp(o.key_file, "-") == 0 ? "standard input" : o.key_file, &w);
			return 1;
		}
	} else {
		r = random_bytes(k.aes_key, sizeof(k.aes_key));
		if (r < 0) {
			log_err("getrandom: %s", strerror(-r));
			return 1;
		}
	}
	r = random_bytes(k.private_id, sizeof(k.private_id));
	if (r < 0) {
		log_err("getrandom: %s", strerror(-r));
		return 1;
	}

	r = place_open(statefile, &p, &w);
	if (r >= 0)
		r = state_write(&p, &k, true, &w);
	if (r < 0) {
		fail(statefile, &w);
		return 1;
	}

	r = print_line(k.public_id);
	if (r >= 0 && !o.key_file) {
		hex_encode(k.aes_key, sizeof(k.aes_key), key_hex);
		r = print_line(key_hex);
		if (r >= 0)
			log_info("the AES key above is shown this once: enrol it now "
				 "(dumpgate token enroll --aes-key-file -); it is not shown again");
	}
	if (r < 0) {
		log_err("writing to standard output: %s (%s was created)", strerror(-r), statefile);
		return 1;
	}
	return 0;
}

struct otp_opts {
	bool new_session;
	bool caps_lock;
};

static int otp_opt(int c, void *userdata)
{
	struct otp_opts *o = userdata;

	if (c == 'n')
		o->new_session = true;
	else if (c == 'c')
		o->caps_lock = true;
	return 0;
}

static int cmd_otp(int argc, char **argv)
{
	static const struct option lo[] = { { "new-session", no_argument, NULL, 'n' },
					    { "caps-lock", no_argument, NULL, 'c' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	_cleanup_(softkey_wipe) struct softkey k = { 0 };
	_cleanup_(place_done) struct place p = { .dirfd = -1 };
	_cleanup_close_ int fd = -1;
	struct otp_opts o = { 0 };
	struct why w = { 0 };
	const char *statefile = NULL;
	char otp[OTP_LEN + 1];
	struct timespec ts;
	uint64_t ticks;
	uint16_t rnd = 0;
	int r;

	r = parse_args(argc, argv, lo, ":h", usage_otp, otp_opt, &o, &statefile);
	if (r != 0)
		return r < 0 ? 0 : r;

	r = place_open(statefile, &p, &w);
	if (r >= 0)
		r = state_open(&p, LOCK_EX, &fd, &w);
	if (r >= 0)
		r = state_read(fd, &k, &w);
	if (r < 0) {
		fail(statefile, &w);
		return 1;
	}

	/* The next pair: a new session on the first OTP, after 256 uses, or
	 * when asked; otherwise the next use. */
	if (k.counter == 0 || o.new_session || k.use == UINT8_MAX) {
		if (k.counter >= OTP_COUNTER_MAX) {
			w = (struct why){ 0 };
			why_set(&w, "the session counter is at its maximum (%d): this token cannot issue "
				    "another OTP; init a new one", OTP_COUNTER_MAX);
			fail(statefile, &w);
			return 1;
		}
		k.counter++;
		k.use = 0;
	} else {
		k.use++;
	}

	/* The timestamp of a real key runs at about 8 Hz; 24 bits of it. */
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0) {
		log_err("clock_gettime: %m");
		return 1;
	}
	ticks = (uint64_t)ts.tv_sec * 8 + (uint64_t)ts.tv_nsec / 125000000;
	r = random_bytes(&rnd, sizeof(rnd));
	if (r < 0) {
		log_err("getrandom: %s", strerror(-r));
		return 1;
	}
	r = otp_generate(k.aes_key, k.private_id, (uint16_t)(k.counter | (o.caps_lock ? OTP_CAPS_LOCK : 0)),
			 k.use, (uint16_t)(ticks & 0xffff), (uint8_t)((ticks >> 16) & 0xff), rnd, k.public_id,
			 otp);
	if (r < 0) {
		w = (struct why){ 0 };
		why_set(&w, "cannot build an OTP: %s", strerror(-r));
		fail(statefile, &w);
		return 1;
	}

	/* Spent on disk before anyone sees it. */
	r = state_write(&p, &k, false, &w);
	if (r < 0) {
		fail(statefile, &w);
		return 1;
	}
	r = print_line(otp);
	explicit_bzero(otp, sizeof(otp));
	if (r < 0) {
		log_err("writing to standard output: %s (the OTP is spent)", strerror(-r));
		return 1;
	}
	return 0;
}

static int no_opt(int c, void *userdata)
{
	return 0;
}

static int cmd_show(int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	_cleanup_(softkey_wipe) struct softkey k = { 0 };
	_cleanup_(place_done) struct place p = { .dirfd = -1 };
	_cleanup_close_ int fd = -1;
	struct why w = { 0 };
	const char *statefile = NULL;
	char line[64];
	int r;

	r = parse_args(argc, argv, lo, ":h", usage_show, no_opt, NULL, &statefile);
	if (r != 0)
		return r < 0 ? 0 : r;

	r = place_open(statefile, &p, &w);
	if (r >= 0)
		r = state_open(&p, LOCK_SH, &fd, &w);
	if (r >= 0)
		r = state_read(fd, &k, &w);
	if (r < 0) {
		fail(statefile, &w);
		return 1;
	}
	snprintf(line, sizeof(line), "public_id=%s", k.public_id);
	r = print_line(line);
	if (r >= 0) {
		snprintf(line, sizeof(line), "counter=%u", (unsigned)k.counter);
		r = print_line(line);
	}
	if (r >= 0) {
		snprintf(line, sizeof(line), "use=%u", (unsigned)k.use);
		r = print_line(line);
	}
	if (r < 0) {
		log_err("writing to standard output: %s", strerror(-r));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' },
					    { "version", no_argument, NULL, 'V' },
					    { NULL, 0, NULL, 0 } };
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} commands[] = {
		{ "init", cmd_init },
		{ "otp", cmd_otp },
		{ "show", cmd_show },
	};
	int c;

	log_set_ident("dumpgate-softkey");
	if (ensure_std_fds() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;

	/* Global options end at the command ("+"): check only those names. */
	for (int i = 1; i < argc && strncmp(argv[i], "-", 1) == 0; i++) {
		int r = check_long_names(2, (char *[]){ argv[0], argv[i], NULL }, lo, usage_short);
		if (r != 0)
			return r;
	}
	while ((c = getopt_long(argc, argv, "+:h", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("dumpgate-softkey %s\n", DUMPGATE_VERSION);
			return 0;
		default:
			return opt_error(c, argv, usage_short);
		}
	}
	if (optind >= argc)
		return usage_error(usage_short, "missing command");

	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int cargc = argc - optind;
			char **cargv = argv + optind;
			optind = 0; /* restart getopt on the command's arguments */
			return commands[i].fn(cargc, cargv);
		}
	_cleanup_free_ char *e = str_escape(argv[optind], 32);
	return usage_error(usage_short, "unknown command '%s'", e ? e : "?");
}
