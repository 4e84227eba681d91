/* test-release.c - the signing key, building a release into the outbox
 * and verify-release: each "accepts" next to the refusals that try to
 * break it (I1 changed spool, I6 nothing half-released, names and
 * symlinks that would escape the outbox, tampered releases, another
 * gate's key, a signature without the domain). */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "release.h"
#include "signkey.h"
#include "tap.h"
#include "util.h"
#include "verify.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "11111111111111111111111111111111"
#define ID_C "22222222222222222222222222222222"
#define ID_D "33333333333333333333333333333333"
#define ID_E "44444444444444444444444444444444"
#define ID_F "55555555555555555555555555555555"
#define ID_G "66666666666666666666666666666666"
#define ID_H "77777777777777777777777777777777"
#define ID_I "88888888888888888888888888888888"
#define DEST "crashdump"
#define SPOOL_SIZE (3 * 1024 * 1024 + 123) /* crosses the 1 MiB chunks */

static char base[256];
static int outbox_fd = -1;
static EVP_PKEY *key, *other_key;
static char pub_path[PATH_MAX], other_pub_path[PATH_MAX], priv_path[PATH_MAX];

/* base/<fmt> in one of a few rotating buffers. */
_printf_(1, 2) static const char *P(const char *fmt, ...)
{
	static char bufs[8][1536];
	static unsigned next;
	char rel[1024];
	char *b = bufs[next++ % ELEMENTSOF(bufs)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(b, sizeof(bufs[0]), "%s/%s", base, rel);
	return b;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static int write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int r;

	if (fd < 0)
		return -errno;
	r = write_full(fd, data, n);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	r = read_full(fd, buf, (size_t)st.st_size, &got);
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[got] = '\0';
	*ret = buf;
	*ret_len = got;
	return 0;
}

static int copy_file(const char *from, const char *to)
{
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	int r = read_file(from, &buf, &n);

	return r < 0 ? r : write_file(to, buf, n, 0644);
}

/* Change one byte of a file (made writable for the purpose): XOR its low
 * bit, or, in base64 text, swap it for another base64 letter (the XOR may
 * turn '+' or 'A' into a character that is not base64 at all, which is
 * refused for another reason). */
static int change_byte(const char *path, off_t off, bool base64)
{
	uint8_t c;
	int fd, r = 0;

	(void)chmod(path, 0644);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, &c, 1, off) != 1)
		r = -EIO;
	c = base64 ? (c == 'A' ? 'B' : 'A') : c ^ 0x01;
	if (r == 0 && pwrite(fd, &c, 1, off) != 1)
		r = -EIO;
	close(fd);
	return r;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	(void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copy a release directory (plain files only). */
static int copy_release(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	if (mkdir(to, 0755) < 0) {
		closedir(d);
		return -errno;
	}
	while ((de = readdir(d))) {
		char a[PATH_MAX], b[PATH_MAX];
		if (de->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
		r = copy_file(a, b);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* A spool object: random bytes in base/name; returns a read-only fd. */
static int make_spool(const char *name, size_t n, char sha[65])
{
	_cleanup_free_ uint8_t *buf = malloc(n);
	const char *path = P("%s", name);

	if (!buf || random_bytes(buf, n) < 0 || write_file(path, buf, n, 0600) < 0)
		return -1;
	sha256_hex(buf, n, sha);
	return open(path, O_RDONLY | O_CLOEXEC);
}

struct spool {
	int fd;
	char sha[65];
	uint64_t size;
};

static int build_full(const char *dest, const char *id, const char *file_name, const struct spool *s,
		      const char *sha, uint64_t size, json_t *manifest, char *why, size_t why_len)
{
	struct release_input in = {
		.spool_fd = s->fd,
		.outbox_dirfd = outbox_fd,
		.destination = dest,
		.id = id,
		.file_name = file_name,
		.expect_sha256 = sha,
		.expect_size = size,
		.manifest = manifest,
		.key = key,
		.marker_dirfd = -1,
	};
	return release_build(&in, why, why_len);
}

static json_t *sample_manifest(const char *id)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:s}", "transfer", id, "profile", DEST,
			 "type", "elf-core", "requester", "alice", "reason", "INC-4711", "approvals", "person",
			 "bob", "token", "cccccclvbjnr", "kernel_audit", "required");
}

static int build(const char *dest, const char *id, const char *file_name, const struct spool *s, char *why,
		 size_t why_len)
{
	json_t *m = sample_manifest(id);
	int r = build_full(dest, id, file_name, s, s->sha, s->size, m, why, why_len);

	json_decref(m);
	return r;
}

static int verify(const char *dir, const char *pub, char *why, size_t why_len)
{
	return verify_release(dir, pub, why, why_len);
}

/* Replace manifest.json of a release copy and sign it with k (with or
 * without the domain). */
static int resign(const char *dir, const char *manifest, EVP_PKEY *k, bool with_domain)
{
	char path[PATH_MAX], b64[100];
	uint8_t sig[64];
	size_t siglen = sizeof(sig);
	int n, r;

	snprintf(path, sizeof(path), "%s/%s", dir, RELEASE_MANIFEST);
	(void)unlink(path);
	r = write_file(path, manifest, strlen(manifest), 0444);
	if (r < 0)
		return r;
	if (with_domain) {
		r = signkey_sign(k, (const uint8_t *)manifest, strlen(manifest), sig);
		if (r < 0)
			return r;
	} else {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		bool good = c && EVP_DigestSignInit(c, NULL, NULL, NULL, k) == 1 &&
			    EVP_DigestSign(c, sig, &siglen, (const uint8_t *)manifest, strlen(manifest)) == 1;
		EVP_MD_CTX_free(c);
		if (!good)
			return -EIO;
	}
	n = EVP_EncodeBlock((unsigned char *)b64, sig, 64);
	b64[n++] = '\n';
	snprintf(path, sizeof(path), "%s/%s", dir, RELEASE_SIGNATURE);
	(void)unlink(path);
	return write_file(path, b64, (size_t)n, 0444);
}

/* The manifest of a release with one string field replaced. */
static char *manifest_with(const char *dir, const char *field, const char *value)
{
	char path[PATH_MAX];
	json_t *m;
	char *s, *out = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, RELEASE_MANIFEST);
	m = json_load_file(path, 0, NULL);
	if (!m)
		return NULL;
	json_object_set_new(m, field, json_string(value));
	s = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	if (s && asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	free(s);
	return out;
}

static void test_signkey(void)
{
	_cleanup_close_ int sfd = -1;
	_cleanup_close_ int fd = -1;
	char *err = NULL;
	char fp1[65], fp2[65], fp3[65];
	EVP_PKEY *k = NULL, *pub = NULL;
	int r;

	ok(mkdir(P("state"), 0700) == 0, "state directory");
	sfd = open(P("state"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	r = signkey_load_or_create(sfd, false, &k, &err);
	ok(r == -ENOENT && !k && err && strstr(err, "only created on the gate's first start"),
	   "no key and not the first start: refused (%d: %s)", r, err ? err : "");
	ok(!exists(P("state/signing.key")) && !exists(P("state/signing.pub")), "... and nothing was created");
	free(err), err = NULL;

	/* A leftover temp file of a first start that died early. */
	write_file(P("state/signing.key.tmp"), "junk", 4, 0400);
	r = signkey_load_or_create(sfd, true, &key, &err);
	ok(r == 0 && key, "first start creates the key (%d: %s)", r, err ? err : "");
	free(err), err = NULL;
	ok(mode_of(P("state/signing.key")) == 0400, "signing.key is 0400 (%04o)", (unsigned)mode_of(P("state/signing.key")));
	ok(mode_of(P("state/signing.pub")) == 0444, "signing.pub is 0444");
	ok(!exists(P("state/signing.key.tmp")) && !exists(P("state/signing.pub.tmp")), "no temporary files left");
	{
		_cleanup_free_ char *pem = NULL;
		size_t n = 0;
		read_file(P("state/signing.key"), &pem, &n);
		ok(pem && strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0, "signing.key is PEM PKCS#8");
	}

	r = signkey_load_or_create(sfd, true, &k, &err);
	signkey_fingerprint(key, fp1);
	ok(r == 0 && k && signkey_fingerprint(k, fp2) == 0 && strcmp(fp1, fp2) == 0,
	   "a second start loads the same key, even with allow_create");
	EVP_PKEY_free(k), k = NULL;
	free(err), err = NULL;

	snprintf(pub_path, sizeof(pub_path), "%s", P("state/signing.pub"));
	snprintf(priv_path, sizeof(priv_path), "%s", P("state/signing.key"));
	r = signkey_load_public(AT_FDCWD, pub_path, &pub);
	ok(r == 0 && signkey_fingerprint(pub, fp3) == 0 && strcmp(fp1, fp3) == 0,
	   "signing.pub has the key's fingerprint %.16s...", fp1);
	EVP_PKEY_free(pub), pub = NULL;
	r = signkey_load_public(AT_FDCWD, priv_path, &pub);
	ok(r == -EBADMSG && !pub, "signkey_load_public refuses a private key file");
	r = signkey_load_public(AT_FDCWD, P("nonexistent.pub"), &pub);
	ok(r == -ENOENT && !pub, "signkey_load_public: missing file is -ENOENT");

	/* Another gate. */
	mkdir(P("other"), 0700);
	fd = open(P("other"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = signkey_load_or_create(fd, true, &other_key, &err);
	ok(r == 0 && other_key, "another gate's key");
	free(err), err = NULL;
	closep(&fd);
	fd = -1;
	snprintf(other_pub_path, sizeof(other_pub_path), "%s", P("other/signing.pub"));

	/* signing.pub without signing.key: never a new key. */
	mkdir(P("state2"), 0700);
	copy_file(pub_path, P("state2/signing.pub"));
	fd = open(P("state2"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = signkey_load_or_create(fd, true, &k, &err);
	ok(r == -ENOENT && !k && err &&
		   strstr(err, "signing.key is missing but signing.pub exists: refusing to create a new one"),
	   "signing.pub without signing.key is refused (%s)", err ? err : "");
	ok(!exists(P("state2/signing.key")), "... and no key was created");
	free(err), err = NULL;
	closep(&fd);
	fd = -1;

	/* A group-readable key. */
	mkdir(P("state3"), 0700);
	copy_file(priv_path, P("state3/signing.key"));
	copy_file(pub_path, P("state3/signing.pub"));
	chmod(P("state3/signing.key"), 0440);
	fd = open(P("state3"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = signkey_load_or_create(fd, true, &k, &err);
	ok(r == -EPERM && !k && err && strstr(err, "group or others"), "a group-readable key is refused (%s)",
	   err ? err : "");
	free(err), err = NULL;
	chmod(P("state3/signing.key"), 0404);
	r = signkey_load_or_create(fd, true, &k, &err);
	ok(r == -EPERM && !k, "an others-readable key is refused");
	free(err), err = NULL;
	chmod(P("state3/signing.key"), 0600);
	r = signkey_load_or_create(fd, false, &k, &err);
	ok(r == 0 && k, "0600 is fine");
	EVP_PKEY_free(k), k = NULL;
	free(err), err = NULL;

	/* signing.pub of another key. */
	unlink(P("state3/signing.pub"));
	copy_file(other_pub_path, P("state3/signing.pub"));
	r = signkey_load_or_create(fd, true, &k, &err);
	ok(r == -EBADMSG && !k && err && strstr(err, "not the public half"), "a signing.pub of another key is refused (%s)",
	   err ? err : "");
	free(err), err = NULL;

	/* signing.pub missing: an error, unless signing.pub.tmp is its half. */
	unlink(P("state3/signing.pub"));
	r = signkey_load_or_create(fd, true, &k, &err);
	ok(r == -ENOENT && !k && !exists(P("state3/signing.pub")), "signing.key without signing.pub is refused (%s)",
	   err ? err : "");
	free(err), err = NULL;
	copy_file(other_pub_path, P("state3/signing.pub.tmp"));
	r = signkey_load_or_create(fd, true, &k, &err);
	ok(r == -EBADMSG && !k && !exists(P("state3/signing.pub")), "... also with another key's signing.pub.tmp");
	free(err), err = NULL;
	unlink(P("state3/signing.pub.tmp"));
	copy_file(pub_path, P("state3/signing.pub.tmp"));
	r = signkey_load_or_create(fd, false, &k, &err);
	ok(r == 0 && k && exists(P("state3/signing.pub")) && !exists(P("state3/signing.pub.tmp")),
	   "a first start that died between its renames is completed from signing.pub.tmp");
	EVP_PKEY_free(k), k = NULL;
	free(err), err = NULL;
	closep(&fd);
	fd = -1;

	/* Symlinked key. */
	mkdir(P("state4"), 0700);
	ok(symlink(priv_path, P("state4/signing.key")) == 0, "plant a symlinked signing.key");
	copy_file(pub_path, P("state4/signing.pub"));
	fd = open(P("state4"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = signkey_load_or_create(fd, true, &k, &err);
	ok(r == -ELOOP && !k, "a symlinked signing.key is refused (%s)", err ? err : "");
	free(err), err = NULL;
	closep(&fd);
	fd = -1;

	/* Garbage key. */
	mkdir(P("state5"), 0700);
	write_file(P("state5/signing.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58, 0400);
	copy_file(pub_path, P("state5/signing.pub"));
	fd = open(P("state5"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = signkey_load_or_create(fd, true, &k, &err);
	ok(r == -EBADMSG && !k, "an unparsable signing.key is refused, not replaced (%s)", err ? err : "");
	free(err), err = NULL;
}

static void test_sign(void)
{
	const uint8_t msg[] = "{\"a\":1}\n";
	uint8_t sig[64], bare[64];
	size_t bl = sizeof(bare);
	EVP_MD_CTX *c;

	ok(signkey_sign(key, msg, sizeof(msg) - 1, sig) == 0, "sign");
	ok(signkey_verify(key, msg, sizeof(msg) - 1, sig) == 0, "verify (with the private key object)");
	ok(signkey_verify(key, msg, sizeof(msg) - 2, sig) == -EBADMSG, "verify refuses another message");
	ok(signkey_verify(other_key, msg, sizeof(msg) - 1, sig) == -EBADMSG, "verify refuses another key");
	sig[10] ^= 4;
	ok(signkey_verify(key, msg, sizeof(msg) - 1, sig) == -EBADMSG, "verify refuses a changed signature");

	c = EVP_MD_CTX_new();
	ok(c && EVP_DigestSignInit(c, NULL, NULL, NULL, key) == 1 &&
		   EVP_DigestSign(c, bare, &bl, msg, sizeof(msg) - 1) == 1,
	   "a signature over the bare message");
	EVP_MD_CTX_free(c);
	ok(signkey_verify(key, msg, sizeof(msg) - 1, bare) == -EBADMSG,
	   "a signature without the domain prefix does not verify");
	ok(signkey_sign(key, NULL, 0, sig) == 0 && signkey_verify(key, NULL, 0, sig) == 0, "empty message");
	ok(RELEASE_SIG_DOMAIN_LEN == 29, "the domain is 28 characters and a NUL");
}

static void test_names(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "core.1234", "core.1234" },
		{ "../../etc/x", "_.._etc_x" },
		{ "/etc/passwd", "_etc_passwd" },
		{ ".bashrc", "bashrc" },
		{ "...", "artifact" },
		{ "", "artifact" },
		{ NULL, "artifact" },
		{ "a b\n\xc3\xa9", "a_b___" },
		{ "manifest.json", "artifact-manifest.json" },
		{ "manifest.sig", "artifact-manifest.sig" },
		{ "..manifest.json", "artifact-manifest.json" },
		{ "manifest.json.gz", "manifest.json.gz" },
	};
	char out[RELEASE_NAME_MAX + 1], longname[300];

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		release_sanitize_name(cases[i].in, out);
		_cleanup_free_ char *shown = cases[i].in ? str_escape(cases[i].in, 64) : NULL;
		ok(strcmp(out, cases[i].out) == 0 && release_name_valid(out), "sanitise \"%s\" -> \"%s\" (%s)",
		   shown ? shown : "(null)", cases[i].out, out);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	release_sanitize_name(longname, out);
	ok(strlen(out) == RELEASE_NAME_MAX, "a long name is cut to %d bytes", RELEASE_NAME_MAX);

	ok(!release_name_valid("..") && !release_name_valid(".") && !release_name_valid("a/b") &&
		   !release_name_valid("") && !release_name_valid(".hidden") &&
		   !release_name_valid(RELEASE_MANIFEST) && !release_name_valid(RELEASE_SIGNATURE) &&
		   !release_name_valid(longname) && !release_name_valid(NULL),
	   "release_name_valid refuses what sanitising never makes");
}

static void test_release(struct spool *s)
{
	char why[512], other_sha[65];
	char *manifest = NULL;
	size_t n = 0;
	json_t *m, *in;
	int r;

	/* The good path. */
	r = build(DEST, ID_A, "core.1234", s, why, sizeof(why));
	ok(r == 0 && why[0] == '\0', "a release is built (%d: %s)", r, why);
	ok(release_finished(outbox_fd, DEST, ID_A) == 1, "release_finished says 1");
	ok(count_entries(P("outbox/" DEST)) == 1, "nothing but the release in DEST (no .tmp-)");
	ok(count_entries(P("outbox/" DEST "/" ID_A)) == 3, "the release holds three files");
	ok(mode_of(P("outbox/" DEST "/" ID_A)) == 0755 && mode_of(P("outbox/" DEST)) == 0755, "directories are 0755");
	ok(mode_of(P("outbox/" DEST "/" ID_A "/core.1234")) == 0444 &&
		   mode_of(P("outbox/" DEST "/" ID_A "/manifest.json")) == 0444 &&
		   mode_of(P("outbox/" DEST "/" ID_A "/manifest.sig")) == 0444,
	   "files are 0444");
	r = verify(P("outbox/" DEST "/" ID_A), pub_path, why, sizeof(why));
	ok(r == 0, "verify-release accepts it (%d: %s)", r, why);

	read_file(P("outbox/" DEST "/" ID_A "/manifest.json"), &manifest, &n);
	m = manifest ? json_loadb(manifest, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
	ok(m && n > 2 && manifest[n - 1] == '\n' && manifest[n - 2] == '}', "manifest.json is JSON with a trailing newline");
	if (manifest)
		diag("manifest.json:\n%s", manifest);
	{
		char fp[65];
		const char *k = NULL;
		void *it = json_object_iter(m);
		signkey_fingerprint(key, fp);
		if (it)
			k = json_object_iter_key(it);
		ok(k && strcmp(k, "transfer") == 0, "the caller's keys come first, in order");
		ok(m && strcmp(json_string_value(json_object_get(m, "file")), "core.1234") == 0 &&
			   json_integer_value(json_object_get(m, "size")) == SPOOL_SIZE &&
			   strcmp(json_string_value(json_object_get(m, "sha256")), s->sha) == 0 &&
			   strcmp(json_string_value(json_object_get(m, "signature_domain")), RELEASE_SIG_DOMAIN) == 0 &&
			   strcmp(json_string_value(json_object_get(m, "gate_key_sha256")), fp) == 0 &&
			   strcmp(json_string_value(json_object_get(m, "requester")), "alice") == 0,
		   "manifest: file, size, sha256, signature_domain, gate_key_sha256 and the caller's fields");
	}
	json_decref(m);
	free(manifest);
	{
		_cleanup_free_ char *sig = NULL;
		size_t sn = 0;
		read_file(P("outbox/" DEST "/" ID_A "/manifest.sig"), &sig, &sn);
		ok(sig && sn == 89 && sig[88] == '\n' && !memchr(sig, '\n', 88), "manifest.sig is one line of base64");
	}
	ok(release_finished(outbox_fd, DEST, ID_B) == 0, "release_finished: 0 for an id not released");
	ok(release_finished(outbox_fd, "nowhere", ID_A) == 0, "release_finished: 0 for a destination never made");
	ok(release_finished(outbox_fd, "..", ID_A) == -EINVAL && release_finished(outbox_fd, DEST, "x") == -EINVAL,
	   "release_finished: bad destination or id");

	/* I1: the spool object changed behind the gate. */
	sha256_hex("other bytes", 11, other_sha);
	in = sample_manifest(ID_B);
	r = build_full(DEST, ID_B, "core.1234", s, other_sha, s->size, in, why, sizeof(why));
	ok(r == -EBADMSG, "a changed spool object is refused (%d)", r);
	{
		char want[300];
		snprintf(want, sizeof(want), "the spool object changed: its SHA-256 is %s, the approved artifact is %s",
			 s->sha, other_sha);
		ok(strcmp(why, want) == 0, "... saying so: %s", why);
	}
	ok(!exists(P("outbox/" DEST "/" ID_B)) && !exists(P("outbox/" DEST "/.tmp-" ID_B)),
	   "... and nothing is left in the outbox");
	r = build_full(DEST, ID_B, "core.1234", s, s->sha, s->size - 1, in, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "larger than the approved"), "a grown spool object is refused (%s)", why);
	r = build_full(DEST, ID_B, "core.1234", s, s->sha, s->size + 1, in, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "bytes with SHA-256"), "a shrunk spool object is refused (%s)", why);
	ok(!exists(P("outbox/" DEST "/" ID_B)) && !exists(P("outbox/" DEST "/.tmp-" ID_B)) &&
		   release_finished(outbox_fd, DEST, ID_B) == 0,
	   "... and nothing is left in the outbox");
	json_decref(in);

	/* The caller's manifest may not set what the release adds. */
	in = sample_manifest(ID_B);
	json_object_set_new(in, "sha256", json_string(s->sha));
	r = build_full(DEST, ID_B, "core.1234", s, s->sha, s->size, in, why, sizeof(why));
	ok(r == -EINVAL && !exists(P("outbox/" DEST "/" ID_B)), "a manifest that brings its own sha256 is refused (%s)",
	   why);
	json_decref(in);

	/* Names that would escape. */
	r = build(DEST, ID_C, "../../etc/x", s, why, sizeof(why));
	ok(r == 0, "a name with ../ is released (%d: %s)", r, why);
	ok(exists(P("outbox/" DEST "/" ID_C "/_.._etc_x")) && count_entries(P("outbox/" DEST "/" ID_C)) == 3,
	   "... as _.._etc_x inside the release");
	ok(!exists(P("etc")) && !exists(P("outbox/etc")) && count_entries(P("outbox/" DEST)) == 2,
	   "... and nothing outside it");
	r = verify(P("outbox/" DEST "/" ID_C), pub_path, why, sizeof(why));
	ok(r == 0, "... and it verifies (%s)", why);
	r = build(DEST, ID_D, "manifest.json", s, why, sizeof(why));
	ok(r == 0 && exists(P("outbox/" DEST "/" ID_D "/artifact-manifest.json")) &&
		   verify(P("outbox/" DEST "/" ID_D), pub_path, why, sizeof(why)) == 0,
	   "a file named manifest.json does not collide with the manifest");

	/* Destinations. */
	ok(build("..", ID_E, "x", s, why, sizeof(why)) == -EINVAL, "destination .. is refused");
	ok(build("a/b", ID_E, "x", s, why, sizeof(why)) == -EINVAL, "destination a/b is refused");
	ok(build("", ID_E, "x", s, why, sizeof(why)) == -EINVAL, "empty destination is refused");
	ok(build(DEST, "../" ID_E, "x", s, why, sizeof(why)) == -EINVAL, "a bad id is refused");

	/* A symlink planted at DEST, pointing outside. */
	mkdir(P("outside"), 0755);
	ok(symlink(P("outside"), P("outbox/evil")) == 0, "plant outbox/evil -> outside");
	r = build("evil", ID_E, "core.1234", s, why, sizeof(why));
	ok(r == -ELOOP, "a symlink at DEST is refused (%d: %s)", r, why);
	ok(count_entries(P("outside")) == 0, "... nothing was written outside the outbox");
	ok(release_finished(outbox_fd, "evil", ID_E) == -ELOOP, "release_finished does not follow it either");
	ok(symlink("../" DEST, P("outbox/inner")) == 0, "plant outbox/inner -> " DEST);
	r = build("inner", ID_E, "core.1234", s, why, sizeof(why));
	ok(r == -ELOOP && !exists(P("outbox/" DEST "/" ID_E)), "a symlink at DEST to inside the outbox is refused too");
	write_file(P("outbox/plain"), "x", 1, 0644);
	r = build("plain", ID_E, "core.1234", s, why, sizeof(why));
	ok(r == -ENOTDIR, "a file at DEST is refused (%d)", r);

	/* A symlink planted as the temporary directory: removed, never followed. */
	write_file(P("outside/keep"), "keep", 4, 0644);
	ok(symlink(P("outside"), P("outbox/" DEST "/.tmp-" ID_E)) == 0, "plant .tmp-<id> -> outside");
	r = build(DEST, ID_E, "core.1234", s, why, sizeof(why));
	ok(r == 0 && exists(P("outside/keep")) && count_entries(P("outside")) == 1,
	   "a symlink at .tmp-<id> is removed, not followed (%d: %s)", r, why);
	ok(verify(P("outbox/" DEST "/" ID_E), pub_path, why, sizeof(why)) == 0, "... and the release verifies");

	/* A finished release is never replaced. */
	mkdir(P("outbox/" DEST "/" ID_F), 0755);
	write_file(P("outbox/" DEST "/" ID_F "/marker"), "m", 1, 0644);
	r = build(DEST, ID_F, "core.1234", s, why, sizeof(why));
	ok(r == -EEXIST && exists(P("outbox/" DEST "/" ID_F "/marker")) &&
		   count_entries(P("outbox/" DEST "/" ID_F)) == 1 && !exists(P("outbox/" DEST "/.tmp-" ID_F)),
	   "an existing DEST/<id> is refused and untouched (%s)", why);
	r = build(DEST, ID_A, "core.1234", s, why, sizeof(why));
	ok(r == -EEXIST, "building a release twice is refused");

	/* A crash during release left .tmp-<id>: cleaned, then built. */
	mkdir(P("outbox/" DEST "/.tmp-" ID_G), 0755);
	write_file(P("outbox/" DEST "/.tmp-" ID_G "/core.1234"), "half", 4, 0444);
	write_file(P("outbox/" DEST "/.tmp-" ID_G "/manifest.json"), "{", 1, 0444);
	ok(release_finished(outbox_fd, DEST, ID_G) == 0, "a leftover .tmp-<id> is not a finished release");
	r = build(DEST, ID_G, "core.1234", s, why, sizeof(why));
	ok(r == 0 && !exists(P("outbox/" DEST "/.tmp-" ID_G)) && release_finished(outbox_fd, DEST, ID_G) == 1,
	   "a leftover .tmp-<id> is cleaned and the release succeeds (%d: %s)", r, why);
	ok(verify(P("outbox/" DEST "/" ID_G), pub_path, why, sizeof(why)) == 0, "... and it verifies (%s)", why);

	/* A regular file is not a release. */
	write_file(P("outbox/" DEST "/" ID_H), "x", 1, 0644);
	ok(release_finished(outbox_fd, DEST, ID_H) == -ENOTDIR, "release_finished: a file at <id> is -ENOTDIR");
	ok(build(DEST, ID_H, "core.1234", s, why, sizeof(why)) == -EEXIST, "... and release_build refuses it");
}

/* The openat(O_NOFOLLOW) fallback for kernels without openat2: in a child
 * whose seccomp filter answers openat2 with ENOSYS. */
static void test_without_openat2(struct spool *s)
{
#if defined(__x86_64__)
	const uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	const uint32_t arch = AUDIT_ARCH_AARCH64;
#else
	const uint32_t arch = 0;
#endif
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ELEMENTSOF(f), .filter = f };
	int status = 0;
	pid_t pid;

	if (arch == 0) {
		ok(1, "# SKIP no seccomp arch for this machine");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char why[512];
		struct open_how how = { .flags = O_RDONLY };
		int fails = 0;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(100);
		if (syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how)) >= 0 || errno != ENOSYS)
			_exit(101);
		if (build("evil", ID_I, "core.1234", s, why, sizeof(why)) != -ELOOP || count_entries(P("outside")) != 1)
			fails |= 1;
		if (build("inner", ID_I, "core.1234", s, why, sizeof(why)) != -ELOOP)
			fails |= 2;
		if (build(DEST, ID_I, "../../etc/y", s, why, sizeof(why)) != 0 ||
		    !exists(P("outbox/" DEST "/" ID_I "/_.._etc_y")) ||
		    verify(P("outbox/" DEST "/" ID_I), pub_path, why, sizeof(why)) != 0)
			fails |= 4;
		if (release_finished(outbox_fd, "evil", ID_I) != -ELOOP || release_finished(outbox_fd, DEST, ID_I) != 1)
			fails |= 8;
		_exit(fails);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "without openat2 (seccomp ENOSYS): symlinked DEST refused, names stay inside, release verifies (status %d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void test_verify(void)
{
	char good[1536], v[1536], why[512];
	int r;

	snprintf(good, sizeof(good), "%s", P("outbox/" DEST "/" ID_A));

	/* A tampered manifest byte. */
	snprintf(v, sizeof(v), "%s", P("v1"));
	copy_release(good, v);
	change_byte(P("v1/manifest.json"), 40, false);
	r = verify(v, pub_path, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "manifest.sig does not verify with"), "a tampered manifest byte is refused (%s)",
	   why);

	/* A tampered signature. */
	snprintf(v, sizeof(v), "%s", P("v2"));
	copy_release(good, v);
	change_byte(P("v2/manifest.sig"), 5, true);
	r = verify(v, pub_path, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "does not verify"), "a tampered signature is refused (%s)", why);
	unlink(P("v2/manifest.sig"));
	write_file(P("v2/manifest.sig"), "not base64\n", 11, 0444);
	r = verify(v, pub_path, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "base64"), "a signature that is not base64 is refused (%s)", why);
	unlink(P("v2/manifest.sig"));
	r = verify(v, pub_path, why, sizeof(why));
	ok(r == -ENOENT && strstr(why, "manifest.sig"), "a missing signature is refused (%s)", why);

	/* A tampered file byte, a truncated file. */
	snprintf(v, sizeof(v), "%s", P("v3"));
	copy_release(good, v);
	change_byte(P("v3/core.1234"), 2 * 1024 * 1024 + 7, false);
	r = verify(v, pub_path, why, sizeof(why));
	ok(r == -EBADMSG && strncmp(why, "core.1234: SHA-256 differs from the manifest", 44) == 0,
	   "a tampered file byte is refused (%s)", why);
	ok(truncate(P("v3/core.1234"), 100) == 0, "truncate the copy");
	r = verify(v, pub_path, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "core.1234: 100 bytes, the manifest says"), "a truncated file is refused (%s)",
	   why);
	unlink(P("v3/core.1234"));
	r = verify(v, pub_path, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "missing"), "a missing file is refused (%s)", why);
	ok(symlink(P("outbox/" DEST "/" ID_A "/core.1234"), P("v3/core.1234")) == 0, "plant a symlink as the file");
	r = verify(v, pub_path, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "symbolic link"), "a symlink in place of the file is refused (%s)", why);

	/* An extra file. */
	snprintf(v, sizeof(v), "%s", P("v4"));
	copy_release(good, v);
	write_file(P("v4/extra\x1b[31m"), "x", 1, 0644);
	r = verify(v, pub_path, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "unexpected file \"extra\\x1b[31m\""),
	   "an extra file is refused, its name escaped (%s)", why);

	/* Another gate's key. */
	snprintf(v, sizeof(v), "%s", P("v5"));
	copy_release(good, v);
	r = verify(v, other_pub_path, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "does not verify with"), "another gate's key is refused (%s)", why);
	{
		_cleanup_free_ char *mf = NULL;
		size_t n = 0;
		read_file(P("v5/manifest.json"), &mf, &n);
		/* Re-signed by the other gate, checked with ours. */
		resign(v, mf, other_key, true);
		r = verify(v, pub_path, why, sizeof(why));
		ok(r == -EBADMSG && strstr(why, "does not verify with"),
		   "a release signed by another gate is refused (%s)", why);
		r = verify(v, other_pub_path, why, sizeof(why));
		ok(r == -EBADMSG && strstr(why, "gate_key_sha256"),
		   "... and with that gate's key the fingerprint does not match (%s)", why);
	}
	r = verify(v, priv_path, why, sizeof(why));
	ok(r == -EBADMSG && strstr(why, "not a PEM Ed25519 public key"), "a private key as --key is refused (%s)", why);

	/* The domain: the right key, but a signature over the bare bytes. */
	snprintf(v, sizeof(v), "%s", P("v6"));
	copy_release(good, v);
	{
		_cleanup_free_ char *mf = NULL;
		size_t n = 0;
		read_file(P("v6/manifest.json"), &mf, &n);
		resign(v, mf, key, false);
		r = verify(v, pub_path, why, sizeof(why));
		ok(r == -EBADMSG && strstr(why, "does not verify"), "a signature without the domain is refused (%s)", why);
		resign(v, mf, key, true);
		r = verify(v, pub_path, why, sizeof(why));
		ok(r == 0, "... and the same bytes signed with the domain verify (%s)", why);
	}

	/* Signed by the right key, but naming a file outside. */
	snprintf(v, sizeof(v), "%s", P("v7"));
	copy_release(good, v);
	{
		_cleanup_free_ char *mf = manifest_with(v, "file", "../v1/core.1234");
		resign(v, mf, key, true);
		r = verify(v, pub_path, why, sizeof(why));
		ok(r == -EBADMSG && strstr(why, "not a plain file name"), "a manifest naming ../ is refused (%s)", why);
	}
	{
		_cleanup_free_ char *mf = manifest_with(v, "file", "core.1234");
		_cleanup_free_ char *mf2 = NULL;
		json_t *m = mf ? json_loads(mf, 0, NULL) : NULL;
		json_object_set_new(m, "gate_key_sha256", json_string("0000000000000000000000000000000000000000000000000000000000000000"));
		mf2 = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(m);
		resign(v, mf2, key, true);
		r = verify(v, pub_path, why, sizeof(why));
		ok(r == -EBADMSG && strstr(why, "gate_key_sha256"), "a wrong gate_key_sha256 is refused (%s)", why);
	}
	r = verify(P("nope"), pub_path, why, sizeof(why));
	ok(r == -ENOENT, "a missing directory is an error (%s)", why);
	r = verify(good, P("nope.pub"), why, sizeof(why));
	ok(r == -ENOENT, "a missing key is an error (%s)", why);
	r = verify(good, pub_path, why, sizeof(why));
	ok(r == 0, "the original still verifies");
}

int main(void)
{
	struct spool s = { .fd = -1 };

	snprintf(base, sizeof(base), "%s/test-release-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(base)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	umask(022);
	ok(mkdir(P("outbox"), 0755) == 0, "outbox");
	outbox_fd = open(P("outbox"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	test_signkey();
	if (!key || !other_key) {
		printf("Bail out! no signing key\n");
		rm_rf(base);
		return 1;
	}
	test_sign();
	test_names();

	s.fd = make_spool("spool-object", SPOOL_SIZE, s.sha);
	s.size = SPOOL_SIZE;
	ok(s.fd >= 0, "spool object of %d bytes", SPOOL_SIZE);
	test_release(&s);
	test_without_openat2(&s);
	test_verify();

	close(s.fd);
	close(outbox_fd);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other_key);
	rm_rf(base);
	return tap_done();
}
