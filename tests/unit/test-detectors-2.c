/* test-detectors-2.c - the OpenSSH, PuTTY, JWK, cloud service-account and
 * bearer-token detectors, driven through the real engine (vectorscan
 * anchors, windows) with one detector at a time.
 *
 * Keys are made here: OpenSSH files by ssh-keygen, PuTTY files (formats 2
 * and 3) by puttygen from them, JWKs and service-account JSON from keys
 * OpenSSL generates in this process.  The expected public_sha256 is always
 * computed independently of the detectors: SHA-256 of i2d_PUBKEY of the
 * public key as ssh-keygen exports it (or OpenSSL generated it).  Every
 * accepting case has a refusing twin.  Tests that need a missing tool are
 * reported as skipped, with the tool's name.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "detector.h"
#include "engine.h"
#include "tap.h"
#include "util.h"

static char tmpdir[64];

/* ---- small helpers */

static void skip(const char *what, const char *why)
{
	ok(1, "%s # SKIP %s", what, why);
}

static int run(const char *fmt, ...) _printf_(1, 2);
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return r == 0 ? 0 : -1;
}

static bool have(const char *tool)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = '\0';
			*ret_len = (size_t)n;
		}
	}
	fclose(fp);
	return buf;
}

/* Standard base64 with whitespace, via OpenSSL (not the code under test). */
static uint8_t *b64dec(const char *s, size_t n, size_t *ret_len)
{
	char *clean = malloc(n + 1);
	uint8_t *out;
	size_t m = 0, pad = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		if (s[i] != '\n' && s[i] != '\r' && s[i] != ' ')
			clean[m++] = s[i];
	while (pad < m && clean[m - 1 - pad] == '=')
		pad++;
	out = malloc(m / 4 * 3 + 3);
	r = EVP_DecodeBlock(out, (const unsigned char *)clean, (int)m);
	free(clean);
	if (r < 0) {
		free(out);
		return NULL;
	}
	*ret_len = (size_t)r - pad;
	return out;
}

/* base64url without padding, via OpenSSL. */
static char *b64url(const uint8_t *p, size_t n)
{
	char *out = malloc(n / 3 * 4 + 8);
	int len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);

	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (char *c = out; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	return out;
}

static char *b64url_bn(const BIGNUM *bn, int pad)
{
	uint8_t buf[1024];
	int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	return b64url(buf, (size_t)n);
}

static void pubkey_sha256(EVP_PKEY *pkey, char out[65])
{
	unsigned char *der = NULL, md[32];
	unsigned mdlen = 0;
	int len = i2d_PUBKEY(pkey, &der);

	out[0] = '\0';
	if (len <= 0)
		return;
	EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	OPENSSL_free(der);
}

/* Random bytes around a payload, at an odd offset. */
struct buf {
	uint8_t *p;
	size_t n;
};

static struct buf embed(const void *payload, size_t n, size_t before, size_t after, bool text)
{
	struct buf b = { malloc(before + n + after), before + n + after };

	random_bytes(b.p, before);
	random_bytes(b.p + before + n, after);
	if (text) /* printable filler, as in a log */
		for (size_t i = 0; i < b.n; i++)
			if (i < before || i >= before + n)
				b.p[i] = (uint8_t)('a' + b.p[i] % 26);
	memcpy(b.p + before, payload, n);
	return b;
}

/* ---- the engine with one detector */

struct scanner {
	struct engine *e;
};

static struct scanner scanner_new(const struct detector *d)
{
	const struct detector *dets[1] = { d };
	struct scanner s = { NULL };
	char why[256] = "";

	if (engine_new_with(dets, 1, 1, why, sizeof(why), &s.e) < 0) {
		printf("Bail out! engine for %s: %s\n", d->name, why);
		exit(1);
	}
	return s;
}

static size_t scan(struct scanner *s, const void *p, size_t n, const struct engine_finding **ret)
{
	size_t nf = 0;

	engine_reset(s->e);
	if (engine_view_begin(s->e, "raw", NULL, 0, 0) < 0 || engine_view_feed(s->e, p, n) < 0 ||
	    engine_view_end(s->e) < 0) {
		printf("Bail out! engine failed\n");
		exit(1);
	}
	*ret = engine_findings(s->e, &nf);
	return nf;
}

/* I7: the finding (its bytes and its note) does not contain the secret. */
static bool no_secret(const struct engine_finding *f, const void *secret, size_t n)
{
	if (n < 8)
		return true;
	if (memmem(f, sizeof(*f), secret, 8))
		return false;
	if (f->f.note && memmem(f->f.note, strlen(f->f.note), secret, 8))
		return false;
	return true;
}

static size_t count_verified(const struct engine_finding *f, size_t n)
{
	size_t v = 0;
	for (size_t i = 0; i < n; i++)
		v += f[i].f.verified;
	return v;
}

/* One finding that is a verified, critical key of this type, bits and
 * fingerprint at this offset. */
static void expect_key(const char *what, const struct engine_finding *f, size_t n, const char *type, unsigned bits,
		       const char *sha, uint64_t offset)
{
	if (!ok(n == 1, "%s: one finding (got %zu)", what, n))
		return;
	ok(f->f.verified && f->f.severity == SEV_CRITICAL, "%s: verified, critical", what);
	ok(strcmp(f->f.key_type, type) == 0, "%s: key_type %s (got %s)", what, type, f->f.key_type);
	if (bits)
		ok(f->f.bits == bits, "%s: %u bits (got %u)", what, bits, f->f.bits);
	else
		ok(f->f.bits == 253 || f->f.bits == 255 || f->f.bits == 256 || f->f.bits == 448 || f->f.bits == 456,
		   "%s: curve bits (got %u)", what, f->f.bits);
	ok(strcmp(f->f.public_sha256, sha) == 0, "%s: public_sha256 matches (%.12s..., expected %.12s...)", what,
	   f->f.public_sha256, sha);
	ok(f->f.offset == offset, "%s: offset %llu (got %llu)", what, (unsigned long long)offset,
	   (unsigned long long)f->f.offset);
}

/* ---- OpenSSH and PuTTY keys made by the tools */

struct sshkey {
	const char *name; /* file stem */
	const char *keygen; /* ssh-keygen arguments */
	const char *type;
	unsigned bits;
	char sha[65];
	bool ok;
};

static struct sshkey sshkeys[] = {
	{ "ed25519", "-t ed25519", "ed25519", 0, "", false },
	{ "rsa", "-t rsa -b 3072", "rsa", 3072, "", false },
	{ "rsa1024", "-t rsa -b 1024", "rsa", 1024, "", false },
	{ "p256", "-t ecdsa -b 256", "ec-p256", 256, "", false },
	{ "p384", "-t ecdsa -b 384", "ec-p384", 384, "", false },
	{ "p521", "-t ecdsa -b 521", "ec-p521", 521, "", false },
	{ "dsa", "-t dsa", "dsa", 1024, "", false },
};

/* Expected fingerprint from the .pub: ssh-keygen's PKCS#8 export, or for
 * Ed25519 (which it cannot export) the raw key from the blob's end. */
static int ssh_expected_sha(const char *stem, char out[65])
{
	char path[256], *txt, *sp, *end;
	size_t n, blen;
	uint8_t *blob;
	EVP_PKEY *pkey = NULL;
	BIO *bio;

	snprintf(path, sizeof(path), "%s/%s.pub", tmpdir, stem);
	if (strcmp(stem, "ed25519") == 0) {
		txt = slurp(path, &n);
		if (!txt)
			return -1;
		sp = strchr(txt, ' ');
		end = sp ? strchr(sp + 1, ' ') : NULL;
		blob = end ? b64dec(sp + 1, (size_t)(end - sp - 1), &blen) : NULL;
		if (blob && blen >= 32)
			pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, blob + blen - 32, 32);
		free(blob);
		free(txt);
	} else {
		if (run("ssh-keygen -e -m PKCS8 -f %s > %s/%s.spki.pem 2>/dev/null", path, tmpdir, stem) < 0)
			return -1;
		snprintf(path, sizeof(path), "%s/%s.spki.pem", tmpdir, stem);
		bio = BIO_new_file(path, "r");
		pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
	}
	if (!pkey)
		return -1;
	pubkey_sha256(pkey, out);
	EVP_PKEY_free(pkey);
	return 0;
}

/* The binary openssh-key-v1 blob inside an OpenSSH PEM file. */
static uint8_t *openssh_blob(const char *stem, size_t *ret_len)
{
	char path[256], *txt, *b, *e;
	size_t n;
	uint8_t *blob;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, stem);
	txt = slurp(path, &n);
	if (!txt)
		return NULL;
	b = strstr(txt, "-----BEGIN OPENSSH PRIVATE KEY-----");
	e = strstr(txt, "-----END OPENSSH PRIVATE KEY-----");
	if (!b || !e) {
		free(txt);
		return NULL;
	}
	b += strlen("-----BEGIN OPENSSH PRIVATE KEY-----");
	blob = b64dec(b, (size_t)(e - b), ret_len);
	free(txt);
	return blob;
}

/* Offset of the private section's check integers in a blob (walks the
 * public header the way PROTOCOL.key lays it out). */
static size_t section_offset(const uint8_t *b, size_t n, size_t *ret_pubkey)
{
	size_t o = 15;
	uint32_t nkeys;

#define U32(p) ((uint32_t)(p)[0] << 24 | (uint32_t)(p)[1] << 16 | (uint32_t)(p)[2] << 8 | (p)[3])
	for (int i = 0; i < 3; i++)
		o += 4 + U32(b + o);
	nkeys = U32(b + o);
	o += 4;
	*ret_pubkey = o + 4;
	for (uint32_t i = 0; i < nkeys; i++)
		o += 4 + U32(b + o);
	(void)n;
	return o + 4;
#undef U32
}

static void test_openssh(struct scanner *s)
{
	const struct engine_finding *f;
	size_t n, blen;
	uint8_t *blob;
	char what[128];

	if (!have("ssh-keygen")) {
		skip("openssh keys", "ssh-keygen not installed (openssh-client)");
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(sshkeys); i++) {
		struct sshkey *k = &sshkeys[i];
		struct finding d = { .detector = "caller", .offset = 77 };
		struct buf b;

		if (run("ssh-keygen -q %s -N '' -C 'user@host' -f %s/%s </dev/null >/dev/null 2>&1", k->keygen, tmpdir,
			k->name) < 0) {
			skip(k->name, "ssh-keygen cannot make this key type");
			continue;
		}
		blob = openssh_blob(k->name, &blen);
		if (!ok(blob && ssh_expected_sha(k->name, k->sha) == 0, "openssh %s: made and exported", k->name)) {
			free(blob);
			continue;
		}
		k->ok = true;

		/* the binary blob in random data at an odd offset */
		b = embed(blob, blen, 4099, 777, false);
		n = scan(s, b.p, b.n, &f);
		snprintf(what, sizeof(what), "openssh %s raw blob", k->name);
		expect_key(what, f, n, k->type, k->bits, k->sha, 4099);
		if (n == 1) {
			ok(f->f.length == blen, "%s: length is the blob's (%llu)", what, (unsigned long long)f->f.length);
			size_t pub, sec = section_offset(blob, blen, &pub);
			ok(no_secret(f, blob + sec + (blen - sec) / 2, 16), "%s: no secret bytes in the finding", what);
		}
		free(b.p);

		/* openssh_describe() as the PEM detector calls it */
		ok(openssh_describe(blob, blen, &d) == 0 && d.verified && strcmp(d.public_sha256, k->sha) == 0 &&
			   strcmp(d.detector, "caller") == 0 && d.offset == 77,
		   "openssh_describe %s: verified, caller's detector and offset kept", k->name);
		/* cut short anywhere: never verified, never a crash */
		{
			bool any = false;
			for (size_t cut = 0; cut < blen; cut += (blen / 97) + 1) {
				struct finding t = { 0 };
				if (openssh_describe(blob, cut, &t) == 0 && t.verified)
					any = true;
			}
			ok(!any, "openssh_describe %s: a truncated blob is never verified", k->name);
		}
		free(blob);
	}

	/* encrypted: reported, not verified */
	if (run("ssh-keygen -q -t ed25519 -N 'correct horse' -f %s/enc </dev/null >/dev/null 2>&1", tmpdir) == 0 &&
	    (blob = openssh_blob("enc", &blen))) {
		struct buf b = embed(blob, blen, 1001, 100, false);

		n = scan(s, b.p, b.n, &f);
		ok(n == 1 && !f->f.verified && f->f.severity == SEV_HIGH && strcmp(f->f.key_type, "openssh-encrypted") == 0 &&
			   !f->f.public_sha256[0] && f->f.note && strstr(f->f.note, "passphrase not tried"),
		   "openssh encrypted: high, not verified, openssh-encrypted");
		free(b.p);
		free(blob);
	} else {
		ok(0, "openssh encrypted: ssh-keygen -N made a key");
	}

	/* mismatching check integers: not a key */
	if ((blob = openssh_blob("ed25519", &blen))) {
		size_t pub, sec = section_offset(blob, blen, &pub);
		struct buf b;

		blob[sec + 7] ^= 0x01; /* second checkint */
		b = embed(blob, blen, 333, 333, false);
		n = scan(s, b.p, b.n, &f);
		ok(count_verified(f, n) == 0, "openssh checkints differ: nothing verified (%zu findings)", n);
		ok(n == 0, "openssh checkints differ: no finding at all");
		free(b.p);
		blob[sec + 7] ^= 0x01;

		/* the outer public key is not the private key's: reported, unverified */
		blob[pub + 4 + 11 + 4 + 5] ^= 0x40; /* string "ssh-ed25519", string pk[5] */
		b = embed(blob, blen, 333, 333, false);
		n = scan(s, b.p, b.n, &f);
		ok(n == 1 && !f->f.verified && f->f.severity == SEV_HIGH && !f->f.public_sha256[0] &&
			   f->f.note && strcmp(f->f.note, "key material inconsistent") == 0,
		   "openssh public blob mismatch: high, not verified, inconsistent");
		free(b.p);
		free(blob);
	}

	/* a bare magic (string constants in ssh binaries): nothing */
	{
		static const char bare[] = "xx openssh-key-v1\0\0\0\0\4none\0\0\0\4none yy";
		n = scan(s, bare, sizeof(bare), &f);
		ok(n == 0, "openssh bare magic: no finding");
	}

	/* across the engine's window edge: the anchor near the end of core 0 */
	if ((blob = openssh_blob("rsa", &blen)) && sshkeys[1].ok) {
		size_t at = ENGINE_CORE - 5;
		struct buf b = embed(blob, blen, at, 4096, false);

		n = scan(s, b.p, b.n, &f);
		expect_key("openssh rsa across a window edge", f, n, "rsa", 3072, sshkeys[1].sha, at);
		free(b.p);
	}
	free(blob);
}

static void test_putty(struct scanner *s)
{
	const struct engine_finding *f;
	size_t n, len;
	char path[256], what[128], *txt;

	if (!have("puttygen")) {
		skip("putty keys", "puttygen not installed (putty-tools)");
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(sshkeys); i++) {
		struct sshkey *k = &sshkeys[i];

		if (!k->ok)
			continue;
		for (int v = 2; v <= 3; v++) {
			struct buf b;

			if (run("puttygen %s/%s -O private --ppk-param version=%d -o %s/%s.v%d.ppk >/dev/null 2>&1", tmpdir,
				k->name, v, tmpdir, k->name, v) < 0) {
				skip(k->name, "puttygen cannot convert this key");
				continue;
			}
			snprintf(path, sizeof(path), "%s/%s.v%d.ppk", tmpdir, k->name, v);
			txt = slurp(path, &len);
			if (!ok(txt != NULL, "putty %s v%d: file made", k->name, v))
				continue;
			b = embed(txt, len, 2047, 513, true);
			n = scan(s, b.p, b.n, &f);
			snprintf(what, sizeof(what), "putty %s v%d", k->name, v);
			expect_key(what, f, n, k->type, k->bits, k->sha, 2047);
			if (n == 1)
				ok(f->f.length == len, "%s: length is the file's", what);
			free(b.p);

			/* truncated inside the private lines, and inside the MAC */
			{
				char *priv = strstr(txt, "Private-Lines:"), *mac = strstr(txt, "Private-MAC:");
				size_t cut1 = (size_t)(priv - txt) + 20, cut2 = (size_t)(mac - txt) + 20;

				n = scan(s, txt, cut1, &f);
				ok(n == 0, "%s truncated in the private lines: nothing", what);
				n = scan(s, txt, cut2, &f);
				ok(n == 0, "%s truncated in the MAC: nothing", what);
			}
			/* CRLF line ends (a file that went through Windows) */
			if (i == 0) {
				char *crlf = malloc(2 * len + 1);
				size_t m = 0;
				for (size_t j = 0; j < len; j++) {
					if (txt[j] == '\n')
						crlf[m++] = '\r';
					crlf[m++] = txt[j];
				}
				n = scan(s, crlf, m, &f);
				ok(n == 1 && f->f.verified, "%s with CRLF line ends: verified", what);
				free(crlf);
			}
			free(txt);
		}
	}

	/* encrypted, both versions: reported, not verified */
	if (sshkeys[1].ok) {
		snprintf(path, sizeof(path), "%s/pw", tmpdir);
		FILE *fp = fopen(path, "w");
		if (fp) {
			fputs("correct horse\n", fp);
			fclose(fp);
		}
		for (int v = 2; v <= 3; v++) {
			if (run("puttygen %s/rsa -O private --ppk-param version=%d --new-passphrase %s/pw -o %s/enc.v%d.ppk "
				">/dev/null 2>&1",
				tmpdir, v, tmpdir, tmpdir, v) < 0) {
				ok(0, "putty encrypted v%d: made", v);
				continue;
			}
			snprintf(path, sizeof(path), "%s/enc.v%d.ppk", tmpdir, v);
			txt = slurp(path, &len);
			n = txt ? scan(s, txt, len, &f) : 0;
			ok(n == 1 && !f->f.verified && f->f.severity == SEV_HIGH &&
				   strcmp(f->f.key_type, "putty-encrypted") == 0 && !f->f.public_sha256[0],
			   "putty encrypted v%d: high, not verified, putty-encrypted", v);
			free(txt);
		}
	}

	/* the header alone (as in PuTTY's binaries): nothing */
	{
		static const char hdr[] = "\0PuTTY-User-Key-File-2: \0PuTTY-User-Key-File-3: %s\nEncryption: none\n";
		n = scan(s, hdr, sizeof(hdr) - 1, &f);
		ok(n == 0, "putty bare header: nothing");
	}
}

/* ---- JWKs from keys OpenSSL makes here */

static char *jwk_of(EVP_PKEY *pkey, bool with_private, bool rsa_factors)
{
	json_t *o = json_object();
	char *out;

	json_object_set_new(o, "use", json_string("sig")); /* "kty" not first */
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		static const char *const names[] = { "n", "e", "d", "p", "q", "dp", "dq", "qi" };
		static const char *const params[] = { OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
						      OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
						      OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
						      OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 };
		json_object_set_new(o, "kty", json_string("RSA"));
		for (size_t i = 0; i < ELEMENTSOF(names); i++) {
			BIGNUM *bn = NULL;
			char *v;
			if (i >= 2 && !with_private)
				break;
			if (i >= 3 && !rsa_factors)
				break;
			EVP_PKEY_get_bn_param(pkey, params[i], &bn);
			v = b64url_bn(bn, 0);
			json_object_set_new(o, names[i], json_string(v));
			free(v);
			BN_clear_free(bn);
		}
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[32] = "";
		uint8_t pub[133];
		size_t publen = 0, fl;
		BIGNUM *d = NULL;
		char *x, *y, *dv;

		EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL);
		EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &publen);
		fl = (publen - 1) / 2;
		json_object_set_new(o, "kty", json_string("EC"));
		json_object_set_new(o, "crv", json_string(strcmp(group, "prime256v1") == 0  ? "P-256"
							  : strcmp(group, "secp384r1") == 0 ? "P-384"
											    : "P-521"));
		x = b64url(pub + 1, fl);
		y = b64url(pub + 1 + fl, fl);
		json_object_set_new(o, "x", json_string(x));
		json_object_set_new(o, "y", json_string(y));
		if (with_private) {
			EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d);
			dv = b64url_bn(d, (int)fl);
			json_object_set_new(o, "d", json_string(dv));
			free(dv);
			BN_clear_free(d);
		}
		free(x);
		free(y);
	} else {
		uint8_t raw[64];
		size_t rl = sizeof(raw);
		char *v;

		json_object_set_new(o, "kty", json_string("OKP"));
		json_object_set_new(o, "crv", json_string(EVP_PKEY_is_a(pkey, "ED25519") ? "Ed25519" : "X25519"));
		EVP_PKEY_get_raw_public_key(pkey, raw, &rl);
		v = b64url(raw, rl);
		json_object_set_new(o, "x", json_string(v));
		free(v);
		if (with_private) {
			rl = sizeof(raw);
			EVP_PKEY_get_raw_private_key(pkey, raw, &rl);
			v = b64url(raw, rl);
			json_object_set_new(o, "d", json_string(v));
			free(v);
		}
	}
	out = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2));
	json_decref(o);
	return out;
}

struct genkey {
	const char *alg, *arg, *type;
	unsigned bits;
};

static const struct genkey genkeys[] = {
	{ "RSA", "2048", "rsa", 2048 },   { "EC", "P-256", "ec-p256", 256 },  { "EC", "P-384", "ec-p384", 384 },
	{ "EC", "P-521", "ec-p521", 521 }, { "ED25519", NULL, "ed25519", 0 }, { "X25519", NULL, "x25519", 0 },
};

static EVP_PKEY *gen(const struct genkey *g)
{
	if (strcmp(g->alg, "RSA") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(g->arg));
	if (strcmp(g->alg, "EC") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", g->arg);
	return EVP_PKEY_Q_keygen(NULL, NULL, g->alg);
}

static void test_jwk(struct scanner *s)
{
	const struct engine_finding *f;
	size_t n;
	char what[128], sha[65];
	EVP_PKEY *keys[ELEMENTSOF(genkeys)];

	for (size_t i = 0; i < ELEMENTSOF(genkeys); i++) {
		char *j = NULL;
		struct buf b;

		keys[i] = gen(&genkeys[i]);
		pubkey_sha256(keys[i], sha);
		j = jwk_of(keys[i], true, true);
		b = embed(j, strlen(j), 3001, 3001, true);
		n = scan(s, b.p, b.n, &f);
		snprintf(what, sizeof(what), "jwk %s %s", genkeys[i].alg, genkeys[i].arg ? genkeys[i].arg : "");
		expect_key(what, f, n, genkeys[i].type, genkeys[i].bits, sha, 3001);
		if (n == 1) {
			char *d = strstr(j, "\"d\": \"");
			ok(f->f.length == strlen(j), "%s: length is the object's", what);
			ok(d && no_secret(f, d + 6, 16), "%s: no secret bytes in the finding", what);
		}
		free(b.p);
		free(j);

		/* public only: nothing */
		j = jwk_of(keys[i], false, false);
		n = scan(s, j, strlen(j), &f);
		ok(n == 0, "%s public only: nothing", what);
		free(j);
	}

	/* RSA with n, e, d only: the factors are recovered, verified */
	{
		char *j = jwk_of(keys[0], true, false);
		pubkey_sha256(keys[0], sha);
		n = scan(s, j, strlen(j), &f);
		expect_key("jwk RSA without p, q", f, n, "rsa", 2048, sha, 0);
		free(j);
	}

	/* a JWK Set: each private key its own finding, the public one none */
	{
		json_t *set = json_object(), *arr = json_array();
		char *txt, *one;
		int idx[] = { 1, 4, 0 };

		for (int k = 0; k < 3; k++) {
			one = jwk_of(keys[idx[k]], k < 2, true);
			json_array_append_new(arr, json_loads(one, 0, NULL));
			free(one);
		}
		json_object_set_new(set, "keys", arr);
		txt = json_dumps(set, JSON_COMPACT | JSON_PRESERVE_ORDER);
		n = scan(s, txt, strlen(txt), &f);
		ok(n == 2 && count_verified(f, n) == 2 && strcmp(f[0].f.key_type, "ec-p256") == 0 &&
			   strcmp(f[1].f.key_type, "ed25519") == 0 && f[0].f.offset > 0,
		   "jwk set: two private keys found, the public one not (%zu)", n);
		free(txt);
		json_decref(set);
	}

	/* a wrong "d": reported, high, not verified */
	for (size_t i = 0; i < ELEMENTSOF(genkeys); i++) {
		json_t *o, *other;
		char *j = jwk_of(keys[i], true, true), *j2, *txt;
		EVP_PKEY *k2 = gen(&genkeys[i]);

		/* d of another key of the same kind, the rest of this one */
		j2 = jwk_of(k2, true, true);
		o = json_loads(j, 0, NULL);
		other = json_loads(j2, 0, NULL);
		json_object_set(o, "d", json_object_get(other, "d"));
		txt = json_dumps(o, JSON_PRESERVE_ORDER);
		n = scan(s, txt, strlen(txt), &f);
		snprintf(what, sizeof(what), "jwk %s %s with a wrong d", genkeys[i].alg, genkeys[i].arg ? genkeys[i].arg : "");
		ok(n == 1 && !f->f.verified && f->f.severity == SEV_HIGH && !f->f.public_sha256[0] && f->f.note &&
			   strcmp(f->f.note, "key material inconsistent") == 0,
		   "%s: high, not verified, inconsistent", what);
		free(txt);
		json_decref(o);
		json_decref(other);
		free(j);
		free(j2);
		EVP_PKEY_free(k2);
	}

	/* "kty" as a value, in an array, in a broken object: nothing */
	{
		static const char *const decoys[] = {
			"{\"name\":\"kty\",\"d\":\"AAAA\"}",
			"[\"kty\",\"RSA\",\"d\"]",
			"{\"kty\":\"EC\",\"crv\":\"P-256\",\"d\":\"AAAA\"",
			"{\"kty\":\"oct\",\"k\":\"c2VjcmV0c2VjcmV0c2VjcmV0\"}",
		};
		for (size_t i = 0; i < ELEMENTSOF(decoys); i++) {
			n = scan(s, decoys[i], strlen(decoys[i]), &f);
			ok(n == 0, "jwk decoy %zu: nothing", i);
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(genkeys); i++)
		EVP_PKEY_free(keys[i]);
}

/* json_enclosing_object() on its own */
static void test_enclosing(void)
{
	static const struct {
		const char *text, *anchor, *object; /* object NULL: -ENOENT */
	} cases[] = {
		{ "xx{\"a\":{\"b\":1},\"kty\":2}yy", "\"kty\"", "{\"a\":{\"b\":1},\"kty\":2}" },
		{ "{\"s\":\"}{\\\"\",\"kty\":\"}\"}", "\"kty\"", "{\"s\":\"}{\\\"\",\"kty\":\"}\"}" },
		{ "{\"keys\":[{\"kty\":1},{\"kty\":2}]}", "\"kty\":2", "{\"kty\":2}" },
		{ "[\"kty\"]", "\"kty\"", NULL },
		{ "{\"kty\":1", "\"kty\"", NULL },
		{ "\"kty\":1}", "\"kty\"", NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const char *t = cases[i].text, *a = strstr(t, cases[i].anchor);
		size_t st = 0, en = 0;
		int r = json_enclosing_object((const uint8_t *)t, strlen(t), (size_t)(a - t), &st, &en);

		if (cases[i].object)
			ok(r == 0 && en - st == strlen(cases[i].object) && memcmp(t + st, cases[i].object, en - st) == 0,
			   "json_enclosing_object case %zu", i);
		else
			ok(r == -ENOENT, "json_enclosing_object case %zu: -ENOENT", i);
	}
}

/* ---- cloud service-account JSON */

static void test_cloud_sa(struct scanner *s)
{
	static const char email[] = "svc-demo@demo-project.iam.gserviceaccount.com";
	const struct engine_finding *f;
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem, sha[65], *txt, *body;
	long pl;
	size_t n;
	json_t *o;
	struct buf b;

	PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
	pl = BIO_get_mem_data(bio, &pem);
	pem = strndup(pem, (size_t)pl);
	pubkey_sha256(pkey, sha);
	body = strstr(pem, "\n") + 1;

	/* the GCP form */
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "service_account", "project_id", "demo-project",
		      "private_key_id", "0123456789abcdef0123456789abcdef01234567", "private_key", pem, "client_email",
		      email, "token_uri", "https://oauth2.googleapis.com/token");
	txt = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2));
	json_decref(o);
	ok(strstr(txt, "-----BEGIN PRIVATE KEY-----\\n") != NULL, "cloud-sa: the PEM is JSON-escaped");
	b = embed(txt, strlen(txt), 5003, 1234, true);
	n = scan(s, b.p, b.n, &f);
	expect_key("cloud-sa GCP", f, n, "rsa", 2048, sha, 5003);
	if (n == 1) {
		ok(f->f.note && strstr(f->f.note, "service-account") && strstr(f->f.note, "GCP"),
		   "cloud-sa GCP: the note says so");
		ok(no_secret(f, email, 8) && no_secret(f, body, 16), "cloud-sa GCP: neither email nor key in the finding");
	}
	free(b.p);

	/* cut short after the key: the member alone is enough */
	{
		char *end = strstr(txt, "\"client_email\"");
		n = scan(s, txt, (size_t)(end - txt), &f);
		ok(n == 1 && f->f.verified && strcmp(f->f.public_sha256, sha) == 0,
		   "cloud-sa object cut short: still verified");
	}
	free(txt);

	/* another cloud's form: only a private_key member */
	o = json_pack("{s:s,s:s}", "private_key", pem, "name", "x");
	txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	n = scan(s, txt, strlen(txt), &f);
	ok(n == 1 && f->f.verified && f->f.note && strcmp(f->f.note, "cloud service-account key") == 0,
	   "cloud-sa generic form: verified, plain note");
	free(txt);

	/* a PEM label with no key behind it (documentation, templates) */
	txt = strdup("{\"type\": \"service_account\", \"private_key_id\": \"x\", "
		     "\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkq\\n-----END PRIVATE KEY-----\\n\"}");
	n = scan(s, txt, strlen(txt), &f);
	ok(n == 0, "cloud-sa placeholder PEM: nothing");
	free(txt);
	txt = strdup("{\"private_key_id\": \"abc\", \"private_key\": 42}");
	n = scan(s, txt, strlen(txt), &f);
	ok(n == 0, "cloud-sa private_key not a string: nothing");
	free(txt);

	/* a key whose factors were tampered with: reported, unverified */
	{
		BIO *b2 = BIO_new(BIO_s_mem());
		EVP_PKEY *bad = NULL;
		BIGNUM *nn = NULL, *e = NULL, *d = NULL, *p = NULL, *q = NULL;
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		OSSL_PARAM *params;
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
		char *pem2;

		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &nn);
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e);
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d);
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &p);
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, &q);
		BN_add_word(p, 2);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, nn);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, d);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, d);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, q);
		params = OSSL_PARAM_BLD_to_param(bld);
		EVP_PKEY_fromdata_init(pc);
		EVP_PKEY_fromdata(pc, &bad, EVP_PKEY_KEYPAIR, params);
		if (bad && PEM_write_bio_PrivateKey(b2, bad, NULL, NULL, 0, NULL, NULL) == 1) {
			pl = BIO_get_mem_data(b2, &pem2);
			pem2 = strndup(pem2, (size_t)pl);
			o = json_pack("{s:s,s:s}", "type", "service_account", "private_key", pem2);
			txt = json_dumps(o, 0);
			n = scan(s, txt, strlen(txt), &f);
			ok(n == 1 && !f->f.verified && f->f.severity == SEV_HIGH && !f->f.public_sha256[0],
			   "cloud-sa inconsistent key: high, not verified");
			free(txt);
			free(pem2);
			json_decref(o);
		} else {
			ok(0, "cloud-sa: made an inconsistent key");
		}
		OSSL_PARAM_free(params);
		OSSL_PARAM_BLD_free(bld);
		EVP_PKEY_CTX_free(pc);
		EVP_PKEY_free(bad);
		BN_free(nn);
		BN_free(e);
		BN_free(d);
		BN_free(p);
		BN_free(q);
		BIO_free(b2);
	}

	free(pem);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
}

/* ---- bearer tokens (built at run time, so no token sits in the source) */

static char *alnum_run(char *out, size_t n, const char *alphabet)
{
	uint8_t r[256];
	size_t m = strlen(alphabet);

	random_bytes(r, n);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[r[i] % m];
	out[n] = '\0';
	return out;
}

static const char upper_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* text "...<before>TOKEN<after>..." scanned; how many findings of type. */
static size_t token_case(struct scanner *s, const char *before, const char *token, const char *after,
			 const char *type, uint64_t *ret_len, uint64_t *ret_off)
{
	char text[2048];
	const struct engine_finding *f;
	size_t n, m = 0;

	snprintf(text, sizeof(text), "Authorization header%s%s%s and more", before, token, after);
	n = scan(s, text, strlen(text), &f);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].f.key_type, type) != 0 || f[i].f.severity != SEV_MEDIUM || f[i].f.verified ||
		    f[i].f.public_sha256[0] || !no_secret(&f[i], token, strlen(token)))
			return 1000; /* wrong shape: fails every expectation */
		if (ret_len)
			*ret_len = f[i].f.length;
		if (ret_off)
			*ret_off = f[i].f.offset;
		m++;
	}
	return m;
}

static char *jwt(const char *header, const char *payload, size_t siglen)
{
	char *h = b64url((const uint8_t *)header, strlen(header)), *p = b64url((const uint8_t *)payload, strlen(payload));
	char sig[512], *out;

	alnum_run(sig, siglen, b64u);
	out = malloc(strlen(h) + strlen(p) + siglen + 3);
	sprintf(out, "%s.%s.%s", h, p, sig);
	free(h);
	free(p);
	return out;
}

static void test_tokens(struct scanner *s)
{
	char tok[256], body[128];
	uint64_t len = 0, off = 0;
	size_t prefix = strlen("Authorization header"), n;
	char *t;

	/* JWT */
	t = jwt("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", "{\"sub\":\"1234567890\",\"iat\":1516239022}", 86);
	n = token_case(s, ": Bearer ", t, "\n", "jwt", &len, &off);
	ok(n == 1 && len == strlen(t) && off == prefix + strlen(": Bearer "), "jwt: found, length %llu of %zu, offset",
	   (unsigned long long)len, strlen(t));
	ok(token_case(s, "\"", t, "\"", "jwt", NULL, NULL) == 1, "jwt in quotes: found");
	ok(token_case(s, "x", t, "", "jwt", NULL, NULL) == 0, "jwt inside a longer base64 run: nothing");
	free(t);
	t = jwt("{alg:RS256}", "{\"sub\":\"1\"}", 86);
	ok(token_case(s, " ", t, " ", "jwt", NULL, NULL) == 0, "jwt whose header is not JSON: nothing");
	free(t);
	t = jwt("{\"typ\":\"JWT\"}", "{\"sub\":\"1\"}", 86);
	ok(token_case(s, " ", t, " ", "jwt", NULL, NULL) == 0, "jwt header without alg: nothing");
	free(t);
	t = jwt("{\"alg\":\"HS256\"}", "not json", 86);
	ok(token_case(s, " ", t, " ", "jwt", NULL, NULL) == 0, "jwt whose payload is not JSON: nothing");
	free(t);
	t = jwt("{\"alg\":\"HS256\"}", "{\"sub\":\"1\"}", 15);
	ok(token_case(s, " ", t, " ", "jwt", NULL, NULL) == 0, "jwt with a 15-character signature: nothing");
	free(t);

	/* AWS access key ids */
	snprintf(tok, sizeof(tok), "AKIA%s", alnum_run(body, 16, upper_digits));
	ok(token_case(s, "=", tok, "\n", "aws-access-key", &len, NULL) == 1 && len == 20, "aws AKIA: found");
	snprintf(tok, sizeof(tok), "ASIA%s", alnum_run(body, 16, upper_digits));
	ok(token_case(s, " ", tok, "", "aws-access-key", NULL, NULL) == 1, "aws ASIA: found");
	snprintf(tok, sizeof(tok), "AKIA%s", alnum_run(body, 15, upper_digits));
	ok(token_case(s, " ", tok, " ", "aws-access-key", NULL, NULL) == 0, "aws AKIA + 15: nothing");
	snprintf(tok, sizeof(tok), "AKIA%s", alnum_run(body, 17, upper_digits));
	ok(token_case(s, " ", tok, " ", "aws-access-key", NULL, NULL) == 0, "aws AKIA + 17: nothing");
	snprintf(tok, sizeof(tok), "AKIA%s", alnum_run(body, 16, upper_digits));
	ok(token_case(s, "x", tok, " ", "aws-access-key", NULL, NULL) == 0, "aws preceded by a letter: nothing");

	/* GitHub */
	snprintf(tok, sizeof(tok), "ghp_%s", alnum_run(body, 36, alnum));
	ok(token_case(s, " ", tok, " ", "github-token", &len, NULL) == 1 && len == 40, "github ghp_: found");
	snprintf(tok, sizeof(tok), "ghs_%s", alnum_run(body, 36, alnum));
	ok(token_case(s, "'", tok, "'", "github-token", NULL, NULL) == 1, "github ghs_: found");
	snprintf(tok, sizeof(tok), "ghp_%s", alnum_run(body, 35, alnum));
	ok(token_case(s, " ", tok, " ", "github-token", NULL, NULL) == 0, "github ghp_ + 35: nothing");
	snprintf(tok, sizeof(tok), "github_pat_%s_%s", alnum_run(body, 22, alnum), alnum_run(body + 40, 59, alnum));
	ok(token_case(s, " ", tok, " ", "github-token", &len, NULL) == 1 && len == 93, "github_pat_: found");

	/* Slack */
	snprintf(tok, sizeof(tok), "xoxb-%s-%s", alnum_run(body, 12, "0123456789"), alnum_run(body + 20, 24, alnum));
	ok(token_case(s, " ", tok, " ", "slack-token", &len, NULL) == 1 && len == strlen(tok), "slack xoxb-: found");
	ok(token_case(s, " ", "xoxb-123456789", " ", "slack-token", NULL, NULL) == 0, "slack xoxb- + 9: nothing");
	ok(token_case(s, "a", tok, " ", "slack-token", NULL, NULL) == 0, "slack preceded by a letter: nothing");

	/* Google API keys */
	snprintf(tok, sizeof(tok), "AIza%s", alnum_run(body, 35, b64u));
	ok(token_case(s, "key=", tok, "&", "google-api-key", &len, NULL) == 1 && len == 39, "google AIza: found");
	snprintf(tok, sizeof(tok), "AIza%s", alnum_run(body, 34, b64u));
	ok(token_case(s, "key=", tok, "&", "google-api-key", NULL, NULL) == 0, "google AIza + 34: nothing");
}

int main(void)
{
	struct scanner s_openssh, s_putty, s_jwk, s_sa, s_token;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dg-test-det2-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	s_openssh = scanner_new(&detector_openssh);
	s_putty = scanner_new(&detector_putty);
	s_jwk = scanner_new(&detector_jwk);
	s_sa = scanner_new(&detector_cloud_sa);
	s_token = scanner_new(&detector_token);

	test_openssh(&s_openssh);
	test_putty(&s_putty);
	test_jwk(&s_jwk);
	test_enclosing();
	test_cloud_sa(&s_sa);
	test_tokens(&s_token);

	engine_free(s_openssh.e);
	engine_free(s_putty.e);
	engine_free(s_jwk.e);
	engine_free(s_sa.e);
	engine_free(s_token.e);
	run("rm -rf '%s'", tmpdir);
	return tap_done();
}
