/* SPDX-License-Identifier: MIT */
/* `pagehint ctl`, for the command table (main.c). */
#ifndef CMD_CTL_H
#define CMD_CTL_H

/* argv is main()'s: argv[1] is "ctl". Returns the exit status: 0, 1 when
 * the VM's API refused the request, CTL_EXIT_UNAVAILABLE when it could
 * not be reached, CTL_EXIT_NOT_REACHED when --wait ran out, CLI_EXIT_USAGE
 * for bad words. */
#define CTL_EXIT_UNAVAILABLE 69	/* sysexits' EX_UNAVAILABLE */
#define CTL_EXIT_NOT_REACHED 75	/* balloon set --wait: sysexits' EX_TEMPFAIL */
int ctl_main(int argc, const char *const *argv);

#endif
