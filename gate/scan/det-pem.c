/* det-pem.c - PEM-armoured private keys: "-----BEGIN <label>-----".
 *
 * A BEGIN line alone proves nothing: libcrypto itself contains every label
 * as a string constant.  A finding needs the whole armour - BEGIN line,
 * optional RFC 1421 / OpenPGP headers, a base64 body and the END line with
 * the same label - within DETECTOR_LOOKAHEAD bytes, and a body that decodes
 * to a private key structure:
 *
 *	RSA/EC/DSA PRIVATE KEY   traditional DER (PKCS#1, SEC1, OpenSSL DSA)
 *	PRIVATE KEY              PKCS#8 PrivateKeyInfo (v1 or RFC 5958 v2)
 *	ENCRYPTED PRIVATE KEY    PKCS#8 EncryptedPrivateKeyInfo (not decrypted)
 *	OPENSSH PRIVATE KEY      openssh-key-v1, handed to openssh_describe()
 *	PGP PRIVATE KEY BLOCK    first packet a secret key or subkey packet
 *
 * Traditional keys with "Proc-Type: 4,ENCRYPTED" are reported as encrypted.
 * A plain body is parsed by keyutil_der_private() whatever the label says
 * (a key under the wrong label is still a key) and verified by
 * keyutil_describe(); only then is it critical.
 *
 * Keys pasted into other text are common, so the body may be broken by any
 * whitespace (one line, CRLF, spaces), by escaped newlines ("\n" inside JSON
 * or C strings, and JSON's "\/" for '/') and by double quotes (C string
 * literals, one per line).
 *
 * The finding spans from "-----BEGIN" through the closing dashes of the END
 * line.  The base64 text and the decoded key are secret: both live only in
 * buffers that are wiped before they are freed (I7).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "detector.h"
#include "util.h"

enum pem_kind {
	PEM_RSA,
	PEM_EC,
	PEM_DSA,
	PEM_PKCS8,
	PEM_PKCS8_ENCRYPTED,
	PEM_OPENSSH,
	PEM_PGP,
};

#define BEGIN "-----BEGIN "
#define END "-----END "
#define DASHES "-----"
#define PEM_PATTERN(label) { .regex = BEGIN label DASHES, .width = sizeof(BEGIN label DASHES) - 1 }

/* Index i of pem_patterns[] is the label pem_labels[i]. */
static const struct {
	const char *label;
	enum pem_kind kind;
} pem_labels[] = {
	{ "RSA PRIVATE KEY", PEM_RSA },
	{ "EC PRIVATE KEY", PEM_EC },
	{ "DSA PRIVATE KEY", PEM_DSA },
	{ "PRIVATE KEY", PEM_PKCS8 },
	{ "ENCRYPTED PRIVATE KEY", PEM_PKCS8_ENCRYPTED },
	{ "OPENSSH PRIVATE KEY", PEM_OPENSSH },
	{ "PGP PRIVATE KEY BLOCK", PEM_PGP },
};

static const struct detector_pattern pem_patterns[] = {
	PEM_PATTERN("RSA PRIVATE KEY"),
	PEM_PATTERN("EC PRIVATE KEY"),
	PEM_PATTERN("DSA PRIVATE KEY"),
	PEM_PATTERN("PRIVATE KEY"),
	PEM_PATTERN("ENCRYPTED PRIVATE KEY"),
	PEM_PATTERN("OPENSSH PRIVATE KEY"),
	PEM_PATTERN("PGP PRIVATE KEY BLOCK"),
};
_Static_assert(ELEMENTSOF(pem_labels) == ELEMENTSOF(pem_patterns), "one label per pattern");

/* At most this many header lines ("Proc-Type:", "Version:", ...). */
#define PEM_MAX_HEADERS 32

/* ---- the armour */

static bool is_b64(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Length of a separator at w[i] (0 if none); *ret_eol tells whether it
 * ends a line.  Separators: whitespace, '"', and the escapes \n \r \t. */
static size_t sep_len(const uint8_t *w, size_t i, size_t lim, bool *ret_eol)
{
	uint8_t c = w[i];

	*ret_eol = false;
	switch (c) {
	case '\n':
	case '\r':
		*ret_eol = true;
		return 1;
	case ' ':
	case '\t':
	case '\v':
	case '\f':
	case '"':
		return 1;
	case '\\':
		if (i + 1 < lim && (w[i + 1] == 'n' || w[i + 1] == 'r')) {
			*ret_eol = true;
			return 2;
		}
		if (i + 1 < lim && w[i + 1] == 't')
			return 2;
		return 0;
	default:
		return 0;
	}
}

/* An RFC 1421 / RFC 4880 header starts a line with "Name:"; base64 never
 * contains ':', so a body line cannot be mistaken for one. */
static size_t header_name_len(const uint8_t *w, size_t i, size_t lim)
{
	size_t j = i;

	while (j < lim && j - i < 64 &&
	       ((w[j] >= 'A' && w[j] <= 'Z') || (w[j] >= 'a' && w[j] <= 'z') || (w[j] >= '0' && w[j] <= '9') ||
		w[j] == '-'))
		j++;
	if (j == i || j >= lim || w[j] != ':')
		return 0;
	return j - i;
}

static bool has_at(const uint8_t *w, size_t i, size_t lim, const char *s)
{
	size_t n = strlen(s);

	return lim - i >= n && memcmp(w + i, s, n) == 0;
}

struct pem_body {
	size_t end;        /* index just past the END line's closing dashes */
	size_t nsym;       /* base64 symbols (with '=') in the body */
	bool proc_encrypted; /* "Proc-Type: 4,ENCRYPTED" */
	bool dek_info;     /* "DEK-Info:" */
};

/* Walk the armour from i (just after the BEGIN line's dashes) to the END
 * line, never past lim.  With out, copy the body's base64 symbols there
 * (cap bytes).  0 and *ret on success; -EINVAL if this is not a complete
 * PEM block with a body. */
static int pem_walk(const uint8_t *w, size_t i, size_t lim, const char *label, bool pgp, char *out, size_t cap,
		    struct pem_body *ret)
{
	struct pem_body b = { 0 };
	bool in_headers = true, after_sep = true, crc_seen = false;
	unsigned nheaders = 0;

	while (i < lim) {
		bool eol;
		size_t s = sep_len(w, i, lim, &eol), hl;
		uint8_t c = w[i];

		if (s) {
			i += s;
			after_sep = true;
			continue;
		}
		if (in_headers && (hl = header_name_len(w, i, lim)) > 0) {
			size_t v = i + hl + 1, e = v;

			if (++nheaders > PEM_MAX_HEADERS)
				return -EINVAL;
			/* the value runs to the end of the line */
			while (e < lim && !(sep_len(w, e, lim, &eol) && eol))
				e++;
			if (hl == 9 && memcmp(w + i, "Proc-Type", 9) == 0 &&
			    memmem(w + v, e - v, "ENCRYPTED", 9) != NULL)
				b.proc_encrypted = true;
			if (hl == 8 && memcmp(w + i, "DEK-Info", 8) == 0)
				b.dek_info = true;
			i = e;
			continue;
		}
		in_headers = false;

		if (c == '-') {
			size_t ll = strlen(label);

			if (!has_at(w, i, lim, END) || lim - i - strlen(END) < ll + strlen(DASHES) ||
			    memcmp(w + i + strlen(END), label, ll) != 0 ||
			    memcmp(w + i + strlen(END) + ll, DASHES, strlen(DASHES)) != 0)
				return -EINVAL;
			if (b.nsym == 0)
				return -EINVAL;
			b.end = i + strlen(END) + ll + strlen(DASHES);
			*ret = b;
			return 0;
		}
		if (crc_seen)
			return -EINVAL; /* only the END line may follow the checksum */

		/* OpenPGP armour ends the body with a "=XXXX" checksum line:
		 * an '=' that starts a line (padding never does) followed by
		 * exactly four symbols. */
		if (pgp && c == '=' && after_sep && lim - i >= 5 && is_b64(w[i + 1]) && is_b64(w[i + 2]) &&
		    is_b64(w[i + 3]) && is_b64(w[i + 4]) && (lim - i == 5 || (!is_b64(w[i + 5]) && w[i + 5] != '='))) {
			crc_seen = true;
			i += 5;
			after_sep = false;
			continue;
		}
		if (c == '\\' && i + 1 < lim && w[i + 1] == '/') {
			c = '/'; /* JSON may escape '/' as "\/" */
			i++;
		} else if (!is_b64(c) && c != '=') {
			return -EINVAL;
		}
		if (out) {
			if (b.nsym >= cap)
				return -EINVAL;
			out[b.nsym] = (char)c;
		}
		b.nsym++;
		i++;
		after_sep = false;
	}
	return -EINVAL; /* no END line within reach */
}

/* ---- what the body holds */

static void report_pkey(struct finding *f, EVP_PKEY *pkey, bool pub_mismatch)
{
	int r = keyutil_describe(pkey, f);

	if (r == 0 && pub_mismatch) {
		r = -EINVAL; /* PKCS#8 v2 publicKey of another key */
		f->verified = false;
	}

	if (r == 0) {
		f->severity = SEV_CRITICAL;
		f->note = NULL;
	} else {
		f->severity = SEV_HIGH;
		f->note = r == -EINVAL ? "key material inconsistent" : "private key not verified";
	}
	if (!f->key_type[0])
		snprintf(f->key_type, sizeof(f->key_type), "private-key");
}

static bool is_encrypted_pkcs8(const uint8_t *der, size_t n)
{
	const unsigned char *p = der;
	X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long)n);
	const ASN1_OCTET_STRING *data = NULL;
	bool ok = false;

	if (sig) {
		X509_SIG_get0(sig, NULL, &data);
		ok = data && ASN1_STRING_length(data) > 0;
		X509_SIG_free(sig);
	} else {
		ERR_clear_error();
	}
	return ok;
}

/* The first OpenPGP packet (RFC 4880 section 4.2, old and new format) must
 * be a Secret-Key (5) or Secret-Subkey (7) packet, complete in the data,
 * with a known version.  For v3/v4 RSA, Elgamal and DSA keys the size of
 * the first public MPI is the key size. */
static bool pgp_secret_packet(const uint8_t *d, size_t n, unsigned *ret_bits)
{
	size_t hdr, len;
	unsigned tag;
	const uint8_t *body;

	if (n < 2 || !(d[0] & 0x80))
		return false;
	if (d[0] & 0x40) { /* new format */
		tag = d[0] & 0x3f;
		if (d[1] < 192) {
			hdr = 2;
			len = d[1];
		} else if (d[1] < 224) {
			if (n < 3)
				return false;
			hdr = 3;
			len = ((size_t)(d[1] - 192) << 8) + d[2] + 192;
		} else if (d[1] == 255) {
			if (n < 6)
				return false;
			hdr = 6;
			len = (size_t)d[2] << 24 | (size_t)d[3] << 16 | (size_t)d[4] << 8 | d[5];
		} else {
			return false; /* partial lengths are not allowed for keys */
		}
	} else { /* old format */
		tag = (d[0] >> 2) & 0x0f;
		switch (d[0] & 3) {
		case 0:
			hdr = 2;
			len = d[1];
			break;
		case 1:
			if (n < 3)
				return false;
			hdr = 3;
			len = (size_t)d[1] << 8 | d[2];
			break;
		case 2:
			if (n < 5)
				return false;
			hdr = 5;
			len = (size_t)d[1] << 24 | (size_t)d[2] << 16 | (size_t)d[3] << 8 | d[4];
			break;
		default:
			return false;
		}
	}
	if (tag != 5 && tag != 7)
		return false;
	if (len < 8 || len > n - hdr)
		return false;
	body = d + hdr;
	if (body[0] < 3 || body[0] > 6)
		return false;

	*ret_bits = 0;
	{
		/* v4: version, time(4), algorithm, MPIs; v3 adds validity(2) */
		size_t a = body[0] == 3 ? 7 : body[0] == 4 ? 5 : 0;

		if (a && len >= a + 3) {
			uint8_t alg = body[a];

			if (alg == 1 || alg == 2 || alg == 3 || alg == 16 || alg == 17)
				*ret_bits = (unsigned)body[a + 1] << 8 | body[a + 2];
		}
	}
	return true;
}

/* Decide what the decoded body is and fill *f; false: nothing to report. */
static bool describe_body(enum pem_kind kind, const struct pem_body *b, const uint8_t *der, size_t n,
			  struct finding *f)
{
	EVP_PKEY *pkey = NULL;
	unsigned bits = 0;
	size_t len = 0;
	bool pub_mismatch = false;

	switch (kind) {
	case PEM_OPENSSH: {
		struct finding o = { .detector = f->detector, .offset = f->offset };
		int r = openssh_describe(der, n, &o);

		ERR_clear_error(); /* whatever OpenSSL said in there */
		if (r < 0)
			return false;
		o.detector = f->detector;
		o.offset = f->offset;
		o.length = f->length; /* the armour, not the blob inside it */
		*f = o;
		return true;
	}
	case PEM_PGP:
		if (!pgp_secret_packet(der, n, &bits))
			return false;
		snprintf(f->key_type, sizeof(f->key_type), "pgp");
		f->bits = bits;
		f->severity = SEV_HIGH;
		f->note = "PGP secret key block (not verified)";
		return true;
	case PEM_PKCS8_ENCRYPTED:
		if (is_encrypted_pkcs8(der, n)) {
			snprintf(f->key_type, sizeof(f->key_type), "encrypted");
			f->severity = SEV_HIGH;
			f->note = "encrypted PKCS#8 (passphrase not tried)";
			return true;
		}
		break; /* maybe a plain key under the wrong label */
	default:
		if (b->proc_encrypted) {
			/* RFC 1421 encryption: the body is ciphertext in
			 * whole cipher blocks (DES: 8, AES: 16 bytes). */
			if (!b->dek_info || n < 64 || n % 8 != 0)
				return false;
			snprintf(f->key_type, sizeof(f->key_type), "encrypted");
			f->severity = SEV_HIGH;
			f->note = "encrypted PEM key (passphrase not tried)";
			return true;
		}
		break;
	}

	/* Whatever the label says: a key under the wrong label is still a
	 * key.  Bytes after the structure are tolerated (a detector reports
	 * what it can prove is there). */
	if (keyutil_der_private(der, n, &len, &pub_mismatch, &pkey) < 0)
		return false;
	report_pkey(f, pkey, pub_mismatch);
	EVP_PKEY_free(pkey);
	return true;
}

static void pem_on_match(struct scan_ctx *ctx, unsigned pattern, const uint8_t *win, size_t win_len, size_t pos,
			 uint64_t win_off)
{
	const char *label;
	size_t ll, begin_len, lim, b64_cap = 0, der_cap = 0, der_len = 0;
	struct pem_body b, b2;
	char *b64 = NULL;
	uint8_t *der = NULL;
	bool pgp;
	struct finding f = { .detector = "pem", .offset = win_off + pos };

	if (pattern >= ELEMENTSOF(pem_labels) || pos >= win_len)
		return;
	label = pem_labels[pattern].label;
	pgp = pem_labels[pattern].kind == PEM_PGP;
	ll = strlen(label);
	begin_len = strlen(BEGIN) + ll + strlen(DASHES);
	lim = win_len - pos > DETECTOR_LOOKAHEAD ? pos + DETECTOR_LOOKAHEAD : win_len;
	/* the engine matched these bytes; check anyway (fuzzers, callers) */
	if (lim - pos < begin_len || memcmp(win + pos, BEGIN, strlen(BEGIN)) != 0 ||
	    memcmp(win + pos + strlen(BEGIN), label, ll) != 0 ||
	    memcmp(win + pos + strlen(BEGIN) + ll, DASHES, strlen(DASHES)) != 0)
		return;

	/* First find the whole block without copying: most BEGIN lines in a
	 * dump are string constants with no body. */
	if (pem_walk(win, pos + begin_len, lim, label, pgp, NULL, 0, &b) < 0)
		return;

	b64_cap = b.nsym;
	der_cap = b.nsym / 4 * 3 + 3;
	b64 = malloc(b64_cap);
	der = malloc(der_cap);
	if (!b64 || !der)
		goto oom;
	if (pem_walk(win, pos + begin_len, lim, label, pgp, b64, b64_cap, &b2) < 0 || b2.nsym != b.nsym)
		goto out;
	if (keyutil_b64decode(b64, b.nsym, der, der_cap, &der_len, false) < 0 || der_len == 0)
		goto out;

	f.length = b.end - pos;
	if (describe_body(pem_labels[pattern].kind, &b, der, der_len, &f))
		scan_emit(ctx, &f);
	goto out;

oom:
	/* A complete armoured block we cannot look into: fail closed. */
	f.length = b.end - pos;
	f.severity = SEV_HIGH;
	snprintf(f.key_type, sizeof(f.key_type), "unknown");
	f.note = "PEM private key block not examined (out of memory)";
	scan_emit(ctx, &f);
out:
	secure_free(b64, b64_cap);
	secure_free(der, der_cap);
	ERR_clear_error(); /* the thread's OpenSSL error queue stays as it was: empty */
}

const struct detector detector_pem = {
	.name = "pem",
	.patterns = pem_patterns,
	.n_patterns = ELEMENTSOF(pem_patterns),
	.on_match = pem_on_match,
};
