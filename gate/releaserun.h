/* releaserun.h - the monitor's side of releases (see releaserun.c). */
#pragma once

#include <stdbool.h>

#include "monitor.h"

/* Start the next release if none runs: a transfer `approved` (recorded
 * `releasing` first) or found `releasing` after a restart. */
void releaserun_schedule(struct monitor *m);
/* The release thread signalled job_fd (or, with wait, the gate stops):
 * join it, record `released` or `failed`, start the next. */
void releaserun_reap(struct monitor *m, bool wait);
/* Whether t can still be stopped (withdrawn, denied) as far as its release
 * goes: true unless it is approved or releasing, or when its release waits
 * for room in the outbox and no attempt runs right now.  When false,
 * *ret_why says why, to follow "transfer ID ". */
bool releaserun_stoppable(const struct monitor *m, const struct transfer *t, const char **ret_why);
