/* scanproto.h - lines a scanner writes to the monitor (dumpgate-scan --gate).
 *
 * One JSON object per line, at most SCANPROTO_MAX_LINE bytes:
 *   {"version":1}  first, exactly once: anything else first is refused
 *   {"progress":BYTES}  raw pass: bytes read; decoding pass: decoded bytes
 *   a finding: exactly the keys file, pass, detector, severity, offset,
 *     length, key_type, bits, verified, public_sha256, container, note,
 *     allowed (see gate/scan/output.c and the README)
 *   the summary, last: {"summary":true,"file","pass","bytes","sha256",
 *     "seconds","findings","verdict"[,"error"]}
 */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SCANPROTO_VERSION 1
#define SCANPROTO_MAX_LINE 4096
#define SCANPROTO_MAX_FINDINGS 10001 /* ENGINE_MAX_FINDINGS + its overflow finding */

enum { SCANPROTO_BAD = -1, SCANPROTO_PROGRESS = 1, SCANPROTO_FINDING, SCANPROTO_SUMMARY, SCANPROTO_VERSION_LINE };

/* Check one line (without its newline) from the pass named pass.  A
 * finding or summary is returned in *ret_obj (new reference); progress in
 * *ret_progress; a version line of SCANPROTO_VERSION as
 * SCANPROTO_VERSION_LINE (another version is SCANPROTO_BAD); SCANPROTO_BAD
 * with *ret_error naming what is wrong. */
int scanproto_parse_line(const char *pass, const char *line, size_t len, json_t **ret_obj,
			 uint64_t *ret_progress, const char **ret_error);
