/* test-config.c - the gate config and the profiles: every refusal has an
 * accepting twin (the corrected file loads with the parsed values).
 *
 * Files live in a mkdtemp directory: DIR/dumpgate.conf and DIR/profiles/.
 * A case edits one line of a known-good gate config or profile (t.conf);
 * expected errors are written with the DIR/ prefix stripped.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "filetype.h"
#include "tap.h"
#include "util.h"

/* Lines: 1 [gate], 2 state_dir, 3 profiles_dir, 4 admins_group,
 * 5 session_user, 6 scanner_user, 7 blank, 8 [limits], 9 max_connections,
 * 10 blank, 11 [persons], 12 alice. */
static const char gate_base[] = "[gate]\n"
				"state_dir = @DIR@/state\n"
				"profiles_dir = @DIR@/profiles\n"
				"admins_group = dumpgate-admins\n"
				"session_user = dumpgate-session\n"
				"scanner_user = dumpgate-scan\n"
				"\n"
				"[limits]\n"
				"max_connections = 100 ; inline comment\n"
				"\n"
				"[persons]\n"
				"alice = alice alice-adm\n";

/* Lines: 1 [profile], 2 requesters, ... 8 retention. */
static const char profile_base[] = "[profile]\n"
				   "requesters = alice @devs\n"
				   "approvers = bob carol\n"
				   "approvals = 2\n"
				   "max_size = 4G\n"
				   "types = elf-core minidump\n"
				   "expiry = 24h\n"
				   "retention = 30d\n";

static char dir[64];

#define S(x) ((x) ? (x) : "(null)")

/* ---- files */

static int write_file(const char *rel, const char *text, mode_t mode)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&path, "%s/%s", dir, rel) < 0)
		return -ENOMEM;
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write_full(fd, text, strlen(text)) < 0 || fchmod(fd, mode) < 0)
		return -EIO;
	return 0;
}

static void clear_profiles(void)
{
	_cleanup_free_ char *pdir = NULL;
	DIR *d;
	struct dirent *de;

	if (asprintf(&pdir, "%s/profiles", dir) < 0 || !(d = opendir(pdir)))
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "%s/%s", pdir, de->d_name) >= 0 && unlink(p) < 0)
				(void)rmdir(p);
		}
	closedir(d);
}

/* base with every "@DIR@" replaced, and the line(s) starting with `line`
 * replaced by repl (NULL: deleted); with line NULL, repl is appended. */
static char *edit(const char *base, const char *line, const char *repl)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	const char *s = base;
	bool done = false;

	if (!f)
		return NULL;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);
		if (!done && line && strncmp(s, line, strlen(line)) == 0) {
			/* line may span several lines: replace them all */
			const char *after = strchr(s + strlen(line), '\n');
			done = true;
			if (repl)
				fprintf(f, "%s\n", repl);
			s = after ? after + 1 : s + strlen(s);
			continue;
		} else {
			for (size_t i = 0; i < len; i++) {
				if (strncmp(s + i, "@DIR@", 5) == 0) {
					fputs(dir, f);
					i += 4;
				} else {
					fputc(s[i], f);
				}
			}
		}
		s += len;
	}
	if (!line && repl)
		fprintf(f, "%s\n", repl);
	fclose(f);
	return out;
}

/* Loads DIR/dumpgate.conf; returns the error with "DIR/" stripped. */
static int load(struct gate_config **ret, char **ret_error)
{
	_cleanup_free_ char *path = NULL, *err = NULL;
	size_t n = strlen(dir);
	int r;

	if (asprintf(&path, "%s/dumpgate.conf", dir) < 0)
		return -ENOMEM;
	*ret = NULL;
	*ret_error = NULL;
	r = config_load(path, ret, &err);
	if (r < 0 && err)
		*ret_error = strdup(strncmp(err, dir, n) == 0 && err[n] == '/' ? err + n + 1 : err);
	return r;
}

static int setup(const char *gate, const char *profile)
{
	_cleanup_free_ char *g = edit(gate, "\x01", NULL);
	int r;

	clear_profiles();
	r = write_file("dumpgate.conf", g, 0644);
	if (r >= 0 && profile)
		r = write_file("profiles/t.conf", profile, 0644);
	return r;
}

/* ---- the table */

#define CHECK(fn, expr)                                                                                  \
	static bool fn(const struct gate_config *c)                                                      \
	{                                                                                                \
		const struct profile *p = config_profile(c, "t");                                        \
		return p != NULL && (expr);                                                              \
	}

CHECK(check_base, p->approvals == 2 && p->max_size == (UINT64_C(4) << 30) &&
			  p->types == (FT_MASK(FT_ELF_CORE) | FT_MASK(FT_MINIDUMP)) && p->expiry == 86400 &&
			  p->retention == 30 * 86400ull && strcmp(p->destination, "t") == 0 &&
			  p->requesters.n == 2 && strcmp(p->requesters.v[1], "@devs") == 0 && p->approvers.n == 2 &&
			  strcmp(p->name, "t") == 0 && c->max_connections == 100)
CHECK(check_defaults, strcmp(c->socket_path, "/run/dumpgate/dumpgate.sock") == 0 &&
			      strstr(c->spool_dir, "/state/spool") &&
			      strstr(c->outbox_dir, "/state/outbox") && strstr(c->session_program, "/dumpgate-session") &&
			      c->session_program[0] == '/' && c->auditors_group == NULL &&
			      c->max_connections_per_account == 8 && c->quota_per_requester == (UINT64_C(64) << 30) &&
			      c->quota_total == (UINT64_C(512) << 30) && c->upload_idle_timeout == 300 &&
			      strcmp(c->admins_group, "dumpgate-admins") == 0 &&
			      strcmp(c->session_user, "dumpgate-session") == 0 && c->kernel_audit &&
			      strcmp(c->scanner_user, "dumpgate-scan") == 0 && c->scan_timeout == 300 &&
			      c->scan_threads == 1 && c->release_retry == 60)
CHECK(check_kaudit_off, !c->kernel_audit)
CHECK(check_socket, strcmp(c->socket_path, "/run/x.sock") == 0)
CHECK(check_maxconn200, c->max_connections == 200)
CHECK(check_maxconn65536, c->max_connections == 65536)
CHECK(check_peracct, c->max_connections_per_account == 1024)
CHECK(check_quota_total, c->quota_total == (UINT64_C(1) << 40))
CHECK(check_quota_req, c->quota_per_requester == (UINT64_C(1) << 30))
CHECK(check_idle, c->upload_idle_timeout == 86400)
CHECK(check_idle1, c->upload_idle_timeout == 1)
CHECK(check_retry5, c->release_retry == 5)
CHECK(check_state, strcmp(c->state_dir, "/var/lib/dg") == 0 && strcmp(c->spool_dir, "/var/lib/dg/spool") == 0 &&
			   strcmp(c->outbox_dir, "/var/lib/dg/outbox") == 0)
CHECK(check_spool, strcmp(c->spool_dir, "/srv/spool") == 0)
CHECK(check_auditors, strcmp(c->auditors_group, "dg_audit.ors-1") == 0)
CHECK(check_admins, strcmp(c->admins_group, "_admins") == 0)
CHECK(check_session_program, strcmp(c->session_program, "/usr/lib/x/dg-session") == 0)
CHECK(check_person_bob, c->n_persons == 2 && strcmp(config_person_of(c, "bob2"), "bob") == 0 &&
				strcmp(config_person_of(c, "alice-adm"), "alice") == 0 &&
				strcmp(config_person_of(c, "zed"), "zed") == 0)
CHECK(check_person_cont, c->n_persons == 2 && c->persons[1].accounts.n == 3 &&
				 strcmp(config_person_of(c, "b3"), "bob") == 0)
CHECK(check_approvals1, p->approvals == 1)
CHECK(check_approvals16, p->approvals == 16 && p->approvers.n == 3)
CHECK(check_approvals3, p->approvals == 3 && p->approvers.n == 3)
CHECK(check_size1, p->max_size == 1)
CHECK(check_types_all, p->types == (FT_MASK(_FT_MAX) - 1))
CHECK(check_types_xz, p->types == FT_MASK(FT_XZ))
CHECK(check_requesters3, p->requesters.n == 3 && strcmp(p->requesters.v[2], "@devs") == 0)
CHECK(check_approvers3, p->approvers.n == 3 && strcmp(p->approvers.v[2], "dave") == 0)
CHECK(check_dest, strcmp(p->destination, "crash-dumps_v1.0") == 0)
CHECK(check_expiry, p->expiry == 5400)
CHECK(check_retention0, p->retention == 0)

struct tcase {
	const char *what;
	bool profile;      /* edit the profile, else the gate config */
	const char *line;  /* prefix of the base line replaced; NULL: append */
	const char *bad;   /* must be refused (NULL: line deleted) */
	const char *error; /* exact message, "DIR/" stripped */
	const char *good;  /* must load */
	bool (*check)(const struct gate_config *c);
};

#define LONG60 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG180 LONG60 LONG60 LONG60

static const struct tcase cases[] = {
	/* gate config: structure */
	{ "unknown key", false, "session_user", "session_user = dumpgate-session\nsokcet = /run/x.sock",
	  "dumpgate.conf:6: unknown key \"sokcet\" in [gate]",
	  "session_user = dumpgate-session\nsocket = /run/x.sock", check_socket },
	{ "unknown key in [limits]", false, "max_connections", "max_conections = 200",
	  "dumpgate.conf:9: unknown key \"max_conections\" in [limits]", "max_connections = 200", check_maxconn200 },
	{ "unknown section", false, "[limits]", "[limit]", "dumpgate.conf:8: unknown section [limit]", "[limits]",
	  check_base },
	{ "repeated section", false, NULL, "[gate]", "dumpgate.conf:13: section [gate] repeated (first at line 1)",
	  "", check_base },
	{ "repeated key", false, "max_connections", "max_connections = 100\nmax_connections = 200",
	  "dumpgate.conf:10: key \"max_connections\" repeated (first at line 9)", "max_connections = 200",
	  check_maxconn200 },
	{ "key outside any section", false, "[gate]", "socket = /run/x.sock\n[gate]",
	  "dumpgate.conf:1: key \"socket\" outside of any section", "[gate]\nsocket = /run/x.sock", check_socket },
	{ "missing =", false, "max_connections", "max_connections 200",
	  "dumpgate.conf:9: expected \"key = value\", got \"max_connections 200\"", "max_connections: 200",
	  check_maxconn200 },
	{ "section without ]", false, "[limits]", "[limits", "dumpgate.conf:8: section header without \"]\"",
	  "[limits] ; the limits", check_base },
	{ "line too long", false, NULL, "#" LONG180 "aaaaaaaaaaaaaaaaaaa", "dumpgate.conf:13: line too long",
	  "#" LONG180 "aaaaaaaaaaaaaaaaaa", check_base },
	{ "continuation of a single value", false, "max_connections", "max_connections = 100\n    200",
	  "dumpgate.conf:10: continuation line \"200\" of key \"max_connections\": only lists may continue on "
	  "indented lines",
	  "max_connections = 200\n\n; comment", check_maxconn200 },
	/* gate config: keys and values */
	{ "missing state_dir", false, "state_dir", NULL, "dumpgate.conf: missing key \"state_dir\"",
	  "state_dir = /var/lib/dg", check_state },
	{ "missing profiles_dir", false, "profiles_dir", NULL, "dumpgate.conf: missing key \"profiles_dir\"",
	  "profiles_dir = @DIR@/profiles", check_defaults },
	{ "missing admins_group", false, "admins_group", NULL, "dumpgate.conf: missing key \"admins_group\"",
	  "admins_group = _admins", check_admins },
	{ "missing session_user", false, "session_user", NULL, "dumpgate.conf: missing key \"session_user\"",
	  "session_user = dumpgate-session", check_defaults },
	{ "missing scanner_user", false, "scanner_user", NULL, "dumpgate.conf: missing key \"scanner_user\"",
	  "scanner_user = dumpgate-scan", check_defaults },
	{ "relative state_dir", false, "state_dir", "state_dir = var/lib/dg",
	  "dumpgate.conf:2: bad value \"var/lib/dg\" for state_dir: expected an absolute path",
	  "state_dir = /var/lib/dg", check_state },
	{ "relative spool_dir", false, "state_dir", "state_dir = /x\nspool_dir = spool",
	  "dumpgate.conf:3: bad value \"spool\" for spool_dir: expected an absolute path",
	  "state_dir = /x\nspool_dir = /srv/spool", check_spool },
	{ "socket path too long", false, "state_dir", "state_dir = /x\nsocket = /" LONG60 LONG60,
	  "dumpgate.conf:3: bad value \"/" LONG60 LONG60 "\" for socket: expected an absolute path of at most 107 "
	  "bytes",
	  "state_dir = /var/lib/dg\nsocket = /run/x.sock", check_socket },
	{ "relative session_program", false, "session_user", "session_user = s\nsession_program = dg-session",
	  "dumpgate.conf:6: bad value \"dg-session\" for session_program: expected an absolute path",
	  "session_user = dumpgate-session\nsession_program = /usr/lib/x/dg-session", check_session_program },
	{ "bad group name", false, "admins_group", "admins_group = Admins",
	  "dumpgate.conf:4: bad value \"Admins\" for admins_group: expected a group name", "admins_group = _admins",
	  check_admins },
	{ "bad auditors group", false, "admins_group", "admins_group = a\nauditors_group = 1audit",
	  "dumpgate.conf:5: bad value \"1audit\" for auditors_group: expected a group name",
	  "admins_group = dumpgate-admins\nauditors_group = dg_audit.ors-1", check_auditors },
	{ "bad session user", false, "session_user", "session_user = dumpgate session",
	  "dumpgate.conf:5: bad value \"dumpgate session\" for session_user: expected a user name",
	  "session_user = dumpgate-session", check_defaults },
	{ "max_connections 0", false, "max_connections", "max_connections = 0",
	  "dumpgate.conf:9: bad value \"0\" for max_connections: must be from 1 to 65536", "max_connections = 65536",
	  check_maxconn65536 },
	{ "max_connections word", false, "max_connections", "max_connections = lots",
	  "dumpgate.conf:9: bad value \"lots\" for max_connections: expected an integer", "max_connections = 200",
	  check_maxconn200 },
	{ "max_connections overflow", false, "max_connections", "max_connections = 99999999999999999999",
	  "dumpgate.conf:9: bad value \"99999999999999999999\" for max_connections: too large",
	  "max_connections = 200", check_maxconn200 },
	{ "per-account over 1024", false, "max_connections", "max_connections_per_account = 1025",
	  "dumpgate.conf:9: bad value \"1025\" for max_connections_per_account: must be from 1 to 1024",
	  "max_connections = 100\nmax_connections_per_account = 1024", check_peracct },
	{ "quota_total bad size", false, "max_connections", "quota_total = 5X",
	  "dumpgate.conf:9: bad value \"5X\" for quota_total: expected a size like 512G",
	  "max_connections = 100\nquota_total = 1T", check_quota_total },
	{ "quota_per_requester 0", false, "max_connections", "quota_per_requester = 0",
	  "dumpgate.conf:9: bad value \"0\" for quota_per_requester: must be more than 0",
	  "max_connections = 100\nquota_per_requester = 1G", check_quota_req },
	{ "idle timeout over 1d", false, "max_connections", "upload_idle_timeout = 2d",
	  "dumpgate.conf:9: bad value \"2d\" for upload_idle_timeout: must be from 1s to 1d",
	  "max_connections = 100\nupload_idle_timeout = 1d", check_idle },
	{ "idle timeout 0s", false, "max_connections", "upload_idle_timeout = 0s",
	  "dumpgate.conf:9: bad value \"0s\" for upload_idle_timeout: must be from 1s to 1d",
	  "max_connections = 100\nupload_idle_timeout = 1s", check_idle1 },
	{ "idle timeout bad unit", false, "max_connections", "upload_idle_timeout = 5 min",
	  "dumpgate.conf:9: bad value \"5 min\" for upload_idle_timeout: expected a duration like 5m",
	  "max_connections = 100\nupload_idle_timeout = 1d", check_idle },
	{ "kernel_audit bad value", false, "session_user", "session_user = s\nkernel_audit = maybe",
	  "dumpgate.conf:6: bad value \"maybe\" for kernel_audit: expected required or off",
	  "session_user = dumpgate-session\nkernel_audit = off", check_kaudit_off },
	{ "future key in [gate]", false, "session_user", "session_user = s\nsigning_key = /k",
	  "dumpgate.conf:6: \"signing_key\" is not supported by this build yet", "session_user = dumpgate-session",
	  check_defaults },
	{ "future key signing_key", false, "session_user", "signing_key = /etc/dumpgate/key",
	  "dumpgate.conf:5: \"signing_key\" is not supported by this build yet", "session_user = dumpgate-session",
	  check_defaults },
	{ "scan_timeout over 1d", false, "max_connections", "scan_timeout = 2d",
	  "dumpgate.conf:9: bad value \"2d\" for scan_timeout: must be from 1s to 1d", "max_connections = 200",
	  check_maxconn200 },
	{ "scan_threads 0", false, "max_connections", "scan_threads = 0",
	  "dumpgate.conf:9: bad value \"0\" for scan_threads: must be from 1 to 64", "max_connections = 200",
	  check_maxconn200 },
	{ "scan_memory too small", false, "max_connections", "scan_memory = 1M",
	  "dumpgate.conf:9: bad value \"1M\" for scan_memory: must be at least 64M", "max_connections = 200",
	  check_maxconn200 },
	{ "otp_lockout too long", false, "max_connections", "otp_lockout = 2d",
	  "dumpgate.conf:9: bad value \"2d\" for otp_lockout: must be from 1s to 1d", "max_connections = 200",
	  check_maxconn200 },
	{ "max_refusals_per_minute 0", false, "max_connections", "max_refusals_per_minute = 0",
	  "dumpgate.conf:9: bad value \"0\" for max_refusals_per_minute: must be from 1 to 100000",
	  "max_connections = 200", check_maxconn200 },
	{ "release_retry over 1h", false, "max_connections", "release_retry = 2h",
	  "dumpgate.conf:9: bad value \"2h\" for release_retry: must be from 1s to 1h",
	  "max_connections = 100\nrelease_retry = 5s", check_retry5 },
	{ "otp_max_failures 0", false, "max_connections", "otp_max_failures = 0",
	  "dumpgate.conf:9: bad value \"0\" for otp_max_failures: must be from 1 to 1000", "max_connections = 200",
	  check_maxconn200 },
	{ "future key hook", false, "session_user", "hook = /usr/bin/notify",
	  "dumpgate.conf:5: \"hook\" is not supported by this build yet", "session_user = dumpgate-session",
	  check_defaults },
	/* gate config: [persons] */
	{ "bad person name", false, NULL, "Bob = bob",
	  "dumpgate.conf:13: bad person name \"Bob\": expected a name like [a-z_][a-z0-9_.-]{0,31}",
	  "bob = bob bob2", check_person_bob },
	{ "bad account in person", false, NULL, "bob = bob Bob2",
	  "dumpgate.conf:13: bad value \"Bob2\" in person \"bob\": expected an account name", "bob = bob bob2",
	  check_person_bob },
	{ "person repeated", false, NULL, "alice = a2",
	  "dumpgate.conf:13: person \"alice\" repeated (first at line 12)", "bob = bob,bob2", check_person_bob },
	{ "account in two persons", false, NULL, "bob = bob alice-adm",
	  "dumpgate.conf:13: account \"alice-adm\" belongs to person \"alice\" (line 12) and to person \"bob\"",
	  "bob = bob bob2", check_person_bob },
	{ "account twice in a person", false, NULL, "bob = bob bob",
	  "dumpgate.conf:13: \"bob\" listed twice in person \"bob\"", "bob = bob bob2", check_person_bob },
	{ "person without accounts", false, NULL, "bob =",
	  "dumpgate.conf:13: person \"bob\" lists no accounts", "bob =\n  b1, b2\n\tb3", check_person_cont },
	{ "account in two persons via continuation", false, NULL, "bob = b1\n  alice",
	  "dumpgate.conf:14: account \"alice\" belongs to person \"alice\" (line 12) and to person \"bob\"",
	  "bob = b1\n  b2 b3", check_person_cont },

	/* profiles: structure */
	{ "profile unknown key", true, "approvals", "aprovals = 2",
	  "profiles/t.conf:4: unknown key \"aprovals\" in [profile]", "approvals = 2", check_base },
	{ "profile repeated key", true, NULL, "approvals = 2",
	  "profiles/t.conf:9: key \"approvals\" repeated (first at line 4)", "; approvals = 2", check_base },
	{ "profile unknown section", true, "[profile]", "[profiles]", "profiles/t.conf:1: unknown section [profiles]",
	  "[profile]", check_base },
	{ "profile key before section", true, "[profile]", "destination = x\n[profile]",
	  "profiles/t.conf:1: key \"destination\" outside of any section", "[profile]\ndestination = crash-dumps_v1.0",
	  check_dest },
	{ "profile continuation of a single value", true, "expiry", "expiry = 24h\n  12h",
	  "profiles/t.conf:8: continuation line \"12h\" of key \"expiry\": only lists may continue on indented lines",
	  "expiry = 90m", check_expiry },
	{ "profile long line", true, "approvers", "approvers = " LONG180 "aaaaaaaa",
	  "profiles/t.conf:3: line too long", "approvers = bob,\n    carol, dave ; dave is on call",
	  check_approvers3 },
	/* profiles: missing keys */
	{ "missing requesters", true, "requesters", NULL, "profiles/t.conf: missing key \"requesters\"",
	  "requesters = alice @devs", check_base },
	{ "missing approvers", true, "approvers", NULL, "profiles/t.conf: missing key \"approvers\"",
	  "approvers = bob carol", check_base },
	{ "missing approvals", true, "approvals", NULL, "profiles/t.conf: missing key \"approvals\"",
	  "approvals = 1", check_approvals1 },
	{ "missing max_size", true, "max_size", NULL, "profiles/t.conf: missing key \"max_size\"", "max_size = 1",
	  check_size1 },
	{ "missing types", true, "types", NULL, "profiles/t.conf: missing key \"types\"", "types = xz", check_types_xz },
	{ "missing expiry", true, "expiry", NULL, "profiles/t.conf: missing key \"expiry\"", "expiry = 90m",
	  check_expiry },
	{ "missing retention", true, "retention", NULL, "profiles/t.conf: missing key \"retention\"",
	  "retention = 0", check_retention0 },
	/* profiles: values */
	{ "approvals 0", true, "approvals", "approvals = 0",
	  "profiles/t.conf:4: bad value \"0\" for approvals: must be from 1 to 16", "approvals = 1", check_approvals1 },
	{ "approvals 17", true, "approvers = bob carol\napprovals", "approvers = bob carol @oncall\napprovals = 17",
	  "profiles/t.conf:4: bad value \"17\" for approvals: must be from 1 to 16",
	  "approvers = bob carol @oncall\napprovals = 16", check_approvals16 },
	{ "approvals word", true, "approvals", "approvals = two",
	  "profiles/t.conf:4: bad value \"two\" for approvals: expected an integer", "approvals = 1",
	  check_approvals1 },
	{ "more approvals than accounts", true, "approvers = bob carol\napprovals", "approvers = bob carol\napprovals = 3",
	  "profiles/t.conf:4: approvals = 3 but only 2 approver accounts listed",
	  "approvers = bob carol dave\napprovals = 3", check_approvals3 },
	{ "more approvals than the one account", true, "approvers", "approvers = bob",
	  "profiles/t.conf:4: approvals = 2 but only 1 approver account listed", "approvers = bob @oncall", NULL },
	{ "max_size bad", true, "max_size", "max_size = 4X",
	  "profiles/t.conf:5: bad value \"4X\" for max_size: expected a size like 4G", "max_size = 4G", check_base },
	{ "max_size 0", true, "max_size", "max_size = 0",
	  "profiles/t.conf:5: bad value \"0\" for max_size: must be more than 0", "max_size = 1", check_size1 },
	{ "unknown type", true, "types", "types = elf-core pdf",
	  "profiles/t.conf:6: unknown type \"pdf\" in types (known: binary, text, elf-core, minidump, zstd, xz, gzip, "
	  "lz4)",
	  "types = binary,text,elf-core,minidump,zstd,xz,gzip,lz4", check_types_all },
	{ "type twice", true, "types", "types = xz xz", "profiles/t.conf:6: \"xz\" listed twice in types",
	  "types = xz", check_types_xz },
	{ "types empty", true, "types", "types =",
	  "profiles/t.conf:6: empty value for types: expected at least one of the artifact types", "types =\n xz",
	  check_types_xz },
	{ "bad requester", true, "requesters", "requesters = alice Bob",
	  "profiles/t.conf:2: bad value \"Bob\" in requesters: expected an account or @group",
	  "requesters = alice, bob , @devs", check_requesters3 },
	{ "bare @ requester", true, "requesters", "requesters = alice @",
	  "profiles/t.conf:2: bad value \"@\" in requesters: expected an account or @group",
	  "requesters = alice bob @devs", check_requesters3 },
	{ "bad approver group", true, "approvers", "approvers = bob @On-Call",
	  "profiles/t.conf:3: bad value \"@On-Call\" in approvers: expected an account or @group",
	  "approvers = bob carol dave", check_approvers3 },
	{ "approver twice", true, "approvers", "approvers = bob bob",
	  "profiles/t.conf:3: \"bob\" listed twice in approvers", "approvers = bob carol\n  dave", check_approvers3 },
	{ "requesters empty", true, "requesters", "requesters =",
	  "profiles/t.conf:2: empty value for requesters: expected accounts or @groups",
	  "requesters =\n  alice bob\n  @devs", check_requesters3 },
	{ "expiry 0", true, "expiry", "expiry = 0",
	  "profiles/t.conf:7: bad value \"0\" for expiry: must be from 1s to 365d", "expiry = 90m", check_expiry },
	{ "expiry over a year", true, "expiry", "expiry = 366d",
	  "profiles/t.conf:7: bad value \"366d\" for expiry: must be from 1s to 365d", "expiry = 90m", check_expiry },
	{ "expiry word", true, "expiry", "expiry = soon",
	  "profiles/t.conf:7: bad value \"soon\" for expiry: expected a duration like 24h", "expiry = 5400s",
	  check_expiry },
	{ "retention negative", true, "retention", "retention = -1d",
	  "profiles/t.conf:8: bad value \"-1d\" for retention: expected a duration like 30d", "retention = 0s",
	  check_retention0 },
	{ "destination with slash", true, NULL, "destination = ../x",
	  "profiles/t.conf:9: bad value \"../x\" for destination: expected a single path component of [A-Za-z0-9._-]",
	  "destination = crash-dumps_v1.0", check_dest },
	{ "destination ..", true, NULL, "destination = ..",
	  "profiles/t.conf:9: bad value \"..\" for destination: expected a single path component of [A-Za-z0-9._-]",
	  "destination = crash-dumps_v1.0", check_dest },
	{ "destination with space", true, NULL, "destination = a b",
	  "profiles/t.conf:9: bad value \"a b\" for destination: expected a single path component of [A-Za-z0-9._-]",
	  "destination = crash-dumps_v1.0", check_dest },
	/* profiles: features not built yet */
	{ "future rules", true, NULL, "rules = default", "profiles/t.conf:9: \"rules\" is not supported by this build yet",
	  "; rules = default", check_base },
	{ "allowlist not hex", true, NULL, "allowlist = x",
	  "profiles/t.conf:9: bad value \"x\" in allowlist: expected public key SHA-256 fingerprints (64 lowercase hex)",
	  "allowlist = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", check_base },
	{ "block unknown severity", true, NULL, "block = all",
	  "profiles/t.conf:9: unknown severity \"all\" in block (known: critical, high, medium, info)",
	  "block = critical high medium", check_base },
	{ "block without high", true, NULL, "block = critical",
	  "profiles/t.conf:9: block must include critical and high: private-key findings cannot be switched off",
	  "block = critical high", check_base },
	{ "future redact", true, NULL, "redact = bearer",
	  "profiles/t.conf:9: \"redact\" is not supported by this build yet", "", check_base },
	{ "future allowed_hours", true, NULL, "allowed_hours = 9-17",
	  "profiles/t.conf:9: \"allowed_hours\" is not supported by this build yet", "", check_base },
	{ "future rate_limit", true, NULL, "rate_limit = 10/d",
	  "profiles/t.conf:9: \"rate_limit\" is not supported by this build yet", "", check_base },
	{ "future yara", true, NULL, "yara = /etc/rules.yar",
	  "profiles/t.conf:9: \"yara\" is not supported by this build yet", "", check_base },
	{ "bomb_max_size too small", true, NULL, "bomb_max_size = 1K",
	  "profiles/t.conf:9: bad value \"1K\" for bomb_max_size: must be at least 1M", "bomb_max_size = 64G",
	  check_base },
	{ "bomb_max_ratio 1", true, NULL, "bomb_max_ratio = 1",
	  "profiles/t.conf:9: bad value \"1\" for bomb_max_ratio: must be from 2 to 1000000", "bomb_max_ratio = 100",
	  check_base },
	{ "future require_provenance", true, NULL, "require_provenance = yes",
	  "profiles/t.conf:9: \"require_provenance\" is not supported by this build yet", "", check_base },
};

static void run_case(const struct tcase *t)
{
	_cleanup_free_ char *bad = NULL, *good = NULL, *err = NULL;
	struct gate_config *c = NULL;
	const char *base = t->profile ? profile_base : gate_base;
	int r;

	bad = edit(base, t->line, t->bad);
	good = edit(base, t->line, t->good);
	if (!bad || !good || setup(t->profile ? gate_base : bad, t->profile ? bad : profile_base) < 0) {
		ok(0, "%s: setup", t->what);
		return;
	}
	r = load(&c, &err);
	if (!ok(r < 0 && c == NULL && err && strcmp(err, t->error) == 0, "%s: refused", t->what))
		diag("r=%d got  \"%s\"\n# want \"%s\"", r, err ? err : "(null)", t->error);
	config_free(c);
	c = NULL;
	free(err);
	err = NULL;

	if (setup(t->profile ? gate_base : good, t->profile ? good : profile_base) < 0) {
		ok(0, "%s: setup", t->what);
		return;
	}
	r = load(&c, &err);
	if (!ok(r == 0 && c && (!t->check || t->check(c)), "%s: corrected file accepted", t->what))
		diag("r=%d error \"%s\"", r, err ? err : "(null)");
	config_free(c);
}

/* ---- files, modes, owners */

static void refused(int want_r, const char *want, const char *what)
{
	_cleanup_free_ char *err = NULL;
	struct gate_config *c = NULL;
	int r = load(&c, &err);

	if (!ok(r == want_r && !c && err && strcmp(err, want) == 0, "%s", what))
		diag("r=%d got \"%s\" want \"%s\"", r, S(err), want);
	config_free(c);
}

/* Loads and returns the config, or NULL after a failed test line. */
static struct gate_config *accepted(const char *what)
{
	_cleanup_free_ char *err = NULL;
	struct gate_config *c = NULL;
	int r = load(&c, &err);

	if (!ok(r == 0 && c, "%s", what))
		diag("r=%d error \"%s\"", r, S(err));
	return c;
}

static void test_modes(void)
{
	_cleanup_free_ char *pdir = NULL, *link = NULL, *sub = NULL, *t = NULL, *g = NULL, *gtext = NULL;
	struct gate_config *c = NULL;

	if (asprintf(&pdir, "%s/profiles", dir) < 0 || asprintf(&link, "%s/profiles/l.conf", dir) < 0 ||
	    asprintf(&sub, "%s/profiles/sub.conf", dir) < 0 || asprintf(&t, "%s/profiles/t.conf", dir) < 0 ||
	    asprintf(&g, "%s/dumpgate.conf", dir) < 0 || !(gtext = edit(gate_base, "\x01", NULL)))
		return;
	setup(gate_base, profile_base);

	write_file("profiles/t.conf", profile_base, 0664);
	refused(-EPERM, "profiles/t.conf: writable by group or others (mode 0664)", "group-writable profile refused");
	write_file("profiles/t.conf", profile_base, 0646);
	refused(-EPERM, "profiles/t.conf: writable by group or others (mode 0646)", "world-writable profile refused");
	write_file("profiles/t.conf", profile_base, 0644);
	c = accepted("0644 profile accepted");
	ok(c && config_profile(c, "t"), "0644 profile loaded");
	config_free(TAKE_PTR(c));

	chmod(pdir, 0775);
	refused(-EPERM, "profiles: writable by group or others (mode 0775)", "group-writable profiles_dir refused");
	chmod(pdir, 0755);
	config_free(accepted("0755 profiles_dir accepted"));

	write_file("dumpgate.conf", gtext, 0666);
	refused(-EPERM, "dumpgate.conf: writable by group or others (mode 0666)", "world-writable gate config refused");
	write_file("dumpgate.conf", gtext, 0600);
	config_free(accepted("0600 gate config accepted"));

	/* Symbolic links are refused, other non-profile entries ignored. */
	ok(symlink("t.conf", link) == 0, "symlink created");
	refused(-ELOOP, "profiles/l.conf: is a symbolic link (refused)", "symlinked profile refused");
	unlink(link);
	write_file("profiles/README", "not a profile", 0644);
	write_file("profiles/t.conf.dpkg-old", "[junk", 0644);
	write_file("profiles/.t2.conf", "[junk", 0644);
	mkdir(sub, 0755);
	c = accepted("non-profile files and directories ignored");
	ok(c && c->n_profiles == 1, "only t.conf loaded");
	config_free(TAKE_PTR(c));
	write_file("profiles/Crash.conf", profile_base, 0644);
	refused(-EINVAL, "profiles/Crash.conf: bad profile name \"Crash\": expected [a-z0-9][a-z0-9_-]{0,63}",
		"badly named profile refused");

	/* Sorted by name, whatever the directory order. */
	setup(gate_base, profile_base);
	write_file("profiles/b.conf", profile_base, 0644);
	write_file("profiles/0a.conf", profile_base, 0644);
	write_file("profiles/a_b-c.conf", "[profile]\nrequesters = x\napprovers = y\napprovals = 1\nmax_size = 1K\n"
					   "types = text\nexpiry = 1h\nretention = 1d\ndestination = Logs\n", 0644);
	c = accepted("four profiles accepted");
	ok(c && c->n_profiles == 4 && strcmp(c->profiles[0].name, "0a") == 0 &&
		   strcmp(c->profiles[1].name, "a_b-c") == 0 && strcmp(c->profiles[2].name, "b") == 0 &&
		   strcmp(c->profiles[3].name, "t") == 0 && strcmp(c->profiles[1].destination, "Logs") == 0 &&
		   strstr(c->profiles[1].file, "/profiles/a_b-c.conf") && config_profile(c, "nope") == NULL,
	   "profiles loaded sorted by name");
	config_free(TAKE_PTR(c));

	/* Owners: root or the running uid. */
	if (geteuid() != 0) {
		ok(1, "# SKIP owner checks need root to chown");
		return;
	}
	setup(gate_base, profile_base);
	ok(chown(t, 1000, 0) == 0, "profile given to uid 1000");
	refused(-EPERM, "profiles/t.conf: owned by uid 1000, expected root", "profile owned by uid 1000 refused");
	ok(chown(t, 0, 1000) == 0, "profile given back to root, group 1000");
	config_free(accepted("root-owned profile of another group accepted"));
	ok(chown(pdir, 1000, 0) == 0, "profiles_dir given to uid 1000");
	refused(-EPERM, "profiles: owned by uid 1000, expected root", "profiles_dir owned by uid 1000 refused");
	ok(chown(pdir, 0, 0) == 0 && chown(g, 1000, 1000) == 0, "gate config given to uid 1000");
	refused(-EPERM, "dumpgate.conf: owned by uid 1000, expected root", "gate config owned by uid 1000 refused");
	ok(chown(g, 0, 0) == 0, "gate config given back to root");
	config_free(accepted("root-owned gate config accepted"));
}

static void test_gate_symlink_and_missing(void)
{
	_cleanup_free_ char *g = NULL, *real = NULL;

	setup(gate_base, profile_base);
	if (asprintf(&g, "%s/dumpgate.conf", dir) < 0 || asprintf(&real, "%s/real.conf", dir) < 0)
		return;
	ok(rename(g, real) == 0 && symlink("real.conf", g) == 0, "gate config made a symlink");
	refused(-ELOOP, "dumpgate.conf: is a symbolic link (refused)", "symlinked gate config refused");
	unlink(g);
	refused(-ENOENT, "dumpgate.conf: cannot open: No such file or directory", "missing gate config refused");
	ok(rename(real, g) == 0, "gate config back in place");
	config_free(accepted("regular gate config accepted"));

	/* A NUL byte cannot be written in a C string table. */
	{
		_cleanup_close_ int fd = open(g, O_WRONLY | O_APPEND | O_CLOEXEC);
		ok(fd >= 0 && write(fd, "; x\0y\n", 6) == 6, "NUL appended");
	}
	refused(-EINVAL, "dumpgate.conf:13: NUL byte in line", "NUL byte refused");
}

/* ---- lookups */

static void test_match_account(void)
{
	char *entries[] = { "alice", "@oncall" };
	struct strlist who = { entries, 2 };
	char *groups_on[] = { "users", "oncall" };
	char *groups_off[] = { "users", "oncall-2", "alice" };

	ok(strlist_match_account(&who, "alice", NULL, 0), "plain account matches");
	ok(!strlist_match_account(&who, "alice2", NULL, 0), "other account does not match");
	ok(!strlist_match_account(&who, "alic", groups_off, 3), "prefix of an account does not match");
	ok(strlist_match_account(&who, "bob", groups_on, 2), "member of @oncall matches");
	ok(!strlist_match_account(&who, "bob", groups_off, 3), "non-member of @oncall does not match");
	ok(!strlist_match_account(&who, "oncall", NULL, 0), "account named like the group does not match");
	{
		char *only_group[] = { "@alice" };
		struct strlist g = { only_group, 1 };
		ok(!strlist_match_account(&g, "alice", NULL, 0), "@alice is a group, not the account alice");
	}
	{
		struct strlist empty = { NULL, 0 };
		ok(!strlist_match_account(&empty, "alice", groups_on, 2), "empty list matches nobody");
	}
}

static void test_persons(void)
{
	_cleanup_free_ char *err = NULL, *g = edit(gate_base, NULL, "bob = bob, bob-adm\n  bob.ops\nroot = root");
	struct gate_config *c = NULL;

	if (!g || setup(gate_base, profile_base) < 0 || write_file("dumpgate.conf", g, 0644) < 0) {
		ok(0, "persons setup");
		return;
	}
	if (!ok(load(&c, &err) == 0, "persons loaded"))
		diag("%s", S(err));
	if (!c)
		return;
	ok(c->n_persons == 3 && strcmp(c->persons[1].name, "bob") == 0 && c->persons[1].accounts.n == 3,
	   "person bob has three accounts");
	ok(strcmp(config_person_of(c, "bob-adm"), "bob") == 0 && strcmp(config_person_of(c, "bob.ops"), "bob") == 0 &&
		   strcmp(config_person_of(c, "bob"), "bob") == 0,
	   "bob's accounts join into person bob");
	ok(strcmp(config_person_of(c, "alice-adm"), "alice") == 0, "alice-adm is alice");
	ok(strcmp(config_person_of(c, "alice-adm"), config_person_of(c, "bob-adm")) != 0, "alice is not bob");
	ok(strcmp(config_person_of(c, "carol"), "carol") == 0, "an unmapped account is its own person");
	ok(strcmp(config_person_of(c, "bob-ad"), "bob-ad") == 0, "no prefix matching");
	config_free(c);
}

/* ---- the shipped example configuration */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	if (getdelim(&s, &n, '\0', f) < 0) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static char *source_dir(void)
{
	const char *env = getenv("DG_SRC");
	char *s = NULL;

	if (env)
		return strdup(env);
	/* __FILE__ is relative to the build directory, where meson runs tests. */
	s = realpath(__FILE__, NULL);
	if (!s && __FILE__[0] != '/') {
		/* Run by hand elsewhere: the build root is two up from us. */
		_cleanup_free_ char *exe = realpath("/proc/self/exe", NULL), *alt = NULL;
		char *slash = exe ? strrchr(exe, '/') : NULL;
		if (slash) {
			*slash = '\0';
			if (asprintf(&alt, "%s/../%s", exe, __FILE__) >= 0)
				s = realpath(alt, NULL);
		}
	}
	for (int i = 0; s && i < 3; i++) {
		char *slash = strrchr(s, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return s;
}

static void test_shipped(void)
{
	static const char *const shipped[] = { "crashdump", "logs", "minidump" };
	_cleanup_free_ char *src = source_dir(), *gpath = NULL, *gtext = NULL, *pdir = NULL, *err = NULL;
	struct gate_config *c = NULL;
	size_t n_copied = 0;

	if (!src || asprintf(&gpath, "%s/profiles/dumpgate.conf", src) < 0 || !(gtext = slurp(gpath))) {
		ok(0, "shipped profiles/dumpgate.conf found (set DG_SRC to the source tree)");
		return;
	}
	if (asprintf(&pdir, "%s/profiles", dir) < 0)
		return;
	clear_profiles();
	{
		/* Point profiles_dir at the copy. */
		const char *at = strstr(gtext, "\nprofiles_dir = /etc/dumpgate/profiles\n");
		_cleanup_free_ char *g = NULL;
		ok(at != NULL, "shipped config sets profiles_dir = /etc/dumpgate/profiles");
		if (!at || asprintf(&g, "%.*s\nprofiles_dir = %s\n%s", (int)(at - gtext), gtext, pdir,
				    at + strlen("\nprofiles_dir = /etc/dumpgate/profiles\n")) < 0)
			return;
		write_file("dumpgate.conf", g, 0644);
	}
	/* Every shipped profile: each .conf in profiles/ but the gate config. */
	{
		_cleanup_free_ char *sdir = NULL;
		struct dirent *de;
		DIR *d = NULL;
		if (asprintf(&sdir, "%s/profiles", src) < 0 || !(d = opendir(sdir)))
			return;
		while ((de = readdir(d))) {
			_cleanup_free_ char *from = NULL, *to = NULL, *text = NULL;
			size_t n = strlen(de->d_name);
			if (n <= 5 || strcmp(de->d_name + n - 5, ".conf") != 0 || strcmp(de->d_name, "dumpgate.conf") == 0)
				continue;
			if (asprintf(&from, "%s/%s", sdir, de->d_name) < 0 || asprintf(&to, "profiles/%s", de->d_name) < 0)
				break;
			text = slurp(from);
			ok(text && write_file(to, text, 0644) == 0, "copied shipped profile %s", de->d_name);
			n_copied++;
		}
		closedir(d);
	}
	c = accepted("shipped gate config and profiles load");
	if (!c)
		return;
	ok(c->n_profiles == n_copied, "all %zu shipped profiles loaded", n_copied);
	for (size_t i = 0; i < ELEMENTSOF(shipped); i++)
		ok(config_profile(c, shipped[i]) != NULL, "profile %s present", shipped[i]);
	ok(strcmp(c->state_dir, "/var/lib/dumpgate") == 0 && strcmp(c->socket_path, "/run/dumpgate/dumpgate.sock") == 0 &&
		   strcmp(c->admins_group, "dumpgate-admins") == 0 && c->auditors_group &&
		   strcmp(c->auditors_group, "dumpgate-auditors") == 0 &&
		   strcmp(c->session_user, "dumpgate-session") == 0 && c->n_persons >= 1,
	   "shipped gate config values");
	config_free(c);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)remove(path);
	return 0;
}

int main(void)
{
	_cleanup_free_ char *pdir = NULL;

	umask(022);
	snprintf(dir, sizeof(dir), "/tmp/test-config.XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0 || asprintf(&pdir, "%s/profiles", dir) < 0 || mkdir(pdir, 0755) < 0) {
		ok(0, "temporary directory");
		return tap_done();
	}
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		run_case(&cases[i]);
	test_modes();
	test_gate_symlink_and_missing();
	test_match_account();
	test_persons();
	test_shipped();
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
