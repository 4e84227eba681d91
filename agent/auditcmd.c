/* auditcmd.c - the `audit` commands of the `dumpgate` CLI: `audit show`
 * prints the gate's audit log (each record checked and its strings
 * escaped, or --json as it came); `audit verify` checks the log's hash
 * chain, fetched from the gate or read from PATH, and with --kernel-trail
 * that auditd's files hold every line of it (ktrail.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit.h"
#include "auditcmd.h"
#include "cli.h"
#include "client.h"
#include "ktrail.h"
#include "proto.h"
#include "util.h"

static const char usage_audit[] = "usage: dumpgate [--socket PATH] audit show [--json]\n"
				  "       dumpgate [--socket PATH] audit verify [PATH] [--kernel-trail FILE]...\n";

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

int cmd_audit(const char *sockpath, int argc, char **argv)
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
