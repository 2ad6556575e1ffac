/* SPDX-License-Identifier: MIT */
/* `pagehint run`, for the command table (main.c). */
#ifndef CMD_RUN_H
#define CMD_RUN_H

/* argv is main()'s: argv[1] is "run". Returns the exit status: the
 * guest's, or one of vmm/kvm_vm.h's VMM_EXIT_* and cli.h's CLI_EXIT_USAGE. */
int run_main(int argc, const char *const *argv);

#endif
