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
