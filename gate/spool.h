/* spool.h - the spool: the only place artifact bytes are written (I1).
 *
 * Only the monitor calls these.  An upload is a copy job run on its own
 * thread so the event loop keeps answering every other client: it reads
 * the client's fd (regular file or pipe), enforces a byte limit while
 * copying, hashes (SHA-256) what it wrote, keeps the first FTYPE_HEAD bytes
 * for type detection, fsyncs and makes the object read-only (0400).  The
 * loop learns that a job ended through an eventfd and then reads the
 * job's result fields; nothing else is shared with the thread.
 *
 * Spool layout: SPOOL/<id> (final, 0400) and SPOOL/<id>.part (uploading).
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "filetype.h"

struct spool_job {
	/* set by the loop before spool_job_start, read-only for the thread */
	int src_fd;          /* owned: the client's fd */
	int dst_fd;          /* owned: SPOOL/<id>.part, O_WRONLY */
	uint64_t limit;      /* bytes; more is an error */
	uint64_t idle_timeout; /* seconds without data on a pipe */
	int notify_fd;       /* borrowed eventfd, written once when done */

	/* shared */
	_Atomic uint64_t bytes; /* copied so far (progress) */
	atomic_bool cancel;     /* loop -> thread: stop, the result is discarded */
	atomic_bool done;       /* thread -> loop: result fields are final */

	/* results, valid once done */
	int error;               /* 0, -EFBIG (limit), -ETIMEDOUT (idle), -ECANCELED, -errno */
	char sha256[65];
	uint8_t head[FTYPE_HEAD];
	size_t head_len;

	pthread_t thread;
	bool started;
};

/* Start the copy thread; takes ownership of src_fd and dst_fd. */
int spool_job_start(struct spool_job *j);
/* Join the thread (after done) and close the fds. */
void spool_job_finish(struct spool_job *j);

/* Replace everything but [A-Za-z0-9._-] by '_', drop leading dots, cut to
 * 128 bytes; "artifact" if nothing is left.  Returns malloc'd string. */
char *spool_sanitize_name(const char *name);

/* Create SPOOL/<id>.part for writing (O_EXCL, 0600, no symlinks). */
int spool_create_part(int spool_dirfd, const char *id, int *ret_fd);
/* Rename <id>.part to <id> and fsync the directory. */
int spool_commit(int spool_dirfd, const char *id);
/* Remove <id>.part and <id> if present (ENOENT is fine). */
int spool_remove(int spool_dirfd, const char *id);
/* Open SPOOL/<id> read-only (for scanners and release, later). */
int spool_open_ro(int spool_dirfd, const char *id, int *ret_fd);
