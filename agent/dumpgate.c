/* dumpgate.c - the `dumpgate` CLI for requesters, approvers, admins and
 * auditors.  Each command sends one request to the gate (agent/client.c
 * does the connection and the frame loop) and prints the answer.
 *
 * Everything the gate sends back is checked before it is shown, and every
 * string that came from a person (reasons, names, accounts, error texts)
 * is escaped with str_escape() before it reaches a terminal.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "client.h"
#include "verify.h"
#include "dg-config.h"
#include "proto.h"
#include "util.h"

#define DEFAULT_WAIT 3600

static const char usage_submit[] = "usage: dumpgate [--socket PATH] submit --profile NAME --reason TEXT (FILE | -)\n";
static const char usage_list[] = "usage: dumpgate [--socket PATH] list [--state STATE] [--json]\n";
static const char usage_show[] = "usage: dumpgate [--socket PATH] show ID [--json]\n";
static const char usage_wait[] = "usage: dumpgate [--socket PATH] wait ID [--timeout SECONDS]\n";
static const char usage_withdraw[] = "usage: dumpgate [--socket PATH] withdraw ID\n";
static const char usage_status[] = "usage: dumpgate [--socket PATH] status\n";
static const char usage_audit[] = "usage: dumpgate [--socket PATH] audit show [--json]\n"
				  "       dumpgate [--socket PATH] audit verify [PATH]\n";

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
	"  status                show the gate's status\n"
	"  audit show [--json]   print the audit log\n"
	"  audit verify [PATH]   verify the audit log's hash chain (fetched from the\n"
	"                        gate, or read from PATH)\n"
	"  verify-release DIR [--key PUBFILE]\n"
	"                        check a release directory (file, manifest and its\n"
	"                        signature) with the gate's public key (default\n"
	"                        " VERIFY_DEFAULT_KEY "); needs no gate\n"
	"\n"
	"ID is the 32-character transfer id or a unique prefix of it (6+ characters).\n"
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
	char shortopt[3] = { '-', (char)optopt, 0 };
	_cleanup_free_ char *e = NULL;

	/* An unknown short option may sit in a cluster ("-xj"): name it alone. */
	if (c == '?' && optopt > 0 && optopt < 128)
		arg = shortopt;
	e = client_escape(arg, 64);
	if (c == ':')
		return usage_error(usage, "option '%s' needs an argument", e);
	return usage_error(usage, "unrecognized option '%s'", e);
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

/* ---- transfer ids: full ids pass; a unique prefix is resolved via list */

static int fetch_list(const char *sockpath, const char *state, struct client_accum *a, json_t **ret)
{
	struct proto_req req = { .op = OP_LIST, .state = (char *)state };
	struct client_ops ops = { .allow = CLIENT_ALLOW_DATA, .data = client_accum_data, .userdata = a,
				  .copy_in = -1, .copy_out = -1 };
	json_t *end = NULL, *arr;
	size_t i;
	json_t *x;
	int rc;

	rc = client_run(sockpath, &req, -1, &ops, NULL, &end);
	if (rc)
		return rc;
	json_decref(end);
	arr = client_accum_json(a);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return protocol_error("the transfer list from the gate is not a JSON array");
	}
	json_array_foreach(arr, i, x) {
		json_t *id = json_object_get(x, "id");
		if (!json_is_object(x) || !json_is_string(id) || !id_shape(json_string_value(id))) {
			json_decref(arr);
			return protocol_error("a transfer in the list from the gate has no valid id");
		}
	}
	*ret = arr;
	return 0;
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
bad:;
	_cleanup_free_ char *e = client_escape(arg, 64);
	return usage_error(usage, "bad transfer id '%s' (32 hex characters, or a unique prefix of 6 or more)", e);
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

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
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

static void list_table(json_t *arr)
{
	static const char *const head[_COL_MAX] = { "ID", "STATE", "PROFILE", "REQUESTER",
						    "SIZE", "TYPE", "SUBMITTED", "REASON" };
	size_t rows = json_array_size(arr) + 1, w[_COL_MAX] = { 0 };
	char *(*cell)[_COL_MAX] = calloc(rows, sizeof(*cell));
	size_t i;
	json_t *x;

	if (!cell)
		client_oom();
	for (int k = 0; k < _COL_MAX; k++)
		cell[0][k] = client_strdup(head[k]);
	json_array_foreach(arr, i, x) {
		char **r = cell[i + 1];
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
	for (i = 0; i < rows; i++)
		for (int k = 0; k < _COL_MAX; k++)
			if (strlen(cell[i][k]) > w[k])
				w[k] = strlen(cell[i][k]);
	for (i = 0; i < rows; i++) {
		for (int k = 0; k < _COL_MAX; k++) {
			if (k == _COL_MAX - 1)
				printf("%s\n", cell[i][k]);
			else if (k == COL_SIZE)
				printf("%*s  ", (int)w[k], cell[i][k]);
			else
				printf("%-*s  ", (int)w[k], cell[i][k]);
			free(cell[i][k]);
		}
	}
	free(cell);
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

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
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
	if (as_json) {
		fwrite(a.buf, 1, a.len, stdout);
		fputc('\n', stdout);
	} else {
		list_table(arr);
	}
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

static int cmd_show(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	_cleanup_(client_accum_free) struct client_accum a = { 0 };
	struct client_ops ops = { .allow = CLIENT_ALLOW_DATA, .data = client_accum_data, .userdata = &a,
				  .copy_in = -1, .copy_out = -1 };
	char id[33];
	bool as_json = false;
	json_t *end = NULL, *o;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			as_json = true;
			break;
		case 'h':
			fputs(usage_show, stdout);
			return 0;
		default:
			return opt_error(c, argv, usage_show);
		}
	}
	if (argc - optind != 1)
		return usage_error(usage_show, "show needs exactly one transfer ID");
	rc = resolve_id(sockpath, argv[optind], usage_show, id);
	if (rc)
		return rc;

	struct proto_req req = { .op = OP_SHOW, .id = id };
	rc = client_run(sockpath, &req, -1, &ops, NULL, &end);
	if (rc)
		return rc;
	json_decref(end);
	o = client_accum_json(&a);
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "id")) ||
	    strcmp(json_string_value(json_object_get(o, "id")), id) != 0) {
		json_decref(o);
		return protocol_error("the gate's answer to show is not the requested transfer");
	}
	if (as_json) {
		fwrite(a.buf, 1, a.len, stdout);
		fputc('\n', stdout);
	} else {
		json_t *copy = json_copy(o);
		if (!copy)
			client_oom();
		json_object_del(copy, "findings");
		json_object_del(copy, "scan_progress");
		client_print_object(copy, NULL);
		json_decref(copy);
		print_scan(o);
	}
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

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_uint(optarg, PROTO_MAX_WAIT, &timeout) < 0) {
				_cleanup_free_ char *e = client_escape(optarg, 32);
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
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	char id[33];
	json_t *end = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_withdraw, stdout);
			return 0;
		}
		return opt_error(c, argv, usage_withdraw);
	}
	if (argc - optind != 1)
		return usage_error(usage_withdraw, "withdraw needs exactly one transfer ID");
	rc = resolve_id(sockpath, argv[optind], usage_withdraw, id);
	if (rc)
		return rc;
	struct proto_req req = { .op = OP_WITHDRAW, .id = id };
	rc = client_run(sockpath, &req, -1, NULL, NULL, &end);
	if (rc)
		return rc;
	json_decref(end);
	printf("transfer %s withdrawn\n", id);
	return 0;
}

static int cmd_status(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	struct proto_req req = { .op = OP_STATUS };
	json_t *end = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_status, stdout);
			return 0;
		}
		return opt_error(c, argv, usage_status);
	}
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

static int audit_verify(const char *sockpath, const char *path)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *error = NULL;
	uint64_t count = 0;
	int rc;

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
	rc = audit_verify_fd(fd, &count, &error);
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
	return 0;
}

static int cmd_audit(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
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
		_cleanup_free_ char *e = client_escape(sub, 32);
		return usage_error(usage_audit, "unknown audit subcommand '%s'", e);
	}
	argc--;
	argv++;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (strcmp(sub, "show") == 0) {
				as_json = true;
				break;
			}
			return usage_error(usage_audit, "audit verify takes no --json");
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
		return audit_verify(sockpath, optind < argc ? argv[optind] : NULL);
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

/* On the debugging side: no gate, no socket; the gate's public key. */
static int cmd_verify_release(const char *sockpath, int argc, char **argv)
{
	static const struct option lo[] = { { "key", required_argument, NULL, 'k' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	const char *key = NULL;
	char why[512];
	int c;

	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
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
	{ "submit", cmd_submit }, { "list", cmd_list },	    { "show", cmd_show },
	{ "wait", cmd_wait },	  { "withdraw", cmd_withdraw }, { "status", cmd_status },
	{ "audit", cmd_audit },	  { "verify-release", cmd_verify_release },
};

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "socket", required_argument, NULL, 's' },
					    { "help", no_argument, NULL, 'h' },
					    { "version", no_argument, NULL, 'V' },
					    { NULL, 0, NULL, 0 } };
	const char *sockpath = NULL;
	int c, rc = -1;

	if (ensure_std_fds() < 0)
		return 1;
	/* A gate that goes away must give us EPIPE to report, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;

	while ((c = getopt_long(argc, argv, "+:h", lo, NULL)) != -1) {
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
		_cleanup_free_ char *e = client_escape(argv[optind], 32);
		return usage_error(usage_short, "unknown command '%s'", e);
	}

	if (fflush(stdout) != 0 || ferror(stdout)) {
		client_errorf("writing to standard output: %s", strerror(errno ? errno : EIO));
		return 1;
	}
	return rc;
}
