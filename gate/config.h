/* config.h - the gate configuration and the transfer profiles.
 *
 * Both are INI files read with libinih.  Every error names file and line:
 *   "/etc/dumpgate/profiles/crashdump.conf:12: unknown key \"aprovals\""
 * Unknown sections and keys, repeated keys, bad values, missing required
 * keys, keys for features this build does not have, and files (or their
 * directory) writable by group or others are errors.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct strlist {
	char **v;
	size_t n;
};

struct profile {
	char *name; /* file name without ".conf" */
	char *file; /* path it came from */
	struct strlist requesters; /* "account" or "@group" */
	struct strlist approvers;  /* "account" or "@group" */
	unsigned approvals;        /* distinct persons, >= 1 */
	uint64_t max_size;         /* bytes */
	uint32_t types;            /* FT_MASK() bits of accepted types */
	uint64_t expiry;           /* seconds a transfer may wait for approval */
	uint64_t retention;        /* seconds the artifact of a final transfer is kept */
	char *destination;         /* outbox sub-directory, a safe single name */
	/* scanning (issue 3) */
	uint32_t block;            /* SEV_MASK() bits of severities that block; always
	                            * includes critical and high (private keys) */
	struct strlist allowlist;  /* public_sha256 values (64 lowercase hex) */
	uint64_t bomb_max_size;    /* bytes one decoded stream may grow to */
	uint64_t bomb_max_ratio;   /* decoded:compressed */
};

/* severities as in gate/scan/detector.h: info 0, medium 1, high 2, critical 3 */
#define SEV_MASK(s) (1u << (s))

struct person {
	char *name;
	struct strlist accounts;
};

struct gate_config {
	char *file;
	/* [gate] */
	char *socket_path;   /* default /run/dumpgate/dumpgate.sock */
	char *state_dir;     /* required */
	char *spool_dir;     /* default STATE/spool */
	char *outbox_dir;    /* default STATE/outbox */
	char *profiles_dir;  /* required */
	char *admins_group;  /* required */
	char *auditors_group;/* optional, NULL = admins only */
	char *session_user;  /* required: unprivileged account for sessions */
	char *session_program; /* default: DUMPGATE_LIBEXECDIR/dumpgate-session */
	char *scanner_user;  /* required: unprivileged account for scanners */
	char *scanner_program; /* default: DUMPGATE_BINDIR/dumpgate-scan */
	bool kernel_audit;   /* "required" (default): every record is mirrored to
	                      * the kernel audit trail or does not happen; "off" */
	/* [limits] */
	unsigned max_connections_per_account; /* default 8 */
	unsigned max_connections;             /* default 256 */
	uint64_t quota_per_requester;         /* bytes held in the spool, default 64G */
	uint64_t quota_total;                 /* default 512G */
	uint64_t upload_idle_timeout;         /* seconds, default 300 */
	uint64_t session_idle_timeout;        /* seconds a connection may sit with no request, default 60 */
	unsigned max_refusals_per_minute;     /* audited refusals of one account before it is
	                                       * throttled for the rest of the minute, default 60 */
	unsigned otp_max_failures;            /* failed OTP attempts before an account is locked, default 5 */
	uint64_t otp_lockout;                 /* seconds an account stays locked, default 900 */
	uint64_t release_retry;               /* seconds before a release postponed for want of
	                                       * room in the outbox is tried again, default 60 */
	uint64_t scan_timeout;                /* seconds of wall clock per scan, default 300 */
	unsigned scan_threads;                /* threads of the raw pass, default 1 */
	uint64_t scan_memory;                 /* RLIMIT_AS of a scanner, default 4G */
	/* [persons] name = account account ... */
	struct person *persons;
	size_t n_persons;
	/* every *.conf in profiles_dir, sorted by name */
	struct profile *profiles;
	size_t n_profiles;
};

/* Load the gate config at path and every profile it points to.  On error
 * returns a negative errno and sets *ret_error to a malloc'd
 * "file:line: message" (line omitted when it is about the whole file). */
int config_load(const char *path, struct gate_config **ret, char **ret_error);
void config_free(struct gate_config *c);

const struct profile *config_profile(const struct gate_config *c, const char *name);
/* The person an account belongs to: its [persons] entry or itself. */
const char *config_person_of(const struct gate_config *c, const char *account);

/* Does account (member of groups[0..ngroups)) match any entry of who? */
bool strlist_match_account(const struct strlist *who, const char *account,
			   char *const *groups, size_t ngroups);
void strlist_free(struct strlist *l);
