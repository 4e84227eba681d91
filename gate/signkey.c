/* signkey.c - the gate's Ed25519 signing key (see signkey.h).
 *
 * The only file that reads or writes STATE/signing.key.  The private PEM
 * text is wiped from our buffers after parsing or writing; OpenSSL wipes
 * its memory BIOs when they are freed.
 */
#include "signkey.h"

#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <sys/stat.h>

#include "release.h"

#define PRIV_TMP SIGNKEY_PRIVATE_FILE ".tmp"
#define PUB_TMP SIGNKEY_PUBLIC_FILE ".tmp"

static void biop(BIO **b)
{
	BIO_free(*b);
}
#define _cleanup_bio_ _cleanup_(biop)

static void md_ctxp(EVP_MD_CTX **c)
{
	EVP_MD_CTX_free(*c);
}
#define _cleanup_md_ctx_ _cleanup_(md_ctxp)

/* A PEM buffer that may hold a private key. */
struct pem_buf {
	uint8_t *p;
	size_t n, cap;
};
static void pem_buf_wipe(struct pem_buf *b)
{
	secure_free(b->p, b->cap);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* Thread-safe strerror (strerror() may use a shared buffer). */
static const char *errstr(int e)
{
	const char *s = strerrordesc_np(e < 0 ? -e : e);
	return s ? s : "unknown error";
}

/* asprintf into *ret if ret is not NULL; ENOMEM leaves it NULL. */
_printf_(2, 3) static void set_msg(char **ret, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!ret)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*ret = s;
}

/* The state directory's path for messages ("STATE" if /proc cannot say). */
static void dir_name(int dirfd, char *buf, size_t len)
{
	char link[64];
	ssize_t k;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	k = readlink(link, buf, len - 1);
	if (k <= 0 || buf[0] != '/') {
		snprintf(buf, len, "STATE");
		return;
	}
	buf[k] = '\0';
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1; /* an encrypted key is refused, never prompted for */
}

/* Open name beneath dirfd for reading: no symlinks, no blocking on a FIFO.
 * -ELOOP for a symlink, -ENOENT if missing. */
static int open_ro(int dirfd, const char *name, int *ret_fd)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* Read all of a regular file, at most max bytes. */
static int read_small(int fd, size_t max, struct pem_buf *ret)
{
	struct pem_buf b = { 0 };
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	if (st.st_size < 0 || (uint64_t)st.st_size > max)
		return -EFBIG;
	b.cap = max + 1;
	b.p = malloc(b.cap);
	if (!b.p)
		return -ENOMEM;
	/* Read one byte more than allowed: a file that grew since fstat()
	 * is still caught. */
	r = read_full(fd, b.p, b.cap, &b.n);
	if (r < 0) {
		pem_buf_wipe(&b);
		return r;
	}
	if (b.n > max) {
		pem_buf_wipe(&b);
		return -EFBIG;
	}
	*ret = b;
	return 0;
}

static bool is_ed25519(EVP_PKEY *k)
{
	return k && EVP_PKEY_get_id(k) == EVP_PKEY_ED25519;
}

static int parse_private(const struct pem_buf *b, EVP_PKEY **ret)
{
	_cleanup_bio_ BIO *bio = BIO_new_mem_buf(b->p, (int)b->n);
	EVP_PKEY *k;

	if (!bio)
		return -ENOMEM;
	k = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	ERR_clear_error();
	if (!is_ed25519(k)) {
		EVP_PKEY_free(k);
		return -EBADMSG;
	}
	*ret = k;
	return 0;
}

static int parse_public(const struct pem_buf *b, EVP_PKEY **ret)
{
	_cleanup_bio_ BIO *bio = BIO_new_mem_buf(b->p, (int)b->n);
	EVP_PKEY *k;

	if (!bio)
		return -ENOMEM;
	k = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	ERR_clear_error();
	if (!is_ed25519(k)) {
		EVP_PKEY_free(k);
		return -EBADMSG;
	}
	*ret = k;
	return 0;
}

static bool same_public(EVP_PKEY *a, EVP_PKEY *b)
{
	uint8_t pa[32], pb[32];
	size_t la = sizeof(pa), lb = sizeof(pb);

	if (EVP_PKEY_get_raw_public_key(a, pa, &la) != 1 ||
	    EVP_PKEY_get_raw_public_key(b, pb, &lb) != 1) {
		ERR_clear_error();
		return false;
	}
	return la == 32 && lb == 32 && CRYPTO_memcmp(pa, pb, 32) == 0;
}

int signkey_load_public(int dirfd, const char *path, EVP_PKEY **ret)
{
	_cleanup_close_ int fd = -1;
	struct pem_buf b = { 0 };
	EVP_PKEY *k = NULL;
	int r;

	if (!path || !ret)
		return -EINVAL;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	r = read_small(fd, SIGNKEY_MAX_PEM, &b);
	if (r < 0)
		return r;
	r = parse_public(&b, &k);
	pem_buf_wipe(&b);
	if (r < 0)
		return r;
	*ret = k;
	return 0;
}

/* Write data to a new file name beneath dirfd with exactly mode, fsync'd.
 * The file is removed again on failure. */
static int write_new_file(int dirfd, const char *name, mode_t mode, const void *data, size_t n)
{
	_cleanup_close_ int fd = -1;
	int r;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return -errno;
	/* The umask may have taken bits away; set exactly what we mean. */
	if (fchmod(fd, mode) < 0)
		r = -errno;
	else
		r = write_full(fd, data, n);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dirfd, name, 0);
	return r;
}

static int unlink_if_there(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* k's private (PKCS#8) or public (SPKI) PEM in a new memory BIO. */
static int pem_of(EVP_PKEY *k, bool private_half, BIO **ret_bio)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ok;

	if (!bio)
		return -ENOMEM;
	if (private_half)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PUBKEY(bio, k);
	if (ok != 1) {
		ERR_clear_error();
		BIO_free(bio);
		return -EIO;
	}
	*ret_bio = bio;
	return 0;
}

static int create_key(int dirfd, const char *dn, EVP_PKEY **ret, char **ret_error)
{
	_cleanup_pkey_ EVP_PKEY *k = NULL;
	_cleanup_bio_ BIO *priv = NULL;
	_cleanup_bio_ BIO *pub = NULL;
	char *data = NULL;
	long len;
	int r;

	/* Leftovers of a first start that died before its first rename. */
	r = unlink_if_there(dirfd, PRIV_TMP);
	if (r == 0)
		r = unlink_if_there(dirfd, PUB_TMP);
	if (r < 0) {
		set_msg(ret_error, "cannot remove a leftover %s/%s.tmp: %s", dn, SIGNKEY_PRIVATE_FILE, errstr(r));
		return r;
	}

	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k) {
		ERR_clear_error();
		set_msg(ret_error, "cannot generate an Ed25519 signing key");
		return -EIO;
	}
	r = pem_of(k, true, &priv);
	if (r == 0)
		r = pem_of(k, false, &pub);
	if (r < 0) {
		set_msg(ret_error, "cannot encode the new signing key: %s", errstr(r));
		return r;
	}

	len = BIO_get_mem_data(priv, &data);
	r = len > 0 ? write_new_file(dirfd, PRIV_TMP, 0400, data, (size_t)len) : -EIO;
	if (r < 0) {
		set_msg(ret_error, "cannot write %s/%s: %s", dn, PRIV_TMP, errstr(r));
		return r;
	}
	len = BIO_get_mem_data(pub, &data);
	r = len > 0 ? write_new_file(dirfd, PUB_TMP, 0444, data, (size_t)len) : -EIO;
	if (r < 0) {
		(void)unlinkat(dirfd, PRIV_TMP, 0);
		set_msg(ret_error, "cannot write %s/%s: %s", dn, PUB_TMP, errstr(r));
		return r;
	}

	/* signing.key first, durably, then signing.pub: a crash in between
	 * leaves a key whose public half waits in signing.pub.tmp, which the
	 * next start completes.  signing.pub never exists without its key.
	 * RENAME_NOREPLACE: a concurrent creator loses instead of replacing. */
	if (renameat2(dirfd, PRIV_TMP, dirfd, SIGNKEY_PRIVATE_FILE, RENAME_NOREPLACE) < 0) {
		r = -errno;
		(void)unlinkat(dirfd, PRIV_TMP, 0);
		(void)unlinkat(dirfd, PUB_TMP, 0);
		set_msg(ret_error, "cannot create %s/%s: %s", dn, SIGNKEY_PRIVATE_FILE, errstr(r));
		return r;
	}
	r = fsync_dir_at(dirfd, ".");
	if (r == 0 && renameat2(dirfd, PUB_TMP, dirfd, SIGNKEY_PUBLIC_FILE, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_dir_at(dirfd, ".");
	if (r < 0) {
		set_msg(ret_error, "cannot create %s/%s: %s", dn, SIGNKEY_PUBLIC_FILE, errstr(r));
		return r;
	}
	*ret = TAKE_PTR(k);
	return 0;
}

/* signing.key exists and is k; signing.pub does not.  Complete a first
 * start that died between its two renames, if signing.pub.tmp is k's
 * public half; anything else stays an error. */
static int complete_public(int dirfd, const char *dn, EVP_PKEY *k, char **ret_error)
{
	_cleanup_close_ int fd = -1;
	_cleanup_pkey_ EVP_PKEY *pub = NULL;
	struct pem_buf b = { 0 };
	int r;

	r = open_ro(dirfd, PUB_TMP, &fd);
	if (r == -ENOENT) {
		set_msg(ret_error,
			"%s/%s is missing but %s exists: restore it from the key "
			"(openssl pkey -in %s -pubout) or from a copy",
			dn, SIGNKEY_PUBLIC_FILE, SIGNKEY_PRIVATE_FILE, SIGNKEY_PRIVATE_FILE);
		return -ENOENT;
	}
	if (r == 0)
		r = read_small(fd, SIGNKEY_MAX_PEM, &b);
	if (r == 0) {
		r = parse_public(&b, &pub);
		pem_buf_wipe(&b);
	}
	if (r == 0 && !same_public(k, pub))
		r = -EBADMSG;
	if (r < 0) {
		set_msg(ret_error, "%s/%s is missing and %s/%s is not the public half of %s: %s",
			dn, SIGNKEY_PUBLIC_FILE, dn, PUB_TMP, SIGNKEY_PRIVATE_FILE,
			r == -EBADMSG ? "refusing to use it" : errstr(r));
		return r;
	}
	if (renameat2(dirfd, PUB_TMP, dirfd, SIGNKEY_PUBLIC_FILE, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_dir_at(dirfd, ".");
	if (r < 0) {
		set_msg(ret_error, "cannot complete %s/%s: %s", dn, SIGNKEY_PUBLIC_FILE, errstr(r));
		return r;
	}
	return 0;
}

int signkey_load_or_create(int dirfd, bool allow_create, EVP_PKEY **ret, char **ret_error)
{
	_cleanup_close_ int priv_fd = -1;
	_cleanup_close_ int pub_fd = -1;
	_cleanup_pkey_ EVP_PKEY *k = NULL;
	_cleanup_pkey_ EVP_PKEY *pub = NULL;
	struct pem_buf b = { 0 };
	char dn[PATH_MAX];
	struct stat st;
	int r, rp;

	if (dirfd < 0 && dirfd != AT_FDCWD)
		return -EBADF;
	if (!ret)
		return -EINVAL;
	dir_name(dirfd, dn, sizeof(dn));

	r = open_ro(dirfd, SIGNKEY_PRIVATE_FILE, &priv_fd);
	rp = open_ro(dirfd, SIGNKEY_PUBLIC_FILE, &pub_fd);
	if (r < 0 && r != -ENOENT) {
		set_msg(ret_error, "signing key %s/%s: %s", dn, SIGNKEY_PRIVATE_FILE,
			r == -ELOOP ? "is a symbolic link: refusing to use it" : errstr(r));
		return r;
	}
	if (rp < 0 && rp != -ENOENT) {
		set_msg(ret_error, "signing key %s/%s: %s", dn, SIGNKEY_PUBLIC_FILE,
			rp == -ELOOP ? "is a symbolic link: refusing to use it" : errstr(rp));
		return rp;
	}
	if (r == -ENOENT && rp == -ENOENT) {
		if (!allow_create) {
			set_msg(ret_error,
				"signing key %s/%s does not exist, and a new one is only created "
				"on the gate's first start",
				dn, SIGNKEY_PRIVATE_FILE);
			return -ENOENT;
		}
		return create_key(dirfd, dn, ret, ret_error);
	}
	if (r == -ENOENT) {
		set_msg(ret_error,
			"signing key %s/%s is missing but %s exists: refusing to create a new one",
			dn, SIGNKEY_PRIVATE_FILE, SIGNKEY_PUBLIC_FILE);
		return -ENOENT;
	}

	/* The private key: ours, a regular file, nobody else may read it. */
	if (fstat(priv_fd, &st) < 0) {
		r = -errno;
		set_msg(ret_error, "signing key %s/%s: %s", dn, SIGNKEY_PRIVATE_FILE, errstr(r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		set_msg(ret_error, "signing key %s/%s is not a regular file", dn, SIGNKEY_PRIVATE_FILE);
		return -EPERM;
	}
	if (st.st_uid != geteuid()) {
		set_msg(ret_error, "signing key %s/%s is owned by uid %u, not by us (uid %u)", dn,
			SIGNKEY_PRIVATE_FILE, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		set_msg(ret_error,
			"signing key %s/%s is accessible to group or others (mode %04o): "
			"refusing to use it; it must be 0400",
			dn, SIGNKEY_PRIVATE_FILE, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	r = read_small(priv_fd, SIGNKEY_MAX_PEM, &b);
	if (r == 0) {
		r = parse_private(&b, &k);
		pem_buf_wipe(&b);
	}
	if (r < 0) {
		set_msg(ret_error, "signing key %s/%s: %s", dn, SIGNKEY_PRIVATE_FILE,
			r == -EBADMSG ? "not an unencrypted PEM Ed25519 private key" : errstr(r));
		return r;
	}

	if (rp == -ENOENT) {
		r = complete_public(dirfd, dn, k, ret_error);
		if (r < 0)
			return r;
		*ret = TAKE_PTR(k);
		return 0;
	}

	/* The public half must be the key's: a replaced signing.pub would hand
	 * the debugging side a key that does not verify our releases, or one
	 * that verifies somebody else's. */
	if (fstat(pub_fd, &st) < 0) {
		r = -errno;
		set_msg(ret_error, "signing key %s/%s: %s", dn, SIGNKEY_PUBLIC_FILE, errstr(r));
		return r;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		set_msg(ret_error, "signing key %s/%s is writable by group or others (mode %04o)", dn,
			SIGNKEY_PUBLIC_FILE, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	r = read_small(pub_fd, SIGNKEY_MAX_PEM, &b);
	if (r == 0) {
		r = parse_public(&b, &pub);
		pem_buf_wipe(&b);
	}
	if (r < 0) {
		set_msg(ret_error, "signing key %s/%s: %s", dn, SIGNKEY_PUBLIC_FILE,
			r == -EBADMSG ? "not a PEM Ed25519 public key" : r == -EPERM ? "not a regular file" : errstr(r));
		return r;
	}
	if (!same_public(k, pub)) {
		set_msg(ret_error, "signing key %s/%s is not the public half of %s: refusing to continue",
			dn, SIGNKEY_PUBLIC_FILE, SIGNKEY_PRIVATE_FILE);
		return -EBADMSG;
	}
	*ret = TAKE_PTR(k);
	return 0;
}

/* domain || msg in one buffer: Ed25519 (PureEdDSA) signs in one shot. */
static int with_domain(const uint8_t *msg, size_t n, uint8_t **ret, size_t *ret_len)
{
	const size_t dn = RELEASE_SIG_DOMAIN_LEN;
	uint8_t *buf;

	if (!msg && n > 0)
		return -EINVAL;
	if (n > SIZE_MAX - dn)
		return -EOVERFLOW;
	buf = malloc(dn + n);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, RELEASE_SIG_DOMAIN, dn);
	if (n > 0)
		memcpy(buf + dn, msg, n);
	*ret = buf;
	*ret_len = dn + n;
	return 0;
}

int signkey_sign(EVP_PKEY *k, const uint8_t *msg, size_t n, uint8_t ret_sig[static SIGNKEY_SIG_LEN])
{
	_cleanup_md_ctx_ EVP_MD_CTX *c = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t sig[SIGNKEY_SIG_LEN];
	size_t len = 0, siglen = sizeof(sig);
	int r;

	if (!is_ed25519(k) || !ret_sig)
		return -EINVAL;
	r = with_domain(msg, n, &buf, &len);
	if (r < 0)
		return r;
	c = EVP_MD_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_DigestSignInit(c, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(c, sig, &siglen, buf, len) != 1 || siglen != sizeof(sig)) {
		ERR_clear_error();
		return -EIO;
	}
	memcpy(ret_sig, sig, sizeof(sig));
	return 0;
}

int signkey_verify(EVP_PKEY *pub, const uint8_t *msg, size_t n, const uint8_t sig[static SIGNKEY_SIG_LEN])
{
	_cleanup_md_ctx_ EVP_MD_CTX *c = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r, ok;

	if (!is_ed25519(pub) || !sig)
		return -EINVAL;
	r = with_domain(msg, n, &buf, &len);
	if (r < 0)
		return r;
	c = EVP_MD_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(c, NULL, NULL, NULL, pub) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	ok = EVP_DigestVerify(c, sig, SIGNKEY_SIG_LEN, buf, len);
	ERR_clear_error();
	return ok == 1 ? 0 : -EBADMSG;
}

int signkey_fingerprint(EVP_PKEY *k, char ret_hex[static 65])
{
	unsigned char *der = NULL;
	int len;

	if (!is_ed25519(k) || !ret_hex)
		return -EINVAL;
	len = i2d_PUBKEY(k, &der);
	if (len <= 0) {
		ERR_clear_error();
		return -EIO;
	}
	sha256_hex(der, (size_t)len, ret_hex);
	OPENSSL_free(der);
	return 0;
}
