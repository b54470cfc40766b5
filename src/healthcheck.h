/* healthcheck.h: the container health probe (`groupvaultd --healthcheck`). */
#ifndef GV_HEALTHCHECK_H
#define GV_HEALTHCHECK_H

/* GETs /health from the daemon on $PORT (18790) at BIND_ADDRESS, or
 * loopback for a wildcard; returns 0 on a 200, else 1 (an exit status). */
int healthcheck_run(void);

#endif
