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
#include <sched.h>
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

/* ---- seccomp: one filter builder, one rule table per process kind */

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/* One rule of an allowlist: the syscall, what it does (allow, or fail
 * with an errno), and at most one condition on an argument. */
struct sc_rule {
	int nr;
	uint32_t action;
	unsigned n_args; /* 0 or 1 */
	struct scmp_arg_cmp arg;
};

#define RULE_ALLOW(name) { SCMP_SYS(name), SCMP_ACT_ALLOW, 0, { 0 } }
/* allow when (argument & mask) == value */
#define RULE_ALLOW_MASKED(name, argno, mask, value)                                  \
	{ SCMP_SYS(name), SCMP_ACT_ALLOW, 1,                                          \
	  { .arg = (argno), .op = SCMP_CMP_MASKED_EQ, .datum_a = (mask), .datum_b = (value) } }
/* allow when argument == value */
#define RULE_ALLOW_EQ(name, argno, value)                                            \
	{ SCMP_SYS(name), SCMP_ACT_ALLOW, 1,                                          \
	  { .arg = (argno), .op = SCMP_CMP_EQ, .datum_a = (value), .datum_b = 0 } }
#define RULE_ERRNO(name, err) { SCMP_SYS(name), SCMP_ACT_ERRNO(err), 0, { 0 } }

/* Plain allows and conditional rules: every one is something the session
 * loop (session.c), glibc or jansson does after sandbox_session_enter(). */
static const struct sc_rule session_rules[] = {
	/* client and monitor sockets (msg_send/msg_recv), MSG_FD contents,
	 * stderr log lines */
	RULE_ALLOW(read),
	RULE_ALLOW(write),
	RULE_ALLOW(readv),
	RULE_ALLOW(writev),
	RULE_ALLOW(recvmsg),
	RULE_ALLOW(sendmsg),
	RULE_ALLOW(recvfrom),
	RULE_ALLOW(sendto),
	/* fds handed on to the monitor and MSG_FD fds once drained */
	RULE_ALLOW(close),
	/* the event loop over fd 3 and fd 4 */
	RULE_ALLOW(poll),
	RULE_ALLOW(ppoll),
	/* harmless (moves an offset only); stdio on a file-backed stderr
	 * may use it */
	RULE_ALLOW(lseek),
	/* malloc (jansson, msg_get_str); mmap has its own rule below */
	RULE_ALLOW(brk),
	RULE_ALLOW(munmap),
	RULE_ALLOW(mremap),
	RULE_ALLOW(madvise),
	/* signal delivery and glibc's internal signal masking */
	RULE_ALLOW(rt_sigreturn),
	RULE_ALLOW(rt_sigprocmask),
	/* an interrupted poll() is restarted by the kernel this way */
	RULE_ALLOW(restart_syscall),
	/* time(): normally the vDSO, this is its fallback */
	RULE_ALLOW(clock_gettime),
	/* log prefix, glibc's abort() path */
	RULE_ALLOW(getpid),
	RULE_ALLOW(gettid),
	/* ending */
	RULE_ALLOW(exit),
	RULE_ALLOW(exit_group),
	/* glibc locks (stdio) */
	RULE_ALLOW(futex),
	/* mmap for malloc, but never executable memory: a session that was
	 * taken over cannot map new code. */
	RULE_ALLOW_MASKED(mmap, 2, PROT_EXEC, 0),
	/* fstat() of a submitted fd: glibc implements it as
	 * newfstatat(fd, "", buf, AT_EMPTY_PATH); other flag values (a path
	 * lookup relative to a directory) are not needed. */
	RULE_ALLOW(fstat),
	RULE_ALLOW_EQ(newfstatat, 3, AT_EMPTY_PATH),
	/* fcntl: F_GETFL checks the access mode of a submitted fd; F_GETFD
	 * and F_SETFD keep fds close-on-exec.  Nothing else (no F_SETFL,
	 * no locks, no F_SETOWN). */
	RULE_ALLOW_EQ(fcntl, 1, F_GETFL),
	RULE_ALLOW_EQ(fcntl, 1, F_GETFD),
	RULE_ALLOW_EQ(fcntl, 1, F_SETFD),
	/* clone3: glibc tries it first for threads and falls back on
	 * ENOSYS; the session starts no threads, but a library that tries
	 * must get an error it understands, not a kill.  (clone itself stays
	 * forbidden.) */
	RULE_ERRNO(clone3, ENOSYS),
};

/* The scanner after sandbox_scanner_enter(): it reads the artifact fd,
 * hashes, decodes and scans in memory, and writes JSON lines to a pipe.
 * Its worker threads already exist (engine_new starts them before the
 * filter), but thread creation stays possible, not process creation.
 * rt_sigaction is not needed: glibc installs its internal signal
 * handlers at the first pthread_create, which is before the filter (a
 * process that creates its first thread after it is killed). */
static const struct sc_rule scanner_rules[] = {
	/* the artifact (fd 3) and, for a decoder or library, a positioned
	 * read of it */
	RULE_ALLOW(read),
	RULE_ALLOW(pread64),
	/* JSON lines and progress to the monitor's pipe, log lines to stderr */
	RULE_ALLOW(write),
	/* moves an offset only; stdio may probe it */
	RULE_ALLOW(lseek),
	/* stdio's buffer sizing of fd 1/2: fstat(), which glibc issues as
	 * newfstatat(fd, "", buf, AT_EMPTY_PATH); no other flags (a path
	 * lookup relative to a directory) */
	RULE_ALLOW(fstat),
	RULE_ALLOW_EQ(newfstatat, 3, AT_EMPTY_PATH),
	/* malloc (windows, decoder buffers, OpenSSL, jansson, vectorscan),
	 * thread stacks and their guard pages; never executable memory, so
	 * a scanner taken over by an artifact cannot map new code */
	RULE_ALLOW(brk),
	RULE_ALLOW_MASKED(mmap, 2, PROT_EXEC, 0),
	RULE_ALLOW_MASKED(mprotect, 2, PROT_EXEC, 0),
	RULE_ALLOW(munmap),
	RULE_ALLOW(mremap),
	/* free() returning memory, a finished thread's stack */
	RULE_ALLOW(madvise),
	/* the engine's queue (mutexes, condition variables), joins, glibc
	 * and OpenSSL locks */
	RULE_ALLOW(futex),
	/* worker threads: clone only with CLONE_THREAD (a thread of this
	 * process; never a new process, which could escape the filter's
	 * accounting or be used to fork-bomb); glibc's pthread_create
	 * tries clone3 first, whose flags live in memory a filter cannot
	 * read, so clone3 fails with ENOSYS and glibc falls back to clone */
	RULE_ALLOW_MASKED(clone, 0, CLONE_THREAD, CLONE_THREAD),
	RULE_ERRNO(clone3, ENOSYS),
	/* what a new thread registers at start (robust futexes, restartable
	 * sequences) */
	RULE_ALLOW(set_robust_list),
	RULE_ALLOW(rseq),
	/* pthread_create blocks signals around clone; signal return */
	RULE_ALLOW(rt_sigprocmask),
	RULE_ALLOW(rt_sigreturn),
	/* the kernel restarts an interrupted futex or sleep this way (after
	 * SIGSTOP/SIGCONT, for instance) */
	RULE_ALLOW(restart_syscall),
	/* spinning locks, thread counts */
	RULE_ALLOW(sched_yield),
	RULE_ALLOW(sched_getaffinity),
	/* OpenSSL reseeding its DRBGs (RSA blinding in key checks) */
	RULE_ALLOW(getrandom),
	/* progress timing (normally the vDSO: this is its fallback) and
	 * sleeps */
	RULE_ALLOW(clock_gettime),
	RULE_ALLOW(clock_nanosleep),
	RULE_ALLOW(nanosleep),
	/* glibc's abort() and raise() paths, thread ids */
	RULE_ALLOW(gettid),
	RULE_ALLOW(getpid),
	/* ending a thread, ending the process */
	RULE_ALLOW(exit),
	RULE_ALLOW(exit_group),
	/* closing fds it already holds (it cannot get new ones) */
	RULE_ALLOW(close),
	/* glibc's qsort asks sysinfo (physical memory) before sorting many
	 * findings and copes with a failure: no need to reveal it */
	RULE_ERRNO(sysinfo, ENOSYS),
#if DUMPGATE_SANITIZED
	/* Sanitizer build only: ASan reads the alternate signal stack
	 * before every noreturn call (__asan_handle_no_return, e.g. before
	 * _exit) and sets one up and tears it down in every thread; a
	 * failure there is a CHECK that aborts, so this must be an allow. */
	RULE_ALLOW(sigaltstack),
#endif
};

#if DUMPGATE_SANITIZED
/* Sanitizer build only, for every filter above.  A normal run needs
 * nothing beyond the tables once the leak check is off (session.c sets
 * detect_leaks=0, the scanner leaves through _exit: LSan stops the world
 * with ptrace/clone, which must stay forbidden); ASan's allocator uses
 * mmap/munmap/madvise, all allowed.
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
static const struct sc_rule sanitizer_rules[] = {
	RULE_ERRNO(readlink, EACCES),
	RULE_ERRNO(open, EACCES),
	RULE_ERRNO(openat, EACCES),
	RULE_ERRNO(ioctl, ENOTTY),
	RULE_ERRNO(pipe2, EMFILE),
};
#endif

static int add_rules(scmp_filter_ctx ctx, const struct sc_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add_array(ctx, rules[i].action, rules[i].nr, rules[i].n_args,
					       rules[i].n_args ? &rules[i].arg : NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Build and load an allowlist: kill-process by default and for a syscall
 * made with another ABI (int 0x80, x32), the table's rules, and in the
 * sanitizer build the sanitizer's errno rules.  Last step of every
 * *_enter(): everything before it may use syscalls it forbids. */
static int load_filter(const struct sc_rule *rules, size_t n)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int r;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return r;
	/* Every thread, not only the caller: the scanner's workers exist
	 * before the filter and match hostile bytes (TSYNC fails the load
	 * rather than leave a thread unfiltered). */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0)
		return r;
	r = add_rules(ctx, rules, n);
	if (r < 0)
		return r;
#if DUMPGATE_SANITIZED
	r = add_rules(ctx, sanitizer_rules, ELEMENTSOF(sanitizer_rules));
	if (r < 0)
		return r;
#endif
	r = seccomp_load(ctx);
	if (r < 0)
		return r;
	return 0;
}

int sandbox_session_enter(void)
{
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
	return load_filter(session_rules, ELEMENTSOF(session_rules));
}

int sandbox_scanner_enter(void)
{
	int r;

	/* 1. Not dumpable and no core: artifact bytes (the secrets the scan
	 *    looks for) must not leave in a core file, and another process
	 *    of the scanner uid must not ptrace this one or read its
	 *    memory. */
	r = sandbox_no_core();
	if (r < 0)
		return r;

	/* 2. no_new_privs (sandbox_drop_to already set it under the gate;
	 *    seccomp_load needs it either way). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;

	/* 3. The filter, last.  No open, socket, exec, ptrace or fork from
	 *    here: the scanner keeps only the fds it holds. */
	return load_filter(scanner_rules, ELEMENTSOF(scanner_rules));
}
