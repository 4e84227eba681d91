/* sandbox.c - capabilities, no_new_privs, rlimits and seccomp.
 *
 * The only file that includes <sys/capability.h> and <seccomp.h>.  Helpers
 * here do not log; they return 0 or -errno and the caller says what failed.
 *
 * Order is the point of this file (OpenSSH, minijail): whatever needs a
 * privilege happens while that privilege is still held, and every step
 * that could be undone by a later one comes after it:
 *   bounding set (needs CAP_SETPCAP) -> groups/gids (need CAP_SETGID)
 *   -> uids (CAP_SETUID; clears permitted/effective caps) -> rlimits
 *   -> no_new_privs -> pdeathsig (cleared by the uid change) -> seccomp.
 */
#include "dg-config.h"

#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>
#include <sys/capability.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* File descriptors a session may hold: 0-4 (session.h) plus one received
 * submission fd plus one MSG_FD from the monitor, with room to spare. */
#define SESSION_NOFILE 16

/* ---- helpers (no allocation: used after fork) */

static int set_rlimit(int resource, rlim_t value)
{
	struct rlimit rl = { .rlim_cur = value, .rlim_max = value };

	if (setrlimit(resource, &rl) < 0)
		return -errno;
	return 0;
}

static int clear_ambient(void)
{
	/* EINVAL: a kernel without ambient capabilities has none to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return -errno;
	return 0;
}

int sandbox_no_core(void)
{
	/* Not dumpable: no core file, and other processes of the same uid
	 * cannot ptrace us or read /proc/self/mem. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	return set_rlimit(RLIMIT_CORE, 0);
}

/* What the monitor keeps, and why.  Everything else leaves the bounding
 * set, so not even a later exec of a setuid binary could bring it back. */
static const cap_value_t monitor_keep[] = {
	/* setresuid() to the session and scanner uids in forked children. */
	CAP_SETUID,
	/* setgroups(0) and setresgid() in the same children. */
	CAP_SETGID,
	/* PR_CAPBSET_DROP: the children empty their bounding set before
	 * exec (sandbox_drop_to), which needs CAP_SETPCAP in effective. */
	CAP_SETPCAP,
	/* kill() of children that run under other uids (timeouts, a
	 * malformed message, withdraw of a running scan). */
	CAP_KILL,
	/* NETLINK_AUDIT user messages: the kernel copy of the audit trail. */
	CAP_AUDIT_WRITE,
	/* unshare(CLONE_NEWNET | CLONE_NEWNS) for the scanner children. */
	CAP_SYS_ADMIN,
	/* fchown() of spool and outbox objects to their configured owner
	 * (e.g. the group that syncs the outbox to the debugging network). */
	CAP_CHOWN,
	/* fchmod()/futimens() on files the monitor did not create itself
	 * (owner is another uid) in its own state, spool and outbox trees. */
	CAP_FOWNER,
	/* Read configuration and profiles owned by the admins group and
	 * search directories whose mode excludes uid 0 without
	 * CAP_DAC_OVERRIDE.  Deliberately not DAC_OVERRIDE: the monitor
	 * must not be able to *write* files it does not own. */
	CAP_DAC_READ_SEARCH,
};

static bool monitor_keeps(cap_value_t c)
{
	for (size_t i = 0; i < ELEMENTSOF(monitor_keep); i++)
		if (monitor_keep[i] == c)
			return true;
	return false;
}

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

int sandbox_monitor_caps(void)
{
	_cleanup_(cap_freep) cap_t cur = NULL;
	_cleanup_(cap_freep) cap_t want = NULL;
	int last = (int)cap_max_bits();

	/* 1. Bounding set first: PR_CAPBSET_DROP needs CAP_SETPCAP in the
	 *    effective set, which we still have in full here. */
	for (int c = 0; c < last; c++) {
		int r;

		if (monitor_keeps((cap_value_t)c))
			continue;
		r = cap_get_bound((cap_value_t)c);
		if (r < 0)
			return -(errno ? errno : EINVAL);
		if (r > 0 && cap_drop_bound((cap_value_t)c) < 0)
			return -(errno ? errno : EPERM);
	}

	/* 2. Nothing ambient: no capability may survive into an exec. */
	int r = clear_ambient();
	if (r < 0)
		return r;

	/* 3. Effective and permitted: the kept set, intersected with what we
	 *    actually hold (raising a missing capability would fail, and a
	 *    monitor started with fewer caps fails later, at the step that
	 *    needs one, with a message naming it).  Inheritable empty. */
	cur = cap_get_proc();
	want = cap_init(); /* all clear */
	if (!cur || !want)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(monitor_keep); i++) {
		cap_value_t c = monitor_keep[i];
		cap_flag_value_t v = CAP_CLEAR;

		if (c >= last)
			continue;
		if (cap_get_flag(cur, c, CAP_PERMITTED, &v) < 0)
			return -(errno ? errno : EINVAL);
		if (v != CAP_SET)
			continue;
		if (cap_set_flag(want, CAP_PERMITTED, 1, &c, CAP_SET) < 0 ||
		    cap_set_flag(want, CAP_EFFECTIVE, 1, &c, CAP_SET) < 0)
			return -(errno ? errno : EINVAL);
	}
	if (cap_set_proc(want) < 0)
		return -(errno ? errno : EPERM);
	return 0;
}

/* Empty inheritable (and, after the uid change, permitted and effective)
 * with the raw syscall: libcap allocates, and this runs after fork. */
static int clear_all_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(data); i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return -EPERM;
	return 0;
}

int sandbox_drop_to(uid_t uid, gid_t gid, pid_t parent_pid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int r;

	/* Never "drop" to root: the checks below would prove nothing. */
	if (uid == 0 || gid == 0 || uid == (uid_t)-1 || gid == (gid_t)-1)
		return -EINVAL;

	/* 1. Empty the bounding set while CAP_SETPCAP is still effective
	 *    (the uid change below clears it).  Read first, so that a
	 *    capability already gone does not need the privilege; the loop
	 *    ends at the first number the kernel does not know (EINVAL),
	 *    which avoids reading cap_last_cap from /proc after fork. */
	for (unsigned long c = 0;; c++) {
		r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0) {
			if (errno == EINVAL && c > 0)
				break;
			return -errno;
		}
		if (r > 0 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return -errno;
	}
	r = clear_ambient();
	if (r < 0)
		return r;

	/* 2. Groups and gids before the uid: both need CAP_SETGID, which
	 *    setresuid() takes away. */
	if (setgroups(0, NULL) < 0)
		return -errno;
	if (setresgid(gid, gid, gid) < 0)
		return -errno;

	/* 3. The uid, real, effective and saved: leaving uid 0 clears the
	 *    permitted and effective capability sets (no SECBIT_KEEP_CAPS). */
	if (setresuid(uid, uid, uid) < 0)
		return -errno;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid)
		return -EPERM;

	/* 4. Prove it: uid 0 and gid 0 must be out of reach now. */
	if (setuid(0) == 0 || setgid(0) == 0)
		return -EPERM;

	/* 5. Inheritable too (setuid does not touch it); then check that
	 *    every set reads back empty. */
	r = clear_all_caps();
	if (r < 0)
		return r;

	/* 6. rlimits, then no_new_privs: from here on no exec can add
	 *    privilege (setuid bits, file caps), and seccomp needs it. */
	r = set_rlimit(RLIMIT_CORE, 0);
	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;

	/* 7. Die with the monitor.  The kernel clears the parent-death
	 *    signal on a credential change, so this must follow step 3; and
	 *    the parent may have died before it took effect, hence the
	 *    getppid() check after it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	if (getppid() != parent_pid)
		return -ESRCH;
	return 0;
}

/* ---- seccomp for the session */

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int allow(scmp_filter_ctx ctx, int nr)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/* Plain allows: every one is something the session loop (session.c),
 * glibc or jansson does after sandbox_session_enter(). */
static const int session_syscalls[] = {
	/* client and monitor sockets (msg_send/msg_recv), MSG_FD contents,
	 * stderr log lines */
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom),
	SCMP_SYS(sendto),
	/* fds handed on to the monitor and MSG_FD fds once drained */
	SCMP_SYS(close),
	/* the event loop over fd 3 and fd 4 */
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	/* harmless (moves an offset only); stdio on a file-backed stderr
	 * may use it */
	SCMP_SYS(lseek),
	/* malloc (jansson, msg_get_str); mmap has its own rule below */
	SCMP_SYS(brk),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	/* signal delivery and glibc's internal signal masking */
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask),
	/* an interrupted poll() is restarted by the kernel this way */
	SCMP_SYS(restart_syscall),
	/* time(): normally the vDSO, this is its fallback */
	SCMP_SYS(clock_gettime),
	/* log prefix, glibc's abort() path */
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	/* ending */
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	/* glibc locks (stdio) */
	SCMP_SYS(futex),
};

#if DUMPGATE_SANITIZED
/* Sanitizer build only.  A normal request and exit need nothing beyond
 * the list above once the leak check is off (session.c sets
 * detect_leaks=0: LSan stops the world with ptrace/clone, which must stay
 * forbidden); ASan's allocator uses mmap/munmap/madvise, all allowed.
 * What an ASan or UBSan *report* tries after the filter is loaded (found
 * with strace) fails with an errno instead of killing the process, so
 * that the report reaches stderr, unsymbolized, and the runtime ends with
 * exit_group(1):
 *   readlink  /proc/self/exe (module name for the stack trace)
 *   open(at)  /proc/self/{cmdline,environ,maps,exe}
 *   ioctl     TCGETS on stderr (colour or not)
 *   pipe2     probing whether memory is readable before printing it
 * None of these is an allow, and tests that want a seccomp kill in this
 * build must use another syscall (socket, getuid, ...). */
static const struct {
	int nr;
	uint32_t action;
} sanitizer_rules[] = {
	{ SCMP_SYS(readlink), SCMP_ACT_ERRNO(EACCES) },
	{ SCMP_SYS(open), SCMP_ACT_ERRNO(EACCES) },
	{ SCMP_SYS(openat), SCMP_ACT_ERRNO(EACCES) },
	{ SCMP_SYS(ioctl), SCMP_ACT_ERRNO(ENOTTY) },
	{ SCMP_SYS(pipe2), SCMP_ACT_ERRNO(EMFILE) },
};
#endif

int sandbox_session_enter(void)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int r;

	/* 1. Not dumpable and no core: a compromised session must not be
	 *    ptrace-able by another process of the session uid, and must not
	 *    leave client bytes in a core file. */
	r = sandbox_no_core();
	if (r < 0)
		return r;

	/* 2. Few fds: fd 0-4, one submission fd, one MSG_FD (session.c). */
	r = set_rlimit(RLIMIT_NOFILE, SESSION_NOFILE);
	if (r < 0)
		return r;

	/* 3. no_new_privs (sandbox_drop_to already set it; seccomp_load
	 *    needs it, and libseccomp would set it too). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;

	/* 4. The filter, last: everything above uses syscalls it forbids. */
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* A syscall made with another ABI (int 0x80, x32) kills too. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return r;

	for (size_t i = 0; i < ELEMENTSOF(session_syscalls); i++) {
		r = allow(ctx, session_syscalls[i]);
		if (r < 0)
			return r;
	}
#if DUMPGATE_SANITIZED
	for (size_t i = 0; i < ELEMENTSOF(sanitizer_rules); i++) {
		r = seccomp_rule_add(ctx, sanitizer_rules[i].action,
				     sanitizer_rules[i].nr, 0);
		if (r < 0)
			return r;
	}
#endif

	/* mmap for malloc, but never executable memory: a session that was
	 * taken over cannot map new code. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r < 0)
		return r;

	/* fstat() of a submitted fd: glibc implements it as
	 * newfstatat(fd, "", buf, AT_EMPTY_PATH); other flag values (a path
	 * lookup relative to a directory) are not needed. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fstat), 0);
	if (r < 0)
		return r;
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
			     SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH));
	if (r < 0)
		return r;

	/* fcntl: F_GETFL checks the access mode of a submitted fd; F_GETFD
	 * and F_SETFD keep fds close-on-exec.  Nothing else (no F_SETFL,
	 * no locks, no F_SETOWN). */
	static const int fcntl_cmds[] = { F_GETFL, F_GETFD, F_SETFD };
	for (size_t i = 0; i < ELEMENTSOF(fcntl_cmds); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i]));
		if (r < 0)
			return r;
	}

	/* clone3: glibc tries it first for threads and falls back on
	 * ENOSYS; the session starts no threads, but a library that tries
	 * must get an error it understands, not a kill.  (clone itself stays
	 * forbidden.) */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		return r;

	r = seccomp_load(ctx);
	if (r < 0)
		return r;
	return 0;
}
