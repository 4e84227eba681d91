/* verify.h - `dumpgate verify-release DIR [--key PUBFILE]`: check a release
 * on the debugging side with the gate's public key (see gate/release.h
 * for what a release is).
 *
 * Runs wherever the release was synced to; trusts nothing in DIR: the
 * signature is checked over the manifest's exact bytes before the manifest
 * is parsed, and every name in it is checked before it is opened.
 */
#pragma once

#include <stddef.h>

/* Where verify-release looks for the gate's public key (a copy of the
 * gate's STATE/signing.pub) when --key is not given. */
#define VERIFY_DEFAULT_KEY "/etc/dumpgate/signing.pub"
/* Upper bounds on what is read into memory. */
#define VERIFY_MAX_MANIFEST (1024 * 1024)
#define VERIFY_MAX_SIGNATURE 256

/* 0 if DIR is a release signed by the key in pubkey_path (NULL:
 * VERIFY_DEFAULT_KEY): manifest.sig verifies over RELEASE_SIG_DOMAIN ||
 * manifest.json's bytes; the manifest is a strict JSON object whose
 * "signature_domain" is RELEASE_SIG_DOMAIN and whose "gate_key_sha256" is
 * the key's fingerprint; "file" is a plain name (no '/', no leading '.')
 * of a regular file in DIR whose size and SHA-256 are the manifest's; DIR
 * holds nothing else.
 * On failure why (why_len bytes) names what failed, with untrusted names
 * escaped:
 *   -EBADMSG  a check failed ("manifest.sig does not verify with KEY",
 *             "core.1234: SHA-256 differs from the manifest", ...)
 *   other     -errno: DIR, a file in it or the key cannot be read. */
int verify_release(const char *dir, const char *pubkey_path, char *why, size_t why_len);
