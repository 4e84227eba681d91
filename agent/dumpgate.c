/* dumpgate.c - the `dumpgate` CLI for requesters, approvers, admins and
 * auditors.  Each command sends one request to the gate (agent/client.c
 * does the connection and the frame loop) and prints the answer; `token
 * enroll` sends two on one connection.
 *
 * Everything the gate sends back is checked before it is shown, and every
 * string that came from a person (reasons, names, accounts, error texts)
 * is escaped with str_escape() before it reaches a terminal.
 *
 * Secrets: an OTP and a token's AES key never come from argv (the
 * terminal, standard input or a key file; agent/client.c reads them) and
 * are wiped after use; a generated AES key is written once with write(2),
 * so that no stdio buffer keeps it.  The process is not dumpable and has a
 * core size limit of 0 from the start of main().  An argument that is not
 * what it should be is not repeated in the error when it may be a secret
 * typed in the wrong place (a transfer id, a sha256, a public id, an
 * option after its name).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "client.h"
#include "ktrail.h"
#include "verify.h"
#include "dg-config.h"
#include "proto.h"
#include "util.h"

#define DEFAULT_WAIT 3600
#define OTP_TOKEN_MODHEX 32 /* modhex characters of an OTP after its public id */

/* An argument echoed in an error shows at most this much: an OTP typed
 * where a command or a value goes shows no more than its public id, which
 * is no secret. */
#define ECHO_MAX 12

static const char usage_submit[] = "usage: dumpgate [--socket PATH] submit --profile NAME --reason TEXT (FILE | -)\n";
static const char usage_list[] = "usage: dumpgate [--socket PATH] list [--state STATE] [--json]\n";
static const char usage_show[] = "usage: dumpgate [--socket PATH] show ID [--json]\n";
static const char usage_wait[] = "usage: dumpgate [--socket PATH] wait ID [--timeout SECONDS]\n";
static const char usage_withdraw[] = "usage: dumpgate [--socket PATH] withdraw ID\n";
static const char usage_status[] = "usage: dumpgate [--socket PATH] status\n";
static const char usage_audit[] = "usage: dumpgate [--socket PATH] audit show [--json]\n"
				  "       dumpgate [--socket PATH] audit verify [PATH] [--kernel-trail FILE]...\n";
static const char usage_approve[] = "usage: dumpgate [--socket PATH] approve ID [--sha256 HEX] [--otp-stdin]\n";
static const char usage_deny[] = "usage: dumpgate [--socket PATH] deny ID --reason TEXT\n";
static const char usage_token[] =
	"usage: dumpgate [--socket PATH] token enroll --user ACCOUNT [--public-id MODHEX]\n"
	"                                [--aes-key-file (FILE | -)] [--otp-stdin]\n"
	"       dumpgate [--socket PATH] token list [--json]\n"
	"       dumpgate [--socket PATH] token revoke PUBLIC-ID\n";

static const char usage_verify[] = "usage: dumpgate verify-release DIR [--key PUBFILE]\n";
static const char usage_short[] = "usage: dumpgate [--socket PATH] COMMAND [ARGS]\n";
static const char usage_text[] =
	"usage: dumpgate [--socket PATH] COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  submit --profile NAME --reason TEXT (FILE | -)\n"
	"                        submit FILE (or standard input) through the gate and\n"
	"                        print the transfer id\n"
	"  list [--state STATE] [--json]\n"
	"                        list transfers (optionally only those in STATE)\n"
	"  show ID [--json]      show one transfer\n"
	"  wait ID [--timeout SECONDS]\n"
	"                        wait until the transfer is final (default 3600 s,\n"
	"                        at most 86400) and print its state\n"
	"  withdraw ID           withdraw a transfer that is not final yet\n"
	"  approve ID [--sha256 HEX] [--otp-stdin]\n"
	"                        approve a transfer with a touch of your YubiKey:\n"
	"                        shows the transfer, then reads the OTP from the\n"
	"                        terminal with echo off; --otp-stdin reads it from\n"
	"                        standard input instead and needs --sha256\n"
	"  deny ID --reason TEXT deny a transfer that waits for approval\n"
	"  status                show the gate's status\n"
	"  audit show [--json]   print the audit log\n"
	"  audit verify [PATH] [--kernel-trail FILE]...\n"
	"                        verify the audit log's hash chain (fetched from the\n"
	"                        gate, or read from PATH); with --kernel-trail, also\n"
	"                        that auditd's log FILE holds every line (a log\n"
	"                        rewritten or cut short fails)\n"
	"  token enroll --user ACCOUNT [--public-id MODHEX] [--aes-key-file (FILE | -)]\n"
	"               [--otp-stdin]\n"
	"                        enrol a YubiKey for ACCOUNT (admins): the AES key\n"
	"                        from FILE (32 hex characters; - for standard input)\n"
	"                        or generated by the gate and shown once; then one\n"
	"                        OTP of the key (terminal, or standard input with\n"
	"                        --otp-stdin) confirms it\n"
	"  token list [--json]   list the enrolled tokens\n"
	"  token revoke PUBLIC-ID\n"
	"                        revoke a token (admins)\n"
	"  verify-release DIR [--key PUBFILE]\n"
	"                        check a release directory (file, manifest and its\n"
	"                        signature) with the gate's public key (default\n"
	"                        " VERIFY_DEFAULT_KEY "); needs no gate\n"
	"\n"
	"ID is the 32-character transfer id or a unique prefix of it (6+ characters).\n"
	"An OTP or an AES key is never taken from the command line; long options\n"
	"must be given in full.\n"
	"\n"
	"Options:\n"
	"  --socket PATH         the gate's socket (default: $DUMPGATE_SOCKET, else\n"
	"                        " DUMPGATE_DEFAULT_SOCKET ")\n"
	"  -h, --help            show this help; COMMAND --help shows one command\n"
	"  --version             show the version\n"
	"\n"
	"Exit status:\n"
	"  0   success (wait: the transfer was released)\n"
	"  1   error: the gate refused the request, or a connection, protocol or\n"
	"      verification failure\n"
	"  2   usage error\n"
	"  3   wait: timed out, the transfer is not final yet\n"
	"  10  wait: blocked (the scanner found secrets)\n"
	"  11  wait: failed\n"
	"  12  wait: denied\n"
	"  13  wait: expired\n"
	"  14  wait: withdrawn\n";

static _printf_(2, 3) int usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("dumpgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%sTry 'dumpgate --help' for more information.\n", usage);
	return 2;
}

/* Report a getopt error ('?' or ':'); opterr is 0 so getopt printed nothing. */
static int opt_error(int c, char **argv, const char *usage)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	char shortopt[3] = { '-', (char)optopt, 0 }, name[72];
	bool is_long = strncmp(arg, "--", 2) == 0;
	_cleanup_free_ char *e = NULL;
	size_t n;

	/* An unknown short option may sit in a cluster ("-xj"): name it alone.
	 * A long one is named up to '=': its value may be a secret typed in
	 * the wrong place ("--otp=..."). */
	if (!is_long && c == '?' && optopt > 0 && optopt < 128)
		arg = shortopt;
	n = strcspn(arg, "=");
	snprintf(name, sizeof(name), "%.*s", (int)(n < 64 ? n : 64), arg);
	e = client_escape(name, sizeof(name));
	if (c == ':')
		return usage_error(usage, "option '%s' needs an argument", e);
	/* getopt sets optopt for a known long option given a value. */
	if (is_long && optopt != 0)
		return usage_error(usage, "option '%s' takes no argument", e);
	return usage_error(usage, "unrecognized option '%s'", e);
}

/* getopt_long() takes any unambiguous prefix of a long option: "--otp"
 * would be "--otp-stdin" and "--aes-key" "--aes-key-file".  No option
 * takes an OTP or a key, and none may seem to: the index of the first
 * argument getopt_long() would take as a long option whose name is not
 * exactly one in lo, or 0.  Arguments after "--" are operands, and with
 * in_order ("+" getopt) so is everything after the first operand. */
static int inexact_long_option(int argc, char **argv, bool in_order, const struct option *lo)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t n;
		int k = -1;

		if (strcmp(a, "--") == 0)
			break;
		if (a[0] != '-' || a[1] == '\0') {
			if (in_order)
				break;
			continue;
		}
		if (a[1] != '-')
			continue; /* short options: none takes a value */
		n = strcspn(a + 2, "=");
		for (int j = 0; lo[j].name && k < 0; j++)
			if (strlen(lo[j].name) == n && strncmp(lo[j].name, a + 2, n) == 0)
				k = j;
		if (k < 0)
			return i;
		if (lo[k].has_arg == required_argument && a[2 + n] != '=')
			i++; /* its value may look like an option */
	}
	return 0;
}

/* getopt_long() for every command, with optind 0 at the start: before the
 * first option is taken, a long option that is not named exactly is
 * reported as unknown ('?' with optind past it, for opt_error(), which
 * names it only up to '='). */
static int next_option(int argc, char **argv, const char *shortopts, const struct option *lo)
{
	if (optind == 0) {
		int bad = inexact_long_option(argc, argv, shortopts[0] == '+', lo);
		if (bad > 0) {
			optind = bad + 1;
			optopt = 0;
			return '?';
		}
	}
	return getopt_long(argc, argv, shortopts, lo, NULL);
}

static bool id_shape(const char *s)
{
	return strlen(s) == PROTO_MAX_ID && is_hex(s, PROTO_MAX_ID);
}

static int protocol_error(const char *what)
{
	client_errorf("protocol error: %s", what);
	return 1;
}

/* The options of a command that has none but --help, and --json when
 * ret_json is not NULL.  Returns -1 to go on, else the exit code (0 after
 * printing the usage for --help). */
static int simple_options(int argc, char **argv, const char *usage, bool *ret_json)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	int c;

	while ((c = next_option(argc, argv, ":h", ret_json ? lo : lo + 1)) != -1) {
		switch (c) {
		case 'j':
			*ret_json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage);
		}
	}
	return -1;
}

/* A request whose answer says nothing but "ok": 0, or the exit code. */
static int run_plain(const char *sockpath, const struct proto_req *req)
{
	json_t *end = NULL;
	int rc = client_run(sockpath, req, -1, NULL, NULL, &end);

	json_decref(end);
	return rc;
}

/* --json output of list, show and token list: the gate's text as it came. */
static void print_raw(const struct client_accum *a)
{
	fwrite(a->buf, 1, a->len, stdout);
	fputc('\n', stdout);
}

/* ---- lists from the gate: a JSON array in 'D' frames */

/* Run req (list, token_list), gather its data into a and check that it is
 * an array of objects whose member key passes valid(); what names the
 * things listed in an error. */
static int fetch_array(const char *sockpath, const struct proto_req *req, struct client_accum *a,
		       const char *what, const char *key, bool (*valid)(const char *), json_t **ret)
{
	struct client_ops ops = { .allow = CLIENT_ALLOW_DATA, .data = client_accum_data, .userdata = a,
				  .copy_in = -1, .copy_out = -1 };
	json_t *end = NULL, *arr;
	size_t i;
	json_t *x;
	int rc;

	rc = client_run(sockpath, req, -1, &ops, NULL, &end);
	if (rc)
		return rc;
	json_decref(end);
	arr = client_accum_json(a);
	if (!json_is_array(arr)) {
		json_decref(arr);
		client_errorf("protocol error: the %s list from the gate is not a JSON array", what);
		return 1;
	}
	json_array_foreach(arr, i, x) {
		json_t *v = json_object_get(x, key);
		if (!json_is_object(x) || !json_is_string(v) || !valid(json_string_value(v))) {
			json_decref(arr);
			client_errorf("protocol error: a %s in the list from the gate has no valid %s", what, key);
			return 1;
		}
	}
	*ret = arr;
	return 0;
}

/* ---- transfer ids: full ids pass; a unique prefix is resolved via list */

static int fetch_list(const char *sockpath, const char *state, struct client_accum *a, json_t **ret)
{
	struct proto_req req = { .op = OP_LIST, .state = (char *)state };

	return fetch_array(sockpath, &req, a, "transfer", "id", id_shape, ret);
}

static int resolve_id(const char *sockpath, const char *arg, const char *usage, char ret[static 33])
{
	_cleanup_(client_accum_free) struct client_accum a = { 0 };
	char want[33];
	size_t n = strlen(arg), i;
	json_t *arr = NULL, *x;
	const char *found = NULL;
	int rc, matches = 0;

	if (n < 6 || n > PROTO_MAX_ID)
		goto bad;
	for (i = 0; i < n; i++) {
		char c = arg[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			goto bad;
		want[i] = c;
	}
	want[n] = 0;
	if (n == PROTO_MAX_ID) {
		memcpy(ret, want, 33);
		return 0;
	}

	rc = fetch_list(sockpath, NULL, &a, &arr);
	if (rc)
		return rc;
	json_array_foreach(arr, i, x) {
		const char *id = json_string_value(json_object_get(x, "id"));
		if (strncmp(id, want, n) == 0) {
			matches++;
			found = id;
		}
	}
	if (matches == 1)
		memcpy(ret, found, 33);
	json_decref(arr);
	if (matches == 1)
		return 0;
	if (matches)
		client_errorf("transfer id prefix %s is ambiguous", want);
	else
		client_errorf("no transfer with an id starting with %s", want);
	return 1;
bad:
	/* Not repeated: it may be an OTP typed too early. */
	return usage_error(usage, "ID is not a transfer id (32 hex characters, or a unique prefix of 6 or more)");
}

/* ---- submit */

static int cmd_submit(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "profile", required_argument, NULL, 'p' },
					    { "reason", required_argument, NULL, 'r' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	const char *profile = NULL, *reason = NULL, *path, *name;
	_cleanup_close_ int fd = -1, wfd = -1;
	struct client_progress pg = { .on = isatty(STDERR_FILENO) == 1 };
	struct client_ops ops = { .allow = CLIENT_ALLOW_PROGRESS, .progress = client_progress_update,
				  .userdata = &pg, .copy_in = -1, .copy_out = -1 };
	struct proto_req req = { .op = OP_SUBMIT };
	json_t *end = NULL;
	int c, rc;

	while ((c = next_option(argc, argv, ":h", lo)) != -1) {
		switch (c) {
		case 'p':
			profile = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'h':
			fputs(usage_submit, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage_submit);
		}
	}
	if (!profile)
		return usage_error(usage_submit, "submit needs --profile NAME");
	if (!reason)
		return usage_error(usage_submit, "submit needs --reason TEXT");
	if (argc - optind != 1)
		return usage_error(usage_submit, "submit needs exactly one FILE, or - for standard input");
	path = argv[optind];

	if (strcmp(path, "-") == 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) {
			client_errorf("cannot create a pipe: %m");
			return 1;
		}
		fd = p[0];
		wfd = p[1];
		name = "stdin";
		req.from_stdin = true;
		ops.copy_in = STDIN_FILENO;
	} else {
		struct stat st;
		int fl;
		_cleanup_free_ char *e = client_escape(path, 4096);

		/* O_NONBLOCK so that opening a FIFO cannot hang; cleared after. */
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			client_errorf("cannot open %s: %m", e);
			return 1;
		}
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 || fstat(fd, &st) < 0) {
			client_errorf("cannot use %s: %m", e);
			return 1;
		}
		/* The gate takes a regular file or a pipe; say so before asking. */
		if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
			client_errorf("%s is not a regular file (use '-' to send a stream from standard input)",
				      e);
			return 1;
		}
		if (S_ISREG(st.st_mode)) {
			pg.size_known = true;
			pg.size = (uint64_t)st.st_size;
		}
		const char *slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
		if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			client_errorf("%s has no usable file name", e);
			return 1;
		}
	}
	req.profile = (char *)profile;
	req.reason = (char *)reason;
	req.name = (char *)name;
	ops.copy_out = TAKE_FD(wfd);

	/* client_run() takes both fds: ours are closed once the gate has its
	 * copy, so that the pipe reports EPIPE if the gate stops reading. */
	clock_gettime(CLOCK_MONOTONIC, &pg.start);
	rc = client_run(sockpath, &req, TAKE_FD(fd), &ops, &pg, &end);
	if (rc)
		return rc;
	json_t *id = json_object_get(end, "id");
	if (!json_is_string(id) || !id_shape(json_string_value(id))) {
		json_decref(end);
		return protocol_error("the gate's answer to submit has no valid transfer id");
	}
	printf("%s\n", json_string_value(id));
	json_decref(end);
	return 0;
}

/* ---- list */

enum { COL_ID, COL_STATE, COL_PROFILE, COL_REQUESTER, COL_SIZE, COL_TYPE, COL_SUBMITTED, COL_REASON, _COL_MAX };

static void list_row(json_t *x, char **r)
{
	json_t *size = json_object_get(x, "size");

	r[COL_ID] = client_escape(json_string_value(json_object_get(x, "id")), 12);
	r[COL_ID][strnlen(r[COL_ID], 12)] = 0; /* no "..." on ids */
	r[COL_STATE] = client_value_text(NULL, json_object_get(x, "state"), 16);
	r[COL_PROFILE] = client_value_text(NULL, json_object_get(x, "profile"), 64);
	r[COL_REQUESTER] = client_value_text(NULL, json_object_get(x, "requester"), 32);
	if (json_is_integer(size) && json_integer_value(size) >= 0) {
		char h[32];
		client_human_size((uint64_t)json_integer_value(size), h);
		r[COL_SIZE] = client_strdup(h);
	} else {
		r[COL_SIZE] = client_value_text(NULL, size, 16);
	}
	r[COL_TYPE] = client_value_text(NULL, json_object_get(x, "type"), 16);
	r[COL_SUBMITTED] = client_value_text("submitted", json_object_get(x, "submitted"), 32);
	r[COL_REASON] = client_value_text(NULL, json_object_get(x, "reason"), 40);
}

static void list_table(json_t *arr)
{
	static const char *const head[_COL_MAX] = { "ID", "STATE", "PROFILE", "REQUESTER",
						    "SIZE", "TYPE", "SUBMITTED", "REASON" };

	client_print_table(arr, head, _COL_MAX, 1u << COL_SIZE, list_row);
}

static int cmd_list(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "state", required_argument, NULL, 's' },
					    { "json", no_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	_cleanup_(client_accum_free) struct client_accum a = { 0 };
	const char *state = NULL;
	bool as_json = false;
	json_t *arr = NULL;
	int c, rc;

	while ((c = next_option(argc, argv, ":h", lo)) != -1) {
		switch (c) {
		case 's':
			state = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			fputs(usage_list, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage_list);
		}
	}
	if (optind != argc)
		return usage_error(usage_list, "list takes no arguments");

	rc = fetch_list(sockpath, state, &a, &arr);
	if (rc)
		return rc;
	if (as_json)
		print_raw(&a);
	else
		list_table(arr);
	json_decref(arr);
	return 0;
}

/* ---- show, wait, withdraw, status */

/* Findings and scan progress for people; JSON keeps every field. */
static void print_scan(json_t *o)
{
	json_t *prog = json_object_get(o, "scan_progress");
	json_t *findings = json_object_get(o, "findings");
	json_t *f;
	size_t i;

	if (json_is_object(prog)) {
		json_int_t size = json_integer_value(json_object_get(o, "size"));
		json_int_t raw = json_integer_value(json_object_get(prog, "raw"));
		json_int_t dec = json_integer_value(json_object_get(prog, "decoded"));
		printf("scan progress: raw pass %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
		       " bytes (%d%%), decoding pass %" JSON_INTEGER_FORMAT " bytes\n",
		       raw, size, size > 0 ? (int)(raw * 100 / size) : 100, dec);
	}
	if (!json_is_array(findings))
		return;
	printf("findings: %zu\n", json_array_size(findings));
	json_array_foreach(findings, i, f)
	{
		_cleanup_free_ char *sev = client_value_text(NULL, json_object_get(f, "severity"), 16);
		_cleanup_free_ char *det = client_value_text(NULL, json_object_get(f, "detector"), 16);
		_cleanup_free_ char *kt = client_value_text(NULL, json_object_get(f, "key_type"), 32);
		_cleanup_free_ char *pass = client_value_text(NULL, json_object_get(f, "pass"), 16);
		_cleanup_free_ char *note = client_value_text(NULL, json_object_get(f, "note"), 160);
		json_t *bits = json_object_get(f, "bits");
		json_t *fp = json_object_get(f, "public_sha256");
		json_t *c = json_object_get(f, "container");
		char b[32] = "";

		if (json_is_integer(bits) && json_integer_value(bits) > 0)
			snprintf(b, sizeof(b), " %" JSON_INTEGER_FORMAT "-bit", json_integer_value(bits));
		for (char *q = sev; *q; q++)
			*q = (char)toupper((unsigned char)*q);
		printf("  %-8s %s %s%s at offset %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " bytes)", sev, det,
		       kt, b, json_integer_value(json_object_get(f, "offset")),
		       json_integer_value(json_object_get(f, "length")));
		if (json_is_true(json_object_get(f, "verified")))
			printf(" verified");
		if (json_is_string(fp))
			printf(" sha256:%.16s", json_string_value(fp));
		if (json_is_object(c)) {
			_cleanup_free_ char *fmt = client_value_text(NULL, json_object_get(c, "format"), 8);
			printf(" in %s stream %" JSON_INTEGER_FORMAT, fmt, json_integer_value(json_object_get(c, "index")));
		}
		printf(" [%s pass]%s", pass, json_is_true(json_object_get(f, "allowed")) ? " ALLOWED (allowlist)" : "");
		if (json_is_string(json_object_get(f, "note")))
			printf(" - %s", note);
		printf("\n");
	}
}

/* Who approved so far, against how many persons are required. */
static void print_approvals(json_t *o)
{
	json_t *apps = json_object_get(o, "approvals"), *req = json_object_get(o, "required"), *x;
	size_t i;

	if (!json_is_array(apps))
		return;
	if (json_is_integer(req))
		printf("approvals: %zu of %" JSON_INTEGER_FORMAT " persons required\n", json_array_size(apps),
		       json_integer_value(req));
	else
		printf("approvals: %zu\n", json_array_size(apps));
	json_array_foreach(apps, i, x)
	{
		_cleanup_free_ char *person = client_value_text(NULL, json_object_get(x, "person"), 64);
		_cleanup_free_ char *account = client_value_text(NULL, json_object_get(x, "account"), 64);
		_cleanup_free_ char *token = client_value_text(NULL, json_object_get(x, "token"), 16);
		_cleanup_free_ char *t = client_value_text("time", json_object_get(x, "time"), 32);
		printf("  %s (account %s, token %s) at %s\n", person, account, token, t);
	}
}

/* Where a released transfer went. */
static void print_release(json_t *o)
{
	json_t *r = json_object_get(o, "release");

	if (!json_is_object(r))
		return;
	_cleanup_free_ char *path = client_value_text(NULL, json_object_get(r, "path"), 4096);
	_cleanup_free_ char *file = client_value_text(NULL, json_object_get(r, "file"), 255);
	_cleanup_free_ char *sha = client_value_text(NULL, json_object_get(r, "manifest_sha256"), 64);
	printf("release: %s/%s (manifest sha256 %s)\n", path, file, sha);
}

/* show's human form: the transfer's fields as "key: value", then
 * approvals, release and scan in their own forms. */
static void print_transfer(json_t *o)
{
	static const char *const own_form[] = { "findings", "scan_progress", "approvals", "required", "release" };
	json_t *copy = json_copy(o);

	if (!copy)
		client_oom();
	for (size_t i = 0; i < ELEMENTSOF(own_form); i++)
		json_object_del(copy, own_form[i]);
	client_print_object(copy, NULL);
	json_decref(copy);
	print_approvals(o);
	print_release(o);
	print_scan(o);
}

/* One transfer (id already resolved) from the gate, checked to be it;
 * a keeps its text for --json. */
static int fetch_transfer(const char *sockpath, const char *id, struct client_accum *a, json_t **ret)
{
	struct client_ops ops = { .allow = CLIENT_ALLOW_DATA, .data = client_accum_data, .userdata = a,
				  .copy_in = -1, .copy_out = -1 };
	struct proto_req req = { .op = OP_SHOW, .id = (char *)id };
	json_t *end = NULL, *o;
	int rc;

	rc = client_run(sockpath, &req, -1, &ops, NULL, &end);
	if (rc)
		return rc;
	json_decref(end);
	o = client_accum_json(a);
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "id")) ||
	    strcmp(json_string_value(json_object_get(o, "id")), id) != 0) {
		json_decref(o);
		return protocol_error("the gate's answer to show is not the requested transfer");
	}
	*ret = o;
	return 0;
}

static int cmd_show(const char *sockpath, int argc, char **argv)
{
	_cleanup_(client_accum_free) struct client_accum a = { 0 };
	char id[33];
	bool as_json = false;
	json_t *o = NULL;
	int rc;

	rc = simple_options(argc, argv, usage_show, &as_json);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return usage_error(usage_show, "show needs exactly one transfer ID");
	rc = resolve_id(sockpath, argv[optind], usage_show, id);
	if (rc)
		return rc;
	rc = fetch_transfer(sockpath, id, &a, &o);
	if (rc)
		return rc;
	if (as_json)
		print_raw(&a);
	else
		print_transfer(o);
	json_decref(o);
	return 0;
}

static const struct {
	const char *state;
	int code;
} wait_codes[] = {
	{ "released", 0 }, { "blocked", 10 },	{ "failed", 11 },
	{ "denied", 12 },  { "expired", 13 }, { "withdrawn", 14 },
};

static int cmd_wait(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "timeout", required_argument, NULL, 't' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	uint64_t timeout = DEFAULT_WAIT;
	char id[33];
	json_t *end = NULL, *st, *fin;
	int c, rc, code = -1;

	while ((c = next_option(argc, argv, ":h", lo)) != -1) {
		switch (c) {
		case 't':
			if (parse_uint(optarg, PROTO_MAX_WAIT, &timeout) < 0) {
				_cleanup_free_ char *e = client_escape(optarg, ECHO_MAX);
				return usage_error(usage_wait, "bad timeout '%s' (0..%d seconds)", e,
						   PROTO_MAX_WAIT);
			}
			break;
		case 'h':
			fputs(usage_wait, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage_wait);
		}
	}
	if (argc - optind != 1)
		return usage_error(usage_wait, "wait needs exactly one transfer ID");
	rc = resolve_id(sockpath, argv[optind], usage_wait, id);
	if (rc)
		return rc;

	struct proto_req req = { .op = OP_WAIT, .id = id, .timeout = (uint32_t)timeout };
	rc = client_run(sockpath, &req, -1, NULL, NULL, &end);
	if (rc)
		return rc;
	st = json_object_get(end, "state");
	fin = json_object_get(end, "final");
	const char *state = json_string_value(st);
	if (!state || !json_is_boolean(fin) || strlen(state) != json_string_length(st) ||
	    strspn(state, "abcdefghijklmnopqrstuvwxyz") != strlen(state) || !*state || strlen(state) > 16) {
		json_decref(end);
		return protocol_error("the gate's answer to wait has no valid state");
	}
	for (size_t i = 0; i < ELEMENTSOF(wait_codes); i++)
		if (strcmp(state, wait_codes[i].state) == 0)
			code = wait_codes[i].code;
	if (json_is_true(fin) && code < 0) {
		json_decref(end);
		return protocol_error("the gate reported an unknown final state");
	}
	printf("%s\n", state);
	if (json_is_false(fin)) {
		client_errorf("transfer %s is still %s after %" PRIu64 " s", id, state, timeout);
		code = 3;
	} else if (code != 0) {
		json_t *why = json_object_get(end, "final_reason");
		_cleanup_free_ char *e = json_is_string(why) ? client_value_text(NULL, why, 1024) : NULL;
		client_errorf("transfer %s was not released: %s%s%s", id, state, e ? ": " : "", e ? e : "");
	}
	json_decref(end);
	return code;
}

static int cmd_withdraw(const char *sockpath, int argc, char **argv)
{
	char id[33];
	int rc;

	rc = simple_options(argc, argv, usage_withdraw, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return usage_error(usage_withdraw, "withdraw needs exactly one transfer ID");
	rc = resolve_id(sockpath, argv[optind], usage_withdraw, id);
	if (rc)
		return rc;
	struct proto_req req = { .op = OP_WITHDRAW, .id = id };
	rc = run_plain(sockpath, &req);
	if (rc)
		return rc;
	printf("transfer %s withdrawn\n", id);
	return 0;
}

/* ---- approve, deny */

/* A hex or modhex argument: lower-cased into out (max + 1 bytes) when it
 * is at most max bytes long; false otherwise. */
static bool arg_lower(const char *arg, size_t max, char *out)
{
	size_t n = strnlen(arg, max + 1);

	if (n > max)
		return false;
	for (size_t i = 0; i <= n; i++)
		out[i] = arg[i] >= 'A' && arg[i] <= 'Z' ? (char)(arg[i] - 'A' + 'a') : arg[i];
	return true;
}

static bool sha256_shape(const char *s)
{
	return is_hex(s, PROTO_SHA256_HEX);
}

/* The integer member key of o when it is 0..max, else -1. */
static json_int_t member_count(json_t *o, const char *key, json_int_t max)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return -1;
	return json_integer_value(v);
}

/* Whether the transfer o (from fetch_transfer()) can be approved naming
 * sha (NULL: the one shown): 0, or exit code 1 after saying why not. */
static int approvable(json_t *o, const char *id, const char *sha)
{
	json_t *state = json_object_get(o, "state");

	if (!json_is_string(state) || strcmp(json_string_value(state), "pending") != 0) {
		_cleanup_free_ char *e = client_value_text(NULL, state, 32);
		client_errorf("transfer %s is %s, not waiting for approval; no OTP was asked for", id, e);
		return 1;
	}
	if (sha && strcmp(sha, json_string_value(json_object_get(o, "sha256"))) != 0) {
		client_errorf("transfer %s has another sha256 than the one given with --sha256; no OTP was asked for",
			      id);
		return 1;
	}
	return 0;
}

static int cmd_approve(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "sha256", required_argument, NULL, 's' },
					    { "otp-stdin", no_argument, NULL, 'o' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	_cleanup_(client_wipe_otp) char otp[CLIENT_OTP_LINE + 1] = "";
	_cleanup_(client_accum_free) struct client_accum a = { 0 };
	_cleanup_close_ int tty = -1;
	char id[33], sha[PROTO_SHA256_HEX + 1] = "", prompt[96];
	const char *sha_arg = NULL, *state, *answer_id;
	bool otp_stdin = false;
	json_t *end = NULL;
	json_int_t have, need;
	int c, rc;

	while ((c = next_option(argc, argv, ":h", lo)) != -1) {
		switch (c) {
		case 's':
			sha_arg = optarg;
			break;
		case 'o':
			otp_stdin = true;
			break;
		case 'h':
			fputs(usage_approve, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage_approve);
		}
	}
	if (argc - optind != 1)
		return usage_error(usage_approve, "approve needs exactly one transfer ID");
	/* Without the terminal nobody sees the transfer: the approver must
	 * name its hash. */
	if (otp_stdin && !sha_arg)
		return usage_error(usage_approve, "approve --otp-stdin needs --sha256 HEX");
	if (sha_arg && (!arg_lower(sha_arg, PROTO_SHA256_HEX, sha) || !sha256_shape(sha)))
		return usage_error(usage_approve, "--sha256 is not a SHA-256 (64 hex characters)");
	rc = resolve_id(sockpath, argv[optind], usage_approve, id);
	if (rc)
		return rc;

	if (otp_stdin) {
		rc = client_read_otp(-1, NULL, otp);
		if (rc)
			return rc;
	} else {
		json_t *o = NULL;
		const char *shown;

		if (client_tty_open(&tty) < 0) {
			client_errorf("approve needs a terminal for the OTP; use --otp-stdin with --sha256");
			return 1;
		}
		rc = fetch_transfer(sockpath, id, &a, &o);
		if (rc)
			return rc;
		print_transfer(o);
		shown = json_string_value(json_object_get(o, "sha256"));
		if (!shown || !sha256_shape(shown)) {
			json_decref(o);
			return protocol_error("the transfer from the gate has no valid sha256");
		}
		/* The gate spends an OTP before it refuses: ask for none when
		 * the refusal is known already. */
		rc = approvable(o, id, sha_arg ? sha : NULL);
		if (!sha_arg)
			memcpy(sha, shown, sizeof(sha));
		json_decref(o);
		if (rc)
			return rc;
		if (fflush(stdout) != 0) {
			client_errorf("writing to standard output: %m");
			return 1;
		}
		snprintf(prompt, sizeof(prompt), "Touch your YubiKey to approve sha256 %.16s...: ", sha);
		rc = client_read_otp(tty, prompt, otp);
		if (rc)
			return rc;
	}

	struct proto_req req = { .op = OP_APPROVE, .id = id, .sha256 = sha, .otp = otp,
				 .interactive = !otp_stdin };
	rc = client_run(sockpath, &req, -1, NULL, NULL, &end);
	client_wipe_otp(&otp); /* used up either way */
	if (rc)
		return rc;
	state = json_string_value(json_object_get(end, "state"));
	answer_id = json_string_value(json_object_get(end, "id"));
	have = member_count(end, "approvals", INT32_MAX);
	need = member_count(end, "required", INT32_MAX);
	if (!answer_id || strcmp(answer_id, id) != 0) {
		json_decref(end);
		return protocol_error("the gate's answer to approve is about another transfer");
	}
	if (!state || have < 0 || need < 0 ||
	    (strcmp(state, "approved") != 0 && strcmp(state, "pending") != 0)) {
		json_decref(end);
		return protocol_error("the gate's answer to approve has no valid state and counts");
	}
	if (strcmp(state, "approved") == 0)
		printf("approved: %s (%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " persons)\n", id, have,
		       need);
	else
		printf("approval recorded: %s (%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
		       " persons; waiting for more)\n",
		       id, have, need);
	json_decref(end);
	return 0;
}

static int cmd_deny(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "reason", required_argument, NULL, 'r' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	const char *reason = NULL;
	char id[33];
	int c, rc;

	while ((c = next_option(argc, argv, ":h", lo)) != -1) {
		switch (c) {
		case 'r':
			reason = optarg;
			break;
		case 'h':
			fputs(usage_deny, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage_deny);
		}
	}
	if (!reason)
		return usage_error(usage_deny, "deny needs --reason TEXT");
	if (argc - optind != 1)
		return usage_error(usage_deny, "deny needs exactly one transfer ID");
	rc = resolve_id(sockpath, argv[optind], usage_deny, id);
	if (rc)
		return rc;
	struct proto_req req = { .op = OP_DENY, .id = id, .reason = (char *)reason };
	rc = run_plain(sockpath, &req);
	if (rc)
		return rc;
	printf("denied: %s\n", id);
	return 0;
}

static int cmd_status(const char *sockpath, int argc, char **argv)
{
	struct proto_req req = { .op = OP_STATUS };
	json_t *end = NULL;
	int rc;

	rc = simple_options(argc, argv, usage_status, NULL);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return usage_error(usage_status, "status takes no arguments");
	rc = client_run(sockpath, &req, -1, NULL, NULL, &end);
	if (rc)
		return rc;
	client_print_object(end, "ok");
	json_decref(end);
	return 0;
}

/* ---- audit */

struct audit_out {
	bool json;
	int memfd; /* verify: the log goes here; -1 otherwise */
	struct client_accum line;
	uint64_t lineno;
};

static int audit_print_record(const char *line, size_t n)
{
	json_t *r = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
	json_t *seq = json_object_get(r, "seq"), *t = json_object_get(r, "time"),
	       *ev = json_object_get(r, "event"), *tr = json_object_get(r, "transfer"),
	       *actor = json_object_get(r, "actor"), *details = json_object_get(r, "details");

	if (!json_is_object(r) || !json_is_integer(seq) || !json_is_string(t) || !json_is_string(ev) ||
	    !(json_is_string(tr) || json_is_null(tr)) || !(json_is_object(actor) || json_is_null(actor))) {
		json_decref(r);
		return -EPROTO;
	}
	_cleanup_free_ char *et = client_value_text(NULL, t, 32), *eev = client_value_text(NULL, ev, 64),
			   *etr = !json_is_string(tr)		  ? client_strdup("-")
				  : id_shape(json_string_value(tr)) ? strndup(json_string_value(tr), 12)
								    : client_value_text(NULL, tr, 0),
			   *eacc = client_value_text(NULL, json_object_get(actor, "account"), 64),
			   *edet = details ? client_value_text(NULL, details, 0) : client_strdup("{}");
	if (!etr)
		client_oom();
	printf("%" JSON_INTEGER_FORMAT " %s %s %s %s %s\n", json_integer_value(seq), et, eev, etr, eacc,
	       edet);
	json_decref(r);
	return 0;
}

static int audit_data(const uint8_t *p, size_t n, void *userdata, const char **ret_why)
{
	struct audit_out *o = userdata;
	int rc;

	if (o->memfd >= 0) {
		rc = write_full(o->memfd, p, n);
		if (rc < 0)
			*ret_why = "storing the audit log";
		return rc;
	}
	if (o->json) {
		if (fwrite(p, 1, n, stdout) != n) {
			*ret_why = "writing to standard output";
			return errno ? -errno : -EIO;
		}
		return 0;
	}
	for (size_t i = 0; i < n;) {
		const uint8_t *nl = memchr(p + i, '\n', n - i);
		size_t k = nl ? (size_t)(nl - (p + i)) : n - i;
		if (o->line.len + k > AUDIT_MAX_LINE) {
			*ret_why = "protocol error: an audit record from the gate is too long";
			return -EPROTO;
		}
		rc = client_accum_data(p + i, k, &o->line, ret_why);
		if (rc < 0)
			return rc;
		i += k;
		if (!nl)
			break;
		i++; /* the newline */
		o->lineno++;
		rc = audit_print_record(o->line.buf ? o->line.buf : "", o->line.len);
		o->line.len = 0;
		if (rc < 0) {
			*ret_why = "protocol error: the audit log from the gate has a malformed record";
			return rc;
		}
	}
	return 0;
}

/* audit verify's callback: each good line against the kernel trail */
static int kcheck_cb(json_t *record, const char sha256[65], void *userdata)
{
	json_t *seq = json_object_get(record, "seq"), *event = json_object_get(record, "event");
	json_t *key = json_object_get(json_object_get(record, "details"), "signing_key_sha256");

	kcheck_line(userdata, json_is_integer(seq) ? (uint64_t)json_integer_value(seq) : 0,
		    json_is_string(event) ? json_string_value(event) : "?", sha256,
		    json_is_string(key) ? json_string_value(key) : NULL);
	return 0;
}

#define KFAILED "audit log FAILED verification against the kernel audit trail: "

/* The verdict of the kernel trail on a log whose chain is intact. */
static int kernel_verdict(const struct kcheck *c, const struct ktrail *k, size_t nfiles)
{
	const struct kentry *first, *same_first;
	uint64_t beyond = kcheck_beyond(c, &first), same, other;
	int rc = 0;

	kcheck_other_logs(c, &same, &other, &same_first);
	if (k->malformed > 0)
		client_errorf("note: %" PRIu64 " op=dumpgate record%s in the trail could not be read (cut short?) and "
			      "%s not used",
			      k->malformed, k->malformed == 1 ? "" : "s", k->malformed == 1 ? "was" : "were");
	if (k->conflicts > 0) {
		client_errorf(KFAILED "the trail has %" PRIu64 " line%s with two different records (the first: SHA-256 "
				      "%.16s…, seq %" PRIu64 ", event %s): records were sent to the kernel by someone "
				      "other than the gate, so the trail proves nothing",
			      k->conflicts, k->conflicts == 1 ? "" : "s", k->conflict.sha, k->conflict.seq,
			      k->conflict.event);
		return 1;
	}
	if (c->lines == 0) {
		client_errorf(KFAILED "the log is empty");
		return 1;
	}
	if (c->found == 0) {
		client_errorf(KFAILED "none of its %" PRIu64 " records is in the %zu file%s given (%zu dumpgate records "
				      "there); the log was rewritten, or the files are not the trail of this gate's "
				      "kernel_audit",
			      c->lines, nfiles, nfiles == 1 ? "" : "s", k->n);
		return 1;
	}
	if (c->missing > 0) {
		client_errorf(KFAILED "line %" PRIu64 " (seq %" PRIu64 ", event %s) is not in the kernel audit trail%s: %s",
			      c->miss_line, c->miss_seq, c->miss_event,
			      c->missing == 1 ? "" : c->missing == c->lines - c->miss_line + 1 ? ", nor is any line after it"
											  : ", nor are some later lines",
			      c->miss_replaced ? "the trail has another record in its place, so the line was changed "
						 "after the gate wrote it"
					       : "the line was added or changed after the gate wrote it, or the kernel "
						 "lost the record (auditctl -s: lost)");
		if (c->missing > 1 && c->missing < c->lines - c->miss_line + 1)
			client_errorf("(%" PRIu64 " of lines %" PRIu64 "-%" PRIu64 " are missing from the trail; the others "
				      "are there)",
				      c->missing, c->miss_line, c->lines);
		rc = 1;
	}
	/* a branch where a line was changed is the original of the changed
	 * lines, said above */
	if (c->forks > 0 && !(c->missing > 0 && c->miss_replaced && c->fork_line == c->miss_line)) {
		client_errorf(KFAILED "the trail has %" PRIu64 " record%s chained after line %" PRIu64 " that the log "
				      "does not have (from seq %" PRIu64 ", event %s): the log was cut there and the gate "
				      "restarted%s",
			      c->fork_len, c->fork_len == 1 ? "" : "s", c->fork_line - 1, c->fork.seq, c->fork.event,
			      c->fork_len == 1 ? ", or the gate died (or could not write) between sending that record to "
						 "the kernel and writing it, before that restart: see the gate's own log there"
					       : "");
		if (c->forks > 1)
			client_errorf("(%" PRIu64 " such branches in all)", c->forks);
		rc = 1;
	}
	if (same > 0) {
		client_errorf(KFAILED "the trail holds %" PRIu64 " other log%s of this gate (a first line naming the same "
				      "signing key %.16s…, SHA-256 %.16s…): this log replaced %s",
			      same, same == 1 ? "" : "s", c->key, same_first->sha, same == 1 ? "it" : "them");
		rc = 1;
	}
	if (beyond > 0) {
		client_errorf(KFAILED "the trail has %" PRIu64 " record%s chained after the log's last line (from seq "
				      "%" PRIu64 ", event %s): the log was cut short%s",
			      beyond, beyond == 1 ? "" : "s", first->seq, first->event,
			      beyond == 1 ? ", or the gate's last write failed (its own log then says \"cannot append\")"
					  : "");
		rc = 1;
	}
	if (rc)
		return rc;
	printf("kernel audit trail: lines %" PRIu64 "-%" PRIu64 " found, none after the last", c->first_found,
	       c->lines);
	if (c->first_found > 1)
		printf("; lines 1-%" PRIu64 " are older than the trail given", c->first_found - 1);
	if (c->unwritten > 0)
		printf("; %" PRIu64 " record%s mirrored but never written (a failed write, replaced by the next line)",
		       c->unwritten, c->unwritten == 1 ? "" : "s");
	if (other > 0)
		printf("; %" PRIu64 " other gate%s' logs in the trail (other signing keys) not checked", other,
		       other == 1 ? "" : "s");
	printf("\n");
	return 0;
}

static int audit_verify(const char *sockpath, const char *path, char **trails, size_t ntrails)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *error = NULL;
	_cleanup_(ktrail_free) struct ktrail k = { 0 };
	struct kcheck kc;
	uint64_t count = 0;
	int rc;

	/* the trail first: a file that cannot be read is said before the
	 * log is fetched */
	for (size_t i = 0; i < ntrails; i++) {
		_cleanup_free_ char *why = NULL;
		rc = ktrail_load(&k, trails[i], &why);
		if (rc < 0) {
			_cleanup_free_ char *e = client_escape(why ? why : trails[i], 4096);
			client_errorf("kernel trail: %s", e);
			return 1;
		}
	}
	if (ntrails > 0 && ktrail_index(&k) < 0)
		client_oom();
	kcheck_init(&kc, &k);

	if (path) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			_cleanup_free_ char *e = client_escape(path, 4096);
			client_errorf("cannot open %s: %m", e);
			return 1;
		}
	} else {
		struct audit_out o = { .memfd = -1 };
		struct client_ops ops = { .allow = CLIENT_ALLOW_DATA, .data = audit_data, .userdata = &o,
					  .copy_in = -1, .copy_out = -1 };
		struct proto_req req = { .op = OP_AUDIT };
		json_t *end = NULL;

		fd = memfd_create("dumpgate-audit", MFD_CLOEXEC);
		if (fd < 0) {
			client_errorf("cannot create a memory file: %m");
			return 1;
		}
		o.memfd = fd;
		rc = client_run(sockpath, &req, -1, &ops, NULL, &end);
		if (rc)
			return rc;
		json_decref(end);
		if (lseek(fd, 0, SEEK_SET) < 0) {
			client_errorf("cannot rewind the audit log copy: %m");
			return 1;
		}
	}
	rc = audit_verify_fd_lines(fd, ntrails > 0 ? kcheck_cb : NULL, &kc, &count, &error);
	if (rc == -EBADMSG) {
		_cleanup_free_ char *e = client_escape(error ? error : "unknown damage", 4096);
		client_errorf("audit log FAILED verification: %s", e);
		return 1;
	}
	if (rc < 0) {
		client_errorf("cannot verify the audit log: %s", strerror(-rc));
		return 1;
	}
	printf("audit log verified: %" PRIu64 " records, chain intact\n", count);
	fflush(stdout);
	return ntrails > 0 ? kernel_verdict(&kc, &k, ntrails) : 0;
}

static int cmd_audit(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' },
					    { "kernel-trail", required_argument, NULL, 'k' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	char *trails[64];
	size_t ntrails = 0;
	bool as_json = false;
	const char *sub;
	int c, rc;

	if (argc < 2)
		return usage_error(usage_audit, "audit needs a subcommand: show or verify");
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		fputs(usage_audit, stdout);
		return 0;
	}
	if (strcmp(sub, "show") != 0 && strcmp(sub, "verify") != 0) {
		_cleanup_free_ char *e = client_escape(sub, ECHO_MAX);
		return usage_error(usage_audit, "unknown audit subcommand '%s'", e);
	}
	argc--;
	argv++;
	optind = 0;
	while ((c = next_option(argc, argv, ":h", lo)) != -1) {
		switch (c) {
		case 'j':
			if (strcmp(sub, "show") == 0) {
				as_json = true;
				break;
			}
			return usage_error(usage_audit, "audit verify takes no --json");
		case 'k':
			if (strcmp(sub, "verify") != 0)
				return usage_error(usage_audit, "audit show takes no --kernel-trail");
			if (ntrails == ELEMENTSOF(trails))
				return usage_error(usage_audit, "at most %zu --kernel-trail files", ELEMENTSOF(trails));
			trails[ntrails++] = optarg;
			break;
		case 'h':
			fputs(usage_audit, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage_audit);
		}
	}

	if (strcmp(sub, "verify") == 0) {
		if (argc - optind > 1)
			return usage_error(usage_audit, "audit verify takes at most one PATH");
		return audit_verify(sockpath, optind < argc ? argv[optind] : NULL, trails, ntrails);
	}

	if (optind != argc)
		return usage_error(usage_audit, "audit show takes no arguments");
	struct audit_out o = { .json = as_json, .memfd = -1 };
	struct client_ops ops = { .allow = CLIENT_ALLOW_DATA, .data = audit_data, .userdata = &o,
				  .copy_in = -1, .copy_out = -1 };
	struct proto_req req = { .op = OP_AUDIT };
	json_t *end = NULL;

	rc = client_run(sockpath, &req, -1, &ops, NULL, &end);
	client_accum_free(&o.line);
	if (rc)
		return rc;
	json_decref(end);
	if (!as_json && o.line.len > 0) { /* buffer freed, length kept */
		client_errorf("the audit log ends with an incomplete record (line %" PRIu64 ")", o.lineno + 1);
		return 1;
	}
	return 0;
}

/* ---- token */

/* Wipe the AES key a request carried (the struct's strings are borrowed). */
static void req_wipe_key(struct proto_req *r)
{
	explicit_bzero(r->aes_key, sizeof(r->aes_key));
	r->has_key = false;
}

/* A public id argument (named what in an error), lower-cased (caps lock)
 * and checked; exit code 2 after saying why, or 0.  The argument is not
 * repeated: it may be an OTP. */
static int public_id_arg(const char *arg, const char *what, const char *usage,
			 char ret[static PROTO_PUBLIC_ID_LEN + 1])
{
	if (arg_lower(arg, PROTO_PUBLIC_ID_LEN, ret) && proto_public_id_valid(ret))
		return 0;
	return usage_error(usage, "%s is not a public id (12 modhex characters: cbdefghijklnrtuv)", what);
}

/* The public id in an answer: a valid one, or NULL when there is none
 * ("" or null: not known yet); *ret_bad when it is something else. */
static const char *answer_public_id(json_t *end, bool *ret_bad)
{
	json_t *v = json_object_get(end, "public_id");
	const char *s = json_string_value(v);

	*ret_bad = false;
	if (!v || json_is_null(v) || (s && !*s))
		return NULL;
	if (s && proto_public_id_valid(s))
		return s;
	*ret_bad = true;
	return NULL;
}

/* Whether an answer of the token enrolment is about the one asked for:
 * for account user and, unless pid is "" (the proof OTP tells it), the
 * public id pid. */
static bool enrolment_matches(json_t *end, const char *user, const char *pid)
{
	const char *acc = json_string_value(json_object_get(end, "account"));
	bool bad = false;
	const char *apid = answer_public_id(end, &bad);

	return acc && strcmp(acc, user) == 0 && !bad && (!*pid || (apid && strcmp(apid, pid) == 0));
}

/* Answer of token_enroll for user (and pid_arg, NULL when not given):
 * show the public id and, when the gate generated it, the AES key (once,
 * with write(2): no stdio buffer keeps a copy).  ret_pid: the public id
 * the enrolment is for, "" when the proof OTP will tell it. */
static int enroll_show_key(json_t *end, bool key_given, const char *user, const char *pid_arg,
			   char ret_pid[static PROTO_PUBLIC_ID_LEN + 1])
{
	json_t *k = json_object_get(end, "aes_key");
	bool bad = false;
	const char *pid = answer_public_id(end, &bad);
	char line[160];
	int n, rc;

	if (json_is_null(k))
		k = NULL;
	if (bad || (k && (key_given || !is_hex(json_string_value(k), 2 * PROTO_AES_KEY_SIZE))))
		return protocol_error("the gate's answer to token enroll has no valid public id or AES key");
	if (!enrolment_matches(end, user, pid_arg ? pid_arg : ""))
		return protocol_error("the gate's answer to token enroll is about another account or public id");
	snprintf(ret_pid, PROTO_PUBLIC_ID_LEN + 1, "%s", pid ? pid : "");
	if (!k) {
		if (pid)
			printf("public id: %s\n", pid);
		return 0;
	}
	if (!pid)
		return protocol_error("the gate generated an AES key but sent no public id");
	if (fflush(stdout) != 0) {
		client_errorf("writing to standard output: %m");
		return 1;
	}
	n = snprintf(line, sizeof(line), "public id: %s\nAES key (shown once; program the YubiKey with it): %s\n",
		     pid, json_string_value(k));
	rc = n > 0 && (size_t)n < sizeof(line) ? write_full(STDOUT_FILENO, line, (size_t)n) : -ENOBUFS;
	explicit_bzero(line, sizeof(line));
	if (rc < 0) {
		/* Nobody saw the key: the enrolment cannot be completed. */
		client_errorf("writing the AES key to standard output: %s; the enrolment is abandoned",
			      strerror(-rc));
		return 1;
	}
	return 0;
}

static int token_enroll(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "user", required_argument, NULL, 'u' },
					    { "public-id", required_argument, NULL, 'p' },
					    { "aes-key-file", required_argument, NULL, 'k' },
					    { "otp-stdin", no_argument, NULL, 'o' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	_cleanup_(client_wipe_otp) char otp[CLIENT_OTP_LINE + 1] = "";
	_cleanup_(req_wipe_key) struct proto_req req = { .op = OP_TOKEN_ENROLL };
	_cleanup_close_ int tty = -1, sock = -1;
	const char *user = NULL, *pid_arg = NULL, *key_file = NULL, *pid;
	char pid_buf[PROTO_PUBLIC_ID_LEN + 1], prompt[128], expect_pid[PROTO_PUBLIC_ID_LEN + 1] = "";
	bool otp_stdin = false, bad = false;
	json_t *end = NULL;
	int c, rc;

	while ((c = next_option(argc, argv, ":h", lo)) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'p':
			pid_arg = optarg;
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'o':
			otp_stdin = true;
			break;
		case 'h':
			fputs(usage_token, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage_token);
		}
	}
	if (!user)
		return usage_error(usage_token, "token enroll needs --user ACCOUNT");
	if (optind != argc)
		return usage_error(usage_token, "token enroll takes no arguments");
	if (key_file && strcmp(key_file, "-") == 0 && otp_stdin)
		return usage_error(usage_token, "--aes-key-file - and --otp-stdin cannot both read standard input");
	if (pid_arg) {
		rc = public_id_arg(pid_arg, "--public-id", usage_token, pid_buf);
		if (rc)
			return rc;
		req.public_id = pid_buf;
	}
	req.user = (char *)user;

	/* The terminal first: without one the enrolment could not be
	 * confirmed, and the gate would generate a key for nothing. */
	if (!otp_stdin && client_tty_open(&tty) < 0) {
		client_errorf("token enroll needs a terminal for the OTP; use --otp-stdin");
		return 1;
	}
	if (key_file) {
		rc = client_read_key_file(key_file, tty, req.aes_key);
		if (rc)
			return rc;
		req.has_key = true;
	}

	/* Both exchanges on one connection: the gate keeps the enrolment
	 * for this connection only, until the proof OTP comes. */
	rc = client_open(sockpath, &sock);
	if (rc)
		return rc;
	rc = client_call(sock, &req, NULL, &end);
	bool key_given = req.has_key;
	req_wipe_key(&req);
	if (rc)
		return rc;
	rc = enroll_show_key(end, key_given, user, req.public_id, expect_pid);
	json_decref(end); /* jansson wipes the generated key (proto.h) */
	if (rc)
		return rc;

	_cleanup_free_ char *euser = client_escape(user, PROTO_MAX_ACCOUNT);
	snprintf(prompt, sizeof(prompt), "Touch the YubiKey of %s once to confirm: ", euser);
	if (fflush(stdout) != 0) {
		client_errorf("writing to standard output: %m");
		return 1;
	}
	rc = client_read_otp(otp_stdin ? -1 : tty, prompt, otp);
	if (rc)
		return rc;
	/* A Yubico OTP starts with its token's public id. */
	if (!*expect_pid && strlen(otp) == PROTO_PUBLIC_ID_LEN + OTP_TOKEN_MODHEX)
		memcpy(expect_pid, otp, PROTO_PUBLIC_ID_LEN);

	struct proto_req confirm = { .op = OP_TOKEN_CONFIRM, .otp = otp };
	rc = client_call(sock, &confirm, NULL, &end);
	client_wipe_otp(&otp);
	if (rc)
		return rc;
	pid = answer_public_id(end, &bad);
	json_t *acc = json_object_get(end, "account");
	if (!pid || !json_is_string(acc)) {
		json_decref(end);
		return protocol_error("the gate's answer to token confirm has no valid public id or account");
	}
	if (!enrolment_matches(end, user, expect_pid)) {
		json_decref(end);
		return protocol_error("the gate confirmed another account or public id than the one being enrolled");
	}
	_cleanup_free_ char *eacc = client_value_text(NULL, acc, PROTO_MAX_ACCOUNT);
	printf("enrolled: %s for %s\n", pid, eacc);
	json_decref(end);
	return 0;
}

enum { TCOL_PUBLIC_ID, TCOL_ACCOUNT, TCOL_PERSON, TCOL_STATE, TCOL_ENROLLED, TCOL_BY, _TCOL_MAX };

static void token_row(json_t *x, char **r)
{
	json_t *revoked = json_object_get(x, "revoked");

	r[TCOL_PUBLIC_ID] = client_strdup(json_string_value(json_object_get(x, "public_id")));
	r[TCOL_ACCOUNT] = client_value_text(NULL, json_object_get(x, "account"), 32);
	r[TCOL_PERSON] = client_value_text(NULL, json_object_get(x, "person"), 32);
	r[TCOL_STATE] = client_strdup(revoked && !json_is_null(revoked) ? "revoked"
				      : json_is_true(json_object_get(x, "active")) ? "active"
										    : "inactive");
	r[TCOL_ENROLLED] = client_value_text("enrolled", json_object_get(x, "enrolled"), 32);
	r[TCOL_BY] = client_value_text(NULL, json_object_get(x, "enrolled_by"), 32);
}

static int token_list(const char *sockpath, int argc, char **argv)
{
	static const char *const head[_TCOL_MAX] = { "PUBLIC-ID", "ACCOUNT", "PERSON", "STATE", "ENROLLED", "BY" };
	_cleanup_(client_accum_free) struct client_accum a = { 0 };
	struct proto_req req = { .op = OP_TOKEN_LIST };
	bool as_json = false;
	json_t *arr = NULL;
	int rc;

	rc = simple_options(argc, argv, usage_token, &as_json);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return usage_error(usage_token, "token list takes no arguments");
	rc = fetch_array(sockpath, &req, &a, "token", "public_id", proto_public_id_valid, &arr);
	if (rc)
		return rc;
	if (as_json)
		print_raw(&a);
	else
		client_print_table(arr, head, _TCOL_MAX, 0, token_row);
	json_decref(arr);
	return 0;
}

static int token_revoke(const char *sockpath, int argc, char **argv)
{
	char pid[PROTO_PUBLIC_ID_LEN + 1];
	int rc;

	rc = simple_options(argc, argv, usage_token, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return usage_error(usage_token, "token revoke needs exactly one PUBLIC-ID");
	rc = public_id_arg(argv[optind], "PUBLIC-ID", usage_token, pid);
	if (rc)
		return rc;
	struct proto_req req = { .op = OP_TOKEN_REVOKE, .public_id = pid };
	rc = run_plain(sockpath, &req);
	if (rc)
		return rc;
	printf("revoked: %s\n", pid);
	return 0;
}

static int cmd_token(const char *sockpath, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const char *sockpath, int argc, char **argv);
	} subs[] = { { "enroll", token_enroll }, { "list", token_list }, { "revoke", token_revoke } };

	if (argc < 2)
		return usage_error(usage_token, "token needs a subcommand: enroll, list or revoke");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_token, stdout);
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(subs); i++)
		if (strcmp(argv[1], subs[i].name) == 0) {
			optind = 0;
			return subs[i].fn(sockpath, argc - 1, argv + 1);
		}
	_cleanup_free_ char *e = client_escape(argv[1], ECHO_MAX);
	return usage_error(usage_token, "unknown token subcommand '%s'", e);
}

/* On the debugging side: no gate, no socket; the gate's public key. */
static int cmd_verify_release(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "key", required_argument, NULL, 'k' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	const char *key = NULL;
	char why[512];
	int c;

	while ((c = next_option(argc, argv, ":h", lo)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'h':
			fputs(usage_verify, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage_verify);
		}
	}
	if (argc - optind != 1)
		return usage_error(usage_verify, "verify-release needs exactly one directory");
	if (verify_release(argv[optind], key, why, sizeof(why)) < 0) {
		_cleanup_free_ char *e = str_escape(why, sizeof(why));
		fprintf(stderr, "dumpgate: release %s FAILED verification: %s\n", argv[optind], e ? e : why);
		return 1;
	}
	printf("release verified: file, manifest and signature match the gate's key\n");
	return 0;
}

/* ---- main */

static const struct {
	const char *name;
	int (*fn)(const char *sockpath, int argc, char **argv);
} commands[] = {
	{ "submit", cmd_submit },   { "list", cmd_list },	    { "show", cmd_show },
	{ "wait", cmd_wait },	    { "withdraw", cmd_withdraw }, { "approve", cmd_approve },
	{ "deny", cmd_deny },	    { "status", cmd_status },	    { "audit", cmd_audit },
	{ "token", cmd_token },	    { "verify-release", cmd_verify_release },
};

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "socket", required_argument, NULL, 's' },
					    { "help", no_argument, NULL, 'h' },
					    { "version", no_argument, NULL, 'V' },
					    { NULL, 0, NULL, 0 } };
	const struct rlimit no_core = { 0, 0 };
	const char *sockpath = NULL;
	int c, rc = -1, protect;

	/* First of all, as it holds OTPs and AES keys: no core dump, and no
	 * other process of the user may ptrace it or read its memory. */
	protect = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &no_core) < 0 ? -errno : 0;
	if (ensure_std_fds() < 0)
		return 1;
	if (protect < 0) {
		client_errorf("cannot make the process undumpable: %s", strerror(-protect));
		return 1;
	}
	/* jansson's copies of an OTP or a key are wiped when freed. */
	proto_wipe_json_frees();
	/* A gate that goes away must give us EPIPE to report, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	optind = 0; /* next_option() checks the names first */

	while ((c = next_option(argc, argv, "+:h", lo)) != -1) {
		switch (c) {
		case 's':
			sockpath = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("dumpgate %s\n", DUMPGATE_VERSION);
			return 0;
		default:
			return opt_error(c, argv, usage_short);
		}
	}
	if (optind >= argc)
		return usage_error(usage_short, "missing command");
	if (!sockpath) {
		sockpath = getenv("DUMPGATE_SOCKET");
		if (!sockpath || !*sockpath)
			sockpath = DUMPGATE_DEFAULT_SOCKET;
	}
	if (!*sockpath)
		return usage_error(usage_short, "--socket needs a path");

	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int cargc = argc - optind;
			char **cargv = argv + optind;
			optind = 0; /* restart getopt on the command's arguments */
			rc = commands[i].fn(sockpath, cargc, cargv);
			break;
		}
	if (rc < 0) {
		_cleanup_free_ char *e = client_escape(argv[optind], ECHO_MAX);
		return usage_error(usage_short, "unknown command '%s'", e);
	}

	if (fflush(stdout) != 0 || ferror(stdout)) {
		client_errorf("writing to standard output: %s", strerror(errno ? errno : EIO));
		return 1;
	}
	return rc;
}
