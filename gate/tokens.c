/* tokens.c - the token store (see tokens.h). */
#include "tokens.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static const char *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);

	/* jansson allows \u0000: such a string is not ours */
	return s && strlen(s) == json_string_length(v) && *s ? s : NULL;
}

static int int_of(json_t *o, const char *key, json_int_t min, json_int_t max, json_int_t *ret)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -EBADMSG;
	*ret = json_integer_value(v);
	return 0;
}

static struct token *find_active(struct token_table *t, const char *public_id)
{
	for (size_t i = t->n; i > 0; i--)
		if (t->v[i - 1].active && strcmp(t->v[i - 1].public_id, public_id) == 0)
			return &t->v[i - 1];
	return NULL;
}

const struct token *tokens_active(const struct token_table *t, const char *public_id)
{
	return find_active((struct token_table *)t, public_id);
}

static struct device_mark *find_mark(const struct token_table *t, const char *public_id)
{
	for (size_t i = 0; i < t->nmarks; i++)
		if (strcmp(t->marks[i].public_id, public_id) == 0)
			return &t->marks[i];
	return NULL;
}

bool tokens_mark(const struct token_table *t, const char *public_id, uint16_t *ret_counter, uint8_t *ret_use)
{
	const struct device_mark *d = find_mark(t, public_id);

	if (!d)
		return false;
	*ret_counter = d->counter;
	*ret_use = d->use;
	return true;
}

static struct account_lock *find_lock(const struct token_table *t, const char *account, bool create)
{
	struct account_lock *v;

	for (size_t i = 0; i < t->nlocks; i++)
		if (strcmp(t->locks[i].account, account) == 0)
			return &t->locks[i];
	if (!create)
		return NULL;
	v = reallocarray(t->locks, t->nlocks + 1, sizeof(*v));
	if (!v)
		return NULL;
	((struct token_table *)t)->locks = v;
	v[t->nlocks] = (struct account_lock){ .account = strdup(account) };
	if (!v[t->nlocks].account)
		return NULL;
	return &v[((struct token_table *)t)->nlocks++];
}

static int apply_enrolled(struct token_table *t, json_t *d, time_t when)
{
	const char *pid = str_of(d, "public_id"), *account = str_of(d, "account"), *person = str_of(d, "person"),
		   *by = str_of(d, "by");
	struct token *v;

	if (!pid || !account || !person || !by || !otp_public_id_valid(pid) || find_active(t, pid))
		return -EBADMSG;
	v = reallocarray(t->v, t->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->v = v;
	struct token x = { .enrolled = when, .active = true };
	memcpy(x.public_id, pid, sizeof(x.public_id));
	x.account = strdup(account);
	x.person = strdup(person);
	x.enrolled_by = strdup(by);
	if (!x.account || !x.person || !x.enrolled_by) {
		free(x.account);
		free(x.person);
		free(x.enrolled_by);
		return -ENOMEM;
	}
	t->v[t->n++] = x;
	return 0;
}

static int apply_revoked(struct token_table *t, json_t *d, time_t when)
{
	const char *pid = str_of(d, "public_id");
	struct token *x = pid ? find_active(t, pid) : NULL;

	if (!x || !str_of(d, "by"))
		return -EBADMSG;
	x->active = false;
	x->revoked = when;
	return 0;
}

static int apply_spent(struct token_table *t, json_t *d)
{
	const char *pid = str_of(d, "public_id");
	json_int_t counter, use;
	struct device_mark *m;

	if (!pid || !otp_public_id_valid(pid) || !str_of(d, "account") || !str_of(d, "purpose") ||
	    int_of(d, "counter", 0, OTP_COUNTER_MAX, &counter) < 0 || int_of(d, "use", 0, 255, &use) < 0)
		return -EBADMSG;
	m = find_mark(t, pid);
	if (m) {
		/* the monitor spends only OTPs above the mark */
		if (!otp_newer((uint16_t)counter, (uint8_t)use, m->counter, m->use))
			return -EBADMSG;
	} else {
		m = reallocarray(t->marks, t->nmarks + 1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		t->marks = m;
		m = &t->marks[t->nmarks++];
		memcpy(m->public_id, pid, sizeof(m->public_id));
	}
	m->counter = (uint16_t)counter;
	m->use = (uint8_t)use;
	return 0;
}

static int apply_locked(struct token_table *t, json_t *d)
{
	const char *account = str_of(d, "account"), *until = str_of(d, "until");
	struct account_lock *l;
	json_int_t failures;
	time_t u;

	if (!account || !until || parse_time(until, &u) < 0 || int_of(d, "failures", 1, INT32_MAX, &failures) < 0)
		return -EBADMSG;
	l = find_lock(t, account, true);
	if (!l)
		return -ENOMEM;
	l->until = u;
	l->failures = 0;
	return 0;
}

bool tokens_failure_code(const char *code)
{
	static const char *const codes[] = { "bad_otp", "unknown_token", "replayed", "not_token_owner" };

	for (size_t i = 0; code && i < ELEMENTSOF(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/* The failure count follows the log: a refused OTP counts against the
 * account that typed it, an approval or enrolment it completed resets it
 * (as does a lock), so a restart knows how many tries are left. */
static int apply_count(struct token_table *t, const char *event, json_t *record, json_t *d)
{
	const char *account = str_of(json_object_get(record, "actor"), "account");
	struct account_lock *l;

	if (!account)
		return 0;
	if (strcmp(event, "request_refused") == 0) {
		const char *op = str_of(d, "op");
		/* an OTP typed to approve or to enrol, not e.g. a revoke of
		 * an unknown public id */
		if (!tokens_failure_code(str_of(d, "code")) || !op ||
		    (strcmp(op, "approve") != 0 && strcmp(op, "token_enroll") != 0))
			return 0;
		l = find_lock(t, account, true);
		if (!l)
			return -ENOMEM;
		if (l->failures < UINT32_MAX)
			l->failures++;
		return 0;
	}
	l = find_lock(t, account, false);
	if (l)
		l->failures = 0;
	return 0;
}

int tokens_apply(struct token_table *t, json_t *record)
{
	const char *event = str_of(record, "event"), *ts = str_of(record, "time");
	json_t *d = json_object_get(record, "details");
	time_t when;

	if (!event)
		return -EBADMSG;
	bool counts = strcmp(event, "request_refused") == 0 || strcmp(event, "approval") == 0;
	bool ours = strcmp(event, "token_enrolled") == 0 || strcmp(event, "token_revoked") == 0 ||
		    strcmp(event, "otp_spent") == 0 || strcmp(event, "account_locked") == 0;
	if (counts)
		return apply_count(t, event, record, d);
	if (!ours)
		return 0;
	if (!ts || parse_time(ts, &when) < 0 || !json_is_object(d))
		return -EBADMSG;
	if (strcmp(event, "token_enrolled") == 0) {
		int r = apply_enrolled(t, d, when);
		return r < 0 ? r : apply_count(t, event, record, d);
	}
	if (strcmp(event, "token_revoked") == 0)
		return apply_revoked(t, d, when);
	if (strcmp(event, "otp_spent") == 0)
		return apply_spent(t, d);
	return apply_locked(t, d);
}

void tokens_free(struct token_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].account);
		free(t->v[i].person);
		free(t->v[i].enrolled_by);
	}
	for (size_t i = 0; i < t->nlocks; i++)
		free(t->locks[i].account);
	free(t->v);
	free(t->marks);
	free(t->locks);
	*t = (struct token_table){ 0 };
}

bool tokens_locked(const struct token_table *t, const char *account, time_t now, time_t *ret_until)
{
	const struct account_lock *l = find_lock(t, account, false);

	if (!l || now >= l->until)
		return false;
	if (ret_until)
		*ret_until = l->until;
	return true;
}

unsigned tokens_failures(const struct token_table *t, const char *account)
{
	const struct account_lock *l = find_lock(t, account, false);

	return l ? l->failures : 0;
}



json_t *tokens_to_json(const struct token_table *t, const char *account)
{
	json_t *arr = json_array();
	char when[32], rev[32];

	for (size_t i = 0; arr && i < t->n; i++) {
		const struct token *x = &t->v[i];
		uint16_t c = 0;
		uint8_t u = 0;
		bool seen;
		if (account && strcmp(account, x->account) != 0)
			continue;
		seen = tokens_mark(t, x->public_id, &c, &u);
		format_time(x->enrolled, when);
		format_time(x->revoked, rev);
		json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:o, s:o, s:o}", "public_id", x->public_id,
				      "account", x->account, "person", x->person, "active", x->active, "enrolled",
				      when, "enrolled_by", x->enrolled_by, "revoked",
				      x->active ? json_null() : json_string(rev), "hw_counter",
				      seen ? json_integer(c) : json_null(), "hw_use", seen ? json_integer(u) : json_null());
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* ---- key files */

int tokens_key_write(int dirfd, const char *public_id, const uint8_t key[static OTP_AES_KEY_SIZE],
		     const uint8_t private_id[static OTP_PRIVATE_ID_SIZE])
{
	uint8_t buf[TOKEN_KEY_FILE_SIZE];
	char tmp[OTP_PUBLIC_ID_LEN + 8];
	int fd, r;

	if (!otp_public_id_valid(public_id))
		return -EINVAL;
	snprintf(tmp, sizeof(tmp), "%s.tmp", public_id);
	(void)unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	memcpy(buf, key, OTP_AES_KEY_SIZE);
	memcpy(buf + OTP_AES_KEY_SIZE, private_id, OTP_PRIVATE_ID_SIZE);
	r = write_full(fd, buf, sizeof(buf));
	explicit_bzero(buf, sizeof(buf));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && renameat(dirfd, tmp, dirfd, public_id) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dirfd, tmp, 0);
		return r;
	}
	return fsync(dirfd) < 0 ? -errno : 0;
}

int tokens_key_read(int dirfd, const char *public_id, uint8_t ret_key[static OTP_AES_KEY_SIZE],
		    uint8_t ret_private_id[static OTP_PRIVATE_ID_SIZE])
{
	uint8_t buf[TOKEN_KEY_FILE_SIZE + 1];
	struct stat st;
	size_t got = 0;
	int fd, r;

	if (!otp_public_id_valid(public_id))
		return -EINVAL;
	fd = openat(dirfd, public_id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		return -EBADMSG;
	}
	r = read_full(fd, buf, sizeof(buf), &got);
	close(fd);
	if (r == 0 && got == TOKEN_KEY_FILE_SIZE) {
		memcpy(ret_key, buf, OTP_AES_KEY_SIZE);
		memcpy(ret_private_id, buf + OTP_AES_KEY_SIZE, OTP_PRIVATE_ID_SIZE);
	} else if (r == 0)
		r = -EBADMSG;
	explicit_bzero(buf, sizeof(buf));
	return r;
}

int tokens_key_remove(int dirfd, const char *public_id)
{
	if (!otp_public_id_valid(public_id))
		return -EINVAL;
	if (unlinkat(dirfd, public_id, 0) < 0 && errno != ENOENT)
		return -errno;
	return fsync(dirfd) < 0 ? -errno : 0;
}

int tokens_sweep(int dirfd, const struct token_table *t, unsigned *ret_removed)
{
	int dfd = dup(dirfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	unsigned removed = 0;
	int r = 0;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (otp_public_id_valid(de->d_name) && tokens_active(t, de->d_name))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) < 0)
			r = -errno;
		else
			removed++;
	}
	closedir(d);
	if (removed && fsync(dirfd) < 0 && r == 0)
		r = -errno;
	*ret_removed = removed;
	return r;
}
