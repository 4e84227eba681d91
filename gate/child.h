/* child.h - the monitor's view of one session child.
 *
 * The monitor reads the client's identity itself (SO_PEERCRED) at accept;
 * the child never tells the monitor who it serves.  Every request from a
 * child is checked against its state (requests.c) before it is served.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "monitor.h"
#include "msg.h"

#define CHILD_OUTQ_MAX (16u * 1024 * 1024) /* bytes queued to one child */

enum child_state {
	CHILD_IDLE = 1 << 0,      /* may send one request */
	CHILD_UPLOADING = 1 << 1, /* stdin submit running: may send MSG_COMMIT once */
	CHILD_BUSY = 1 << 2,      /* request outstanding: may send nothing */
};

struct outmsg {
	struct outmsg *next;
	size_t len;
	int fd; /* owned, -1 for none */
	uint8_t data[];
};

struct child {
	struct child *next;
	uint64_t serial; /* epoll tag */
	pid_t pid;
	int sock;
	/* identity, read by the monitor */
	char *account;
	uid_t uid;
	gid_t gid;
	char **groups; /* names */
	size_t ngroups;
	char *person;
	bool is_admin, is_auditor;

	enum child_state state;
	time_t idle_since; /* when it last became idle (accept, an answer) */
	struct outmsg *outq, **outq_tail;
	size_t outq_bytes;
	bool want_out;
	struct upload *upload; /* borrowed: the monitor's upload list owns it */
	/* wait */
	bool late_commit_ok; /* a stdin upload ended before its commit came */
	bool waiting;
	char wait_id[33];
	time_t wait_deadline;
	/* token enroll: the enrolment waiting for its proof OTP (approve.c) */
	struct enrolment *enrol;
};

/* Queue a datagram (and optional fd, ownership taken) to the child. */
int child_send(struct monitor *m, struct child *c, const void *buf, size_t len, int fd);
/* Final answer of an exchange: MSG_RESULT with obj dumped (reference stolen). */
void child_result(struct monitor *m, struct child *c, json_t *obj);
/* The same with the JSON text ready; the monitor's copies are wiped once
 * sent (it may carry a generated token key). */
void child_result_text(struct monitor *m, struct child *c, const char *text);
void child_error(struct monitor *m, struct child *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* JSON text as MSG_DATA chunks; on failure the child was dropped. */
int child_data(struct monitor *m, struct child *c, const char *text, size_t len);
/* End a child that broke the protocol: logged, audited, killed. */
void child_violation(struct monitor *m, struct child *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void child_drop(struct monitor *m, struct child *c);

struct audit_actor child_actor(const struct child *c);

/* requests.c: dispatch one datagram from a child (state table). */
void requests_dispatch(struct monitor *m, struct child *c, uint8_t *buf, size_t len, int fd);
/* requests.c: an upload's thread ended or its session went away. */
void requests_upload_try_finish(struct monitor *m, struct upload *u);
/* requests.c: a transfer changed: answer waiters; time passed: expire them. */
void requests_wake_waiters(struct monitor *m, const char *id);
void requests_tick(struct monitor *m, time_t now);
/* approve.c: wipe and free a pending enrolment (NULL is fine). */
void enrolment_free(struct enrolment *e);
