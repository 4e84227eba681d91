/* sandbox-escape.c - dg-sandbox-escape SYSCALL: try one forbidden system
 * call from inside the scanner's real seccomp filter.
 *
 * A test helper (never installed) for scanner-sandbox-kills-escapes.sh.
 * It calls sandbox_scanner_enter() (gate/sandbox.c: the very filter
 * dumpgate-scan --gate installs), then makes SYSCALL with syscall(2) and
 * plausible arguments, so that neither glibc nor a sanitizer interceptor
 * stands between the attempt and the filter:
 *
 *   openat        openat(AT_FDCWD, "/etc/passwd", O_RDONLY)
 *   socket        socket(AF_INET, SOCK_STREAM, 0)
 *   execve        execve("/bin/true", ["true"], [])
 *   ptrace        ptrace(PTRACE_TRACEME)
 *   fork          clone(SIGCHLD) - a new process, no CLONE_THREAD
 *   mmap-exec     mmap(NULL, 4096, PROT_READ|PROT_EXEC, private anonymous)
 *   mprotect-exec mprotect() of a page of ours to PROT_READ|PROT_EXEC
 *   none          only what the filter allows: write(1), getpid()
 *
 * The filter's answer to a forbidden call is to kill the process with
 * SIGSYS, so the expected outcome is death (128 + 31 = 159 from a shell).
 * If the call returns at all, it prints "survived: SYSCALL returned R"
 * on stdout, plus "SYSCALL refused: <strerror>" when it failed with an
 * errno (the sanitizer build turns openat into EACCES, see sandbox.c),
 * and exits 1.  "none" prints "alive" and exits 0.  Exit 2: usage;
 * 3: the sandbox could not be entered.
 *
 * Everything ends with _exit(): no atexit handler, no sanitizer leak
 * check (LSan would need ptrace and clone, which the filter forbids).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

/* Formats into a stack buffer and write(2)s it: stdio may want fstat or
 * an allocation after the filter; write is what the scanner itself uses. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = (int)sizeof(buf) - 1;
	(void)!write(STDOUT_FILENO, buf, (size_t)n);
}

static const char *const names[] = {
	"openat", "socket", "execve", "ptrace", "fork", "mmap-exec", "mprotect-exec", "none", NULL,
};

int main(int argc, char **argv)
{
	static char page[1 << 16] __attribute__((aligned(4096)));
	char *const child_argv[] = { (char *)"true", NULL };
	char *const child_envp[] = { NULL };
	const char *what;
	long r;
	int i, e;

	if (argc != 2) {
		fprintf(stderr, "usage: dg-sandbox-escape openat|socket|execve|ptrace|fork|mmap-exec|mprotect-exec|none\n");
		_exit(2);
	}
	what = argv[1];
	for (i = 0; names[i] && strcmp(names[i], what) != 0; i++)
		;
	if (!names[i]) {
		fprintf(stderr, "dg-sandbox-escape: unknown system call \"%s\"\n", what);
		_exit(2);
	}
	fflush(NULL);

	r = sandbox_scanner_enter();
	if (r < 0) {
		fprintf(stderr, "dg-sandbox-escape: entering the sandbox: %s\n", strerror((int)-r));
		_exit(3);
	}

	errno = 0;
	if (strcmp(what, "openat") == 0)
		r = syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC);
	else if (strcmp(what, "socket") == 0)
		r = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	else if (strcmp(what, "execve") == 0)
		r = syscall(SYS_execve, "/bin/true", child_argv, child_envp);
	else if (strcmp(what, "ptrace") == 0)
		r = syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL);
	else if (strcmp(what, "fork") == 0) {
		/* x86-64 and arm64 order: flags, stack, parent_tid, child_tid, tls */
		r = syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL);
		if (r == 0) /* the child of an escape: say so, leave at once */
			say("survived: in a forked child\n"), _exit(1);
	} else if (strcmp(what, "mmap-exec") == 0) {
		void *p = (void *)syscall(SYS_mmap, NULL, 4096UL, PROT_READ | PROT_EXEC,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
		r = p == MAP_FAILED ? -1 : 0;
	} else if (strcmp(what, "mprotect-exec") == 0) {
		char *p = (char *)(((unsigned long)page + 4095UL) & ~4095UL);
		r = syscall(SYS_mprotect, p, 4096UL, PROT_READ | PROT_EXEC);
	} else { /* none: allowed calls only */
		say("alive pid %ld\n", (long)syscall(SYS_getpid));
		_exit(0);
	}
	e = errno;

	say("survived: %s returned %ld\n", what, r);
	if (r == -1)
		say("%s refused: %s\n", what, strerror(e));
	_exit(1);
}
