/* det-token.c - bearer tokens: JWTs, AWS access key ids, GitHub, Slack and
 * Google API tokens.
 *
 * Tokens cannot be checked mathematically, so they are reported at medium
 * severity and never as verified; each anchor is re-validated here in full
 * (the engine's match is a hint) and must stand on its own: the byte before
 * and after may not continue the token's alphabet, so a random base64 run
 * that happens to contain "AKIA" is not a finding.  A JWT must decode to a
 * JSON header with "alg" and a JSON payload.  The finding carries the
 * token's offset, length and kind, never its bytes (I7).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "detector.h"
#include "util.h"

#define JWT_MAX_HEADER 4096
#define JWT_MAX_PAYLOAD (48 * 1024)
#define JWT_MAX_SIGNATURE 4096
#define JWT_MIN_SIGNATURE 16
#define SLACK_MIN_BODY 10
#define SLACK_MAX_BODY 256

enum {
	TOKEN_JWT,
	TOKEN_AWS,
	TOKEN_GITHUB,
	TOKEN_GITHUB_PAT,
	TOKEN_SLACK,
	TOKEN_GOOGLE,
};

static const struct detector_pattern token_patterns[] = {
	[TOKEN_JWT] = { .regex = "eyJ", .width = 3 },
	[TOKEN_AWS] = { .regex = "A[KS]IA[A-Z0-9]{16}", .width = 20 },
	[TOKEN_GITHUB] = { .regex = "gh[pousr]_[A-Za-z0-9]{36}", .width = 40 },
	[TOKEN_GITHUB_PAT] = { .regex = "github_pat_[A-Za-z0-9_]{82}", .width = 93 },
	[TOKEN_SLACK] = { .regex = "xox[baprs]-", .width = 5 },
	[TOKEN_GOOGLE] = { .regex = "AIza[0-9A-Za-z_\\-]{35}", .width = 39 },
};

static bool is_alnum(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_upper_digit(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_b64url(uint8_t c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

static bool is_word(uint8_t c)
{
	return is_alnum(c) || c == '_';
}

static bool is_slack(uint8_t c)
{
	return is_alnum(c) || c == '-';
}

/* win[from..to) all in the class */
static bool all_of(const uint8_t *win, size_t from, size_t to, bool (*cls)(uint8_t))
{
	for (size_t i = from; i < to; i++)
		if (!cls(win[i]))
			return false;
	return true;
}

/* The token may not continue before pos or at end. */
static bool bounded(const uint8_t *win, size_t win_len, size_t pos, size_t end, bool (*cls)(uint8_t))
{
	return (pos == 0 || !cls(win[pos - 1])) && (end == win_len || !cls(win[end]));
}

static size_t run_of(const uint8_t *win, size_t win_len, size_t from, size_t max, bool (*cls)(uint8_t))
{
	size_t lim = win_len - from < max ? win_len : from + max, i = from;

	while (i < lim && cls(win[i]))
		i++;
	return i;
}

/* A base64url segment that decodes to a JSON object; with alg, the object
 * must have a string member "alg". */
static bool segment_is_json_object(const uint8_t *s, size_t n, bool alg)
{
	size_t cap = n / 4 * 3 + 3, len = 0;
	uint8_t *buf = malloc(cap);
	json_t *o = NULL;
	bool ok = false;

	if (!buf)
		return false;
	if (keyutil_b64decode((const char *)s, n, buf, cap, &len, true) < 0 || len < 2)
		goto out;
	o = json_loadb((const char *)buf, len, 0, NULL);
	ok = json_is_object(o) && (!alg || json_is_string(json_object_get(o, "alg")));
out:
	json_decref(o);
	secure_free(buf, cap);
	return ok;
}

/* header.payload.signature; returns the token's length or 0. */
static size_t jwt_length(const uint8_t *win, size_t win_len, size_t pos)
{
	size_t h_end, p_end, s_end;

	/* not the middle of a longer base64 run or of a JWT */
	if (pos > 0 && (is_b64url(win[pos - 1]) || win[pos - 1] == '.'))
		return 0;
	h_end = run_of(win, win_len, pos, JWT_MAX_HEADER, is_b64url);
	if (h_end >= win_len || win[h_end] != '.' || h_end - pos < 4)
		return 0;
	p_end = run_of(win, win_len, h_end + 1, JWT_MAX_PAYLOAD, is_b64url);
	if (p_end >= win_len || win[p_end] != '.' || p_end - (h_end + 1) < 2)
		return 0;
	s_end = run_of(win, win_len, p_end + 1, JWT_MAX_SIGNATURE, is_b64url);
	if (s_end - (p_end + 1) < JWT_MIN_SIGNATURE)
		return 0;
	if (!segment_is_json_object(win + pos, h_end - pos, true) ||
	    !segment_is_json_object(win + h_end + 1, p_end - (h_end + 1), false))
		return 0;
	return s_end - pos;
}

static void token_on_match(struct scan_ctx *ctx, unsigned pattern, const uint8_t *win, size_t win_len, size_t pos,
			   uint64_t win_off)
{
	struct finding f = {
		.detector = "token",
		.severity = SEV_MEDIUM,
		.offset = win_off + pos,
	};
	const char *type = NULL;
	size_t len = 0, avail;

	if (pos >= win_len)
		return;
	avail = win_len - pos;
	switch (pattern) {
	case TOKEN_JWT:
		if (avail >= 3 && memcmp(win + pos, "eyJ", 3) == 0)
			len = jwt_length(win, win_len, pos);
		type = "jwt";
		break;
	case TOKEN_AWS:
		if (avail >= 20 && win[pos] == 'A' && (win[pos + 1] == 'K' || win[pos + 1] == 'S') &&
		    memcmp(win + pos + 2, "IA", 2) == 0 && all_of(win, pos + 4, pos + 20, is_upper_digit) &&
		    bounded(win, win_len, pos, pos + 20, is_alnum))
			len = 20;
		type = "aws-access-key";
		break;
	case TOKEN_GITHUB:
		if (avail >= 40 && win[pos] == 'g' && win[pos + 1] == 'h' && win[pos + 2] &&
		    strchr("pousr", win[pos + 2]) && win[pos + 3] == '_' && all_of(win, pos + 4, pos + 40, is_alnum) &&
		    bounded(win, win_len, pos, pos + 40, is_word))
			len = 40;
		type = "github-token";
		break;
	case TOKEN_GITHUB_PAT:
		if (avail >= 93 && memcmp(win + pos, "github_pat_", 11) == 0 && all_of(win, pos + 11, pos + 93, is_word) &&
		    bounded(win, win_len, pos, pos + 93, is_word))
			len = 93;
		type = "github-token";
		break;
	case TOKEN_SLACK:
		if (avail >= 5 && memcmp(win + pos, "xox", 3) == 0 && win[pos + 3] && strchr("baprs", win[pos + 3]) &&
		    win[pos + 4] == '-' && (pos == 0 || !is_alnum(win[pos - 1]))) {
			size_t end = run_of(win, win_len, pos + 5, SLACK_MAX_BODY, is_slack);
			if (end - (pos + 5) >= SLACK_MIN_BODY)
				len = end - pos;
		}
		type = "slack-token";
		break;
	case TOKEN_GOOGLE:
		if (avail >= 39 && memcmp(win + pos, "AIza", 4) == 0 && all_of(win, pos + 4, pos + 39, is_b64url) &&
		    bounded(win, win_len, pos, pos + 39, is_b64url))
			len = 39;
		type = "google-api-key";
		break;
	default:
		return;
	}
	if (len == 0)
		return;
	f.length = len;
	snprintf(f.key_type, sizeof(f.key_type), "%s", type);
	scan_emit(ctx, &f);
}

const struct detector detector_token = {
	.name = "token",
	.patterns = token_patterns,
	.n_patterns = ELEMENTSOF(token_patterns),
	.on_match = token_on_match,
};
