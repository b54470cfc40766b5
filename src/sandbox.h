/* sandbox.h: confining the running daemon with a seccomp filter. */
#ifndef GV_SANDBOX_H
#define GV_SANDBOX_H

/* Installs the filter on every thread of the process (TSYNC). Call once,
 * after start-up: the listening socket, the store and the signing key must
 * already exist. 0, or -1 (logged) if the kernel refused it. A forbidden
 * call afterwards kills the process with SIGSYS. */
int sandbox_enter(void);

#endif
