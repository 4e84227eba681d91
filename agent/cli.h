/* cli.h - the command-line helpers of agent/dumpgate.c that commands in
 * other files (auditcmd.c) use too: usage errors, option parsing and the
 * shape of a transfer id.  Defined in dumpgate.c.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "util.h"

/* An argument echoed in an error shows at most this much: an OTP typed
 * where a command or a value goes shows no more than its public id, which
 * is no secret. */
#define ECHO_MAX 12

/* "dumpgate: <message>" and usage on stderr; returns the exit code 2. */
_printf_(2, 3) int usage_error(const char *usage, const char *fmt, ...);
/* Report a getopt error ('?' or ':'); returns the exit code 2. */
int opt_error(int c, char **argv, const char *usage);
/* getopt_long() that takes long options only by their exact names. */
int next_option(int argc, char **argv, const char *shortopts, const struct option *lo);
/* Whether s is a full transfer id (32 hex characters). */
bool id_shape(const char *s);
