/* client.h - the CLI side of the client protocol (gate/proto.h): connect
 * to the gate's socket, send one request, read frames up to the 'E' frame;
 * plus the input (OTP, AES key) and output helpers the commands in
 * dumpgate.c share.
 *
 * client_connect() and client_exchange() never print; they return 0 or
 * -errno plus a static text saying what they were doing.  -EPROTO means
 * the gate broke the protocol; the text then says how.  client_run() (one
 * exchange on its own connection) and client_open() + client_call() (an
 * open connection, several exchanges) are the places that turn those into
 * a message and an exit code; so do the readers of secrets below.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "proto.h"

/* Connect a SOCK_SEQPACKET socket to path.  *ret_sock is O_CLOEXEC. */
int client_connect(const char *path, int *ret_sock);

/* Frames a command expects besides 'E'; any other frame is -EPROTO. */
#define CLIENT_ALLOW_PROGRESS 1u
#define CLIENT_ALLOW_DATA 2u

struct client_ops {
	unsigned allow;
	/* Each 'D' payload (borrowed).  A negative return stops the exchange;
	 * the callback sets *ret_why. */
	int (*data)(const uint8_t *p, size_t n, void *userdata, const char **ret_why);
	/* Each valid 'P' frame {"bytes":N}. */
	void (*progress)(uint64_t bytes, void *userdata);
	void *userdata;
	/* Optional copy while frames are read (submit from stdin): bytes from
	 * copy_in (borrowed, read until EOF) go to copy_out, which the
	 * exchange takes ownership of, makes non-blocking and closes at EOF
	 * of copy_in or when the exchange ends.  -1 for none. */
	int copy_in, copy_out;
	/* Out: bytes written to copy_out, and whether copy_in reached EOF
	 * (as opposed to the exchange ending first).  A stdin submit is
	 * whole only if the gate stored exactly copied bytes. */
	uint64_t copied;
	bool copy_eof;
};

/* Send req (with fd attached unless -1; takes ownership of fd and closes
 * it once sent, so that only the gate holds it) and
 * read frames until the 'E' frame.  On success *ret_end is the parsed end
 * object: "ok" is a boolean and, when false, "error" is a string.  On
 * failure *ret_why says what failed. */
int client_exchange(int sock, const struct proto_req *req, int fd, struct client_ops *ops,
		    json_t **ret_end, const char **ret_why);

/* ---- running one exchange for a command */

/* Progress bar on stderr for submit (only drawn when .on is set, i.e.
 * stderr is a terminal); percentage when the size is known. */
struct client_progress {
	bool on, drawn, size_known;
	uint64_t size;
	struct timespec start, last;
};
void client_progress_update(uint64_t bytes, void *userdata); /* userdata: progress */
void client_progress_clear(struct client_progress *pg);

/* Validate req locally (same codec and words as the gate), connect to
 * sockpath, run the exchange and report any failure once on stderr.
 * Returns 0 with *ret_end (an end object with "ok":true), or the exit code
 * (1 error, 2 invalid arguments).  Takes ownership of fd and of
 * ops->copy_out (both closed in every case); ops and pg may be NULL. */
int client_run(const char *sockpath, const struct proto_req *req, int fd, struct client_ops *ops,
	       struct client_progress *pg, json_t **ret_end);

/* The same on a connection of the caller's, for commands that need more
 * than one exchange on it (token enroll): client_open() connects (0, or 1
 * after saying why); client_call() validates req locally and runs one
 * exchange on sock (borrowed, left open), with the return values of
 * client_run().  No fd is passed and ops->copy_out must be -1. */
int client_open(const char *sockpath, int *ret_sock);
int client_call(int sock, const struct proto_req *req, struct client_ops *ops, json_t **ret_end);

/* 'D' frames gathered into one NUL-terminated buffer (bounded). */
struct client_accum {
	char *buf;
	size_t len, cap;
};
int client_accum_data(const uint8_t *p, size_t n, void *userdata, const char **ret_why);
void client_accum_free(struct client_accum *a);
/* The buffer parsed as JSON (duplicates refused), or NULL. */
json_t *client_accum_json(const struct client_accum *a);

/* ---- output; these exit(1) on out-of-memory */

_Noreturn void client_oom(void);
/* str_escape() that cannot fail. */
char *client_escape(const char *s, size_t max);
char *client_strdup(const char *s);
/* "dumpgate: <message>\n" on stderr. */
void client_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void client_human_size(uint64_t n, char buf[static 32]);
/* A printable, escaped rendering of one JSON value (max: cut strings at
 * max bytes of input, 0 = whole); times under known keys are formatted. */
char *client_value_text(const char *key, json_t *v, size_t max);
/* "key: value" on stdout for every member except skip. */
void client_print_object(json_t *o, const char *skip);
/* A table on stdout: the ncols headings, then one row per element of arr,
 * each column as wide as its widest cell.  row() fills ncols cells with
 * malloc'd strings (escaped: they reach a terminal).  right: bit k set =
 * column k is right-aligned. */
void client_print_table(json_t *arr, const char *const *head, size_t ncols, unsigned right,
			void (*row)(json_t *x, char **cells));

/* ---- secrets: never from argv; these print their own errors and return
 * 0 or exit code 1.  The caller wipes what they return. */

#define CLIENT_OTP_LINE 128 /* bytes of an OTP line before its newline */

/* The controlling terminal, O_RDWR | O_CLOEXEC | O_NOCTTY; -errno (ENXIO:
 * there is none).  Does not print. */
int client_tty_open(int *ret_fd);
/* One OTP: with tty >= 0, prompt there and read a line with echo off;
 * with tty -1, one line of standard input and no prompt, with echo off
 * when standard input is a terminal.  While echo is off every signal that
 * would end or stop the process is caught: the terminal's settings are
 * restored first, then the signal takes its course; after a stop, echo
 * goes off again and the line is read anew (as readpassphrase(3) does).
 * A line over CLIENT_OTP_LINE bytes, or with a NUL byte or a non-ASCII
 * byte in it, is an error.  Surrounding whitespace is trimmed and A-Z
 * lower-cased; an empty result or one over PROTO_MAX_OTP is an error.
 * ret: NUL-terminated. */
int client_read_otp(int tty, const char *prompt, char ret[static CLIENT_OTP_LINE + 1]);
/* Cleanup for the caller's OTP buffer. */
void client_wipe_otp(char (*p)[CLIENT_OTP_LINE + 1]);
/* A token's AES key: exactly 32 hex characters (either case).  From path,
 * which must be a regular file, with at most a newline after them; from
 * standard input for "-", a regular file, a pipe or a socket, the same;
 * or, when standard input is a terminal, one line typed at tty (borrowed;
 * prompt "AES key (32 hex characters): ", echo off as for an OTP).  A
 * warning when the file can be read by its group or others.  Read with
 * one bounded read; the buffer is wiped.  An error never repeats path. */
int client_read_key_file(const char *path, int tty, uint8_t ret_key[static PROTO_AES_KEY_SIZE]);
