/* scanproto.c - the monitor's check of one line of scanner output.
 *
 * Trust: the scanner parsed hostile bytes and may be exploited; every
 * line is parsed strictly and every field checked against its type,
 * range and vocabulary before the monitor believes it.  Pure: no I/O, no
 * state (fuzzed by tests/fuzz/fuzz-scanproto.c).
 */
#include <stdbool.h>
#include <string.h>

#include "scanproto.h"


static bool str_field(json_t *o, const char *k, size_t max, const char *charset, bool nullable)
{
	json_t *v = json_object_get(o, k);
	if (nullable && json_is_null(v))
		return true;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
		return false;
	if (!charset)
		return true;
	const char *s = json_string_value(v);
	return strspn(s, charset) == strlen(s);
}

static bool int_field(json_t *o, const char *k, json_int_t lo, json_int_t hi, bool nullable)
{
	json_t *v = json_object_get(o, k);
	if (nullable && json_is_null(v))
		return true;
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static bool one_of(json_t *o, const char *k, const char *const *words)
{
	const char *s = json_string_value(json_object_get(o, k));
	for (; s && *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

static bool keys_exactly(json_t *o, const char *const *keys)
{
	size_t n = 0;
	for (const char *const *k = keys; *k; k++, n++)
		if (!json_object_get(o, *k))
			return false;
	return json_object_size(o) == n;
}

#define LOWER_ALNUM "abcdefghijklmnopqrstuvwxyz0123456789-"
#define HEX "0123456789abcdef"
#define PRINTABLE                                                                                            \
	" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

static const char *check_finding(json_t *o, const char *pass)
{
	static const char *const keys[] = { "file", "pass", "detector", "severity", "offset", "length",
					     "key_type", "bits", "verified", "public_sha256", "container",
					     "note", "allowed", NULL };
	static const char *const detectors[] = { "pem", "der", "openssh", "putty", "jwk", "cloud-sa",
						 "token", "decoder", "engine", NULL };
	static const char *const sevs[] = { "critical", "high", "medium", "info", NULL };
	static const char *const formats[] = { "gzip", "xz", "zstd", "lz4", NULL };
	json_t *c;

	if (!keys_exactly(o, keys))
		return "finding with missing or unknown keys";
	if (!json_is_string(json_object_get(o, "pass")) || strcmp(json_string_value(json_object_get(o, "pass")), pass))
		return "finding of another pass";
	if (!one_of(o, "detector", detectors) || !one_of(o, "severity", sevs))
		return "finding with an unknown detector or severity";
	if (!int_field(o, "offset", 0, INT64_MAX, false) || !int_field(o, "length", 0, INT64_MAX, false) ||
	    !int_field(o, "bits", 0, 65536, true))
		return "finding with a bad offset, length or bits";
	if (!str_field(o, "key_type", 31, LOWER_ALNUM, true) || !str_field(o, "public_sha256", 64, HEX, true) ||
	    !str_field(o, "note", 160, PRINTABLE, true) || !str_field(o, "file", 4096, NULL, false))
		return "finding with a bad string field";
	if (json_is_string(json_object_get(o, "public_sha256")) &&
	    json_string_length(json_object_get(o, "public_sha256")) != 64)
		return "finding with a bad public_sha256";
	if (!json_is_boolean(json_object_get(o, "verified")) || !json_is_false(json_object_get(o, "allowed")))
		return "finding with bad verified/allowed";
	c = json_object_get(o, "container");
	if (strcmp(pass, "raw") == 0 ? !json_is_null(c) : !json_is_null(c) && !json_is_object(c))
		return "finding with a bad container";
	if (json_is_object(c)) {
		static const char *const ckeys[] = { "format", "index", "offset", NULL };
		if (!keys_exactly(c, ckeys) || !one_of(c, "format", formats) ||
		    !int_field(c, "index", 1, INT32_MAX, false) || !int_field(c, "offset", 0, INT64_MAX, false))
			return "finding with a bad container";
	}
	return NULL;
}

static const char *check_summary(json_t *o, const char *pass)
{
	static const char *const verdicts[] = { "clean", "findings", "error", NULL };
	size_t n = json_object_size(o);

	if (!json_is_true(json_object_get(o, "summary")) || !str_field(o, "file", 4096, NULL, false) ||
	    !json_is_string(json_object_get(o, "pass")) || strcmp(json_string_value(json_object_get(o, "pass")), pass) ||
	    !int_field(o, "bytes", 0, INT64_MAX, false) || !str_field(o, "sha256", 64, HEX, false) ||
	    json_string_length(json_object_get(o, "sha256")) != 64 || !json_is_number(json_object_get(o, "seconds")) ||
	    !int_field(o, "findings", 0, SCANPROTO_MAX_FINDINGS, false) || !one_of(o, "verdict", verdicts))
		return "malformed summary";
	if (json_object_get(o, "error")) {
		if (!str_field(o, "error", 300, PRINTABLE, false) || n != 9)
			return "malformed summary";
	} else if (n != 8)
		return "summary with missing or unknown keys";
	return NULL;
}


int scanproto_parse_line(const char *pass, const char *line, size_t len, json_t **ret_obj,
			 uint64_t *ret_progress, const char **ret_error)
{
	json_error_t jerr;
	json_t *o;
	const char *bad;

	*ret_error = NULL;
	if (len > SCANPROTO_MAX_LINE) {
		*ret_error = "an output line over 4096 bytes";
		return SCANPROTO_BAD;
	}
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		*ret_error = "a line that is not a JSON object";
		return SCANPROTO_BAD;
	}
	if (json_object_size(o) == 1 && json_object_get(o, "version")) {
		bool good = int_field(o, "version", SCANPROTO_VERSION, SCANPROTO_VERSION, false);
		json_decref(o);
		if (!good) {
			*ret_error = "an unsupported protocol version";
			return SCANPROTO_BAD;
		}
		return SCANPROTO_VERSION_LINE;
	}
	if (json_object_size(o) == 1 && json_object_get(o, "progress")) {
		if (!int_field(o, "progress", 0, INT64_MAX, false)) {
			json_decref(o);
			*ret_error = "bad progress";
			return SCANPROTO_BAD;
		}
		*ret_progress = (uint64_t)json_integer_value(json_object_get(o, "progress"));
		json_decref(o);
		return SCANPROTO_PROGRESS;
	}
	bad = json_object_get(o, "summary") ? check_summary(o, pass) : check_finding(o, pass);
	if (bad) {
		json_decref(o);
		*ret_error = bad;
		return SCANPROTO_BAD;
	}
	int kind = json_object_get(o, "summary") ? SCANPROTO_SUMMARY : SCANPROTO_FINDING;
	*ret_obj = o;
	return kind;
}
