/* det-cloud-sa.c - private keys in cloud service-account JSON files.
 *
 *	{ "type": "service_account", "private_key_id": "...",
 *	  "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n",
 *	  "client_email": "...", ... }
 *
 * Anchors on "private_key" (the member name, quotes included, so
 * "private_key_id" does not match), takes the JSON string after the colon,
 * finds the PEM in it and decodes the key.  The enclosing object (the helper
 * in det-jwk.c) is parsed as well when it can be found, to tell the GCP form
 * ("type": "service_account" or a "client_email" member) in the note and to
 * report the whole object; when it cannot (a file cut short, an object past
 * 64 KiB) the member alone is enough.  Nothing of the object is copied into
 * the finding: not the email, not the key id (I7).  The decoded DER is
 * wiped before it is freed; jansson's copies of the artifact's text are
 * not (the artifact itself is in this process's memory).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "detector.h"
#include "util.h"

#define SA_ANCHOR_LEN 13 /* "private_key" with its quotes */
#define SA_MAX_VALUE (32 * 1024)

/* win[pos] is the anchor: skip `"private_key"`, blanks, ':', blanks; the
 * value must be a JSON string.  Returns its extent (quotes included). */
static int member_value(const uint8_t *win, size_t win_len, size_t pos, size_t *ret_start, size_t *ret_end)
{
	size_t i = pos + SA_ANCHOR_LEN, lim;
	bool esc = false, colon = false;

	for (; i < win_len; i++) {
		if (win[i] == ':' && !colon)
			colon = true;
		else if (win[i] != ' ' && win[i] != '\t' && win[i] != '\r' && win[i] != '\n')
			break;
	}
	if (!colon || i >= win_len || win[i] != '"')
		return -EINVAL;
	lim = win_len - i < SA_MAX_VALUE ? win_len : i + SA_MAX_VALUE;
	for (size_t j = i + 1; j < lim; j++) {
		if (esc)
			esc = false;
		else if (win[j] == '\\')
			esc = true;
		else if (win[j] == '"') {
			*ret_start = i;
			*ret_end = j + 1;
			return 0;
		} else if (win[j] < 0x20)
			return -EINVAL;
	}
	return -EINVAL;
}

static const char *find(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle));
}

enum pem_kind { PEM_PLAIN, PEM_ENCRYPTED };

/* The base64 body of the first private-key PEM block in s. */
static int pem_body(const char *s, size_t n, const char **ret_body, size_t *ret_len, enum pem_kind *ret_kind)
{
	static const struct {
		const char *begin, *end;
		enum pem_kind kind;
	} labels[] = {
		{ "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", PEM_PLAIN },
		{ "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", PEM_PLAIN },
		{ "-----BEGIN EC PRIVATE KEY-----", "-----END EC PRIVATE KEY-----", PEM_PLAIN },
		{ "-----BEGIN ENCRYPTED PRIVATE KEY-----", "-----END ENCRYPTED PRIVATE KEY-----", PEM_ENCRYPTED },
	};

	for (size_t i = 0; i < ELEMENTSOF(labels); i++) {
		const char *b = find(s, n, labels[i].begin), *e;

		if (!b)
			continue;
		b += strlen(labels[i].begin);
		e = find(b, n - (size_t)(b - s), labels[i].end);
		if (!e)
			return -EINVAL;
		/* traditional PEM with headers ("Proc-Type: 4,ENCRYPTED") */
		*ret_kind = find(b, (size_t)(e - b), "ENCRYPTED") ? PEM_ENCRYPTED : labels[i].kind;
		*ret_body = b;
		*ret_len = (size_t)(e - b);
		return 0;
	}
	return -ENOENT;
}

/* GCP's form of the file: say so in the note, nothing more. */
static bool is_gcp(json_t *o)
{
	const char *type = json_string_value(json_object_get(o, "type"));

	return (type && strcmp(type, "service_account") == 0) || json_object_get(o, "client_email");
}

static void cloud_sa_on_match(struct scan_ctx *ctx, unsigned pattern, const uint8_t *win, size_t win_len,
			      size_t pos, uint64_t win_off)
{
	struct finding f = { .detector = "cloud-sa" };
	size_t vstart, vend, ostart, oend, body_len, der_cap = 0, der_len = 0;
	json_t *obj = NULL, *val = NULL;
	const char *pem, *body;
	const unsigned char *dp;
	uint8_t *der = NULL;
	EVP_PKEY *pkey = NULL;
	enum pem_kind kind;
	bool gcp = false;

	if (pos >= win_len || win_len - pos < SA_ANCHOR_LEN || member_value(win, win_len, pos, &vstart, &vend) < 0)
		return;
	f.offset = win_off + pos;
	f.length = vend - pos;
	if (json_enclosing_object(win, win_len, pos, &ostart, &oend) == 0) {
		obj = json_loadb((const char *)win + ostart, oend - ostart, 0, NULL);
		if (json_is_object(obj) && json_is_string(json_object_get(obj, "private_key"))) {
			gcp = is_gcp(obj);
			f.offset = win_off + ostart;
			f.length = oend - ostart;
		}
	}
	/* The member's own string, decoded by jansson (\n, \/, \uXXXX). */
	val = json_loadb((const char *)win + vstart, vend - vstart, JSON_DECODE_ANY, NULL);
	if (!json_is_string(val))
		goto out;
	pem = json_string_value(val);
	if (pem_body(pem, json_string_length(val), &body, &body_len, &kind) < 0)
		goto out;

	if (kind == PEM_ENCRYPTED) {
		snprintf(f.key_type, sizeof(f.key_type), "encrypted");
		f.severity = SEV_HIGH;
		f.note = "cloud service-account key, encrypted";
		scan_emit(ctx, &f);
		goto out;
	}

	der_cap = body_len / 4 * 3 + 3;
	der = malloc(der_cap);
	if (!der || keyutil_b64decode(body, body_len, der, der_cap, &der_len, false) < 0 || der_len == 0)
		goto out;
	dp = der;
	pkey = d2i_AutoPrivateKey(NULL, &dp, (long)der_len);
	if (!pkey)
		goto out; /* a PEM label with no key behind it is not a finding */

	if (keyutil_describe(pkey, &f) == 0 && f.verified) {
		f.severity = SEV_CRITICAL;
		f.note = gcp ? "cloud service-account key (GCP form)" : "cloud service-account key";
	} else {
		f.verified = false;
		f.public_sha256[0] = '\0';
		f.severity = SEV_HIGH;
		f.note = "cloud service-account key, key material inconsistent";
	}
	if (!f.key_type[0])
		snprintf(f.key_type, sizeof(f.key_type), "unknown");
	scan_emit(ctx, &f);
out:
	EVP_PKEY_free(pkey);
	secure_free(der, der_cap);
	json_decref(val);
	json_decref(obj);
}

static const struct detector_pattern cloud_sa_patterns[] = {
	{ .regex = "\"private_key\"", .width = SA_ANCHOR_LEN },
};

const struct detector detector_cloud_sa = {
	.name = "cloud-sa",
	.patterns = cloud_sa_patterns,
	.n_patterns = ELEMENTSOF(cloud_sa_patterns),
	.on_match = cloud_sa_on_match,
};
