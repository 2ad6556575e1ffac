/* SPDX-License-Identifier: MIT */
/*
 * What the front ends (`pagehint run`, cmd/run.c; `pagehint bench` and
 * `pagehint peers`, bench/) share around the parts they drive: the
 * signals that stop them, and the files found beside this program.
 */
#ifndef CMD_FRONT_H
#define CMD_FRONT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* The guest kernel's file name; the default kernel is the one beside
 * this program. */
#define FRONT_GUEST_KERNEL "pagehint-guest.elf"

/* The signal that asked this front end to stop; 0 until one came. */
extern volatile sig_atomic_t front_stop_signal;

/* SIGINT and SIGTERM, and SIGHUP too if hangup, set front_stop_signal
 * instead of ending the process, so the front end stops its guests and
 * cleans up. */
void front_catch_stop_signals(bool hangup);

/* This program's path (/proc/self/exe) into path, cut to fit; false if
 * it cannot be read. */
bool front_self_path(char *path, size_t cap);

/* name in the folder of the program at self, into buf ("./name" if self
 * has no folder); false if it does not fit. */
bool front_beside(const char *self, const char *name, char *buf, size_t cap);

/* FRONT_GUEST_KERNEL beside the program at self into buf, which is
 * returned; where self is NULL or that path does not fit, the one in the
 * working folder. */
const char *front_guest_kernel(const char *self, char *buf, size_t cap);

#endif
