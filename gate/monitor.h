/* monitor.h - the monitor (dumpgated's privileged process).
 *
 * One single-threaded event loop (epoll) owns the audit log, the transfer
 * table, the spool and every child.  Uploads run on copy threads
 * (spool.h); everything else happens on the loop.  main.c sets the
 * monitor up (config, lock, audit replay, socket, capabilities) and calls
 * monitor_run().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/evp.h>

#include "audit.h"
#include "config.h"
#include "kaudit.h"
#include "spool.h"
#include "tokens.h"
#include "transfer.h"

struct child;
struct scan_job;
struct release_job;

/* epoll data is (kind << 56 | serial): an event for something freed
 * earlier in the same batch finds no owner instead of a stale pointer. */
enum { EV_FIXED = 0, EV_CHILD = 1, EV_SCAN = 2 };
#define EV_TAG(kind, serial) (((uint64_t)(kind) << 56) | ((serial) & ((1ull << 56) - 1)))

struct upload {
	struct spool_job job;      /* must stay first: thread borrows &job */
	char id[33];
	struct child *child;       /* NULL once the session is gone */
	uint64_t intent_seq;
	bool from_stdin;
	bool committed;            /* stdin: the client confirmed the end */
	uint64_t commit_bytes;
	time_t commit_deadline;    /* stdin: stream ended, commit due by then */
	bool commit_overdue;
	const char *limit_name;    /* which limit `limit` came from */
	struct upload *next;
};

/* Audited refusals of one uid in the current minute (requests.c). */
struct refusal_meter {
	uid_t uid;
	time_t window;         /* start of the minute being counted */
	unsigned count;
	time_t throttled_until;
};

struct monitor {
	struct gate_config *cfg;   /* owned */
	struct audit_log *audit;   /* owned */
	struct kaudit *kaudit;     /* owned, NULL when kernel_audit = off */
	struct transfer_table table;
	struct token_table tokens;
	int state_dirfd, spool_dirfd, lock_fd;
	int tokens_dirfd, outbox_dirfd;
	int releasing_dirfd;           /* STATE/releasing: markers of renames under way */
	EVP_PKEY *signkey;             /* the gate's Ed25519 release key */
	char recorded_key_sha256[65];  /* its fingerprint in the last gate_started, "" if none */
	struct release_job *release;   /* the release running, NULL if none */
	int listen_fd, epoll_fd, signal_fd, timer_fd, job_fd;
	uid_t session_uid, scan_uid;
	gid_t session_gid, scan_gid;
	struct scan_job *scans;
	unsigned n_scans;
	uint64_t next_serial;
	struct child *children;
	unsigned n_children;
	struct upload *uploads;
	struct refusal_meter *meters;
	size_t n_meters;
	bool stopping;
	time_t last_retention;
};

/* Rebuild the table from the log, abort intents a crash left open and
 * record gate_started.  Called once by main before monitor_run. */
int monitor_recover(struct monitor *m);

/* Append a record and apply it to the table: the only way state changes.
 * On failure nothing changed and the error was logged. */
int monitor_record(struct monitor *m, const char *event, const char *transfer,
		   const struct audit_actor *actor, json_t *details);

int monitor_run(struct monitor *m);

/* requests.c: true while uid may not use the gate (too many refused
 * requests this minute); *ret_until says until when. */
bool requests_throttled(const struct monitor *m, uid_t uid, time_t now, time_t *ret_until);
