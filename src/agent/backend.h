/* backend.h: the one interface every engine that runs vaults implements
 * (process: fork/exec groupvaultd; docker: the Docker Engine API).
 * A backend runs and observes vaults; it never decides ports or policy. */
#ifndef GV_AGENT_BACKEND_H
#define GV_AGENT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct agent_config;

/* What the agent asks a backend to run: all fields validated by the agent. */
struct backend_spec {
	const char *group_id;   /* [A-Za-z0-9_.-]{1,64}, not starting with '.' */
	const char *slug;       /* as given at provision, may be "" */
	const char *name;       /* unique name: ocmt-group-vault-<slug or id> */
	unsigned port;          /* the vault's PORT */
	const char *auth_token; /* the vault's AUTH_TOKEN */
	const char *data_dir;   /* absolute host path of the group's data directory */
	unsigned memory_mb;
};

enum backend_state {
	BACKEND_MISSING, /* the engine does not know this id */
	BACKEND_STOPPED, /* known, not running (exited, stopped or backing off) */
	BACKEND_RUNNING,
};

struct backend_status {
	enum backend_state state;
	int64_t started_at_ms; /* wall clock of the last start; 0 if unknown */
	unsigned restarts;     /* restarts by the engine/supervisor since created */
	char detail[160];      /* e.g. "exited with status 1", for the API and logs */
};

struct backend;

struct backend_ops {
	const char *name; /* "process" | "docker" */
	/* Create and start a vault for s; writes the engine's id for it to id. */
	int (*create)(struct backend *b, const struct backend_spec *s, char *id, size_t idlen,
	              char *err, size_t errlen);
	/* Start (again) a created vault; s is the same spec it was created with. */
	int (*start)(struct backend *b, const char *id, const struct backend_spec *s, char *err,
	             size_t errlen);
	/* Stop it (SIGTERM, then SIGKILL after a grace period); the data stays. */
	int (*stop)(struct backend *b, const char *id, char *err, size_t errlen);
	/* Stop and forget it; the data directory is left alone. */
	int (*remove)(struct backend *b, const char *id, char *err, size_t errlen);
	/* What the engine says now; a missing id is BACKEND_MISSING and returns 0. */
	int (*status)(struct backend *b, const char *id, struct backend_status *st);
	/* The last tail lines of its output, malloc'd in *out (caller frees). */
	int (*logs)(struct backend *b, const char *id, unsigned tail, char **out, size_t *len);
	/* Optional (NULL when the engine remembers by itself, as docker does): at
	 * agent start, take back a vault created by an earlier agent run. */
	int (*adopt)(struct backend *b, const char *id, const struct backend_spec *s);
	void (*destroy)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	void *priv;
};

struct backend *backend_process_new(const struct agent_config *cfg, char *err, size_t errlen);
struct backend *backend_docker_new(const struct agent_config *cfg, char *err, size_t errlen);

#endif
