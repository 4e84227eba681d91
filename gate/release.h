/* release.h - building a signed release in the outbox (I1, I6).
 *
 * A release is the directory OUTBOX/<destination>/<id>/ holding exactly
 *   <file>         the approved bytes, copied from the spool object (0444)
 *   manifest.json  the caller's manifest plus "file", "size", "sha256",
 *                  "signature_domain" and "gate_key_sha256" (0444)
 *   manifest.sig   base64 of the Ed25519 signature over
 *                  RELEASE_SIG_DOMAIN (with its NUL) || manifest.json's
 *                  exact bytes, one line (0444)
 * It is built in OUTBOX/<destination>/.tmp-<id>/, fsync'd, and renamed
 * into place, so it appears whole or not at all.  Every path beneath the
 * outbox root is opened without following symlinks.
 *
 * release_build() runs on a worker thread: it is thread-safe, never logs,
 * and touches nothing but its arguments and the file system beneath
 * outbox_dirfd.  Nothing here takes ownership of anything.
 */
#pragma once

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The domain prefix of release signatures: these bytes, the NUL included. */
#define RELEASE_SIG_DOMAIN "dumpgate release manifest v1"
#define RELEASE_SIG_DOMAIN_LEN sizeof(RELEASE_SIG_DOMAIN) /* 29: with the NUL */

#define RELEASE_MANIFEST "manifest.json"
#define RELEASE_SIGNATURE "manifest.sig"
#define RELEASE_TMP_PREFIX ".tmp-"
#define RELEASE_NAME_MAX 128 /* bytes of a sanitised file name */
#define RELEASE_CHUNK (1024 * 1024)
#define RELEASE_MANIFEST_MAX (1024 * 1024) /* bytes of a manifest.json */

struct release_input {
	int spool_fd;              /* read-only fd of the spool object, borrowed */
	int outbox_dirfd;          /* borrowed; the outbox root */
	const char *destination;   /* single safe path component (profile) */
	const char *id;            /* 32 lowercase hex */
	const char *file_name;     /* client-supplied: sanitised again here */
	const char *expect_sha256; /* the stored hash (I1), 64 lowercase hex */
	uint64_t expect_size;
	json_t *manifest;          /* borrowed, not modified: an object with
				    * everything but the keys release_build adds */
	EVP_PKEY *key;             /* borrowed signing key */
	int marker_dirfd;          /* borrowed, -1 for none: a directory in
				    * which a file named <id> is made and
				    * fsync'd just before the rename (see
				    * release_renamed()) */
};

/* Build the release described by in.  On failure nothing of it is left in
 * the outbox (the temporary directory is removed) and why says what went
 * wrong, for the audit record and the requester:
 *   -EINVAL   a bad argument (destination, id, hash, manifest that already
 *             has one of the added keys, ...)
 *   -ELOOP    DEST is a symlink (or not a directory: -ENOTDIR)
 *   -EEXIST   DEST/<id> exists already (a finished release)
 *   -EBADMSG  the spool object's size or SHA-256 is not the approved one
 *   other     -errno of the failing file operation
 * One exception: a failure to fsync DEST after the rename returns -errno
 * with the release in place (release_finished() says 1) but perhaps not
 * durable; why says so.
 * why (why_len bytes, may be 0) is always NUL-terminated when why_len > 0;
 * "" on success. */
int release_build(const struct release_input *in, char *why, size_t why_len);

/* For restart: did the rename of DEST/.tmp-<id> to DEST/<id> happen?
 * 1 if DEST/<id> is there, or if the marker <id> is in marker_dirfd while
 * DEST/.tmp-<id> is gone (the release was renamed, then moved away by a
 * sync tool before the gate recorded it); 0 if not (build it again);
 * -errno if it cannot be told. */
int release_renamed(int outbox_dirfd, int marker_dirfd, const char *destination, const char *id);

/* 1 if DEST/<id> exists as a directory, 0 if it (or DEST) does not exist,
 * -ENOTDIR if something else is there, -EINVAL for a bad destination or
 * id, other -errno if it cannot be told.  For restart: a transfer found in
 * `releasing` is released if this says 1 (the rename is the last step),
 * otherwise it is built again (a leftover .tmp-<id> is cleaned up). */
int release_finished(int outbox_dirfd, const char *destination, const char *id);

/* SHA-256 (64 lowercase hex + NUL) of the manifest.json that
 * release_build(in) writes when it succeeds: the same bytes, computed
 * without the file system (Ed25519 and the manifest are deterministic), so
 * the `released` record never depends on reading the outbox back. */
int release_manifest_digest(const struct release_input *in, char ret_hex[static 65]);

/* The rule release_build applies to a client-supplied name: everything but
 * [A-Za-z0-9._-] becomes '_', leading dots are dropped, the result is cut
 * to RELEASE_NAME_MAX bytes; "artifact" if nothing is left, and
 * "artifact-<name>" for the reserved names manifest.json / manifest.sig.
 * (NULL counts as empty.) */
void release_sanitize_name(const char *name, char out[static RELEASE_NAME_MAX + 1]);

/* True if name is already what release_sanitize_name() makes of it (used
 * by verify-release on the debugging side). */
bool release_name_valid(const char *name);
