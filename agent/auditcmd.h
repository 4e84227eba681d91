/* auditcmd.h - `dumpgate audit show [--json]` and `dumpgate audit verify
 * [PATH] [--kernel-trail FILE]...`: print the gate's audit log, or check
 * its hash chain (and, with --kernel-trail, the kernel audit trail;
 * ktrail.h).
 */
#pragma once

/* The `audit` command of dumpgate.c's command table: argv[0] is "audit";
 * returns the exit code. */
int cmd_audit(const char *sockpath, int argc, char **argv);
