/* notify.h: systemd's readiness protocol (sd_notify) without libsystemd:
 * one datagram per state change to $NOTIFY_SOCKET. Without that variable
 * every call is a no-op. */
#ifndef GV_NOTIFY_H
#define GV_NOTIFY_H

/* Reads $NOTIFY_SOCKET and opens the datagram socket (before the sandbox,
 * which refuses most sockets). 0 also when unset; -1 with a log line if
 * the variable is unusable. */
int notify_open(void);
/* Sends one state line ("READY=1", "STOPPING=1", ...): 0, or -1 with a log
 * line. A no-op (0) without notify_open or NOTIFY_SOCKET. */
int notify_send(const char *state);
void notify_close(void);

#endif
