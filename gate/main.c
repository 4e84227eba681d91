/* main.c - dumpgated: start-up of the monitor.
 *
 * Order: read and check the configuration; refuse to run as non-root;
 * no core dumps from here on; resolve the session and scanner accounts;
 * open (make) the state directory and lock it against a second gate;
 * open the spool, tokens and outbox directories; bind the socket (before
 * anything is appended); open and verify the audit log; load the signing
 * key (made only when the log is empty); open the kernel audit mirror;
 * rebuild the state from the log (the signing key must be the one the
 * log names); keep only the capabilities the monitor uses; run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dg-config.h"
#include "kaudit.h"
#include "monitor.h"
#include "sandbox.h"
#include "signkey.h"
#include "tokens.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dumpgated [--config FILE] [--foreground] [--check-config]\n"
		"\n"
		"  --config FILE    gate configuration (default /etc/dumpgate/dumpgate.conf)\n"
		"  --foreground     do not detach (for systemd and tests); logs go to stderr either way\n"
		"  --check-config   check the configuration and every profile, then exit\n"
		"  --version        print the version\n");
}

/* Open (creating with mode if missing) a directory that must belong to
 * root and not be writable by group or others. */
static int open_private_dir(int at, const char *path, mode_t mode, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	bool made = mkdirat(at, path, mode) == 0;

	if (!made && errno != EEXIST)
		return -errno;
	fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the umask (077) must not narrow a mode that others rely on */
	if (made && fchmod(fd, mode) < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid != 0 || (st.st_mode & 022))
		return -EPERM;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int lock_state(struct monitor *m)
{
	_cleanup_close_ int fd = -1;
	char buf[32];
	int n;

	fd = openat(m->state_dirfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		n = (int)pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			log_err("%s is locked by another dumpgated (pid %s); refusing to start",
				m->cfg->state_dir, *buf ? buf : "?");
		return -e;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -errno;
	m->lock_fd = TAKE_FD(fd);
	return 0;
}

static int bind_socket(struct monitor *m)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *dir = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = m->cfg->socket_path;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	/* Every account must reach the socket: its directory is 0755 whatever
	 * the umask (077 here). */
	if (mkdir(dirname(dir), 0755) < 0) {
		if (errno != EEXIST) {
			log_err("cannot create the socket directory for %s: %s", path, strerror(errno));
			return -errno;
		}
	} else if (chmod(dir, 0755) < 0) {
		return -errno;
	}

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket file may be left from a gate that died.  If something
	 * still answers on it, another gate is running there. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		log_err("another dumpgated is listening on %s; refusing to start", path);
		return -EADDRINUSE;
	}
	closep(&fd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket; refusing to replace it", path);
			return -EEXIST;
		}
		unlink(path);
	}
	mode_t old = umask(0);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0) {
		log_err("cannot bind %s: %s", path, strerror(errno));
		return -errno;
	}
	/* Anyone may connect: who they are comes from SO_PEERCRED and the
	 * profiles decide what they may do. */
	if (chmod(path, 0666) < 0 || listen(fd, 64) < 0)
		return -errno;
	m->listen_fd = TAKE_FD(fd);
	return 0;
}

/* An unprivileged account for children: exists, is not root, and its
 * program is executable. */
static int resolve_user(const struct monitor *m, const char *key, const char *user, const char *pkey,
			const char *program, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		log_err("%s: %s %s does not exist", m->cfg->file, key, user);
		return -ENOENT;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_err("%s: %s %s must not be root or in group root", m->cfg->file, key, user);
		return -EPERM;
	}
	if (access(program, X_OK) < 0) {
		log_err("%s: %s %s is not executable: %s", m->cfg->file, pkey, program, strerror(errno));
		return -errno;
	}
	*ret_uid = pw->pw_uid;
	*ret_gid = pw->pw_gid;
	return 0;
}

static int resolve_users(struct monitor *m)
{
	int r;

	r = resolve_user(m, "session_user", m->cfg->session_user, "session_program", m->cfg->session_program,
			 &m->session_uid, &m->session_gid);
	if (r < 0)
		return r;
	r = resolve_user(m, "scanner_user", m->cfg->scanner_user, "scanner_program", m->cfg->scanner_program,
			 &m->scan_uid, &m->scan_gid);
	if (r < 0)
		return r;
	/* A session that could signal or ptrace a scanner would share its
	 * uid: keep the two apart. */
	if (m->scan_uid == m->session_uid) {
		log_err("%s: scanner_user and session_user must be different accounts", m->cfg->file);
		return -EINVAL;
	}
	return 0;
}

/* Detach: the parent exits once the child says it is ready (or failed),
 * so `dumpgated` returns only when the gate answers on its socket. */
static int daemonize(int *ret_ready_fd)
{
	int p[2];
	pid_t pid;
	char c = 1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		ssize_t n = read(p[0], &c, 1);
		_exit(n == 1 && c == 0 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	*ret_ready_fd = p[1];
	return 0;
}

/* The audit log's mirror: every record goes to the kernel audit trail
 * first; when the kernel refuses, the record is not written and the
 * change does not happen (kernel_audit = required). */
static int mirror_to_kernel(void *userdata, uint64_t seq, const char *event, const char *transfer,
			    const char *line, size_t len, const char prev[65])
{
	int r = kaudit_send(userdata, seq, event, transfer, line, len, prev);

	if (r < 0)
		log_err("the kernel audit trail refused record %llu (%s): %s; kernel_audit = required, so it "
			"does not take effect",
			(unsigned long long)seq, event, strerror(-r));
	return r;
}

static int run(struct monitor *mp, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	const char *config_path = "/etc/dumpgate/dumpgate.conf";
	bool foreground = false, check = false;
	_cleanup_free_ char *error = NULL, *report = NULL;
	int ready_fd = -1;
	int c, r;

	log_set_ident("dumpgated");
	while ((c = getopt_long(argc, argv, "c:fkhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'k':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("dumpgated %s\n", DUMPGATE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	r = config_load(config_path, &mp->cfg, &error);
	if (r < 0) {
		log_err("%s", error ? error : strerror(-r));
		return 1;
	}
	if (check) {
		printf("%s: configuration OK, %zu profile%s:", config_path, mp->cfg->n_profiles,
		       mp->cfg->n_profiles == 1 ? "" : "s");
		for (size_t i = 0; i < mp->cfg->n_profiles; i++)
			printf(" %s", mp->cfg->profiles[i].name);
		printf("\n");
		return 0;
	}
	if (geteuid() != 0) {
		log_err("must be started as root (it drops to session_user for every client)");
		return 1;
	}
	/* Before any secret or artifact byte is in memory. */
	r = sandbox_no_core();
	if (r < 0) {
		log_err("cannot disable core dumps: %s", strerror(-r));
		return 1;
	}
	umask(077);
	if (resolve_users(mp) < 0)
		return 1;

	r = open_private_dir(AT_FDCWD, mp->cfg->state_dir, 0700, &mp->state_dirfd);
	if (r < 0) {
		log_err("state_dir %s: %s", mp->cfg->state_dir,
			r == -EPERM ? "must be owned by root and not writable by group or others" : strerror(-r));
		return 1;
	}
	if (lock_state(mp) < 0)
		return 1;
	r = open_private_dir(AT_FDCWD, mp->cfg->spool_dir, 0700, &mp->spool_dirfd);
	if (r < 0) {
		log_err("spool_dir %s: %s", mp->cfg->spool_dir,
			r == -EPERM ? "must be owned by root and not writable by group or others" : strerror(-r));
		return 1;
	}

	r = open_private_dir(mp->state_dirfd, TOKENS_DIR, 0700, &mp->tokens_dirfd);
	if (r < 0) {
		log_err("%s/%s: %s", mp->cfg->state_dir, TOKENS_DIR,
			r == -EPERM ? "must be owned by root and not writable by group or others" : strerror(-r));
		return 1;
	}
	r = open_private_dir(mp->state_dirfd, "releasing", 0700, &mp->releasing_dirfd);
	if (r < 0) {
		log_err("%s/releasing: %s", mp->cfg->state_dir,
			r == -EPERM ? "must be owned by root and not writable by group or others" : strerror(-r));
		return 1;
	}
	/* Readable by the tool that carries releases to the debugging
	 * network; written by the monitor only. */
	r = open_private_dir(AT_FDCWD, mp->cfg->outbox_dir, 0755, &mp->outbox_dirfd);
	if (r < 0) {
		log_err("outbox_dir %s: %s", mp->cfg->outbox_dir,
			r == -EPERM ? "must be owned by root and not writable by group or others" : strerror(-r));
		return 1;
	}

	/* Before anything is appended: a second gate on the same socket
	 * must leave no trace in this state directory's log. */
	r = bind_socket(mp);
	if (r < 0)
		return 1;
	r = audit_open(mp->state_dirfd, &mp->audit, &report, &error);
	if (r < 0) {
		log_err("audit log in %s: %s; refusing to start", mp->cfg->state_dir, error ? error : strerror(-r));
		return 1;
	}
	if (report)
		log_warn("%s", report);
	/* Made at the first start (an empty log) and never replaced later:
	 * every release out there was signed with it. */
	{
		_cleanup_free_ char *why = NULL;
		bool first = audit_last_seq(mp->audit) == 0;
		r = signkey_load_or_create(mp->state_dirfd, first, &mp->signkey, &why);
		if (r < 0) {
			log_err("signing key: %s; refusing to start%s", why ? why : strerror(-r),
				r == -ENOENT && !first ? " (restore it from backup: a new key would not verify the releases already made)" : "");
			return 1;
		}
		if (first)
			log_info("created the release signing key %s/%s (public half %s/%s)", mp->cfg->state_dir,
				 SIGNKEY_PRIVATE_FILE, mp->cfg->state_dir, SIGNKEY_PUBLIC_FILE);
	}
	/* Before the monitor drops CAP_AUDIT_CONTROL (the status query needs
	 * it) and before recovery appends its first record. */
	if (mp->cfg->kernel_audit) {
		const char *why = NULL;
		r = kaudit_open(&mp->kaudit, &why);
		if (r < 0) {
			log_err("kernel_audit = required: %s (%s); refusing to start", why ? why : "kernel audit",
				strerror(-r));
			return 1;
		}
		audit_set_mirror(mp->audit, mirror_to_kernel, mp->kaudit);
	} else {
		log_warn("kernel_audit = off: records are not mirrored to the kernel audit trail");
	}
	r = monitor_recover(mp);
	if (r < 0) {
		log_err("cannot rebuild the state from the audit log; refusing to start");
		return 1;
	}

	r = sandbox_monitor_caps();
	if (r < 0) {
		log_err("cannot drop capabilities: %s", strerror(-r));
		return 1;
	}
	if (!foreground && daemonize(&ready_fd) < 0) {
		log_err("cannot detach: %s", strerror(errno));
		return 1;
	}
	log_info("listening on %s (state %s, %zu transfers, audit seq %llu)", mp->cfg->socket_path,
		 mp->cfg->state_dir, mp->table.n, (unsigned long long)audit_last_seq(mp->audit));
	if (ready_fd >= 0) {
		char ok = 0;
		(void)!write(ready_fd, &ok, 1);
		closep(&ready_fd);
	}

	r = monitor_run(mp);
	unlink(mp->cfg->socket_path);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct monitor m = {
		.state_dirfd = -1, .spool_dirfd = -1, .lock_fd = -1, .listen_fd = -1,
		.tokens_dirfd = -1, .outbox_dirfd = -1, .releasing_dirfd = -1,
		.epoll_fd = -1, .signal_fd = -1, .timer_fd = -1, .job_fd = -1,
	};
	/* Before any open: a closed stderr must not become the audit log. */
	if (ensure_std_fds() < 0)
		return 1;
	int rc = run(&m, argc, argv);

	/* One place frees what run() built, whichever way it returned. */
	if (m.audit)
		audit_close(m.audit);
	kaudit_close(m.kaudit);
	transfer_table_free(&m.table);
	tokens_free(&m.tokens);
	free(m.meters);
	EVP_PKEY_free(m.signkey);
	config_free(m.cfg);
	return rc;
}
