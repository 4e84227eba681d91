/* output.c - findings, summaries and progress as JSON Lines or text.
 *
 * jansson builds every JSON line, so no string reaches the output
 * unescaped; a string that is not UTF-8 (a file name) is first turned
 * into printable ASCII with str_escape().  Text lines escape the file
 * name and notes the same way.  No artifact byte is ever printed (I7).
 */
#include "output.h"

#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *severity_name(enum severity s)
{
	switch (s) {
	case SEV_INFO:
		return "info";
	case SEV_MEDIUM:
		return "medium";
	case SEV_HIGH:
		return "high";
	case SEV_CRITICAL:
		break;
	}
	return "critical";
}

const char *verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_CLEAN:
		return "clean";
	case VERDICT_FINDINGS:
		return "findings";
	case VERDICT_ERROR:
		break;
	}
	return "error";
}

#define _cleanup_json_ _cleanup_(json_decrefp) /* jansson's */

/* A JSON string of s; not UTF-8 -> its escaped ASCII form.  NULL s gives
 * null.  NULL only when out of memory. */
static json_t *jstr(const char *s)
{
	_cleanup_free_ char *esc = NULL;
	json_t *j;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	esc = str_escape(s, 4096);
	return esc ? json_string(esc) : NULL;
}

/* "" -> null */
static json_t *jstr_or_null(const char *s)
{
	return (s && *s) ? jstr(s) : json_null();
}

static int write_json_line(int fd, json_t *j)
{
	_cleanup_free_ char *s = NULL;
	size_t n;

	if (!j)
		return -ENOMEM;
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	s[n] = '\n'; /* replaces the NUL: written with an explicit length */
	return write_full(fd, s, n + 1);
}

static int finding_json(int fd, const char *file, const struct engine_finding *ef)
{
	_cleanup_json_ json_t *j = NULL;
	const struct finding *f = &ef->f;
	json_t *container;

	if (ef->container_format[0])
		container = json_pack("{s:o, s:I, s:I}", "format", jstr(ef->container_format), "index",
				      (json_int_t)ef->container_index, "offset",
				      (json_int_t)ef->container_offset);
	else
		container = json_null();

	j = json_pack("{s:o, s:s, s:o, s:s, s:I, s:I, s:o, s:o, s:b, s:o, s:o, s:o, s:b}",
		      "file", jstr(file),
		      "pass", ef->pass ? ef->pass : "raw",
		      "detector", jstr(f->detector),
		      "severity", severity_name(f->severity),
		      "offset", (json_int_t)f->offset,
		      "length", (json_int_t)f->length,
		      "key_type", jstr_or_null(f->key_type),
		      "bits", f->bits ? json_integer(f->bits) : json_null(),
		      "verified", (int)f->verified,
		      "public_sha256", jstr_or_null(f->public_sha256),
		      "container", container,
		      "note", jstr_or_null(engine_finding_note(ef)),
		      "allowed", (int)ef->allowed);
	return write_json_line(fd, j);
}

/* One line of text, written at once. */
_printf_(2, 3) static int write_line(int fd, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	return write_full(fd, s, (size_t)n);
}

/* FILE: SEVERITY DETECTOR [KEY_TYPE] [BITS-bit] at offset N (LENGTH bytes)
 *       [verified] [sha256:PREFIX16] [in FORMAT stream I] [: NOTE] */
static int finding_text(int fd, const char *file, const struct engine_finding *ef)
{
	_cleanup_free_ char *name = str_escape(file, 4096);
	_cleanup_free_ char *det = str_escape(ef->f.detector, 64);
	_cleanup_free_ char *kt = str_escape(ef->f.key_type, sizeof(ef->f.key_type));
	_cleanup_free_ char *fmt = str_escape(ef->container_format, sizeof(ef->container_format));
	_cleanup_free_ char *note = NULL;
	const struct finding *f = &ef->f;
	const char *n = engine_finding_note(ef);
	char bits[24] = "", where[48] = "", sha[32] = "";

	if (n)
		note = str_escape(n, sizeof(ef->note_buf));
	if (!name || !det || !kt || !fmt || (n && !note))
		return -ENOMEM;
	if (f->bits)
		snprintf(bits, sizeof(bits), " %u-bit", f->bits);
	if (f->public_sha256[0])
		snprintf(sha, sizeof(sha), " sha256:%.16s", f->public_sha256);
	if (ef->container_format[0])
		snprintf(where, sizeof(where), " in %s stream %u", fmt, ef->container_index);
	return write_line(fd, "%s: %s %s%s%s%s at offset %" PRIu64 " (%" PRIu64 " bytes)%s%s%s%s%s%s\n",
			  name, severity_name(f->severity), det, kt[0] ? " " : "", kt, bits, f->offset,
			  f->length, f->verified ? " verified" : "", sha, where,
			  ef->allowed ? " allowed" : "", note ? ": " : "", note ? note : "");
}

int output_finding(int fd, enum output_mode mode, const char *file, const struct engine_finding *f)
{
	return mode == OUTPUT_JSON ? finding_json(fd, file, f) : finding_text(fd, file, f);
}

int output_summary(int fd, enum output_mode mode, const struct scan_summary *s)
{
	/* milliseconds are enough, and print short */
	double secs = s->seconds > 0 ? (double)(uint64_t)(s->seconds * 1000.0 + 0.5) / 1000.0 : 0;
	bool err = s->verdict == VERDICT_ERROR;

	if (mode == OUTPUT_JSON) {
		_cleanup_json_ json_t *j = NULL;

		j = json_pack("{s:b, s:o, s:s, s:I, s:o, s:f, s:I, s:s}",
			      "summary", 1,
			      "file", jstr(s->file),
			      "pass", s->pass,
			      "bytes", (json_int_t)s->bytes,
			      "sha256", (!err && s->sha256[0]) ? json_string(s->sha256) : json_null(),
			      "seconds", secs,
			      "findings", (json_int_t)s->findings,
			      "verdict", verdict_name(s->verdict));
		if (j && err && json_object_set_new(j, "error", jstr(s->error ? s->error : "unknown error")) < 0)
			return -ENOMEM;
		return write_json_line(fd, j);
	}

	_cleanup_free_ char *name = str_escape(s->file, 4096);
	_cleanup_free_ char *why = err ? str_escape(s->error ? s->error : "unknown error", 512) : NULL;

	if (!name || (err && !why))
		return -ENOMEM;
	return write_line(fd, "%s: %zu findings (%s%s%s), %.1f MB in %.2f s\n", name, s->findings,
			  verdict_name(s->verdict), err ? ": " : "", err ? why : "", (double)s->bytes / 1e6,
			  s->seconds);
}

int output_version(int fd)
{
	_cleanup_json_ json_t *j = json_pack("{s:i}", "version", SCANPROTO_VERSION);

	return write_json_line(fd, j);
}

int output_progress(int fd, uint64_t bytes)
{
	_cleanup_json_ json_t *j = json_pack("{s:I}", "progress", (json_int_t)bytes);

	return write_json_line(fd, j);
}
