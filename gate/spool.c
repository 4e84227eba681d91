/* spool.c - upload copy jobs and spool objects; see spool.h. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

#define COPY_CHUNK (1024 * 1024)

static uint64_t now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Copy src to dst until EOF, hashing and counting.  Returns 0 or -errno. */
static int copy_loop(struct spool_job *j, EVP_MD_CTX *md, uint8_t *buf)
{
	struct stat st;
	bool is_pipe;
	uint64_t last_data = now_mono();

	if (fstat(j->src_fd, &st) < 0)
		return -errno;
	is_pipe = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);

	for (;;) {
		ssize_t n;

		if (atomic_load(&j->cancel))
			return -ECANCELED;
		if (is_pipe) {
			/* Wake up every second to notice cancel and idleness. */
			struct pollfd p = { .fd = j->src_fd, .events = POLLIN };
			int r = poll(&p, 1, 1000);
			if (r < 0 && errno != EINTR)
				return -errno;
			if (r <= 0) {
				if (now_mono() - last_data > j->idle_timeout)
					return -ETIMEDOUT;
				continue;
			}
		}
		n = read(j->src_fd, buf, COPY_CHUNK);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		last_data = now_mono();
		uint64_t have = atomic_load(&j->bytes);
		if ((uint64_t)n > j->limit || have > j->limit - (uint64_t)n)
			return -EFBIG;
		if (j->head_len < FTYPE_HEAD) {
			size_t take = FTYPE_HEAD - j->head_len;
			if (take > (size_t)n)
				take = (size_t)n;
			memcpy(j->head + j->head_len, buf, take);
			j->head_len += take;
		}
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			return -EIO;
		int r = write_full(j->dst_fd, buf, (size_t)n);
		if (r < 0)
			return r;
		atomic_store(&j->bytes, have + (uint64_t)n);
	}
}

static void *job_thread(void *arg)
{
	struct spool_job *j = arg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *buf = malloc(COPY_CHUNK);
	int r;

	if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		r = -ENOMEM;
	else
		r = copy_loop(j, md, buf);

	if (r == 0) {
		unsigned char dg[32];
		unsigned int dl = 0;
		if (EVP_DigestFinal_ex(md, dg, &dl) != 1 || dl != 32)
			r = -EIO;
		else
			hex_encode(dg, 32, j->sha256);
	}
	/* The object is complete only once its bytes are on disk and it can
	 * no longer be changed through its mode (I1). */
	if (r == 0 && fsync(j->dst_fd) < 0)
		r = -errno;
	if (r == 0 && fchmod(j->dst_fd, 0400) < 0)
		r = -errno;

	EVP_MD_CTX_free(md);
	free(buf);
	j->error = r;
	atomic_store(&j->done, true);
	uint64_t one = 1;
	(void)!write(j->notify_fd, &one, sizeof(one));
	return NULL;
}

int spool_job_start(struct spool_job *j)
{
	int r;

	atomic_store(&j->bytes, 0);
	atomic_store(&j->cancel, false);
	atomic_store(&j->done, false);
	j->error = 0;
	j->head_len = 0;
	j->sha256[0] = '\0';
	r = pthread_create(&j->thread, NULL, job_thread, j);
	if (r != 0)
		return -r;
	j->started = true;
	return 0;
}

void spool_job_finish(struct spool_job *j)
{
	if (j->started) {
		pthread_join(j->thread, NULL);
		j->started = false;
	}
	closep(&j->src_fd);
	closep(&j->dst_fd);
	j->src_fd = j->dst_fd = -1;
}

char *spool_sanitize_name(const char *name)
{
	size_t n = strlen(name), o = 0;
	char *out = malloc(130);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n && o < 128; i++) {
		char c = name[i];
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (o == 0 && c == '.')
			continue;
		out[o++] = safe ? c : '_';
	}
	out[o] = '\0';
	if (o == 0)
		strcpy(out, "artifact");
	return out;
}

static void part_name(const char *id, char buf[static 40])
{
	snprintf(buf, 40, "%s.part", id);
}

int spool_create_part(int spool_dirfd, const char *id, int *ret_fd)
{
	char pn[40];
	int fd;

	part_name(id, pn);
	fd = openat(spool_dirfd, pn, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int spool_commit(int spool_dirfd, const char *id)
{
	char pn[40];

	part_name(id, pn);
	if (renameat(spool_dirfd, pn, spool_dirfd, id) < 0)
		return -errno;
	if (fsync(spool_dirfd) < 0)
		return -errno;
	return 0;
}

int spool_remove(int spool_dirfd, const char *id)
{
	char pn[40];
	int r = 0;

	part_name(id, pn);
	if (unlinkat(spool_dirfd, pn, 0) < 0 && errno != ENOENT)
		r = -errno;
	if (unlinkat(spool_dirfd, id, 0) < 0 && errno != ENOENT)
		r = -errno;
	if (fsync(spool_dirfd) < 0 && r == 0)
		r = -errno;
	return r;
}

int spool_open_ro(int spool_dirfd, const char *id, int *ret_fd)
{
	int fd = openat(spool_dirfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}
