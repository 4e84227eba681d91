/* scanrun.c - scanner processes: start, sandbox, read, judge; see scanrun.h.
 *
 * Trust: a scanner's output is untrusted (it parsed artifact bytes).
 * Every line is bounded, parsed strictly and every field checked against
 * its type, range and vocabulary before it is believed; the verdict is
 * the monitor's, computed from the findings and the profile.  Both passes
 * must report the SHA-256 of exactly the stored bytes (I1).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dg-config.h"
#include "monitor.h"
#include "sandbox.h"
#include "scanproto.h"
#include "scanrun.h"
#include "util.h"

#define MAX_SCANS 2          /* transfers scanned at once */
#define RECORD_FINDINGS 200  /* findings kept in a `scanned` record */
#define READ_PER_EVENT (64 * 1024) /* scanner output read per loop event */
#define LINE_MAX_BYTES SCANPROTO_MAX_LINE

static const char *const pass_names[2] = { "raw", "decoded" };

struct scan_pass {
	uint64_t serial; /* epoll tag */
	struct scan_job *job;
	int idx;
	pid_t pid;
	int fd;
	char buf[LINE_MAX_BYTES + 1];
	size_t len;
	bool exited, eof;
	int status;
	/* what it said */
	uint64_t progress;
	bool versioned;   /* the version line came first */
	json_t *findings; /* array */
	json_t *summary;  /* object, NULL until seen */
	char error[256];  /* first protocol error, "" if none */
};

struct scan_job {
	struct scan_job *next;
	char id[33];
	uint64_t size;
	char sha256[65];
	time_t deadline;
	bool timed_out;
	struct scan_pass pass[2];
};

static void pass_kill(struct scan_pass *p)
{
	if (p->pid > 0 && !p->exited)
		kill(p->pid, SIGKILL);
}

static void pass_close(struct monitor *m, struct scan_pass *p)
{
	if (p->fd >= 0) {
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
		closep(&p->fd);
		p->fd = -1;
	}
	p->eof = true;
}

static void job_free(struct monitor *m, struct scan_job *j)
{
	struct scan_job **pp;

	for (pp = &m->scans; *pp && *pp != j; pp = &(*pp)->next)
		;
	if (*pp) {
		*pp = j->next;
		m->n_scans--;
	}
	for (int i = 0; i < 2; i++) {
		pass_kill(&j->pass[i]);
		pass_close(m, &j->pass[i]);
		json_decref(j->pass[i].findings);
		json_decref(j->pass[i].summary);
	}
	free(j);
}

static struct scan_job *job_find(struct monitor *m, const char *id)
{
	for (struct scan_job *j = m->scans; j; j = j->next)
		if (strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

/* ---- starting */

/* Between fork and exec: async-signal-safe calls only.  Order: namespaces
 * (need CAP_SYS_ADMIN), rlimits, then ids, no_new_privs and the bounding
 * set (sandbox_drop_to); the scanner installs seccomp itself, last. */
struct scan_args {
	char threads[16], bsize[32], bratio[32];
};

static _Noreturn void exec_scanner(const struct monitor *m, const struct scan_args *sa, int artifact, int out,
				   int idx, pid_t parent)
{
	const char *argv[12];
	int a = 0;
	sigset_t none;
	int null;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* stderr too is /dev/null: with RLIMIT_FSIZE 0 a write to a log file
	 * would kill the scanner (SIGXFSZ); it reports errors in its summary. */
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(null, 2) < 0 || dup2(artifact, 3) < 0)
		_exit(127);
	close_range(4, ~0U, 0);

	if (unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		_exit(125);
	/* Nothing mounted here propagates back; the scanner's seccomp filter
	 * forbids open, so no path is reachable at all. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(125);

	struct rlimit nofile = { 16, 16 }, fsize = { 0, 0 };
	struct rlimit cpu = { m->cfg->scan_timeout * (idx == 0 ? m->cfg->scan_threads : 1) + 5,
			      m->cfg->scan_timeout * (idx == 0 ? m->cfg->scan_threads : 1) + 10 };
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_FSIZE, &fsize) < 0 ||
	    setrlimit(RLIMIT_CPU, &cpu) < 0)
		_exit(125);
#if !DUMPGATE_SANITIZED
	/* ASan reserves terabytes of shadow memory: no RLIMIT_AS there. */
	struct rlimit as = { m->cfg->scan_memory, m->cfg->scan_memory };
	if (setrlimit(RLIMIT_AS, &as) < 0)
		_exit(125);
#endif
	if (sandbox_drop_to(m->scan_uid, m->scan_gid, parent) < 0)
		_exit(126);

	argv[a++] = "dumpgate-scan";
	argv[a++] = "--gate";
	argv[a++] = "--pass";
	argv[a++] = pass_names[idx];
	argv[a++] = "--threads";
	argv[a++] = sa->threads;
	argv[a++] = "--bomb-max-size";
	argv[a++] = sa->bsize;
	argv[a++] = "--bomb-max-ratio";
	argv[a++] = sa->bratio;
	argv[a] = NULL;
#if DUMPGATE_SANITIZED
	static char *const envp[] = { "ASAN_OPTIONS=detect_leaks=0", "UBSAN_OPTIONS=halt_on_error=1", NULL };
#else
	static char *const envp[] = { NULL };
#endif
	execve(m->cfg->scanner_program, (char *const *)argv, envp);
	_exit(127);
}

static int start_pass(struct monitor *m, struct scan_job *j, const struct profile *p, int idx)
{
	_cleanup_close_ int artifact = -1;
	struct scan_pass *sp = &j->pass[idx];
	int pfd[2];
	pid_t parent = getpid(), pid;
	int r;

	/* Its own open file description: the passes must not share an offset. */
	r = spool_open_ro(m->spool_dirfd, j->id, &artifact);
	if (r < 0)
		return r;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	/* formatted before fork: the child may only make async-signal-safe calls */
	struct scan_args sa;
	snprintf(sa.threads, sizeof(sa.threads), "%u", idx == 0 ? m->cfg->scan_threads : 1);
	snprintf(sa.bsize, sizeof(sa.bsize), "%llu", (unsigned long long)p->bomb_max_size);
	snprintf(sa.bratio, sizeof(sa.bratio), "%llu", (unsigned long long)p->bomb_max_ratio);
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (pid == 0)
		exec_scanner(m, &sa, artifact, pfd[1], idx, parent);
	close(pfd[1]);
	sp->pid = pid;
	sp->fd = pfd[0];
	if (fcntl(sp->fd, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	sp->serial = ++m->next_serial;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_TAG(EV_SCAN, sp->serial) };
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, sp->fd, &ev) < 0)
		return -errno;
	return 0;
}

static void fail_transfer(struct monitor *m, const char *id, const char *reason)
{
	json_t *d = json_pack("{s:s}", "reason", reason);
	if (monitor_record(m, "failed", id, NULL, d) == 0)
		log_warn("transfer %s failed: %s", id, reason);
	json_decref(d);
}

static void start_scan(struct monitor *m, struct transfer *t)
{
	_cleanup_close_ int artifact = -1;
	const struct profile *p = config_profile(m->cfg, t->profile);
	struct scan_job *j;
	char id[33];
	int r;

	memcpy(id, t->id, sizeof(id));
	if (!p) {
		fail_transfer(m, id, "its profile is no longer configured");
		return;
	}
	r = spool_open_ro(m->spool_dirfd, id, &artifact);
	if (r < 0) {
		char text[200];
		snprintf(text, sizeof(text), "the spool object cannot be opened: %s", strerror(-r));
		fail_transfer(m, id, text);
		return;
	}
	json_t *d = json_pack("{s:[s,s]}", "passes", "raw", "decoded");
	r = monitor_record(m, "scan_started", id, NULL, d);
	json_decref(d);
	if (r < 0)
		return;

	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	memcpy(j->id, id, sizeof(id));
	memcpy(j->sha256, t->sha256, sizeof(j->sha256));
	j->size = t->size;
	j->deadline = time(NULL) + (time_t)m->cfg->scan_timeout;
	for (int i = 0; i < 2; i++) {
		j->pass[i] = (struct scan_pass){ .job = j, .idx = i, .pid = -1, .fd = -1 };
		j->pass[i].findings = json_array();
	}
	j->next = m->scans;
	m->scans = j;
	m->n_scans++;
	for (int i = 0; i < 2; i++) {
		r = start_pass(m, j, p, i);
		if (r < 0) {
			char text[200];
			snprintf(text, sizeof(text), "cannot start the %s scanner: %s", pass_names[i], strerror(-r));
			job_free(m, j);
			fail_transfer(m, id, text);
			return;
		}
	}
	log_info("transfer %s: scanning (%s, %llu bytes)", id, p->name, (unsigned long long)j->size);
}

void scanrun_schedule(struct monitor *m)
{
	if (m->stopping)
		return;
	for (size_t i = 0; i < m->table.n && m->n_scans < MAX_SCANS; i++) {
		struct transfer *t = m->table.v[i];
		if ((t->state == TS_STORED || t->state == TS_SCANNING) && !job_find(m, t->id))
			start_scan(m, t); /* may change the table's states, never its order */
	}
}

/* ---- reading what a scanner says (checked by scanproto.c) */

static void pass_protocol_error(struct scan_pass *p, const char *what)
{
	if (!p->error[0])
		snprintf(p->error, sizeof(p->error), "%s", what);
	pass_kill(p);
}

static void handle_line(struct scan_pass *p, const char *line, size_t len)
{
	const char *bad = NULL;
	json_t *o = NULL;
	uint64_t progress = 0;

	if (p->error[0])
		return;
	if (p->summary) {
		pass_protocol_error(p, "output after the summary");
		return;
	}
	int kind = scanproto_parse_line(pass_names[p->idx], line, len, &o, &progress, &bad);
	if (!p->versioned && kind != SCANPROTO_VERSION_LINE && kind != SCANPROTO_BAD) {
		json_decref(o);
		pass_protocol_error(p, "no protocol version line first");
		return;
	}
	switch (kind) {
	case SCANPROTO_VERSION_LINE:
		if (p->versioned)
			bad = "a second version line";
		p->versioned = true;
		break;
	case SCANPROTO_PROGRESS:
		p->progress = progress;
		break;
	case SCANPROTO_SUMMARY:
		p->summary = TAKE_PTR(o);
		break;
	case SCANPROTO_FINDING:
		if (json_array_size(p->findings) >= SCANPROTO_MAX_FINDINGS)
			bad = "too many findings";
		else
			json_array_append(p->findings, o);
		break;
	default:
		break;
	}
	json_decref(o);
	if (bad)
		pass_protocol_error(p, bad);
}

static void try_finish(struct monitor *m, struct scan_job *j);

static void pass_read(struct monitor *m, struct scan_pass *p);

void scanrun_event(struct monitor *m, uint64_t serial)
{
	for (struct scan_job *j = m->scans; j; j = j->next)
		for (int i = 0; i < 2; i++)
			if (j->pass[i].serial == serial) {
				if (j->pass[i].fd >= 0)
					pass_read(m, &j->pass[i]);
				return;
			}
}

static void pass_read(struct monitor *m, struct scan_pass *p)
{
	struct scan_job *j = p->job;
	size_t budget = READ_PER_EVENT; /* then back to the loop: epoll comes again */

	for (; budget > 0;) {
		ssize_t n = read(p->fd, p->buf + p->len, LINE_MAX_BYTES + 1 - p->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			pass_protocol_error(p, "unreadable output");
			n = 0;
		}
		if (n == 0) {
			if (p->len > 0)
				pass_protocol_error(p, "output ends without a newline");
			pass_close(m, p);
			try_finish(m, j);
			return;
		}
		p->len += (size_t)n;
		budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
		char *nl;
		size_t start = 0;
		while ((nl = memchr(p->buf + start, '\n', p->len - start))) {
			handle_line(p, p->buf + start, (size_t)(nl - (p->buf + start)));
			start = (size_t)(nl - p->buf) + 1;
		}
		memmove(p->buf, p->buf + start, p->len - start);
		p->len -= start;
		if (p->len > LINE_MAX_BYTES) {
			pass_protocol_error(p, "an output line over 4096 bytes");
			p->len = 0;
		}
	}
}

bool scanrun_reaped(struct monitor *m, pid_t pid, int status)
{
	for (struct scan_job *j = m->scans; j; j = j->next)
		for (int i = 0; i < 2; i++)
			if (j->pass[i].pid == pid && !j->pass[i].exited) {
				j->pass[i].exited = true;
				j->pass[i].status = status;
				try_finish(m, j);
				return true;
			}
	return false;
}

/* Why this pass cannot be believed, or NULL. */
static const char *pass_failure(const struct scan_job *j, const struct scan_pass *p, char *buf, size_t n)
{
	const char *pass = pass_names[p->idx];
	int st = p->status;

	if (j->timed_out)
		snprintf(buf, n, "the %s scanner did not finish within the limit scan_timeout", pass);
	else if (p->error[0])
		snprintf(buf, n, "the %s scanner sent malformed output (%s)", pass, p->error);
	else if (WIFSIGNALED(st))
		snprintf(buf, n, "the %s scanner was killed by signal %d%s", pass, WTERMSIG(st),
			 WTERMSIG(st) == SIGSYS    ? " (seccomp: forbidden system call)"
			 : WTERMSIG(st) == SIGXCPU ? " (CPU time limit)"
						   : "");
	else if (!WIFEXITED(st) || WEXITSTATUS(st) > 1) {
		/* Its own error text stays in the gate's log: a scanner that
		 * parsed hostile bytes must not choose what the requester reads. */
		const char *e = p->summary ? json_string_value(json_object_get(p->summary, "error")) : NULL;
		if (e) {
			_cleanup_free_ char *esc = str_escape(e, 300);
			log_warn("transfer %s: the %s scanner reported: %s", j->id, pass, esc ? esc : "?");
		}
		snprintf(buf, n, "the %s scanner failed (exit status %d)", pass, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	} else if (!p->summary)
		snprintf(buf, n, "the %s scanner ended without a summary", pass);
	else if (strcmp(json_string_value(json_object_get(p->summary, "sha256")), j->sha256) != 0 ||
		 (uint64_t)json_integer_value(json_object_get(p->summary, "bytes")) != j->size)
		snprintf(buf, n, "the %s scanner read bytes whose SHA-256 differs from the stored artifact", pass);
	else if ((size_t)json_integer_value(json_object_get(p->summary, "findings")) != json_array_size(p->findings))
		snprintf(buf, n, "the %s scanner's summary does not match its findings", pass);
	else if ((WEXITSTATUS(st) == 0) != (json_array_size(p->findings) == 0) ||
		 strcmp(json_string_value(json_object_get(p->summary, "verdict")), WEXITSTATUS(st) ? "findings" : "clean"))
		snprintf(buf, n, "the %s scanner's verdict does not match its findings", pass);
	else
		return NULL;
	return buf;
}

/* Only a verified key is what its fingerprint says: an unverified
 * finding could pair a secret's private half with an allowlisted public
 * half, so it is never allowed whatever it claims. */
static bool allowlisted(const struct profile *p, json_t *f)
{
	const char *fp = json_string_value(json_object_get(f, "public_sha256"));
	if (!fp || !json_is_true(json_object_get(f, "verified")))
		return false;
	for (size_t i = 0; i < p->allowlist.n; i++)
		if (strcmp(p->allowlist.v[i], fp) == 0)
			return true;
	return false;
}

static int severity_of(json_t *f)
{
	static const char *const sevs[] = { "info", "medium", "high", "critical" };
	const char *s = json_string_value(json_object_get(f, "severity"));
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, sevs[i]) == 0)
			return i;
	return 3;
}

static void try_finish(struct monitor *m, struct scan_job *j)
{
	char why[400], id[33];
	struct transfer *t;
	const struct profile *p;
	bool blocked = false;

	for (int i = 0; i < 2; i++)
		if (!j->pass[i].exited || !j->pass[i].eof)
			return;
	memcpy(id, j->id, sizeof(id));
	t = transfer_find(&m->table, id);
	if (!t || t->state != TS_SCANNING) {
		job_free(m, j); /* withdrawn meanwhile: the result means nothing */
		return;
	}
	for (int i = 0; i < 2; i++) {
		if (pass_failure(j, &j->pass[i], why, sizeof(why))) {
			job_free(m, j);
			fail_transfer(m, id, why);
			return;
		}
	}

	p = config_profile(m->cfg, t->profile);
	json_t *all = json_array();
	size_t total = 0;
	for (int i = 0; i < 2; i++) {
		size_t k;
		json_t *f;
		json_array_foreach(j->pass[i].findings, k, f)
		{
			bool allowed = p && allowlisted(p, f);
			json_object_set_new(f, "allowed", json_boolean(allowed));
			/* the monitor names the file: no scanner-chosen text */
			json_object_set_new(f, "file", json_string("artifact"));
			if (!allowed && (!p || (p->block & SEV_MASK(severity_of(f)))))
				blocked = true;
			/* The verdict counts every finding; the record keeps the
			 * first RECORD_FINDINGS so it stays well under a log line. */
			if (total++ < RECORD_FINDINGS)
				json_array_append(all, f);
		}
	}
	json_t *passes = json_object();
	for (int i = 0; i < 2; i++)
		json_object_set_new(passes, pass_names[i],
				    json_pack("{s:O, s:O}", "bytes", json_object_get(j->pass[i].summary, "bytes"),
					      "seconds", json_object_get(j->pass[i].summary, "seconds")));
	json_t *d = json_pack("{s:s, s:o, s:I, s:o}", "verdict", blocked ? "blocked" : "clean", "findings", all,
			      "findings_total", (json_int_t)total, "passes", passes);
	job_free(m, j);
	int r = monitor_record(m, "scanned", id, NULL, d);
	json_decref(d);
	if (r == 0)
		log_info("transfer %s scanned: %s, %zu finding%s", id, blocked ? "blocked" : "clean", total,
			 total == 1 ? "" : "s");
	else if (r == -E2BIG || r == -EINVAL)
		/* A result that cannot be recorded must not be rescanned for
		 * ever: the transfer fails (closed). */
		fail_transfer(m, id, "the scan result could not be recorded");
	scanrun_schedule(m);
}

void scanrun_tick(struct monitor *m, time_t now)
{
	for (struct scan_job *j = m->scans; j; j = j->next)
		if (!j->timed_out && now >= j->deadline) {
			j->timed_out = true;
			pass_kill(&j->pass[0]);
			pass_kill(&j->pass[1]);
		}
	scanrun_schedule(m);
}

void scanrun_cancel(struct monitor *m, const char *id)
{
	struct scan_job *j = job_find(m, id);
	if (j)
		job_free(m, j); /* kills; the reaper ignores unknown pids */
}

json_t *scanrun_progress(struct monitor *m, const char *id)
{
	struct scan_job *j = job_find(m, id);
	if (!j)
		return NULL;
	return json_pack("{s:I, s:I}", "raw", (json_int_t)j->pass[0].progress, "decoded",
			 (json_int_t)j->pass[1].progress);
}

void scanrun_stop_all(struct monitor *m)
{
	while (m->scans)
		job_free(m, m->scans);
}
