/* main.c - dumpgate-scan: scan files for secrets, standalone or for the gate.
 *
 * Standalone, for an engineer who wants to check a dump before submitting
 * it: every FILE is read once, in order, in 1 MiB reads; every byte is
 * hashed (SHA-256) and scanned raw, and compressed files (zstd, xz, gzip,
 * lz4: detected from content) are decoded and every decoded stream is
 * scanned too.  Exit 0: every file clean; 1: findings; 2: an error or a
 * usage error (an error always wins: I2).
 *
 * Gate mode (--gate): the monitor execs this per artifact and pass, in
 * its own uid and namespaces (sandbox_drop_to and the monitor's
 * rlimits), with the artifact as a read-only fd 3.  Everything that needs
 * a file, a library's lazy initialisation or a thread happens first; then
 * sandbox_scanner_enter() installs the seccomp filter, and only then is
 * the first artifact byte read.  JSON lines go to fd 1 (output.h),
 * progress lines at most every 250 ms; the monitor validates all of it
 * and trusts nothing else this process says (threat model: an exploited
 * decoder can lie, which is why the raw pass is another process).
 */
#include "dg-config.h"

#include "decode.h"
#include "engine.h"
#include "filetype.h"
#include "output.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define CHUNK ((size_t)1 << 20) /* bytes per read() */
#define GATE_FD 3               /* the artifact, read-only, in gate mode */
#define PROGRESS_NS (250 * 1000 * 1000ull)

#define EXIT_CLEAN 0
#define EXIT_FINDINGS 1
#define EXIT_ERROR 2

enum {
	PASS_RAW = 1 << 0,
	PASS_DECODED = 1 << 1,
	PASS_BOTH = PASS_RAW | PASS_DECODED,
};

struct options {
	bool json;
	bool gate;
	unsigned threads;
	unsigned passes;
	struct decode_limits limits;
};

/* What one run keeps across files. */
struct scanner {
	const struct options *o;
	struct engine *raw;   /* NULL unless PASS_RAW */
	struct engine *dec;   /* NULL unless PASS_DECODED */
	EVP_MD *sha256;
	EVP_MD_CTX *md;
	uint8_t *chunk;       /* read buffer when there is no raw view to read into */
	int out_fd;
	enum output_mode mode;
	bool progress;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The decoder's sink: decoded streams become views of the decoded engine. */
struct sink {
	struct engine *e;
	bool open;
	int err; /* an engine error seen through the sink (not a decoder error) */
	/* progress of the decoding pass: decoded bytes scanned (a small
	 * compressed input can decode for seconds within one read) */
	const struct scanner *sc;
	uint64_t *last_progress;
	uint64_t decoded;
};

static int sink_begin(void *userdata, const char *format, unsigned index, uint64_t in_offset)
{
	struct sink *s = userdata;
	int r;

	if (s->open) { /* a decoder that forgot view_end: close it, scan it */
		s->open = false;
		r = engine_view_end(s->e);
		if (r < 0)
			return s->err = r;
	}
	r = engine_view_begin(s->e, "decoded", format, index, in_offset);
	if (r < 0)
		return s->err = r;
	s->open = true;
	return 0;
}

static int sink_data(void *userdata, const uint8_t *buf, size_t n)
{
	struct sink *s = userdata;
	int r;

	if (!s->open)
		return s->err = -EINVAL;
	r = engine_view_feed(s->e, buf, n);
	if (r < 0)
		return s->err = r;
	s->decoded += n;
	if (s->sc && s->sc->progress) {
		uint64_t t = now_ns();
		if (t - *s->last_progress >= PROGRESS_NS) {
			*s->last_progress = t;
			r = output_progress(s->sc->out_fd, s->decoded);
			if (r < 0)
				return s->err = r;
		}
	}
	return 0;
}

static int sink_end(void *userdata)
{
	struct sink *s = userdata;
	int r;

	if (!s->open)
		return s->err = -EINVAL;
	s->open = false;
	r = engine_view_end(s->e);
	if (r < 0)
		return s->err = r;
	return 0;
}


/* A decoder's complaint becomes a blocking finding (I2): data the decoder
 * could not account for, a corrupt stream, a bomb.  The phrase is the
 * decoder's (fixed words and numbers); offset is how far into the
 * artifact the decoder had been fed when it gave up. */
static void add_decoder_finding(struct engine *dec, uint64_t at, const char *why)
{
	struct engine_finding ef = { 0 };

	ef.f.detector = "decoder";
	ef.f.severity = SEV_CRITICAL;
	ef.f.offset = at;
	ef.pass = "decoded";
	snprintf(ef.note_buf, sizeof(ef.note_buf), "%s", why && *why ? why : "the decoder failed");
	engine_add(dec, &ef);
}

static bool decodable(enum ftype t)
{
	return t == FT_ZSTD || t == FT_XZ || t == FT_GZIP || t == FT_LZ4;
}

struct file_result {
	uint64_t bytes;
	char error[200]; /* "" unless the scan did not complete */
};

_printf_(2, 3) static void set_error(struct file_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->error[0])
		return; /* the first error is the one that matters */
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
}

/* Read fd to the end, hash it and feed the passes.  Errors land in res. */
static void scan_stream(struct scanner *s, int fd, struct file_result *res, char sha_hex[static 65])
{
	const struct options *o = s->o;
	uint64_t last_progress = now_ns();
	struct sink sink = { .e = s->dec, .sc = s, .last_progress = &last_progress };
	const struct decode_sink dsink = {
		.userdata = &sink, .view_begin = sink_begin, .view_data = sink_data, .view_end = sink_end,
	};
	struct decoder *d = NULL;
	bool first = true, decoding = false;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	int r;

	sha_hex[0] = '\0';
	if (EVP_DigestInit_ex(s->md, s->sha256, NULL) != 1) {
		set_error(res, "SHA-256 initialisation failed");
		return;
	}
	if (s->raw) {
		r = engine_view_begin(s->raw, "raw", NULL, 0, 0);
		if (r < 0) {
			set_error(res, "scan engine: %s", strerror(-r));
			return;
		}
	}

	for (;;) {
		uint8_t *p = s->chunk;
		size_t room = CHUNK, got = 0;

		if (s->raw) {
			/* Read straight into the raw window: no copy. */
			r = engine_view_buffer(s->raw, &p, &room);
			if (r < 0) {
				set_error(res, "scan engine: %s", strerror(-r));
				break;
			}
			if (room > CHUNK)
				room = CHUNK;
		}
		r = read_full(fd, p, room, &got);
		if (r < 0) {
			set_error(res, "read: %s", strerror(-r));
			break;
		}
		if (got == 0)
			break;
		if (EVP_DigestUpdate(s->md, p, got) != 1) {
			set_error(res, "SHA-256 failed");
			break;
		}

		if (first && s->dec) {
			/* The type from content (the first bytes), never a name. */
			enum ftype t = ftype_detect(p, got < FTYPE_HEAD ? got : FTYPE_HEAD);

			if (decodable(t)) {
				r = decoder_new(t, &o->limits, &dsink, &d);
				if (r < 0) {
					set_error(res, "%s decoder: %s", ftype_name(t), strerror(-r));
					break;
				}
				decoding = true;
			}
		}
		first = false;
		if (decoding) {
			r = decoder_feed(d, p, got);
			if (r < 0) {
				decoding = false;
				if (sink.err < 0) {
					set_error(res, "scan engine: %s", strerror(-sink.err));
					break;
				}
				/* Keep reading: every byte is hashed (and
				 * scanned raw) even after a decoder gave up. */
				add_decoder_finding(s->dec, res->bytes + got, decoder_error(d));
			}
		}
		if (s->raw) {
			r = engine_view_commit(s->raw, got);
			if (r < 0) {
				set_error(res, "scan engine: %s", strerror(-r));
				break;
			}
		}
		res->bytes += got;

		if (s->progress && !(decoding && !s->raw)) {
			uint64_t t = now_ns();

			if (t - last_progress >= PROGRESS_NS) {
				last_progress = t;
				r = output_progress(s->out_fd, res->bytes);
				if (r < 0) {
					set_error(res, "write: %s", strerror(-r));
					break;
				}
			}
		}
		if (got < room)
			break; /* read_full() stops short only at end of file */
	}

	if (s->raw && !res->error[0]) {
		r = engine_view_end(s->raw);
		if (r < 0)
			set_error(res, "scan engine: %s", strerror(-r));
	}
	if (decoding && !res->error[0]) {
		char why[160] = "";

		r = decoder_finish(d, why, sizeof(why));
		if (r < 0) {
			if (sink.err < 0)
				set_error(res, "scan engine: %s", strerror(-sink.err));
			else
				add_decoder_finding(s->dec, res->bytes, why);
		}
	}
	if (sink.open && !res->error[0]) {
		/* The decoder failed inside a stream: what it had decoded
		 * up to there is scanned all the same. */
		sink.open = false;
		r = engine_view_end(s->dec);
		if (r < 0)
			set_error(res, "scan engine: %s", strerror(-r));
	}
	decoder_free(d);

	if (res->error[0])
		return;
	if (EVP_DigestFinal_ex(s->md, md, &md_len) != 1 || md_len != 32) {
		set_error(res, "SHA-256 failed");
		return;
	}
	hex_encode(md, md_len, sha_hex);
}

static int print_findings(struct scanner *s, struct engine *e, const char *file, size_t *count,
			  struct file_result *res)
{
	const struct engine_finding *f;
	size_t n = 0;
	int r;

	if (!e)
		return 0;
	r = engine_flush(e);
	if (r < 0) {
		set_error(res, "scan engine: %s", strerror(-r));
		return r;
	}
	f = engine_findings(e, &n);
	if (!f) {
		set_error(res, "scan engine: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		r = output_finding(s->out_fd, s->mode, file, &f[i]);
		if (r < 0) {
			set_error(res, "write: %s", strerror(-r));
			return r;
		}
	}
	*count += n;
	return 0;
}

static const char *passes_name(unsigned passes)
{
	return passes == PASS_RAW ? "raw" : passes == PASS_DECODED ? "decoded" : "both";
}

/* Scan one file (fd -1: open_error says why it could not be opened) and
 * print its findings and summary.  Returns the exit code for this file. */
static int scan_file(struct scanner *s, int fd, const char *name, const char *open_error)
{
	struct file_result res = { 0 };
	struct scan_summary sum = { .file = name, .pass = passes_name(s->o->passes) };
	uint64_t start = now_ns();
	int r;

	if (s->raw)
		engine_reset(s->raw);
	if (s->dec)
		engine_reset(s->dec);

	if (fd < 0)
		set_error(&res, "%s", open_error ? open_error : "cannot open");
	else
		scan_stream(s, fd, &res, sum.sha256);

	/* Findings found before an error are printed too: more for a
	 * person to go on, and the verdict is "error" either way. */
	if (fd >= 0) {
		(void)print_findings(s, s->raw, name, &sum.findings, &res);
		(void)print_findings(s, s->dec, name, &sum.findings, &res);
	}

	sum.bytes = res.bytes;
	sum.seconds = (double)(now_ns() - start) / 1e9;
	if (res.error[0]) {
		sum.verdict = VERDICT_ERROR;
		sum.error = res.error;
		sum.sha256[0] = '\0';
	} else {
		sum.verdict = sum.findings ? VERDICT_FINDINGS : VERDICT_CLEAN;
	}
	r = output_summary(s->out_fd, s->mode, &sum);
	if (r < 0) {
		log_err("writing the summary of %s: %s", name, strerror(-r));
		return EXIT_ERROR;
	}
	return sum.verdict == VERDICT_ERROR ? EXIT_ERROR
	       : sum.verdict == VERDICT_FINDINGS ? EXIT_FINDINGS
						 : EXIT_CLEAN;
}

/* Library state that would otherwise be set up lazily, with syscalls the
 * scanner's seccomp filter forbids (open of openssl.cnf, /dev/urandom for
 * jansson's hash seed), is set up here, before the filter. */
static int init_libraries(struct scanner *s)
{
	static const uint8_t nothing[1];
	unsigned char md[EVP_MAX_MD_SIZE], rnd[16];
	unsigned md_len;

	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1)
		return -EIO;
	s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	s->md = EVP_MD_CTX_new();
	if (!s->sha256 || !s->md)
		return -ENOMEM;
	/* One digest, and the DRBGs seeded (key checks may blind with
	 * random numbers): every lazy initialisation happens now. */
	if (EVP_Digest(nothing, 0, md, &md_len, s->sha256, NULL) != 1 || RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    RAND_priv_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	OPENSSL_cleanse(rnd, sizeof(rnd));
	json_object_seed(0);
	return 0;
}

static int make_engines(struct scanner *s)
{
	char why[256] = "";
	int r;

	if (s->o->passes & PASS_RAW) {
		r = engine_new_with(NULL, 0, s->o->threads, why, sizeof(why), &s->raw);
		if (r < 0)
			goto fail;
	}
	if (s->o->passes & PASS_DECODED) {
		r = engine_new_with(NULL, 0, s->o->threads, why, sizeof(why), &s->dec);
		if (r < 0)
			goto fail;
	}
	if (!s->raw) {
		s->chunk = malloc(CHUNK);
		if (!s->chunk)
			return -ENOMEM;
	}
	return 0;
fail:
	log_err("scan engine: %s", why[0] ? why : strerror(-r));
	return r;
}

static void scanner_done(struct scanner *s)
{
	engine_free(s->raw);
	engine_free(s->dec);
	EVP_MD_CTX_free(s->md);
	EVP_MD_free(s->sha256);
	free(s->chunk);
}

static void usage(FILE *f)
{
	fputs("usage: dumpgate-scan [--json] [--threads N] [--pass raw|decoded|both]\n"
	      "                     [--bomb-max-size SIZE] [--bomb-max-ratio N] FILE...\n"
	      "       dumpgate-scan --gate --pass raw|decoded [--threads N]\n"
	      "                     [--bomb-max-size SIZE] [--bomb-max-ratio N]\n"
	      "\n"
	      "Scan files for private keys and other secrets: every byte raw, and every\n"
	      "stream of zstd, xz, gzip and lz4 data decoded.  FILE \"-\" is standard input.\n"
	      "\n"
	      "  --json                one JSON object per finding, then a summary line\n"
	      "  --threads N           scanning threads per pass (1-256, default 1)\n"
	      "  --pass PASS           raw, decoded or both (default both)\n"
	      "  --bomb-max-size SIZE  largest decoded stream (K/M/G/T; default 16G)\n"
	      "  --bomb-max-ratio N    largest decoded:compressed ratio (default 1000)\n"
	      "  --gate                scan fd 3 for dumpgated, sandboxed, JSON on fd 1\n"
	      "\n"
	      "Exit status: 0 clean, 1 findings, 2 error.\n",
	      f);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_JSON = 0x100, OPT_THREADS, OPT_PASS, OPT_BOMB_SIZE, OPT_BOMB_RATIO, OPT_GATE, OPT_VERSION };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "pass", required_argument, NULL, OPT_PASS },
		{ "bomb-max-size", required_argument, NULL, OPT_BOMB_SIZE },
		{ "bomb-max-ratio", required_argument, NULL, OPT_BOMB_RATIO },
		{ "gate", no_argument, NULL, OPT_GATE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	bool pass_given = false;
	uint64_t v;
	int c;

	*o = (struct options){ .threads = 1, .passes = PASS_BOTH };
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_THREADS:
			if (parse_uint(optarg, ENGINE_MAX_THREADS, &v) < 0 || v == 0) {
				log_err("--threads: expected 1 to %u, got \"%s\"", ENGINE_MAX_THREADS, optarg);
				return -EINVAL;
			}
			o->threads = (unsigned)v;
			break;
		case OPT_PASS:
			if (strcmp(optarg, "raw") == 0)
				o->passes = PASS_RAW;
			else if (strcmp(optarg, "decoded") == 0)
				o->passes = PASS_DECODED;
			else if (strcmp(optarg, "both") == 0)
				o->passes = PASS_BOTH;
			else {
				log_err("--pass: expected raw, decoded or both");
				return -EINVAL;
			}
			pass_given = true;
			break;
		case OPT_BOMB_SIZE:
			if (parse_size(optarg, &v) < 0 || v == 0) {
				log_err("--bomb-max-size: expected a size such as 4G");
				return -EINVAL;
			}
			o->limits.max_size = v;
			break;
		case OPT_BOMB_RATIO:
			if (parse_uint(optarg, UINT32_MAX, &v) < 0 || v == 0) {
				log_err("--bomb-max-ratio: expected a positive number");
				return -EINVAL;
			}
			o->limits.max_ratio = v;
			break;
		case OPT_GATE:
			o->gate = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_CLEAN);
		case OPT_VERSION:
			printf("dumpgate-scan %s\n", DUMPGATE_VERSION);
			exit(EXIT_CLEAN);
		default:
			log_err("unknown or incomplete option \"%s\" (see --help)", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (o->gate) {
		/* One pass per process (an exploited decoder must not be
		 * able to silence the raw pass), named explicitly. */
		if (!pass_given || o->passes == PASS_BOTH) {
			log_err("--gate needs --pass raw or --pass decoded");
			return -EINVAL;
		}
		if (optind != argc) {
			log_err("--gate scans fd %d and takes no FILE", GATE_FD);
			return -EINVAL;
		}
		o->json = true;
	} else if (optind == argc) {
		log_err("no FILE to scan (see --help)");
		return -EINVAL;
	}
	return 0;
}

/* Gate mode.  Order: check fd 3, build everything (database, workers,
 * libraries), enter the sandbox, then read.  Ends with _exit(): atexit
 * handlers of libraries (OpenSSL's cleanup, the sanitizers' leak check)
 * may use syscalls the filter forbids, and everything was already written
 * with write(2). */
static _Noreturn void run_gate(const struct options *o)
{
	struct scanner s = { .o = o, .out_fd = STDOUT_FILENO, .mode = OUTPUT_JSON, .progress = true };
	struct scan_summary fail = { .file = "artifact", .pass = passes_name(o->passes),
				     .verdict = VERDICT_ERROR };
	char why[200];
	int code, fl, r;

	/* The protocol version comes first, whatever happens next. */
	if (output_version(STDOUT_FILENO) < 0)
		_exit(EXIT_ERROR);
	fl = fcntl(GATE_FD, F_GETFL);
	if (fl < 0) {
		snprintf(why, sizeof(why), "fd %d: %s", GATE_FD, strerror(errno));
		goto fail;
	}
	if ((fl & O_ACCMODE) != O_RDONLY) {
		/* The monitor hands out read-only fds only (I1). */
		snprintf(why, sizeof(why), "fd %d is not read-only", GATE_FD);
		goto fail;
	}
	(void)posix_fadvise(GATE_FD, 0, 0, POSIX_FADV_SEQUENTIAL);

	r = init_libraries(&s);
	if (r < 0) {
		snprintf(why, sizeof(why), "initialising libcrypto: %s", strerror(-r));
		goto fail;
	}
	r = make_engines(&s);
	if (r < 0) {
		snprintf(why, sizeof(why), "scan engine: %s", strerror(-r));
		goto fail;
	}
	r = sandbox_scanner_enter();
	if (r < 0) {
		snprintf(why, sizeof(why), "entering the sandbox: %s", strerror(-r));
		goto fail;
	}

	code = scan_file(&s, GATE_FD, "artifact", NULL);
	scanner_done(&s); /* joins the workers: the filter allows it */
	_exit(code);

fail:
	log_err("%s", why);
	fail.error = why;
	(void)output_summary(STDOUT_FILENO, OUTPUT_JSON, &fail);
	_exit(EXIT_ERROR);
}

int main(int argc, char **argv)
{
	struct options o;
	struct scanner s = { .o = &o, .out_fd = STDOUT_FILENO };
	int worst = EXIT_CLEAN;

	log_set_ident("dumpgate-scan");
	if (parse_options(argc, argv, &o) < 0) {
		if (o.gate) { /* the monitor reads a verdict, even for this */
			struct scan_summary fail = { .file = "artifact", .pass = passes_name(o.passes),
						     .verdict = VERDICT_ERROR, .error = "usage error" };
			(void)output_summary(STDOUT_FILENO, OUTPUT_JSON, &fail);
		}
		return EXIT_ERROR;
	}
	if (o.gate)
		run_gate(&o);

	s.mode = o.json ? OUTPUT_JSON : OUTPUT_HUMAN;
	if (init_libraries(&s) < 0) {
		log_err("initialising libcrypto failed");
		scanner_done(&s);
		return EXIT_ERROR;
	}
	if (make_engines(&s) < 0) {
		scanner_done(&s);
		return EXIT_ERROR;
	}
	for (int i = optind; i < argc; i++) {
		const char *name = argv[i];
		_cleanup_close_ int fd = -1;
		char why[200] = "";
		int code;

		if (strcmp(name, "-") == 0) {
			fd = dup(STDIN_FILENO); /* closed like any other */
			if (fd < 0)
				snprintf(why, sizeof(why), "standard input: %s", strerror(errno));
		} else {
			fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
			if (fd < 0)
				snprintf(why, sizeof(why), "open: %s", strerror(errno));
			else
				(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		}
		code = scan_file(&s, fd, name, why);
		if (code > worst)
			worst = code;
	}
	scanner_done(&s);
	return worst;
}
