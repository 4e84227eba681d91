/* verify.c - check a release on the debugging side (see verify.h).
 *
 * Order matters: the signature is checked over the manifest's exact bytes
 * before those bytes are parsed, so only what the gate signed is ever
 * interpreted; then the file the manifest names is hashed.  Every file in
 * DIR is opened with O_NOFOLLOW: a symlink in a release is an error.
 */
#include "verify.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>

#include "release.h"
#include "signkey.h"
#include "util.h"

_printf_(3, 4) static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

static void md_ctxp(EVP_MD_CTX **c)
{
	EVP_MD_CTX_free(*c);
}

static void dirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* Open name in dirfd: a regular file, not a symlink, not a FIFO. */
static int open_file(int dirfd, const char *name, int *ret_fd, struct stat *ret_st)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	*ret_fd = TAKE_FD(fd);
	if (ret_st)
		*ret_st = st;
	return 0;
}

/* All of name (a regular file of at most max bytes) in a new buffer. */
static int read_file(int dirfd, const char *name, size_t max, uint8_t **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t got = 0;
	struct stat st;
	int r;

	r = open_file(dirfd, name, &fd, &st);
	if (r < 0)
		return r;
	if (st.st_size < 0 || (uint64_t)st.st_size > max)
		return -EFBIG;
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	r = read_full(fd, buf, max + 1, &got);
	if (r < 0)
		return r;
	if (got > max)
		return -EFBIG;
	*ret = TAKE_PTR(buf);
	*ret_len = got;
	return 0;
}

static const char *read_error(int r)
{
	return r == -EBADMSG ? "not a regular file"
	       : r == -ELOOP ? "a symbolic link"
	       : r == -EFBIG ? "too large"
			     : strerror(-r);
}

/* A symlink, a non-regular or an oversized file is a failed check, not
 * an I/O error. */
static int as_check(int r)
{
	return r == -ELOOP || r == -EFBIG || r == -EBADMSG ? -EBADMSG : r;
}

/* manifest.sig: one line of canonical base64 of 64 bytes. */
static int decode_signature(const uint8_t *text, size_t n, uint8_t ret_sig[static SIGNKEY_SIG_LEN])
{
	enum { B64 = 4 * ((SIGNKEY_SIG_LEN + 2) / 3) }; /* 88 */
	unsigned char out[B64], again[B64 + 1];

	if (n == B64 + 1 && text[B64] == '\n')
		n--;
	if (n != B64 || memchr(text, '\0', n))
		return -EBADMSG;
	/* EVP_DecodeBlock() ignores padding in its count: 64 bytes come back
	 * as 66.  Re-encoding proves the text was the canonical form. */
	if (EVP_DecodeBlock(out, text, (int)n) != 66 ||
	    EVP_EncodeBlock(again, out, SIGNKEY_SIG_LEN) != B64 || memcmp(again, text, B64) != 0) {
		ERR_clear_error();
		return -EBADMSG;
	}
	memcpy(ret_sig, out, SIGNKEY_SIG_LEN);
	return 0;
}

/* Hash the file fd; its size is already checked. */
static int hash_fd(int fd, char ret_hex[static 65])
{
	_cleanup_(md_ctxp) EVP_MD_CTX *c = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int r;

	buf = malloc(RELEASE_CHUNK);
	c = EVP_MD_CTX_new();
	if (!buf || !c)
		return -ENOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		goto crypto;
	for (;;) {
		size_t got = 0;
		r = read_full(fd, buf, RELEASE_CHUNK, &got);
		if (r < 0)
			return r;
		if (got == 0)
			break;
		if (EVP_DigestUpdate(c, buf, got) != 1)
			goto crypto;
	}
	if (EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen != 32)
		goto crypto;
	hex_encode(md, 32, ret_hex);
	return 0;
crypto:
	ERR_clear_error();
	return -EIO;
}

static const char *get_string(json_t *m, const char *key)
{
	return json_string_value(json_object_get(m, key));
}

/* DIR holds the three names and nothing else. */
static int check_entries(int dirfd, const char *file, const char *dir_e, char *why, size_t why_len)
{
	_cleanup_(dirp) DIR *d = NULL;
	struct dirent *de;
	int fd;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		say(why, why_len, "%s: %s", dir_e, strerror(errno));
		return -errno;
	}
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		say(why, why_len, "%s: %s", dir_e, strerror(-r));
		return r;
	}
	errno = 0;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, RELEASE_MANIFEST) == 0 ||
		    strcmp(n, RELEASE_SIGNATURE) == 0 || strcmp(n, file) == 0) {
			errno = 0;
			continue;
		}
		_cleanup_free_ char *ne = str_escape(n, 256);
		say(why, why_len, "%s: unexpected file \"%s\" (a release holds only %s, %s and %s)", dir_e,
		    ne ? ne : "?", file, RELEASE_MANIFEST, RELEASE_SIGNATURE);
		return -EBADMSG;
	}
	if (errno != 0) {
		int r = -errno;
		say(why, why_len, "%s: %s", dir_e, strerror(-r));
		return r;
	}
	return 0;
}

int verify_release(const char *dir, const char *pubkey_path, char *why, size_t why_len)
{
	_cleanup_close_ int dfd = -1;
	_cleanup_close_ int fd = -1;
	_cleanup_pkey_ EVP_PKEY *pub = NULL;
	json_auto_t *m = NULL;
	_cleanup_free_ uint8_t *manifest = NULL;
	_cleanup_free_ uint8_t *sigtext = NULL;
	_cleanup_free_ char *dir_e = NULL;
	_cleanup_free_ char *key_e = NULL;
	size_t manifest_len = 0, sigtext_len = 0;
	uint8_t sig[SIGNKEY_SIG_LEN];
	char fingerprint[65], actual[65];
	const char *file, *sha256, *domain, *keysum;
	json_t *size;
	json_error_t jerr;
	struct stat st;
	int r;

	if (why && why_len > 0)
		why[0] = '\0';
	if (!dir) {
		say(why, why_len, "no release directory given");
		return -EINVAL;
	}
	if (!pubkey_path)
		pubkey_path = VERIFY_DEFAULT_KEY;
	dir_e = str_escape(dir, 512);
	key_e = str_escape(pubkey_path, 512);
	if (!dir_e || !key_e)
		return -ENOMEM;

	r = signkey_load_public(AT_FDCWD, pubkey_path, &pub);
	if (r < 0) {
		say(why, why_len, "%s: %s", key_e,
		    r == -EBADMSG ? "not a PEM Ed25519 public key" : r == -EFBIG ? "too large" : strerror(-r));
		return r;
	}
	r = signkey_fingerprint(pub, fingerprint);
	if (r < 0) {
		say(why, why_len, "%s: cannot compute its fingerprint", key_e);
		return r;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		say(why, why_len, "%s: %s", dir_e, strerror(-r));
		return r;
	}

	/* 1. The signature over the exact bytes, before anything is parsed. */
	r = read_file(dfd, RELEASE_MANIFEST, VERIFY_MAX_MANIFEST, &manifest, &manifest_len);
	if (r < 0) {
		say(why, why_len, "%s/%s: %s", dir_e, RELEASE_MANIFEST, read_error(r));
		return as_check(r);
	}
	r = read_file(dfd, RELEASE_SIGNATURE, VERIFY_MAX_SIGNATURE, &sigtext, &sigtext_len);
	if (r < 0) {
		say(why, why_len, "%s/%s: %s", dir_e, RELEASE_SIGNATURE, read_error(r));
		return as_check(r);
	}
	if (decode_signature(sigtext, sigtext_len, sig) < 0) {
		say(why, why_len, "%s: not one line of base64 of a 64-byte Ed25519 signature", RELEASE_SIGNATURE);
		return -EBADMSG;
	}
	r = signkey_verify(pub, manifest, manifest_len, sig);
	if (r < 0) {
		say(why, why_len,
		    "%s does not verify with %s: the manifest was changed, or signed by another gate", RELEASE_SIGNATURE,
		    key_e);
		return r == -EBADMSG ? r : -EBADMSG;
	}

	/* 2. The manifest the gate signed. */
	m = json_loadb((const char *)manifest, manifest_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!m || !json_is_object(m)) {
		say(why, why_len, "%s: not a JSON object", RELEASE_MANIFEST);
		return -EBADMSG;
	}
	domain = get_string(m, "signature_domain");
	if (!domain || strcmp(domain, RELEASE_SIG_DOMAIN) != 0) {
		say(why, why_len, "%s: signature_domain is not \"%s\"", RELEASE_MANIFEST, RELEASE_SIG_DOMAIN);
		return -EBADMSG;
	}
	keysum = get_string(m, "gate_key_sha256");
	if (!keysum || strcmp(keysum, fingerprint) != 0) {
		_cleanup_free_ char *ke = keysum ? str_escape(keysum, 64) : NULL;
		say(why, why_len, "%s: gate_key_sha256 is %s, but %s is %s", RELEASE_MANIFEST,
		    ke ? ke : "missing", key_e, fingerprint);
		return -EBADMSG;
	}
	file = get_string(m, "file");
	if (!file || !release_name_valid(file)) {
		_cleanup_free_ char *fe = file ? str_escape(file, 256) : NULL;
		say(why, why_len, "%s: \"file\" is %s%s%s, not a plain file name", RELEASE_MANIFEST,
		    fe ? "\"" : "", fe ? fe : "missing", fe ? "\"" : "");
		return -EBADMSG;
	}
	size = json_object_get(m, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0) {
		say(why, why_len, "%s: \"size\" is not a byte count", RELEASE_MANIFEST);
		return -EBADMSG;
	}
	sha256 = get_string(m, "sha256");
	if (!sha256 || strlen(sha256) != 64 || !is_hex(sha256, 64)) {
		say(why, why_len, "%s: \"sha256\" is not 64 lowercase hex", RELEASE_MANIFEST);
		return -EBADMSG;
	}

	/* 3. Nothing in DIR but the release. */
	r = check_entries(dfd, file, dir_e, why, why_len);
	if (r < 0)
		return r;

	/* 4. The file is the one that was approved. */
	r = open_file(dfd, file, &fd, &st);
	if (r < 0) {
		say(why, why_len, "%s: %s", file, r == -ENOENT ? "missing from the release" : read_error(r));
		return r == -ENOENT ? -EBADMSG : as_check(r);
	}
	if ((uint64_t)st.st_size != (uint64_t)json_integer_value(size)) {
		say(why, why_len, "%s: %" PRIu64 " bytes, the manifest says %" PRIu64, file, (uint64_t)st.st_size,
		    (uint64_t)json_integer_value(size));
		return -EBADMSG;
	}
	r = hash_fd(fd, actual);
	if (r < 0) {
		say(why, why_len, "%s: cannot read: %s", file, strerror(-r));
		return r;
	}
	if (strcmp(actual, sha256) != 0) {
		say(why, why_len, "%s: SHA-256 differs from the manifest (it is %s, the manifest says %s)", file,
		    actual, sha256);
		return -EBADMSG;
	}
	return 0;
}
