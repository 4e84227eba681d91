/* requests.h - what the request handlers of requests.c and approve.c share.
 *
 * Every handler is served on the monitor's loop for one child whose
 * identity the monitor read itself (child.h); the state table in
 * requests.c decides which request may come when.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "child.h"
#include "monitor.h"
#include "msg.h"

/* Seconds a session with a token enrolment waiting for its proof OTP may
 * stay idle (programming a YubiKey takes a while), at least. */
#define ENROL_TIMEOUT 600

typedef void (*handler_fn)(struct monitor *m, struct child *c, struct msgbuf *mb, int fd);

/* May this child see transfer t?  Admins and auditors see everything; a
 * requester sees the transfers of its person; an approver of the profile
 * sees that profile's transfers. */
bool requests_visible(const struct monitor *m, const struct child *c, const struct transfer *t);
/* Read an id from mb and find the transfer the child may see; otherwise
 * the child was answered (or ended, for a malformed id) and NULL. */
struct transfer *requests_get_visible(struct monitor *m, struct child *c, struct msgbuf *mb, const char *op);
/* Text from a child that must be UTF-8 (it goes into the log as JSON):
 * false, and the child ended, when it is not. */
bool requests_utf8(struct monitor *m, struct child *c, const char *text, const char *what);
/* Answer with arr (reference stolen; NULL = out of memory) as data
 * frames and {"ok":true,"count":N}. */
void requests_send_array(struct monitor *m, struct child *c, json_t *arr);
/* A request_refused record (extra: details to add, reference stolen). */
void requests_record_refusal(struct monitor *m, struct child *c, const char *op, const char *id,
			     const char *code, const char *text, json_t *extra);
/* Refuse with an audit record and answer the child with the same text. */
void requests_refuse(struct monitor *m, struct child *c, const char *op, const char *id, const char *code,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* approve.c */
void req_approve(struct monitor *m, struct child *c, struct msgbuf *mb, int fd);
void req_deny(struct monitor *m, struct child *c, struct msgbuf *mb, int fd);
void req_token_enroll(struct monitor *m, struct child *c, struct msgbuf *mb, int fd);
void req_token_confirm(struct monitor *m, struct child *c, struct msgbuf *mb, int fd);
void req_token_list(struct monitor *m, struct child *c, struct msgbuf *mb, int fd);
void req_token_revoke(struct monitor *m, struct child *c, struct msgbuf *mb, int fd);
/* Time passed: clean transfers start waiting for approval, waits expire. */
void approve_tick(struct monitor *m, time_t now);
