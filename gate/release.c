/* release.c - building a signed release in the outbox (see release.h).
 *
 * Runs on a worker thread of the monitor: no logging, no shared mutable
 * state, no umask games (modes are set with fchmod on our own fds), the
 * spool object is read with pread so that its file offset is untouched.
 *
 * Paths: the outbox root is the caller's fd; DEST, .tmp-<id>, <id> and the
 * files inside are single components checked here, and every one is opened
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 * relative to its parent's fd, or openat(O_NOFOLLOW) on a kernel without
 * openat2 (safe because no name has a '/').  Removal uses unlinkat on the
 * parent's fd, which never follows a symlink.
 */
#include "release.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <openssl/err.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "signkey.h"
#include "util.h"

/* The keys release_build adds; the caller's manifest must not have them. */
static const char *const added_keys[] = {
	"file", "size", "sha256", "signature_domain", "gate_key_sha256",
};

static const char safe_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

_printf_(3, 4) static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* Thread-safe strerror (strerror() may use a shared buffer). */
static const char *errstr(int e)
{
	const char *s = strerrordesc_np(e < 0 ? -e : e);
	return s ? s : "unknown error";
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

static bool reserved_name(const char *s)
{
	return strcmp(s, RELEASE_MANIFEST) == 0 || strcmp(s, RELEASE_SIGNATURE) == 0;
}

void release_sanitize_name(const char *name, char out[static RELEASE_NAME_MAX + 1])
{
	size_t o = 0;

	for (const char *p = name ? name : ""; *p && o < RELEASE_NAME_MAX; p++) {
		char c = *p;
		if (o == 0 && c == '.')
			continue;
		out[o++] = strchr(safe_chars, c) ? c : '_';
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, RELEASE_NAME_MAX + 1, "artifact");
	else if (reserved_name(out)) {
		char tmp[RELEASE_NAME_MAX + 1];
		snprintf(tmp, sizeof(tmp), "artifact-%s", out);
		memcpy(out, tmp, sizeof(tmp));
	}
}

bool release_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	return n >= 1 && n <= RELEASE_NAME_MAX && name[0] != '.' && strspn(name, safe_chars) == n &&
	       !reserved_name(name);
}

/* The rule the configuration applies to `destination`. */
static bool destination_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	return n >= 1 && n <= 255 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       strspn(s, safe_chars) == n;
}

/* Open the single component name beneath dirfd without following any
 * symlink.  mode only with O_CREAT.  Returns the fd or -errno. */
static int open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	/* No O_NOFOLLOW here: with O_DIRECTORY it turns a symlink into
	 * ENOTDIR, and RESOLVE_NO_SYMLINKS already refuses it with ELOOP. */
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (!name || !*name || strchr(name, '/'))
		return -EINVAL;
	fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		struct stat st;
		fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
		if (fd < 0 && errno == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			errno = ELOOP; /* the same answer as openat2 */
	}
	return fd < 0 ? -errno : fd;
}

/* Open (and with create, make) DEST beneath the outbox root. */
static int open_dest(int outbox_dirfd, const char *dest, bool create, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	bool made = false;
	int r;

	fd = open_beneath(outbox_dirfd, dest, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT && create) {
		if (mkdirat(outbox_dirfd, dest, 0755) == 0)
			made = true;
		else if (errno != EEXIST)
			return -errno;
		fd = open_beneath(outbox_dirfd, dest, O_RDONLY | O_DIRECTORY, 0);
	}
	if (fd < 0)
		return fd;
	if (made) {
		if (fchmod(fd, 0755) < 0)
			return -errno;
		r = fsync_dir_at(outbox_dirfd, ".");
		if (r < 0)
			return r;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Remove name beneath dirfd: a file or symlink is unlinked (never
 * followed), a directory emptied and removed, down to a few levels (we
 * never make more than one). */
static int remove_at(int parent, const char *name, unsigned depth)
{
	_cleanup_(dirp) DIR *d = NULL;
	struct stat st;
	int fd, r = 0;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (depth == 0)
		return -ENOTEMPTY;

	fd = open_beneath(parent, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	/* Entries removed during readdir() may make it skip others: go over
	 * the directory until a pass finds nothing (bounded). */
	for (int pass = 0; pass < 4; pass++) {
		bool any = false;
		struct dirent *de;

		rewinddir(d);
		errno = 0;
		while ((de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			any = true;
			r = remove_at(dirfd(d), de->d_name, depth - 1);
			if (r < 0)
				return r;
			errno = 0;
		}
		if (errno != 0)
			return -errno;
		if (!any)
			break;
	}
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Write a new file name (0444) beneath dirfd and fsync it. */
static int write_new(int dirfd, const char *name, const void *data, size_t n)
{
	_cleanup_close_ int fd = -1;
	int r;

	fd = open_beneath(dirfd, name, O_WRONLY | O_CREAT | O_EXCL, 0444);
	if (fd < 0)
		return fd;
	if (fchmod(fd, 0444) < 0)
		return -errno;
	r = write_full(fd, data, n);
	if (r < 0)
		return r;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

/* Copy the spool object into dirfd/name while hashing it (I1).  At most
 * expect_size bytes are written; reading stops one chunk past it. */
static int copy_hashed(int spool_fd, int dirfd, const char *name, uint64_t expect_size,
		       uint64_t *ret_size, bool *ret_larger, char ret_hex[static 65])
{
	_cleanup_(md_ctxp) EVP_MD_CTX *c = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -1;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t off = 0;
	bool larger = false;
	int r;

	buf = malloc(RELEASE_CHUNK);
	c = EVP_MD_CTX_new();
	if (!buf || !c)
		return -ENOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	fd = open_beneath(dirfd, name, O_WRONLY | O_CREAT | O_EXCL, 0444);
	if (fd < 0)
		return fd;
	if (fchmod(fd, 0444) < 0)
		return -errno;

	for (;;) {
		ssize_t k = pread(spool_fd, buf, RELEASE_CHUNK, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		if (EVP_DigestUpdate(c, buf, (size_t)k) != 1) {
			ERR_clear_error();
			return -EIO;
		}
		if (off < expect_size) {
			uint64_t room = expect_size - off;
			r = write_full(fd, buf, room < (uint64_t)k ? (size_t)room : (size_t)k);
			if (r < 0)
				return r;
		}
		off += (uint64_t)k;
		if (off > expect_size) {
			/* Grown: never more than a chunk of it is read. */
			larger = true;
			break;
		}
	}
	if (EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen != 32) {
		ERR_clear_error();
		return -EIO;
	}
	if (fsync(fd) < 0)
		return -errno;
	hex_encode(md, 32, ret_hex);
	*ret_size = off;
	*ret_larger = larger;
	return 0;
}

/* The manifest's exact bytes: the caller's object, then the added keys;
 * indented, insertion order, one trailing newline. */
static int manifest_bytes(const struct release_input *in, const char *name, const char *sha256,
			  const char *fingerprint, char **ret, size_t *ret_len)
{
	json_auto_t *m = NULL;
	_cleanup_free_ char *s = NULL;
	char *out;
	size_t n;

	m = json_deep_copy(in->manifest);
	if (!m)
		return -ENOMEM;
	if (json_object_set_new(m, "file", json_string(name)) < 0 ||
	    json_object_set_new(m, "size", json_integer((json_int_t)in->expect_size)) < 0 ||
	    json_object_set_new(m, "sha256", json_string(sha256)) < 0 ||
	    json_object_set_new(m, "signature_domain", json_string(RELEASE_SIG_DOMAIN)) < 0 ||
	    json_object_set_new(m, "gate_key_sha256", json_string(fingerprint)) < 0)
		return -ENOMEM;
	s = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	out = malloc(n + 2);
	if (!out)
		return -ENOMEM;
	memcpy(out, s, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	*ret = out;
	*ret_len = n + 1;
	return 0;
}

static int check_input(const struct release_input *in, char *why, size_t why_len)
{
	if (!in) {
		say(why, why_len, "no release input");
		return -EINVAL;
	}
	if (in->spool_fd < 0 || in->outbox_dirfd < 0 || !in->key) {
		say(why, why_len, "no spool object, outbox or signing key");
		return -EINVAL;
	}
	if (!destination_valid(in->destination)) {
		say(why, why_len, "bad destination: expected a single path component of [A-Za-z0-9._-]");
		return -EINVAL;
	}
	if (!in->id || !transfer_id_valid(in->id)) {
		say(why, why_len, "bad transfer id");
		return -EINVAL;
	}
	if (!in->expect_sha256 || strlen(in->expect_sha256) != 64 || !is_hex(in->expect_sha256, 64)) {
		say(why, why_len, "bad approved SHA-256: expected 64 lowercase hex");
		return -EINVAL;
	}
	if (in->expect_size > INT64_MAX) {
		say(why, why_len, "approved size out of range");
		return -EINVAL;
	}
	if (!json_is_object(in->manifest)) {
		say(why, why_len, "the manifest is not a JSON object");
		return -EINVAL;
	}
	for (size_t i = 0; i < ELEMENTSOF(added_keys); i++)
		if (json_object_get(in->manifest, added_keys[i])) {
			say(why, why_len, "the manifest already has \"%s\", which the release adds itself",
			    added_keys[i]);
			return -EINVAL;
		}
	return 0;
}

int release_build(const struct release_input *in, char *why, size_t why_len)
{
	_cleanup_close_ int dest_fd = -1;
	_cleanup_close_ int tmp_fd = -1;
	_cleanup_free_ char *manifest = NULL;
	char name[RELEASE_NAME_MAX + 1], tmp[sizeof(RELEASE_TMP_PREFIX) + 33];
	char fingerprint[65], sha256[65];
	char sig_b64[4 * ((SIGNKEY_SIG_LEN + 2) / 3) + 2];
	uint8_t sig[SIGNKEY_SIG_LEN];
	size_t manifest_len = 0;
	uint64_t size = 0;
	bool larger = false;
	struct stat st;
	const char *dest;
	int r, n;

	if (why && why_len > 0)
		why[0] = '\0';
	r = check_input(in, why, why_len);
	if (r < 0)
		return r;
	dest = in->destination;
	release_sanitize_name(in->file_name, name);
	snprintf(tmp, sizeof(tmp), RELEASE_TMP_PREFIX "%s", in->id);
	r = signkey_fingerprint(in->key, fingerprint);
	if (r < 0) {
		say(why, why_len, "the signing key is not an Ed25519 key");
		return r;
	}

	r = open_dest(in->outbox_dirfd, dest, true, &dest_fd);
	if (r < 0) {
		say(why, why_len, "cannot open the outbox directory %s: %s", dest,
		    r == -ELOOP ? "it is a symbolic link" : errstr(r));
		return r;
	}
	if (fstatat(dest_fd, in->id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		say(why, why_len, "the release %s/%s exists already", dest, in->id);
		return -EEXIST;
	}
	if (errno != ENOENT) {
		r = -errno;
		say(why, why_len, "cannot look at %s/%s: %s", dest, in->id, errstr(r));
		return r;
	}
	/* What a release that died half-way left behind. */
	r = remove_at(dest_fd, tmp, 2);
	if (r < 0) {
		say(why, why_len, "cannot remove the leftover %s/%s: %s", dest, tmp, errstr(r));
		return r;
	}
	/* 0700 while it is built: a sync tool that copies dot-directories
	 * must not carry a half release away; 0755 just before the rename. */
	if (mkdirat(dest_fd, tmp, 0700) < 0) {
		r = -errno;
		say(why, why_len, "cannot create %s/%s: %s", dest, tmp, errstr(r));
		return r;
	}
	/* From here on every failure removes the temporary directory. */
	tmp_fd = open_beneath(dest_fd, tmp, O_RDONLY | O_DIRECTORY, 0);
	if (tmp_fd < 0) {
		r = tmp_fd;
		say(why, why_len, "cannot open %s/%s: %s", dest, tmp, errstr(r));
		goto fail;
	}
	if (fchmod(tmp_fd, 0700) < 0) {
		r = -errno;
		say(why, why_len, "cannot set the mode of %s/%s: %s", dest, tmp, errstr(r));
		goto fail;
	}

	r = copy_hashed(in->spool_fd, tmp_fd, name, in->expect_size, &size, &larger, sha256);
	if (r < 0) {
		say(why, why_len, "cannot copy the spool object to %s/%s/%s: %s", dest, tmp, name, errstr(r));
		goto fail;
	}
	if (larger) {
		say(why, why_len,
		    "the spool object changed: it is larger than the approved artifact (%" PRIu64
		    " bytes, SHA-256 %s)",
		    in->expect_size, in->expect_sha256);
		r = -EBADMSG;
		goto fail;
	}
	if (size != in->expect_size) {
		say(why, why_len,
		    "the spool object changed: it is %" PRIu64 " bytes with SHA-256 %s, the approved "
		    "artifact is %" PRIu64 " bytes with SHA-256 %s",
		    size, sha256, in->expect_size, in->expect_sha256);
		r = -EBADMSG;
		goto fail;
	}
	if (strcmp(sha256, in->expect_sha256) != 0) {
		say(why, why_len, "the spool object changed: its SHA-256 is %s, the approved artifact is %s",
		    sha256, in->expect_sha256);
		r = -EBADMSG;
		goto fail;
	}

	r = manifest_bytes(in, name, sha256, fingerprint, &manifest, &manifest_len);
	if (r < 0) {
		say(why, why_len, "cannot write the manifest: %s", errstr(r));
		goto fail;
	}
	r = signkey_sign(in->key, (const uint8_t *)manifest, manifest_len, sig);
	if (r < 0) {
		say(why, why_len, "cannot sign the manifest: %s", errstr(r));
		goto fail;
	}
	n = EVP_EncodeBlock((unsigned char *)sig_b64, sig, (int)sizeof(sig));
	if (n <= 0 || (size_t)n + 2 > sizeof(sig_b64)) {
		r = -EIO;
		say(why, why_len, "cannot encode the signature");
		goto fail;
	}
	sig_b64[n] = '\n';
	sig_b64[n + 1] = '\0';

	r = write_new(tmp_fd, RELEASE_MANIFEST, manifest, manifest_len);
	if (r == 0)
		r = write_new(tmp_fd, RELEASE_SIGNATURE, sig_b64, (size_t)n + 1);
	if (r < 0) {
		say(why, why_len, "cannot write the manifest to %s/%s: %s", dest, tmp, errstr(r));
		goto fail;
	}
	if (fchmod(tmp_fd, 0755) < 0 || fsync(tmp_fd) < 0) {
		r = -errno;
		say(why, why_len, "cannot sync %s/%s: %s", dest, tmp, errstr(r));
		goto fail;
	}

	/* Durably say "renaming now": after a crash, a marker with no
	 * temporary directory left means the rename happened, even if the
	 * release was carried away before the gate recorded it. */
	if (in->marker_dirfd >= 0) {
		int mfd = openat(in->marker_dirfd, in->id, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (mfd < 0 || fsync(mfd) < 0 || fsync(in->marker_dirfd) < 0) {
			r = -errno;
			if (mfd >= 0)
				close(mfd);
			/* a marker left behind would say "renamed" after a
			 * crash, for a release that never was */
			if (unlinkat(in->marker_dirfd, in->id, 0) == 0)
				(void)fsync(in->marker_dirfd);
			say(why, why_len, "cannot write the release marker: %s", errstr(r));
			goto fail;
		}
		close(mfd);
	}
	/* The one step that makes the release visible (I6). */
	if (renameat2(dest_fd, tmp, dest_fd, in->id, RENAME_NOREPLACE) < 0) {
		r = -errno;
		say(why, why_len, "cannot move %s/%s to %s/%s: %s", dest, tmp, dest, in->id,
		    r == -EEXIST ? "the release exists already" : errstr(r));
		if (in->marker_dirfd >= 0)
			(void)unlinkat(in->marker_dirfd, in->id, 0);
		goto fail;
	}
	if (fsync(dest_fd) < 0) {
		r = -errno;
		say(why, why_len, "the release %s/%s is in place, but %s could not be synced: %s", dest,
		    in->id, dest, errstr(r));
		return r;
	}
	return 0;

fail:
	closep(&tmp_fd);
	tmp_fd = -1;
	(void)remove_at(dest_fd, tmp, 2);
	return r;
}

int release_finished(int outbox_dirfd, const char *destination, const char *id)
{
	_cleanup_close_ int dest_fd = -1;
	struct stat st;
	int r;

	if (outbox_dirfd < 0 || !destination_valid(destination) || !id || !transfer_id_valid(id))
		return -EINVAL;
	r = open_dest(outbox_dirfd, destination, false, &dest_fd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (fstatat(dest_fd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return S_ISDIR(st.st_mode) ? 1 : -ENOTDIR;
}

int release_manifest_digest(const struct release_input *in, char ret_hex[static 65])
{
	_cleanup_free_ char *manifest = NULL;
	char name[RELEASE_NAME_MAX + 1], fingerprint[65];
	size_t len = 0;
	int r;

	/* no file system here: only what the bytes depend on */
	if (!in->manifest || !json_is_object(in->manifest) || !in->key || !in->expect_sha256 ||
	    !is_hex(in->expect_sha256, 64))
		return -EINVAL;
	release_sanitize_name(in->file_name, name);
	r = signkey_fingerprint(in->key, fingerprint);
	if (r < 0)
		return r;
	r = manifest_bytes(in, name, in->expect_sha256, fingerprint, &manifest, &len);
	if (r < 0)
		return r;
	sha256_hex(manifest, len, ret_hex);
	return 0;
}

int release_renamed(int outbox_dirfd, int marker_dirfd, const char *destination, const char *id)
{
	_cleanup_close_ int dest_fd = -1;
	char tmp[sizeof(RELEASE_TMP_PREFIX) + 33];
	struct stat st;
	int r;

	r = release_finished(outbox_dirfd, destination, id);
	if (r != 0 || marker_dirfd < 0)
		return r;
	if (fstatat(marker_dirfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	r = open_dest(outbox_dirfd, destination, false, &dest_fd);
	if (r == -ENOENT)
		return 1; /* renamed, and the whole destination moved away */
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), RELEASE_TMP_PREFIX "%s", id);
	if (fstatat(dest_fd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0; /* the crash came before the rename */
	return errno == ENOENT ? 1 : -errno;
}
