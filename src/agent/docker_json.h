/* docker_json.h: the Docker Engine API's JSON for the docker backend: the
 * create body, and what inspect, errors and the log stream say. Pure
 * functions over buffers: no I/O, no engine, no logging of bodies. */
#ifndef GV_AGENT_DOCKER_JSON_H
#define GV_AGENT_DOCKER_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* Per-vault limits the backend asks the engine for. */
#define DOCKER_NOFILE 4096
/* RLIMIT_NPROC counts every thread of the image's uid on the host (all the
 * vaults together), so it is set high; PidsLimit is the per-container bound.
 * Both ulimits must be set (podman's defaults exceed what runc may set) and
 * stay within the engine's own hard limits (podman 4.3 runs with 32768). */
#define DOCKER_NPROC 32768
#define DOCKER_PIDS 256
#define DOCKER_LOG_MAX_SIZE "10m"

/* The POST /containers/create body for s running image with the
 * NULL-terminated "K=V" env (vault_env_build's; AUTH_TOKEN is in it: the
 * buffer is wipe-on-free, caller frees with crypto_wipe_free).
 * *len gets its length. NULL on failure (logged). */
char *docker_json_create(const struct backend_spec *s, const char *image, char *const *env,
			 size_t *len);

/* Copies the "Id" of a create answer to id; 0, or -1 if absent or too long. */
int docker_json_id(const char *body, size_t len, char *id, size_t idlen);

/* Fills st from a GET /containers/{id}/json answer; 0, or -1 if malformed. */
int docker_json_status(const char *body, size_t len, struct backend_status *st);

/* One line for an engine error answer: its "message" (control bytes and
 * newlines dropped), else "HTTP <status>". Always writes err. */
void docker_json_message(const char *body, size_t len, long status, char *err, size_t errlen);

/* The numeric user of an image (GET /images/{name}/json, Config.User "uid[:gid]"):
 * 0 with *uid and *gid set (gid = uid when absent), 1 when the image runs as root
 * or names its user (nothing to chown), -1 if the answer is malformed. */
int docker_json_image_user(const char *body, size_t len, long *uid, long *gid);

/* 1 when an inspect answer is a container this backend made for group_id
 * (labels ocmt.groupId and groupvault.port), else 0. */
int docker_json_is_ours(const char *body, size_t len, const char *group_id);

/* 1 when a create answer says the name is taken: Docker's 409, or podman
 * 4's 500 whose cause is "that name is already in use". */
int docker_json_name_taken(const char *body, size_t len, long status);

/* Joins the payloads of a multiplexed log stream (8-byte frame headers:
 * stream, 0, 0, 0, size big-endian); a stream without headers (a TTY)
 * passes through. *out is malloc'd (caller frees), NUL-terminated. */
int docker_logs_demux(const char *in, size_t len, char **out, size_t *outlen);

/* RFC 3339 ("2026-11-28T22:19:43.199123456Z", or with +hh:mm) to ms since
 * the epoch; 0 for the engine's zero time or anything unparsable. */
int64_t docker_time_ms(const char *s);

#endif
