/* util.h - small helpers shared by every dumpgate program.
 *
 * Helpers here never log; callers log once with context (STYLE.md).
 * Functions return 0 or -errno and fill ret_* only on success.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership on: returns the value and leaves -1 / NULL behind. */
#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int _take_ = (fd);                                             \
		(fd) = -1;                                                     \
		_take_;                                                        \
	})
#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) _take_ = (p);                                    \
		(p) = NULL;                                                    \
		_take_;                                                        \
	})

/* Wipe then free: for buffers that held secrets. */
void secure_free(void *p, size_t n);

/* ---- logging: "ident: message" on stderr (the monitor's stderr goes to
 * the journal or the foreground terminal).  Only callers that can say
 * something useful to a person log. */
void log_set_ident(const char *ident);
const char *log_ident(void);
void log_msg(const char *level, const char *fmt, ...) _printf_(2, 3);
#define log_info(...) log_msg(NULL, __VA_ARGS__)
#define log_warn(...) log_msg("warning", __VA_ARGS__)
#define log_err(...) log_msg("error", __VA_ARGS__)

/* ---- I/O that retries on EINTR and short transfers. */
int read_full(int fd, void *buf, size_t n, size_t *ret_got); /* stops at EOF */
int write_full(int fd, const void *buf, size_t n);
int fsync_dir_at(int dirfd, const char *path);

/* ---- encodings */
void hex_encode(const uint8_t *in, size_t n, char *out); /* out: 2n+1 bytes, lowercase */
int hex_decode(const char *in, uint8_t *out, size_t n);   /* exactly 2n hex chars */
bool is_hex(const char *s, size_t len);                   /* lowercase hex of length len */

/* Copy of s safe for a log line: printable ASCII kept, everything else as
 * \xNN, truncated to max bytes of input.  Never NULL on success. */
char *str_escape(const char *s, size_t max);

/* ---- parsing of config values.  Sizes accept K/M/G/T (powers of 1024),
 * times s/m/h/d; a bare number is bytes / seconds. */
int parse_size(const char *s, uint64_t *ret);
int parse_duration(const char *s, uint64_t *ret_seconds);
int parse_uint(const char *s, uint64_t max, uint64_t *ret);

/* ---- misc */
/* Open /dev/null on any of fds 0-2 that is closed, so that a file or
 * socket opened later cannot take a standard fd's place (and get an OTP,
 * a key or a log line written into it).  Call first in main(). */
int ensure_std_fds(void);
int random_bytes(void *buf, size_t n);
/* "2026-11-28T16:15:20Z"; buf >= 32 bytes */
void format_time(time_t t, char buf[static 32]);
int parse_time(const char *s, time_t *ret);
/* Lower-case 128-bit random id as 32 hex characters. buf >= 33 bytes. */
int new_transfer_id(char buf[static 33]);
bool transfer_id_valid(const char *s);
/* SHA-256 of a buffer as 64 lowercase hex + NUL. */
void sha256_hex(const void *data, size_t n, char out[static 65]);
