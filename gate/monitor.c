/* monitor.c - the monitor's event loop, its children and its records.
 *
 * Trust: everything that arrives on a child's socket comes from a process
 * that parses client bytes and may be compromised.  It is decoded with the
 * typed getters in msg.h and checked against the child's state in
 * requests.c; anything unexpected ends the child.  The client's identity
 * comes from SO_PEERCRED read here, never from the child.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "dg-config.h"
#include "monitor.h"
#include "proto.h"
#include "releaserun.h"
#include "requests.h"
#include "sandbox.h"
#include "scanrun.h"
#include "signkey.h"
#include "session.h"
#include "util.h"

#define TICK_MS 250
#define MAX_GROUPS 256

/* epoll data: small tags for the fixed fds, child pointers otherwise. */
enum { TAG_LISTEN = 1, TAG_SIGNAL, TAG_TIMER, TAG_JOB, TAG_MAX };

int monitor_record(struct monitor *m, const char *event, const char *transfer,
		   const struct audit_actor *actor, json_t *details)
{
	json_t *rec = NULL;
	int r;

	/* Only gate_stopped has no details: a NULL here is a json_pack that
	 * failed (invalid UTF-8 from a child, out of memory), and a record
	 * without its details would not replay. */
	if (!details && strcmp(event, "gate_stopped") != 0) {
		log_err("record \"%s\" has no details (invalid text or out of memory); the change does not take effect",
			event);
		return -EINVAL;
	}
	r = audit_append(m->audit, event, transfer, actor, details, NULL, &rec);
	if (r < 0) {
		log_err("cannot append \"%s\" to the audit log: %s; the change does not take effect",
			event, strerror(-r));
		/* A log whose tail is unknown takes no more records: a gate
		 * that can record nothing must not keep serving. */
		if (audit_broken(m->audit) && !m->stopping) {
			log_err("the audit log could not be restored after a failed write; stopping the gate");
			m->stopping = true;
		}
		return r;
	}
	r = transfer_apply(&m->table, rec);
	if (r == 0)
		r = tokens_apply(&m->tokens, rec);
	json_decref(rec);
	if (r < 0) {
		/* The record is in the log but the table refused it: a bug.
		 * Stop rather than run with a state the log does not show. */
		log_err("internal error: record \"%s\" does not apply to the transfer table", event);
		abort();
	}
	if (transfer)
		requests_wake_waiters(m, transfer);
	return 0;
}

static int replay_cb(json_t *record, void *userdata)
{
	struct monitor *m = userdata;
	int r = transfer_apply(&m->table, record);

	if (r == 0)
		r = tokens_apply(&m->tokens, record);
	/* which signing key the gate last said it runs with */
	json_t *ev = json_object_get(record, "event");
	if (r == 0 && json_is_string(ev) && strcmp(json_string_value(ev), "gate_started") == 0) {
		const char *fp = json_string_value(json_object_get(json_object_get(record, "details"),
								  "signing_key_sha256"));
		if (fp && strlen(fp) == 64)
			memcpy(m->recorded_key_sha256, fp, 65);
	}
	if (r < 0) {
		json_t *seq = json_object_get(record, "seq");
		log_err("audit log record seq %lld (event \"%s\") does not fit the rebuilt state; refusing to start",
			(long long)json_integer_value(seq), json_string_value(ev) ? json_string_value(ev) : "?");
	}
	return r;
}

static int remove_orphans(struct monitor *m)
{
	int dfd = dup(m->spool_dirfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;

	if (!d) {
		closep(&dfd);
		log_err("cannot read the spool directory: %s", strerror(errno));
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		char id[33];
		const struct transfer *t;
		size_t n = strlen(de->d_name);

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* <id> is kept when its transfer is stored (or later) and not
		 * purged; <id>.part never survives a restart */
		t = NULL;
		bool part = n == 37 && strcmp(de->d_name + 32, ".part") == 0;
		if (n != 32 && !part)
			continue; /* not a name the gate makes: never touched */
		memcpy(id, de->d_name, 32);
		id[32] = '\0';
		if (!transfer_id_valid(id))
			continue;
		t = part ? NULL : transfer_find(&m->table, id);
		if (t && (t->state == TS_SUBMITTED || t->purged))
			t = NULL;
		if (t)
			continue;
		_cleanup_free_ char *esc = str_escape(de->d_name, 64);
		if (unlinkat(m->spool_dirfd, de->d_name, 0) < 0)
			log_warn("cannot remove %s from the spool: %s", esc ? esc : "?", strerror(errno));
		else
			log_info("removed %s from the spool: no transfer owns it", esc ? esc : "?");
	}
	closedir(d);
	fsync(m->spool_dirfd);
	return 0;
}

int monitor_recover(struct monitor *m)
{
	int r;

	r = audit_replay(m->audit, replay_cb, m);
	if (r < 0)
		return r;

	/* An upload that was running when the gate stopped never reached
	 * `stored`: its client was never told it succeeded.  Cancel the
	 * intent (I4) and remove what the copy left behind (I6). */
	for (size_t i = 0; i < m->table.n;) {
		struct transfer *t = m->table.v[i];
		if (t->state != TS_SUBMITTED) {
			i++;
			continue;
		}
		char id[33];
		memcpy(id, t->id, sizeof(id));
		json_t *d = json_pack("{s:s, s:I}", "reason", "the gate stopped during the upload",
				      "intent_seq", (json_int_t)t->submit_seq);
		r = spool_remove(m->spool_dirfd, id);
		if (r < 0) {
			json_decref(d);
			log_err("cannot remove the partial spool object of %s: %s", id, strerror(-r));
			return r;
		}
		r = monitor_record(m, "aborted", id, NULL, d);
		json_decref(d);
		if (r < 0)
			return r;
		log_info("transfer %s: upload interrupted by a restart; aborted", id);
		/* the table shrank: do not advance i */
	}

	/* Purged transfers must not have an artifact left (a crash between
	 * the record and the unlink). */
	for (size_t i = 0; i < m->table.n; i++)
		if (m->table.v[i]->purged)
			spool_remove(m->spool_dirfd, m->table.v[i]->id);

	/* A release marker outlives its release only when the gate stopped
	 * between recording the end and removing it. */
	{
		int dfd = dup(m->releasing_dirfd);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		struct dirent *de;
		if (!d) {
			closep(&dfd);
			log_err("cannot read %s/releasing: %s", m->cfg->state_dir, strerror(errno));
			return -errno;
		}
		while ((de = readdir(d))) {
			const struct transfer *t = transfer_find(&m->table, de->d_name);
			if (de->d_name[0] == '.' || (t && t->state == TS_RELEASING))
				continue;
			(void)unlinkat(m->releasing_dirfd, de->d_name, 0);
		}
		closedir(d);
	}

	/* No token key outlives its token. */
	unsigned swept = 0;
	r = tokens_sweep(m->tokens_dirfd, &m->tokens, &swept);
	if (r < 0) {
		log_err("cannot remove the keys of revoked tokens from %s/tokens: %s", m->cfg->state_dir, strerror(-r));
		return r;
	}
	if (swept)
		log_info("removed %u file(s) from %s/tokens that belong to no active token", swept, m->cfg->state_dir);

	/* Anything else in the spool that no live transfer owns was left by a
	 * crash between creating a file and recording its intent (I6). */
	r = remove_orphans(m);
	if (r < 0)
		return r;

	/* Every release was signed with the key the log names: a different
	 * key (swapped files, a state directory restored in parts) would
	 * sign releases nobody can tell from forged ones. */
	char fp[65];
	r = signkey_fingerprint(m->signkey, fp);
	if (r < 0) {
		log_err("cannot compute the signing key's fingerprint");
		return r;
	}
	if (m->recorded_key_sha256[0] && strcmp(fp, m->recorded_key_sha256) != 0) {
		log_err("the signing key in %s/%s (SHA-256 %s) is not the one the audit log records (%s); restore that key",
			m->cfg->state_dir, SIGNKEY_PRIVATE_FILE, fp, m->recorded_key_sha256);
		return -EKEYREJECTED;
	}
	json_t *d = json_pack("{s:s, s:i, s:i, s:s}", "version", DUMPGATE_VERSION, "pid", (int)getpid(),
			      "profiles", (int)m->cfg->n_profiles, "signing_key_sha256", fp);
	r = monitor_record(m, "gate_started", NULL, NULL, d);
	json_decref(d);
	return r;
}

/* ---- children: output queue */

static int epoll_mod_child(struct monitor *m, struct child *c)
{
	struct epoll_event ev = { .events = EPOLLIN | (c->outq ? EPOLLOUT : 0), .data.u64 = EV_TAG(EV_CHILD, c->serial) };
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_MOD, c->sock, &ev) < 0)
		return -errno;
	c->want_out = c->outq != NULL;
	return 0;
}

static int child_flush(struct monitor *m, struct child *c)
{
	while (c->outq) {
		struct outmsg *o = c->outq;
		int r = msg_send(c->sock, o->data, o->len, o->fd);
		if (r == -EAGAIN || r == -EWOULDBLOCK)
			break;
		if (r < 0)
			return r;
		c->outq = o->next;
		if (!c->outq)
			c->outq_tail = &c->outq;
		c->outq_bytes -= o->len;
		closep(&o->fd);
		/* an answer may carry a generated token key (token enroll) */
		explicit_bzero(o->data, o->len);
		free(o);
	}
	if ((c->outq != NULL) != c->want_out)
		return epoll_mod_child(m, c);
	return 0;
}

int child_send(struct monitor *m, struct child *c, const void *buf, size_t len, int fd)
{
	struct outmsg *o;

	/* A child that stops reading must not grow the monitor without bound. */
	if (c->outq_bytes + len > CHILD_OUTQ_MAX) {
		closep(&fd);
		return -ENOBUFS;
	}
	o = malloc(sizeof(*o) + len);

	if (!o) {
		closep(&fd);
		return -ENOMEM;
	}
	o->next = NULL;
	o->len = len;
	o->fd = fd;
	memcpy(o->data, buf, len);
	*c->outq_tail = o;
	c->outq_tail = &o->next;
	c->outq_bytes += len;
	return child_flush(m, c);
}

void child_result(struct monitor *m, struct child *c, json_t *obj)
{
	_cleanup_free_ char *text = NULL;

	text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(obj);
	if (!text) {
		log_err("out of memory answering session %d", (int)c->pid);
		child_drop(m, c);
		return;
	}
	child_result_text(m, c, text);
}

void child_result_text(struct monitor *m, struct child *c, const char *text)
{
	static uint8_t buf[MSG_MAX];
	struct msgbuf mb;
	int len;

	msg_init(&mb, buf, sizeof(buf), MSG_RESULT);
	msg_put_str(&mb, text);
	len = msg_finish(&mb);
	if (len < 0) {
		log_err("result for session %d too large", (int)c->pid);
		child_drop(m, c);
		return;
	}
	c->state = CHILD_IDLE;
	c->idle_since = time(NULL);
	c->waiting = false;
	int r = child_send(m, c, buf, (size_t)len, -1);
	explicit_bzero(buf, (size_t)len);
	if (r < 0)
		child_drop(m, c);
}

void child_error(struct monitor *m, struct child *c, const char *code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	child_result(m, c, json_pack("{s:b, s:s, s:s}", "ok", 0, "error", text, "code", code));
}

int child_data(struct monitor *m, struct child *c, const char *text, size_t len)
{
	static uint8_t buf[MSG_MAX];
	const size_t chunk = 60 * 1024;

	for (size_t off = 0; off < len; off += chunk) {
		struct msgbuf mb;
		size_t n = len - off < chunk ? len - off : chunk;
		msg_init(&mb, buf, sizeof(buf), MSG_DATA);
		msg_put_bytes(&mb, text + off, n);
		int l = msg_finish(&mb);
		if (l < 0 || child_send(m, c, buf, (size_t)l, -1) < 0) {
			child_drop(m, c);
			return -EIO;
		}
	}
	return 0;
}

struct audit_actor child_actor(const struct child *c)
{
	return (struct audit_actor){ .account = c->account, .uid = c->uid, .person = c->person };
}

static void child_free(struct child *c)
{
	while (c->outq) {
		struct outmsg *o = c->outq;
		c->outq = o->next;
		closep(&o->fd);
		explicit_bzero(o->data, o->len);
		free(o);
	}
	enrolment_free(c->enrol);
	for (size_t i = 0; i < c->ngroups; i++)
		free(c->groups[i]);
	free(c->groups);
	free(c->account);
	free(c->person);
	free(c);
}

void child_drop(struct monitor *m, struct child *c)
{
	struct child **pp;

	for (pp = &m->children; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (!*pp)
		return;
	*pp = c->next;
	m->n_children--;
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, c->sock, NULL);
	closep(&c->sock);
	kill(c->pid, SIGKILL); /* reaped through SIGCHLD */
	if (c->upload) {
		struct upload *u = c->upload;
		u->child = NULL;
		c->upload = NULL;
		atomic_store(&u->job.cancel, true);
		requests_upload_try_finish(m, u);
	}
	child_free(c);
}

void child_violation(struct monitor *m, struct child *c, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_warn("session %d (account %s): protocol violation: %s; ending it", (int)c->pid, c->account, what);
	struct audit_actor a = child_actor(c);
	json_t *d = json_pack("{s:i, s:s}", "pid", (int)c->pid, "what", what);
	monitor_record(m, "protocol_violation", NULL, &a, d);
	json_decref(d);
	child_drop(m, c);
}

/* ---- accepting clients */

static void refuse_client(int fd, const char *text)
{
	_cleanup_free_ char *json = NULL;
	json_t *o = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", text, "code", "refused");
	char buf[1200];

	json = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!json)
		return;
	size_t n = strlen(json);
	if (n + 1 > sizeof(buf))
		return;
	buf[0] = PROTO_END;
	memcpy(buf + 1, json, n);
	(void)send(fd, buf, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* Closing with the client's request unread would make the kernel
	 * answer its next read with ECONNRESET instead of this refusal. */
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC) > 0)
		;
}

static int resolve_identity(struct child *c)
{
	struct passwd pw, *pwp = NULL;
	char pwbuf[4096];
	gid_t gids[MAX_GROUPS];
	int ngids = MAX_GROUPS;

	if (getpwuid_r(c->uid, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 || !pwp)
		return -ENOENT;
	c->account = strdup(pw.pw_name);
	if (!c->account)
		return -ENOMEM;
	if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ngids) < 0)
		return -E2BIG;
	c->groups = calloc((size_t)ngids, sizeof(char *));
	if (!c->groups)
		return -ENOMEM;
	for (int i = 0; i < ngids; i++) {
		struct group gr, *grp = NULL;
		char grbuf[8192];
		if (getgrgid_r(gids[i], &gr, grbuf, sizeof(grbuf), &grp) != 0 || !grp)
			continue;
		c->groups[c->ngroups] = strdup(gr.gr_name);
		if (!c->groups[c->ngroups])
			return -ENOMEM;
		c->ngroups++;
	}
	return 0;
}

static bool in_groups(const struct child *c, const char *group)
{
	if (!group)
		return false;
	for (size_t i = 0; i < c->ngroups; i++)
		if (strcmp(c->groups[i], group) == 0)
			return true;
	return false;
}

static unsigned connections_of(const struct monitor *m, uid_t uid)
{
	unsigned n = 0;
	for (const struct child *c = m->children; c; c = c->next)
		n += c->uid == uid;
	return n;
}

/* The child between fork and exec: only async-signal-safe calls. */
static _Noreturn void exec_session(const struct monitor *m, int client, int sock, pid_t parent)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	static char *const argv[] = { "dumpgate-session", NULL };
#if DUMPGATE_SANITIZED
	static char *const envp[] = { "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0",
				      "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1", NULL };
#else
	static char *const envp[] = { NULL };
#endif

	sigset_t none;

	/* The loop's blocked signals and ignored SIGPIPE would survive exec. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(client, SESSION_FD_CLIENT) < 0 || dup2(sock, SESSION_FD_MONITOR) < 0)
		_exit(127);
	close_range(SESSION_FD_MONITOR + 1, ~0U, 0);
	if (sandbox_drop_to(m->session_uid, m->session_gid, parent) < 0)
		_exit(126);
	execve(m->cfg->session_program, argv, envp);
	_exit(127);
}

static void accept_client(struct monitor *m)
{
	_cleanup_close_ int fd = -1, pair0 = -1, pair1 = -1;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct child *c = NULL;
	int sv[2];
	int r;

	fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("SO_PEERCRED: %s", strerror(errno));
		return;
	}
	if (m->stopping) {
		refuse_client(fd, "the gate is shutting down");
		return;
	}
	if (m->n_children >= m->cfg->max_connections) {
		log_warn("refusing uid %u: %u connections (limit max_connections)", (unsigned)cred.uid,
			 m->n_children);
		refuse_client(fd, "the gate is at its connection limit (max_connections); try again later");
		return;
	}
	time_t until;
	if (requests_throttled(m, cred.uid, time(NULL), &until)) {
		char text[200], when[32];
		format_time(until, when);
		snprintf(text, sizeof(text),
			 "too many refused requests from your account (max_refusals_per_minute = %u); try again after %s",
			 m->cfg->max_refusals_per_minute, when);
		refuse_client(fd, text);
		return;
	}
	if (connections_of(m, cred.uid) >= m->cfg->max_connections_per_account) {
		char text[200];
		log_warn("refusing uid %u: connection limit max_connections_per_account (%u) reached",
			 (unsigned)cred.uid, m->cfg->max_connections_per_account);
		snprintf(text, sizeof(text),
			 "too many connections from your account (limit max_connections_per_account = %u)",
			 m->cfg->max_connections_per_account);
		refuse_client(fd, text);
		return;
	}

	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->serial = ++m->next_serial;
	c->sock = -1;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->outq_tail = &c->outq;
	c->state = CHILD_IDLE;
	c->idle_since = time(NULL);
	r = resolve_identity(c);
	if (r < 0) {
		log_warn("refusing uid %u: %s", (unsigned)cred.uid,
			 r == -ENOENT ? "no account for this uid" : strerror(-r));
		refuse_client(fd, "your uid has no account on the gate");
		child_free(c);
		return;
	}
	c->person = strdup(config_person_of(m->cfg, c->account));
	if (!c->person) {
		child_free(c);
		return;
	}
	/* root on the gate host is trusted (DESIGN.md, threat model). */
	c->is_admin = c->uid == 0 || in_groups(c, m->cfg->admins_group);
	c->is_auditor = c->is_admin || in_groups(c, m->cfg->auditors_group);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("socketpair: %s", strerror(errno));
		child_free(c);
		return;
	}
	pair0 = sv[0];
	pair1 = sv[1];
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		refuse_client(fd, "the gate cannot start a session right now");
		child_free(c);
		return;
	}
	if (pid == 0)
		exec_session(m, fd, pair1, parent);

	c->pid = pid;
	c->sock = TAKE_FD(pair0);
	if (fcntl(c->sock, F_SETFL, O_NONBLOCK) < 0) {
		kill(pid, SIGKILL);
		closep(&c->sock);
		child_free(c);
		return;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_TAG(EV_CHILD, c->serial) };
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, c->sock, &ev) < 0) {
		kill(pid, SIGKILL);
		closep(&c->sock);
		child_free(c);
		return;
	}
	c->next = m->children;
	m->children = c;
	m->n_children++;
}

/* ---- loop events */

static void child_readable(struct monitor *m, struct child *c)
{
	static uint8_t buf[MSG_MAX];
	int fd = -1;
	int n;

	n = msg_recv(c->sock, buf, sizeof(buf), &fd);
	if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
		return;
	if (n == 0) {
		child_drop(m, c);
		return;
	}
	if (n < 0) {
		explicit_bzero(buf, sizeof(buf)); /* what a truncated message left */
		child_violation(m, c, "unreadable message: %s", strerror(-n));
		return;
	}
	requests_dispatch(m, c, buf, (size_t)n, fd);
	/* a request may carry an AES key (token enroll) or an OTP */
	explicit_bzero(buf, (size_t)n);
}

static void reap_children(struct monitor *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (scanrun_reaped(m, pid, status))
			continue;
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			log_warn("child %d killed by signal %d%s", (int)pid, WTERMSIG(status),
				 WTERMSIG(status) == SIGSYS ? " (seccomp: forbidden system call)" : "");
		else if (WIFEXITED(status) && WEXITSTATUS(status) >= 126)
			log_warn("child %d could not start (exit %d)", (int)pid, WEXITSTATUS(status));
	}
}

static void signal_event(struct monitor *m)
{
	struct signalfd_siginfo si;

	while (read(m->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap_children(m);
			break;
		case SIGTERM:
		case SIGINT:
			if (!m->stopping)
				log_info("signal %d: shutting down", (int)si.ssi_signo);
			m->stopping = true;
			break;
		case SIGHUP:
			log_info("SIGHUP: configuration reload is not supported; restart dumpgated to apply changes");
			break;
		default:
			break;
		}
	}
}

static void job_event(struct monitor *m)
{
	uint64_t v;

	(void)!read(m->job_fd, &v, sizeof(v));
	releaserun_reap(m, false);
	for (struct upload *u = m->uploads, *next; u; u = next) {
		next = u->next;
		if (atomic_load(&u->job.done))
			requests_upload_try_finish(m, u);
	}
}

static void timer_event(struct monitor *m)
{
	uint64_t v;

	(void)!read(m->timer_fd, &v, sizeof(v));
	requests_tick(m, time(NULL));
	scanrun_tick(m, time(NULL));
}

static int setup_loop(struct monitor *m)
{
	sigset_t mask;
	struct itimerspec its = {
		.it_interval = { 0, TICK_MS * 1000000L },
		.it_value = { 0, TICK_MS * 1000000L },
	};
	struct epoll_event ev;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);

	m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	m->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	m->job_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->epoll_fd < 0 || m->signal_fd < 0 || m->timer_fd < 0 || m->job_fd < 0)
		return -errno;
	if (timerfd_settime(m->timer_fd, 0, &its, NULL) < 0)
		return -errno;

	const struct {
		int fd;
		uintptr_t tag;
	} fixed[] = {
		{ m->listen_fd, TAG_LISTEN },
		{ m->signal_fd, TAG_SIGNAL },
		{ m->timer_fd, TAG_TIMER },
		{ m->job_fd, TAG_JOB },
	};
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_TAG(EV_FIXED, fixed[i].tag) };
		if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, fixed[i].fd, &ev) < 0)
			return -errno;
	}
	return 0;
}

/* Transfers move on by themselves: a clean one starts waiting for
 * approval, a wait expires, an approved one is released. */
static void advance(struct monitor *m)
{
	if (m->stopping)
		return;
	approve_tick(m, time(NULL));
	releaserun_schedule(m);
}

static void shutdown_gate(struct monitor *m)
{
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, m->listen_fd, NULL);
	closep(&m->listen_fd);
	m->listen_fd = -1;
	while (m->children)
		child_drop(m, m->children);
	/* A scan stopped here resumes at the next start (state scanning). */
	scanrun_stop_all(m);
	/* A release is finished, so that its record is written. */
	releaserun_reap(m, true);
	/* Uploads were cancelled with their sessions; wait for the copy
	 * threads so each one ends with an `aborted` record. */
	while (m->uploads) {
		struct upload *u = m->uploads;
		atomic_store(&u->job.cancel, true);
		while (!atomic_load(&u->job.done))
			usleep(10000);
		requests_upload_try_finish(m, u);
	}
	monitor_record(m, "gate_stopped", NULL, NULL, NULL);
}

int monitor_run(struct monitor *m)
{
	struct epoll_event evs[32];
	int r;

	r = setup_loop(m);
	if (r < 0) {
		log_err("cannot set up the event loop: %s", strerror(-r));
		return r;
	}
	requests_tick(m, time(NULL));
	advance(m);
	while (!m->stopping) {
		int n = epoll_wait(m->epoll_fd, evs, ELEMENTSOF(evs), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			uint64_t serial = tag & ((1ull << 56) - 1);
			struct child *c = NULL;

			switch (tag >> 56) {
			case EV_FIXED:
				if (serial == TAG_LISTEN)
					accept_client(m);
				else if (serial == TAG_SIGNAL)
					signal_event(m);
				else if (serial == TAG_TIMER)
					timer_event(m);
				else if (serial == TAG_JOB)
					job_event(m);
				break;
			case EV_SCAN:
				scanrun_event(m, serial);
				break;
			case EV_CHILD:
				for (c = m->children; c && c->serial != serial; c = c->next)
					;
				if (!c)
					break; /* dropped by an earlier event of this batch */
				if (evs[i].events & EPOLLOUT) {
					if (child_flush(m, c) < 0) {
						child_drop(m, c);
						break;
					}
				}
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					child_readable(m, c);
				break;
			}
		}
		advance(m);
	}
	shutdown_gate(m);
	return 0;
}
