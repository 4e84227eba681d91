/* kaudit.c - the kernel audit mirror; see kaudit.h. */
#include <dirent.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kaudit.h"
#include "util.h"

/* The kernel takes at most MAX_AUDIT_MESSAGE_LENGTH (8970) bytes of text;
 * a line whose hex does not fit is represented by its hash alone (the
 * gate's log has it, and the chain proves it). */
#define TEXT_MAX 8192
#define HEX_LINE_MAX ((TEXT_MAX - 512) / 2)
#define KAUDIT_BUF 16384 /* >= one message with TEXT_MAX of text */

struct kaudit {
	struct mnl_socket *nl;
	unsigned portid;
	unsigned seq;
};

struct status_reply {
	bool seen;
	uint32_t enabled;
	uint32_t pid; /* the registered audit daemon, 0 when none */
};

static int status_cb(const struct nlmsghdr *nlh, void *data)
{
	struct status_reply *st = data;

	if (nlh->nlmsg_type == AUDIT_GET && mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct audit_status)) {
		const struct audit_status *s = mnl_nlmsg_get_payload(nlh);
		st->seen = true;
		st->enabled = s->enabled;
		st->pid = s->pid;
		return MNL_CB_STOP;
	}
	return MNL_CB_OK;
}

/* Send nlh and run the replies through cb until it or the kernel's ack
 * says stop.  AUDIT_GET is sent without NLM_F_ACK: the kernel may send its
 * ack before the status reply (the reply comes from another thread). */
static int transact(struct kaudit *k, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[KAUDIT_BUF];
	ssize_t n;
	int r;

	nlh->nlmsg_flags = NLM_F_REQUEST | (cb ? 0 : NLM_F_ACK);
	nlh->nlmsg_seq = ++k->seq;
	if (mnl_socket_sendto(k->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(k->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)n, k->seq, k->portid, cb, data);
		if (r < 0)
			return -errno; /* an NLMSG_ERROR with the kernel's errno */
		if (r == MNL_CB_STOP)
			return 0;
		/* AUDIT_GET answers with the status and then the ack */
	}
}

/* Whether process pid holds a NETLINK_AUDIT socket: the registered audit
 * daemon is alive.  Not kill(pid, 0): the pid of a daemon killed outright
 * stays registered, and pids wrap (here 32768 of them, soon reused). */
static bool holds_audit_socket(pid_t pid)
{
	_cleanup_free_ unsigned long *inodes = NULL;
	_cleanup_free_ char *line = NULL;
	size_t n = 0, cap = 0, lcap = 0;
	char path[64];
	bool found = false;
	DIR *d;
	FILE *f;

	/* the inodes of every NETLINK_AUDIT socket of this network namespace */
	f = fopen("/proc/net/netlink", "re");
	if (!f)
		return false;
	while (getline(&line, &lcap, f) > 0) {
		unsigned long ino;
		int proto;
		if (sscanf(line, "%*s %d %*s %*s %*s %*s %*s %*s %*s %lu", &proto, &ino) != 2 ||
		    proto != NETLINK_AUDIT)
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			unsigned long *nv = reallocarray(inodes, nc, sizeof(*nv));
			if (!nv)
				break;
			inodes = nv;
			cap = nc;
		}
		inodes[n++] = ino;
	}
	fclose(f);

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return false;
	for (struct dirent *de; !found && (de = readdir(d));) {
		char link[64];
		unsigned long ino;
		ssize_t k = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		for (size_t i = 0; i < n && !found; i++)
			found = inodes[i] == ino;
	}
	closedir(d);
	return found;
}

int kaudit_open(struct kaudit **ret, const char **ret_error)
{
	char buf[KAUDIT_BUF];
	struct status_reply st = { 0 };
	struct kaudit *k;
	int r;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->nl = mnl_socket_open2(NETLINK_AUDIT, SOCK_CLOEXEC);
	if (!k->nl || mnl_socket_bind(k->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		*ret_error = "cannot open the kernel audit socket (NETLINK_AUDIT)";
		kaudit_close(k);
		return r;
	}
	k->portid = mnl_socket_get_portid(k->nl);
	k->seq = (unsigned)time(NULL);

	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = AUDIT_GET;
	r = transact(k, nlh, status_cb, &st);
	if (r < 0 || !st.seen) {
		/* the query needs CAP_AUDIT_CONTROL: done at start, as root */
		*ret_error = r == -EPERM ? "no permission to query the kernel's audit status"
					 : "cannot query the kernel's audit status";
		kaudit_close(k);
		return r < 0 ? r : -EIO;
	}
	if (st.enabled == 0) {
		*ret_error = "kernel auditing is disabled, so the kernel would drop every record "
			     "(start auditd, or set kernel_audit = off)";
		kaudit_close(k);
		return -ENOTCONN;
	}
	if (st.pid == 0) {
		/* the kernel then prints records to its ring buffer, rate-limited,
		 * where they are lost: that is not a trail */
		*ret_error = "kernel auditing is enabled but no audit daemon collects its records "
			     "(start auditd, or set kernel_audit = off)";
		kaudit_close(k);
		return -ENOTCONN;
	}
	if (!holds_audit_socket((pid_t)st.pid)) {
		/* a daemon killed outright stays registered until the kernel
		 * next fails to deliver to it; the records would then go to the
		 * ring buffer, like with none */
		*ret_error = "kernel auditing is enabled but the audit daemon registered with the kernel "
			     "is no longer running (start auditd, or set kernel_audit = off)";
		kaudit_close(k);
		return -ENOTCONN;
	}
	*ret = k;
	return 0;
}

void kaudit_close(struct kaudit *k)
{
	if (!k)
		return;
	if (k->nl)
		mnl_socket_close(k->nl);
	free(k);
}

int kaudit_send(struct kaudit *k, uint64_t seq, const char *event, const char *transfer, const char *line,
		size_t len, const char prev_sha256[65])
{
	char buf[KAUDIT_BUF];
	char sha[65];
	struct nlmsghdr *nlh;
	char *text;
	int n;

	sha256_hex(line, len, sha);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = KAUDIT_TRUSTED_APP;
	text = mnl_nlmsg_put_extra_header(nlh, TEXT_MAX);
	/* Only our own vocabulary as text: event names are [a-z_], ids hex. */
	n = snprintf(text, TEXT_MAX, "op=dumpgate seq=%llu event=%s transfer=%s line_sha256=%s prev=%s",
		     (unsigned long long)seq, event, transfer ? transfer : "none", sha, prev_sha256);
	if (n < 0 || n >= TEXT_MAX)
		return -E2BIG;
	if (len <= HEX_LINE_MAX) {
		memcpy(text + n, " data=", 6);
		hex_encode((const uint8_t *)line, len, text + n + 6);
		n += 6 + (int)(2 * len);
	} else {
		n += snprintf(text + n, (size_t)(TEXT_MAX - n), " data=omitted bytes=%zu", len);
	}
	/* the kernel reads a NUL-terminated string of the message's length */
	nlh->nlmsg_len = (uint32_t)(MNL_NLMSG_HDRLEN + (size_t)n + 1);
	return transact(k, nlh, NULL, NULL);
}
