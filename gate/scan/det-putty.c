/* det-putty.c - PuTTY private key files (.ppk, formats 2 and 3).
 *
 *	PuTTY-User-Key-File-3: ssh-ed25519
 *	Encryption: none                    (or aes256-cbc)
 *	Comment: ...
 *	Public-Lines: N                     N lines of base64: the SSH public key blob
 *	Key-Derivation: Argon2id ...        (format 3, encrypted files only)
 *	Private-Lines: M                    M lines of base64: the private fields
 *	Private-MAC: hex                    (40 digits in format 2, 64 in format 3)
 *
 * Every line must be where the format puts it, so that the header text in
 * PuTTY's own binaries (and a file cut short) is not a finding.  An
 * unencrypted key is rebuilt with OpenSSL from its private fields and the
 * public blob must agree with what they imply; an encrypted one is reported
 * as such, no passphrase is tried.  The decoded private fields live in a
 * buffer that is wiped before it is freed (I7); the comment is never read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "detector.h"
#include "util.h"

#define PPK_ANCHOR_LEN 23 /* "PuTTY-User-Key-File-N: " */
#define PPK_MAX_LINE 8192
#define PPK_MAX_B64_LINE 64
#define PPK_MAX_PUBLIC_LINES 64
#define PPK_MAX_PRIVATE_LINES 256
#define PPK_MAX_KDF_LINES 8

struct cur {
	const uint8_t *p;
	size_t n;
};

/* One line without its "\n" or "\r\n".  A line must end within the window,
 * except the last one of a view (an artifact may lack the final newline). */
static int next_line(struct cur *c, struct key_bytes *ret)
{
	size_t i, len;

	if (c->n == 0)
		return -EINVAL;
	for (i = 0; i < c->n && i < PPK_MAX_LINE && c->p[i] != '\n'; i++)
		;
	if (i == PPK_MAX_LINE)
		return -EINVAL;
	len = i;
	if (len > 0 && c->p[len - 1] == '\r')
		len--;
	*ret = (struct key_bytes){ c->p, len };
	if (i < c->n)
		i++;
	c->p += i;
	c->n -= i;
	return 0;
}

static bool line_key(struct key_bytes l, const char *key, struct key_bytes *ret_value)
{
	size_t k = strlen(key);

	if (l.n < k || memcmp(l.p, key, k) != 0)
		return false;
	*ret_value = (struct key_bytes){ l.p + k, l.n - k };
	return true;
}

static bool bytes_eq(struct key_bytes a, const char *lit)
{
	size_t l = strlen(lit);
	return a.n == l && memcmp(a.p, lit, l) == 0;
}

static bool bytes_same(struct key_bytes a, struct key_bytes b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static int parse_count(struct key_bytes v, unsigned max, unsigned *ret)
{
	unsigned n = 0;

	if (v.n == 0 || v.n > 4)
		return -EINVAL;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -EINVAL;
		n = n * 10 + (v.p[i] - '0');
	}
	if (n == 0 || n > max)
		return -EINVAL;
	*ret = n;
	return 0;
}

/* count lines of base64; returns the span they cover (with line ends). */
static int b64_lines(struct cur *c, unsigned count, struct key_bytes *ret_span)
{
	const uint8_t *start = c->p;
	struct key_bytes l;

	for (unsigned i = 0; i < count; i++) {
		if (next_line(c, &l) < 0 || l.n == 0 || l.n > PPK_MAX_B64_LINE)
			return -EINVAL;
		for (size_t j = 0; j < l.n; j++) {
			uint8_t ch = l.p[j];
			if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			      ch == '+' || ch == '/' || ch == '='))
				return -EINVAL;
		}
	}
	*ret_span = (struct key_bytes){ start, (size_t)(c->p - start) };
	return 0;
}

/* ---- SSH wire format (RFC 4251) */

static int rd_string(struct cur *r, struct key_bytes *ret)
{
	uint32_t len;

	if (r->n < 4)
		return -EINVAL;
	len = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	if (len > r->n - 4)
		return -EINVAL;
	*ret = (struct key_bytes){ r->p + 4, len };
	r->p += 4 + len;
	r->n -= 4 + len;
	return 0;
}

static int rd_mpint(struct cur *r, struct key_bytes *ret)
{
	struct key_bytes s;

	if (rd_string(r, &s) < 0 || (s.n > 0 && (s.p[0] & 0x80)))
		return -EINVAL;
	while (s.n > 0 && s.p[0] == 0) {
		s.p++;
		s.n--;
	}
	*ret = s;
	return 0;
}

/* ---- keys */

struct parsed_key {
	EVP_PKEY *pkey;
	bool consistent;
	const char *fallback;
};

/* EdDSA: PuTTY stores the private scalar as an unsigned little-endian
 * integer of minimal length, i.e. the seed with trailing zero bytes cut. */
static int eddsa_key(int type, size_t len, struct key_bytes pk, struct key_bytes priv, struct parsed_key *k)
{
	uint8_t seed[57], derived[57];
	size_t dlen = sizeof(derived);

	if (pk.n != len || priv.n == 0 || priv.n > len)
		return -EINVAL;
	memset(seed, 0, sizeof(seed));
	memcpy(seed, priv.p, priv.n);
	k->pkey = EVP_PKEY_new_raw_private_key(type, NULL, seed, len);
	explicit_bzero(seed, sizeof(seed));
	if (!k->pkey || EVP_PKEY_get_raw_public_key(k->pkey, derived, &dlen) != 1 || dlen != len ||
	    memcmp(derived, pk.p, len) != 0)
		k->consistent = false;
	return 0;
}

/* Public blob and private fields per key type (PuTTY's *_private_blob). */
static int parse_key(struct key_bytes alg, struct key_bytes pub, struct key_bytes priv, struct parsed_key *k)
{
	struct cur o = { pub.p, pub.n }, r = { priv.p, priv.n };
	struct key_bytes type;

	if (rd_string(&o, &type) < 0 || !bytes_same(type, alg))
		return -EINVAL;
	k->consistent = true;

	if (bytes_eq(alg, "ssh-rsa")) {
		struct key_bytes e, n, d, p, q, iqmp;

		if (rd_mpint(&o, &e) < 0 || rd_mpint(&o, &n) < 0 || rd_mpint(&r, &d) < 0 || rd_mpint(&r, &p) < 0 ||
		    rd_mpint(&r, &q) < 0 || rd_mpint(&r, &iqmp) < 0)
			return -EINVAL;
		if (n.n == 0 || e.n == 0 || d.n == 0 || p.n == 0 || q.n == 0 || iqmp.n == 0)
			return -EINVAL;
		k->fallback = "rsa";
		if (openssh_pkey_rsa(n, e, d, p, q, iqmp, &k->pkey) < 0)
			k->consistent = false;
		return 0;
	}

	if (bytes_eq(alg, "ssh-ed25519") || bytes_eq(alg, "ssh-ed448")) {
		struct key_bytes pk, sk;
		bool ed25519 = bytes_eq(alg, "ssh-ed25519");

		if (rd_string(&o, &pk) < 0 || rd_string(&r, &sk) < 0)
			return -EINVAL;
		k->fallback = ed25519 ? "ed25519" : "ed448";
		return eddsa_key(ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448, ed25519 ? 32 : 57, pk, sk, k);
	}

	if (alg.n > 11 && memcmp(alg.p, "ecdsa-sha2-", 11) == 0) {
		struct key_bytes curve, qpt, d;
		char cname[16];
		uint8_t derived[133];
		size_t dlen = 0;
		int q;

		if (rd_string(&o, &curve) < 0 || rd_string(&o, &qpt) < 0 || rd_mpint(&r, &d) < 0)
			return -EINVAL;
		if (curve.n >= sizeof(cname) || curve.n != alg.n - 11 || memcmp(curve.p, alg.p + 11, curve.n) != 0)
			return -EINVAL;
		memcpy(cname, curve.p, curve.n);
		cname[curve.n] = '\0';
		if (strcmp(cname, "nistp256") == 0)
			k->fallback = "ec-p256";
		else if (strcmp(cname, "nistp384") == 0)
			k->fallback = "ec-p384";
		else if (strcmp(cname, "nistp521") == 0)
			k->fallback = "ec-p521";
		else
			return -EOPNOTSUPP;
		q = openssh_pkey_ec(cname, d, derived, &dlen, &k->pkey);
		if (q == -EINVAL)
			return -EINVAL;
		if (q < 0 || qpt.n != dlen || memcmp(qpt.p, derived, dlen) != 0)
			k->consistent = false;
		return 0;
	}

	if (bytes_eq(alg, "ssh-dss")) {
		struct key_bytes p, q, g, y, x;
		int rc;

		if (rd_mpint(&o, &p) < 0 || rd_mpint(&o, &q) < 0 || rd_mpint(&o, &g) < 0 || rd_mpint(&o, &y) < 0 ||
		    rd_mpint(&r, &x) < 0)
			return -EINVAL;
		k->fallback = "dsa";
		rc = openssh_pkey_dsa(p, q, g, y, x, &k->pkey);
		if (rc == -EINVAL)
			return -EINVAL;
		if (rc < 0)
			k->consistent = false;
		return 0;
	}

	return -EOPNOTSUPP;
}

static bool is_lower_hex(struct key_bytes v)
{
	for (size_t i = 0; i < v.n; i++)
		if (!((v.p[i] >= '0' && v.p[i] <= '9') || (v.p[i] >= 'a' && v.p[i] <= 'f')))
			return false;
	return true;
}

static bool alg_name_ok(struct key_bytes v)
{
	if (v.n == 0 || v.n > 64)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		uint8_t ch = v.p[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '@' || ch == '.'))
			return false;
	}
	return true;
}

static int b64_decode_alloc(struct key_bytes span, uint8_t **ret, size_t *ret_len, size_t *ret_cap)
{
	size_t cap = span.n / 4 * 3 + 3, len = 0;
	uint8_t *buf = malloc(cap);
	int r;

	if (!buf)
		return -ENOMEM;
	r = keyutil_b64decode((const char *)span.p, span.n, buf, cap, &len, false);
	if (r < 0 || len == 0) {
		secure_free(buf, cap);
		return -EINVAL;
	}
	*ret = buf;
	*ret_len = len;
	*ret_cap = cap;
	return 0;
}

static void putty_on_match(struct scan_ctx *ctx, unsigned pattern, const uint8_t *win, size_t win_len, size_t pos,
			   uint64_t win_off)
{
	struct cur c;
	struct key_bytes l, alg, enc, v, pub_span, priv_span;
	unsigned version, npub, npriv;
	uint8_t *pub = NULL, *priv = NULL;
	size_t pub_len = 0, pub_cap = 0, priv_len = 0, priv_cap = 0;
	struct parsed_key k = { NULL, false, NULL };
	struct finding f = { .detector = "putty", .offset = win_off + pos };
	bool encrypted;
	int q;

	if (pos >= win_len || win_len - pos < PPK_ANCHOR_LEN)
		return;
	c = (struct cur){ win + pos, win_len - pos };
	if (next_line(&c, &l) < 0 || l.n <= PPK_ANCHOR_LEN || memcmp(l.p, "PuTTY-User-Key-File-", 20) != 0 ||
	    (l.p[20] != '2' && l.p[20] != '3') || l.p[21] != ':' || l.p[22] != ' ')
		return;
	version = l.p[20] - '0';
	alg = (struct key_bytes){ l.p + PPK_ANCHOR_LEN, l.n - PPK_ANCHOR_LEN };
	if (!alg_name_ok(alg))
		return;

	if (next_line(&c, &l) < 0 || !line_key(l, "Encryption: ", &enc) || !alg_name_ok(enc))
		return;
	encrypted = !bytes_eq(enc, "none");
	if (next_line(&c, &l) < 0 || !line_key(l, "Comment: ", &v))
		return;
	if (next_line(&c, &l) < 0 || !line_key(l, "Public-Lines: ", &v) ||
	    parse_count(v, PPK_MAX_PUBLIC_LINES, &npub) < 0 || b64_lines(&c, npub, &pub_span) < 0)
		return;
	/* Format 3 names the passphrase KDF (Argon2) of encrypted files here. */
	for (unsigned i = 0;; i++) {
		if (next_line(&c, &l) < 0 || i > PPK_MAX_KDF_LINES)
			return;
		if (line_key(l, "Private-Lines: ", &v))
			break;
		if (version != 3 || !encrypted || !(line_key(l, "Key-Derivation: ", &v) || line_key(l, "Argon2-", &v)))
			return;
	}
	if (parse_count(v, PPK_MAX_PRIVATE_LINES, &npriv) < 0 || b64_lines(&c, npriv, &priv_span) < 0)
		return;
	if (next_line(&c, &l) < 0 || !line_key(l, "Private-MAC: ", &v) || v.n != (version == 2 ? 40 : 64) ||
	    !is_lower_hex(v))
		return;
	f.length = (uint64_t)(c.p - (win + pos));

	if (b64_decode_alloc(pub_span, &pub, &pub_len, &pub_cap) < 0)
		goto out;
	if (b64_decode_alloc(priv_span, &priv, &priv_len, &priv_cap) < 0)
		goto out;

	if (encrypted) {
		struct cur o = { pub, pub_len };
		struct key_bytes type;

		/* aes256-cbc: whole blocks; the public blob is in the clear */
		if (priv_len % 16 != 0 || rd_string(&o, &type) < 0 || !bytes_same(type, alg))
			goto out;
		snprintf(f.key_type, sizeof(f.key_type), "putty-encrypted");
		f.severity = SEV_HIGH;
		f.note = "encrypted PuTTY key (passphrase not tried)";
		scan_emit(ctx, &f);
		goto out;
	}

	q = parse_key(alg, (struct key_bytes){ pub, pub_len }, (struct key_bytes){ priv, priv_len }, &k);
	if (q == -EINVAL)
		goto out;
	if (q == -EOPNOTSUPP) {
		snprintf(f.key_type, sizeof(f.key_type), "putty-unsupported");
		f.severity = SEV_HIGH;
		f.note = "unencrypted PuTTY key of an unsupported type";
		scan_emit(ctx, &f);
		goto out;
	}
	if (k.pkey && keyutil_describe(k.pkey, &f) == 0 && f.verified && k.consistent) {
		f.severity = SEV_CRITICAL;
	} else {
		f.verified = false;
		f.public_sha256[0] = '\0';
		f.severity = SEV_HIGH;
		f.note = "key material inconsistent";
	}
	if (!f.key_type[0])
		snprintf(f.key_type, sizeof(f.key_type), "%s", k.fallback);
	scan_emit(ctx, &f);
out:
	EVP_PKEY_free(k.pkey);
	free(pub);
	secure_free(priv, priv_cap);
}

static const struct detector_pattern putty_patterns[] = {
	{ .regex = "PuTTY-User-Key-File-[23]: ", .width = PPK_ANCHOR_LEN },
};

const struct detector detector_putty = {
	.name = "putty",
	.patterns = putty_patterns,
	.n_patterns = ELEMENTSOF(putty_patterns),
	.on_match = putty_on_match,
};
