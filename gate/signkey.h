/* signkey.h - the gate's Ed25519 signing key (OpenSSL EVP).
 *
 * STATE/signing.key holds the private key (PEM PKCS#8, mode 0400, owned by
 * the monitor's uid) and STATE/signing.pub its public half (PEM SPKI,
 * 0444), which admins hand to the debugging side for `dumpgate
 * verify-release`.  Only the monitor holds the private key (I5).
 *
 * The key is created on first start only: a missing key later is an
 * error, never silently replaced, because every release already out there
 * was signed with it.
 *
 * Nothing here logs; functions return 0 or -errno and fill ret_* only on
 * success (ret_error: only on failure, malloc'd, may stay NULL on ENOMEM).
 * Every function is safe to call from several threads at once with the
 * same (read-only) EVP_PKEY.
 */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SIGNKEY_PRIVATE_FILE "signing.key"
#define SIGNKEY_PUBLIC_FILE "signing.pub"
#define SIGNKEY_SIG_LEN 64
/* Upper bound on the PEM files we read. */
#define SIGNKEY_MAX_PEM (64 * 1024)

/* Load STATE/signing.key and STATE/signing.pub from state_dirfd (borrowed)
 * and check that they belong together.  When allow_create is true and
 * neither file exists (first start), create a new key: both files are
 * written under temporary names, fsync'd, and renamed into place
 * (signing.key first), and the directory is fsync'd.
 *
 * Refused (with *ret_error saying why, naming STATE/<file>):
 *   -ENOENT  no key and !allow_create; signing.key missing while
 *            signing.pub exists (never replaced); signing.pub missing
 *            while signing.key exists
 *   -EPERM   signing.key readable/writable by group or others, not owned
 *            by our euid, or not a regular file
 *   -ELOOP   either file is a symlink
 *   -EBADMSG unparsable PEM, not an Ed25519 key, or signing.pub does not
 *            match signing.key
 * The one case that is completed instead of refused: signing.key exists,
 * signing.pub does not, and signing.pub.tmp holds the matching public key
 * (a crash between the two renames of a first start).
 *
 * *ret takes a new reference to the private key (EVP_PKEY_free it). */
int signkey_load_or_create(int state_dirfd, bool allow_create, EVP_PKEY **ret, char **ret_error);

/* Read a PEM SPKI Ed25519 public key from path (relative to dirfd, which
 * may be AT_FDCWD).  -EBADMSG if it is not one, -EFBIG if the file is
 * larger than SIGNKEY_MAX_PEM. */
int signkey_load_public(int dirfd, const char *path, EVP_PKEY **ret);

/* Ed25519 signature over RELEASE_SIG_DOMAIN (with its NUL, see release.h)
 * followed by msg.  The domain keeps a release signature from being usable
 * as any other signature this key makes. */
int signkey_sign(EVP_PKEY *k, const uint8_t *msg, size_t n, uint8_t ret_sig[static SIGNKEY_SIG_LEN]);
/* 0 if sig is a valid signature of RELEASE_SIG_DOMAIN || msg by pub (a
 * public or private key); -EBADMSG if not. */
int signkey_verify(EVP_PKEY *pub, const uint8_t *msg, size_t n, const uint8_t sig[static SIGNKEY_SIG_LEN]);

/* SHA-256 of the key's SubjectPublicKeyInfo DER, 64 lowercase hex + NUL.
 * Same value for the private key and its public half. */
int signkey_fingerprint(EVP_PKEY *k, char ret_hex[static 65]);

static inline void signkey_freep(EVP_PKEY **k)
{
	EVP_PKEY_free(*k);
}
#define _cleanup_pkey_ _cleanup_(signkey_freep)
