/* fuzz-ktrail.c - the reader of auditd's log for `audit verify
 * --kernel-trail` (agent/ktrail.c): files an auditor was handed, which
 * may hold anything.  The input is read as lines, and also spliced into a
 * record of ours after "seq=", so that the fuzzer reaches every field.
 * Invariants: a record taken has the shape the reader promises, and the
 * check over any set of records terminates with counts that add up. */
#include <stdlib.h>
#include <string.h>

#include "fuzz-file.h"
#include "ktrail.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static bool lower_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char head[] = "type=TRUSTED_APP msg=audit(1795900233.413:48049): pid=1 uid=0 msg='op=dumpgate seq=";
	struct ktrail k = { 0 };
	struct kcheck c;
	const struct kentry *first;
	char *spliced = malloc(sizeof(head) + size + 1);
	size_t at = 0;

	if (!spliced)
		return 0;
	memcpy(spliced, head, sizeof(head) - 1);
	memcpy(spliced + sizeof(head) - 1, data, size);
	spliced[sizeof(head) - 1 + size] = '\'';
	(void)ktrail_add_line(&k, spliced, sizeof(head) + size);
	free(spliced);
	while (at <= size) {
		const unsigned char *nl = memchr(data + at, '\n', size - at);
		size_t len = nl ? (size_t)(nl - (data + at)) : size - at;
		(void)ktrail_add_line(&k, (const char *)data + at, len);
		at += len + 1;
	}
	for (size_t i = 0; i < k.n; i++) {
		const struct kentry *e = &k.v[i];
		if (e->seq == 0 || !lower_hex64(e->sha) || !lower_hex64(e->prev) || !e->event[0] ||
		    strspn(e->event, "abcdefghijklmnopqrstuvwxyz_") != strlen(e->event))
			abort();
	}
	if (ktrail_index(&k) < 0)
		abort();
	/* the records as if they were a log, in the order they sort */
	kcheck_init(&c, &k);
	for (size_t i = 0; i < k.n; i++)
		kcheck_line(&c, k.v[i].seq, k.v[i].event, k.v[i].sha, k.v[i].key[0] ? k.v[i].key : NULL);
	if (c.found != c.lines || c.missing != 0 || kcheck_beyond(&c, &first) > k.n)
		abort();
	uint64_t same, other;
	kcheck_other_logs(&c, &same, &other, &first);
	if (same + other > k.n || (same > 0) != (first != NULL))
		abort();
	ktrail_free(&k);
	return 0;
}

#ifndef DG_LIBFUZZER
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		size_t n;
		uint8_t *buf = fuzz_read_file("fuzz-ktrail", argv[i], &n);
		if (!buf)
			return 2;
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
	}
	return 0;
}
#endif
